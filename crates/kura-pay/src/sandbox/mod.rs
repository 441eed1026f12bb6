//! The payment sandbox: a local stand-in for the provider, speaking the same Stripe Checkout
//! subset as [`crate::StripeCheckout`] on its own port and origin.
//!
//! Guarantees:
//! - session creation needs the configured secret key (compared in constant time), refuses
//!   parameters outside the subset (as Stripe refuses unknown parameters), and honours
//!   `Idempotency-Key`: the same key with the same parameters yields the same session, with
//!   other parameters an `idempotency_error`;
//! - card data typed on `/pay/{id}` lives only for the request: it is never logged, never put
//!   in a session, an event or a page, and its buffers are zeroized when dropped;
//! - a session is paid at most once, and never after `expires_at`; every payment and every
//!   expiry produces exactly one signed event (`Stripe-Signature`, as Stripe signs), delivered
//!   to the webhook URL with retries and exponential backoff until it answers 2xx;
//! - all state is in memory and disappears with the process.
//!
//! Start it in-process with [`start`] (port 0 works), or from the CLI with `kura-paysandbox`.

mod card;
mod pages;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use zeroize::Zeroizing;

pub use card::{CardError, TestCard, luhn_valid};

use crate::signature;

/// How the sandbox runs.
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The origin put in session URLs; defaults to `http://<bound address>`.
    pub public_url: Option<String>,
    /// The API key clients must send as `Authorization: Bearer ...`.
    pub secret_key: SecretString,
    /// Where events are POSTed; without it events are only logged (by id and type).
    pub webhook_url: Option<String>,
    /// The endpoint secret events are signed with.
    pub webhook_secret: SecretString,
    /// Delivery attempts per event, including the first.
    pub webhook_attempts: u32,
    /// Wait before the first retry; doubled for each further retry.
    pub webhook_backoff: Duration,
    /// How often open sessions are checked for expiry.
    pub expiry_sweep: Duration,
}

/// The defaults the CLI documents.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8091";
pub const DEFAULT_SECRET_KEY: &str = "sk_test_kura_sandbox";
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_kura_sandbox";

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8091)),
            public_url: None,
            secret_key: SecretString::from(DEFAULT_SECRET_KEY),
            webhook_url: None,
            webhook_secret: SecretString::from(DEFAULT_WEBHOOK_SECRET),
            webhook_attempts: 5,
            webhook_backoff: Duration::from_secs(1),
            expiry_sweep: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("secret_key", &"[redacted]")
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"[redacted]")
            .field("webhook_attempts", &self.webhook_attempts)
            .field("webhook_backoff", &self.webhook_backoff)
            .field("expiry_sweep", &self.expiry_sweep)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the sandbox server failed: {0}")]
    Serve(std::io::Error),
    #[error("the webhook HTTP client could not be built: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A started sandbox. Dropping it (or calling [`RunningSandbox::shutdown`]) stops the server.
pub struct RunningSandbox {
    addr: SocketAddr,
    state: Arc<SandboxState>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), std::io::Error>>,
}

impl RunningSandbox {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The origin clients use, without a trailing slash: `http://127.0.0.1:8091`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// Moves the sandbox's clock forward, so tests can expire sessions without waiting.
    pub fn advance_clock(&self, seconds: i64) {
        self.state.clock_offset.fetch_add(seconds, Ordering::SeqCst);
    }

    /// The sandbox's current time in unix seconds (the real clock plus any advance).
    pub fn now(&self) -> i64 {
        self.state.now()
    }

    /// Runs until the server stops (for the CLI).
    pub async fn wait(self) -> Result<(), SandboxError> {
        let Self { server, stop, .. } = self;
        let result = server.await?.map_err(SandboxError::Serve);
        drop(stop);
        result
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn shutdown(self) -> Result<(), SandboxError> {
        let _ = self.stop.send(true);
        self.server.await?.map_err(SandboxError::Serve)
    }
}

/// Binds, starts the server and the expiry sweeper, and returns at once.
pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.listen,
        source,
    })?;
    let base_url = config
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{addr}"));
    let state = Arc::new(SandboxState {
        http: crate::stripe::http_client(Duration::from_secs(10))?,
        config,
        base_url,
        clock_offset: AtomicI64::new(0),
        inner: Mutex::new(Inner::default()),
    });
    let (stop, stopped) = watch::channel(false);

    let app = router(Arc::clone(&state));
    let mut server_stop = stopped.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // Err means the handle was dropped: stop too.
                let _ = server_stop.changed().await;
            })
            .await
    });

    let sweeper_state = Arc::clone(&state);
    let mut sweeper_stop = stopped;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sweeper_state.config.expiry_sweep);
        loop {
            tokio::select! {
                _ = tick.tick() => sweep_expired(&sweeper_state),
                _ = sweeper_stop.changed() => break,
            }
        }
    });

    tracing::info!(%addr, "payment sandbox listening");
    Ok(RunningSandbox {
        addr,
        state,
        stop,
        server,
    })
}

fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/", get(index_get))
        .route("/v1/checkout/sessions", post(sessions_post))
        .route("/v1/checkout/sessions/{id}", get(session_get))
        .route(
            "/v1/checkout/sessions/{id}/expire",
            post(session_expire_post),
        )
        .route("/v1/refunds", post(refunds_post))
        .route("/pay/{id}", get(pay_get).post(pay_post))
        .route("/3ds/{id}", get(three_ds_get).post(three_ds_post))
        .route("/cancel/{id}", get(cancel_get))
        .route("/v1/payment_intents/{id}", get(intent_get))
        .route("/voucher/{intent}", get(voucher_get))
        .route("/voucher/{intent}/pay", post(voucher_pay_post))
        .with_state(state)
}

