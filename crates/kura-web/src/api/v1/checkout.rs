//! `POST /api/v1/carts/{cart_id}/checkout`: places the cart's order.
//!
//! The `Idempotency-Key` header (1–200 visible ASCII characters) is required and scoped to the
//! cart: the same key again answers with the order it made (same number and token, 200 instead
//! of 201) and never makes a second one, also when both requests arrive at once. Every field is
//! validated by the domain types the checkout form uses; the first problem found is answered
//! with its code and field. An optional `expected_total_yen` (the total the client showed) must
//! match the total computed now, else `price_changed` with the new `total_yen`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kura_app::carts::CartLine;
use kura_app::orders::{CheckoutError, CheckoutInput};
use kura_domain::{
    AddressLine, BirthDate, CustomerProfile, Date, DeliverySlot, Email, FieldError, Gender, Kana,
    PaymentMethod, Person, PersonName, Phone, PostalCode, Prefecture, Totals,
};
use serde::Serialize;
use serde_json::Value;

use super::carts::line_problem;
use super::error::ApiError;
use super::json::{Obj, parse_body};
use super::{Query, opened_cart};
use crate::AppState;
use crate::i18n::Lang;

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

#[derive(Debug, Serialize)]
pub struct PlacedJson {
    pub order_number: String,
    pub order_token: String,
    pub total_yen: i64,
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
    path: String,
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

fn read_person<'a>(obj: &mut Obj<'a>, path: &str) -> Result<RawPerson<'a>, ApiError> {
    Ok(RawPerson {
        path: path.to_string(),
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

fn check<T>(path: &str, name: &str, r: Result<T, FieldError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::invalid_field(&format!("{path}.{name}"), e))
}

fn person(raw: &RawPerson<'_>) -> Result<Person, ApiError> {
    let p = raw.path.as_str();
    Ok(Person {
        family_name: check(p, "family_name", PersonName::parse(raw.family_name))?,
        given_name: check(p, "given_name", PersonName::parse(raw.given_name))?,
        family_name_kana: check(p, "family_name_kana", Kana::parse(raw.family_name_kana))?,
        given_name_kana: check(p, "given_name_kana", Kana::parse(raw.given_name_kana))?,
        postal_code: check(p, "postal_code", PostalCode::parse(raw.postal_code))?,
        prefecture: check(p, "prefecture", Prefecture::parse(&raw.prefecture))?,
        address1: check(p, "address1", AddressLine::parse(raw.address1))?,
        address2: check(
            p,
            "address2",
            AddressLine::parse_optional(raw.address2.unwrap_or("")),
        )?,
        phone: check(p, "phone", Phone::parse(raw.phone))?,
    })
}

/// What the body asks for, validated.
struct Request {
    input: CheckoutInput,
    expected_total: Option<i64>,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

fn read_request(state: &AppState, value: &Value, lang: Lang) -> Result<Request, ApiError> {
    // Shape first (types, missing and unknown fields), as a typed deserialiser would.
    let mut body = Obj::new(value, "")?;
    let mut customer = Obj::new(body.required("customer")?, "customer")?;
    let buyer_raw = read_person(&mut customer, "customer")?;
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
            let raw = read_person(&mut shipping, "shipping")?;
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
    body.finish()?;

    // Then the values, in the order of the form.
    let now = now_unix();
    let today = Date::today_in_japan(now);
    let birth_today = (
        u16::try_from(today.year).unwrap_or(9999),
        u8::try_from(today.month).unwrap_or(12),
        u8::try_from(today.day).unwrap_or(31),
    );
    let buyer_person = person(&buyer_raw)?;
    let email = check("customer", "email", Email::parse(buyer_extra.email))?;
    let birth_date = check(
        "customer",
        "birth_date",
        BirthDate::parse_optional(buyer_extra.birth_date.unwrap_or(""), birth_today),
    )?;
    let gender = check(
        "customer",
        "gender",
        Gender::parse_optional(buyer_extra.gender.unwrap_or("")),
    )?;
    let recipient = match &shipping_raw {
        Some(raw) => Some(person(raw)?),
        None => None,
    };
    let delivery_date = match date_raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let d = Date::parse(s)
                .ok_or_else(|| ApiError::invalid_field("delivery.date", FieldError::InvalidDate))?;
            let (first, last) = state.orders.delivery_window();
            if d < first || d > last {
                return Err(ApiError::checkout(&CheckoutError::DeliveryDateOutOfRange));
            }
            Some(d)
        }
    };
    let delivery_slot =
        match slot_raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(DeliverySlot::parse(s).ok_or_else(|| {
                ApiError::invalid_field("delivery.slot", FieldError::UnknownChoice)
            })?),
        };
    let payment = PaymentMethod::parse(payment_raw.trim())
        .ok_or_else(|| ApiError::invalid_field("payment_method", FieldError::UnknownChoice))?;
    if payment == PaymentMethod::Card && !state.orders.card_available() {
        return Err(ApiError::checkout(&CheckoutError::CardUnavailable));
    }
    Ok(Request {
        input: CheckoutInput {
            buyer: CustomerProfile {
                person: buyer_person,
                email,
                birth_date,
                gender,
            },
            recipient,
            delivery_date,
            delivery_slot,
            payment,
            lang: lang.code().to_string(),
        },
        expected_total,
    })
}

pub async fn checkout_post(
    State(state): State<AppState>,
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
    if !cart.lines.is_empty() {
        if let Some(line) = cart.lines.iter().find(|l| line_problem(l).is_some()) {
            let code = line_problem(line).unwrap_or("sold_out");
            return Err(ApiError::new(StatusCode::CONFLICT, code).sku(&line.item.sku));
        }
        let destination = input
            .recipient
            .as_ref()
            .unwrap_or(&input.buyer.person)
            .prefecture;
        let priced: Vec<_> = cart.lines.iter().map(CartLine::priced).collect();
        let total = Totals::compute(&priced, destination, input.payment).total.0;
        if expected_total.is_some_and(|t| t != total) {
            return Err(
                ApiError::checkout(&CheckoutError::PriceChanged { sku: String::new() })
                    .total(total),
            );
        }
    }
    let placed = match state
        .orders
        .place(&cart, Some(id), None, &input, &idempotency)
        .await?
    {
        Ok(placed) => placed,
        Err(e) => return Err(ApiError::checkout(&e)),
    };
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
