//! Blind indexes: keyed, deterministic fingerprints of personal values for equality lookups.
//!
//! Stored as `key_id (4, big endian) | HMAC-SHA256 (32)`. The key differs per column, so equal
//! values in two columns cannot be linked; the value is NFKC-normalised and trimmed first (and
//! lower-cased for email, digits only for phone numbers) so that the same person is found
//! however they typed it.

use unicode_normalization::UnicodeNormalization;

use crate::keys::KeyId;

/// How a value is normalised before it is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// NFKC and trimmed.
    Text,
    /// NFKC, trimmed and lower-cased.
    Email,
    /// NFKC, then only the digits.
    Digits,
}

pub(crate) fn normalise(value: &str, how: Normalize) -> String {
    let nfkc: String = value.nfkc().collect();
    match how {
        Normalize::Text => nfkc.trim().to_string(),
        Normalize::Email => nfkc.trim().to_lowercase(),
        Normalize::Digits => nfkc.chars().filter(char::is_ascii_digit).collect(),
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BlindIndex(Vec<u8>);

impl BlindIndex {
    pub(crate) fn new(id: KeyId, mac: &[u8]) -> Self {
        let mut v = Vec::with_capacity(4 + mac.len());
        v.extend_from_slice(&id.0.to_be_bytes());
        v.extend_from_slice(mac);
        Self(v)
    }

    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn key_id(&self) -> Option<u32> {
        let b: [u8; 4] = self.0.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlindIndex(key {:?})", self.key_id())
    }
}
