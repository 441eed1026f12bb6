//! The 47 prefectures of Japan, with their JIS X 0401 codes.

use serde::{Deserialize, Serialize};

const NAMES: [(&str, &str); 47] = [
    ("北海道", "Hokkaido"),
    ("青森県", "Aomori"),
    ("岩手県", "Iwate"),
    ("宮城県", "Miyagi"),
    ("秋田県", "Akita"),
    ("山形県", "Yamagata"),
    ("福島県", "Fukushima"),
    ("茨城県", "Ibaraki"),
    ("栃木県", "Tochigi"),
    ("群馬県", "Gunma"),
    ("埼玉県", "Saitama"),
    ("千葉県", "Chiba"),
    ("東京都", "Tokyo"),
    ("神奈川県", "Kanagawa"),
    ("新潟県", "Niigata"),
    ("富山県", "Toyama"),
    ("石川県", "Ishikawa"),
    ("福井県", "Fukui"),
    ("山梨県", "Yamanashi"),
    ("長野県", "Nagano"),
    ("岐阜県", "Gifu"),
    ("静岡県", "Shizuoka"),
    ("愛知県", "Aichi"),
    ("三重県", "Mie"),
    ("滋賀県", "Shiga"),
    ("京都府", "Kyoto"),
    ("大阪府", "Osaka"),
    ("兵庫県", "Hyogo"),
    ("奈良県", "Nara"),
    ("和歌山県", "Wakayama"),
    ("鳥取県", "Tottori"),
    ("島根県", "Shimane"),
    ("岡山県", "Okayama"),
    ("広島県", "Hiroshima"),
    ("山口県", "Yamaguchi"),
    ("徳島県", "Tokushima"),
    ("香川県", "Kagawa"),
    ("愛媛県", "Ehime"),
    ("高知県", "Kochi"),
    ("福岡県", "Fukuoka"),
    ("佐賀県", "Saga"),
    ("長崎県", "Nagasaki"),
    ("熊本県", "Kumamoto"),
    ("大分県", "Oita"),
    ("宮崎県", "Miyazaki"),
    ("鹿児島県", "Kagoshima"),
    ("沖縄県", "Okinawa"),
];

/// A prefecture by its JIS code, 1 (Hokkaido) to 47 (Okinawa).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Prefecture(u8);

impl TryFrom<u8> for Prefecture {
    type Error = crate::FieldError;
    fn try_from(code: u8) -> Result<Self, Self::Error> {
        if (1..=47).contains(&code) {
            Ok(Self(code))
        } else {
            Err(crate::FieldError::UnknownPrefecture)
        }
    }
}

impl From<Prefecture> for u8 {
    fn from(p: Prefecture) -> u8 {
        p.0
    }
}

impl Prefecture {
    /// Accepts the JIS code ("13"), the Japanese name ("東京都", also without 都道府県) or the
    /// English name ("Tokyo", any case).
    pub fn parse(input: &str) -> Result<Self, crate::FieldError> {
        let s = crate::customer::nfkc_trim(input);
        if s.is_empty() {
            return Err(crate::FieldError::Required);
        }
        if let Ok(code) = s.parse::<u8>() {
            return Self::try_from(code);
        }
        let lower = s.to_lowercase();
        NAMES
            .iter()
            .position(|(ja, en)| {
                *ja == s
                    || ja.trim_end_matches(['都', '道', '府', '県']) == s
                    || en.to_lowercase() == lower
            })
            .and_then(|i| u8::try_from(i + 1).ok())
            .map(Self)
            .ok_or(crate::FieldError::UnknownPrefecture)
    }

    pub fn code(self) -> u8 {
        self.0
    }

    pub fn name_ja(self) -> &'static str {
        NAMES
            .get(usize::from(self.0).saturating_sub(1))
            .map_or("", |n| n.0)
    }

    pub fn name_en(self) -> &'static str {
        NAMES
            .get(usize::from(self.0).saturating_sub(1))
            .map_or("", |n| n.1)
    }

    pub fn all() -> impl Iterator<Item = Prefecture> {
        (1..=47).map(Prefecture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_names() {
        assert_eq!(Prefecture::parse("13").unwrap().name_ja(), "東京都");
        assert_eq!(Prefecture::parse("東京").unwrap().code(), 13);
        assert_eq!(Prefecture::parse("hokkaido").unwrap().code(), 1);
        assert_eq!(Prefecture::parse("沖縄県").unwrap().name_en(), "Okinawa");
        assert!(Prefecture::parse("48").is_err());
        assert!(Prefecture::parse("Atlantis").is_err());
        assert_eq!(Prefecture::all().count(), 47);
    }
}
