//! Customer and recipient fields, exactly those the shop collects.
//!
//! Required: family and given name with katakana readings, postal code, prefecture, address
//! lines, phone, email. Optional: birth date and gender, each collected only for a purpose the
//! form states. Every constructor normalises (NFKC, trimmed) and refuses odd input with a
//! [`FieldError`] whose `code()` is stable.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::card::contains_card_number;
use crate::prefecture::Prefecture;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("this field is required")]
    Required,
    #[error("this field is too long (at most {max} characters)")]
    TooLong { max: usize },
    #[error("this field contains characters that are not allowed here")]
    InvalidCharacters,
    #[error("please write the reading in katakana")]
    NotKatakana,
    #[error("this is not a valid email address")]
    InvalidEmail,
    #[error("a postal code has 7 digits, for example 100-0001")]
    InvalidPostalCode,
    #[error("a phone number has 10 or 11 digits and starts with 0")]
    InvalidPhone,
    #[error("this is not one of the 47 prefectures")]
    UnknownPrefecture,
    #[error("this is not a valid date (YYYY-MM-DD)")]
    InvalidDate,
    #[error("this date is out of range")]
    DateOutOfRange,
    #[error("unknown choice")]
    UnknownChoice,
    #[error("this shop never asks for card numbers here")]
    CardNumber,
}

impl FieldError {
    /// The stable code clients and translations use.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooLong { .. } => "too_long",
            Self::InvalidCharacters => "invalid_characters",
            Self::NotKatakana => "not_katakana",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidPostalCode => "invalid_postal_code",
            Self::InvalidPhone => "invalid_phone",
            Self::UnknownPrefecture => "unknown_prefecture",
            Self::InvalidDate => "invalid_date",
            Self::DateOutOfRange => "date_out_of_range",
            Self::UnknownChoice => "unknown_choice",
            Self::CardNumber => "card_number_refused",
        }
    }
}

/// The first character of `input` that a name, reading or address line would refuse as a
/// character (not for its length or place): control and invisible direction marks, `<` `>`,
/// emoji and other symbols. `None` when there is none to name.
pub fn odd_character(input: &str) -> Option<char> {
    nfkc_trim(input).chars().find(|&c| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '<' | '>')
            || !(c.is_alphanumeric()
                || c.is_whitespace()
                || "・ー々〆ヶ'-.,、。()（）#＃/／&＆~〜－‐―_:：@".contains(c))
    })
}

pub(crate) fn nfkc_trim(input: &str) -> String {
    let s: String = input.nfkc().collect();
    s.trim().to_string()
}

pub(crate) fn bounded(input: &str, max: usize) -> Result<String, FieldError> {
    let s = nfkc_trim(input);
    if s.is_empty() {
        return Err(FieldError::Required);
    }
    if s.chars().count() > max {
        return Err(FieldError::TooLong { max });
    }
    if s.chars().any(|c| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')) {
        return Err(FieldError::InvalidCharacters);
    }
    if contains_card_number(&s) {
        return Err(FieldError::CardNumber);
    }
    Ok(s)
}