struct SandboxState {
    config: SandboxConfig,
    base_url: String,
    clock_offset: AtomicI64,
    inner: Mutex<Inner>,
    http: reqwest::Client,
}

impl SandboxState {
    fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        real.saturating_add(self.clock_offset.load(Ordering::SeqCst))
    }

    /// A panic while holding the lock cannot leave a session half-updated in a way that matters
    /// more than refusing all further work, so we keep going with the inner value.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    /// Idempotency key → (the sorted parameters first used with it, the session id).
    idempotency: HashMap<String, (Vec<(String, String)>, String)>,
    /// Refund idempotency key → (the sorted parameters first used with it, the refund).
    refunds: HashMap<String, (Vec<(String, String)>, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Open,
    Complete,
    Expired,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    created: i64,
    amount_total: i64,
    description: String,
    success_url: String,
    cancel_url: String,
    client_reference_id: Option<String>,
    locale: String,
    expires_at: i64,
    status: Status,
    paid: bool,
    /// The card asked for 3-D Secure and the challenge is not answered yet.
    awaiting_challenge: bool,
    /// The payment the session created once paid (`pi_test_…`); refunds name it.
    payment_intent: Option<String>,
    /// Yen already given back.
    refunded: i64,
    /// `payment_intent_data[metadata][…]`, copied onto the payment's events.
    intent_metadata: serde_json::Map<String, Value>,
    /// For a convenience-store session, the days its payment number stays valid; `None` for a
    /// card session.
    konbini_days: Option<i64>,
    /// The payment number issued on the page (convenience-store sessions only).
    voucher: Option<Voucher>,
}

/// A convenience-store payment number: the customer pays cash at the chosen chain before the
/// deadline; the sandbox's voucher page has a test button that plays the store's part.
#[derive(Debug, Clone)]
struct Voucher {
    store: String,
    payment_code: String,
    confirmation: String,
    expires_at: i64,
    /// The deadline passed unpaid (one `async_payment_failed` event was sent).
    lapsed: bool,
}

/// The convenience-store chains a payment number can be used at: (code, Japanese, English).
const KONBINI_STORES: [(&str, &str, &str); 4] = [
    ("familymart", "ファミリーマート", "FamilyMart"),
    ("lawson", "ローソン", "Lawson"),
    ("ministop", "ミニストップ", "Ministop"),
    ("seicomart", "セイコーマート", "Seicomart"),
];

/// `digits` random decimal digits.
fn random_digits(digits: usize) -> Option<String> {
    let mut buf = vec![0u8; digits];
    getrandom::fill(&mut buf).ok()?;
    Some(buf.iter().map(|b| char::from(b'0' + b % 10)).collect())
}

/// The last second of the day `days` after `now`'s day, in Japan.
fn end_of_japanese_day(now: i64, days: i64) -> i64 {
    let day = (now + JST_SECONDS).div_euclid(86_400);
    (day + days + 1) * 86_400 - JST_SECONDS - 1
}

impl Session {
    fn to_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "object": "checkout.session",
            "livemode": false,
            "mode": "payment",
            "created": self.created,
            "expires_at": self.expires_at,
            "currency": "jpy",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "client_reference_id": self.client_reference_id,
            "locale": self.locale,
            "payment_method_types": [if self.konbini_days.is_some() { "konbini" } else { "card" }],
            "payment_status": if self.paid { "paid" } else { "unpaid" },
            "payment_intent": self.payment_intent,
            "status": self.status.as_str(),
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
            // Stripe clears the URL once the session can no longer be paid.
            "url": if self.status == Status::Open {
                Value::String(format!("{base_url}/pay/{}", self.id))
            } else {
                Value::Null
            },
            "metadata": {},
        })
    }

    /// The payment intent as `GET /v1/payment_intents/{id}` answers it; a convenience-store
    /// payment carries its voucher in `next_action`.
    fn intent_json(&self, base_url: &str) -> Value {
        let status = match (&self.voucher, self.paid) {
            (_, true) => "succeeded",
            (Some(v), false) if v.lapsed => "canceled",
            (Some(_), false) => "requires_action",
            (None, false) => "requires_payment_method",
        };
        let next_action = match (&self.voucher, self.payment_intent.as_deref()) {
            (Some(v), Some(intent)) if !self.paid && !v.lapsed => {
                let mut stores = serde_json::Map::new();
                for (code, _, _) in KONBINI_STORES {
                    let numbers = if code == v.store {
                        json!({"confirmation_number": v.confirmation, "payment_code": v.payment_code})
                    } else {
                        Value::Null
                    };
                    stores.insert(code.to_owned(), numbers);
                }
                json!({
                    "type": "konbini_display_details",
                    "konbini_display_details": {
                        "expires_at": v.expires_at,
                        "hosted_voucher_url": format!("{base_url}/voucher/{intent}"),
                        "stores": stores,
                    }
                })
            }
            _ => Value::Null,
        };
        json!({
            "id": self.payment_intent,
            "object": "payment_intent",
            "amount": self.amount_total,
            "currency": "jpy",
            "livemode": false,
            "metadata": self.intent_metadata,
            "payment_method_types": [if self.konbini_days.is_some() { "konbini" } else { "card" }],
            "status": status,
            "next_action": next_action,
        })
    }

    /// Marks an issued, unpaid voucher past its deadline as lapsed; true when that happened
    /// now, so the caller emits the one `checkout.session.async_payment_failed` event.
    fn lapse_if_due(&mut self, now: i64) -> bool {
        match &mut self.voucher {
            Some(v) if !self.paid && !v.lapsed && now > v.expires_at => {
                v.lapsed = true;
                true
            }
            _ => false,
        }
    }

    /// Marks an open session past its deadline as expired; true when that happened now, so
    /// the caller emits the one `checkout.session.expired` event.
    fn expire_if_due(&mut self, now: i64) -> bool {
        if self.status == Status::Open && now >= self.expires_at {
            self.status = Status::Expired;
            self.awaiting_challenge = false;
            true
        } else {
            false
        }
    }
}

