//! Staff who run the shop: roles with least privilege, sign-in with a password and a second
//! factor for everyone, short sessions that end at once when access changes, and throttling
//! that slows a guesser without letting anyone lock the owner out.
//!
//! Throttling counts failures per (login name, source address) pair, kept as keyed hashes: a
//! guesser from one address waits longer and longer, while the owner signing in from another
//! address is not slowed at all. Second-factor failures count per session, which ends after
//! [`StaffPolicy::mfa_attempts`] wrong codes.

use std::net::IpAddr;
use std::sync::Arc;

use kura_seal::{
    MacPurpose, Passwords, SessionToken, TotpSecret, Verified, recovery_code_hash, recovery_codes,
};
use secrecy::SecretString;
use zeroize::Zeroizing;

mod passkeys;
pub use passkeys::{
    CHALLENGE_SECONDS, MAX_PASSKEYS, PasskeyAnswer, PasskeyCreation, PasskeyRefusal,
    PasskeyRequest, PasskeyView, RelyingParty,
};

use crate::audit::{Actor, Audit, AuditDetail};
use crate::clock::Clock;
use crate::error::AppError;
use crate::events::{SecurityEvent, SecurityEventKind, SecurityEvents};
use crate::mail::{MailOutbox, OutgoingMail};
use crate::ports::Store;
use crate::records::{StaffRecord, StaffSessionRecord};
use crate::sealed::col;
use crate::vault::Vault;

/// What a staff member is for. Each role holds only the permissions its work needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Manager,
    Support,
    Fulfilment,
    Analyst,
}

/// One thing the back office lets a staff member do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Counts: today's orders and sales, unpaid and unshipped orders, stock alerts.
    Dashboard,
    /// The order list and an order's items and status (no contact data).
    OrdersRead,
    /// Marks orders paid, cancelled, refunded.
    OrdersManage,
    /// Marks orders packed and shipped; sees the delivery address of orders being packed.
    OrdersShip,
    /// The customer list, masked.
    CustomersList,
    /// Shows one customer's personal data in full, with a stated reason, within a budget.
    CustomersUnmask,
    /// Erases a customer (destroys their data key).
    CustomersErase,
    /// Products, prices, stock.
    Catalog,
    /// Adds, suspends and removes staff; changes roles.
    StaffManage,
    /// Shop settings and budgets.
    Settings,
    /// Browses the audit log.
    AuditRead,
    /// The inquiry desk: reads inquiries (budgeted, audited) and replies.
    Inquiries,
    /// Asks for, or approves someone else's, bulk export of personal data.
    Export,
    /// The guard's dashboard: alerts, blocked sources, detectors.
    Security,
    /// Incidents: declaring, the public notice, maintenance, reports (the owner).
    Incidents,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Manager,
        Role::Support,
        Role::Fulfilment,
        Role::Analyst,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Manager => "manager",
            Self::Support => "support",
            Self::Fulfilment => "fulfilment",
            Self::Analyst => "analyst",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether this role may do `p`. The single table of who may do what.
    pub fn can(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Self::Owner => true,
            Self::Manager => matches!(
                p,
                P::Dashboard
                    | P::OrdersRead
                    | P::OrdersManage
                    | P::OrdersShip
                    | P::CustomersList
                    | P::CustomersUnmask
                    | P::Catalog
                    | P::Inquiries
                    | P::Export
            ),
            Self::Support => matches!(
                p,
                P::Dashboard | P::OrdersRead | P::CustomersList | P::CustomersUnmask | P::Inquiries
            ),
            Self::Fulfilment => matches!(p, P::Dashboard | P::OrdersRead | P::OrdersShip),
            Self::Analyst => matches!(p, P::Dashboard),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct StaffPolicy {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
    /// A session's last-seen time is written at most this often.
    pub touch_seconds: i64,
    /// How long a re-authentication counts for sensitive actions.
    pub step_up_seconds: i64,
    /// Failures from one source on one login name before waiting starts.
    pub free_failures: u32,
    /// The longest wait between attempts from one source.
    pub max_wait_seconds: i64,
    /// Wrong second-factor codes a session may give before it ends.
    pub mfa_attempts: u32,
}

impl Default for StaffPolicy {
    fn default() -> Self {
        Self {
            idle_seconds: 15 * 60,
            absolute_seconds: 10 * 3600,
            touch_seconds: 30,
            step_up_seconds: 5 * 60,
            free_failures: 5,
            max_wait_seconds: 15 * 60,
            mfa_attempts: 5,
        }
    }
}

/// A staff member as the back office shows them (no secret, no email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: i64,
    pub login: String,
    pub role: Role,
    pub active: bool,
    pub enrolled: bool,
    pub created_at: i64,
}