macro_rules! text_newtype {
    ($name:ident) => {
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Debug for $name {
            // Personal data: never printed by Debug, so it cannot reach a log by accident.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

text_newtype!(PersonName);
text_newtype!(Kana);
text_newtype!(Email);
text_newtype!(PostalCode);
text_newtype!(Phone);
text_newtype!(AddressLine);

impl PersonName {
    pub const MAX: usize = 30;
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = bounded(input, Self::MAX)?;
        let ok = s.chars().all(|c| {
            c.is_alphabetic()
                || matches!(c, ' ' | '\u{3000}' | '・' | 'ー' | '々' | '\'' | '-' | '.')
        });
        if ok {
            Ok(Self(s))
        } else {
            Err(FieldError::InvalidCharacters)
        }
    }
}

impl Kana {
    pub const MAX: usize = 30;
    /// Katakana (half-width is widened by NFKC; hiragana is turned into katakana).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = bounded(input, Self::MAX)?;
        let converted: String = s
            .chars()
            .map(|c| match c {
                '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
                _ => c,
            })
            .collect();
        let ok = converted
            .chars()
            .all(|c| matches!(c, '\u{30a1}'..='\u{30fa}' | 'ー' | '・' | ' ' | '\u{3000}'));
        if ok {
            Ok(Self(converted))
        } else {
            Err(FieldError::NotKatakana)
        }
    }
}

impl Kana {
    /// A reading on an English page: katakana as [`Kana::parse`] takes it, or, for a name
    /// without a Japanese reading, Latin letters (with spaces, hyphens, apostrophes, periods).
    pub fn parse_latin_allowed(input: &str) -> Result<Self, FieldError> {
        match Self::parse(input) {
            Err(FieldError::NotKatakana) => {
                let s = bounded(input, Self::MAX)?;
                if s.chars()
                    .all(|c| c.is_ascii_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.'))
                {
                    Ok(Self(s))
                } else {
                    Err(FieldError::NotKatakana)
                }
            }
            other => other,
        }
    }

    /// Whether this reading is in Latin letters (a name without a Japanese reading).
    pub fn is_latin(&self) -> bool {
        self.0.chars().any(|c| c.is_ascii_alphabetic())
    }
}

impl Email {
    pub const MAX: usize = 254;
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = bounded(input, Self::MAX)?;
        let (local, domain) = s.rsplit_once('@').ok_or(FieldError::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(
                        c,
                        '@' | '<' | '>' | '(' | ')' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'
                    )
            })
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(FieldError::InvalidEmail)
        }
    }
}

impl PostalCode {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(FieldError::Required);
        }
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, '〒' | '-' | 'ー' | '−' | ' '))
            .collect();
        if digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(FieldError::InvalidPostalCode)
        }
    }

    /// "1000001" shown as "100-0001".
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(3.min(self.0.len()));
        format!("{a}-{b}")
    }
}

impl Phone {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(FieldError::Required);
        }
        let mut digits: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '(' | ')' | 'ー' | '−'))
            .collect();
        if let Some(rest) = digits.strip_prefix("+81") {
            digits = format!("0{rest}");
        }
        let ok = (10..=11).contains(&digits.len())
            && digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(digits))
        } else {
            Err(FieldError::InvalidPhone)
        }
    }
}

impl AddressLine {
    pub const MAX: usize = 100;
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = bounded(input, Self::MAX)?;
        if s.contains(['<', '>']) {
            return Err(FieldError::InvalidCharacters);
        }
        Ok(Self(s))
    }

    /// An optional line: empty input is `None`, anything else must be valid.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, FieldError> {
        if nfkc_trim(input).is_empty() {
            Ok(None)
        } else {
            Self::parse(input).map(Some)
        }
    }
}

/// A calendar date, validated.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BirthDate {
    year: u16,
    month: u8,
    day: u8,
}

impl std::fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BirthDate(..)")
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

impl BirthDate {
    /// Parses `YYYY-MM-DD`; the date must lie between 1900-01-01 and `today`.
    pub fn parse(input: &str, today: (u16, u8, u8)) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(FieldError::Required);
        }
        let mut parts = s.splitn(3, ['-', '/']);
        let mut next = || parts.next().and_then(|p| p.parse::<u16>().ok());
        let (Some(year), Some(month), Some(day)) = (next(), next(), next()) else {
            return Err(FieldError::InvalidDate);
        };
        let month = u8::try_from(month).map_err(|_| FieldError::InvalidDate)?;
        let day = u8::try_from(day).map_err(|_| FieldError::InvalidDate)?;
        if day == 0 || day > days_in_month(year, month) {
            return Err(FieldError::InvalidDate);
        }
        let date = Self { year, month, day };
        if year < 1900 || (year, month, day) > today {
            return Err(FieldError::DateOutOfRange);
        }
        Ok(date)
    }

    pub fn parse_optional(input: &str, today: (u16, u8, u8)) -> Result<Option<Self>, FieldError> {
        if nfkc_trim(input).is_empty() {
            Ok(None)
        } else {
            Self::parse(input, today).map(Some)
        }
    }

    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Other,
}

impl std::fmt::Debug for Gender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gender(..)")
    }
}

