//! Maintenance: while the owner has closed the shop (`kura maintenance on`, or the switch in the
//! back office), every storefront page answers 503 with a page that links the incident notice,
//! and the API answers 503 too. What people need during an incident stays open: the notices,
//! the mail-check page, the desk (contact form), the legal page, the assets, the health checks,
//! the payment provider's notifications (a payment already made is still recorded) and the
//! back office.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;
use crate::pages::PageContext;

/// Paths (exact, or a prefix ending in '/') that stay open in maintenance.
const OPEN: &[&str] = &[
    "/notices",
    "/notices/",
    "/mail-check",
    "/contact",
    "/legal",
    "/assets/",
    "/images/",
    "/lang/",
    "/healthz",
    "/readyz",
    "/csp-report",
    "/webhooks/",
];

fn stays_open(path: &str, admin_prefix: &str) -> bool {
    let admin = admin_prefix.trim_end_matches('/');
    if path == admin || path.starts_with(&format!("{admin}/")) {
        return true;
    }
    OPEN.iter().any(|open| {
        if open.ends_with('/') {
            path.starts_with(open)
        } else {
            path == *open
        }
    })
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenancePage {
    ctx: PageContext,
}

pub async fn maintenance(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.incidents.maintenance() || stays_open(req.uri().path(), &state.config.admin_path) {
        return next.run(req).await;
    }
    let (parts, _) = req.into_parts();
    let mut response = if parts.uri.path().starts_with("/api/") {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":{"code":"maintenance","message":"The shop is closed for maintenance."}}"#,
        )
            .into_response()
    } else {
        let ctx = PageContext::bare(&parts, &state);
        match (MaintenancePage { ctx }).render() {
            Ok(html) => (StatusCode::SERVICE_UNAVAILABLE, Html(html)).into_response(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_need_in_an_incident_stays_open() {
        for open in [
            "/notices",
            "/notices/42",
            "/mail-check",
            "/contact",
            "/assets/kura.css",
            "/webhooks/payments",
            "/admin",
            "/admin/incidents",
        ] {
            assert!(stays_open(open, "/admin"), "{open}");
        }
        for closed in [
            "/",
            "/cart",
            "/cart/add",
            "/checkout",
            "/products/rice",
            "/login",
            "/api/v1/products",
            "/noticesx",
            "/administrator",
            "/orders/lookup",
        ] {
            assert!(!stays_open(closed, "/admin"), "{closed}");
        }
    }
}