fn random_id(prefix: &str, bytes: usize) -> Option<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).ok()?;
    Some(format!("{prefix}{}", hex::encode(buf)))
}

// ---------------------------------------------------------------------------------------------
// Events and webhook delivery
// ---------------------------------------------------------------------------------------------

fn event_body(state: &SandboxState, kind: &str, session: &Session) -> Option<(String, Vec<u8>)> {
    let id = random_id("evt_test_", 12)?;
    let body = json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": state.now(),
        "livemode": false,
        "pending_webhooks": 1,
        "type": kind,
        "data": { "object": session.to_json(&state.base_url) },
    });
    serde_json::to_vec(&body).ok().map(|b| (id, b))
}

/// `payment_intent.payment_failed`, as Stripe sends it when a card on a session's page is
/// declined: the payment intent with the metadata the session was created with.
async fn emit_payment_failed(state: Arc<SandboxState>, session: Session) {
    let Some(id) = random_id("evt_test_", 12) else {
        return;
    };
    let body = json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": state.now(),
        "livemode": false,
        "pending_webhooks": 1,
        "type": "payment_intent.payment_failed",
        "data": { "object": {
            "id": session.payment_intent,
            "object": "payment_intent",
            "amount": session.amount_total,
            "currency": "jpy",
            "status": "requires_payment_method",
            "metadata": session.intent_metadata,
            "last_payment_error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined."
            }
        }},
    });
    let Ok(body) = serde_json::to_vec(&body) else {
        return;
    };
    send_event(state, "payment_intent.payment_failed", id, body).await;
}

/// Sends one event: the first attempt before returning (so a browser redirected afterwards
/// lands on a shop that already knows the result), later attempts in the background with
/// exponential backoff, each freshly signed as Stripe does for retries.
async fn emit(state: Arc<SandboxState>, kind: &'static str, session: Session) {
    let Some((event_id, body)) = event_body(&state, kind, &session) else {
        tracing::error!(session = %session.id, kind, "could not build event");
        return;
    };
    send_event(state, kind, event_id, body).await;
}

async fn send_event(state: Arc<SandboxState>, kind: &'static str, event_id: String, body: Vec<u8>) {
    let Some(url) = state.config.webhook_url.clone() else {
        tracing::info!(event = %event_id, kind, "no webhook URL configured; event not sent");
        return;
    };
    if deliver_once(&state, &url, &event_id, &body, 1).await {
        return;
    }
    tokio::spawn(async move {
        let mut wait = state.config.webhook_backoff;
        for attempt in 2..=state.config.webhook_attempts {
            tokio::time::sleep(wait).await;
            if deliver_once(&state, &url, &event_id, &body, attempt).await {
                return;
            }
            wait = wait.saturating_mul(2);
        }
        tracing::error!(event = %event_id, kind, "webhook delivery gave up");
    });
}

async fn deliver_once(
    state: &SandboxState,
    url: &str,
    event_id: &str,
    body: &[u8],
    attempt: u32,
) -> bool {
    let header_value = signature::header_value(
        state.config.webhook_secret.expose_secret().as_bytes(),
        state.now(),
        body,
    );
    let result = state
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(signature::SIGNATURE_HEADER, header_value)
        .body(body.to_vec())
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => {
            tracing::info!(event = %event_id, attempt, "webhook delivered");
            true
        }
        Ok(response) => {
            tracing::warn!(event = %event_id, attempt, status = response.status().as_u16(), "webhook refused");
            false
        }
        Err(error) => {
            tracing::warn!(event = %event_id, attempt, error = %error.without_url(), "webhook unreachable");
            false
        }
    }
}

fn sweep_expired(state: &Arc<SandboxState>) {
    let now = state.now();
    let (expired, lapsed): (Vec<Session>, Vec<Session>) = {
        let mut inner = state.lock();
        let expired = inner
            .sessions
            .values_mut()
            .filter_map(|s| s.expire_if_due(now).then(|| s.clone()))
            .collect();
        let lapsed = inner
            .sessions
            .values_mut()
            .filter_map(|s| s.lapse_if_due(now).then(|| s.clone()))
            .collect();
        (expired, lapsed)
    };
    for session in expired {
        tokio::spawn(emit(Arc::clone(state), "checkout.session.expired", session));
    }
    for session in lapsed {
        tracing::info!(session = %session.id, "convenience-store payment number lapsed unpaid");
        tokio::spawn(emit(
            Arc::clone(state),
            "checkout.session.async_payment_failed",
            session,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// API: POST /v1/checkout/sessions
// ---------------------------------------------------------------------------------------------

/// An API refusal in Stripe's shape: `{"error":{"type","message","param"}}`.
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    param: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "type": self.kind, "message": self.message });
        if let (Some(param), Some(object)) = (self.param, error.as_object_mut()) {
            object.insert("param".into(), Value::String(param));
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

fn api_error(
    status: StatusCode,
    kind: &'static str,
    message: &str,
    param: Option<&str>,
) -> ApiError {
    ApiError {
        status,
        kind,
        message: message.to_owned(),
        param: param.map(str::to_owned),
    }
}

fn invalid(message: &str, param: &str) -> ApiError {
    api_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        Some(param),
    )
}

/// `sk_test_****ndbox`, like Stripe's own error text: enough to spot the wrong key, not
/// enough to use it.
fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "****".into();
    }
    let head: String = chars.iter().take(8).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}****{tail}")
}

fn authorised(state: &SandboxState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(presented) = presented else {
        return Err(api_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You did not provide an API key.",
            None,
        ));
    };
    let expected = state.config.secret_key.expose_secret().as_bytes();
    if bool::from(presented.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            &format!("Invalid API Key provided: {}", mask_key(presented)),
            None,
        ))
    }
}

