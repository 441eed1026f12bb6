//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, six digits, 30-second steps, one step
//! of clock skew either way) for staff sign-in, and the one-time recovery codes beside them.
//!
//! [`TotpSecret::check`] returns the time step a code matched, so the caller can refuse a step
//! at or before the last one accepted: a code works once, even within its 30 seconds.

use totp_rs::{Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::SealError;
use crate::token::{random_bytes, sha256};

/// Seconds per step.
pub const TOTP_STEP: u64 = 30;
const SECRET_LEN: usize = 20;

/// A staff member's TOTP secret (160 random bits). `Debug` prints nothing of it.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<[u8; SECRET_LEN]>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self(Zeroizing::new(random_bytes::<SECRET_LEN>()?)))
    }

    /// The secret as stored (sealed) and read back.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; SECRET_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(array)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn totp(&self) -> Option<Totp> {
        Builder::new()
            .with_secret(Secret::new_stack(*self.0))
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(TOTP_STEP)
            .build()
            .ok()
    }

    /// The secret in base32, as people type it into an authenticator app.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(Secret::new_stack(*self.0).to_base32())
    }

    /// An `otpauth://` URI for authenticator apps. `issuer` and `account` are percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = percent(issuer);
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period={TOTP_STEP}",
            percent(account),
            self.base32().as_str(),
        ))
    }

    /// The code for unix time `now` (tests and the sign-in story's authenticator).
    pub fn code_at(&self, now: i64) -> String {
        self.totp()
            .map(|t| t.generate(u64::try_from(now).unwrap_or(0)).to_string())
            .unwrap_or_default()
    }

    /// The time step `code` is valid for at `now` (this step or one either side), or `None`.
    /// Spaces and hyphens people type are ignored; anything but six digits is refused.
    pub fn check(&self, code: &str, now: i64) -> Option<u64> {
        let digits: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp()?;
        totp.check(&digits, u64::try_from(now).ok()?)
    }
}

fn percent(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How many recovery codes a staff member receives at enrolment.
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789_";

/// A recovery code as shown once, and its SHA-256 as the database keeps it.
pub type RecoveryCode = (Zeroizing<String>, [u8; 32]);

/// Fresh recovery codes (`xxxxx-xxxxx`, 50 random bits each). The codes are shown once and
/// never stored.
pub fn recovery_codes() -> Result<Vec<RecoveryCode>, SealError> {
    let mut out = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let bytes = Zeroizing::new(random_bytes::<10>()?);
        let mut code = Zeroizing::new(String::with_capacity(11));
        for (i, b) in bytes.iter().enumerate() {
            if i == 5 {
                code.push('-');
            }
            let letter = RECOVERY_ALPHABET
                .get(usize::from(b & 31))
                .copied()
                .unwrap_or(b'a');
            // `_` would be hard to read aloud: fold it onto a digit.
            code.push(if letter == b'_' {
                '8'
            } else {
                char::from(letter)
            });
        }
        let hash = recovery_code_hash(&code);
        out.push((code, hash));
    }
    Ok(out)
}

/// The stored form of a recovery code as typed (case, spaces and hyphens ignored).
pub fn recovery_code_hash(typed: &str) -> [u8; 32] {
    let canonical: Zeroizing<String> = Zeroizing::new(
        typed
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    sha256(canonical.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: the ASCII key "12345678901234567890", eight digits 94287082 at
        // T=59; six digits are its last six.
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(secret.code_at(59), "287082");
        assert_eq!(secret.code_at(1_111_111_109), "081804");
    }

    #[test]
    fn a_code_is_valid_one_step_either_side_and_no_further() {
        let secret = TotpSecret::generate().unwrap();
        let now = 1_800_000_000;
        let code = secret.code_at(now);
        assert_eq!(secret.check(&code, now), Some(60_000_000));
        assert!(secret.check(&code, now + 30).is_some());
        assert!(secret.check(&code, now - 30).is_some());
        assert!(secret.check(&code, now + 90).is_none());
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(secret.check(&spaced, now).is_some());
        assert!(secret.check("12345", now).is_none());
        assert!(secret.check("abcdef", now).is_none());
    }

    #[test]
    fn recovery_codes_are_distinct_and_match_their_hash_as_typed() {
        let codes = recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for (code, hash) in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(recovery_code_hash(&code.to_uppercase()), *hash);
            assert_eq!(recovery_code_hash(&code.replace('-', " ")), *hash);
        }
        let distinct: std::collections::BTreeSet<_> = codes.iter().map(|(_, h)| *h).collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
    }

    #[test]
    fn the_uri_names_issuer_and_account_encoded() {
        let secret = TotpSecret::from_bytes(&[7u8; 20]).unwrap();
        let uri = secret.otpauth_uri("蔵 shop", "tanaka");
        assert!(uri.starts_with("otpauth://totp/%E8%94%B5%20shop:tanaka?secret="));
        assert!(uri.contains("&issuer=%E8%94%B5%20shop&"));
    }
}
