//! Detection of card-number-shaped input (PCI DSS: Kura never receives a PAN).
//!
//! Text is read as *runs*: digits (ASCII or full-width) joined by short stretches of
//! separators (spaces, the ideographic space, hyphens and the dashes Japanese input methods
//! produce for them). A run is refused when it holds a Luhn-valid card number:
//!
//! - the whole run, when it has 13–19 digits (`4242 4242 4242 4242`, `4242424242424242`);
//! - any stretch of 13–19 consecutive digits inside a longer run, that is, a run that has
//!   separators or more than 19 digits. This is how a card number typed after a block, building
//!   or room number in the same field shows up: `1-2-3 4242424242424242`,
//!   `101 4242 4242 4242 4242`, `１－２－３　４２４２…`.
//!
//! Two exceptions keep real input flowing, and both are measured by `kura bench-card` over
//! synthetic addresses and phone numbers:
//!
//! - One unbroken number of at most 19 digits is judged as a whole only. Kura's own ids are
//!   such numbers and are issued never Luhn-valid (kura-app `ids`); any 19 random digits hold a
//!   Luhn-valid shorter stretch more often than not.
//! - A stretch inside a longer run that starts with 0 is not a card number: no payment card
//!   number starts with 0 (ISO/IEC 7812-1, major industry identifier 0 is not issued to card
//!   networks), while every Japanese phone number does. A phone typed after a room number
//!   therefore needs one stretch fewer to stay clear.
//!
//! A card number glued to other digits without any separator (`1014242424242424242`) cannot be
//! told from one of Kura's ids and is not detected; with one space or hyphen it is.

/// Card numbers have 13 to 19 digits (ISO/IEC 7812-1).
const CARD_MIN: usize = 13;
const CARD_MAX: usize = 19;

/// Separators allowed between two digits of one run (`4242 - 4242` has three).
const MAX_SEPARATORS: usize = 3;

/// True when `text` holds a card number a person could have typed (see the module docs).
pub fn contains_card_number(text: &str) -> bool {
    let mut run = Run::default();
    let mut pending_separators = 0usize;
    for ch in text.chars() {
        if let Some(d) = digit(ch) {
            if pending_separators > 0 {
                run.separated = true;
            }
            run.digits.push(d);
            pending_separators = 0;
        } else if is_separator(ch) && !run.digits.is_empty() && pending_separators < MAX_SEPARATORS
        {
            pending_separators += 1;
        } else {
            if run.has_card() {
                return true;
            }
            run.clear();
            pending_separators = 0;
        }
    }
    run.has_card()
}

fn digit(ch: char) -> Option<u8> {
    match ch {
        '0'..='9' => u8::try_from(ch as u32 - '0' as u32).ok(),
        '０'..='９' => u8::try_from(ch as u32 - '０' as u32).ok(),
        _ => None,
    }
}

/// Spaces and the dashes that stand for a hyphen in typed Japanese: U+2010–U+2015 (hyphens and
/// dashes), U+2212 (minus), U+FF0D (full-width hyphen-minus), U+30FC and U+FF70 (the long-vowel
/// mark, which input methods give for `-` in katakana mode).
fn is_separator(ch: char) -> bool {
    matches!(
        ch,
        ' ' | '\u{a0}' | '\u{3000}' | '-' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '\u{ff0d}' | '\u{30fc}' | '\u{ff70}'
    )
}

/// The digits of one run, and whether separators split it.
#[derive(Default)]
struct Run {
    digits: Vec<u8>,
    separated: bool,
}

impl Run {
    fn clear(&mut self) {
        self.digits.clear();
        self.separated = false;
    }

    fn has_card(&self) -> bool {
        let digits = self.digits.as_slice();
        if (CARD_MIN..=CARD_MAX).contains(&digits.len()) && luhn(digits) {
            return true;
        }
        if !self.separated && digits.len() <= CARD_MAX {
            return false;
        }
        digits.iter().enumerate().any(|(start, &first)| {
            first != 0
                && (CARD_MIN..=CARD_MAX).any(|len| {
                    start
                        .checked_add(len)
                        .and_then(|end| digits.get(start..end))
                        .is_some_and(luhn)
                })
        })
    }
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
    use proptest::prelude::*;