const KNOWN_PARAMS: &[&str] = &[
    "mode",
    "line_items[0][price_data][currency]",
    "line_items[0][price_data][unit_amount]",
    "line_items[0][price_data][product_data][name]",
    "line_items[0][quantity]",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "locale",
    "expires_at",
    "payment_method_types[0]",
    "payment_method_options[card][request_three_d_secure]",
    "payment_method_options[konbini][expires_after_days]",
    "payment_intent_data[metadata][order_number]",
];

/// What convenience stores accept for one payment, as the provider documents it.
const KONBINI_AMOUNTS: std::ops::RangeInclusive<i64> = 120..=300_000;
/// Japan's offset from UTC: a voucher's deadline is the end of a day there.
const JST_SECONDS: i64 = 9 * 3600;

/// Stripe's JPY ceiling for one charge.
const MAX_AMOUNT_YEN: i64 = 99_999_999;

fn is_web_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://")) && url.len() <= 5000
}

/// Validates the form of a session creation into a new (not yet stored) session.
fn parse_session(
    params: &HashMap<String, String>,
    now: i64,
    id: String,
) -> Result<Session, ApiError> {
    if let Some(unknown) = params.keys().find(|k| !KNOWN_PARAMS.contains(&k.as_str())) {
        return Err(invalid(
            &format!("Received unknown parameter: {unknown}"),
            unknown,
        ));
    }
    let get = |k: &str| params.get(k).map(String::as_str);
    if get("mode") != Some("payment") {
        return Err(invalid("The sandbox supports only mode=payment.", "mode"));
    }
    if get("line_items[0][price_data][currency]").map(str::to_ascii_lowercase) != Some("jpy".into())
    {
        return Err(invalid(
            "The sandbox supports only currency=jpy.",
            "line_items[0][price_data][currency]",
        ));
    }
    let unit_amount = get("line_items[0][price_data][unit_amount]")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| (1..=MAX_AMOUNT_YEN).contains(v))
        .ok_or_else(|| {
            invalid(
                "unit_amount must be an integer number of yen between 1 and 99999999.",
                "line_items[0][price_data][unit_amount]",
            )
        })?;
    let quantity = match get("line_items[0][quantity]") {
        None => 1,
        Some(q) => q.parse::<i64>().ok().filter(|q| *q >= 1).ok_or_else(|| {
            invalid(
                "quantity must be a positive integer.",
                "line_items[0][quantity]",
            )
        })?,
    };
    let amount_total = unit_amount
        .checked_mul(quantity)
        .filter(|t| *t <= MAX_AMOUNT_YEN)
        .ok_or_else(|| invalid("The total exceeds 99999999 yen.", "line_items[0][quantity]"))?;
    let description = get("line_items[0][price_data][product_data][name]")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            invalid(
                "A product name is required.",
                "line_items[0][price_data][product_data][name]",
            )
        })?
        .to_owned();
    let success_url = get("success_url")
        .filter(|u| is_web_url(u))
        .ok_or_else(|| invalid("success_url must be an http(s) URL.", "success_url"))?
        .to_owned();
    let cancel_url = get("cancel_url")
        .filter(|u| is_web_url(u))
        .ok_or_else(|| invalid("cancel_url must be an http(s) URL.", "cancel_url"))?
        .to_owned();
    let client_reference_id = match get("client_reference_id") {
        Some(r) if r.is_empty() || r.chars().count() > 200 => {
            return Err(invalid(
                "client_reference_id must be 1 to 200 characters.",
                "client_reference_id",
            ));
        }
        other => other.map(str::to_owned),
    };
    // Stripe requires expires_at between 30 minutes and 24 hours from now; we allow a minute
    // of slack at each end for clock skew between shop and sandbox.
    let expires_at = match get("expires_at") {
        None => now + 24 * 3600,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|t| (now + 29 * 60..=now + 24 * 3600 + 60).contains(t))
            .ok_or_else(|| {
                invalid(
                    "expires_at must be between 30 minutes and 24 hours from now.",
                    "expires_at",
                )
            })?,
    };
    let konbini_days = match get("payment_method_types[0]") {
        None | Some("card") => {
            if get("payment_method_options[konbini][expires_after_days]").is_some() {
                return Err(invalid(
                    "Konbini options need payment_method_types[0]=konbini.",
                    "payment_method_options[konbini][expires_after_days]",
                ));
            }
            None
        }
        Some("konbini") => {
            if !KONBINI_AMOUNTS.contains(&amount_total) {
                return Err(invalid(
                    "Konbini payments must be between 120 and 300000 yen.",
                    "line_items[0][price_data][unit_amount]",
                ));
            }
            if get("payment_method_options[card][request_three_d_secure]").is_some() {
                return Err(invalid(
                    "Card options cannot be used with konbini.",
                    "payment_method_options[card][request_three_d_secure]",
                ));
            }
            Some(
                match get("payment_method_options[konbini][expires_after_days]") {
                    None => 3,
                    Some(d) => d
                        .parse::<i64>()
                        .ok()
                        .filter(|d| (1..=60).contains(d))
                        .ok_or_else(|| {
                            invalid(
                                "expires_after_days must be between 1 and 60.",
                                "payment_method_options[konbini][expires_after_days]",
                            )
                        })?,
                },
            )
        }
        Some(_) => {
            return Err(invalid(
                "The sandbox supports only card and konbini payments.",
                "payment_method_types[0]",
            ));
        }
    };
    if get("payment_method_options[card][request_three_d_secure]")
        .is_some_and(|v| !matches!(v, "any" | "automatic" | "challenge"))
    {
        return Err(invalid(
            "request_three_d_secure must be any, automatic or challenge.",
            "payment_method_options[card][request_three_d_secure]",
        ));
    }
    Ok(Session {
        id,
        created: now,
        amount_total,
        description,
        success_url,
        cancel_url,
        client_reference_id,
        locale: get("locale").unwrap_or("auto").to_owned(),
        expires_at,
        status: Status::Open,
        paid: false,
        awaiting_challenge: false,
        payment_intent: None,
        refunded: 0,
        intent_metadata: get("payment_intent_data[metadata][order_number]")
            .map(|n| {
                let mut m = serde_json::Map::new();
                m.insert("order_number".into(), Value::String(n.to_owned()));
                m
            })
            .unwrap_or_default(),
        konbini_days,
        voucher: None,
    })
}

