//! The keys one person's sealed values are under.
//!
//! Guarantees: a new person (an account, a guest order) gets a data key of their own, wrapped
//! by the master key ring and stored beside their row; everything personal of theirs (profile,
//! saved addresses, orders, mails) is sealed under it. Values from before data keys stay under
//! the master keys and still open. A person whose data key was destroyed (erased) opens as
//! [`SealError::Erased`]: nothing of theirs can be read back, by anyone, from any copy.

use std::sync::Arc;

use kura_seal::{DataKey, KeyRing, Sealed};
use zeroize::Zeroizing;

use crate::error::AppError;
use crate::sealed::DataKeyRef;
use crate::vault::Vault;

/// Why a person's value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The person was erased: their data key no longer exists.
    #[error("this person's data was erased")]
    Erased,
    #[error(transparent)]
    Seal(#[from] kura_seal::SealError),
}

impl From<SealError> for AppError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Erased => AppError::Erased,
            SealError::Seal(e) => AppError::Seal(e),
        }
    }
}

/// One person's keys: their data key (when they have one), and the master key ring for blind
/// indexes and for values sealed before data keys.
pub struct PersonKeys<'a> {
    /// Where a ring holding an older master key comes from (none for a fixed ring).
    vault: Option<&'a Vault>,
    ring: Arc<KeyRing>,
    data: Option<DataKey>,
    erased: bool,
}

impl std::fmt::Debug for PersonKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonKeys")
            .field("data_key", &self.data.is_some())
            .field("erased", &self.erased)
            .finish_non_exhaustive()
    }
}

impl<'a> PersonKeys<'a> {
    /// A new person's keys: a fresh data key, and its reference (wrapped under the active
    /// master key) to store with the person's row.
    pub fn new_person(vault: &'a Vault) -> Result<(Self, DataKeyRef), AppError> {
        let (mut keys, key) = Self::new_person_in(vault.ring())?;
        keys.vault = Some(vault);
        Ok((keys, key))
    }

    /// As [`Self::new_person`], under a fixed ring (tools and benchmarks).
    pub fn new_person_in(ring: Arc<KeyRing>) -> Result<(Self, DataKeyRef), AppError> {
        let id = crate::ids::new_id();
        let key = DataKey::generate()?;
        let wrapped = ring.wrap_data_key(id, &key)?;
        Ok((
            Self {
                vault: None,
                ring,
                data: Some(key),
                erased: false,
            },
            DataKeyRef {
                id,
                wrapped: Some(wrapped),
            },
        ))
    }

    /// The keys a row names: its data key unwrapped, none (values under the master keys), or
    /// an erased person's.
    pub fn of(vault: &'a Vault, key: Option<&DataKeyRef>) -> Result<Self, AppError> {
        let ring = match key.and_then(|k| k.wrapped.as_ref()) {
            Some(wrapped) => vault.ring_holding(wrapped.key_id().unwrap_or(0)),
            None => vault.ring(),
        };
        let mut keys = Self::of_in(ring, key)?;
        keys.vault = Some(vault);
        Ok(keys)
    }

    /// As [`Self::of`], under a fixed ring (tools, benchmarks, tests).
    pub fn of_in(ring: Arc<KeyRing>, key: Option<&DataKeyRef>) -> Result<Self, AppError> {
        let (data, erased) = match key {
            None => (None, false),
            Some(DataKeyRef { wrapped: None, .. }) => (None, true),
            Some(DataKeyRef {
                id,
                wrapped: Some(wrapped),
            }) => (Some(ring.unwrap_data_key(*id, wrapped)?), false),
        };
        Ok(Self {
            vault: None,
            ring,
            data,
            erased,
        })
    }

    /// Whether this person was erased.
    pub fn erased(&self) -> bool {
        self.erased
    }

    /// The master key ring, for blind indexes.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Seals under the person's data key (under the active master key for a row from before
    /// data keys). An erased person gets nothing new sealed.
    pub fn seal(
        &self,
        column: kura_seal::Column,
        row_id: i64,
        plaintext: &[u8],
    ) -> Result<Sealed, SealError> {
        if self.erased {
            return Err(SealError::Erased);
        }
        Ok(match &self.data {
            Some(key) => key.seal(column, row_id, plaintext)?,
            None => self.ring.seal(column, row_id, plaintext)?,
        })
    }

    pub fn seal_str(
        &self,
        column: kura_seal::Column,
        row_id: i64,
        text: &str,
    ) -> Result<Sealed, SealError> {
        self.seal(column, row_id, text.as_bytes())
    }

    /// Opens a value of this person's, whichever key it is under.
    pub fn open(
        &self,
        column: kura_seal::Column,
        row_id: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if self.erased {
            return Err(SealError::Erased);
        }
        if sealed.under_data_key() {
            return match &self.data {
                Some(key) => Ok(key.open(column, row_id, sealed)?),
                None => Err(SealError::Erased),
            };
        }
        let key_id = sealed.key_id()?;
        let ring = match self.vault {
            Some(vault) if !self.ring.holds(kura_seal::KeyId(key_id)) => vault.ring_holding(key_id),
            _ => Arc::clone(&self.ring),
        };
        Ok(ring.open(column, row_id, sealed)?)
    }

    pub fn open_string(
        &self,
        column: kura_seal::Column,
        row_id: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<String>, SealError> {
        let plain = self.open(column, row_id, sealed)?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SealError::Seal(kura_seal::SealError::NotText))
    }
}
