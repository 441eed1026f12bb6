//! The guard at the door: a request from a blocked source is refused before anything else runs;
//! after the handler, a server error is reported to the guard, and if this very request made the
//! guard block its source (its events crossed a threshold), the answer is replaced by the
//! refusal, so a response takes effect within the request that triggered it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;

fn refused() -> Response {
    metrics::counter!("kura_guard_refused_total").increment(1);
    WebError::new(ErrorKind::Forbidden).into_response()
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(guard) = state.guard.clone() else {
        return next.run(req).await;
    };
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    if guard.blocked(ip).is_some() {
        return refused();
    }
    let res = next.run(req).await;
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
