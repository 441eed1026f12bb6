//! Request body size limit.
//!
//! A declared `Content-Length` above the limit is refused before a byte is read; a body without
//! a declared length is cut off at the limit by the extractors (axum's `DefaultBodyLimit`, set
//! in the router to the same number). Either way the visitor sees a clear 413 page and the
//! guard hears of it. A back-office route may take more (the product image upload); the route
//! table says which (`admin::body_limit_for`), and everything else keeps the shop's limit.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;

pub async fn body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    let report = |state: &AppState| {
        let mut event = SecurityEvent::new(SecurityEventKind::BodyTooLarge);
        if let Some(ip) = ip {
            event = event.ip(ip);
        }
        state.event(event);
    };
    let limit = crate::admin::body_limit_for(&state, req.method(), req.uri().path())
        .unwrap_or(state.config.body_limit);
    if declared.is_some_and(|n| n > limit as u64) {
        report(&state);
        return WebError::new(ErrorKind::PayloadTooLarge).into_response();
    }
    let res = next.run(req).await;
    // A body without a declared length was cut off by an extractor further in.
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        report(&state);
    }
    res
}
