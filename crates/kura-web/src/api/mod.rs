//! The JSON store API under `/api/v1`, and its OpenAPI document at `/api/openapi.json`.
//!
//! Guarantees:
//! - the API never reads or writes the browser's session: carts are opened with the bearer token
//!   handed out when the cart was made, orders with the bearer token handed out when the order
//!   was placed (that is why CSRF does not apply under `/api/`);
//! - every request body is read as JSON with unknown fields refused by name, and every answer
//!   that is not a success is `{"error":{"code","field"?,"message","operation_id"}}` with a
//!   stable snake_case `code` (see [`v1::error`]);
//! - checkout with the same `Idempotency-Key` on the same cart yields the same order, never a
//!   second one;
//! - answers carry no personal data: the order read back holds lines, totals, payment and
//!   delivery choices, not names or addresses.

pub mod openapi;
pub mod v1;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post, put};

use crate::AppState;

/// Every API route. The router merges these before its fallback, inside all security layers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi::openapi_get))
        .route("/api/v1/products", get(v1::products::products_get))
        .route("/api/v1/products/{slug}", get(v1::products::product_get))
        .route("/api/v1/carts", post(v1::carts::carts_post))
        .route("/api/v1/carts/{cart_id}", get(v1::carts::cart_get))
        .route("/api/v1/carts/{cart_id}/items", post(v1::carts::items_post))
        .route(
            "/api/v1/carts/{cart_id}/items/{sku}",
            put(v1::carts::item_put).delete(v1::carts::item_delete),
        )
        .route(
            "/api/v1/carts/{cart_id}/checkout",
            post(v1::checkout::checkout_post),
        )
        .route("/api/v1/orders/{order_number}", get(v1::orders::order_get))
        .layer(from_fn(v1::error::localise))
}
