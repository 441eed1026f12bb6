//! Server-side sessions in a cookie-borne token (OWASP Session Management Cheat Sheet).
//!
//! The cookie is `__Host-kura_session; Secure` over TLS (`kura_session` on plain-HTTP demos),
//! always `HttpOnly; SameSite=Lax; Path=/`, with no lifetime of its own: the server decides
//! expiry (idle and absolute, in `kura_app::Sessions`). A session is created only when a page
//! needs one (a form's CSRF token, a sign-in), and its token is replaced on sign-in and
//! sign-out, so a token captured before sign-in is worthless after it.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use kura_app::{LoadedSession, SessionData};
use kura_seal::SessionToken;
use tokio::sync::Mutex;

use crate::AppState;
use crate::error::WebError;

#[derive(Debug, Default)]
struct Slot {
    current: Option<LoadedSession>,
    changed: bool,
    send_cookie: bool,
    clear_cookie: bool,
}

/// The request's session, created lazily. Handlers take it as an extractor.
#[derive(Clone)]
pub struct Session {
    slot: Arc<Mutex<Slot>>,
    state: AppState,
}

impl Session {
    pub async fn customer_id(&self) -> Option<i64> {
        self.slot
            .lock()
            .await
            .current
            .as_ref()
            .and_then(|s| s.customer_id)
    }

    pub async fn exists(&self) -> bool {
        self.slot.lock().await.current.is_some()
    }

    /// The token that authenticates this session's forms, creating the session if needed.
    pub async fn csrf_token(&self) -> Result<String, WebError> {
        let mut slot = self.slot.lock().await;
        if slot.current.is_none() {
            let fresh = self
                .state
                .sessions
                .create(None, SessionData::default())
                .await?;
            slot.current = Some(fresh);
            slot.send_cookie = true;
        }
        let token = slot.current.as_ref().map(|s| s.token.clone());
        Ok(token
            .map(|t| self.state.vault.ring().csrf_token(t.expose().as_bytes()))
            .unwrap_or_default())
    }

    /// Checks a presented CSRF token against this session.
    pub async fn verify_csrf(&self, presented: &str) -> bool {
        let slot = self.slot.lock().await;
        match &slot.current {
            Some(s) => self
                .state
                .vault
                .ring()
                .verify_csrf(s.token.expose().as_bytes(), presented),
            None => false,
        }
    }

    /// Signs a customer in: a new session token, the old one dead.
    pub async fn sign_in(&self, customer_id: i64) -> Result<(), WebError> {
        let mut slot = self.slot.lock().await;
        let fresh = match &slot.current {
            Some(old) => self.state.sessions.cycle(old, Some(customer_id)).await?,
            None => {
                self.state
                    .sessions
                    .create(Some(customer_id), SessionData::default())
                    .await?
            }
        };
        slot.current = Some(fresh);
        slot.send_cookie = true;
        Ok(())
    }

    /// Ends the session on the server and in the browser.
    pub async fn sign_out(&self) -> Result<(), WebError> {
        let mut slot = self.slot.lock().await;
        if let Some(old) = slot.current.take() {
            self.state.sessions.destroy(old.id).await?;
        }
        slot.send_cookie = false;
        slot.clear_cookie = true;
        Ok(())
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| WebError::internal("session layer missing"))
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(state: &AppState, value: &str, clear: bool) -> Option<HeaderValue> {
    let name = state.config.session_cookie_name();
    let secure = if state.config.tls { "; Secure" } else { "" };
    let expiry = if clear { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{expiry}"
    ))
    .ok()
}

pub async fn session(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let presented = cookie_value(req.headers(), state.config.session_cookie_name())
        .and_then(SessionToken::parse);
    let mut slot = Slot::default();
    if let Some(token) = presented {
        match state.sessions.load(&token).await {
            Ok(Some(loaded)) => slot.current = Some(loaded),
            // Unknown or expired: tell the browser to forget it.
            Ok(None) => slot.clear_cookie = true,
            Err(e) => {
                tracing::error!(target: "kura::web", error = %e, "session could not be loaded")
            }
        }
    }
    let handle = Session {
        slot: Arc::new(Mutex::new(slot)),
        state: Arc::clone(&state),
    };
    req.extensions_mut().insert(handle.clone());
    let mut res = next.run(req).await;
    let mut slot = handle.slot.lock().await;
    let changed = slot.changed;
    if slot.send_cookie {
        let token = slot.current.as_ref().map(|s| s.token.expose().to_string());
        if let Some(v) = token.and_then(|t| set_cookie(&state, &t, false)) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    } else if slot.clear_cookie
        && let Some(v) = set_cookie(&state, "", true)
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(current) = slot.current.as_mut()
        && let Err(e) = state.sessions.save(current, changed).await
    {
        tracing::error!(target: "kura::web", error = %e, "session could not be saved");
    }
    res
}