    #[test]
    fn finds_test_cards_in_any_layout() {
        assert!(contains_card_number("4242424242424242"));
        assert!(contains_card_number("card: 4242 4242 4242 4242 thanks"));
        assert!(contains_card_number("5555-5555-5555-4444"));
        assert!(contains_card_number("４２４２４２４２４２４２４２４２"));
        assert!(contains_card_number("378282246310005"));
        assert!(contains_card_number("4242 - 4242 - 4242 - 4242"));
        assert!(contains_card_number("4242ー4242ー4242ー4242"));
        assert!(contains_card_number(
            "４２４２－４２４２－４２４２－４２４２"
        ));
    }

    #[test]
    fn finds_a_card_typed_after_other_digits_in_the_same_field() {
        for typed in [
            "1-2-3 4242424242424242",
            "101 4242 4242 4242 4242",
            "本町1-2-3 4242424242424242",
            "コーポ101 4242-4242-4242-4242",
            "１－２－３　４２４２４２４２４２４２４２４２",
            "1ー2ー3 ４２４２ ４２４２ ４２４２ ４２４２",
            "3-12 3782 822463 10005",
            "1203 5555555555554444 ",
            "4242424242424242 101",
            "2-3-4\u{a0}4242424242424242",
            "1‐2‐3 4242424242424242",
            "1−2−3 4242424242424242",
            // Longer than 19 digits without any separator: the card is inside.
            "12034242424242424242",
        ] {
            assert!(contains_card_number(typed), "{typed}");
        }
    }

    #[test]
    fn ignores_phone_numbers_and_short_or_invalid_runs() {
        assert!(!contains_card_number("090-1234-5678"));
        assert!(!contains_card_number("4242424242424241"));
        assert!(!contains_card_number("123456789012"));
        assert!(!contains_card_number("〒100-0001 東京都千代田区"));
    }

    #[test]
    fn real_addresses_and_phones_pass() {
        for real in [
            "中央区本町1丁目2-3",
            "本町1-2-3 コーポ101号室",
            "本町1-2-3-1203",
            "１－２－３　１２０３",
            "北12条西3丁目4-56 サンハイツ 1203",
            "大字上野1234番地5",
            "+81 90-1234-5678",
            "+81-3-1234-5678",
            "03-1234-5678 内線 1234",
            "(090) 1234-5678",
            "０９０ー１２３４ー５６７８",
            "100-0001",
            "〒100-0001 東京都千代田区千代田1-1",
        ] {
            assert!(!contains_card_number(real), "{real}");
        }
    }

    #[test]
    fn an_unbroken_number_of_card_length_is_judged_whole() {
        // 19 digits, not Luhn-valid as a whole, with Luhn-valid stretches inside: an id.
        let id = "1014242424242424242";
        assert!(!luhn(&digits_of(id)));
        assert!(!contains_card_number(id));
        // The same digits with one space are a room number and a card.
        assert!(contains_card_number("101 4242424242424242"));
    }

    #[test]
    fn a_stretch_starting_with_zero_is_not_a_card() {
        // "0" followed by a card-length stretch that is Luhn-valid only from the 0.
        let digits = "0000000000000";
        assert!(luhn(&digits_of(digits)));
        assert!(
            contains_card_number(digits),
            "a whole run is judged as before"
        );
        assert!(!contains_card_number("12 0000000000000"));
    }

    fn digits_of(s: &str) -> Vec<u8> {
        s.chars().filter_map(digit).collect()
    }

    /// A Luhn-valid number of `len` digits starting with `first` (never 0).
    fn card_strategy() -> impl Strategy<Value = Vec<u8>> {
        (CARD_MIN..=CARD_MAX).prop_flat_map(|len| {
            (1u8..=9, proptest::collection::vec(0u8..=9, len - 2)).prop_map(|(first, rest)| {
                let mut digits = vec![first];
                digits.extend(rest);
                for check in 0..=9 {
                    let mut candidate = digits.clone();
                    candidate.push(check);
                    if luhn(&candidate) {
                        return candidate;
                    }
                }
                unreachable!("one check digit always completes a Luhn number")
            })
        })
    }

    fn render(digits: &[u8], full_width: bool) -> String {
        digits
            .iter()
            .map(|&d| {
                let base = if full_width { '０' } else { '0' };
                char::from_u32(base as u32 + u32::from(d)).unwrap()
            })
            .collect()
    }

