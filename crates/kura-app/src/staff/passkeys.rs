//! Passkeys (WebAuthn) as a staff member's second factor, beside the TOTP authenticator every
//! staff member enrols first. A passkey is added only from a complete, recently re-authenticated
//! session; it then stands in for the TOTP code after the password.
//!
//! Every ceremony answers one challenge, kept server-side per staff session and taken (deleted)
//! when an answer arrives, right or wrong, and refused when older than
//! [`CHALLENGE_SECONDS`]. A wrong passkey answer counts as a wrong code: the same per-session
//! and per-member limits end the session. The relying party is the shop's public host; the
//! browser refuses passkeys for an IP address, so a shop reached by IP offers none.

use std::net::IpAddr;

use kura_seal::{
    Assertion, PasskeyError, PasskeyPolicy, StoredPasskey, base64url_encode, new_challenge,
    verify_assertion, verify_registration,
};

use super::{StaffDesk, StaffSession};
use crate::audit::AuditDetail;
use crate::error::AppError;
use crate::records::PasskeyRecord;

/// How long a challenge may be answered.
pub const CHALLENGE_SECONDS: i64 = 300;
/// Passkeys one staff member may hold.
pub const MAX_PASSKEYS: usize = 10;

const GET: &str = "get";
const CREATE: &str = "create";

/// The shop as a WebAuthn relying party: its host (the RP id) and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origin: String,
    pub name: String,
}

impl RelyingParty {
    /// The relying party for a public base URL (`https://shop.example.jp`), or `None` when its
    /// host is an IP address (browsers refuse those as RP ids) or it cannot be read.
    pub fn for_base_url(base: &str, name: &str) -> Option<Self> {
        let (scheme, rest) = base.split_once("://")?;
        if scheme != "https" && scheme != "http" {
            return None;
        }
        let authority = rest.split('/').next()?;
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        };
        if host.is_empty() || host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return None;
        }
        // Plain http only for localhost: browsers allow WebAuthn nowhere else without TLS.
        if scheme == "http" && host != "localhost" {
            return None;
        }
        Some(Self {
            id: host.to_ascii_lowercase(),
            origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
            name: name.to_string(),
        })
    }

    fn policy(&self) -> PasskeyPolicy<'_> {
        PasskeyPolicy {
            rp_id: &self.id,
            origin: &self.origin,
            require_user_verification: true,
        }
    }
}

/// What the browser needs to ask an authenticator for a signature (base64url fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRequest {
    pub rp_id: String,
    pub challenge: String,
    pub allow: Vec<String>,
}

/// What the browser needs to make a new passkey (base64url fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCreation {
    pub rp_id: String,
    pub rp_name: String,
    pub challenge: String,
    pub user_id: String,
    pub user_name: String,
    pub exclude: Vec<String>,
    pub algorithms: Vec<i64>,
}

/// A passkey as the staff member's security page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The browser's answer to a sign-in request, base64url-decoded by the caller.
pub struct PasskeyAnswer<'a> {
    pub credential_id: &'a [u8],
    pub client_data_json: &'a [u8],
    pub authenticator_data: &'a [u8],
    pub signature: &'a [u8],
}

/// Why a new passkey was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRefusal {
    /// This shop's address cannot carry passkeys (an IP address, or http away from localhost).
    Unavailable,
    /// No fresh challenge: the page was too old or was already used.
    Expired,
    /// The browser's answer did not verify.
    Invalid,
    /// This authenticator is registered already.
    Duplicate,
    TooMany,
    /// A name of 1 to 40 characters is needed.
    Name,
}

impl StaffDesk {
    /// Lets staff use passkeys on the shop's public address.
    pub fn with_passkeys(mut self, rp: Option<RelyingParty>) -> Self {
        self.relying_party = rp;
        self
    }

    pub fn passkeys_available(&self) -> bool {
        self.relying_party.is_some()
    }

    async fn challenge_for(
        &self,
        session: &StaffSession,
        purpose: &str,
    ) -> Result<String, AppError> {
        let challenge = new_challenge()?;
        self.store
            .put_staff_challenge(session.record.id, purpose, &challenge, self.clock.now())
            .await?;
        Ok(base64url_encode(&challenge))
    }

