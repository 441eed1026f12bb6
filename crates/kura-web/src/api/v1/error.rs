//! API errors: `{"error":{"code","field"?,"message","operation_id"}}`.
//!
//! `code` is the contract (stable snake_case, the same codes the pages translate); `field`
//! names the request field at fault as a dotted path (`customer.postal_code`); `message` is
//! English unless the request asks for Japanese (`?lang=ja`, or `Accept-Language` preferring
//! `ja`). Nothing the client sent is echoed except a field name, cut to 64 characters.
//! Internal failures go through [`WebError`], so they are logged with the operation id and
//! answered as `internal_error` / `unavailable` by `render_errors`.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::carts::CartError;
use kura_app::orders::CheckoutError;
use kura_domain::{FieldError, QuantityError};

use crate::error::WebError;
use crate::form::FormFields;
use crate::i18n::{Lang, Tr};
use crate::security::request_id::RequestId;

/// What went wrong, as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiProblem {
    pub status: StatusCode,
    pub code: &'static str,
    pub field: Option<String>,
    /// A SKU the problem is about (stock and price conflicts).
    pub sku: Option<String>,
    /// For `too_long`: the longest accepted length.
    pub max: Option<usize>,
    /// For `price_changed`: the total the order would cost now.
    pub total_yen: Option<i64>,
}

/// A failed API request: a problem the client can fix, or a failure of ours.
#[derive(Debug)]
pub enum ApiError {
    Problem(Box<ApiProblem>),
    Web(WebError),
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self::Problem(Box::new(ApiProblem {
            status,
            code,
            field: None,
            sku: None,
            max: None,
            total_yen: None,
        }))
    }

    /// The same error, about `field` (a dotted path; cut to 64 characters).
    pub fn field(self, field: &str) -> Self {
        match self {
            Self::Problem(mut p) => {
                p.field = Some(field.chars().take(64).collect());
                Self::Problem(p)
            }
            other => other,
        }
    }

    /// The same error, about `sku` (an empty one is left out).
    pub fn sku(self, sku: &str) -> Self {
        match self {
            Self::Problem(mut p) if !sku.is_empty() => {
                p.sku = Some(sku.chars().take(64).collect());
                Self::Problem(p)
            }
            other => other,
        }
    }

    pub fn total(self, total_yen: i64) -> Self {
        match self {
            Self::Problem(mut p) => {
                p.total_yen = Some(total_yen);
                Self::Problem(p)
            }
            other => other,
        }
    }

    pub fn bad_request(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized")
    }

    /// A field that failed domain validation (`kura_domain::FieldError`).
    pub fn invalid_field(field: &str, e: FieldError) -> Self {
        let max = match e {
            FieldError::TooLong { max } => Some(max),
            _ => None,
        };
        match Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).field(field) {
            Self::Problem(mut p) => {
                p.max = max;
                Self::Problem(p)
            }
            other => other,
        }
    }

    pub fn quantity(field: &str, e: QuantityError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).field(field)
    }

    pub fn cart(e: CartError, sku: &str) -> Self {
        let status = match e {
            CartError::UnknownSku | CartError::TooMany => StatusCode::UNPROCESSABLE_ENTITY,
            CartError::SoldOut | CartError::NotEnough(_) | CartError::TooManyLines => {
                StatusCode::CONFLICT
            }
        };
        let field = match e {
            CartError::TooMany => "quantity",
            _ => "sku",
        };
        Self::new(status, e.code()).field(field).sku(sku)
    }

    pub fn checkout(e: &CheckoutError) -> Self {
        match e {
            CheckoutError::EmptyCart => Self::new(StatusCode::CONFLICT, e.code()),
            CheckoutError::SoldOut { sku }
            | CheckoutError::PriceChanged { sku }
            | CheckoutError::Unavailable { sku } => {
                Self::new(StatusCode::CONFLICT, e.code()).sku(sku)
            }
            CheckoutError::TotalChanged { total } => {
                Self::new(StatusCode::CONFLICT, e.code()).total(total.0)
            }
            CheckoutError::DeliveryDateOutOfRange => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).field("delivery.date")
            }
            CheckoutError::Coupon(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).field("coupon")
            }
            CheckoutError::CardUnavailable | CheckoutError::KonbiniLimit => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).field("payment_method")
            }
        }
    }
}

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        Self::Web(e)
    }
}

