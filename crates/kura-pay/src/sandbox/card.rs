//! Card checks the sandbox applies to what is typed on its payment page.
//!
//! Guarantees: a card is accepted only with a Luhn-valid 12–19 digit number, an expiry month
//! that has not ended yet, and a 3–4 digit security code; the test numbers behave as documented
//! in [`TestCard`]. Nothing here logs, stores or formats the number: callers drop (and zeroize)
//! it when the request ends.

/// What a (valid) card number does in the sandbox, like Stripe's test cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCard {
    /// `4242 4242 4242 4242` and any other valid number: the payment succeeds.
    Succeeds,
    /// `4000 0000 0000 0002`: the issuer declines.
    Declined,
    /// `4000 0000 0000 3220`: the issuer requires a 3-D Secure challenge.
    RequiresThreeDSecure,
}

/// Why the typed card was refused before reaching the "issuer".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("the card number is not valid")]
    Number,
    #[error("the expiry date must be MM/YY and not in the past")]
    Expiry,
    #[error("the security code must be 3 or 4 digits")]
    Cvc,
    #[error("the cardholder name is required")]
    Name,
}

/// Digits of a card number typed with optional spaces or dashes; `None` on anything else.
fn digits(number: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(19);
    for c in number.chars() {
        match c {
            ' ' | '-' => {}
            '0'..='9' => out.push(u8::try_from(c.to_digit(10)?).ok()?),
            _ => return None,
        }
    }
    Some(out)
}

/// The Luhn (mod 10) check, ISO/IEC 7812-1 Annex B.
pub fn luhn_valid(number: &str) -> bool {
    let Some(ds) = digits(number) else {
        return false;
    };
    if !(12..=19).contains(&ds.len()) {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `(year, month)` in UTC for a unix time (Howard Hinnant's `civil_from_days`).
pub fn year_month(unix: i64) -> (i64, u32) {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1))
}

/// `MM/YY` (also `MM / YY`, `MMYY`) not before the current month: a card is valid through the
/// last day of its expiry month.
pub fn expiry_valid(expiry: &str, now: i64) -> bool {
    let compact: String = expiry
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '/')
        .collect();
    if compact.len() != 4 || !compact.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let (Some(mm), Some(yy)) = (compact.get(0..2), compact.get(2..4)) else {
        return false;
    };
    let (Ok(month), Ok(yy)) = (mm.parse::<u32>(), yy.parse::<i64>()) else {
        return false;
    };
    if !(1..=12).contains(&month) {
        return false;
    }
    let (now_year, now_month) = year_month(now);
    let year = 2000 + yy;
    (year, month) >= (now_year, now_month)
}

pub fn cvc_valid(cvc: &str) -> bool {
    (3..=4).contains(&cvc.len()) && cvc.chars().all(|c| c.is_ascii_digit())
}

/// Checks the typed card and says how the sandbox "issuer" will answer.
pub fn check(
    name: &str,
    number: &str,
    expiry: &str,
    cvc: &str,
    now: i64,
) -> Result<TestCard, CardError> {
    if name.trim().is_empty() {
        return Err(CardError::Name);
    }
    if !luhn_valid(number) {
        return Err(CardError::Number);
    }
    if !expiry_valid(expiry, now) {
        return Err(CardError::Expiry);
    }
    if !cvc_valid(cvc) {
        return Err(CardError::Cvc);
    }
    let compact: String = number.chars().filter(char::is_ascii_digit).collect();
    Ok(match compact.as_str() {
        "4000000000000002" => TestCard::Declined,
        "4000000000003220" => TestCard::RequiresThreeDSecure,
        _ => TestCard::Succeeds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-15T00:00:00Z
    const NOW: i64 = 1_773_532_800;

    #[test]
    fn luhn_accepts_test_cards_and_refuses_typos() {
        assert!(luhn_valid("4242 4242 4242 4242"));
        assert!(luhn_valid("4000-0000-0000-0002"));
        assert!(luhn_valid("4000000000003220"));
        assert!(!luhn_valid("4242 4242 4242 4241"));
        assert!(!luhn_valid("4242x4242 4242 4242"));
        assert!(!luhn_valid("42"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn civil_date_is_right() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(NOW), (2026, 3));
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
    }

    #[test]
    fn expiry_runs_through_its_month() {
        assert!(expiry_valid("03/26", NOW));
        assert!(expiry_valid("12 / 30", NOW));
        assert!(!expiry_valid("02/26", NOW));
        assert!(!expiry_valid("13/30", NOW));
        assert!(!expiry_valid("00/30", NOW));
        assert!(!expiry_valid("3/30", NOW));
    }

    #[test]
    fn test_cards_behave_as_documented() {
        let c = |n: &str| check("Taro Yamada", n, "12/30", "123", NOW);
        assert_eq!(c("4242 4242 4242 4242"), Ok(TestCard::Succeeds));
        assert_eq!(c("4000 0000 0000 0002"), Ok(TestCard::Declined));
        assert_eq!(c("4000 0000 0000 3220"), Ok(TestCard::RequiresThreeDSecure));
        assert_eq!(c("4000 0000 0000 0001"), Err(CardError::Number));
        assert_eq!(
            check("T", "4242424242424242", "12/30", "12", NOW),
            Err(CardError::Cvc)
        );
        assert_eq!(
            check(" ", "4242424242424242", "12/30", "123", NOW),
            Err(CardError::Name)
        );
        assert_eq!(
            check("T", "4242424242424242", "01/20", "123", NOW),
            Err(CardError::Expiry)
        );
    }
}
