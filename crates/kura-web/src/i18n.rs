//! Japanese (default) and English strings, embedded at build time.
//!
//! Both catalogs must hold the same keys; a unit test checks it. A missing key renders as the
//! key itself, never as an empty string.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;

/// The cookie that remembers the visitor's language choice (not personal, not a secret).
pub const LANG_COOKIE: &str = "kura_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The visitor's choice (the `kura_lang` cookie), else the first of ja/en in the browser's
    /// `Accept-Language`, else Japanese.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        if let Some(lang) = crate::cookies::cookie_value(headers, LANG_COOKIE).and_then(Lang::parse)
        {
            return lang;
        }
        let Some(value) = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::Ja;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "ja" || tag.starts_with("ja-") {
                Lang::Ja
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Ja, |(_, l)| l)
    }
}

fn parse_catalog(text: &'static str) -> HashMap<&'static str, &'static str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

static JA: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_catalog(include_str!("../locales/ja.txt")));
static EN: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_catalog(include_str!("../locales/en.txt")));

/// A translator for one language, handed to templates.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let catalog = match self.0 {
            Lang::Ja => &*JA,
            Lang::En => &*EN,
        };
        catalog.get(key).copied().unwrap_or(key)
    }

    pub fn lang(&self) -> &'static str {
        self.0.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_have_the_same_keys() {
        let mut ja: Vec<_> = JA.keys().collect();
        let mut en: Vec<_> = EN.keys().collect();
        ja.sort();
        en.sort();
        assert_eq!(ja, en);
        assert!(ja.len() > 10);
        assert!(JA.values().chain(EN.values()).all(|v| !v.is_empty()));
    }

    #[test]
    fn accept_language_picks_the_preferred() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::Ja);
        h.insert(
            "accept-language",
            "en-US,en;q=0.9,ja;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert("accept-language", "fr, ja;q=0.5, en;q=0.4".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Ja);
        h.insert("cookie", "a=b; kura_lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
    }
}