impl From<kura_app::AppError> for ApiError {
    fn from(e: kura_app::AppError) -> Self {
        Self::Web(WebError::from(e))
    }
}

/// English and Japanese text for a code. Field codes use the pages' own translations.
fn messages(p: &ApiProblem) -> (String, String) {
    let (en, ja): (&str, &str) = match p.code {
        "invalid_json" => (
            "The request body is not valid JSON (or not valid UTF-8).",
            "リクエスト本文が正しいJSON（UTF-8）ではありません。",
        ),
        "unknown_field" => (
            "The request has a field this endpoint does not know.",
            "このエンドポイントにない項目が含まれています。",
        ),
        "missing_field" => ("A required field is missing.", "必須の項目がありません。"),
        "invalid_type" => (
            "A field has the wrong JSON type.",
            "項目の型が正しくありません。",
        ),
        "invalid_parameter" => (
            "A query parameter has a value that is not accepted.",
            "クエリパラメーターの値が正しくありません。",
        ),
        "unknown_parameter" => (
            "The request has a query parameter this endpoint does not know.",
            "このエンドポイントにないクエリパラメーターが含まれています。",
        ),
        "invalid_quantity" => (
            "The quantity must be a whole number.",
            "数量は整数で指定してください。",
        ),
        "quantity_too_small" => (
            "The quantity must be at least 1.",
            "数量は1以上にしてください。",
        ),
        "quantity_too_large" => (
            "The quantity may be at most 99.",
            "数量は99以下にしてください。",
        ),
        "unknown_sku" => (
            "There is no product variant with this SKU.",
            "このSKUの商品はありません。",
        ),
        "sold_out" => ("This item is sold out.", "この商品は売り切れです。"),
        "insufficient_stock" => (
            "There is not enough stock for this quantity.",
            "在庫が足りません。",
        ),
        "cart_full" => (
            "The cart holds the most lines it can.",
            "カートに入れられる商品の種類の上限です。",
        ),
        "cart_empty" => ("The cart is empty.", "カートが空です。"),
        "price_changed" => (
            "A price changed; check the new total and confirm again.",
            "価格が変わりました。新しい合計を確認して、もう一度ご注文ください。",
        ),
        "delivery_date_out_of_range" => (
            "The delivery date is outside the dates offered.",
            "お届け日が指定できる範囲外です。",
        ),
        "coupon_unknown" => (
            "No coupon has this code.",
            "このクーポンコードは見つかりません。",
        ),
        "coupon_not_yet_valid" => (
            "This coupon cannot be used yet.",
            "このクーポンはまだご利用いただけません。",
        ),
        "coupon_expired" => (
            "This coupon has expired.",
            "このクーポンは有効期限が過ぎています。",
        ),
        "coupon_below_minimum" => (
            "The goods in this order are below the coupon's minimum.",
            "商品合計がクーポンの最低購入金額に達していません。",
        ),
        "coupon_used" => (
            "This coupon was already used with this email address or account.",
            "このクーポンは、このメールアドレスまたはアカウントで既にご利用済みです。",
        ),
        "coupon_disabled" => (
            "This coupon cannot be used at the moment.",
            "このクーポンは現在ご利用いただけません。",
        ),
        "card_payment_unavailable" => (
            "Card payment is not available right now.",
            "現在クレジットカード決済はご利用いただけません。",
        ),
        "unauthorized" => (
            "A valid bearer token for this cart is required.",
            "このカートの有効なトークンが必要です。",
        ),
        "not_found" => ("Not found.", "見つかりません。"),
        "idempotency_key_required" => (
            "Send an Idempotency-Key header (1 to 200 visible ASCII characters).",
            "Idempotency-Keyヘッダー（1〜200文字の表示可能なASCII文字）を指定してください。",
        ),
        "invalid_idempotency_key" => (
            "The Idempotency-Key must be 1 to 200 visible ASCII characters.",
            "Idempotency-Keyは1〜200文字の表示可能なASCII文字にしてください。",
        ),
        "unsupported_media_type" => (
            "Send the body as application/json.",
            "本文はapplication/jsonで送ってください。",
        ),
        _ => ("", ""),
    };
    if !en.is_empty() {
        return (en.to_string(), ja.to_string());
    }
    // Field validation codes: the domain's English text and the pages' Japanese text.
    let field_error = [
        FieldError::Required,
        FieldError::TooLong {
            max: p.max.unwrap_or(0),
        },
        FieldError::InvalidCharacters,
        FieldError::NotKatakana,
        FieldError::InvalidEmail,
        FieldError::InvalidPostalCode,
        FieldError::InvalidPhone,
        FieldError::UnknownPrefecture,
        FieldError::InvalidDate,
        FieldError::DateOutOfRange,
        FieldError::UnknownChoice,
        FieldError::CardNumber,
    ]
    .into_iter()
    .find(|e| e.code() == p.code);
    match field_error {
        Some(e) => {
            let key = format!("field_error.{}", e.code());
            let ja = Tr(Lang::Ja)
                .t(&key)
                .replace("{max}", &p.max.unwrap_or(0).to_string());
            (e.to_string(), ja)
        }
        None => (
            "The request was refused.".into(),
            "リクエストを受け付けられませんでした。".into(),
        ),
    }
}

