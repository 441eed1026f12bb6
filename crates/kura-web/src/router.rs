//! Every route of the shop, and the order of the layers every request passes through.
//!
//! Outermost first:
//! 1. `request_id`       operation id, tracing span, access log, metrics
//! 2. `client_ip`        peer address, or X-Forwarded-For only from trusted proxies
//! 3. `security_headers` CSP with a fresh nonce, nosniff, referrer and permissions policy, HSTS
//! 4. `render_errors`    every error becomes a page (or JSON under /api/) with the operation id
//! 5. `rate_limit`       token bucket per client IP; 429 with Retry-After
//!    `maintenance`      while the shop is closed, 503 for all but notices, mail check, desk
//! 6. `body_limit`       declared length checked up front; extractors capped to the same size
//! 7. `card_guard`       anything shaped like a card number in a query or body is refused
//! 8. `session`          server-side session from the cookie; cookie written back
//! 9. `csrf`             Sec-Fetch-Site, Origin and session-bound token on unsafe methods
//!
//! Then the handler. Back-office routes (under the configured prefix) add their own guard:
//! allow-list, staff session, second factor, role and a CSRF token bound to the staff session
//! (see `admin`).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use kura_app::customers::AccountLinks;
use kura_app::orders::OrderPages;
use tower::ServiceBuilder;

use crate::AppState;
use crate::error::{ErrorKind, WebError, render_errors};
use crate::i18n::{Lang, Tr};
use crate::pages::{
    account, cart, checkout, contact, info, notices, ops, orders, storefront, webhooks,
};
use crate::pages::{profile, receipts, register};
use crate::security::{
    body_limit, card_guard, client_ip, csrf, guard, headers, maintenance, rate_limit, request_id,
    session,
};

/// An order's page. `{number}` is both axum's path parameter and the placeholder of
/// [`OrderPages`], so the route and the links the use cases make are the same text.
pub const ORDER_PAGE: &str = "/orders/{number}";
/// Where the card provider sends the customer back after paying (or not).
pub const CARD_RETURN: &str = "/checkout/return/{number}";

/// The link in the mail that confirms an account's address; `{token}` is the one-time token.
pub const VERIFY_EMAIL: &str = "/account/verify/{token}";
/// The link in the mail that sets a new password.
pub const PASSWORD_RESET: &str = "/account/reset/{token}";

/// The links `kura_app::Customers` puts in account mails, under the configured `base_url`.
pub fn account_links(base_url: &str) -> AccountLinks {
    AccountLinks {
        base_url: base_url.to_string(),
        verify_email: VERIFY_EMAIL.to_string(),
        password_reset: PASSWORD_RESET.to_string(),
    }
}

/// The pages and words `kura_app::orders::Orders` names in order links and card payments.
pub fn order_pages() -> OrderPages {
    OrderPages {
        order: ORDER_PAGE.to_string(),
        card_return: CARD_RETURN.to_string(),
        card_description_ja: Tr(Lang::Ja).t("payment.card.description").to_string(),
        card_description_en: Tr(Lang::En).t("payment.card.description").to_string(),
    }
}

