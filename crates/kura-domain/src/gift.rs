//! Gift options a Japanese shop offers at checkout: のし (a gift wrapper with its purpose,
//! 表書き, and optionally the giver's name, 名入れ), gift wrapping, and an order note.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// The purpose printed on the のし (表書き).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoshiPurpose {
    Celebration,
    ReturnGift,
    Thanks,
    Midsummer,
    YearEnd,
    Token,
    Plain,
}

impl NoshiPurpose {
    pub const ALL: [NoshiPurpose; 7] = [
        Self::Celebration,
        Self::ReturnGift,
        Self::Thanks,
        Self::Midsummer,
        Self::YearEnd,
        Self::Token,
        Self::Plain,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Celebration => "celebration",
            Self::ReturnGift => "return_gift",
            Self::Thanks => "thanks",
            Self::Midsummer => "midsummer",
            Self::YearEnd => "year_end",
            Self::Token => "token",
            Self::Plain => "plain",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// What is printed: 御祝, 内祝, 御礼, 御中元, 御歳暮, 粗品, or nothing (無地).
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Celebration => "御祝",
            Self::ReturnGift => "内祝",
            Self::Thanks => "御礼",
            Self::Midsummer => "御中元",
            Self::YearEnd => "御歳暮",
            Self::Token => "粗品",
            Self::Plain => "無地（表書きなし）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Celebration => "Celebration (御祝)",
            Self::ReturnGift => "Return gift (内祝)",
            Self::Thanks => "Thanks (御礼)",
            Self::Midsummer => "Midsummer gift (御中元)",
            Self::YearEnd => "Year-end gift (御歳暮)",
            Self::Token => "Small token (粗品)",
            Self::Plain => "Plain (no inscription)",
        }
    }
}

/// The gift options of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gift {
    /// `None`: no のし.
    pub noshi: Option<NoshiPurpose>,
    /// The name under the inscription (名入れ); only with a のし.
    pub noshi_name: Option<String>,
    pub wrapping: bool,
}

impl Gift {
    /// Most characters of a name on a のし.
    pub const NAME_MAX: usize = 20;

    /// The options as typed: a purpose code or empty, a name, and "1"/"on" for wrapping.
    /// `Ok(None)` when none was chosen. A name without a のし is refused (it would go nowhere).
    pub fn parse(noshi: &str, name: &str, wrapping: &str) -> Result<Option<Self>, GiftError> {
        let noshi = match noshi.trim() {
            "" | "none" => None,
            code => {
                Some(NoshiPurpose::parse(code).ok_or(GiftError::Noshi(FieldError::UnknownChoice))?)
            }
        };
        let name = crate::customer::nfkc_trim(name);
        let noshi_name = if name.is_empty() {
            None
        } else {
            if noshi.is_none() {
                return Err(GiftError::Name(FieldError::UnknownChoice));
            }
            let checked =
                crate::customer::bounded(&name, Self::NAME_MAX).map_err(GiftError::Name)?;
            if crate::customer::odd_character(&checked).is_some() {
                return Err(GiftError::Name(FieldError::InvalidCharacters));
            }
            Some(checked)
        };
        let wrapping = matches!(wrapping.trim(), "1" | "on" | "yes" | "true");
        if noshi.is_none() && !wrapping {
            return Ok(None);
        }
        Ok(Some(Self {
            noshi,
            noshi_name,
            wrapping,
        }))
    }
}

impl Gift {
    /// As pages and mails state it in Japanese: `のし：内祝（名入れ：山田）、ギフト包装`.
    pub fn describe_ja(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.noshi {
            let mut s = format!("のし：{}", p.label_ja());
            if let Some(n) = &self.noshi_name {
                s.push_str(&format!("（名入れ：{n}）"));
            }
            parts.push(s);
        }
        if self.wrapping {
            parts.push("ギフト包装".to_string());
        }
        parts.join("、")
    }

    /// The same in English: `Noshi: Return gift (内祝), name 山田; gift wrapping`.
    pub fn describe_en(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.noshi {
            let mut s = format!("Noshi: {}", p.label_en());
            if let Some(n) = &self.noshi_name {
                s.push_str(&format!(", name {n}"));
            }
            parts.push(s);
        }
        if self.wrapping {
            parts.push("gift wrapping".to_string());
        }
        parts.join("; ")
    }
}

/// Which gift field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiftError {
    Noshi(FieldError),
    Name(FieldError),
}

/// Most characters of an order note.
pub const NOTE_MAX: usize = 200;

/// An order note (ご要望) as typed: trimmed, at most [`NOTE_MAX`] characters, no control
/// characters except line breaks, no markup, no card number. `Ok(None)` when empty.
pub fn parse_note(typed: &str) -> Result<Option<String>, FieldError> {
    let text = typed.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = text.split('\n').map(crate::customer::nfkc_trim).collect();
    let joined = lines.join("\n").trim().to_string();
    if joined.is_empty() {
        return Ok(None);
    }
    if joined.chars().count() > NOTE_MAX {
        return Err(FieldError::TooLong { max: NOTE_MAX });
    }
    for line in joined.split('\n').filter(|l| !l.is_empty()) {
        crate::customer::bounded(line, NOTE_MAX)?;
        if line.contains(['<', '>']) {
            return Err(FieldError::InvalidCharacters);
        }
    }
    if crate::contains_card_number(&joined.replace('\n', " ")) {
        return Err(FieldError::CardNumber);
    }
    Ok(Some(joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gift_options_read_as_typed() {
        assert_eq!(Gift::parse("", "", "").unwrap(), None);
        let g = Gift::parse("return_gift", " 山田 ", "on").unwrap().unwrap();
        assert_eq!(g.noshi, Some(NoshiPurpose::ReturnGift));
        assert_eq!(g.noshi_name.as_deref(), Some("山田"));
        assert!(g.wrapping);
        assert_eq!(
            Gift::parse("", "山田", "").unwrap_err(),
            GiftError::Name(FieldError::UnknownChoice)
        );
        assert_eq!(
            Gift::parse("bribe", "", "").unwrap_err(),
            GiftError::Noshi(FieldError::UnknownChoice)
        );
        assert!(Gift::parse("thanks", "😀", "").is_err());
        assert_eq!(Gift::parse("", "", "1").unwrap().unwrap().noshi, None);
    }

    #[test]
    fn notes_keep_their_lines_and_refuse_what_a_field_refuses() {
        assert_eq!(parse_note("  ").unwrap(), None);
        assert_eq!(
            parse_note("置き配希望\r\n午前中でお願いします ")
                .unwrap()
                .as_deref(),
            Some("置き配希望\n午前中でお願いします")
        );
        assert!(parse_note(&"あ".repeat(201)).is_err());
        assert_eq!(
            parse_note("<script>").unwrap_err(),
            FieldError::InvalidCharacters
        );
        assert_eq!(
            parse_note("card 4242 4242 4242 4242").unwrap_err(),
            FieldError::CardNumber
        );
    }
}
