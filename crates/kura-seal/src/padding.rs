//! Length hiding: every plaintext is padded before it is sealed, so a ciphertext's length tells
//! at most which bucket the value falls in (DESIGN.md §3, "lengths say nothing").
//!
//! Without it, XChaCha20-Poly1305 keeps the plaintext's length: `female`, `male` and `other`
//! seal to three different lengths, and a copy of the database shows each customer's gender.
//!
//! The scheme is ISO/IEC 7816-4 padding (also the `0x80` rule of ISO/IEC 9797-1 method 2):
//! the value, one `0x80` byte, then zeros up to the padded length. It is unambiguous for any
//! value, binary or text, and removed by scanning back over the zeros to the `0x80`.
//!
//! Each column says how its values are padded ([`Padding`], carried by [`crate::Column`]):
//! - [`Padding::Fixed`]: enum-like values (gender, prefecture, birth date, postal code, phone)
//!   all seal to one length per column;
//! - [`Padding::Buckets`]: free text and records (names, addresses, email, JSON) are padded to
//!   [`bucket`]: 32-byte steps up to 256 bytes, then powers of two up to 4 KiB, then 4 KiB
//!   steps, so a length says at most
//!   "between 33 and 64 bytes" or "between 257 and 512 bytes".

use crate::SealError;

/// The byte that ends the value inside a padded plaintext.
const MARK: u8 = 0x80;
/// The smallest padded length of free text, and its step up to [`STEP_LIMIT`].
const STEP: usize = 32;
/// Above this padded length, buckets double...
const STEP_LIMIT: usize = 256;
/// ...up to this one, and grow by it beyond.
const LARGE_STEP: usize = 4096;

/// How a column's values are padded before sealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Every value is padded to this many bytes (value, `0x80`, zeros). A value too long for it
    /// (at least this many bytes) is padded to its [`bucket`] instead, so nothing is refused;
    /// the widths in use are chosen so that no valid value is that long.
    Fixed(u16),
    /// Free text: padded to its [`bucket`].
    Buckets,
}

/// The padded length of free text of `len` bytes: the smallest of 32, 64, ..., 256, 512, 1024,
/// 2048, 4096, 8192, 12288, ... (32-byte steps up to 256, powers of two up to 4 KiB, 4 KiB steps
/// beyond) that holds the value and its `0x80`. Above 4 KiB (whole mails, not fields) doubling
/// would write up to twice the bytes for every order's confirmation; a 4 KiB step still hides
/// every detail a field could tell.
pub fn bucket(len: usize) -> usize {
    let need = len.saturating_add(1);
    if need <= STEP_LIMIT {
        need.div_ceil(STEP).max(1) * STEP
    } else if need <= LARGE_STEP {
        need.checked_next_power_of_two().unwrap_or(need)
    } else {
        need.div_ceil(LARGE_STEP).saturating_mul(LARGE_STEP)
    }
}

impl Padding {
    /// The padded length of a value of `len` bytes.
    pub fn padded_len(self, len: usize) -> usize {
        match self {
            Self::Fixed(width) if len < usize::from(width) => usize::from(width),
            Self::Fixed(_) | Self::Buckets => bucket(len),
        }
    }
}

/// Writes `value`, the mark and zeros into `out`, which must be `padded_len(value.len())` long.
pub(crate) fn pad_into(value: &[u8], out: &mut [u8]) -> Result<(), SealError> {
    let (head, tail) = out
        .split_at_mut_checked(value.len())
        .ok_or(SealError::Encrypt)?;
    head.copy_from_slice(value);
    let (mark, zeros) = tail.split_first_mut().ok_or(SealError::Encrypt)?;
    *mark = MARK;
    zeros.fill(0);
    Ok(())
}

/// The length of the value inside a padded plaintext: everything before the last `0x80` that
/// only zeros follow. Anything else is malformed (it cannot come from [`pad_into`]).
pub(crate) fn unpadded_len(padded: &[u8]) -> Result<usize, SealError> {
    let end = padded
        .iter()
        .rposition(|b| *b != 0)
        .ok_or(SealError::Malformed)?;
    match padded.get(end) {
        Some(&MARK) => Ok(end),
        _ => Err(SealError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_step_by_32_then_double() {
        assert_eq!(bucket(0), 32);
        assert_eq!(bucket(31), 32);
        assert_eq!(bucket(32), 64);
        assert_eq!(bucket(90), 96);
        assert_eq!(bucket(255), 256);
        assert_eq!(bucket(256), 512);
        assert_eq!(bucket(511), 512);
        assert_eq!(bucket(512), 1024);
        assert_eq!(bucket(4095), 4096);
        assert_eq!(bucket(4096), 8192);
        assert_eq!(bucket(5000), 8192);
        assert_eq!(bucket(8192), 12288);
    }

    #[test]
    fn fixed_width_is_one_length_and_overflows_to_a_bucket() {
        let p = Padding::Fixed(16);
        assert_eq!(p.padded_len(0), 16);
        assert_eq!(p.padded_len(15), 16);
        assert_eq!(p.padded_len(16), 32);
    }

    #[test]
    fn malformed_padding_is_refused() {
        assert_eq!(unpadded_len(&[]), Err(SealError::Malformed));
        assert_eq!(unpadded_len(&[0, 0, 0]), Err(SealError::Malformed));
        assert_eq!(unpadded_len(b"abc\x01\0\0"), Err(SealError::Malformed));
        assert_eq!(unpadded_len(b"abc\x80\0\0"), Ok(3));
        // A value that itself ends in the mark and zeros keeps them.
        assert_eq!(unpadded_len(b"a\x80\0\x80\0"), Ok(3));
    }

    proptest! {
        #[test]
        fn padding_round_trips(value in proptest::collection::vec(any::<u8>(), 0..600), width in 1u16..64) {
            for padding in [Padding::Buckets, Padding::Fixed(width)] {
                let len = padding.padded_len(value.len());
                prop_assert!(len > value.len());
                let mut out = vec![0xAA; len];
                pad_into(&value, &mut out).unwrap();
                prop_assert_eq!(unpadded_len(&out).unwrap(), value.len());
                prop_assert_eq!(&out[..value.len()], value.as_slice());
            }
        }
    }
}