async fn sessions_post(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, ApiError> {
    // The key is checked before the body is even looked at.
    authorised(&state, &headers)?;
    let Ok(Form(pairs)) = form else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The body must be application/x-www-form-urlencoded.",
            None,
        ));
    };
    let mut fingerprint = pairs.clone();
    fingerprint.sort();
    let mut params = HashMap::with_capacity(pairs.len());
    for (key, value) in pairs {
        if params.contains_key(&key) {
            return Err(invalid(&format!("Parameter {key} was given twice."), &key));
        }
        params.insert(key, value);
    }
    let idempotency_key = headers
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned);

    let now = state.now();
    let Some(id) = random_id("cs_test_", 24) else {
        return Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "No randomness available.",
            None,
        ));
    };
    let session = parse_session(&params, now, id)?;

    let mut inner = state.lock();
    if let Some(key) = &idempotency_key {
        if let Some((first_params, session_id)) = inner.idempotency.get(key) {
            if *first_params != fingerprint {
                return Err(api_error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    None,
                ));
            }
            let Some(existing) = inner.sessions.get(session_id) else {
                return Err(api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    "The idempotent session is gone.",
                    None,
                ));
            };
            tracing::info!(session = %existing.id, "idempotent replay");
            return Ok(Json(existing.to_json(&state.base_url)).into_response());
        }
        inner
            .idempotency
            .insert(key.clone(), (fingerprint, session.id.clone()));
    }
    let answer = session.to_json(&state.base_url);
    tracing::info!(session = %session.id, amount = session.amount_total, "session created");
    inner.sessions.insert(session.id.clone(), session);
    Ok(Json(answer).into_response())
}

async fn session_get(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorised(&state, &headers)?;
    match state.lock().sessions.get(&id) {
        Some(session) => Ok(Json(session.to_json(&state.base_url)).into_response()),
        None => Err(api_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such checkout.session: '{id}'"),
            Some("id"),
        )),
    }
}

/// `POST /v1/checkout/sessions/{id}/expire`: closes an open session at once (one
/// `checkout.session.expired` event), as Stripe does; a session that is not open is refused
/// with Stripe's `invalid_request_error`.
async fn session_expire_post(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorised(&state, &headers)?;
    let now = state.now();
    let session = {
        let mut inner = state.lock();
        let Some(session) = inner.sessions.get_mut(&id) else {
            return Err(api_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                &format!("No such checkout.session: '{id}'"),
                Some("id"),
            ));
        };
        let due = session.expire_if_due(now);
        if !due {
            if session.status != Status::Open {
                return Err(api_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!(
                        "Only Checkout Sessions with a status in [\"open\"] can be expired. This session has a status of {}.",
                        session.status.as_str()
                    ),
                    None,
                ));
            }
            session.status = Status::Expired;
            session.awaiting_challenge = false;
        }
        session.clone()
    };
    tracing::info!(session = %session.id, "session expired on request");
    let answer = session.to_json(&state.base_url);
    emit(Arc::clone(&state), "checkout.session.expired", session).await;
    Ok(Json(answer).into_response())
}

/// `POST /v1/refunds` (`payment_intent`, optional `amount` and `reason`): gives money of a paid
/// session back, at most what is left unrefunded, and answers Stripe's refund object with status
/// `succeeded`. A retried request with the same `Idempotency-Key` gets the first refund back; the
/// same key with other parameters is refused, as Stripe does.
async fn refunds_post(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, ApiError> {
    authorised(&state, &headers)?;
    let Ok(Form(pairs)) = form else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The body must be application/x-www-form-urlencoded.",
            None,
        ));
    };
    let mut fingerprint = pairs.clone();
    fingerprint.sort();
    let mut params = HashMap::with_capacity(pairs.len());
    for (key, value) in pairs {
        if params.contains_key(&key) {
            return Err(invalid(&format!("Parameter {key} was given twice."), &key));
        }
        params.insert(key, value);
    }
    let idempotency_key = headers
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let Some(intent) = params.get("payment_intent").filter(|v| !v.is_empty()) else {
        return Err(invalid(
            "Missing required param: payment_intent.",
            "payment_intent",
        ));
    };
    if let Some(reason) = params.get("reason")
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason.as_str())
    {
        return Err(invalid(
            "reason must be duplicate, fraudulent or requested_by_customer.",
            "reason",
        ));
    }
    let amount = match params.get("amount") {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(invalid("amount must be a positive integer.", "amount")),
        },
    };
    let Some(refund_id) = random_id("re_test_", 12) else {
        return Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "No randomness available.",
            None,
        ));
    };
    let now = state.now();
    let mut inner = state.lock();
    if let Some(key) = &idempotency_key
        && let Some((first, refund)) = inner.refunds.get(key)
    {
        if *first != fingerprint {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                None,
            ));
        }
        tracing::info!("idempotent refund replay");
        return Ok(Json(refund.clone()).into_response());
    }
    let Some(session) = inner
        .sessions
        .values_mut()
        .find(|s| s.payment_intent.as_deref() == Some(intent.as_str()))
    else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such payment_intent: '{intent}'"),
            Some("payment_intent"),
        ));
    };
    let left = session.amount_total - session.refunded;
    let amount = amount.unwrap_or(left);
    if left <= 0 {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Charge has already been refunded.",
            None,
        ));
    }
    if amount > left {
        return Err(invalid(
            &format!(
                "Refund amount (¥{amount}) is greater than unrefunded amount on charge (¥{left})"
            ),
            "amount",
        ));
    }
    session.refunded += amount;
    let refund = json!({
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "jpy",
        "created": now,
        "payment_intent": intent,
        "reason": params.get("reason"),
        "status": "succeeded",
    });
    tracing::info!(session = %session.id, amount, "refunded");
    if let Some(key) = idempotency_key {
        inner.refunds.insert(key, (fingerprint, refund.clone()));
    }
    Ok(Json(refund).into_response())
}