impl StaffMember {
    fn of(r: &StaffRecord) -> Option<Self> {
        Some(Self {
            id: r.id,
            login: r.login.clone(),
            role: Role::parse(&r.role)?,
            active: r.status == "active",
            enrolled: r.totp_secret.is_some(),
            created_at: r.created_at,
        })
    }
}

/// A loaded staff session: who, with which role, and how far they have signed in.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub token: SessionToken,
    pub record: StaffSessionRecord,
    pub member: StaffMember,
}

impl StaffSession {
    /// Both factors given.
    pub fn complete(&self) -> bool {
        self.record.mfa_at.is_some()
    }

    pub fn can(&self, p: Permission) -> bool {
        self.complete() && self.member.role.can(p)
    }

    pub fn actor(&self, ip: Option<IpAddr>) -> Actor {
        Actor {
            staff_id: Some(self.member.id),
            name: self.member.login.clone(),
            ip,
        }
    }
}

/// What a password sign-in did.
#[derive(Debug)]
pub enum PasswordSignIn {
    /// The password was right: a session that still needs the second factor (or enrolment).
    SecondFactor(StaffSession),
    Refused,
    /// Too many failures from this source: try again after this many seconds.
    Throttled {
        retry_after: i64,
    },
}

/// A TOTP secret offered at enrolment: shown to the staff member, carried by the form sealed.
pub struct Enrolment {
    pub sealed: String,
    pub base32: Zeroizing<String>,
    pub uri: Zeroizing<String>,
}

/// Why a staff change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRefusal {
    LoginTaken,
    LoginInvalid,
    UnknownStaff,
    /// The shop would be left without an active owner.
    LastOwner,
}

/// Renders the mails staff receive about their accounts (a port: kura-mail implements it).
pub trait StaffNotifier: Send + Sync {
    /// A sign-in from a device not seen before for `login`, at unix time `at`.
    fn new_device(&self, to: &str, login: &str, at: i64) -> Result<OutgoingMail, AppError>;
    /// `login` reached the hourly unmask budget `limit` at `at` (to an owner).
    fn budget_reached(
        &self,
        to: &str,
        login: &str,
        limit: u32,
        at: i64,
    ) -> Result<OutgoingMail, AppError>;
    /// The guard raised `alert` (to an owner).
    fn guard_alert(
        &self,
        to: &str,
        alert: &crate::records::AlertRecord,
    ) -> Result<OutgoingMail, AppError>;
}

pub struct StaffDesk {
    store: Arc<dyn Store>,
    outbox: Arc<MailOutbox>,
    notifier: Arc<dyn StaffNotifier>,
    vault: Arc<Vault>,
    passwords: Arc<Passwords>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn SecurityEvents>,
    audit: Arc<Audit>,
    policy: StaffPolicy,
    shop_name: String,
    /// Where passkeys work (`None`: they are not offered).
    relying_party: Option<RelyingParty>,
}

