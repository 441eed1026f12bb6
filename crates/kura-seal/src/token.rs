//! Random tokens and their stored hashes.
//!
//! A token handed to a browser or client is 256 random bits; the database keeps only its
//! SHA-256, so a copied session table cannot be replayed.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::SealError;

pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| SealError::Random)?;
    Ok(out)
}

/// A bearer secret (session cookie, cart or order token). `Debug` prints nothing of it.
#[derive(Clone)]
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    pub fn generate() -> Result<Self, SealError> {
        let bytes = Zeroizing::new(random_bytes::<32>()?);
        Ok(Self(Zeroizing::new(hex::encode(bytes.as_slice()))))
    }

    /// Accepts a token presented by a client; anything that is not 64 lower-case hex digits
    /// is refused before it is hashed or looked up.
    pub fn parse(presented: &str) -> Option<Self> {
        let ok = presented.len() == 64
            && presented
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(Zeroizing::new(presented.to_string())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// The SHA-256 of a token, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TokenHash(pub [u8; 32]);

/// SHA-256 of `input`, for idempotency keys and other non-secret fingerprints.
pub fn sha256(input: &[u8]) -> [u8; 32] {
    Sha256::digest(input).into()
}

/// Equality in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_parse_strictly() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(SessionToken::parse(a.expose()).is_some());
        assert!(SessionToken::parse("zz").is_none());
        assert!(SessionToken::parse(&a.expose().to_uppercase()).is_none());
        assert_eq!(format!("{a:?}"), "SessionToken(..)");
    }
}
