//! Operation ids and the access log.
//!
//! Every request gets a fresh random id (an id sent by the client is ignored, so nobody can
//! write into our logs through it). The id is in the response's `x-request-id`, on every log
//! line of the request (a tracing span) and on error pages, so staff can grep one from the other.
//! The access log records method, route pattern, status and duration: never the query string
//! or the body, which may hold personal data.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = kura_seal::random_bytes::<8>()
        .map(hex::encode)
        .unwrap_or_else(|_| "0".repeat(16));
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(target: "kura::access", status, micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), "handled");
    });
    metrics::counter!("kura_http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("kura_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
