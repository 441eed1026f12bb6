//! The sealed-field envelope.
//!
//! Layout: `version (1) | key_id (4, big endian) | nonce (24) | ciphertext | tag (16)`.
//! Associated data: the 5 header bytes, then `table \0 column \0 row_id (8, big endian)`.
//! Binding the header means a flipped key id or version fails like any other tamper; binding
//! the location means a value copied into another row or column no longer opens.
//!
//! Versions: 2 (written today) seals the value padded by its column's [`Padding`]; 1 (written
//! before padding existed) sealed the bare value and still opens, so existing data needs no
//! migration (a key rotation re-seals it as version 2).

use crate::SealError;
use crate::padding::Padding;

/// Envelopes whose plaintext is the bare value (no longer written).
pub(crate) const VERSION_UNPADDED: u8 = 1;
/// Envelopes whose plaintext is the value padded by its column's [`Padding`].
pub(crate) const VERSION: u8 = 2;
/// Sealed under a person's data key (padded); the key-id field is 0: the row names its data key.
pub(crate) const DATA_VERSION: u8 = 3;
pub(crate) const HEADER_LEN: usize = 5;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Where a sealed value lives, and how its values are padded. Both names are fixed in code,
/// never taken from input. The padding is not part of the associated data: it decides only
/// how many bytes the plaintext takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column {
    pub table: &'static str,
    pub column: &'static str,
    padding: Padding,
}

impl Column {
    /// A column of free text or records: values are padded to length buckets.
    pub const fn new(table: &'static str, column: &'static str) -> Self {
        Self {
            table,
            column,
            padding: Padding::Buckets,
        }
    }

    /// A column of enum-like values (a code, a date, a postal code): every value shorter than
    /// `width` bytes seals to the same length.
    pub const fn fixed(table: &'static str, column: &'static str, width: u16) -> Self {
        Self {
            table,
            column,
            padding: Padding::Fixed(width),
        }
    }

    pub const fn padding(&self) -> Padding {
        self.padding
    }

    pub(crate) fn associated_data(&self, header: &[u8], row_id: i64) -> Vec<u8> {
        let mut aad = Vec::with_capacity(header.len() + self.table.len() + self.column.len() + 10);
        aad.extend_from_slice(header);
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.column.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&row_id.to_be_bytes());
        aad
    }
}

/// A sealed personal value as stored in the database. It can be built only by sealing
/// ([`crate::KeyRing::seal`]) or from bytes read back from storage, so plaintext cannot be
/// passed where a sealed value is expected.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    pub(crate) fn from_envelope(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Wraps bytes read from storage. Nothing is checked until the value is opened.
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The master key id named in the header, if the header is well formed and the value is
    /// sealed under a master key (not under a person's data key).
    pub fn key_id(&self) -> Result<u32, SealError> {
        match parse_header(&self.0)? {
            (DATA_VERSION, _) => Err(SealError::UnderDataKey),
            (_, key_id) => Ok(key_id),
        }
    }

    /// Whether the value is sealed under a person's data key (which the row names) rather than
    /// a master key: key rotation leaves such values alone and re-wraps the data key instead.
    pub fn under_data_key(&self) -> bool {
        matches!(parse_header(&self.0), Ok((DATA_VERSION, _)))
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key_id() {
            Ok(id) => write!(f, "Sealed(key {id}, {} bytes)", self.0.len()),
            Err(SealError::UnderDataKey) => write!(f, "Sealed(data key, {} bytes)", self.0.len()),
            Err(_) => write!(f, "Sealed(malformed, {} bytes)", self.0.len()),
        }
    }
}

pub(crate) fn parse_header(bytes: &[u8]) -> Result<(u8, u32), SealError> {
    if bytes.len() < OVERHEAD {
        return Err(SealError::Malformed);
    }
    let (version, rest) = bytes.split_first().ok_or(SealError::Malformed)?;
    if *version != VERSION && *version != VERSION_UNPADDED && *version != DATA_VERSION {
        return Err(SealError::Malformed);
    }
    let id: [u8; 4] = rest
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or(SealError::Malformed)?;
    Ok((*version, u32::from_be_bytes(id)))
}
