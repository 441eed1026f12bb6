//! A minimal, defensive CBOR (RFC 8949) decoder for the few structures WebAuthn sends: the
//! attestation object, the COSE_Key inside authenticator data and the extension outputs map.
//!
//! WebAuthn §5.8 / §6.1 require all of them in the CTAP2 canonical CBOR encoding form, which has
//! no indefinite lengths and no tags, so both are refused here. Non-minimal integer encodings
//! and unsorted map keys are tolerated: being strict there would refuse a sloppy authenticator
//! without making anything safer, because every value is read by meaning, never by bytes.
//!
//! Everything the decoder returns borrows from the input; a length is checked against the bytes
//! left before anything is reserved for it, nesting is capped at [`MAX_DEPTH`], and a map that
//! repeats a key is refused, so no two readers of the same bytes can see different values.

/// Nested arrays and maps allowed. The deepest WebAuthn structure (attestation object →
/// attStmt → x5c array) needs three; extension outputs get some room beyond that.
pub(super) const MAX_DEPTH: usize = 8;

/// Items reserved up front for an array or map, however many its header announces; the rest
/// grows as items actually decode, so a lying header costs nothing.
const INITIAL_CAPACITY: usize = 16;

/// Why CBOR data was refused.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum CborError {
    #[error("the CBOR data ends before the item it announces")]
    Truncated,
    #[error("the CBOR data has bytes after its last item")]
    TrailingBytes,
    #[error("the CBOR data uses an indefinite length, which canonical CBOR forbids")]
    IndefiniteLength,
    #[error("the CBOR data nests arrays and maps more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("the CBOR data holds a tag, which canonical CBOR forbids")]
    Tag,
    #[error("the CBOR data uses a reserved or unassigned encoding")]
    Reserved,
    #[error("a CBOR text string is not UTF-8")]
    NotUtf8,
    #[error("a CBOR map repeats a key")]
    DuplicateKey,
    /// CTAP2 and COSE only key maps by integers and strings; anything else is refused rather
    /// than compared structurally.
    #[error("a CBOR map key is not an integer or a string")]
    MapKey,
}

/// A decoded CBOR item, borrowing strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value<'a> {
    Unsigned(u64),
    /// The negative integer `-1 - n`.
    Negative(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(Vec<Value<'a>>),
    Map(Vec<(Value<'a>, Value<'a>)>),
    Bool(bool),
    Null,
    Undefined,
    /// A half, single or double float, kept as its raw bits; WebAuthn never reads one.
    Float(u64),
}

impl<'a> Value<'a> {
    /// The value as an `i64`, if it is an integer that fits.
    pub(super) fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Unsigned(n) => i64::try_from(n).ok(),
            Value::Negative(n) => i64::try_from(n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    pub(super) fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub(super) fn as_text(&self) -> Option<&'a str> {
        match *self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub(super) fn as_map(&self) -> Option<&[(Value<'a>, Value<'a>)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under an integer key (COSE labels), if this is a map holding it.
    pub(super) fn get_int(&self, key: i64) -> Option<&Value<'a>> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_i64() == Some(key))
            .map(|(_, v)| v)
    }

    /// The value under a text key (attestation object members), if this is a map holding it.
    pub(super) fn get_text(&self, key: &str) -> Option<&Value<'a>> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }
}

/// Decodes exactly one item that spans all of `input`.
pub(super) fn decode(input: &[u8]) -> Result<Value<'_>, CborError> {
    let (value, rest) = decode_prefix(input)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(CborError::TrailingBytes)
    }
}

