//! Operational endpoints: liveness, readiness, static assets, language choice, CSP reports.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kura_app::{SecurityEvent, SecurityEventKind};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::i18n::{LANG_COOKIE, Lang};
use crate::pages::local_path;
use crate::security::client_ip::ClientIp;

/// Liveness: the process answers.
pub async fn healthz_get() -> &'static str {
    "ok"
}

/// Readiness: the database answers and the key ring holds every master key the data uses,
/// each matching its recorded check value (a key file swapped for another shop's or an older
/// copy makes the node unready, so a load balancer sends it no customers).
pub async fn readyz_get(State(state): State<AppState>) -> Response {
    let recorded = match state.store.key_checks().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(target: "kura::ops", error = %e, "not ready: database");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    let ring = state.vault.ring();
    if ring.key_ids().count() == 0 || recorded.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no keys").into_response();
    }
    let wrong = kura_app::key_checks::mismatches(&recorded, &ring);
    if let Some(first) = wrong.first() {
        tracing::error!(target: "kura::ops", error = %first, "not ready: the key file does not match the data");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "key file does not match the data",
        )
            .into_response();
    }
    (StatusCode::OK, "ready").into_response()
}

const CSS: &str = include_str!("../../assets/kura.css");

pub async fn css_get() -> Response {
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

#[derive(Deserialize)]
pub struct LangQuery {
    back: Option<String>,
}

/// Remembers the visitor's language in a cookie and returns to the page they were on.
pub async fn lang_get(
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Response, WebError> {
    let lang = Lang::parse(&code).ok_or(WebError::new(ErrorKind::NotFound))?;
    let back = local_path(q.back.as_deref().unwrap_or("/")).to_string();
    let mut res = Redirect::to(&back).into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Receives the browser's CSP violation reports and hands them to the guard. The report body
/// is not logged: it may quote a URL with personal data in its query.
pub async fn csp_report_post(
    State(state): State<AppState>,
    ip: Option<axum::Extension<ClientIp>>,
    body: Bytes,
) -> StatusCode {
    let mut event = SecurityEvent::new(SecurityEventKind::CspViolation);
    if let Some(axum::Extension(ip)) = ip {
        event = event.ip(ip.0);
    }
    tracing::warn!(target: "kura::security", bytes = body.len(), "csp violation reported");
    state.event(event);
    StatusCode::NO_CONTENT
}
