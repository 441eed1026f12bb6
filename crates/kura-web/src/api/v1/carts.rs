//! API carts. `POST /api/v1/carts` makes an anonymous cart and hands back its id (the i64 as
//! a decimal string, so JavaScript clients lose no digits) and a bearer token; every other
//! cart call must present that token. Prices always come from the catalog.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kura_app::carts::{CartLine, CartView};
use kura_domain::TaxRate;
use serde::Serialize;

use super::error::ApiError;
use super::json::{Obj, is_json, parse, parse_body, read_quantity};
use super::{Query, opened_cart};
use crate::AppState;
use crate::i18n::Lang;

#[derive(Debug, Serialize)]
pub struct CreatedCartJson {
    pub cart_id: String,
    pub cart_token: String,
}

#[derive(Debug, Serialize)]
pub struct CartLineJson {
    pub sku: String,
    pub product_slug: String,
    pub name: String,
    pub variant: String,
    pub unit_price_yen: i64,
    pub quantity: u32,
    pub line_total_yen: i64,
    pub tax_rate_percent: i64,
    /// `null` when the line can be ordered; else `sold_out` or `insufficient_stock`.
    pub problem: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct CartJson {
    pub cart_id: String,
    pub lines: Vec<CartLineJson>,
    pub item_count: u32,
    pub goods_total_yen: i64,
    /// Goods per tax rate (tax-inclusive), as the order will split them.
    pub goods_standard_rate_yen: i64,
    pub goods_reduced_rate_yen: i64,
}

/// Why a line cannot be ordered now, if it cannot.
pub fn line_problem(l: &CartLine) -> Option<&'static str> {
    if l.available() {
        None
    } else if l.item.stock <= 0 {
        Some("sold_out")
    } else {
        Some("insufficient_stock")
    }
}

pub fn cart_json(cart: &CartView, lang: Lang) -> CartJson {
    let en = lang == Lang::En;
    let per_rate = |rate: TaxRate| -> i64 {
        cart.lines
            .iter()
            .filter(|l| l.item.tax == rate)
            .map(|l| l.total().0)
            .sum()
    };
    CartJson {
        cart_id: cart.id.to_string(),
        lines: cart
            .lines
            .iter()
            .map(|l| CartLineJson {
                sku: l.item.sku.clone(),
                product_slug: l.item.product_slug.clone(),
                name: if en {
                    &l.item.product_name_en
                } else {
                    &l.item.product_name_ja
                }
                .clone(),
                variant: if en {
                    &l.item.label_en
                } else {
                    &l.item.label_ja
                }
                .clone(),
                unit_price_yen: l.item.price.0,
                quantity: l.quantity,
                line_total_yen: l.total().0,
                tax_rate_percent: l.item.tax.percent(),
                problem: line_problem(l),
            })
            .collect(),
        item_count: cart.count(),
        goods_total_yen: cart.goods().0,
        goods_standard_rate_yen: per_rate(TaxRate::Standard),
        goods_reduced_rate_yen: per_rate(TaxRate::Reduced),
    }
}

async fn answer(state: &AppState, cart_id: i64, uri: &Uri) -> Result<Response, ApiError> {
    let lang = Query::parse(uri.query(), &["lang"])?.lang()?;
    let cart = state.carts.view(cart_id).await?;
    Ok(Json(cart_json(&cart, lang)).into_response())
}

/// Makes a cart. The body may be empty or `{}`.
pub async fn carts_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    Query::parse(uri.query(), &["lang"])?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        if !is_json(&headers) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ));
        }
        Obj::new(&parse(&body)?, "")?.finish()?;
    }
    let (id, token) = state.carts.create_with_token().await?;
    let mut res = (
        StatusCode::CREATED,
        Json(CreatedCartJson {
            cart_id: id.to_string(),
            cart_token: token.expose().to_string(),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/carts/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub async fn cart_get(
    State(state): State<AppState>,
    Path(cart_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let id = opened_cart(&state, &headers, &cart_id).await?;
    answer(&state, id, &uri).await
}

/// Adds `{"sku","quantity"}` to the cart (summed with what the cart holds).
pub async fn items_post(
    State(state): State<AppState>,
    Path(cart_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = opened_cart(&state, &headers, &cart_id).await?;
    let value = parse_body(&headers, &body)?;
    let mut obj = Obj::new(&value, "")?;
    let sku = obj.string("sku")?;
    let quantity = obj.quantity("quantity")?;
    obj.finish()?;
    if sku.len() > 64 {
        return Err(ApiError::cart(kura_app::carts::CartError::UnknownSku, ""));
    }
    let lang = Query::parse(uri.query(), &["lang"])?.lang()?;
    match state.carts.add_and_view(id, sku, quantity).await? {
        Ok(cart) => Ok(Json(cart_json(&cart, lang)).into_response()),
        Err(e) => Err(ApiError::cart(e, sku)),
    }
}

/// Sets a line's quantity with `{"quantity"}`; 0 removes the line.
pub async fn item_put(
    State(state): State<AppState>,
    Path((cart_id, sku)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = opened_cart(&state, &headers, &cart_id).await?;
    let value = parse_body(&headers, &body)?;
    let mut obj = Obj::new(&value, "")?;
    let raw = obj.required("quantity")?;
    obj.finish()?;
    let zero = raw.as_i64() == Some(0) || raw.as_str().is_some_and(|s| s.trim() == "0");
    let n = if zero {
        0
    } else {
        read_quantity(raw)
            .map_err(|e| ApiError::quantity("quantity", e))?
            .get()
    };
    if sku.len() > 64 {
        return Err(ApiError::cart(kura_app::carts::CartError::UnknownSku, ""));
    }
    if let Err(e) = state.carts.set(id, &sku, n).await? {
        return Err(ApiError::cart(e, &sku));
    }
    answer(&state, id, &uri).await
}

/// Removes a line (removing a line the cart does not hold is not an error).
pub async fn item_delete(
    State(state): State<AppState>,
    Path((cart_id, sku)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let id = opened_cart(&state, &headers, &cart_id).await?;
    if sku.len() <= 64
        && let Err(e) = state.carts.set(id, &sku, 0).await?
    {
        return Err(ApiError::cart(e, &sku));
    }
    answer(&state, id, &uri).await
}