impl Gender {
    pub fn parse_optional(input: &str) -> Result<Option<Self>, FieldError> {
        match nfkc_trim(input).as_str() {
            "" => Ok(None),
            "female" => Ok(Some(Self::Female)),
            "male" => Ok(Some(Self::Male)),
            "other" => Ok(Some(Self::Other)),
            _ => Err(FieldError::UnknownChoice),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Other => "other",
        }
    }
}

/// A name with its readings and a postal address with a phone: a customer or a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub family_name: PersonName,
    pub given_name: PersonName,
    pub family_name_kana: Kana,
    pub given_name_kana: Kana,
    pub postal_code: PostalCode,
    pub prefecture: Prefecture,
    pub address1: AddressLine,
    pub address2: Option<AddressLine>,
    pub phone: Phone,
}

/// Everything a customer tells the shop about themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub person: Person,
    pub email: Email,
    pub birth_date: Option<BirthDate>,
    pub gender: Option<Gender>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kana() {
        assert_eq!(PersonName::parse("  山田 ").unwrap().as_str(), "山田");
        assert_eq!(PersonName::parse("").unwrap_err(), FieldError::Required);
        assert_eq!(
            PersonName::parse("<script>").unwrap_err(),
            FieldError::InvalidCharacters
        );
        assert_eq!(
            PersonName::parse(&"あ".repeat(31)).unwrap_err(),
            FieldError::TooLong { max: 30 }
        );
        assert_eq!(Kana::parse("やまだ").unwrap().as_str(), "ヤマダ");
        assert_eq!(Kana::parse("ﾔﾏﾀﾞ").unwrap().as_str(), "ヤマダ");
        assert_eq!(Kana::parse("山田").unwrap_err(), FieldError::NotKatakana);
        assert_eq!(Kana::parse("Yamada").unwrap_err(), FieldError::NotKatakana);
        assert_eq!(
            Kana::parse_latin_allowed("O'Brien").unwrap().as_str(),
            "O'Brien"
        );
        assert_eq!(
            Kana::parse_latin_allowed("みらー").unwrap().as_str(),
            "ミラー"
        );
        assert_eq!(
            Kana::parse_latin_allowed("山田").unwrap_err(),
            FieldError::NotKatakana
        );
    }

    #[test]
    fn email_postal_phone() {
        assert_eq!(
            Email::parse(" Taro@Example.JP ").unwrap().as_str(),
            "Taro@example.jp"
        );
        assert!(Email::parse("taro@localhost").is_err());
        assert!(Email::parse("taro@@example.jp").is_err());
        assert!(Email::parse("a b@example.jp").is_err());
        assert_eq!(
            PostalCode::parse("〒１００－０００１").unwrap().display(),
            "100-0001"
        );
        assert_eq!(
            PostalCode::parse("12345").unwrap_err(),
            FieldError::InvalidPostalCode
        );
        assert_eq!(
            Phone::parse("090-1234-5678").unwrap().as_str(),
            "09012345678"
        );
        assert_eq!(
            Phone::parse("+81 90 1234 5678").unwrap().as_str(),
            "09012345678"
        );
        assert_eq!(Phone::parse("12345").unwrap_err(), FieldError::InvalidPhone);
    }

    #[test]
    fn dates_and_choices() {
        let today = (2026, 11, 25);
        assert_eq!(
            BirthDate::parse("1980-02-29", today).unwrap().iso(),
            "1980-02-29"
        );
        assert_eq!(
            BirthDate::parse("1981-02-29", today).unwrap_err(),
            FieldError::InvalidDate
        );
        assert_eq!(
            BirthDate::parse("2030-01-01", today).unwrap_err(),
            FieldError::DateOutOfRange
        );
        assert_eq!(BirthDate::parse_optional("", today).unwrap(), None);
        assert_eq!(
            Gender::parse_optional("other").unwrap(),
            Some(Gender::Other)
        );
        assert!(Gender::parse_optional("x").is_err());
    }

    #[test]
    fn card_numbers_refused_in_text() {
        assert_eq!(
            AddressLine::parse("4242 4242 4242 4242").unwrap_err(),
            FieldError::CardNumber
        );
    }

    #[test]
    fn debug_prints_no_personal_data() {
        let n = PersonName::parse("山田").unwrap();
        assert_eq!(format!("{n:?}"), "PersonName(..)");
    }
}
