//! `POST /api/v1/carts/{cart_id}/checkout`: places the cart's order.
//!
//! The `Idempotency-Key` header (1–200 visible ASCII characters) is required and scoped to the
//! cart: the same key again answers with the order it made (same number and token, 200 instead
//! of 201) and never makes a second one, also when both requests arrive at once. Every field is
//! validated by the checkout's rules (`kura_app::checkout`), the ones the checkout form uses;
//! the first problem found is answered with its code and field. An optional
//! `expected_total_yen` (the total the client showed) must match the total computed now
//! (`Orders::place` checks it), else `price_changed` with the new `total_yen`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kura_app::checkout::{
    CheckoutField, CheckoutInput, CheckoutProblem, Problem, TypedCheckout, TypedPerson,
};
use kura_domain::Yen;
use serde::Serialize;
use serde_json::Value;

use super::carts::line_problem;
use super::error::ApiError;
use super::json::{Obj, parse_body};
use super::{Query, opened_cart};
use crate::AppState;
use crate::error::WebError;
use crate::i18n::Lang;

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

#[derive(Debug, Serialize)]
pub struct PlacedJson {
    pub order_number: String,
    pub order_token: String,
    pub total_yen: i64,
    /// What the coupon took off the goods (0 without one).
    pub discount_yen: i64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_url: Option<String>,
}

/// The key of the `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Err(ApiError::bad_request("idempotency_key_required"));
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(ApiError::bad_request("idempotency_key_required"));
    }
    if bytes.len() > MAX_IDEMPOTENCY_KEY || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(ApiError::bad_request("invalid_idempotency_key"));
    }
    value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid_idempotency_key"))
}

/// A person's fields as sent, before validation.
struct RawPerson<'a> {
    family_name: &'a str,
    given_name: &'a str,
    family_name_kana: &'a str,
    given_name_kana: &'a str,
    phone: &'a str,
    postal_code: &'a str,
    prefecture: String,
    address1: &'a str,
    address2: Option<&'a str>,
}

/// The buyer's extra fields as sent.
struct RawBuyer<'a> {
    email: &'a str,
    birth_date: Option<&'a str>,
    gender: Option<&'a str>,
}

fn read_person<'a>(obj: &mut Obj<'a>) -> Result<RawPerson<'a>, ApiError> {
    Ok(RawPerson {
        family_name: obj.string("family_name")?,
        given_name: obj.string("given_name")?,
        family_name_kana: obj.string("family_name_kana")?,
        given_name_kana: obj.string("given_name_kana")?,
        phone: obj.string("phone")?,
        postal_code: obj.string("postal_code")?,
        // The JIS code as a number (13) or a string ("13", "東京都", "Tokyo").
        prefecture: match obj.required("prefecture")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(ApiError::bad_request("invalid_type").field(&obj.path_of("prefecture")));
            }
        },
        address1: obj.string("address1")?,
        address2: obj.optional_string("address2")?,
    })
}

impl RawPerson<'_> {
    fn typed(&self) -> TypedPerson<'_> {
        TypedPerson {
            family_name: self.family_name,
            given_name: self.given_name,
            family_name_kana: self.family_name_kana,
            given_name_kana: self.given_name_kana,
            postal_code: self.postal_code,
            prefecture: &self.prefecture,
            address1: self.address1,
            address2: self.address2.unwrap_or(""),
            phone: self.phone,
            latin_reading: false,
        }
    }
}

/// The JSON field a checkout problem belongs to.
fn field_path(field: CheckoutField) -> String {
    match field {
        CheckoutField::Buyer(f) => format!("customer.{}", f.name()),
        CheckoutField::Recipient(f) => format!("shipping.{}", f.name()),
        CheckoutField::Email => "customer.email".into(),
        CheckoutField::BirthDate => "customer.birth_date".into(),
        CheckoutField::Gender => "customer.gender".into(),
        CheckoutField::DeliveryDate => "delivery.date".into(),
        CheckoutField::DeliverySlot => "delivery.slot".into(),
        CheckoutField::Payment => "payment_method".into(),
        CheckoutField::Noshi => "gift.noshi".into(),
        CheckoutField::NoshiName => "gift.noshi_name".into(),
        CheckoutField::Note => "note".into(),
        CheckoutField::Coupon => "coupon".into(),
    }
}

/// A checkout problem as the API answers it.
fn problem_error(p: &CheckoutProblem) -> ApiError {
    match &p.problem {
        Problem::Invalid(e) => ApiError::invalid_field(&field_path(p.field), *e),
        Problem::Refused(e) => ApiError::checkout(e),
    }
}

