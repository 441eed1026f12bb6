//! The back office, under its own path prefix (`/admin` unless configured).
//!
//! Every staff route is declared once in [`routes`] with the access it needs, and the router is
//! built only from that table, each route behind [`guard`]: an optional client allow-list
//! (anyone else gets "not found"), the staff session from its own cookie (`SameSite=Strict`,
//! 15 minutes idle), the second factor, the role's permission, and on unsafe methods a CSRF
//! token bound to the staff session. A test walks the same table, so a route added without
//! the right access fails it. Responses carry the back office's own CSP and are never cached.

pub mod catalog;
pub mod coupons;
pub mod guard_pages;
pub mod incidents;
pub mod pages;

use std::net::IpAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use kura_app::staff::{Permission, StaffSession};
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_seal::SessionToken;

use crate::AppState;
use crate::cookies::cookie_value;
use crate::error::{ErrorKind, WebError};
use crate::i18n::{Lang, Tr};
use crate::security::client_ip::ClientIp;
use crate::security::csrf;
use crate::security::headers::CspNonce;

/// What a route asks of the person calling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The sign-in page itself.
    Public,
    /// A staff session past the password, before or after the second factor (enrolment, the
    /// code prompt, sign-out).
    Signed,
    /// A complete staff session (password and second factor) whose role holds the permission.
    Staff(Permission),
}

/// One staff route: method, path under the prefix, access, handler, and the largest body it
/// takes when that is more than the shop's (`server.body_limit_bytes`).
pub struct AdminRoute {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub body_limit: Option<usize>,
    handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    (GET $path:literal, $access:expr, $h:path) => {
        AdminRoute {
            method: Method::GET,
            path: $path,
            access: $access,
            body_limit: None,
            handler: || get($h),
        }
    };
    (POST $path:literal, $access:expr, $h:path) => {
        AdminRoute {
            method: Method::POST,
            path: $path,
            access: $access,
            body_limit: None,
            handler: || post($h),
        }
    };
    (POST $path:literal, $access:expr, $h:path, body_limit = $limit:expr) => {
        AdminRoute {
            method: Method::POST,
            path: $path,
            access: $access,
            body_limit: Some($limit),
            handler: || post($h),
        }
    };
}