// ---------------------------------------------------------------------------------------------
// Browser pages
// ---------------------------------------------------------------------------------------------

/// An HTML answer with headers that keep the page self-contained and uncached: no script may
/// run, nothing may be loaded from elsewhere, and no proxy or browser cache keeps a page that
/// had card fields on it.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn index_get(State(state): State<Arc<SandboxState>>) -> Response {
    let count = state.lock().sessions.len();
    html(
        StatusCode::OK,
        pages::notice(
            "en",
            "Kura payment sandbox",
            &format!("A test stand-in for the card payment provider. Sessions in memory: {count}."),
            None,
        ),
    )
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::notice(
            "en",
            "Payment not found",
            "This payment page does not exist.",
            None,
        ),
    )
}

/// The page for a session that cannot take a card any more, or `None` if it still can.
fn closed_page(session: &Session) -> Option<Response> {
    match session.status {
        Status::Open => None,
        Status::Complete => Some(html(
            StatusCode::CONFLICT,
            pages::notice(
                &session.locale,
                "Already paid",
                "This payment is already complete.",
                Some((&success_redirect(session), "Return to the shop")),
            ),
        )),
        Status::Expired => Some(html(
            StatusCode::GONE,
            pages::notice(
                &session.locale,
                "Payment page expired",
                "This payment page has expired and can no longer be used. No payment was taken.",
                Some((&session.cancel_url, "Return to the shop")),
            ),
        )),
    }
}

fn success_redirect(session: &Session) -> String {
    session
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", &session.id)
}

/// Looks the session up, expiring it first if its time has passed (and then emitting the
/// event). `Err` is the page to show instead.
async fn open_session(state: &Arc<SandboxState>, id: &str) -> Result<Session, Response> {
    let now = state.now();
    let (session, newly_expired) = {
        let mut inner = state.lock();
        let Some(session) = inner.sessions.get_mut(id) else {
            return Err(not_found());
        };
        let newly_expired = session.expire_if_due(now);
        (session.clone(), newly_expired)
    };
    if newly_expired {
        emit(
            Arc::clone(state),
            "checkout.session.expired",
            session.clone(),
        )
        .await;
    }
    match closed_page(&session) {
        Some(page) => Err(page),
        None => Ok(session),
    }
}

fn form_page(session: &Session, status: StatusCode, message: Option<&str>) -> Response {
    html(
        status,
        pages::card_form(&pages::CardFormView {
            session_id: &session.id,
            amount: session.amount_total,
            description: &session.description,
            locale: &session.locale,
            message,
        }),
    )
}

async fn pay_get(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Response {
    match open_session(&state, &id).await {
        Ok(session) if session.konbini_days.is_some() => konbini_page(&session),
        Ok(session) => form_page(&session, StatusCode::OK, None),
        Err(page) => page,
    }
}

fn konbini_page(session: &Session) -> Response {
    html(
        StatusCode::OK,
        pages::konbini_form(
            &session.id,
            session.amount_total,
            &session.description,
            &session.locale,
            &KONBINI_STORES,
        ),
    )
}

/// Issues the convenience-store payment number (once): the session completes unpaid, one
/// `checkout.session.completed` event says so, and the browser goes back to the shop.
async fn issue_voucher(state: &Arc<SandboxState>, id: &str, store: &str) -> Response {
    let Some(store) = KONBINI_STORES
        .iter()
        .map(|(code, _, _)| *code)
        .find(|code| *code == store)
    else {
        return match state.lock().sessions.get(id) {
            Some(session) => konbini_page(session),
            None => not_found(),
        };
    };
    let now = state.now();
    let (Some(intent), Some(payment_code), Some(confirmation)) = (
        random_id("pi_test_", 12),
        random_digits(11),
        random_digits(6),
    ) else {
        return not_found();
    };
    let session = {
        let mut inner = state.lock();
        let Some(session) = inner.sessions.get_mut(id) else {
            return not_found();
        };
        if session.expire_if_due(now) || session.status != Status::Open {
            return closed_page(session).unwrap_or_else(not_found);
        }
        let days = session.konbini_days.unwrap_or(3);
        session.status = Status::Complete;
        session.payment_intent = Some(intent);
        session.voucher = Some(Voucher {
            store: store.to_owned(),
            payment_code,
            confirmation,
            expires_at: end_of_japanese_day(now, days),
            lapsed: false,
        });
        session.clone()
    };
    tracing::info!(session = %session.id, "convenience-store payment number issued");
    completed(state, session).await
}

/// Tells the shop the session is complete (one `checkout.session.completed` event, sent before
/// the browser is) and sends the browser back to it.
async fn completed(state: &Arc<SandboxState>, session: Session) -> Response {
    let back = success_redirect(&session);
    emit(Arc::clone(state), "checkout.session.completed", session).await;
    Redirect::to(&back).into_response()
}

/// `GET /v1/payment_intents/{id}`: the payment a session created, with a convenience-store
/// voucher in `next_action` while it can be paid.
async fn intent_get(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorised(&state, &headers)?;
    let inner = state.lock();
    match inner
        .sessions
        .values()
        .find(|s| s.payment_intent.as_deref() == Some(id.as_str()))
    {
        Some(session) => Ok(Json(session.intent_json(&state.base_url)).into_response()),
        None => Err(api_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such payment_intent: '{id}'"),
            Some("id"),
        )),
    }
}