    async fn take_challenge(
        &self,
        session: &StaffSession,
        purpose: &str,
    ) -> Result<Option<Vec<u8>>, AppError> {
        let taken = self
            .store
            .take_staff_challenge(session.record.id, purpose)
            .await?;
        let now = self.clock.now();
        Ok(taken
            .filter(|(_, at)| now - at <= CHALLENGE_SECONDS && *at <= now)
            .map(|(c, _)| c))
    }

    /// The passkey sign-in request for a session that has given its password, or `None` when
    /// the staff member has no passkey (or passkeys are unavailable here).
    pub async fn passkey_request(
        &self,
        session: &StaffSession,
    ) -> Result<Option<PasskeyRequest>, AppError> {
        let Some(rp) = &self.relying_party else {
            return Ok(None);
        };
        if !session.member.enrolled {
            return Ok(None);
        }
        let keys = self.store.passkeys_of(session.member.id).await?;
        if keys.is_empty() {
            return Ok(None);
        }
        Ok(Some(PasskeyRequest {
            rp_id: rp.id.clone(),
            challenge: self.challenge_for(session, GET).await?,
            allow: keys
                .iter()
                .map(|k| base64url_encode(&k.credential_id))
                .collect(),
        }))
    }

    /// The second factor given with a passkey. True when the session is now complete; a wrong
    /// answer counts like a wrong code.
    pub async fn verify_passkey(
        &self,
        session: &mut StaffSession,
        answer: &PasskeyAnswer<'_>,
        ip: Option<IpAddr>,
    ) -> Result<bool, AppError> {
        let Some(rp) = &self.relying_party else {
            return Ok(false);
        };
        if !session.member.enrolled || self.too_many_codes(session).await? {
            return Ok(false);
        }
        let Some(challenge) = self.take_challenge(session, GET).await? else {
            return Ok(false);
        };
        let key = self
            .store
            .passkey_by_credential(answer.credential_id)
            .await?
            .filter(|k| k.staff_id == session.member.id);
        let verified = key.as_ref().map(|k| {
            verify_assertion(
                &rp.policy(),
                &challenge,
                &StoredPasskey {
                    credential_id: &k.credential_id,
                    public_key: &k.public_key,
                    sign_count: k.sign_count,
                },
                &Assertion {
                    credential_id: answer.credential_id,
                    client_data_json: answer.client_data_json,
                    authenticator_data: answer.authenticator_data,
                    signature: answer.signature,
                },
            )
        });
        let (Some(key), Some(Ok(count))) = (key, verified) else {
            if let Some(Err(e)) = verified {
                tracing::warn!(target: "kura::staff", staff = session.member.id, error = %e, "passkey answer refused");
                if matches!(e, PasskeyError::CounterNotIncreased { .. }) {
                    self.event(
                        crate::events::SecurityEventKind::MfaFailed,
                        ip,
                        Some(session.member.id),
                    );
                }
            }
            self.code_failed(session, ip).await?;
            return Ok(false);
        };
        if !self
            .store
            .passkey_used(key.id, count, self.clock.now())
            .await?
        {
            // Another sign-in with the same counter got there first: a copy of the key.
            tracing::warn!(target: "kura::staff", staff = session.member.id, "passkey counter raced; refused");
            self.code_failed(session, ip).await?;
            return Ok(false);
        }
        self.complete(session, ip, "staff.sign_in_passkey").await?;
        Ok(true)
    }

    /// The request to make a new passkey, for a complete session.
    pub async fn passkey_creation(
        &self,
        session: &StaffSession,
    ) -> Result<Option<PasskeyCreation>, AppError> {
        let Some(rp) = &self.relying_party else {
            return Ok(None);
        };
        if !session.complete() {
            return Ok(None);
        }
        let keys = self.store.passkeys_of(session.member.id).await?;
        Ok(Some(PasskeyCreation {
            rp_id: rp.id.clone(),
            rp_name: rp.name.clone(),
            challenge: self.challenge_for(session, CREATE).await?,
            user_id: base64url_encode(&session.member.id.to_be_bytes()),
            user_name: session.member.login.clone(),
            exclude: keys
                .iter()
                .map(|k| base64url_encode(&k.credential_id))
                .collect(),
            algorithms: kura_seal::SUPPORTED_ALGORITHMS.to_vec(),
        }))
    }