    /// The card as a person types it: one block, or groups of four (or 4-6-rest).
    fn layout(card: &[u8], style: u8, sep: &str, full_width: bool) -> String {
        let groups: Vec<&[u8]> = match style % 3 {
            0 => vec![card],
            1 => card.chunks(4).collect(),
            _ => {
                let (a, rest) = card.split_at(4);
                let (b, c) = rest.split_at(6);
                vec![a, b, c]
            }
        };
        groups
            .iter()
            .map(|g| render(g, full_width))
            .collect::<Vec<_>>()
            .join(sep)
    }

    const SEPARATORS: &[&str] = &[" ", "-", "\u{3000}", "－", "ー", "−", " - "];

    proptest! {
        #[test]
        fn a_card_after_block_or_room_numbers_is_found(
            card in card_strategy(),
            before in proptest::collection::vec(1u32..2000, 1..4),
            style in 0u8..3,
            sep in 0usize..SEPARATORS.len(),
            joint in 0usize..SEPARATORS.len(),
            full_width in any::<bool>(),
            words in any::<bool>(),
        ) {
            let sep = SEPARATORS[sep];
            let prefix = before.iter().map(u32::to_string).collect::<Vec<_>>().join("-");
            let typed = format!(
                "{}{prefix}{}{}",
                if words { "本町" } else { "" },
                SEPARATORS[joint],
                layout(&card, style, sep, full_width)
            );
            prop_assert!(contains_card_number(&typed), "{}", typed);
        }

        #[test]
        fn a_card_before_other_digits_is_found(
            card in card_strategy(),
            after in 1u32..10_000,
            sep in 0usize..SEPARATORS.len(),
        ) {
            let typed = format!("{}{}{after}", render(&card, false), SEPARATORS[sep]);
            prop_assert!(contains_card_number(&typed), "{}", typed);
        }

        #[test]
        fn japanese_addresses_pass(
            chome in 1u32..10,
            banchi in 1u32..3000,
            go in 1u32..100,
            room in proptest::option::of(1u32..3000),
            sep in 0usize..SEPARATORS.len(),
            full_width in any::<bool>(),
        ) {
            let sep = SEPARATORS[sep];
            let mut typed = format!("本町{chome}{sep}{banchi}{sep}{go}");
            if let Some(room) = room {
                typed.push_str(&format!("{sep}{room}"));
            }
            if full_width {
                typed = typed
                    .chars()
                    .map(|c| digit(c).map_or(c, |d| render(&[d], true).chars().next().unwrap()))
                    .collect();
            }
            prop_assert!(!contains_card_number(&typed), "{}", typed);
        }

        #[test]
        fn japanese_phone_numbers_pass(
            // Area code and the width of the middle group: ten digits for a landline or a
            // toll-free number, eleven for a mobile.
            (area, width) in prop_oneof![
                Just(("03", 4)), Just(("06", 4)), Just(("0465", 2)), Just(("0120", 2)),
                Just(("090", 4)), Just(("080", 4)), Just(("070", 4)), Just(("050", 4)),
            ],
            middle in 0u32..10_000,
            last in 0u32..10_000,
            sep in 0usize..SEPARATORS.len(),
            international in any::<bool>(),
            extension in proptest::option::of(1u32..10_000),
        ) {
            let sep = SEPARATORS[sep];
            let area = if international { format!("+81{sep}{}", &area[1..]) } else { area.to_string() };
            let middle = format!("{middle:04}");
            let middle = &middle[..width];
            let mut typed = format!("{area}{sep}{middle}{sep}{last:04}");
            if let Some(ext) = extension {
                typed.push_str(&format!(" 内線{ext}"));
            }
            prop_assert!(!contains_card_number(&typed), "{}", typed);
        }

        #[test]
        fn unbroken_numbers_up_to_card_length_are_judged_whole(
            digits in proptest::collection::vec(0u8..=9, 1..=CARD_MAX),
        ) {
            let text = render(&digits, false);
            let whole = (CARD_MIN..=CARD_MAX).contains(&digits.len()) && luhn(&digits);
            prop_assert_eq!(contains_card_number(&text), whole, "{}", text);
        }
    }
}