/// Every route of the back office: the router is built from this table alone.
pub fn routes() -> Vec<AdminRoute> {
    use Access::{Public, Signed, Staff};
    use Permission as P;
    vec![
        route!(GET "/login", Public, pages::login_get),
        route!(POST "/login", Public, pages::login_post),
        route!(GET "/enrol", Signed, pages::enrol_get),
        route!(POST "/enrol", Signed, pages::enrol_post),
        route!(GET "/verify", Signed, pages::verify_get),
        route!(POST "/verify", Signed, pages::verify_post),
        route!(POST "/verify/passkey", Signed, pages::verify_passkey_post),
        route!(POST "/logout", Signed, pages::logout_post),
        route!(GET "/", Staff(P::Dashboard), pages::dashboard_get),
        route!(GET "/orders", Staff(P::OrdersRead), pages::orders_get),
        route!(GET "/orders/{number}", Staff(P::OrdersRead), pages::order_get),
        route!(POST "/orders/{number}/paid", Staff(P::OrdersManage), pages::order_paid_post),
        route!(POST "/orders/{number}/ship", Staff(P::OrdersShip), pages::order_ship_post),
        route!(POST "/orders/{number}/pack", Staff(P::OrdersShip), pages::order_pack_post),
        route!(POST "/orders/{number}/deliver", Staff(P::OrdersShip), pages::order_deliver_post),
        route!(POST "/orders/{number}/cancel", Staff(P::OrdersManage), pages::order_cancel_post),
        route!(POST "/orders/{number}/refund", Staff(P::OrdersManage), pages::order_refund_post),
        route!(GET "/customers", Staff(P::CustomersList), pages::customers_get),
        route!(POST "/customers/{id}/unmask", Staff(P::CustomersUnmask), pages::unmask_post),
        route!(POST "/customers/{id}/erase", Staff(P::CustomersErase), pages::erase_post),
        route!(GET "/inquiries", Staff(P::Inquiries), pages::inquiries_get),
        route!(GET "/inquiries/{id}", Staff(P::Inquiries), pages::inquiry_get),
        route!(POST "/inquiries/{id}/reply", Staff(P::Inquiries), pages::inquiry_reply_post),
        route!(POST "/inquiries/{id}/status", Staff(P::Inquiries), pages::inquiry_status_post),
        route!(GET "/catalog", Staff(P::Catalog), catalog::catalog_get),
        route!(POST "/catalog/{sku}", Staff(P::Catalog), pages::variant_post),
        route!(POST "/catalog/categories", Staff(P::Catalog), catalog::categories_post),
        route!(POST "/catalog/synonyms", Staff(P::Catalog), catalog::synonyms_post),
        route!(GET "/catalog/products/new", Staff(P::Catalog), catalog::product_new_get),
        route!(POST "/catalog/products", Staff(P::Catalog), catalog::products_post),
        route!(GET "/catalog/products/{id}", Staff(P::Catalog), catalog::product_get),
        route!(POST "/catalog/products/{id}", Staff(P::Catalog), catalog::product_post),
        route!(POST "/catalog/products/{id}/variants", Staff(P::Catalog), catalog::product_variants_post),
        route!(POST "/catalog/products/{id}/variants/{sku}", Staff(P::Catalog), catalog::product_variant_post),
        route!(POST "/catalog/products/{id}/images", Staff(P::Catalog), catalog::product_images_post, body_limit = catalog::UPLOAD_BODY_LIMIT),
        route!(POST "/catalog/products/{id}/images/{image}/remove", Staff(P::Catalog), catalog::product_image_remove_post),
        route!(GET "/coupons", Staff(P::Catalog), coupons::coupons_get),
        route!(POST "/coupons", Staff(P::Catalog), coupons::coupons_post),
        route!(POST "/coupons/{id}/active", Staff(P::Catalog), coupons::coupon_active_post),
        route!(GET "/staff", Staff(P::StaffManage), pages::staff_get),
        route!(POST "/staff", Staff(P::StaffManage), pages::staff_add_post),
        route!(POST "/staff/{id}/access", Staff(P::StaffManage), pages::staff_access_post),
        route!(POST "/staff/{id}/remove", Staff(P::StaffManage), pages::staff_remove_post),
        route!(POST "/staff/{id}/reset-mfa", Staff(P::StaffManage), pages::staff_reset_mfa_post),
        route!(GET "/settings", Staff(P::Settings), pages::settings_get),
        route!(POST "/settings", Staff(P::Settings), pages::settings_post),
        route!(GET "/audit", Staff(P::AuditRead), pages::audit_get),
        route!(GET "/exports", Staff(P::Export), pages::exports_get),
        route!(POST "/exports", Staff(P::Export), pages::export_request_post),
        route!(POST "/exports/{id}/approve", Staff(P::Export), pages::export_approve_post),
        route!(POST "/exports/{id}/download", Staff(P::Export), pages::export_download_post),
        route!(GET "/incidents", Staff(P::Incidents), incidents::incidents_get),
        route!(POST "/incidents", Staff(P::Incidents), incidents::incident_declare_post),
        route!(GET "/incidents/{id}", Staff(P::Incidents), incidents::incident_get),
        route!(POST "/incidents/{id}/entries", Staff(P::Incidents), incidents::incident_entry_post),
        route!(POST "/incidents/{id}/close", Staff(P::Incidents), incidents::incident_close_post),
        route!(POST "/incidents/{id}/scope", Staff(P::Incidents), incidents::incident_scope_post),
        route!(POST "/incidents/{id}/notify", Staff(P::Incidents), incidents::incident_notify_post),
        route!(POST "/incidents/{id}/postal", Staff(P::Incidents), incidents::incident_postal_post),
        route!(POST "/incidents/{id}/posted", Staff(P::Incidents), incidents::incident_posted_post),
        route!(GET "/incidents/{id}/report", Staff(P::Incidents), incidents::incident_report_get),
        route!(POST "/incidents/{id}/aftercare", Staff(P::Incidents), incidents::incident_aftercare_post),
        route!(POST "/incidents/{id}/outside", Staff(P::Incidents), incidents::incident_outside_post),
        route!(POST "/maintenance", Staff(P::Incidents), incidents::maintenance_post),
        route!(GET "/guard", Staff(P::Security), guard_pages::guard_get),
        route!(POST "/guard/alerts/{id}/ack", Staff(P::Security), guard_pages::alert_ack_post),
        route!(POST "/guard/blocks/{source}/unblock", Staff(P::Security), guard_pages::unblock_post),
        route!(GET "/security", Staff(P::Dashboard), pages::security_get),
        route!(POST "/security/passkeys", Staff(P::Dashboard), pages::passkey_add_post),
        route!(POST "/security/passkeys/{id}/remove", Staff(P::Dashboard), pages::passkey_remove_post),
    ]
}

