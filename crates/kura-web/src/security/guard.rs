//! The guard at the door.
//!
//! 1. A request from a blocked source is refused before anything else runs.
//! 2. The request is inspected ([`kura_guard::inspect`]): path, query, User-Agent, a few
//!    headers and, for form and JSON posts, the first 16 KiB of the body (password, code and
//!    token fields are skipped by the inspector; multipart uploads, CSP reports and the payment
//!    provider's signed notifications are not inspected). Each hit is a security event; if the
//!    hits make the guard block the source, this request is refused too.
//! 3. After the handler, an API answer refusing a bearer token and a server error are reported, and if this very request made the guard
//!    block its source (its events crossed a threshold), the answer is replaced by the refusal:
//!    a response takes effect within the request that triggered it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_guard::inspect::{self, RuleClass};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;

/// Headers the inspector looks at besides the User-Agent.
const LOOKED_AT: [header::HeaderName; 2] = [header::REFERER, header::COOKIE];

fn refused() -> Response {
    metrics::counter!("kura_guard_refused_total").increment(1);
    WebError::new(ErrorKind::Forbidden).into_response()
}

/// Whether the body is a form or JSON the inspector should read (and how long it says it is).
fn inspectable_body(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let path = req.uri().path();
    if path == "/csp-report" || path.starts_with("/webhooks/") {
        return false;
    }
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("application/json")
        })
}

fn report(state: &AppState, ip: Option<std::net::IpAddr>, hits: &[inspect::Hit]) {
    for hit in hits {
        let kind = if hit.class == RuleClass::Scanner {
            SecurityEventKind::ScannerSeen
        } else {
            SecurityEventKind::RequestProbe
        };
        let mut e = SecurityEvent::new(kind).detail(hit.rule);
        e.ip = ip;
        state.event(e);
    }
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(guard) = state.guard.clone() else {
        return next.run(req).await;
    };
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    if guard.blocked(ip).is_some() {
        return refused();
    }

    // Read a form or JSON body (within the shop's body limit) so it can be inspected, then hand
    // the same bytes on.
    let (req, body) = if inspectable_body(&req) {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, state.config.body_limit).await {
            Ok(bytes) => (
                Request::from_parts(parts, Body::from(bytes.clone())),
                Some(bytes),
            ),
            Err(_) => return WebError::new(ErrorKind::PayloadTooLarge).into_response(),
        }
    } else {
        (req, None)
    };
    let hits = {
        let headers: Vec<(&str, &[u8])> = LOOKED_AT
            .iter()
            .filter_map(|name| {
                req.headers()
                    .get(name)
                    .map(|v| (name.as_str(), v.as_bytes()))
            })
            .collect();
        inspect::inspect(&inspect::Request {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query(),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
            headers: &headers,
            body: body.as_deref(),
        })
    };
    if !hits.is_empty() {
        report(&state, ip, &hits);
        if guard.blocked(ip).is_some() {
            return refused();
        }
    }

    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if api && res.status() == axum::http::StatusCode::UNAUTHORIZED {
        // The API answers 401 only for a missing, unknown or wrong bearer token.
        let mut e = SecurityEvent::new(SecurityEventKind::ApiTokenRejected);
        e.ip = ip;
        state.event(e);
    }
    if res.status().is_server_error() {
        let mut e = SecurityEvent::new(SecurityEventKind::ServerError);
        e.ip = ip;
        state.event(e);
    }
    if guard.blocked(ip).is_some() {
        return refused();
    }
    res
}

/// Tells the guard card order `order_id` went to the provider's page from `ip`.
pub fn card_checkout_started(state: &AppState, ip: Option<std::net::IpAddr>, order_id: i64) {
    let mut e = SecurityEvent::new(SecurityEventKind::CardCheckoutStarted).subject(order_id);
    e.ip = ip;
    state.event(e);
}
