//! Kura's security primitives, free of I/O beyond the key file.
//!
//! Guarantees:
//! - A personal field is stored only as a [`Sealed`] envelope
//!   (`version | key_id | nonce | ciphertext+tag`, XChaCha20-Poly1305) whose associated data binds
//!   the table, the column and the row id, so a ciphertext cannot be moved to another row or column.
//! - Every value is padded before sealing as its [`Column`] says ([`Padding`]): enum-like columns
//!   seal every value to one length, free text to length buckets, so a ciphertext's length tells
//!   at most a bucket. Opened values come back in buffers that are wiped on drop.
//! - Keys are derived with HKDF-SHA256 from master keys that live outside the database
//!   ([`KeyProvider`]); every envelope and blind index names the key id it was made with, so keys
//!   can be rotated and retired.
//! - Lookups go through [`BlindIndex`]es: HMAC-SHA256 over the normalised value, one key per column.
//! - Passwords are hashed with Argon2id ([`Passwords`]); unknown accounts cost the same time.
//! - Passkeys are verified as a WebAuthn relying party ([`verify_registration`],
//!   [`verify_assertion`]) with `ring` alone: origin, challenge, RP ID, user presence and
//!   verification, signature and signature counter.
//! - Secrets print nothing in `Debug`. Derived keys live in wiped buffers, and the HMAC and
//!   HKDF states built from them wipe their SHA-256 states on drop (the `zeroize` features of
//!   `sha2` and `hmac`).

#![forbid(unsafe_code)]

mod blind;
mod envelope;
mod keyring;
mod keys;
mod padding;
mod password;
mod token;
mod totp;
mod webauthn;

pub use blind::{BlindIndex, Normalize};
pub use envelope::{Column, Sealed};
pub use keyring::{DATA_KEY_COLUMN, DataKey, KeyRing, MacPurpose};
pub use keys::{FileKeyProvider, KeyError, KeyId, KeyMaterial, KeyProvider, MasterKeyInfo};
pub use padding::{Padding, bucket};
pub use password::{PasswordError, PasswordHash, PasswordPolicy, Passwords, Verified};
pub use token::{SessionToken, TokenHash, constant_time_eq, random_bytes, sha256};
pub use totp::{RECOVERY_CODES, TOTP_STEP, TotpSecret, recovery_code_hash, recovery_codes};
pub use webauthn::{
    Assertion, CHALLENGE_LEN, COSE_EDDSA, COSE_ES256, COSE_RS256, CborError, MAX_CREDENTIAL_ID_LEN,
    NewPasskey, PasskeyError, PasskeyPolicy, SUPPORTED_ALGORITHMS, StoredPasskey, base64url_decode,
    base64url_encode, new_challenge, verify_assertion, verify_registration,
};

/// Why sealing or opening failed. Deliberately vague about the cause of a failed open: the
/// caller learns that the value is not authentic, not which byte was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value was made with key {0}, which this key ring does not hold")]
    UnknownKey(u32),
    #[error("the sealed value is not authentic for this table, column and row")]
    NotAuthentic,
    #[error("the sealed value does not hold UTF-8 text")]
    NotText,
    #[error("the system random generator failed")]
    Random,
    #[error("encryption failed")]
    Encrypt,
    #[error("the sealed value is under a person's data key, not a master key")]
    UnderDataKey,
}