/// A login name: 2 to 32 of `a-z 0-9 . _ -`, starting with a letter.
pub fn valid_login(login: &str) -> bool {
    (2..=32).contains(&login.len())
        && login.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl StaffDesk {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        outbox: Arc<MailOutbox>,
        notifier: Arc<dyn StaffNotifier>,
        vault: Arc<Vault>,
        passwords: Arc<Passwords>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn SecurityEvents>,
        audit: Arc<Audit>,
        policy: StaffPolicy,
        shop_name: &str,
    ) -> Self {
        Self {
            store,
            outbox,
            notifier,
            vault,
            passwords,
            clock,
            events,
            audit,
            policy,
            shop_name: shop_name.to_string(),
            relying_party: None,
        }
    }

    pub fn policy(&self) -> StaffPolicy {
        self.policy
    }

    pub fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }

    fn event(&self, kind: SecurityEventKind, ip: Option<IpAddr>, subject: Option<i64>) {
        let mut e = SecurityEvent::new(kind);
        e.ip = ip;
        e.subject = subject;
        self.events.record(e);
    }

    /// Adds a staff member who must enrol an authenticator at first sign-in. The caller has
    /// checked the password against the staff rule.
    pub async fn add(
        &self,
        actor: &Actor,
        login: &str,
        role: Role,
        email: &kura_domain::Email,
        password: &SecretString,
    ) -> Result<Result<i64, StaffRefusal>, AppError> {
        if !valid_login(login) {
            return Ok(Err(StaffRefusal::LoginInvalid));
        }
        let id = crate::ids::new_id();
        let now = self.clock.now();
        let hash = self.passwords.hash(password)?;
        let record = StaffRecord {
            id,
            login: login.to_string(),
            role: role.code().to_string(),
            status: "active".into(),
            password_hash: hash,
            email: self
                .vault
                .ring()
                .seal_str(col::STAFF_EMAIL, id, email.as_str())?,
            totp_secret: None,
            totp_last_step: 0,
            recovery_codes: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_staff(&record).await {
            Ok(()) => {}
            Err(crate::StoreError::Conflict) => return Ok(Err(StaffRefusal::LoginTaken)),
            Err(e) => return Err(e.into()),
        }
        self.audit
            .record(
                actor,
                "staff.add",
                &format!("staff:{id}"),
                "login,role,email,password",
                AuditDetail {
                    note: Some(format!("{login} as {}", role.code())),
                    ..Default::default()
                },
            )
            .await?;
        self.staff_changed(actor, id);
        Ok(Ok(id))
    }

    pub async fn list(&self) -> Result<Vec<StaffMember>, AppError> {
        Ok(self
            .store
            .list_staff()
            .await?
            .iter()
            .filter_map(StaffMember::of)
            .collect())
    }

    pub async fn member(&self, id: i64) -> Result<Option<StaffMember>, AppError> {
        Ok(self
            .store
            .staff_by_id(id)
            .await?
            .as_ref()
            .and_then(StaffMember::of))
    }

    /// The staff member's email (for notices to them).
    pub async fn email_of(&self, id: i64) -> Result<Option<String>, AppError> {
        let Some(rec) = self.store.staff_by_id(id).await? else {
            return Ok(None);
        };
        let ring = self.vault.ring_holding(rec.email.key_id().unwrap_or(0));
        Ok(Some(
            ring.open_string(col::STAFF_EMAIL, id, &rec.email)?
                .to_string(),
        ))
    }

    fn source_subject(&self, login: &str, ip: Option<IpAddr>) -> [u8; 32] {
        // An IPv6 client is counted by its /64: one machine commonly holds the whole prefix.
        let ip = ip
            .map(|i| match i {
                IpAddr::V6(v6) => {
                    let [a, b, c, d, ..] = v6.segments();
                    format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
                }
                v4 => v4.to_string(),
            })
            .unwrap_or_default();
        self.vault.ring().active_purpose_mac(
            MacPurpose::SignInSource,
            &[b"password", login.to_lowercase().as_bytes(), ip.as_bytes()],
        )
    }

    fn session_subject(&self, session_id: i64) -> [u8; 32] {
        self.vault.ring().active_purpose_mac(
            MacPurpose::SignInSource,
            &[b"second-factor", &session_id.to_be_bytes()],
        )
    }

    /// Seconds to wait before the next attempt of `subject`, if any.
    async fn wait_for(&self, subject: &[u8; 32], free: u32) -> Result<Option<i64>, AppError> {
        let now = self.clock.now();
        let (n, last) = self
            .store
            .sign_in_failures(subject, now - self.policy.max_wait_seconds * 4)
            .await?;
        if n < free {
            return Ok(None);
        }
        let wait = 1i64
            .checked_shl(n - free + 1)
            .unwrap_or(i64::MAX)
            .min(self.policy.max_wait_seconds);
        let until = last.unwrap_or(now) + wait;
        Ok((until > now).then_some(until - now))
    }

    /// The first factor: login name and password.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &SecretString,
        ip: Option<IpAddr>,
    ) -> Result<PasswordSignIn, AppError> {
        let subject = self.source_subject(login, ip);
        if let Some(retry_after) = self.wait_for(&subject, self.policy.free_failures).await? {
            self.event(SecurityEventKind::LoginThrottled, ip, None);
            return Ok(PasswordSignIn::Throttled { retry_after });
        }
        let record = if valid_login(login) {
            self.store.staff_by_login(login).await?
        } else {
            None
        };
        let verified = match &record {
            Some(r) => self.passwords.verify(password, &r.password_hash),
            None => {
                self.passwords.dummy_verify(password);
                Verified::Mismatch
            }
        };
        let active = record.as_ref().is_some_and(|r| r.status == "active");
        let Some(record) = record.filter(|_| active && verified != Verified::Mismatch) else {
            let now = self.clock.now();
            self.store
                .record_sign_in_failure(&subject, now, now - 86_400)
                .await?;
            self.event(SecurityEventKind::StaffLoginFailed, ip, None);
            return Ok(PasswordSignIn::Refused);
        };
        if verified == Verified::NeedsRehash
            && let Ok(hash) = self.passwords.hash(password)
        {
            self.store
                .set_staff_password(record.id, &hash, None, self.clock.now())
                .await?;
        }
        self.store.clear_sign_in_failures(&subject).await?;
        let Some(member) = StaffMember::of(&record) else {
            return Ok(PasswordSignIn::Refused);
        };
        let session = self.new_session(member, None).await?;
        Ok(PasswordSignIn::SecondFactor(session))
    }

    async fn new_session(
        &self,
        member: StaffMember,
        mfa_at: Option<i64>,
    ) -> Result<StaffSession, AppError> {
        let token = SessionToken::generate()?;
        let now = self.clock.now();
        let record = StaffSessionRecord {
            id: crate::ids::new_id(),
            token_hash: token.hash().0,
            staff_id: member.id,
            role: member.role.code().to_string(),
            mfa_at,
            step_up_at: mfa_at,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + self.policy.idle_seconds,
            absolute_expires_at: now + self.policy.absolute_seconds,
        };
        self.store.insert_staff_session(&record).await?;
        Ok(StaffSession {
            token,
            record,
            member,
        })
    }

    /// The session a browser presents, while it is live and its staff member is active with
    /// the same role. Touches its idle expiry.
    pub async fn load(&self, token: &SessionToken) -> Result<Option<StaffSession>, AppError> {
        let Some(mut record) = self.store.staff_session(&token.hash().0).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= record.idle_expires_at || now >= record.absolute_expires_at {
            self.store.delete_staff_session(record.id).await?;
            return Ok(None);
        }
        let Some(member) = self.member(record.staff_id).await? else {
            return Ok(None);
        };
        if member.role.code() != record.role || !member.active {
            return Ok(None);
        }
        if now - record.last_seen_at >= self.policy.touch_seconds {
            record.last_seen_at = now;
            record.idle_expires_at =
                (now + self.policy.idle_seconds).min(record.absolute_expires_at);
            self.store.update_staff_session(&record).await?;
        }
        Ok(Some(StaffSession {
            token: token.clone(),
            record,
            member,
        }))
    }

    pub async fn sign_out(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        self.store.delete_staff_session(session.record.id).await?;
        if session.complete() {
            self.audit
                .record(
                    &session.actor(ip),
                    "staff.sign_out",
                    "",
                    "",
                    AuditDetail::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// A new TOTP secret for a staff member who has none yet, sealed for the enrolment form.
    pub async fn begin_enrolment(&self, session: &StaffSession) -> Result<Enrolment, AppError> {
        let secret = TotpSecret::generate()?;
        let sealed =
            self.vault
                .ring()
                .seal(col::PENDING_TOTP, session.record.id, secret.as_bytes())?;
        Ok(Enrolment {
            sealed: hex::encode(sealed.as_bytes()),
            base32: secret.base32(),
            uri: secret.otpauth_uri(&self.shop_name, &session.member.login),
        })
    }

    /// The enrolment a form carried back (after a wrong code), if it was made for this session.
    pub fn resume_enrolment(&self, session: &StaffSession, sealed_hex: &str) -> Option<Enrolment> {
        let secret = self.pending_secret(session, sealed_hex)?;
        Some(Enrolment {
            sealed: sealed_hex.trim().to_string(),
            base32: secret.base32(),
            uri: secret.otpauth_uri(&self.shop_name, &session.member.login),
        })
    }

    fn pending_secret(&self, session: &StaffSession, sealed_hex: &str) -> Option<TotpSecret> {
        let sealed = kura_seal::Sealed::from_stored(hex::decode(sealed_hex.trim()).ok()?);
        let ring = self.vault.ring_holding(sealed.key_id().unwrap_or(0));
        let plain = ring
            .open(col::PENDING_TOTP, session.record.id, &sealed)
            .ok()?;
        TotpSecret::from_bytes(&plain)
    }

    /// A sign-in completed on a device this staff member never used: the audit log records it,
    /// the shop's log raises an alert, and a notice is queued to the staff member's address.
    pub async fn notify_new_device(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        tracing::warn!(target: "kura::alert", staff = session.member.id, "staff sign-in from a new device");
        if let Some(to) = self.email_of(session.member.id).await? {
            let mail = self
                .notifier
                .new_device(&to, &session.member.login, self.clock.now())?;
            self.outbox.enqueue(&mail).await?;
        }
        self.audit
            .record(
                &session.actor(ip),
                "staff.new_device",
                &format!("staff:{}", session.member.id),
                "",
                AuditDetail::default(),
            )
            .await?;
        Ok(())
    }

    /// Confirms enrolment with a code from the new authenticator: stores the secret, marks the
    /// session signed in, and returns the recovery codes (shown once). `None`: wrong code, a
    /// form that was not made for this session, or a staff member who has an authenticator
    /// already (none is replaced this way).
    pub async fn finish_enrolment(
        &self,
        session: &mut StaffSession,
        sealed_hex: &str,
        code: &str,
        ip: Option<IpAddr>,
    ) -> Result<Option<Vec<Zeroizing<String>>>, AppError> {
        // Only a first enrolment goes through here: replacing an authenticator is not something
        // a session (perhaps a stolen one) may do by itself.
        if session.member.enrolled {
            return Ok(None);
        }
        if self.too_many_codes(session).await? {
            return Ok(None);
        }
        let Some(secret) = self.pending_secret(session, sealed_hex) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Some(step) = secret.check(code, now) else {
            self.code_failed(session, ip).await?;
            return Ok(None);
        };
        let codes = recovery_codes()?;
        let hashes: Vec<[u8; 32]> = codes.iter().map(|(_, h)| *h).collect();
        let sealed =
            self.vault
                .ring()
                .seal(col::STAFF_TOTP, session.member.id, secret.as_bytes())?;
        self.store
            .set_staff_totp(session.member.id, &sealed, &hashes, now)
            .await?;
        self.store
            .accept_totp_step(session.member.id, i64::try_from(step).unwrap_or(i64::MAX))
            .await?;
        session.member.enrolled = true;
        self.complete(session, ip, "staff.mfa_enrolled").await?;
        Ok(Some(codes.into_iter().map(|(c, _)| c).collect()))
    }

    fn member_code_subject(&self, staff_id: i64) -> [u8; 32] {
        self.vault.ring().active_purpose_mac(
            MacPurpose::SignInSource,
            &[b"second-factor-member", &staff_id.to_be_bytes()],
        )
    }

    /// Whether codes are refused now: this session gave too many wrong ones, or the staff
    /// member did across sessions (a new password sign-in does not reset that count; it waits
    /// out doubling delays after the first few).
    async fn too_many_codes(&self, session: &StaffSession) -> Result<bool, AppError> {
        let subject = self.session_subject(session.record.id);
        let (n, _) = self
            .store
            .sign_in_failures(&subject, session.record.created_at)
            .await?;
        if n >= self.policy.mfa_attempts {
            return Ok(true);
        }
        let member = self.member_code_subject(session.member.id);
        Ok(self
            .wait_for(&member, self.policy.mfa_attempts)
            .await?
            .is_some())
    }

    async fn code_failed(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let subject = self.session_subject(session.record.id);
        self.store
            .record_sign_in_failure(&subject, now, now - 86_400)
            .await?;
        let member = self.member_code_subject(session.member.id);
        self.store
            .record_sign_in_failure(&member, now, now - 86_400)
            .await?;
        self.event(SecurityEventKind::MfaFailed, ip, Some(session.member.id));
        if self.too_many_codes(session).await? {
            self.store.delete_staff_session(session.record.id).await?;
        }
        Ok(())
    }

    /// Checks a TOTP code (a step at or before the last accepted is refused) or, failing that,
    /// a recovery code (used up).
    async fn check_code(&self, session: &StaffSession, code: &str) -> Result<bool, AppError> {
        let Some(record) = self.store.staff_by_id(session.member.id).await? else {
            return Ok(false);
        };
        let Some(sealed) = record.totp_secret.as_ref() else {
            return Ok(false);
        };
        let ring = self.vault.ring_holding(sealed.key_id().unwrap_or(0));
        let plain = ring.open(col::STAFF_TOTP, record.id, sealed)?;
        let Some(secret) = TotpSecret::from_bytes(&plain) else {
            return Ok(false);
        };
        if let Some(step) = secret.check(code, self.clock.now()) {
            return self
                .store
                .accept_totp_step(record.id, i64::try_from(step).unwrap_or(i64::MAX))
                .await
                .map_err(Into::into);
        }
        let typed: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if typed.len() == 10 {
            return Ok(self
                .store
                .use_recovery_code(record.id, &recovery_code_hash(&typed))
                .await?);
        }
        Ok(false)
    }

    /// The second factor after the password. True when the session is now complete; after
    /// too many wrong codes the session ends.
    pub async fn verify_second_factor(
        &self,
        session: &mut StaffSession,
        code: &str,
        ip: Option<IpAddr>,
    ) -> Result<bool, AppError> {
        if !session.member.enrolled || self.too_many_codes(session).await? {
            return Ok(false);
        }
        if !self.check_code(session, code).await? {
            self.code_failed(session, ip).await?;
            return Ok(false);
        }
        self.complete(session, ip, "staff.sign_in").await?;
        Ok(true)
    }

    async fn complete(
        &self,
        session: &mut StaffSession,
        ip: Option<IpAddr>,
        action: &str,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        // A new token once both factors are given: a token seen before this point (planted,
        // or read over a shoulder at the password step) never becomes a signed-in session.
        let token = SessionToken::generate()?;
        session.record.token_hash = token.hash().0;
        session.token = token;
        session.record.mfa_at = Some(now);
        session.record.step_up_at = Some(now);
        session.record.last_seen_at = now;
        session.record.idle_expires_at =
            (now + self.policy.idle_seconds).min(session.record.absolute_expires_at);
        self.store.update_staff_session(&session.record).await?;
        self.event(
            SecurityEventKind::LoginSucceeded,
            ip,
            Some(session.member.id),
        );
        self.audit
            .record(&session.actor(ip), action, "", "", AuditDetail::default())
            .await?;
        Ok(())
    }

    /// Whether the session re-authenticated recently enough for a sensitive action.
    pub fn stepped_up(&self, session: &StaffSession) -> bool {
        session
            .record
            .step_up_at
            .is_some_and(|at| self.clock.now() - at < self.policy.step_up_seconds)
    }

    /// Re-authentication before a sensitive action: a fresh code.
    pub async fn step_up(
        &self,
        session: &mut StaffSession,
        code: &str,
        ip: Option<IpAddr>,
    ) -> Result<bool, AppError> {
        if !session.complete() || self.too_many_codes(session).await? {
            return Ok(false);
        }
        if !self.check_code(session, code).await? {
            self.code_failed(session, ip).await?;
            return Ok(false);
        }
        session.record.step_up_at = Some(self.clock.now());
        self.store.update_staff_session(&session.record).await?;
        self.audit
            .record(
                &session.actor(ip),
                "staff.step_up",
                "",
                "",
                AuditDetail::default(),
            )
            .await?;
        Ok(true)
    }

    /// Remembers the device a staff member completed sign-in on; true when it is new.
    pub async fn device_is_new(
        &self,
        staff_id: i64,
        device_secret: &str,
    ) -> Result<bool, AppError> {
        let mac = self
            .vault
            .ring()
            .active_purpose_mac(MacPurpose::StaffDevice, &[device_secret.as_bytes()]);
        Ok(self
            .store
            .remember_staff_device(staff_id, &mac, self.clock.now())
            .await?)
    }

    async fn active_owners(&self) -> Result<usize, AppError> {
        Ok(self
            .list()
            .await?
            .iter()
            .filter(|m| m.active && m.role == Role::Owner)
            .count())
    }

    /// Changes a staff member's role and whether they are active; every session of theirs ends
    /// at once. The last active owner cannot be demoted or suspended.
    /// For a lost phone or key: forgets another staff member's authenticator, recovery codes
    /// and passkeys and ends their sessions, so they enrol again after their password. Nobody
    /// resets their own this way (a stolen session must not swap the factor out).
    pub async fn reset_mfa(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Result<(), StaffRefusal>, AppError> {
        if actor.staff_id == Some(id) {
            return Ok(Err(StaffRefusal::UnknownStaff));
        }
        if !self.store.reset_staff_mfa(id, self.clock.now()).await? {
            return Ok(Err(StaffRefusal::UnknownStaff));
        }
        self.audit
            .record(
                actor,
                "staff.mfa_reset",
                &format!("staff:{id}"),
                "totp,recovery_codes,passkeys",
                AuditDetail::default(),
            )
            .await?;
        Ok(Ok(()))
    }

    pub async fn set_access(
        &self,
        actor: &Actor,
        id: i64,
        role: Role,
        active: bool,
    ) -> Result<Result<(), StaffRefusal>, AppError> {
        let Some(member) = self.member(id).await? else {
            return Ok(Err(StaffRefusal::UnknownStaff));
        };
        let loses_owner =
            member.role == Role::Owner && member.active && (role != Role::Owner || !active);
        if loses_owner && self.active_owners().await? <= 1 {
            return Ok(Err(StaffRefusal::LastOwner));
        }
        let status = if active { "active" } else { "suspended" };
        if !self
            .store
            .set_staff_access(id, role.code(), status, self.clock.now())
            .await?
        {
            return Ok(Err(StaffRefusal::UnknownStaff));
        }
        self.audit
            .record(
                actor,
                "staff.access",
                &format!("staff:{id}"),
                "role,status",
                AuditDetail {
                    note: Some(format!(
                        "{} {} -> {} {status}",
                        member.role.code(),
                        if member.active { "active" } else { "suspended" },
                        role.code()
                    )),
                    ..Default::default()
                },
            )
            .await?;
        if role != member.role || (active && !member.active) {
            self.staff_changed(actor, id);
        }
        Ok(Ok(()))
    }

    /// Removes a staff member; the audit log keeps their name in its entries.
    pub async fn remove(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Result<(), StaffRefusal>, AppError> {
        let Some(member) = self.member(id).await? else {
            return Ok(Err(StaffRefusal::UnknownStaff));
        };
        if member.role == Role::Owner && member.active && self.active_owners().await? <= 1 {
            return Ok(Err(StaffRefusal::LastOwner));
        }
        if !self.store.delete_staff(id).await? {
            return Ok(Err(StaffRefusal::UnknownStaff));
        }
        self.audit
            .record(
                actor,
                "staff.remove",
                &format!("staff:{id}"),
                "",
                AuditDetail {
                    note: Some(member.login),
                    ..Default::default()
                },
            )
            .await?;
        Ok(Ok(()))
    }

    /// Tells every active owner that `login` reached the unmask budget; returns how many notices
    /// were queued.
    pub async fn notify_budget_reached(&self, login: &str, limit: u32) -> Result<u32, AppError> {
        let mut queued = 0;
        for owner in self.list().await? {
            if owner.role != Role::Owner || !owner.active {
                continue;
            }
            if let Some(to) = self.email_of(owner.id).await? {
                let mail = self
                    .notifier
                    .budget_reached(&to, login, limit, self.clock.now())?;
                self.outbox.enqueue(&mail).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Tells the guard a staff member changed `id`'s access (the command line is not counted:
    /// whoever runs it holds the server already).
    fn staff_changed(&self, actor: &Actor, id: i64) {
        if actor.staff_id.is_none() {
            return;
        }
        let mut event = SecurityEvent::new(SecurityEventKind::StaffChanged).subject(id);
        event.ip = actor.ip;
        self.events.record(event);
    }

    /// Tells every active owner of a guard alert; returns how many notices were queued.
    pub async fn notify_guard_alert(
        &self,
        alert: &crate::records::AlertRecord,
    ) -> Result<u32, AppError> {
        let mut queued = 0;
        for owner in self.list().await? {
            if owner.role != Role::Owner || !owner.active {
                continue;
            }
            if let Some(to) = self.email_of(owner.id).await? {
                let mail = self.notifier.guard_alert(&to, alert)?;
                self.outbox.enqueue(&mail).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    pub async fn purge_expired(&self) -> Result<u64, AppError> {
        Ok(self
            .store
            .delete_expired_staff_sessions(self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_hold_only_what_their_work_needs() {
        use Permission as P;
        assert!(Role::Owner.can(P::StaffManage));
        assert!(!Role::Manager.can(P::StaffManage));
        assert!(!Role::Manager.can(P::AuditRead));
        assert!(Role::Support.can(P::CustomersUnmask));
        assert!(!Role::Support.can(P::OrdersShip));
        assert!(!Role::Fulfilment.can(P::CustomersList));
        assert!(!Role::Fulfilment.can(P::CustomersUnmask));
        assert!(Role::Fulfilment.can(P::OrdersShip));
        assert!(!Role::Analyst.can(P::OrdersRead));
        assert!(!Role::Analyst.can(P::CustomersList));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
    }

    #[test]
    fn login_names() {
        assert!(valid_login("tanaka"));
        assert!(valid_login("s.sato-2"));
        assert!(!valid_login("Tanaka"));
        assert!(!valid_login("1abc"));
        assert!(!valid_login("a"));
        assert!(!valid_login("tanaka taro"));
        assert!(!valid_login(&"a".repeat(33)));
    }
}