/// The session holding a voucher, after marking it lapsed if its deadline passed (then the
/// `async_payment_failed` event is sent).
async fn voucher_session(state: &Arc<SandboxState>, intent: &str) -> Option<Session> {
    let now = state.now();
    let (session, lapsed) = {
        let mut inner = state.lock();
        let session = inner
            .sessions
            .values_mut()
            .find(|s| s.voucher.is_some() && s.payment_intent.as_deref() == Some(intent))?;
        let lapsed = session.lapse_if_due(now);
        (session.clone(), lapsed)
    };
    if lapsed {
        emit(
            Arc::clone(state),
            "checkout.session.async_payment_failed",
            session.clone(),
        )
        .await;
    }
    Some(session)
}

fn voucher_page(session: &Session) -> Response {
    let Some(v) = &session.voucher else {
        return not_found();
    };
    let ja = session.locale == "ja";
    let store = KONBINI_STORES
        .iter()
        .find(|(code, _, _)| *code == v.store)
        .map_or(v.store.as_str(), |(_, j, e)| if ja { j } else { e });
    let deadline = if ja {
        kura_domain::Date::moment_ja(v.expires_at)
    } else {
        kura_domain::Date::moment_en(v.expires_at)
    };
    html(
        StatusCode::OK,
        pages::voucher(&pages::VoucherView {
            intent: session.payment_intent.as_deref().unwrap_or_default(),
            amount: session.amount_total,
            description: &session.description,
            locale: &session.locale,
            store,
            payment_code: &v.payment_code,
            confirmation: &v.confirmation,
            deadline: &deadline,
            paid: session.paid,
            lapsed: v.lapsed,
            back_url: &success_redirect(session),
        }),
    )
}

async fn voucher_get(
    State(state): State<Arc<SandboxState>>,
    Path(intent): Path<String>,
) -> Response {
    match voucher_session(&state, &intent).await {
        Some(session) => voucher_page(&session),
        None => not_found(),
    }
}

/// The test button on a voucher: the store takes the cash. Paid once, never after the
/// deadline; one `checkout.session.async_payment_succeeded` event.
async fn voucher_pay_post(
    State(state): State<Arc<SandboxState>>,
    Path(intent): Path<String>,
) -> Response {
    let Some(session) = voucher_session(&state, &intent).await else {
        return not_found();
    };
    let lapsed = session.voucher.as_ref().is_some_and(|v| v.lapsed);
    if session.paid || lapsed {
        return voucher_page(&session);
    }
    let session = {
        let mut inner = state.lock();
        let Some(s) = inner.sessions.get_mut(&session.id) else {
            return not_found();
        };
        if s.paid {
            return voucher_page(s);
        }
        s.paid = true;
        s.clone()
    };
    tracing::info!(session = %session.id, "convenience-store payment received");
    emit(
        Arc::clone(&state),
        "checkout.session.async_payment_succeeded",
        session.clone(),
    )
    .await;
    voucher_page(&session)
}

/// Takes one field out of the posted form into a buffer that is wiped when dropped.
fn take(fields: &mut HashMap<String, String>, name: &str) -> Zeroizing<String> {
    Zeroizing::new(fields.remove(name).unwrap_or_default())
}

async fn pay_post(
    State(state): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let session = match open_session(&state, &id).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if session.konbini_days.is_some() {
        let store = match &form {
            Ok(Form(fields)) => fields.get("store").cloned().unwrap_or_default(),
            Err(_) => String::new(),
        };
        return issue_voucher(&state, &session.id, &store).await;
    }
    let Ok(Form(mut fields)) = form else {
        return form_page(
            &session,
            StatusCode::BAD_REQUEST,
            Some("The form could not be read. Please try again."),
        );
    };
    let name = take(&mut fields, "name");
    let number = take(&mut fields, "number");
    let expiry = take(&mut fields, "expiry");
    let cvc = take(&mut fields, "cvc");
    // Anything else posted is wiped too rather than left in freed memory.
    for (_, value) in fields.drain() {
        drop(Zeroizing::new(value));
    }
    let verdict = card::check(&name, &number, &expiry, &cvc, state.now());
    drop((name, number, expiry, cvc));

    match verdict {
        Err(error) => form_page(&session, StatusCode::BAD_REQUEST, Some(&error.to_string())),
        Ok(TestCard::Declined) => {
            tracing::info!(session = %session.id, "test card declined");
            let intent = {
                let mut guard = state.lock();
                guard.sessions.get_mut(&session.id).map(|s| {
                    if s.payment_intent.is_none() {
                        s.payment_intent = random_id("pi_test_", 12);
                    }
                    s.clone()
                })
            };
            if let Some(s) = intent {
                emit_payment_failed(Arc::clone(&state), s).await;
            }
            form_page(
                &session,
                StatusCode::PAYMENT_REQUIRED,
                Some("Your card was declined. No payment was taken. Try another card."),
            )
        }
        Ok(TestCard::RequiresThreeDSecure) => {
            if let Some(s) = state.lock().sessions.get_mut(&session.id) {
                s.awaiting_challenge = true;
            }
            Redirect::to(&format!("/3ds/{}", session.id)).into_response()
        }
        Ok(TestCard::Succeeds) => complete(&state, &session.id).await,
    }
}

