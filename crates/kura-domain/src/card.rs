//! Detection of card-number-shaped input (PCI DSS: Kura never receives a PAN).
//!
//! A run of 13 to 19 digits, possibly split by single spaces or hyphens, that passes the Luhn
//! check is treated as a card number. Such input is refused wherever it appears.

/// True when `text` holds a Luhn-valid run of 13–19 digits (spaces and hyphens between digits
/// are ignored, full-width digits count).
pub fn contains_card_number(text: &str) -> bool {
    let mut digits: Vec<u8> = Vec::with_capacity(19);
    let mut last_was_sep = false;
    for ch in text.chars() {
        let d = match ch {
            '0'..='9' => u8::try_from(ch as u32 - '0' as u32).ok(),
            '０'..='９' => u8::try_from(ch as u32 - '０' as u32).ok(),
            _ => None,
        };
        match d {
            Some(d) => {
                digits.push(d);
                last_was_sep = false;
            }
            None if matches!(ch, ' ' | '-' | '\u{3000}') && !digits.is_empty() && !last_was_sep => {
                last_was_sep = true;
            }
            None => {
                if is_card_run(&digits) {
                    return true;
                }
                digits.clear();
                last_was_sep = false;
            }
        }
    }
    is_card_run(&digits)
}

/// A whole run of digits (separators removed) of card length that passes Luhn.
fn is_card_run(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && luhn(digits)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_cards_in_any_layout() {
        assert!(contains_card_number("4242424242424242"));
        assert!(contains_card_number("card: 4242 4242 4242 4242 thanks"));
        assert!(contains_card_number("5555-5555-5555-4444"));
        assert!(contains_card_number("４２４２４２４２４２４２４２４２"));
        assert!(contains_card_number("378282246310005"));
    }

    #[test]
    fn ignores_phone_numbers_and_short_or_invalid_runs() {
        assert!(!contains_card_number("090-1234-5678"));
        assert!(!contains_card_number("4242424242424241"));
        assert!(!contains_card_number("123456789012"));
        assert!(!contains_card_number("42424242424242424242424"));
        assert!(!contains_card_number("〒100-0001 東京都千代田区"));
    }
}
