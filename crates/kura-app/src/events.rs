//! Security events: the port through which every security-relevant outcome reaches the guard.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEventKind {
    LoginSucceeded,
    LoginFailed,
    Logout,
    SessionCycled,
    RateLimited,
    CsrfRejected,
    CrossSiteRejected,
    BodyTooLarge,
    CardNumberRefused,
    MalformedInput,
    KeyRotationStarted,
    KeyRotationFinished,
    KeyRetired,
    SealFailure,
    CspViolation,
    WebhookRejected,
    /// A sign-in refused unchecked because of earlier failures (account or IP throttle).
    LoginThrottled,
    /// A re-authentication (current password) on the account page failed.
    ReauthFailed,
    AccountCreated,
    /// Someone tried to register an email address that has an account already.
    RegistrationDuplicate,
    EmailVerified,
    EmailChanged,
    ProfileChanged,
    PasswordChanged,
    PasswordResetRequested,
    /// A verification or reset link that is unknown, expired or used.
    AccountTokenRejected,
    AccountDeleted,
    /// A guest order lookup whose number and email or phone did not match an order.
    OrderLookupFailed,
    /// Order lookups refused unchecked: too many from this client or on this order number.
    OrderLookupThrottled,
    /// A mailed order link that is forged, altered or expired.
    OrderLinkRejected,
    /// A staff sign-in with a wrong login name or password.
    StaffLoginFailed,
    /// A wrong second-factor code (TOTP or recovery code) from a staff member.
    MfaFailed,
    /// A staff member asked for personal data past their hourly read budget.
    ReadBudgetExceeded,
    /// A staff request refused: no session, no second factor, wrong role or address.
    StaffAccessDenied,
    /// A staff member read personal data (the audit log holds what and why).
    PersonalDataRead,
    /// A bulk export of personal data was downloaded.
    ExportDownloaded,
    /// A request carried an injection, traversal or probe pattern (`detail`: the rule).
    RequestProbe,
    /// A request came from a known scanner (`detail`: the rule).
    ScannerSeen,
    /// The shop answered with a server error.
    ServerError,
    /// A bearer token on the API that is unknown, expired or malformed.
    ApiTokenRejected,
    /// A canary customer's data was touched (`detail`: how).
    HoneytokenTouched,
    /// The guard refused a request from a blocked source.
    SourceBlocked,
    /// A card order was placed and sent to the provider's page (card testing shows as many).
    CardCheckoutStarted,
    /// A card was declined on the provider's page for one of the shop's orders (the subject).
    CardDeclined,
    /// A staff member was added, or their role or access changed (the subject: their id).
    StaffChanged,
    /// A bulk export of customer data was asked for (the subject: the staff member).
    ExportRequested,
    /// Someone checked a mail on the mail-check page and it was not the shop's (a forgery in
    /// the shop's name is going round, as in the seed's breach).
    ForgedMailReported,
    /// A customer set the name their receipt and invoice are made out to (the subject: the
    /// order).
    ReceiptAddressed,
    /// A receipt or invoice of an order was issued (the subject: the order; `detail`: which,
    /// and whether a reissue). Many from one source is someone collecting other people's.
    ReceiptIssued,
}

