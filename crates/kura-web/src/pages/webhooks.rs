//! The payment provider's notifications. Only a notification whose signature verifies and
//! whose timestamp is fresh is acted on; a bad one is refused with 400 and reported to the
//! guard. Acting on it is idempotent (event ids are recorded).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use kura_app::payments::PaymentError;
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::security::client_ip::ClientIp;

pub async fn payments_post(
    State(state): State<AppState>,
    ip: Option<axum::Extension<ClientIp>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(gateway) = &state.payments else {
        return StatusCode::NOT_FOUND;
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = state.clock.now();
    match gateway.verify_notification(signature, &body, now) {
        Ok(n) => match state.orders.payment_notification(&n).await {
            Ok(()) => StatusCode::OK,
            Err(e) => {
                tracing::error!(target: "kura::payments", error = %e, "payment notification could not be applied; the provider will retry");
                StatusCode::SERVICE_UNAVAILABLE
            }
        },
        // Events Kura does not act on are acknowledged so the provider stops sending them.
        Err(PaymentError::Unsupported(kind)) => {
            tracing::info!(target: "kura::payments", kind = %kind, "payment event ignored");
            StatusCode::OK
        }
        Err(e) => {
            let mut event = SecurityEvent::new(SecurityEventKind::WebhookRejected);
            if let Some(axum::Extension(ip)) = ip {
                event = event.ip(ip.0);
            }
            tracing::warn!(target: "kura::security", error = %e, "payment notification refused");
            state.event(event);
            StatusCode::BAD_REQUEST
        }
    }
}
