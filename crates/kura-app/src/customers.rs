//! Customer accounts: registration, sign-in and reading a profile back.
//!
//! Personal fields are sealed here, before any port sees them. Sign-in looks the account up by
//! the email's blind index under every held key, spends the same Argon2id time whether or not
//! the account exists, and rehashes a password whose parameters fell below the policy.
//!
//! Accounts: registration never says whether an address is taken (the caller shows the same
//! page either way and the same Argon2id work is spent); one-time links are stored as hashes
//! and used up; sign-in passes the [`LoginThrottle`]; a password change or reset ends every
//! session of the customer; deletion erases the customer row (crypto-shredding every sealed
//! field) while orders keep their own sealed buyer record and accounting facts.

use std::net::IpAddr;
use std::sync::Arc;

use kura_domain::{
    AddressLine, BirthDate, CustomerProfile, Email, Gender, Kana, Person, PersonName, Phone,
    PostalCode, Prefecture,
};
use kura_seal::{Normalize, PasswordHash, Passwords, Sealed, SessionToken, Verified};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::accounts::{
    ADDRESS_RECORD, AccountTokenRecord, LoginThrottle, Refusal, SavedAddressRecord, ThrottlePolicy,
    TokenPurpose,
};
use crate::clock::Clock;
use crate::data_keys::PersonKeys;
use crate::error::{AppError, StoreError};
use crate::ports::Store;
use crate::records::OutboxRecord;
use crate::sealed::{DataKeyRef, SealedCustomer, col};
use crate::vault::Vault;

pub struct Customers {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    passwords: Passwords,
    clock: Arc<dyn Clock>,
    throttle: LoginThrottle,
    notifier: Arc<dyn AccountNotifier>,
    links: AccountLinks,
}

/// Tells customers about their account (mail, in production), as
/// [`crate::orders::OrderNotifier`] tells them about their orders: each mail is made in the
/// customer's language and sealed for the outbox under the customer's data key.
pub trait AccountNotifier: Send + Sync {
    /// The mail whose link confirms `to.email` as the account's address.
    fn verify_email(&self, to: &AccountMail<'_>) -> Result<OutboxRecord, AppError>;
    /// The mail whose link sets a new password.
    fn password_reset(&self, to: &AccountMail<'_>) -> Result<OutboxRecord, AppError>;
}

/// Who an account mail goes to, and the link it carries.
pub struct AccountMail<'a> {
    pub email: &'a str,
    /// "ja" or "en".
    pub lang: &'a str,
    /// The one-time link; it carries the token, so it is never logged.
    pub link: &'a str,
    /// The customer's data key: the mail is sealed under it (erasing the customer makes it
    /// noise).
    pub data_key: Option<&'a DataKeyRef>,
}

/// Where the links in account mails point, handed in by whoever wires the shop: the
/// configured base URL, never a request's `Host` header (password-reset poisoning, OWASP
/// Forgot Password CS), and the front end's paths, in which `{token}` stands for the token.
#[derive(Debug, Clone)]
pub struct AccountLinks {
    pub base_url: String,
    pub verify_email: String,
    pub password_reset: String,
}

impl AccountLinks {
    fn link(&self, path: &str, token: &SessionToken) -> String {
        format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            path.replace("{token}", token.expose())
        )
    }
}

/// What registering an account did. The caller must answer both the same way.
#[derive(Debug)]
pub enum Registered {
    /// A new, unverified account; its verification link is mailed.
    Created { id: i64 },
    /// The address has an account already; nothing was written.
    Exists { id: i64 },
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Ok(i64),
    Failed,
    Throttled(Refusal),
}

/// What an email change came to.
#[derive(Debug)]
pub enum EmailChange {
    /// Changed; the account is unverified again until the link mailed to the new address is
    /// followed.
    Changed,
    /// The address is the current one.
    Unchanged,
    /// Another account holds the address; nothing changed (the page does not say so).
    Taken,
}

/// A saved delivery address, opened.
#[derive(Debug, Clone)]
pub struct SavedAddress {
    pub id: i64,
    pub person: Person,
}

/// At most this many saved addresses per account.
pub const MAX_SAVED_ADDRESSES: usize = 20;