impl SecurityEventKind {
    /// OWASP logging vocabulary where it has a word for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "authn_login_success",
            Self::LoginFailed => "authn_login_fail",
            Self::Logout => "session_logout",
            Self::SessionCycled => "session_renewed",
            Self::RateLimited => "excess_rate_limit_exceeded",
            Self::CsrfRejected => "input_validation_fail:csrf",
            Self::CrossSiteRejected => "input_validation_fail:cross_site",
            Self::BodyTooLarge => "input_validation_fail:body_too_large",
            Self::CardNumberRefused => "input_validation_fail:card_number",
            Self::MalformedInput => "input_validation_fail:malformed",
            Self::KeyRotationStarted => "sys_crypto_key_rotation_start",
            Self::KeyRotationFinished => "sys_crypto_key_rotation_done",
            Self::KeyRetired => "sys_crypto_key_retired",
            Self::SealFailure => "sys_crypto_integrity_fail",
            Self::CspViolation => "malicious_csp_violation",
            Self::WebhookRejected => "input_validation_fail:webhook_signature",
            Self::LoginThrottled => "authn_login_fail_max",
            Self::ReauthFailed => "authn_login_fail:reauth",
            Self::AccountCreated => "user_created",
            Self::RegistrationDuplicate => "user_created_fail:duplicate",
            Self::EmailVerified => "user_updated:email_verified",
            Self::EmailChanged => "user_updated:email",
            Self::ProfileChanged => "user_updated:profile",
            Self::PasswordChanged => "authn_password_change",
            Self::PasswordResetRequested => "authn_password_reset_request",
            Self::AccountTokenRejected => "authn_token_invalid",
            Self::AccountDeleted => "user_deleted",
            Self::OrderLookupFailed => "authn_fail:order_lookup",
            Self::OrderLookupThrottled => "excess_rate_limit_exceeded:order_lookup",
            Self::OrderLinkRejected => "authn_token_invalid:order_link",
            Self::StaffLoginFailed => "authn_login_fail:staff",
            Self::MfaFailed => "authn_login_fail:mfa",
            Self::ReadBudgetExceeded => "authz_fail:read_budget",
            Self::StaffAccessDenied => "authz_fail:staff",
            Self::PersonalDataRead => "sensitive_read:personal_data",
            Self::ExportDownloaded => "sensitive_read:export",
            Self::RequestProbe => "malicious_attack_tool:probe",
            Self::ScannerSeen => "malicious_attack_tool:scanner",
            Self::ServerError => "sys_error:5xx",
            Self::ApiTokenRejected => "authn_token_invalid:api",
            Self::HoneytokenTouched => "malicious_honeytoken",
            Self::SourceBlocked => "malicious_blocked_source",
            Self::CardCheckoutStarted => "payment_card_checkout",
            Self::CardDeclined => "payment_card_declined",
            Self::StaffChanged => "privilege_staff_changed",
            Self::ExportRequested => "sensitive_read:export_requested",
            Self::ForgedMailReported => "phishing_forged_mail_reported",
            Self::ReceiptAddressed => "user_updated:receipt_addressee",
            Self::ReceiptIssued => "sensitive_read:receipt",
        }
    }
}

/// One event. `subject` is an internal id (customer or staff id), never an email or a name.
#[derive(Debug, Clone)]
pub struct SecurityEvent {
    pub kind: SecurityEventKind,
    pub ip: Option<IpAddr>,
    pub request_id: Option<String>,
    pub subject: Option<i64>,
    /// A fixed word about the event (a rule id, a place), never typed input.
    pub detail: Option<&'static str>,
}

impl SecurityEvent {
    pub fn new(kind: SecurityEventKind) -> Self {
        Self {
            kind,
            ip: None,
            request_id: None,
            subject: None,
            detail: None,
        }
    }
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }
    pub fn request(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_string());
        self
    }
    pub fn subject(mut self, id: i64) -> Self {
        self.subject = Some(id);
        self
    }
    pub fn detail(mut self, detail: &'static str) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// The guard's intake. Implementations must not block the request for long.
pub trait SecurityEvents: Send + Sync {
    fn record(&self, event: SecurityEvent);
}

/// Writes each event as a structured log line under the `kura::security` target.
///
/// A client IP kept beyond a day is personal data, and logs are kept longer than that, so an IP
/// never appears in a log line as itself: it is written as a keyed pseudonym (a blind index of
/// the Japanese date and the address) that lets one day's lines be tied together, changes every
/// day, and cannot be turned back into the address without the shop's key. Without a key, the
/// IP is left out.
#[derive(Default)]
pub struct LogEvents {
    vault: Option<std::sync::Arc<crate::vault::Vault>>,
    clock: Option<std::sync::Arc<dyn crate::clock::Clock>>,
}

impl LogEvents {
    /// Log lines with client IPs as daily pseudonyms under the shop's key.
    pub fn with_pseudonyms(
        vault: std::sync::Arc<crate::vault::Vault>,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Self {
        Self {
            vault: Some(vault),
            clock: Some(clock),
        }
    }

    /// `ip-` and 16 hex digits, or `None` without a key.
    pub fn pseudonym(&self, ip: IpAddr) -> Option<String> {
        let (vault, clock) = (self.vault.as_ref()?, self.clock.as_ref()?);
        let day = kura_domain::Date::today_in_japan(clock.now()).iso();
        let index = vault
            .ring()
            .blind_index(
                crate::sealed::col::LOG_IP,
                &format!("{day}|{ip}"),
                kura_seal::Normalize::Text,
            )
            .ok()?;
        let bytes = index.as_bytes();
        Some(format!("ip-{}", hex::encode(bytes.get(..8)?)))
    }
}

impl std::fmt::Debug for LogEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEvents")
            .field("pseudonyms", &self.vault.is_some())
            .finish()
    }
}

impl SecurityEvents for LogEvents {
    fn record(&self, e: SecurityEvent) {
        tracing::warn!(
            target: "kura::security",
            event = e.kind.name(),
            ip = e.ip.and_then(|ip| self.pseudonym(ip)),
            request_id = e.request_id,
            subject = e.subject,
            detail = e.detail,
            "security event"
        );
    }
}
