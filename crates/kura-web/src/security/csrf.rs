//! Cross-site request forgery defence (OWASP CSRF Prevention Cheat Sheet).
//!
//! Every unsafe method (POST, PUT, PATCH, DELETE) from a browser must pass three checks:
//! 1. `Sec-Fetch-Site`, when sent, is `same-origin` or `none` (a user-typed navigation);
//! 2. `Origin`, when sent, is the shop's own origin;
//! 3. a token bound to the session (HMAC of the session secret) arrives in the `csrf_token`
//!    form field or the `x-csrf-token` header.
//!
//! The JSON API under `/api/` authenticates with bearer tokens and never reads the session
//! cookie, and `/webhooks/` carry their own signatures; only those, and the browser's CSP
//! reports (which carry no authority), are exempt.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

fn exempt(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/webhooks/") || path == "/csp-report"
}

fn expected_origin(state: &AppState, req: &Request) -> Option<String> {
    if let Some(o) = &state.config.public_origin {
        return Some(o.trim_end_matches('/').to_string());
    }
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let scheme = if state.config.tls { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

fn refuse(state: &AppState, req: &Request, kind: SecurityEventKind, error: ErrorKind) -> Response {
    let mut event = SecurityEvent::new(kind);
    if let Some(ip) = req.extensions().get::<ClientIp>() {
        event = event.ip(ip.0);
    }
    if let Some(id) = req.extensions().get::<RequestId>() {
        event = event.request(&id.0);
    }
    state.event(event);
    WebError::new(error).into_response()
}

/// Finds `csrf_token` in an urlencoded form body.
fn form_token(body: &[u8]) -> Option<String> {
    let form = crate::form::FormFields::parse(body);
    let token = form.get("csrf_token");
    (!token.is_empty()).then(|| token.to_string())
}

/// Whether `path` is under the back office's prefix (which checks its own tokens, bound to
/// the staff session).
pub fn in_admin(state: &AppState, path: &str) -> bool {
    let prefix = state.config.admin_path.as_str();
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The checks every unsafe request passes before its token is compared: `Sec-Fetch-Site` and
/// `Origin` must not name another site. Then the token is read from the `x-csrf-token` header
/// or the form's `csrf_token` field; the request comes back whole, with its body.
pub(crate) async fn cross_site_and_token(
    state: &AppState,
    req: Request,
) -> Result<(Request, Option<String>), Response> {
    let fetch_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err(refuse(
            state,
            &req,
            SecurityEventKind::CrossSiteRejected,
            ErrorKind::CrossSite,
        ));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .zip(expected_origin(state, &req))
            .is_some_and(|(o, e)| o == e);
        if !ok {
            return Err(refuse(
                state,
                &req,
                SecurityEventKind::CrossSiteRejected,
                ErrorKind::CrossSite,
            ));
        }
    }
    let header_token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = req.into_parts();
    let (token, body) = match header_token {
        Some(t) => (Some(t), body),
        None if is_form => match axum::body::to_bytes(body, state.config.body_limit).await {
            Ok(bytes) => (form_token(&bytes), Body::from(bytes)),
            Err(_) => return Err(WebError::new(ErrorKind::PayloadTooLarge).into_response()),
        },
        None => (None, body),
    };
    Ok((Request::from_parts(parts, body), token))
}

/// Refuses a request whose CSRF token did not verify, and tells the guard.
pub(crate) fn refuse_token(state: &AppState, req: &Request) -> Response {
    refuse(
        state,
        req,
        SecurityEventKind::CsrfRejected,
        ErrorKind::CsrfFailed,
    )
}

pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !unsafe_method || exempt(req.uri().path()) || in_admin(&state, req.uri().path()) {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return WebError::internal("session layer missing").into_response();
    };
    let (req, token) = match cross_site_and_token(&state, req).await {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let valid = match &token {
        Some(t) => session.verify_csrf(t).await,
        None => false,
    };
    if !valid {
        return refuse_token(&state, &req);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_among_fields() {
        assert_eq!(
            form_token(b"email=a%40b.jp&csrf_token=1.ab%2Bc&x=y").as_deref(),
            Some("1.ab+c")
        );
        assert_eq!(form_token(b"email=a"), None);
        assert_eq!(form_token(b"csrf_token="), None);
    }
}
