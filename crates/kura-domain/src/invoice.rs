//! What receipts (領収書) and qualified invoices (適格請求書) need from the model: the seller's
//! invoice registration number and the addressee a customer writes on them.
//!
//! A registration number is `T` and 13 digits (消費税法第57条の2; 国税庁「登録番号の構成」): a
//! corporation's is `T` and its corporate number (法人番号), whose first digit is a check digit
//! over the other twelve (法人番号の指定等に関する省令 第2条). A number whose check digit does
//! not add up is refused: a typo on every invoice would cost the shop's business customers their
//! input-tax credit.

use serde::{Deserialize, Serialize};

use crate::customer::{FieldError, bounded};

/// Why a registration number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("an invoice registration number is T followed by 13 digits, e.g. T1234567890123")]
    Shape,
    #[error("the check digit (the first of the 13 digits) does not match the other twelve")]
    CheckDigit,
}

/// A seller's invoice registration number (適格請求書発行事業者登録番号), `T` and 13 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegistrationNumber(String);

impl RegistrationNumber {
    /// Accepts `T` (or `t`, full-width too) and 13 digits, with spaces or hyphens between them
    /// as people write them (`T 1-2345-6789-0123`); refuses a wrong check digit.
    pub fn parse(input: &str) -> Result<Self, RegistrationError> {
        let folded = crate::customer::nfkc_trim(input);
        let mut chars = folded.chars();
        if !matches!(chars.next(), Some('T' | 't')) {
            return Err(RegistrationError::Shape);
        }
        let mut digits = Vec::with_capacity(13);
        for c in chars {
            match c {
                '0'..='9' => digits.push(u32::from(c) - u32::from('0')),
                ' ' | '-' => {}
                _ => return Err(RegistrationError::Shape),
            }
        }
        let [check, base @ ..] = digits.as_slice() else {
            return Err(RegistrationError::Shape);
        };
        if base.len() != 12 {
            return Err(RegistrationError::Shape);
        }
        if *check != Self::check_digit(base) {
            return Err(RegistrationError::CheckDigit);
        }
        let text: String = digits
            .iter()
            .filter_map(|d| char::from_digit(*d, 10))
            .collect();
        Ok(Self(format!("T{text}")))
    }

    /// 9 − (Σ Pn × Qn mod 9), Pn the n-th digit of the twelve counted from the last, Qn 1 for
    /// odd n and 2 for even n: always 1 to 9.
    fn check_digit(base: &[u32]) -> u32 {
        let sum: u32 = base
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| if i % 2 == 0 { *d } else { d * 2 })
            .sum();
        9 - sum % 9
    }

    /// `T1234567890123`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RegistrationNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RegistrationNumber {
    type Error = RegistrationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RegistrationNumber> for String {
    fn from(n: RegistrationNumber) -> String {
        n.0
    }
}

/// The name a receipt or invoice is made out to (宛名): a person's or a company's name, as the
/// customer writes it. Personal data: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Addressee(String);

impl Addressee {
    /// Long enough for a company name with its branch (「株式会社〇〇 〇〇支店 経理部」).
    pub const MAX: usize = 60;

    /// NFKC, trimmed, 1 to [`Self::MAX`] characters, no control or direction characters, nothing
    /// shaped like a card number (the rules of every free-text field).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        bounded(input, Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Addressee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Addressee(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number with a correct check digit, made from `base` (12 digits).
    fn with_check(base: &str) -> String {
        let digits: Vec<u32> = base.chars().filter_map(|c| c.to_digit(10)).collect();
        format!("T{}{base}", RegistrationNumber::check_digit(&digits))
    }

    #[test]
    fn the_check_digit_follows_the_published_example() {
        // The worked example of the ministerial ordinance's formula: base 123456789012 → 7.
        let n = RegistrationNumber::parse("T7123456789012").unwrap();
        assert_eq!(n.as_str(), "T7123456789012");
        assert_eq!(
            RegistrationNumber::parse("T8123456789012").unwrap_err(),
            RegistrationError::CheckDigit
        );
        // A sum divisible by 9 gives 9, never 0.
        assert_eq!(RegistrationNumber::check_digit(&[0; 12]), 9);
    }

    #[test]
    fn registration_numbers_as_people_write_them() {
        let n = with_check("000012345678");
        assert_eq!(RegistrationNumber::parse(&n).unwrap().as_str(), n);
        let spaced = format!("Ｔ{}-{} {}", &n[1..2], &n[2..6], &n[6..]);
        assert_eq!(RegistrationNumber::parse(&spaced).unwrap().as_str(), n);
        assert_eq!(
            RegistrationNumber::parse(&n.to_lowercase())
                .unwrap()
                .as_str(),
            n
        );
        for bad in [
            "",
            "T",
            "1234567890123",
            "T123456789012",
            "T12345678901234",
            "TX234567890123",
        ] {
            assert_eq!(
                RegistrationNumber::parse(bad).unwrap_err(),
                RegistrationError::Shape,
                "{bad:?}"
            );
        }
        // A digit off by one, anywhere, is caught (0 and 9 weigh the same modulo 9: the
        // published formula cannot tell them apart).
        let good = with_check("430001234567");
        for pos in 1..good.len() {
            let mut typo = good.clone().into_bytes();
            typo[pos] = if typo[pos] == b'9' {
                b'8'
            } else {
                typo[pos] + 1
            };
            let typo = String::from_utf8(typo).unwrap();
            assert!(RegistrationNumber::parse(&typo).is_err(), "{typo}");
        }
    }

    #[test]
    fn addressees_are_free_text_with_the_usual_limits() {
        assert_eq!(
            Addressee::parse("  株式会社ＫＵＲＡ 経理部 ")
                .unwrap()
                .as_str(),
            "株式会社KURA 経理部"
        );
        assert_eq!(Addressee::parse(" ").unwrap_err(), FieldError::Required);
        assert_eq!(
            Addressee::parse(&"あ".repeat(61)).unwrap_err(),
            FieldError::TooLong { max: 60 }
        );
        assert_eq!(
            Addressee::parse("山田\u{202e}花子").unwrap_err(),
            FieldError::InvalidCharacters
        );
        assert_eq!(
            Addressee::parse("4111 1111 1111 1111").unwrap_err(),
            FieldError::CardNumber
        );
        assert_eq!(
            format!("{:?}", Addressee::parse("山田").unwrap()),
            "Addressee(..)"
        );
    }
}