impl Customers {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        passwords: Passwords,
        clock: Arc<dyn Clock>,
        notifier: Arc<dyn AccountNotifier>,
        links: AccountLinks,
    ) -> Self {
        Self {
            store,
            vault,
            passwords,
            clock,
            throttle: LoginThrottle::new(ThrottlePolicy::default()),
            notifier,
            links,
        }
    }

    /// Mails `email` a fresh link for `purpose` (earlier links of that purpose stop working),
    /// sealed under the customer's data key. [`AppError::Erased`] when the customer is gone.
    async fn mail_link(
        &self,
        customer_id: i64,
        email: &str,
        lang: &str,
        purpose: TokenPurpose,
    ) -> Result<(), AppError> {
        let Some(customer) = self.store.customer(customer_id).await? else {
            return Err(AppError::Erased);
        };
        let token = self.issue_token(customer_id, purpose).await?;
        let path = match purpose {
            TokenPurpose::VerifyEmail => &self.links.verify_email,
            TokenPurpose::PasswordReset => &self.links.password_reset,
        };
        let link = self.links.link(path, &token);
        let to = AccountMail {
            email,
            lang,
            link: &link,
            data_key: customer.data_key.as_ref(),
        };
        let mail = match purpose {
            TokenPurpose::VerifyEmail => self.notifier.verify_email(&to)?,
            TokenPurpose::PasswordReset => self.notifier.password_reset(&to)?,
        };
        Ok(self.store.enqueue_mail(&mail).await?)
    }

    /// Mails the signed-in customer a fresh verification link, unless the address is
    /// confirmed already.
    pub async fn resend_verification(&self, id: i64, lang: &str) -> Result<(), AppError> {
        if self.email_verified(id).await? {
            return Ok(());
        }
        let Some(profile) = self.profile(id).await? else {
            return Ok(());
        };
        self.mail_link(id, profile.email.as_str(), lang, TokenPurpose::VerifyEmail)
            .await
    }

    /// Mails a password-reset link to the account behind `email`, if there is one with a
    /// password; the answer (the account's id, for the security log) must not change what
    /// the person asking is shown.
    pub async fn request_password_reset(
        &self,
        email: &str,
        lang: &str,
    ) -> Result<Option<i64>, AppError> {
        let Some((id, profile)) = self.account_for_reset(email).await? else {
            return Ok(None);
        };
        self.mail_link(
            id,
            profile.email.as_str(),
            lang,
            TokenPurpose::PasswordReset,
        )
        .await?;
        Ok(Some(id))
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// Seals a profile for row `id` under the person's keys (`data_key` is the reference
    /// stored with the row); blind indexes under the active master key.
    pub fn seal(
        keys: &PersonKeys<'_>,
        data_key: Option<DataKeyRef>,
        id: i64,
        profile: &CustomerProfile,
        password_hash: Option<PasswordHash>,
        now: i64,
    ) -> Result<SealedCustomer, AppError> {
        let p = &profile.person;
        let ring = keys.ring();
        let s = |c, v: &str| keys.seal_str(c, id, v);
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
            data_key,
        })
    }

    /// Seals the profile of a new person under a data key of their own.
    pub fn seal_new(
        vault: &Vault,
        id: i64,
        profile: &CustomerProfile,
        password_hash: Option<PasswordHash>,
        now: i64,
    ) -> Result<SealedCustomer, AppError> {
        let (keys, key) = PersonKeys::new_person(vault)?;
        Self::seal(&keys, Some(key), id, profile, password_hash, now)
    }

    /// Opens a stored customer back into a profile.
    pub fn open(keys: &PersonKeys<'_>, rec: &SealedCustomer) -> Result<CustomerProfile, AppError> {
        let id = rec.id;
        let o = |c, v: &Sealed| keys.open_string(c, id, v);
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
        let sealed = Self::seal_new(&self.vault, id, profile, hash, self.clock.now())?;
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

    /// Sets the customer's anti-phishing phrase (1 to 40 characters, one line, no markup), or
    /// removes it with an empty one. `Err` with a translation key when the phrase is refused.
    pub async fn set_anti_phishing_phrase(
        &self,
        id: i64,
        phrase: &str,
    ) -> Result<Result<(), &'static str>, AppError> {
        let phrase = phrase.trim();
        if phrase.is_empty() {
            self.store.set_anti_phishing_phrase(id, None).await?;
            return Ok(Ok(()));
        }
        if let Err(key) = check_phrase(phrase) {
            return Ok(Err(key));
        }
        let Some(rec) = self.store.customer(id).await? else {
            return Ok(Err("phrase.no_account"));
        };
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let sealed = keys.seal_str(col::ANTI_PHISHING_PHRASE, id, phrase)?;
        self.store
            .set_anti_phishing_phrase(id, Some(&sealed))
            .await?;
        Ok(Ok(()))
    }

    /// The phrase of the account with this email, if it set one.
    pub async fn anti_phishing_phrase(&self, email: &str) -> Result<Option<String>, AppError> {
        anti_phishing_phrase_for(self.store.as_ref(), &self.vault, email).await
    }

    pub async fn profile(&self, id: i64) -> Result<Option<CustomerProfile>, AppError> {
        let Some(rec) = self.store.customer(id).await? else {
            return Ok(None);
        };
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        Self::open(&keys, &rec).map(Some)
    }

    async fn hash_password(&self, password: SecretString) -> Result<PasswordHash, AppError> {
        let passwords = self.passwords.clone();
        Ok(
            tokio::task::spawn_blocking(move || passwords.hash(&password))
                .await
                .map_err(|e| AppError::Task(e.to_string()))??,
        )
    }

    /// The throttle key of an address: its blind index under the active key (never the text).
    fn throttle_key(&self, email: &str) -> Option<Vec<u8>> {
        let email = Email::parse(email).ok()?;
        self.vault
            .ring()
            .blind_index(col::EMAIL_BIDX, email.as_str(), Normalize::Email)
            .ok()
            .map(|b| b.as_bytes().to_vec())
    }

    async fn throttle_key_of(&self, id: i64) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self
            .profile(id)
            .await?
            .and_then(|p| self.throttle_key(p.email.as_str())))
    }

    /// Signs in through the throttle: a refused attempt is not checked at all (and spends no
    /// Argon2id time); a failure counts against the account and the IP.
    pub async fn sign_in(
        &self,
        email: &str,
        password: SecretString,
        ip: IpAddr,
    ) -> Result<SignIn, AppError> {
        let key = self.throttle_key(email);
        let now = self.clock.now();
        if let Err(refusal) = self.throttle.check(key.as_deref(), ip, now) {
            return Ok(SignIn::Throttled(refusal));
        }
        match self.authenticate(email, password).await? {
            Some(id) => {
                self.throttle
                    .succeeded(key.as_deref(), ip, self.clock.now());
                Ok(SignIn::Ok(id))
            }
            None => {
                self.throttle.failed(key.as_deref(), ip, self.clock.now());
                Ok(SignIn::Failed)
            }
        }
    }

    /// Checks the current password of a signed-in customer again (before an email, password
    /// or deletion change), through the same throttle as sign-in.
    pub async fn reauthenticate(
        &self,
        id: i64,
        password: SecretString,
        ip: IpAddr,
    ) -> Result<SignIn, AppError> {
        let key = self.throttle_key_of(id).await?;
        let now = self.clock.now();
        if let Err(refusal) = self.throttle.check(key.as_deref(), ip, now) {
            return Ok(SignIn::Throttled(refusal));
        }
        let stored = self.store.customer(id).await?.and_then(|c| c.password_hash);
        let passwords = self.passwords.clone();
        let ok = tokio::task::spawn_blocking(move || match stored {
            Some(hash) => passwords.verify(&password, &hash) != Verified::Mismatch,
            None => {
                passwords.dummy_verify(&password);
                false
            }
        })
        .await
        .map_err(|e| AppError::Task(e.to_string()))?;
        if ok {
            Ok(SignIn::Ok(id))
        } else {
            self.throttle.failed(key.as_deref(), ip, self.clock.now());
            Ok(SignIn::Failed)
        }
    }

    /// Registers an account with a password, unverified, and mails the verification link in
    /// `lang`. An address that has an account already writes nothing but costs the same
    /// hashing time, so timing does not tell.
    pub async fn register_account(
        &self,
        profile: &CustomerProfile,
        password: SecretString,
        lang: &str,
    ) -> Result<Registered, AppError> {
        let ring = self.vault.ring();
        let lookups =
            ring.blind_indexes(col::EMAIL_BIDX, profile.email.as_str(), Normalize::Email)?;
        let existing = self.store.customer_credentials_by_email(&lookups).await?;
        let hash = self.hash_password(password).await?;
        if let Some(c) = existing {
            return Ok(Registered::Exists { id: c.id });
        }
        let id = crate::ids::new_id();
        let sealed = Self::seal_new(&self.vault, id, profile, Some(hash), self.clock.now())?;
        match self.store.insert_customer(&sealed).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                let again = self.store.customer_credentials_by_email(&lookups).await?;
                return match again {
                    Some(c) => Ok(Registered::Exists { id: c.id }),
                    None => Err(StoreError::Conflict.into()),
                };
            }
            Err(e) => return Err(e.into()),
        }
        self.mail_link(id, profile.email.as_str(), lang, TokenPurpose::VerifyEmail)
            .await?;
        Ok(Registered::Created { id })
    }

    /// A fresh one-time token for `purpose`; earlier ones of the same purpose stop working.
    pub async fn issue_token(
        &self,
        customer_id: i64,
        purpose: TokenPurpose,
    ) -> Result<SessionToken, AppError> {
        let token = SessionToken::generate()?;
        let now = self.clock.now();
        self.store
            .insert_account_token(&AccountTokenRecord {
                token_hash: token.hash().0,
                customer_id,
                purpose,
                expires_at: now + purpose.lifetime_secs(),
                created_at: now,
            })
            .await?;
        Ok(token)
    }

    /// The customer a presented link token belongs to, without using it up (for GET pages).
    pub async fn peek_token(
        &self,
        presented: &str,
        purpose: TokenPurpose,
    ) -> Result<Option<i64>, AppError> {
        let Some(token) = SessionToken::parse(presented) else {
            return Ok(None);
        };
        Ok(self
            .store
            .account_token(&token.hash().0, purpose, self.clock.now())
            .await?)
    }

    async fn take_token(
        &self,
        presented: &str,
        purpose: TokenPurpose,
    ) -> Result<Option<i64>, AppError> {
        let Some(token) = SessionToken::parse(presented) else {
            return Ok(None);
        };
        Ok(self
            .store
            .take_account_token(&token.hash().0, purpose, self.clock.now())
            .await?)
    }

    /// Uses a verification link: the account's address is confirmed.
    pub async fn verify_email(&self, presented: &str) -> Result<Option<i64>, AppError> {
        let Some(id) = self
            .take_token(presented, TokenPurpose::VerifyEmail)
            .await?
        else {
            return Ok(None);
        };
        self.store
            .set_email_verified(id, Some(self.clock.now()))
            .await?;
        Ok(Some(id))
    }

    pub async fn email_verified(&self, id: i64) -> Result<bool, AppError> {
        Ok(matches!(
            self.store.email_verified_at(id).await?,
            Some(Some(_))
        ))
    }

    /// The account behind an address, for a reset mail: only accounts with a password.
    pub async fn account_for_reset(
        &self,
        email: &str,
    ) -> Result<Option<(i64, CustomerProfile)>, AppError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(None);
        };
        let lookups =
            self.vault
                .ring()
                .blind_indexes(col::EMAIL_BIDX, email.as_str(), Normalize::Email)?;
        let Some(c) = self.store.customer_credentials_by_email(&lookups).await? else {
            return Ok(None);
        };
        if c.password_hash.is_none() {
            return Ok(None);
        }
        Ok(self.profile(c.id).await?.map(|p| (c.id, p)))
    }

    /// Uses a reset link: sets the password, ends every session of the customer, forgets the
    /// account's sign-in failures and counts the address as verified (the link reached it).
    pub async fn reset_password(
        &self,
        presented: &str,
        password: SecretString,
    ) -> Result<Option<i64>, AppError> {
        let Some(id) = self
            .take_token(presented, TokenPurpose::PasswordReset)
            .await?
        else {
            return Ok(None);
        };
        self.set_password(id, password).await?;
        if !self.email_verified(id).await? {
            self.store
                .set_email_verified(id, Some(self.clock.now()))
                .await?;
        }
        if let Some(key) = self.throttle_key_of(id).await? {
            self.throttle.clear_account(&key);
        }
        Ok(Some(id))
    }

    /// Sets a new password and ends every session of the customer (the caller signs the
    /// current browser in again if it should stay signed in).
    pub async fn set_password(&self, id: i64, password: SecretString) -> Result<(), AppError> {
        let hash = self.hash_password(password).await?;
        self.store.set_password_hash(id, &hash).await?;
        self.store.delete_sessions_of_customer(id).await?;
        self.store
            .delete_account_tokens(id, TokenPurpose::PasswordReset)
            .await?;
        Ok(())
    }

    async fn reseal(&self, id: i64, profile: &CustomerProfile) -> Result<(), StoreError> {
        let Some(current) = self.store.customer(id).await? else {
            return Ok(());
        };
        let sealed = PersonKeys::of(&self.vault, current.data_key.as_ref())
            .and_then(|keys| {
                Self::seal(
                    &keys,
                    current.data_key.clone(),
                    id,
                    profile,
                    current.password_hash.clone(),
                    current.created_at,
                )
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.update_customer(&sealed).await
    }

    /// Replaces name, address, phone and the optional fields; the email stays.
    pub async fn update_profile(
        &self,
        id: i64,
        person: Person,
        birth_date: Option<BirthDate>,
        gender: Option<Gender>,
    ) -> Result<bool, AppError> {
        let Some(mut profile) = self.profile(id).await? else {
            return Ok(false);
        };
        profile.person = person;
        profile.birth_date = birth_date;
        profile.gender = gender;
        self.reseal(id, &profile).await?;
        Ok(true)
    }

    /// Changes the address (and its blind index); the account is unverified until the link
    /// mailed (in `lang`) to the new address is followed.
    pub async fn change_email(
        &self,
        id: i64,
        email: Email,
        lang: &str,
    ) -> Result<EmailChange, AppError> {
        let Some(mut profile) = self.profile(id).await? else {
            return Ok(EmailChange::Unchanged);
        };
        let ring = self.vault.ring();
        let old = ring.blind_index(col::EMAIL_BIDX, profile.email.as_str(), Normalize::Email)?;
        let new = ring.blind_index(col::EMAIL_BIDX, email.as_str(), Normalize::Email)?;
        if old == new {
            return Ok(EmailChange::Unchanged);
        }
        let lookups = ring.blind_indexes(col::EMAIL_BIDX, email.as_str(), Normalize::Email)?;
        if self
            .store
            .customer_credentials_by_email(&lookups)
            .await?
            .is_some()
        {
            return Ok(EmailChange::Taken);
        }
        profile.email = email;
        match self.reseal(id, &profile).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Ok(EmailChange::Taken),
            Err(e) => return Err(e.into()),
        }
        self.store.set_email_verified(id, None).await?;
        self.mail_link(id, profile.email.as_str(), lang, TokenPurpose::VerifyEmail)
            .await?;
        Ok(EmailChange::Changed)
    }

    /// Erases the account (see [`crate::ports::AccountRepo::delete_customer`]).
    pub async fn delete_account(&self, id: i64) -> Result<bool, AppError> {
        let key = self.throttle_key_of(id).await?;
        let done = self.store.delete_customer(id).await?;
        if let Some(key) = key {
            self.throttle.clear_account(&key);
        }
        Ok(done)
    }

    /// Saves a delivery address; false when the account has the maximum already.
    pub async fn add_address(&self, customer_id: i64, person: &Person) -> Result<bool, AppError> {
        if self.store.addresses_of(customer_id).await?.len() >= MAX_SAVED_ADDRESSES {
            return Ok(false);
        }
        let Some(owner) = self.store.customer(customer_id).await? else {
            return Ok(false);
        };
        let keys = PersonKeys::of(&self.vault, owner.data_key.as_ref())?;
        let id = crate::ids::new_id();
        let json =
            Zeroizing::new(serde_json::to_vec(person).map_err(|e| AppError::Task(e.to_string()))?);
        let record = keys.seal(ADDRESS_RECORD, id, &json)?;
        self.store
            .insert_address(&SavedAddressRecord {
                id,
                customer_id,
                record,
                created_at: self.clock.now(),
                data_key: owner.data_key.map(|k| DataKeyRef {
                    id: k.id,
                    wrapped: None,
                }),
            })
            .await?;
        Ok(true)
    }

    pub async fn addresses(&self, customer_id: i64) -> Result<Vec<SavedAddress>, AppError> {
        let mut out = Vec::new();
        for rec in self.store.addresses_of(customer_id).await? {
            let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
            let plain = keys.open(ADDRESS_RECORD, rec.id, &rec.record)?;
            let person: Person = serde_json::from_slice(&plain)
                .map_err(|e| AppError::Task(format!("saved address unreadable: {e}")))?;
            out.push(SavedAddress { id: rec.id, person });
        }
        Ok(out)
    }

    pub async fn delete_address(&self, customer_id: i64, id: i64) -> Result<bool, AppError> {
        Ok(self.store.delete_address(customer_id, id).await?)
    }
}

