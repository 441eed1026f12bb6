//! Reading `application/x-www-form-urlencoded` bodies without trusting them.
//!
//! Broken percent-encoding or invalid UTF-8 is reported (the page says the form could not be
//! read) instead of failing the request; unknown field names are reported too, so a form
//! never silently drops what someone sent.

use std::collections::BTreeMap;

/// Percent-decodes one component (`+` is a space). `None` for broken escapes or bad UTF-8.
pub fn percent_decode(input: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A decoded form.
#[derive(Debug, Default, Clone)]
pub struct FormFields {
    values: BTreeMap<String, String>,
    /// Some pair could not be decoded.
    pub malformed: bool,
}

impl FormFields {
    pub fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let key = it.next().and_then(percent_decode);
            let value = percent_decode(it.next().unwrap_or_default());
            match (key, value) {
                (Some(k), Some(v)) => {
                    form.values.insert(k, v);
                }
                _ => form.malformed = true,
            }
        }
        form
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Field names not in `known`.
    pub fn unknown(&self, known: &[&str]) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| !known.contains(&k.as_str()) && *k != "csrf_token")
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_flags_trouble() {
        let f = FormFields::parse(b"a=%E5%B1%B1%E7%94%B0&b=x+y&c=%zz");
        assert_eq!(f.get("a"), "山田");
        assert_eq!(f.get("b"), "x y");
        assert!(f.malformed);
        assert_eq!(f.unknown(&["a"]), vec!["b".to_string()]);
        assert!(FormFields::parse(b"a=%FF%FE").malformed);
    }
}