/// The back office's routes under `prefix`, each behind the guard with its access.
pub fn router(state: &AppState) -> Router<AppState> {
    let prefix = state.config.admin_path.trim_end_matches('/').to_string();
    let mut by_path: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for r in routes() {
        let full = if r.path == "/" {
            prefix.clone()
        } else {
            format!("{prefix}{}", r.path)
        };
        let mut guarded =
            (r.handler)().route_layer(from_fn_with_state((state.clone(), r.access), guard));
        if let Some(limit) = r.body_limit {
            // Outside the guard, so the guard's CSRF read and the handler's extractors both
            // see this route's limit instead of the shop's.
            guarded = guarded.route_layer(DefaultBodyLimit::max(limit));
        }
        match by_path.iter_mut().find(|(p, _)| *p == full) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge(guarded),
            None => by_path.push((full, guarded)),
        }
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(&path, mr);
    }
    // Anything else under the prefix is "not found", behind the allow-list like the rest.
    router.route(
        &format!("{prefix}/{{*rest}}"),
        get(not_found)
            .post(not_found)
            .route_layer(from_fn_with_state((state.clone(), Access::Public), guard)),
    )
}

/// The body limit of the staff route `method path` when it takes more than the shop's, for
/// the layers that run before routing (the declared-length check, the card guard).
pub fn body_limit_for(state: &AppState, method: &Method, path: &str) -> Option<usize> {
    let rest = path.strip_prefix(state.config.admin_path.trim_end_matches('/'))?;
    routes()
        .into_iter()
        .filter(|r| r.method == *method)
        .find(|r| r.body_limit.is_some() && path_matches(r.path, rest))
        .and_then(|r| r.body_limit)
}

/// Whether `path` fills the route pattern `pattern` (`{name}` stands for one segment).
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.split('/');
    let mut path = path.split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') && !s.is_empty() => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

async fn not_found() -> WebError {
    WebError::new(ErrorKind::NotFound)
}

/// The back office's Content-Security-Policy: its own pages and nothing else.
pub fn admin_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'; report-uri /csp-report; report-to csp"
    )
}

fn staff_token(state: &AppState, headers: &axum::http::HeaderMap) -> Option<SessionToken> {
    cookie_value(headers, state.config.staff_cookie_name()).and_then(SessionToken::parse)
}

/// The device cookie's value, if the browser has a well-formed one.
pub(crate) fn device_secret(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Option<SessionToken> {
    cookie_value(headers, state.config.staff_device_cookie_name()).and_then(SessionToken::parse)
}

fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientIp>().map(|c| c.0)
}

fn deny(state: &AppState, req: &Request, subject: Option<i64>) {
    let mut e = SecurityEvent::new(SecurityEventKind::StaffAccessDenied);
    e.ip = client_ip(req);
    e.subject = subject;
    state.event(e);
}

/// Where to send a browser that is not signed in far enough: the sign-in page for pages,
/// a refusal for anything else.
fn to_sign_in(state: &AppState, req: &Request) -> Response {
    if req.method() == Method::GET {
        Redirect::to(&format!("{}/login", state.config.admin_path)).into_response()
    } else {
        WebError::new(ErrorKind::Forbidden).into_response()
    }
}

pub async fn guard(
    State((state, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&req);
    if !state.admin_allows(ip) {
        deny(&state, &req, None);
        return WebError::new(ErrorKind::NotFound).into_response();
    }
    let session = match staff_token(&state, req.headers()) {
        Some(token) => match state.staff.load(&token).await {
            Ok(s) => s,
            Err(e) => return WebError::from(e).into_response(),
        },
        None => None,
    };
    match access {
        Access::Public => {}
        Access::Signed => {
            if session.is_none() {
                deny(&state, &req, None);
                return to_sign_in(&state, &req);
            }
        }
        Access::Staff(permission) => {
            let Some(s) = &session else {
                deny(&state, &req, None);
                return to_sign_in(&state, &req);
            };
            if !s.complete() {
                deny(&state, &req, Some(s.member.id));
                return to_sign_in(&state, &req);
            }
            if !s.member.role.can(permission) {
                deny(&state, &req, Some(s.member.id));
                return WebError::new(ErrorKind::Forbidden).into_response();
            }
        }
    }
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        let (checked, token) = match csrf::cross_site_and_token(&state, req).await {
            Ok(v) => v,
            Err(refused) => return refused,
        };
        req = checked;
        let secret = session
            .as_ref()
            .map(|s| s.token.clone())
            .or_else(|| device_secret(&state, req.headers()));
        let valid = match (&token, &secret) {
            (Some(t), Some(s)) => state.vault.ring().verify_csrf(s.expose().as_bytes(), t),
            _ => false,
        };
        if !valid {
            return csrf::refuse_token(&state, &req);
        }
    }
    if let Some(s) = session {
        req.extensions_mut().insert(s);
    }
    let nonce = req
        .extensions()
        .get::<CspNonce>()
        .map(|n| n.0.clone())
        .unwrap_or_default();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&admin_csp(&nonce)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    res
}

