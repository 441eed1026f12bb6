//! `StripeCheckout`: the payment port on the public Stripe Checkout protocol subset.
//!
//! Guarantees:
//! - Kura sends only the amount, a description, the order number and the return URLs; the card
//!   is typed on the provider's hosted page, with 3-D Secure requested for every card
//!   (`payment_method_options[card][request_three_d_secure]=any`), so Kura stays in PCI SAQ A;
//! - every session creation carries the request's `Idempotency-Key` (the order number for the
//!   first session of an order), so a retried request after a timeout yields the same session
//!   instead of a second one;
//! - a session is closed with `POST /v1/checkout/sessions/{id}/expire` before the shop hands out
//!   a fresh one or cancels the order; when the provider refuses because the session is no
//!   longer open, the session is read back to tell a paid one from an expired one;
//! - the secret key is sent only in the `Authorization` header, is never printed by `Debug`,
//!   and is scrubbed from any error text before it leaves this module;
//! - a notification is acted on only after its signature and age verify (see
//!   [`crate::signature`]), and only `checkout.session.completed` with `payment_status=paid`
//!   becomes `Paid`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use kura_app::payments::{
    CheckoutRequest, CheckoutSession, PaymentError, PaymentGateway, PaymentNotification,
    PaymentOutcome, RefundReceipt, SessionClosed, StoreVoucher,
};
use kura_domain::{KONBINI_DAYS, PaymentMethod};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::signature;

/// Stripe's production API origin.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// How to reach the provider and the secrets shared with it.
pub struct StripeConfig {
    /// `https://api.stripe.com`, or the sandbox's `http://127.0.0.1:8091`. No trailing slash
    /// needed.
    pub api_base: String,
    /// `sk_live_...` / `sk_test_...`.
    pub secret_key: SecretString,
    /// The webhook endpoint's signing secret, `whsec_...`.
    pub webhook_secret: SecretString,
    /// Accepted distance between a notification's timestamp and now, in seconds.
    pub tolerance_seconds: i64,
}

impl StripeConfig {
    /// A config with Stripe's default tolerance (300 s).
    pub fn new(
        api_base: impl Into<String>,
        secret_key: SecretString,
        webhook_secret: SecretString,
    ) -> Self {
        Self {
            api_base: api_base.into(),
            secret_key,
            webhook_secret,
            tolerance_seconds: signature::DEFAULT_TOLERANCE_SECONDS,
        }
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .field("secret_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("tolerance_seconds", &self.tolerance_seconds)
            .finish()
    }
}

/// Errors building the adapter (the HTTP client could not be set up).
#[derive(Debug, thiserror::Error)]
pub enum StripeSetupError {
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("the API base must start with http:// or https://: {0}")]
    ApiBase(String),
    /// Without it no notification verifies, so paid card orders would expire unpaid.
    #[error("the {0} is empty")]
    MissingSecret(&'static str),
}

/// The `PaymentGateway` adapter for Stripe Checkout (and the local sandbox).
pub struct StripeCheckout {
    config: StripeConfig,
    api_base: String,
    http: reqwest::Client,
}

impl fmt::Debug for StripeCheckout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeCheckout")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Builds the HTTP client used for provider calls and sandbox webhooks.
///
/// TLS is rustls with the ring provider only: reqwest is built with `rustls-no-provider`, and
/// we install ring as the process-wide default here (a no-op when a provider is already
/// installed, which in this workspace can only be ring). Roots come from the operating system
/// through `rustls-platform-verifier`, so nothing is downloaded at build time. Redirects are
/// off: an API answer that redirects is an error, not something to follow with our key.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    // An Err only means a default provider is already installed; that is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .build()
}