fn body(p: &ApiProblem, message: String, operation_id: Option<&str>) -> serde_json::Value {
    let mut e = serde_json::Map::new();
    e.insert("code".into(), p.code.into());
    if let Some(f) = &p.field {
        e.insert("field".into(), f.clone().into());
    }
    e.insert("message".into(), message.into());
    if let Some(sku) = &p.sku {
        e.insert("sku".into(), sku.clone().into());
    }
    if let Some(max) = p.max {
        e.insert("max".into(), max.into());
    }
    if let Some(t) = p.total_yen {
        e.insert("total_yen".into(), t.into());
    }
    if let Some(id) = operation_id {
        e.insert("operation_id".into(), id.into());
    }
    serde_json::json!({ "error": e })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Web(e) => e.into_response(),
            Self::Problem(p) => {
                let (en, _) = messages(&p);
                let mut res = (p.status, Json(body(&p, en, None))).into_response();
                if p.status == StatusCode::UNAUTHORIZED {
                    res.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                res.extensions_mut().insert(*p);
                res
            }
        }
    }
}

/// The language of API messages: `?lang=` first, then `Accept-Language`, else English.
/// Cookies are not consulted.
pub fn message_lang(query: Option<&str>, headers: &HeaderMap) -> Lang {
    if let Some(l) = query.and_then(|q| Lang::parse(FormFields::parse(q.as_bytes()).get("lang"))) {
        return l;
    }
    match headers.get(header::ACCEPT_LANGUAGE) {
        Some(v) => {
            let mut only = HeaderMap::new();
            only.insert(header::ACCEPT_LANGUAGE, v.clone());
            let has_known = v.to_str().is_ok_and(|s| {
                let s = s.to_ascii_lowercase();
                s.contains("ja") || s.contains("en")
            });
            if has_known {
                Lang::from_headers(&only)
            } else {
                Lang::En
            }
        }
        None => Lang::En,
    }
}

/// Writes each API error's message in the request's language, with the operation id.
pub async fn localise(req: Request, next: Next) -> Response {
    let lang = message_lang(req.uri().query(), req.headers());
    let operation_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let res = next.run(req).await;
    let Some(problem) = res.extensions().get::<ApiProblem>().cloned() else {
        return res;
    };
    let (en, ja) = messages(&problem);
    let message = if lang == Lang::Ja { ja } else { en };
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let json = body(&problem, message, operation_id.as_deref());
    let bytes = serde_json::to_vec(&json).unwrap_or_default();
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_text_in_both_languages() {
        for code in [
            "invalid_json",
            "unknown_field",
            "missing_field",
            "invalid_quantity",
            "sold_out",
            "cart_empty",
            "unauthorized",
            "required",
            "too_long",
            "not_katakana",
            "unknown_prefecture",
        ] {
            let p = ApiProblem {
                status: StatusCode::BAD_REQUEST,
                code,
                field: None,
                sku: None,
                max: Some(30),
                total_yen: None,
            };
            let (en, ja) = messages(&p);
            assert!(!en.is_empty() && en != "The request was refused.", "{code}");
            assert!(
                !ja.is_empty() && !ja.starts_with("field_error."),
                "{code}: {ja}"
            );
        }
    }

    #[test]
    fn message_language() {
        let mut h = HeaderMap::new();
        assert_eq!(message_lang(None, &h), Lang::En);
        assert_eq!(message_lang(Some("lang=ja"), &h), Lang::Ja);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("ja-JP,en;q=0.5"),
        );
        assert_eq!(message_lang(None, &h), Lang::Ja);
        assert_eq!(message_lang(Some("lang=en"), &h), Lang::En);
    }
}
