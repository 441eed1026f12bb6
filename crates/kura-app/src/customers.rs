//! Customer accounts: registration, sign-in and reading a profile back.
//!
//! Personal fields are sealed here, before any port sees them. Sign-in looks the account up by
//! the email's blind index under every held key, spends the same Argon2id time whether or not
//! the account exists, and rehashes a password whose parameters fell below the policy.

use std::sync::Arc;

use kura_domain::{
    AddressLine, BirthDate, CustomerProfile, Email, Gender, Kana, Person, PersonName, Phone,
    PostalCode, Prefecture,
};
use kura_seal::{KeyRing, Normalize, PasswordHash, Passwords, SealError, Sealed, Verified};
use secrecy::SecretString;

use crate::clock::Clock;
use crate::error::{AppError, StoreError};
use crate::ports::Store;
use crate::sealed::{SealedCustomer, col};
use crate::vault::Vault;

pub struct Customers {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    passwords: Passwords,
    clock: Arc<dyn Clock>,
}

impl Customers {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        passwords: Passwords,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            vault,
            passwords,
            clock,
        }
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// Seals a profile for row `id` under the ring's active key.
    pub fn seal(
        ring: &KeyRing,
        id: i64,
        profile: &CustomerProfile,
        password_hash: Option<PasswordHash>,
        now: i64,
    ) -> Result<SealedCustomer, SealError> {
        let p = &profile.person;
        let s = |c, v: &str| ring.seal_str(c, id, v);
        Ok(SealedCustomer {
            id,
            email_bidx: ring.blind_index(
                col::EMAIL_BIDX,
                profile.email.as_str(),
                Normalize::Email,
            )?,
            phone_bidx: ring.blind_index(col::PHONE_BIDX, p.phone.as_str(), Normalize::Digits)?,
            family_name: s(col::FAMILY_NAME, p.family_name.as_str())?,
            given_name: s(col::GIVEN_NAME, p.given_name.as_str())?,
            family_name_kana: s(col::FAMILY_NAME_KANA, p.family_name_kana.as_str())?,
            given_name_kana: s(col::GIVEN_NAME_KANA, p.given_name_kana.as_str())?,
            email: s(col::EMAIL, profile.email.as_str())?,
            phone: s(col::PHONE, p.phone.as_str())?,
            postal_code: s(col::POSTAL_CODE, p.postal_code.as_str())?,
            prefecture: s(col::PREFECTURE, &p.prefecture.code().to_string())?,
            address1: s(col::ADDRESS1, p.address1.as_str())?,
            address2: p
                .address2
                .as_ref()
                .map(|a| s(col::ADDRESS2, a.as_str()))
                .transpose()?,
            birth_date: profile
                .birth_date
                .map(|d| s(col::BIRTH_DATE, &d.iso()))
                .transpose()?,
            gender: profile
                .gender
                .map(|g| s(col::GENDER, g.code()))
                .transpose()?,
            password_hash,
            created_at: now,
        })
    }

    /// Opens a stored customer back into a profile.
    pub fn open(ring: &KeyRing, rec: &SealedCustomer) -> Result<CustomerProfile, AppError> {
        let id = rec.id;
        let o = |c, v: &Sealed| ring.open_string(c, id, v);
        let field = |field: &'static str| move |error| AppError::Field { field, error };
        let far_future = (9999, 12, 31);
        Ok(CustomerProfile {
            person: Person {
                family_name: PersonName::parse(&o(col::FAMILY_NAME, &rec.family_name)?)
                    .map_err(field("family_name"))?,
                given_name: PersonName::parse(&o(col::GIVEN_NAME, &rec.given_name)?)
                    .map_err(field("given_name"))?,
                family_name_kana: Kana::parse(&o(col::FAMILY_NAME_KANA, &rec.family_name_kana)?)
                    .map_err(field("family_name_kana"))?,
                given_name_kana: Kana::parse(&o(col::GIVEN_NAME_KANA, &rec.given_name_kana)?)
                    .map_err(field("given_name_kana"))?,
                postal_code: PostalCode::parse(&o(col::POSTAL_CODE, &rec.postal_code)?)
                    .map_err(field("postal_code"))?,
                prefecture: Prefecture::parse(&o(col::PREFECTURE, &rec.prefecture)?)
                    .map_err(field("prefecture"))?,
                address1: AddressLine::parse(&o(col::ADDRESS1, &rec.address1)?)
                    .map_err(field("address1"))?,
                address2: match &rec.address2 {
                    Some(v) => AddressLine::parse_optional(&o(col::ADDRESS2, v)?)
                        .map_err(field("address2"))?,
                    None => None,
                },
                phone: Phone::parse(&o(col::PHONE, &rec.phone)?).map_err(field("phone"))?,
            },
            email: Email::parse(&o(col::EMAIL, &rec.email)?).map_err(field("email"))?,
            birth_date: match &rec.birth_date {
                Some(v) => BirthDate::parse_optional(&o(col::BIRTH_DATE, v)?, far_future)
                    .map_err(field("birth_date"))?,
                None => None,
            },
            gender: match &rec.gender {
                Some(v) => Gender::parse_optional(&o(col::GENDER, v)?).map_err(field("gender"))?,
                None => None,
            },
        })
    }

    /// Registers a customer. A password makes it an account; `None` records a guest buyer.
    pub async fn register(
        &self,
        profile: &CustomerProfile,
        password: Option<SecretString>,
    ) -> Result<i64, AppError> {
        let ring = self.vault.ring();
        let lookups =
            ring.blind_indexes(col::EMAIL_BIDX, profile.email.as_str(), Normalize::Email)?;
        if self
            .store
            .customer_credentials_by_email(&lookups)
            .await?
            .is_some()
        {
            return Err(AppError::EmailTaken);
        }
        let hash = match password {
            Some(pw) => {
                let passwords = self.passwords.clone();
                Some(
                    tokio::task::spawn_blocking(move || passwords.hash(&pw))
                        .await
                        .map_err(|e| AppError::Task(e.to_string()))??,
                )
            }
            None => None,
        };
        let id = crate::ids::new_id();
        let sealed = Self::seal(&ring, id, profile, hash, self.clock.now())?;
        match self.store.insert_customer(&sealed).await {
            Ok(()) => Ok(id),
            Err(StoreError::Conflict) => Err(AppError::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an email and password. `Ok(None)` for any failure, after the same work.
    pub async fn authenticate(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<Option<i64>, AppError> {
        let found = match Email::parse(email) {
            Ok(email) => {
                let ring = self.vault.ring();
                let lookups =
                    ring.blind_indexes(col::EMAIL_BIDX, email.as_str(), Normalize::Email)?;
                self.store.customer_credentials_by_email(&lookups).await?
            }
            Err(_) => None,
        };
        let passwords = self.passwords.clone();
        let (id, stored) = match found.and_then(|c| c.password_hash.map(|h| (c.id, h))) {
            Some(pair) => pair,
            None => {
                tokio::task::spawn_blocking(move || passwords.dummy_verify(&password))
                    .await
                    .map_err(|e| AppError::Task(e.to_string()))?;
                return Ok(None);
            }
        };
        let (verdict, password) = tokio::task::spawn_blocking(move || {
            let v = passwords.verify(&password, &stored);
            (v, password)
        })
        .await
        .map_err(|e| AppError::Task(e.to_string()))?;
        match verdict {
            Verified::Mismatch => Ok(None),
            Verified::Ok => Ok(Some(id)),
            Verified::NeedsRehash => {
                let passwords = self.passwords.clone();
                let fresh = tokio::task::spawn_blocking(move || passwords.hash(&password))
                    .await
                    .map_err(|e| AppError::Task(e.to_string()))??;
                self.store.set_password_hash(id, &fresh).await?;
                tracing::info!(target: "kura::auth", customer = id, "password rehashed with current parameters");
                Ok(Some(id))
            }
        }
    }

    pub async fn profile(&self, id: i64) -> Result<Option<CustomerProfile>, AppError> {
        let Some(rec) = self.store.customer(id).await? else {
            return Ok(None);
        };
        let key = rec.family_name.key_id().unwrap_or(0);
        let ring = self.vault.ring_holding(key);
        Self::open(&ring, &rec).map(Some)
    }
}