impl StripeCheckout {
    /// Builds the adapter. Fails if the HTTP client cannot be set up, the API base is not an
    /// http(s) URL, or a secret is empty.
    pub fn new(config: StripeConfig) -> Result<Self, StripeSetupError> {
        let api_base = config.api_base.trim_end_matches('/').to_owned();
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            return Err(StripeSetupError::ApiBase(api_base));
        }
        if config.webhook_secret.expose_secret().trim().is_empty() {
            return Err(StripeSetupError::MissingSecret(
                "webhook signing secret (whsec_...)",
            ));
        }
        if config.secret_key.expose_secret().trim().is_empty() {
            return Err(StripeSetupError::MissingSecret("secret API key (sk_...)"));
        }
        let http = http_client(Duration::from_secs(30))?;
        Ok(Self {
            config,
            api_base,
            http,
        })
    }

    /// The form fields of a session creation, in the order Stripe documents them.
    fn session_form(request: &CheckoutRequest) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("mode", "payment".to_owned()),
            ("line_items[0][price_data][currency]", "jpy".to_owned()),
            (
                "line_items[0][price_data][unit_amount]",
                request.amount_yen.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                request.description.clone(),
            ),
            ("line_items[0][quantity]", "1".to_owned()),
            ("success_url", request.success_url.clone()),
            ("cancel_url", request.cancel_url.clone()),
            ("client_reference_id", request.order_number.clone()),
            // Copied onto the payment intent, so that a declined card's event names the order.
            (
                "payment_intent_data[metadata][order_number]",
                request.order_number.clone(),
            ),
            ("locale", request.locale.clone()),
            ("expires_at", request.expires_at.to_string()),
        ];
        if request.method == PaymentMethod::Konbini {
            // The page issues a payment number; the store takes cash until the number's
            // last day ends (Japan time).
            form.push(("payment_method_types[0]", "konbini".to_owned()));
            form.push((
                "payment_method_options[konbini][expires_after_days]",
                KONBINI_DAYS.to_string(),
            ));
        } else {
            form.push(("payment_method_types[0]", "card".to_owned()));
            // Ask for 3-D Secure on every card, not only when the issuer demands it (Japan's
            // card-security guidelines expect EMV 3-DS for all online card payments).
            form.push((
                "payment_method_options[card][request_three_d_secure]",
                "any".to_owned(),
            ));
        }
        form
    }

    /// Removes the secret key from text that might be shown or logged. Stripe masks keys in
    /// its own messages, but a proxy or a misconfigured sandbox might not.
    fn scrub(&self, text: &str) -> String {
        let key = self.config.secret_key.expose_secret();
        if key.is_empty() {
            text.to_owned()
        } else {
            text.replace(key, "[redacted]")
        }
    }

    fn provider_error(&self, text: &str) -> PaymentError {
        PaymentError::Provider(self.scrub(text))
    }

    /// Sends an authorised API call and reads its answer: `(status, body)`.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), PaymentError> {
        let response = request
            .bearer_auth(self.config.secret_key.expose_secret())
            .send()
            .await
            // `without_url` keeps the message short; the URL holds no secret either way.
            .map_err(|e| self.provider_error(&e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.provider_error(&e.without_url().to_string()))?;
        Ok((status, body.to_vec()))
    }

    /// The provider's refusal as one line: status, error type and message.
    fn refusal(&self, status: reqwest::StatusCode, body: &[u8]) -> PaymentError {
        let message = match serde_json::from_slice::<ErrorAnswer>(body) {
            Ok(ErrorAnswer { error }) => format!(
                "{} ({}): {}",
                status.as_u16(),
                error.kind.as_deref().unwrap_or("error"),
                error.message.as_deref().unwrap_or("no message")
            ),
            Err(_) => format!("{} without an error body", status.as_u16()),
        };
        self.provider_error(&message)
    }
}

/// A session id as providers make them (`cs_test_…`), safe to put in a URL path.
fn valid_session_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `{"status","payment_status","payment_intent"}` of a session read back.
#[derive(Deserialize)]
struct SessionState {
    status: Option<String>,
    payment_status: Option<String>,
    payment_intent: Option<String>,
}

/// `{"id","amount","status"}` of a created refund.
#[derive(Deserialize)]
struct RefundAnswer {
    id: String,
    amount: i64,
    status: Option<String>,
}