/// Decodes one item from the front of `input` and returns it with the bytes after it, for
/// authenticator data, where a COSE_Key is followed by more data and carries no length.
pub(super) fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, &[u8]), CborError> {
    let mut reader = Reader { rest: input };
    let value = reader.item(0)?;
    Ok((value, reader.rest))
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: u64) -> Result<&'a [u8], CborError> {
        let len = usize::try_from(len).map_err(|_| CborError::Truncated)?;
        let (taken, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or(CborError::Truncated)?;
        self.rest = rest;
        Ok(taken)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let (taken, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(CborError::Truncated)?;
        self.rest = rest;
        Ok(*taken)
    }

    /// The argument of an item head (RFC 8949 §3): the additional information itself below 24,
    /// else the 1, 2, 4 or 8 bytes after the initial byte.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        match info {
            0..=23 => Ok(u64::from(info)),
            24 => Ok(u64::from(u8::from_be_bytes(self.take_array()?))),
            25 => Ok(u64::from(u16::from_be_bytes(self.take_array()?))),
            26 => Ok(u64::from(u32::from_be_bytes(self.take_array()?))),
            27 => Ok(u64::from_be_bytes(self.take_array()?)),
            31 => Err(CborError::IndefiniteLength),
            _ => Err(CborError::Reserved),
        }
    }

    /// `depth` is the number of arrays and maps this item sits inside.
    fn item(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        let [initial] = self.take_array::<1>()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        match major {
            0 => Ok(Value::Unsigned(self.argument(info)?)),
            1 => Ok(Value::Negative(self.argument(info)?)),
            2 => {
                let len = self.argument(info)?;
                Ok(Value::Bytes(self.take(len)?))
            }
            3 => {
                let len = self.argument(info)?;
                let text = std::str::from_utf8(self.take(len)?).map_err(|_| CborError::NotUtf8)?;
                Ok(Value::Text(text))
            }
            4 => {
                let count = self.argument(info)?;
                if depth >= MAX_DEPTH {
                    return Err(CborError::TooDeep);
                }
                // Every item takes at least one byte, so a count beyond the bytes left is a lie.
                if count > self.remaining() {
                    return Err(CborError::Truncated);
                }
                let mut items = Vec::with_capacity(capacity(count));
                for _ in 0..count {
                    items.push(self.item(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let count = self.argument(info)?;
                if depth >= MAX_DEPTH {
                    return Err(CborError::TooDeep);
                }
                // A key and a value take at least two bytes.
                if count > self.remaining() / 2 {
                    return Err(CborError::Truncated);
                }
                let mut entries = Vec::with_capacity(capacity(count));
                for _ in 0..count {
                    let key = self.item(depth + 1)?;
                    let value = self.item(depth + 1)?;
                    entries.push((key, value));
                }
                refuse_duplicate_keys(&entries)?;
                Ok(Value::Map(entries))
            }
            6 => Err(CborError::Tag),
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                23 => Ok(Value::Undefined),
                25 => Ok(Value::Float(u64::from(u16::from_be_bytes(
                    self.take_array()?,
                )))),
                26 => Ok(Value::Float(u64::from(u32::from_be_bytes(
                    self.take_array()?,
                )))),
                27 => Ok(Value::Float(u64::from_be_bytes(self.take_array()?))),
                31 => Err(CborError::IndefiniteLength),
                // Unassigned simple values (0..=19, 24) and the reserved 28..=30.
                _ => Err(CborError::Reserved),
            },
        }
    }

    fn remaining(&self) -> u64 {
        u64::try_from(self.rest.len()).unwrap_or(u64::MAX)
    }
}

fn capacity(count: u64) -> usize {
    usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(INITIAL_CAPACITY)
}

/// A map key reduced to what it means, so `1` written in one byte and in nine are the same key.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum KeyMeaning<'a> {
    Unsigned(u64),
    Negative(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
}

/// Sorting makes this O(n log n), so a map of many keys cannot make the check quadratic.
fn refuse_duplicate_keys(entries: &[(Value<'_>, Value<'_>)]) -> Result<(), CborError> {
    let mut keys = Vec::with_capacity(entries.len());
    for (key, _) in entries {
        keys.push(match *key {
            Value::Unsigned(n) => KeyMeaning::Unsigned(n),
            Value::Negative(n) => KeyMeaning::Negative(n),
            Value::Bytes(b) => KeyMeaning::Bytes(b),
            Value::Text(t) => KeyMeaning::Text(t),
            _ => return Err(CborError::MapKey),
        });
    }
    keys.sort_unstable();
    if keys.windows(2).any(|pair| pair.first() == pair.get(1)) {
        return Err(CborError::DuplicateKey);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_the_kinds_webauthn_uses() {
        // {1: 2, 3: -7, -1: h'0102', "fmt": "none", "a": [true, false, null]}
        let bytes = [
            0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x42, 0x01, 0x02, 0x63, b'f', b'm', b't', 0x64,
            b'n', b'o', b'n', b'e', 0x61, b'a', 0x83, 0xf5, 0xf4, 0xf6,
        ];
        let value = decode(&bytes).unwrap();
        assert_eq!(value.get_int(1).and_then(Value::as_i64), Some(2));
        assert_eq!(value.get_int(3).and_then(Value::as_i64), Some(-7));
        assert_eq!(
            value.get_int(-1).and_then(Value::as_bytes),
            Some(&[1u8, 2][..])
        );
        assert_eq!(value.get_text("fmt").and_then(Value::as_text), Some("none"));
        assert_eq!(
            value.get_text("a"),
            Some(&Value::Array(vec![
                Value::Bool(true),
                Value::Bool(false),
                Value::Null
            ]))
        );
    }

    #[test]
    fn non_minimal_integers_are_read_by_meaning() {
        // 1 written in nine bytes, and -1 written in two.
        assert_eq!(
            decode(&[0x1b, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap(),
            Value::Unsigned(1)
        );
        assert_eq!(decode(&[0x38, 0x00]).unwrap().as_i64(), Some(-1));
        // The same key twice, once short and once long, is still a duplicate.
        assert_eq!(
            decode(&[0xa2, 0x01, 0x00, 0x18, 0x01, 0x00]),
            Err(CborError::DuplicateKey)
        );
    }

    #[test]
    fn refuses_what_canonical_cbor_forbids() {
        assert_eq!(
            decode(&[0x5f, 0x41, 0x00, 0xff]),
            Err(CborError::IndefiniteLength)
        );
        assert_eq!(decode(&[0x9f, 0xff]), Err(CborError::IndefiniteLength));
        assert_eq!(decode(&[0xbf, 0xff]), Err(CborError::IndefiniteLength));
        assert_eq!(decode(&[0xff]), Err(CborError::IndefiniteLength));
        assert_eq!(decode(&[0xc2, 0x41, 0x01]), Err(CborError::Tag));
        assert_eq!(decode(&[0x1c]), Err(CborError::Reserved));
        assert_eq!(decode(&[0xf8, 0x20]), Err(CborError::Reserved));
        assert_eq!(decode(&[0x62, 0xff, 0xfe]), Err(CborError::NotUtf8));
        assert_eq!(
            decode(&[0xa2, 0x61, b'a', 0x00, 0x61, b'a', 0x01]),
            Err(CborError::DuplicateKey)
        );
        assert_eq!(decode(&[0xa1, 0x80, 0x00]), Err(CborError::MapKey));
        assert_eq!(decode(&[0x00, 0x00]), Err(CborError::TrailingBytes));
        assert_eq!(decode(&[]), Err(CborError::Truncated));
    }

    #[test]
    fn absurd_lengths_are_refused_before_anything_is_reserved() {
        let huge = [0xff; 8];
        for major in [0x5b_u8, 0x7b, 0x9b, 0xbb] {
            let mut bytes = vec![major];
            bytes.extend_from_slice(&huge);
            assert_eq!(decode(&bytes), Err(CborError::Truncated), "{major:#x}");
        }
        // A map announcing three entries with five bytes left.
        assert_eq!(
            decode(&[0xa3, 0x01, 0x02, 0x03, 0x04, 0x05]),
            Err(CborError::Truncated)
        );
    }

    #[test]
    fn nesting_is_capped() {
        let mut ok = vec![0x81; MAX_DEPTH - 1];
        ok.push(0x80);
        assert!(decode(&ok).is_ok());
        let mut deep = vec![0x81; MAX_DEPTH];
        deep.push(0x80);
        assert_eq!(decode(&deep), Err(CborError::TooDeep));
        // Far deeper than any stack would allow if recursion were unbounded.
        let mut very_deep = [0xa1, 0x00].repeat(100_000);
        very_deep.push(0x00);
        assert_eq!(decode(&very_deep), Err(CborError::TooDeep));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
            let _ = decode_prefix(&bytes);
        }
    }
}