async fn not_found() -> WebError {
    WebError::new(ErrorKind::NotFound)
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.body_limit;
    Router::new()
        .route("/", get(storefront::home_get))
        .route("/category/{slug}", get(storefront::category_get))
        .route("/products/{slug}", get(storefront::product_get))
        .route("/search", get(storefront::search_get))
        .route("/images/{file}", get(storefront::image_get))
        .route("/images/p/{file}", get(storefront::product_image_get))
        .route("/legal", get(storefront::legal_get))
        .route("/privacy", get(info::privacy_get))
        .route("/terms", get(info::terms_get))
        .route("/faq", get(info::faq_get))
        .route("/postal/{code}", get(storefront::postal_get))
        .route("/restock", post(storefront::restock_post))
        .route(
            "/contact",
            get(contact::contact_get).post(contact::contact_post),
        )
        .route("/cart", get(cart::cart_get))
        .route("/cart/add", post(cart::cart_add_post))
        .route("/cart/update", post(cart::cart_update_post))
        .route(
            "/checkout",
            get(checkout::checkout_get).post(checkout::checkout_post),
        )
        .route(
            "/checkout/confirm",
            get(checkout::confirm_get).post(checkout::confirm_post),
        )
        .route(CARD_RETURN, get(orders::return_get))
        .route(
            "/mail-check",
            get(crate::pages::mail_check::get).post(crate::pages::mail_check::post),
        )
        .route(
            "/orders/lookup",
            get(orders::lookup_get).post(orders::lookup_post),
        )
        .route(ORDER_PAGE, get(orders::order_get))
        .route("/orders/{number}/pay", post(orders::order_pay_post))
        .route("/orders/{number}/reopen", post(orders::order_reopen_post))
        .route("/orders/{number}/receipt.pdf", get(receipts::receipt_get))
        .route("/orders/{number}/invoice.pdf", get(receipts::invoice_get))
        .route("/orders/{number}/addressee", post(receipts::addressee_post))
        .route("/webhooks/payments", post(webhooks::payments_post))
        .route("/login", get(account::login_get).post(account::login_post))
        .route("/logout", post(account::logout_post))
        .route("/account", get(account::account_get))
        .route("/account/phrase", post(account::phrase_post))
        .route(
            "/account/register",
            get(register::register_get).post(register::register_post),
        )
        .route(
            VERIFY_EMAIL,
            get(register::verify_get).post(register::verify_post),
        )
        .route("/account/verify-resend", post(register::verify_resend_post))
        .route(
            "/account/reset",
            get(register::reset_request_get).post(register::reset_request_post),
        )
        .route(
            PASSWORD_RESET,
            get(register::reset_get).post(register::reset_post),
        )
        .route(
            "/account/profile",
            get(profile::profile_get).post(profile::profile_post),
        )
        .route(
            "/account/email",
            get(profile::email_get).post(profile::email_post),
        )
        .route(
            "/account/password",
            get(profile::password_get).post(profile::password_post),
        )
        .route(
            "/account/delete",
            get(profile::delete_get).post(profile::delete_post),
        )
        .route("/account/addresses/new", get(profile::address_new_get))
        .route("/account/addresses", post(profile::address_post))
        .route(
            "/account/addresses/{id}/delete",
            post(profile::address_delete_post),
        )
        .route("/notices", get(notices::notices_get))
        .route("/notices/{id}", get(notices::notice_get))
        .route("/notices/{id}/lookup", post(notices::notice_lookup_post))
        .route("/lang/{code}", get(ops::lang_get))
        .route("/assets/kura.css", get(ops::css_get))
        .route("/csp-report", post(ops::csp_report_post))
        .route("/healthz", get(ops::healthz_get))
        .route("/readyz", get(ops::readyz_get))
        .merge(crate::api::routes())
        .merge(crate::admin::router(&state))
        .fallback(not_found)
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(request_id::request_id))
                .layer(from_fn_with_state(state.clone(), client_ip::client_ip))
                .layer(from_fn_with_state(state.clone(), headers::security_headers))
                .layer(from_fn_with_state(state.clone(), render_errors))
                .layer(from_fn_with_state(state.clone(), guard::guard))
                .layer(from_fn_with_state(state.clone(), rate_limit::rate_limit))
                .layer(from_fn_with_state(state.clone(), maintenance::maintenance))
                .layer(from_fn_with_state(state.clone(), body_limit::body_limit))
                .layer(DefaultBodyLimit::max(limit))
                .layer(from_fn_with_state(state.clone(), card_guard::card_guard))
                .layer(from_fn_with_state(state.clone(), session::session))
                .layer(from_fn_with_state(state.clone(), csrf::csrf)),
        )
        .with_state(state)
}