/// A phrase a customer may choose: 1 to 40 characters on one line, none of `<>&"` (it goes into
/// HTML mails) and no control characters.
pub fn check_phrase(phrase: &str) -> Result<(), &'static str> {
    let n = phrase.chars().count();
    if n == 0 || n > 40 {
        return Err("phrase.length");
    }
    if phrase
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | '&' | '"' | '[' | ']'))
    {
        return Err("phrase.characters");
    }
    Ok(())
}

/// The anti-phishing phrase of the account whose email is `email` (any held key's blind
/// index), opened under the customer's data key; `None` without an account or a phrase.
pub async fn anti_phishing_phrase_for(
    store: &dyn Store,
    vault: &Vault,
    email: &str,
) -> Result<Option<String>, AppError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(None);
    };
    let lookups = vault
        .ring()
        .blind_indexes(col::EMAIL_BIDX, email.as_str(), Normalize::Email)?;
    let Some((id, sealed, data_key)) = store.anti_phishing_phrase(&lookups).await? else {
        return Ok(None);
    };
    let keys = PersonKeys::of(vault, data_key.as_ref())?;
    match keys.open_string(col::ANTI_PHISHING_PHRASE, id, &sealed) {
        Ok(p) => Ok(Some(p.to_string())),
        // An erased person's phrase cannot be opened: there is no phrase to show.
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use kura_seal::KeyRing;

    use super::*;

    fn profile(n: u8, gender: Option<Gender>) -> CustomerProfile {
        let phone = if n.is_multiple_of(2) {
            "0312345678"
        } else {
            "09012345678"
        };
        CustomerProfile {
            person: Person {
                family_name: PersonName::parse(["林", "勅使河原"][usize::from(n % 2)]).unwrap(),
                given_name: PersonName::parse("瑞穂").unwrap(),
                family_name_kana: Kana::parse("カブラギ").unwrap(),
                given_name_kana: Kana::parse("ミズホ").unwrap(),
                postal_code: PostalCode::parse(&format!("{:07}", 1_000_001 + u32::from(n)))
                    .unwrap(),
                prefecture: Prefecture::try_from(n % 47 + 1).unwrap(),
                address1: AddressLine::parse("千代田区千代田1-1").unwrap(),
                address2: None,
                phone: Phone::parse(phone).unwrap(),
            },
            email: Email::parse(&format!("c{n}@example.jp")).unwrap(),
            birth_date: Some(
                BirthDate::parse(
                    &format!("19{:02}-{}-{}", n % 100, n % 12 + 1, n % 28 + 1),
                    (2026, 1, 1),
                )
                .unwrap(),
            ),
            gender,
        }
    }

    /// A copy of the database must not tell a customer's gender, prefecture, birth date, postal
    /// code or phone kind from the length of the sealed value.
    #[test]
    fn enum_like_customer_fields_seal_to_one_length_per_column() {
        let ring = std::sync::Arc::new(KeyRing::ephemeral().unwrap());
        let mut lengths: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        let genders = [Gender::Female, Gender::Male, Gender::Other];
        for n in 0..94u8 {
            let gender = genders[usize::from(n) % 3];
            let p = profile(n, Some(gender));
            let (keys, key) = PersonKeys::new_person_in(std::sync::Arc::clone(&ring)).unwrap();
            let sealed = Customers::seal(&keys, Some(key), i64::from(n), &p, None, 0).unwrap();
            for (name, value) in [
                ("gender", sealed.gender.as_ref().unwrap()),
                ("prefecture", &sealed.prefecture),
                ("birth_date", sealed.birth_date.as_ref().unwrap()),
                ("postal_code", &sealed.postal_code),
                ("phone", &sealed.phone),
                ("family_name", &sealed.family_name),
            ] {
                lengths
                    .entry(name)
                    .or_default()
                    .insert(value.as_bytes().len());
            }
            // And everything opens back to what went in.
            assert_eq!(Customers::open(&keys, &sealed).unwrap(), p);
        }
        for (name, seen) in &lengths {
            assert_eq!(seen.len(), 1, "{name} sealed to lengths {seen:?}");
        }
    }
}