    /// Keeps a new passkey made in the browser. The caller has checked the step-up.
    pub async fn add_passkey(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        name: &str,
        client_data_json: &[u8],
        attestation_object: &[u8],
    ) -> Result<Result<(), PasskeyRefusal>, AppError> {
        let Some(rp) = &self.relying_party else {
            return Ok(Err(PasskeyRefusal::Unavailable));
        };
        let name = name.trim();
        if !(1..=40).contains(&name.chars().count()) || name.chars().any(char::is_control) {
            return Ok(Err(PasskeyRefusal::Name));
        }
        if !session.complete() {
            return Ok(Err(PasskeyRefusal::Expired));
        }
        let Some(challenge) = self.take_challenge(session, CREATE).await? else {
            return Ok(Err(PasskeyRefusal::Expired));
        };
        let new = match verify_registration(
            &rp.policy(),
            &challenge,
            client_data_json,
            attestation_object,
        ) {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(target: "kura::staff", staff = session.member.id, error = %e, "new passkey refused");
                return Ok(Err(PasskeyRefusal::Invalid));
            }
        };
        if self.store.passkeys_of(session.member.id).await?.len() >= MAX_PASSKEYS {
            return Ok(Err(PasskeyRefusal::TooMany));
        }
        let now = self.clock.now();
        let id = crate::ids::new_id();
        let record = PasskeyRecord {
            id,
            staff_id: session.member.id,
            credential_id: new.credential_id,
            public_key: new.public_key,
            algorithm: new.algorithm,
            sign_count: new.sign_count,
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        };
        match self.store.insert_passkey(&record).await {
            Ok(()) => {}
            Err(crate::StoreError::Conflict) => return Ok(Err(PasskeyRefusal::Duplicate)),
            Err(e) => return Err(e.into()),
        }
        self.audit
            .record(
                &session.actor(ip),
                "staff.passkey_added",
                &format!("staff:{}", session.member.id),
                "passkey",
                AuditDetail {
                    note: Some(format!("passkey {id}, algorithm {}", record.algorithm)),
                    ..Default::default()
                },
            )
            .await?;
        Ok(Ok(()))
    }

    pub async fn passkeys(&self, session: &StaffSession) -> Result<Vec<PasskeyView>, AppError> {
        Ok(self
            .store
            .passkeys_of(session.member.id)
            .await?
            .into_iter()
            .map(|k| PasskeyView {
                id: k.id,
                name: k.name,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
            })
            .collect())
    }

    /// Removes one of the staff member's own passkeys. The caller has checked the step-up.
    pub async fn remove_passkey(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
    ) -> Result<bool, AppError> {
        if !self.store.delete_passkey(session.member.id, id).await? {
            return Ok(false);
        }
        self.audit
            .record(
                &session.actor(ip),
                "staff.passkey_removed",
                &format!("staff:{}", session.member.id),
                "passkey",
                AuditDetail {
                    note: Some(format!("passkey {id}")),
                    ..Default::default()
                },
            )
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn relying_party_from_the_public_address() {
        let rp = RelyingParty::for_base_url("https://Shop.Example.jp/", "Kura").unwrap();
        assert_eq!(rp.id, "shop.example.jp");
        assert_eq!(rp.origin, "https://shop.example.jp");
        let local = RelyingParty::for_base_url("http://localhost:8080", "Kura").unwrap();
        assert_eq!(
            (local.id.as_str(), local.origin.as_str()),
            ("localhost", "http://localhost:8080")
        );
        assert_eq!(
            RelyingParty::for_base_url("http://127.0.0.1:8080", "Kura"),
            None
        );
        assert_eq!(
            RelyingParty::for_base_url("https://[::1]:8443", "Kura"),
            None
        );
        assert_eq!(
            RelyingParty::for_base_url("http://shop.example.jp", "Kura"),
            None
        );
        assert_eq!(
            RelyingParty::for_base_url("ftp://shop.example.jp", "Kura"),
            None
        );
    }
}