/// Marks the session paid (once), emits `checkout.session.completed` and sends the browser
/// back to the shop.
async fn complete(state: &Arc<SandboxState>, id: &str) -> Response {
    let now = state.now();
    let session = {
        let mut inner = state.lock();
        let Some(session) = inner.sessions.get_mut(id) else {
            return not_found();
        };
        // Re-checked under the lock: a concurrent request may have paid or expired it.
        if session.expire_if_due(now) || session.status != Status::Open {
            return closed_page(session).unwrap_or_else(not_found);
        }
        session.status = Status::Complete;
        session.paid = true;
        session.awaiting_challenge = false;
        session.payment_intent = random_id("pi_test_", 12);
        session.clone()
    };
    tracing::info!(session = %session.id, "session paid");
    completed(state, session).await
}

async fn three_ds_get(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Response {
    let session = match open_session(&state, &id).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if !session.awaiting_challenge {
        return form_page(
            &session,
            StatusCode::CONFLICT,
            Some("No 3-D Secure authentication is pending. Please enter your card."),
        );
    }
    html(
        StatusCode::OK,
        pages::three_ds(
            &session.id,
            session.amount_total,
            &session.description,
            &session.locale,
        ),
    )
}

async fn three_ds_post(
    State(state): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let session = match open_session(&state, &id).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if !session.awaiting_challenge {
        return form_page(
            &session,
            StatusCode::CONFLICT,
            Some("No 3-D Secure authentication is pending. Please enter your card."),
        );
    }
    let passed =
        matches!(&form, Ok(Form(f)) if f.get("result").map(String::as_str) == Some("complete"));
    if passed {
        return complete(&state, &session.id).await;
    }
    if let Some(s) = state.lock().sessions.get_mut(&session.id) {
        s.awaiting_challenge = false;
    }
    tracing::info!(session = %session.id, "3-D Secure failed");
    form_page(
        &session,
        StatusCode::PAYMENT_REQUIRED,
        Some(
            "3-D Secure authentication failed. No payment was taken. Try again or use another card.",
        ),
    )
}

async fn cancel_get(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Response {
    let cancel_url = state.lock().sessions.get(&id).map(|s| s.cancel_url.clone());
    match cancel_url {
        Some(url) => Redirect::to(&url).into_response(),
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut p: HashMap<String, String> = [
            ("mode", "payment"),
            ("line_items[0][price_data][currency]", "jpy"),
            ("line_items[0][price_data][unit_amount]", "3300"),
            (
                "line_items[0][price_data][product_data][name]",
                "Kura order K-1",
            ),
            ("line_items[0][quantity]", "1"),
            ("success_url", "http://shop/ok?s={CHECKOUT_SESSION_ID}"),
            ("cancel_url", "http://shop/cancel"),
            ("client_reference_id", "K-1"),
            ("expires_at", "5000"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in extra {
            p.insert((*k).to_owned(), (*v).to_owned());
        }
        p
    }

    #[test]
    fn valid_form_makes_an_open_session() {
        let session = parse_session(&params(&[]), 1000, "cs_1".into());
        let Ok(session) = session else {
            panic!("refused a valid form");
        };
        assert_eq!(session.amount_total, 3300);
        assert_eq!(session.status, Status::Open);
        assert_eq!(success_redirect(&session), "http://shop/ok?s=cs_1");
    }

    #[test]
    fn konbini_sessions_follow_the_stores_rules() {
        let p = params(&[("payment_method_types[0]", "konbini")]);
        let ok = parse_session(&p, 1000, "cs_1".into()).map(|s| s.konbini_days);
        assert_eq!(ok.ok(), Some(Some(3)));
        for (k, v) in [
            ("payment_method_options[konbini][expires_after_days]", "0"),
            ("payment_method_options[konbini][expires_after_days]", "61"),
            ("line_items[0][price_data][unit_amount]", "300001"),
            ("line_items[0][price_data][unit_amount]", "119"),
        ] {
            let mut bad = p.clone();
            bad.insert(k.into(), v.into());
            assert!(parse_session(&bad, 1000, "cs_1".into()).is_err(), "{k}={v}");
        }
        // A card session takes no konbini option.
        let mut card = params(&[]);
        card.insert(
            "payment_method_options[konbini][expires_after_days]".into(),
            "3".into(),
        );
        assert!(parse_session(&card, 1000, "cs_1".into()).is_err());
    }

    #[test]
    fn a_voucher_runs_to_the_end_of_its_last_day_in_japan() {
        // 2026-12-07 (Mon) 10:00 JST = 01:00 UTC.
        let monday = 1_796_605_200;
        let end = end_of_japanese_day(monday, 3);
        // Thursday 2026-12-10 23:59:59 JST = 14:59:59 UTC.
        assert_eq!(end, 1_796_914_799);
        assert_eq!(
            end_of_japanese_day(end, 0),
            end,
            "the last second is still that day"
        );
        assert_eq!(end_of_japanese_day(end + 1, 0), end + 86_400);
    }

    #[test]
    fn bad_forms_are_refused() {
        for extra in [
            ("mode", "subscription"),
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", "0"),
            ("line_items[0][price_data][unit_amount]", "12.5"),
            ("success_url", "javascript:alert(1)"),
            ("expires_at", "1200"),
            ("payment_method_types[0]", "paypay"),
            ("customer_email", "a@b"),
        ] {
            assert!(
                parse_session(&params(&[extra]), 1000, "cs_1".into()).is_err(),
                "{extra:?}"
            );
        }
    }

    #[test]
    fn key_mask_hides_the_middle() {
        assert_eq!(mask_key("sk_test_kura_sandbox"), "sk_test_****dbox");
        assert_eq!(mask_key("short"), "****");
    }

    #[test]
    fn config_debug_prints_no_secret() {
        let printed = format!("{:?}", SandboxConfig::default());
        assert!(!printed.contains(DEFAULT_SECRET_KEY));
        assert!(!printed.contains(DEFAULT_WEBHOOK_SECRET));
    }
}
