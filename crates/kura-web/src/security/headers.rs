//! Security headers on every response.
//!
//! - Content-Security-Policy (OWASP CSP Cheat Sheet; ASVS 3.4.3): a fresh nonce per response,
//!   `strict-dynamic`, no inline script or style, `object-src 'none'` (no plugins),
//!   `base-uri 'none'` (no base-tag hijack), `frame-ancestors 'none'` (no clickjacking),
//!   `form-action 'self'` (forms cannot post elsewhere), violations reported to `/csp-report`.
//! - X-Content-Type-Options: nosniff (no MIME sniffing of uploads or JSON into script).
//! - Referrer-Policy: same-origin (no order or account URLs leak to other sites).
//! - Permissions-Policy: every powerful feature the shop never uses is off.
//! - Cross-Origin-Opener-Policy / -Resource-Policy: same-origin isolation.
//! - Strict-Transport-Security for a year with subdomains, only when served over TLS.
//! - Cache-Control: no-store unless the handler chose a policy (pages may hold personal data).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The CSP nonce of the current response, for templates.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// `payment_origin`: the card provider's hosted page, the one place besides the shop that a
/// form may lead to (the order form redirects there, and browsers check redirects against
/// `form-action`).
pub fn content_security_policy(nonce: &str, tls: bool, payment_origin: Option<&str>) -> String {
    let form_action = match payment_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".to_string(),
    };
    let mut csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; \
         report-uri /csp-report; report-to csp"
    );
    if tls {
        csp.push_str("; upgrade-insecure-requests");
    }
    csp
}

pub async fn security_headers(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let nonce = kura_seal::random_bytes::<16>()
        .map(hex::encode)
        .unwrap_or_default();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A handler may set a stricter policy of its own (images are sandboxed).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(v) = HeaderValue::from_str(&content_security_policy(
            &nonce,
            state.config.tls,
            state.payment_origin.as_deref(),
        ))
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    // Where `report-to csp` sends violation reports (the Reporting API; `report-uri` stays for
    // browsers without it). Both feed the guard through `/csp-report`.
    h.insert(
        "reporting-endpoints",
        HeaderValue::from_static("csp=\"/csp-report\""),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(
            "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if state.config.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn csp_is_strict() {
        let csp = super::content_security_policy("abc", false, None);
        assert!(
            super::content_security_policy("abc", false, Some("https://checkout.stripe.com"))
                .contains("form-action 'self' https://checkout.stripe.com;")
        );
        for part in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "'nonce-abc'",
        ] {
            assert!(csp.contains(part), "{part}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("unsafe-eval"));
    }
}