/// What every back-office page's layout needs.
pub struct AdminContext {
    pub tr: Tr,
    pub nonce: String,
    pub shop_name: String,
    pub prefix: String,
    /// The CSRF token of the staff session (or of the device, on the sign-in page).
    pub csrf: String,
    /// The signed-in staff member's login name and role code, once both factors are given.
    pub staff: Option<(String, String)>,
    nav: Vec<(Permission, &'static str, &'static str)>,
    role: Option<kura_app::staff::Role>,
    pub ip: Option<IpAddr>,
}

impl AdminContext {
    /// Links of the menu the staff member's role may follow: (path under the prefix, label key).
    pub fn menu(&self) -> Vec<(String, &'static str)> {
        let Some(role) = self.role else {
            return Vec::new();
        };
        self.nav
            .iter()
            .filter(|(p, _, _)| role.can(*p))
            .map(|(_, path, label)| (format!("{}{path}", self.prefix), *label))
            .collect()
    }

    pub fn href(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

impl FromRequestParts<AppState> for AdminContext {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let session = parts.extensions.get::<StaffSession>().cloned();
        let secret = session
            .as_ref()
            .map(|s| s.token.clone())
            .or_else(|| device_secret(state, &parts.headers));
        let csrf = secret
            .map(|s| state.vault.ring().csrf_token(s.expose().as_bytes()))
            .unwrap_or_default();
        let complete = session.as_ref().filter(|s| s.complete());
        Ok(Self {
            tr: Tr(Lang::from_headers(&parts.headers)),
            nonce: parts
                .extensions
                .get::<CspNonce>()
                .map(|n| n.0.clone())
                .unwrap_or_default(),
            shop_name: state.config.shop_name.clone(),
            prefix: state.config.admin_path.trim_end_matches('/').to_string(),
            csrf,
            staff: complete.map(|s| (s.member.login.clone(), s.member.role.code().to_string())),
            nav: vec![
                (Permission::Dashboard, "", "admin.nav.dashboard"),
                (Permission::OrdersRead, "/orders", "admin.nav.orders"),
                (
                    Permission::CustomersList,
                    "/customers",
                    "admin.nav.customers",
                ),
                (Permission::Inquiries, "/inquiries", "admin.nav.inquiries"),
                (Permission::Catalog, "/catalog", "admin.nav.catalog"),
                (Permission::Catalog, "/coupons", "admin.nav.coupons"),
                (Permission::StaffManage, "/staff", "admin.nav.staff"),
                (Permission::Settings, "/settings", "admin.nav.settings"),
                (Permission::AuditRead, "/audit", "admin.nav.audit"),
                (Permission::Export, "/exports", "admin.nav.exports"),
                (Permission::Security, "/guard", "admin.nav.guard"),
                (Permission::Incidents, "/incidents", "admin.nav.incidents"),
                (Permission::Dashboard, "/security", "admin.nav.security"),
            ],
            role: complete.map(|s| s.member.role),
            ip: parts.extensions.get::<ClientIp>().map(|c| c.0),
        })
    }
}

/// The session the guard loaded, for handlers behind [`Access::Signed`] or [`Access::Staff`].
pub struct Staff(pub StaffSession);

impl FromRequestParts<AppState> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, WebError> {
        parts
            .extensions
            .get::<StaffSession>()
            .cloned()
            .map(Staff)
            .ok_or_else(|| WebError::new(ErrorKind::Forbidden))
    }
}

/// `Set-Cookie` for the staff session: its own name, `HttpOnly`, `SameSite=Strict`, no lifetime
/// of its own (the server ends it), `Secure` over TLS.
pub(crate) fn session_cookie(state: &AppState, token: Option<&SessionToken>) -> HeaderValue {
    let name = state.config.staff_cookie_name();
    let secure = if state.config.tls { "; Secure" } else { "" };
    let text = match token {
        Some(t) => format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
            t.expose()
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` for the device cookie (400 days, the most browsers keep).
pub(crate) fn device_cookie(state: &AppState, token: &SessionToken) -> HeaderValue {
    let name = state.config.staff_device_cookie_name();
    let secure = if state.config.tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=34560000{secure}",
        token.expose()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A refusal page status for the back office's own forms.
pub(crate) fn status_page(status: StatusCode, html: String) -> Response {
    (status, axum::response::Html(html)).into_response()
}
