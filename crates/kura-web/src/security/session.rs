//! Server-side sessions in a cookie-borne token (OWASP Session Management Cheat Sheet).
//!
//! The cookie is `__Host-kura_session; Secure` over TLS (`kura_session` on plain-HTTP demos),
//! always `HttpOnly; SameSite=Lax; Path=/`, with no lifetime of its own: the server decides
//! expiry (idle and absolute, in `kura_app::Sessions`).
//!
//! A page with a form hands an anonymous visitor a token at once (its CSRF token is derived
//! from it), but the session row is written only when there is something to keep (a cart, a
//! sign-in): browsing costs the database nothing. The token is replaced on sign-in and
//! sign-out, so a token captured or planted before sign-in is worthless after it.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use kura_app::{LoadedSession, SessionData};
use kura_seal::SessionToken;
use tokio::sync::Mutex;

use crate::AppState;
use crate::cookies::cookie_value;
use crate::error::WebError;

#[derive(Debug, Default)]
struct Slot {
    current: Option<LoadedSession>,
    /// A token handed to the browser with no row behind it yet.
    pending: Option<SessionToken>,
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

    /// Whether the browser holds a session token (stored or not yet).
    pub async fn exists(&self) -> bool {
        let slot = self.slot.lock().await;
        slot.current.is_some() || slot.pending.is_some()
    }

    /// The token that authenticates this browser's forms; hands the browser a session token
    /// if it has none (no row is written for that).
    pub async fn csrf_token(&self) -> Result<String, WebError> {
        let mut slot = self.slot.lock().await;
        let token = match (&slot.current, &slot.pending) {
            (Some(s), _) => s.token.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => {
                let t = self
                    .state
                    .vault
                    .ring()
                    .browser_token()
                    .map_err(WebError::internal)?;
                slot.pending = Some(t.clone());
                slot.send_cookie = true;
                t
            }
        };
        Ok(self
            .state
            .vault
            .ring()
            .csrf_token(token.expose().as_bytes()))
    }

    /// Checks a presented CSRF token against this browser's session token.
    pub async fn verify_csrf(&self, presented: &str) -> bool {
        let slot = self.slot.lock().await;
        let token = slot
            .current
            .as_ref()
            .map(|s| &s.token)
            .or(slot.pending.as_ref());
        match token {
            Some(t) => self
                .state
                .vault
                .ring()
                .verify_csrf(t.expose().as_bytes(), presented),
            None => false,
        }
    }

    /// Writes the session row if there is none yet (under the token the browser holds).
    async fn materialise(&self, slot: &mut Slot) -> Result<(), WebError> {
        if slot.current.is_some() {
            return Ok(());
        }
        let token = match slot.pending.take() {
            Some(t) => t,
            None => {
                slot.send_cookie = true;
                self.state
                    .vault
                    .ring()
                    .browser_token()
                    .map_err(WebError::internal)?
            }
        };
        slot.current = Some(
            self.state
                .sessions
                .create_with(token, None, SessionData::default())
                .await?,
        );
        Ok(())
    }

    /// A copy of the session's data (empty when there is no session).
    pub async fn data(&self) -> SessionData {
        self.slot
            .lock()
            .await
            .current
            .as_ref()
            .map(|s| s.data.clone())
            .unwrap_or_default()
    }

    /// Replaces the session's data, creating the session if needed.
    pub async fn set_data(&self, data: SessionData) -> Result<(), WebError> {
        let mut slot = self.slot.lock().await;
        self.materialise(&mut slot).await?;
        if let Some(s) = slot.current.as_mut() {
            s.data = data;
        }
        slot.changed = true;
        Ok(())
    }

    /// Signs a customer in: a new session token, the old one dead, and a guest cart joined to
    /// the account's (`kura_app::Sessions::sign_in`).
    pub async fn sign_in(&self, customer_id: i64) -> Result<(), WebError> {
        let mut slot = self.slot.lock().await;
        let fresh = self
            .state
            .sessions
            .sign_in(slot.current.as_ref(), customer_id, &self.state.carts)
            .await?;
        // A token the browser held before sign-in (stored or not) is dropped for good.
        slot.pending = None;
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
        slot.pending = None;
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
    // The JSON API authenticates with bearer tokens; a cookie sent there is neither read nor
    // refreshed (and so cannot be used to ride a customer's session through the API).
    if req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let presented = cookie_value(req.headers(), state.config.session_cookie_name())
        .and_then(SessionToken::parse);
    let mut slot = Slot::default();
    if let Some(token) = presented {
        match state.sessions.load(&token).await {
            Ok(Some(loaded)) => slot.current = Some(loaded),
            // No row (never stored, or expired and deleted): the token still binds this
            // browser's forms, and a row is made under it if something needs keeping.
            Ok(None) => slot.pending = Some(token),
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
        let token = slot
            .current
            .as_ref()
            .map(|s| s.token.expose().to_string())
            .or_else(|| slot.pending.as_ref().map(|t| t.expose().to_string()));
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