/// `{"id","url"}` of a created session; other fields are ignored.
#[derive(Deserialize)]
struct SessionAnswer {
    id: String,
    url: Option<String>,
}

/// A payment intent read back: only its convenience-store voucher matters here.
#[derive(Deserialize)]
struct IntentState {
    next_action: Option<NextAction>,
}

#[derive(Deserialize)]
struct NextAction {
    konbini_display_details: Option<KonbiniDetails>,
}

#[derive(Deserialize)]
struct KonbiniDetails {
    expires_at: i64,
    hosted_voucher_url: String,
}

/// `{"error":{"message":...}}`, Stripe's error body.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[async_trait]
impl PaymentGateway for StripeCheckout {
    fn checkout_origin(&self) -> String {
        // Stripe serves its API and its hosted checkout pages from different hosts; a
        // Stripe-compatible server (the sandbox) serves both from one.
        if self.api_base.contains("://api.stripe.com") {
            "https://checkout.stripe.com".to_owned()
        } else {
            let after_scheme = self.api_base.find("://").map_or(0, |i| i + 3);
            let end = self
                .api_base
                .get(after_scheme..)
                .and_then(|rest| rest.find('/'))
                .map_or(self.api_base.len(), |i| after_scheme + i);
            self.api_base
                .get(..end)
                .unwrap_or(&self.api_base)
                .to_owned()
        }
    }