/// What the body asks for, validated.
struct Request {
    input: CheckoutInput,
    expected_total: Option<i64>,
}

fn read_request(state: &AppState, value: &Value, lang: Lang) -> Result<Request, ApiError> {
    // Shape first (types, missing and unknown fields), as a typed deserialiser would.
    let mut body = Obj::new(value, "")?;
    let mut customer = Obj::new(body.required("customer")?, "customer")?;
    let buyer_raw = read_person(&mut customer)?;
    let buyer_extra = RawBuyer {
        email: customer.string("email")?,
        birth_date: customer.optional_string("birth_date")?,
        gender: customer.optional_string("gender")?,
    };
    customer.finish()?;
    let shipping_raw = match body.optional("shipping") {
        None => None,
        Some(v) => {
            let mut shipping = Obj::new(v, "shipping")?;
            let raw = read_person(&mut shipping)?;
            shipping.finish()?;
            Some(raw)
        }
    };
    let (date_raw, slot_raw) = match body.optional("delivery") {
        None => (None, None),
        Some(v) => {
            let mut delivery = Obj::new(v, "delivery")?;
            let date = delivery.optional_string("date")?;
            let slot = delivery.optional_string("slot")?;
            delivery.finish()?;
            (date, slot)
        }
    };
    let payment_raw = body.string("payment_method")?;
    let expected_total = match body.optional("expected_total_yen") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| ApiError::bad_request("invalid_type").field("expected_total_yen"))?,
        ),
    };
    let coupon_raw = body.optional_string("coupon")?;
    body.finish()?;

    // Then the values, with the checkout's rules; the first problem in form order answers.
    let typed = TypedCheckout {
        buyer: buyer_raw.typed(),
        email: buyer_extra.email,
        birth_date: buyer_extra.birth_date.unwrap_or(""),
        gender: buyer_extra.gender.unwrap_or(""),
        recipient: shipping_raw.as_ref().map(|r| r.typed()),
        delivery_date: date_raw.map_or("", str::trim),
        delivery_slot: slot_raw.map_or("", str::trim),
        payment: payment_raw.trim(),
        lang: lang.code(),
        coupon: coupon_raw.unwrap_or(""),
        ..TypedCheckout::default()
    };
    match state.orders.checkout_input(&typed) {
        Ok(input) => Ok(Request {
            input,
            expected_total,
        }),
        Err(problems) => Err(problems.first().map_or_else(
            || WebError::internal("checkout refused without a problem").into(),
            problem_error,
        )),
    }
}

pub async fn checkout_post(
    State(state): State<AppState>,
    ip: Option<axum::Extension<crate::security::client_ip::ClientIp>>,
    Path(cart_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = opened_cart(&state, &headers, &cart_id).await?;
    let lang = Query::parse(uri.query(), &["lang"])?.lang()?;
    let key = idempotency_key(&headers)?;
    let value = parse_body(&headers, &body)?;
    let Request {
        input,
        expected_total,
    } = read_request(&state, &value, lang)?;
    let idempotency = format!("api:{id}:{key}");
    let cart = state.carts.view(id).await?;
    // `Orders::place` looks the key up first: a repeated submission gets its order back even
    // though the first one emptied the cart.
    // The confirmed total (`expected_total_yen`) is checked there too, after the stock here.
    if let Some(line) = cart.lines.iter().find(|l| line_problem(l).is_some()) {
        let code = line_problem(line).unwrap_or("sold_out");
        return Err(ApiError::new(StatusCode::CONFLICT, code).sku(&line.item.sku));
    }
    let placed = match state
        .orders
        .place(
            &cart,
            Some(id),
            None,
            &input,
            &idempotency,
            expected_total.map(Yen),
        )
        .await?
    {
        Ok(placed) => placed,
        Err(e) => return Err(ApiError::checkout(&e)),
    };
    if placed.payment_url.is_some() && !placed.repeated {
        crate::security::guard::card_checkout_started(&state, ip.map(|i| i.0.0), placed.id);
    }
    let status = if placed.repeated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut res = (
        status,
        Json(PlacedJson {
            order_number: placed.number.clone(),
            order_token: placed.token,
            total_yen: placed.total.0,
            discount_yen: placed.discount.0,
            status: placed.status.code(),
            payment_url: placed.payment_url,
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/orders/{}", placed.number)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
