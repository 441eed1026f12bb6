//! Password hashing with Argon2id (RFC 9106; OWASP Password Storage Cheat Sheet).
//!
//! The floor is m = 19456 KiB, t = 2, p = 1. A hash made with weaker parameters still verifies,
//! and [`Verified::NeedsRehash`] tells the caller to store a fresh hash at that login. Unknown
//! accounts go through [`Passwords::dummy_verify`], which costs the same as a real check, so
//! response time does not reveal whether an account exists.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::token::random_bytes;

/// The stored PHC string of a password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordPolicy {
    /// OWASP's minimum for Argon2id; Kura never goes below it.
    pub const FLOOR: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::FLOOR
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password hashing parameters are below the floor (m=19456 KiB, t=2, p=1)")]
    WeakPolicy,
    #[error("the password could not be hashed")]
    Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The password matches and the hash uses the current parameters.
    Ok,
    /// The password matches; store a new hash made with the current parameters.
    NeedsRehash,
    /// Wrong password, or a stored hash that cannot be read.
    Mismatch,
}

#[derive(Clone)]
pub struct Passwords {
    policy: PasswordPolicy,
    argon: Argon2<'static>,
    dummy: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    pub fn new(policy: PasswordPolicy) -> Result<Self, PasswordError> {
        let floor = PasswordPolicy::FLOOR;
        if policy.memory_kib < floor.memory_kib
            || policy.iterations < floor.iterations
            || policy.parallelism < floor.parallelism
        {
            return Err(PasswordError::WeakPolicy);
        }
        let params = Params::new(
            policy.memory_kib,
            policy.iterations,
            policy.parallelism,
            None,
        )
        .map_err(|_| PasswordError::WeakPolicy)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut this = Self {
            policy,
            argon,
            dummy: String::new(),
        };
        let random = random_bytes::<24>().map_err(|_| PasswordError::Hash)?;
        this.dummy = this.hash(&SecretString::from(hex_string(&random)))?.0;
        Ok(this)
    }

    pub fn policy(&self) -> PasswordPolicy {
        self.policy
    }

    pub fn hash(&self, password: &SecretString) -> Result<PasswordHash, PasswordError> {
        let salt = random_bytes::<16>().map_err(|_| PasswordError::Hash)?;
        let hash = self
            .argon
            .hash_password_with_salt(password.expose_secret().as_bytes(), &salt)
            .map_err(|_| PasswordError::Hash)?;
        Ok(PasswordHash(hash.to_string()))
    }

    pub fn verify(&self, password: &SecretString, stored: &PasswordHash) -> Verified {
        let Ok(parsed) = argon2::PasswordHash::new(stored.as_str()) else {
            self.dummy_verify(password);
            return Verified::Mismatch;
        };
        if self
            .argon
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_err()
        {
            return Verified::Mismatch;
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() >= self.policy.memory_kib
                    && p.t_cost() >= self.policy.iterations
                    && p.p_cost() >= self.policy.parallelism
            });
        if current {
            Verified::Ok
        } else {
            Verified::NeedsRehash
        }
    }

    /// Spends the time of one verification without an account, so that "no such account"
    /// and "wrong password" cannot be told apart by timing.
    pub fn dummy_verify(&self, password: &SecretString) {
        if let Ok(parsed) = argon2::PasswordHash::new(&self.dummy) {
            let _ = self
                .argon
                .verify_password(password.expose_secret().as_bytes(), &parsed);
        }
    }
}

fn hex_string(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn verify_and_rehash_when_parameters_rise() {
        let low = Passwords::new(PasswordPolicy::FLOOR).unwrap();
        let h = low.hash(&pw("correct horse battery staple")).unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            low.verify(&pw("correct horse battery staple"), &h),
            Verified::Ok
        );
        assert_eq!(low.verify(&pw("wrong"), &h), Verified::Mismatch);
        let high = Passwords::new(PasswordPolicy {
            iterations: 3,
            ..PasswordPolicy::FLOOR
        })
        .unwrap();
        assert_eq!(
            high.verify(&pw("correct horse battery staple"), &h),
            Verified::NeedsRehash
        );
        assert_eq!(
            high.verify(&pw("x"), &PasswordHash::from_stored("garbage".into())),
            Verified::Mismatch
        );
    }

    #[test]
    fn weak_policy_refused() {
        assert_eq!(
            Passwords::new(PasswordPolicy {
                memory_kib: 4096,
                ..PasswordPolicy::FLOOR
            })
            .unwrap_err(),
            PasswordError::WeakPolicy
        );
    }
}