    #[tracing::instrument(skip_all, fields(order = %request.order_number))]
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        let url = format!("{}/v1/checkout/sessions", self.api_base);
        let (status, body) = self
            .call(
                self.http
                    .post(&url)
                    .header("Idempotency-Key", &request.idempotency_key)
                    .form(&Self::session_form(request)),
            )
            .await?;
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "checkout session refused");
            return Err(self.refusal(status, &body));
        }
        let answer: SessionAnswer = serde_json::from_slice(&body)
            .map_err(|e| self.provider_error(&format!("unreadable session answer: {e}")))?;
        let Some(url) = answer.url else {
            return Err(self.provider_error("the session answer has no url"));
        };
        Ok(CheckoutSession { id: answer.id, url })
    }

    #[tracing::instrument(skip_all)]
    async fn expire_checkout(&self, session_id: &str) -> Result<SessionClosed, PaymentError> {
        if !valid_session_id(session_id) {
            return Err(self.provider_error("malformed session id"));
        }
        let url = format!("{}/v1/checkout/sessions/{session_id}", self.api_base);
        let (status, body) = self.call(self.http.post(format!("{url}/expire"))).await?;
        if status.is_success() {
            return Ok(SessionClosed::Unpaid);
        }
        // Refused: the session is no longer open (or does not exist). Read how it ended.
        let refused = self.refusal(status, &body);
        let (status, body) = self.call(self.http.get(&url)).await?;
        if !status.is_success() {
            return Err(refused);
        }
        let state: SessionState = serde_json::from_slice(&body)
            .map_err(|e| self.provider_error(&format!("unreadable session answer: {e}")))?;
        match (state.status.as_deref(), state.payment_status.as_deref()) {
            (Some("complete"), Some("paid")) => Ok(SessionClosed::Paid),
            (Some("expired"), _) => Ok(SessionClosed::Unpaid),
            _ => Err(refused),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn refund(
        &self,
        session_id: &str,
        amount_yen: i64,
        idempotency_key: &str,
    ) -> Result<RefundReceipt, PaymentError> {
        if !valid_session_id(session_id) {
            return Err(self.provider_error("malformed session id"));
        }
        if amount_yen <= 0 {
            return Err(self.provider_error("a refund must be of a positive amount"));
        }
        // A Checkout Session is refunded through the payment it created.
        let url = format!("{}/v1/checkout/sessions/{session_id}", self.api_base);
        let (status, body) = self.call(self.http.get(&url)).await?;
        if !status.is_success() {
            return Err(self.refusal(status, &body));
        }
        let state: SessionState = serde_json::from_slice(&body)
            .map_err(|e| self.provider_error(&format!("unreadable session answer: {e}")))?;
        let Some(intent) = state
            .payment_intent
            .filter(|_| state.payment_status.as_deref() == Some("paid"))
        else {
            return Err(self.provider_error("the session holds no completed payment"));
        };
        let form = [
            ("payment_intent", intent),
            ("amount", amount_yen.to_string()),
            ("reason", "requested_by_customer".to_owned()),
        ];
        let (status, body) = self
            .call(
                self.http
                    .post(format!("{}/v1/refunds", self.api_base))
                    .header("Idempotency-Key", idempotency_key)
                    .form(&form),
            )
            .await?;
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "refund refused");
            return Err(self.refusal(status, &body));
        }
        let answer: RefundAnswer = serde_json::from_slice(&body)
            .map_err(|e| self.provider_error(&format!("unreadable refund answer: {e}")))?;
        match answer.status.as_deref() {
            Some("succeeded") | Some("pending") => Ok(RefundReceipt {
                pending: answer.status.as_deref() == Some("pending"),
                id: answer.id,
                amount_yen: answer.amount,
            }),
            other => Err(self.provider_error(&format!(
                "the refund ended as {}",
                other.unwrap_or("unknown")
            ))),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn store_voucher(&self, payment_intent: &str) -> Result<StoreVoucher, PaymentError> {
        if !valid_session_id(payment_intent) {
            return Err(self.provider_error("malformed payment intent id"));
        }
        let url = format!("{}/v1/payment_intents/{payment_intent}", self.api_base);
        let (status, body) = self.call(self.http.get(&url)).await?;
        if !status.is_success() {
            return Err(self.refusal(status, &body));
        }
        let state: IntentState = serde_json::from_slice(&body)
            .map_err(|e| self.provider_error(&format!("unreadable payment intent: {e}")))?;
        let Some(details) = state.next_action.and_then(|a| a.konbini_display_details) else {
            return Err(self.provider_error("the payment holds no convenience-store voucher"));
        };
        if !(details.hosted_voucher_url.starts_with("https://")
            || details.hosted_voucher_url.starts_with("http://"))
        {
            return Err(self.provider_error("the voucher's page is not a web address"));
        }
        Ok(StoreVoucher {
            url: details.hosted_voucher_url,
            expires_at: details.expires_at,
        })
    }

    fn verify_notification(
        &self,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<PaymentNotification, PaymentError> {
        signature::verify(
            self.config.webhook_secret.expose_secret().as_bytes(),
            signature_header,
            body,
            now,
            self.config.tolerance_seconds,
        )?;
        parse_event(body)
    }
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: RawEventData,
}

#[derive(Deserialize)]
struct RawEventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct SessionObject {
    id: String,
    client_reference_id: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
    payment_status: Option<String>,
    payment_intent: Option<String>,
    #[serde(default)]
    payment_method_types: Vec<String>,
}

#[derive(Deserialize)]
struct IntentObject {
    id: String,
    amount: Option<i64>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

/// A card declined on a session's page: the payment intent names its order in the metadata
/// the session was created with.
fn parse_declined(
    event_id: String,
    object: serde_json::Value,
) -> Result<PaymentNotification, PaymentError> {
    let intent: IntentObject = serde_json::from_value(object)
        .map_err(|e| PaymentError::Unsupported(format!("malformed payment intent: {e}")))?;
    let order_number = intent
        .metadata
        .get("order_number")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| PaymentError::Unsupported("payment intent without an order".into()))?;
    Ok(PaymentNotification {
        event_id,
        payment_intent: Some(intent.id.clone()),
        session_id: intent.id,
        order_number,
        amount_yen: intent.amount.unwrap_or(0),
        outcome: PaymentOutcome::Declined,
    })
}

/// Parses an already verified event body. Only called after the signature checked out, so the
/// error texts may name what was wrong without helping a forger.
pub fn parse_event(body: &[u8]) -> Result<PaymentNotification, PaymentError> {
    let event: RawEvent = serde_json::from_slice(body)
        .map_err(|e| PaymentError::Unsupported(format!("malformed event: {e}")))?;
    let outcome = match event.kind.as_str() {
        "payment_intent.payment_failed" => return parse_declined(event.id, event.data.object),
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            PaymentOutcome::Paid
        }
        "checkout.session.expired" | "checkout.session.async_payment_failed" => {
            PaymentOutcome::Expired
        }
        other => return Err(PaymentError::Unsupported(format!("event type {other}"))),
    };
    let session: SessionObject = serde_json::from_value(event.data.object)
        .map_err(|e| PaymentError::Unsupported(format!("malformed session: {e}")))?;
    // A completed session is unpaid for a delayed method: a convenience-store session completes
    // when its payment number is issued, and is paid later (`async_payment_succeeded`). Only a
    // captured payment counts as paid.
    let konbini = session.payment_method_types.iter().any(|t| t == "konbini");
    let outcome = match (outcome, session.payment_status.as_deref()) {
        (PaymentOutcome::Paid, Some("paid")) => PaymentOutcome::Paid,
        (PaymentOutcome::Paid, Some("unpaid"))
            if konbini && event.kind == "checkout.session.completed" =>
        {
            PaymentOutcome::VoucherIssued
        }
        (PaymentOutcome::Paid, status) => {
            return Err(PaymentError::Unsupported(format!(
                "completed session with payment_status {}",
                status.unwrap_or("missing")
            )));
        }
        (other, _) => other,
    };
    // `amount_total` is in the currency's minor unit; only yen (which has none) means yen.
    if let Some(currency) = session.currency.as_deref().filter(|c| *c != "jpy") {
        return Err(PaymentError::Unsupported(format!("currency {currency}")));
    }
    let order_number = session
        .client_reference_id
        .filter(|reference| !reference.is_empty())
        .ok_or_else(|| PaymentError::Unsupported("session without client_reference_id".into()))?;
    let amount_yen = session
        .amount_total
        .ok_or_else(|| PaymentError::Unsupported("session without amount_total".into()))?;
    Ok(PaymentNotification {
        event_id: event.id,
        session_id: session.id,
        order_number,
        amount_yen,
        outcome,
        payment_intent: session.payment_intent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payment_status: &str) -> Vec<u8> {
        serde_json::json!({
            "id": "evt_1",
            "object": "event",
            "type": kind,
            "created": 1,
            "data": {"object": {
                "id": "cs_test_1",
                "object": "checkout.session",
                "client_reference_id": "K-2026-000001",
                "amount_total": 3300,
                "payment_status": payment_status,
            }}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn completed_and_paid_is_paid() {
        let parsed = parse_event(&event("checkout.session.completed", "paid"));
        assert_eq!(
            parsed,
            Ok(PaymentNotification {
                event_id: "evt_1".into(),
                session_id: "cs_test_1".into(),
                order_number: "K-2026-000001".into(),
                amount_yen: 3300,
                outcome: PaymentOutcome::Paid,
                payment_intent: None,
            })
        );
    }

    fn konbini_event(kind: &str, payment_status: &str) -> Vec<u8> {
        serde_json::json!({
            "id": "evt_2",
            "type": kind,
            "data": {"object": {
                "id": "cs_test_2",
                "client_reference_id": "K-2026-000002",
                "amount_total": 5500,
                "payment_status": payment_status,
                "payment_intent": "pi_test_2",
                "payment_method_types": ["konbini"],
            }}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_convenience_store_session_issues_a_voucher_then_is_paid_or_lapses() {
        let issued = parse_event(&konbini_event("checkout.session.completed", "unpaid"));
        assert_eq!(
            issued
                .as_ref()
                .map(|n| (n.outcome, n.payment_intent.as_deref())),
            Ok((PaymentOutcome::VoucherIssued, Some("pi_test_2")))
        );
        let paid = parse_event(&konbini_event(
            "checkout.session.async_payment_succeeded",
            "paid",
        ));
        assert_eq!(paid.map(|n| n.outcome), Ok(PaymentOutcome::Paid));
        let lapsed = parse_event(&konbini_event(
            "checkout.session.async_payment_failed",
            "unpaid",
        ));
        assert_eq!(lapsed.map(|n| n.outcome), Ok(PaymentOutcome::Expired));
        // "Succeeded" that is not paid is not taken for money.
        assert!(matches!(
            parse_event(&konbini_event(
                "checkout.session.async_payment_succeeded",
                "unpaid"
            )),
            Err(PaymentError::Unsupported(_))
        ));
    }

    #[test]
    fn completed_but_unpaid_is_not_paid() {
        assert!(matches!(
            parse_event(&event("checkout.session.completed", "unpaid")),
            Err(PaymentError::Unsupported(_))
        ));
    }

    #[test]
    fn expired_is_expired() {
        let parsed = parse_event(&event("checkout.session.expired", "unpaid"));
        assert_eq!(parsed.map(|n| n.outcome), Ok(PaymentOutcome::Expired));
    }

    #[test]
    fn other_types_are_unsupported() {
        assert!(matches!(
            parse_event(&event("payment_intent.succeeded", "paid")),
            Err(PaymentError::Unsupported(_))
        ));
        assert!(matches!(
            parse_event(b"not json"),
            Err(PaymentError::Unsupported(_))
        ));
    }

    #[test]
    fn other_currencies_are_unsupported() {
        let body = String::from_utf8(event("checkout.session.completed", "paid"))
            .unwrap_or_default()
            .replace("\"amount_total\"", "\"currency\":\"usd\",\"amount_total\"");
        assert!(matches!(
            parse_event(body.as_bytes()),
            Err(PaymentError::Unsupported(m)) if m.contains("usd")
        ));
    }

    #[test]
    fn debug_prints_no_secret() {
        let config = StripeConfig::new(
            "https://api.stripe.com",
            SecretString::from("sk_test_supersecret"),
            SecretString::from("whsec_supersecret"),
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        assert!(printed.contains("api.stripe.com"));
        let adapter = StripeCheckout::new(config);
        let printed = format!("{adapter:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
    }

    #[test]
    fn empty_secrets_are_refused() {
        let build = |key: &str, hook: &str| {
            StripeCheckout::new(StripeConfig::new(
                "https://api.stripe.com",
                SecretString::from(key),
                SecretString::from(hook),
            ))
        };
        let e = build("sk_test_x", "").unwrap_err().to_string();
        assert!(e.contains("webhook signing secret"), "{e}");
        let e = build("", "whsec_x").unwrap_err().to_string();
        assert!(e.contains("secret API key"), "{e}");
        assert!(build("sk_test_x", "whsec_x").is_ok());
    }

    #[test]
    fn form_asks_for_three_d_secure_and_card_only() {
        let request = CheckoutRequest {
            order_number: "K-1".into(),
            amount_yen: 1200,
            description: "Kura order K-1".into(),
            success_url: "https://shop/ok".into(),
            cancel_url: "https://shop/cancel".into(),
            locale: "ja".into(),
            expires_at: 2_000_000_000,
            idempotency_key: "K-1".into(),
            method: PaymentMethod::Card,
        };
        let form = StripeCheckout::session_form(&request);
        let has = |k: &str, v: &str| form.iter().any(|(key, value)| *key == k && value == v);
        assert!(has(
            "payment_method_options[card][request_three_d_secure]",
            "any"
        ));
        assert!(has("payment_method_types[0]", "card"));
        assert!(has("line_items[0][price_data][unit_amount]", "1200"));
        assert!(has("client_reference_id", "K-1"));
        let konbini = StripeCheckout::session_form(&CheckoutRequest {
            method: PaymentMethod::Konbini,
            ..request
        });
        let has = |k: &str, v: &str| konbini.iter().any(|(key, value)| *key == k && value == v);
        assert!(has("payment_method_types[0]", "konbini"));
        assert!(has(
            "payment_method_options[konbini][expires_after_days]",
            "3"
        ));
        assert!(!konbini.iter().any(|(key, _)| key.contains("[card]")));
    }
}
