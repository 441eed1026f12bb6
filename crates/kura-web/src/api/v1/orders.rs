//! `GET /api/v1/orders/{order_number}` with `Authorization: Bearer <order_token>`.
//!
//! The token is compared by `Orders::view_with_token` (constant time). A missing or wrong
//! token and an unknown number get the same 404, so numbers reveal nothing. The answer holds
//! what was bought and what it costs (tax per rate), the payment method and the delivery
//! choices; no name, address, phone or email.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kura_app::orders::OrderView;
use kura_domain::{OrderStatus, TaxRate};
use serde::Serialize;

use super::bearer;
use super::error::ApiError;
use crate::AppState;

#[derive(Debug, Serialize)]
pub struct OrderLineJson {
    pub sku: String,
    pub name: String,
    pub variant: String,
    pub unit_price_yen: i64,
    pub quantity: u32,
    pub line_total_yen: i64,
    pub tax_rate_percent: i64,
}

#[derive(Debug, Serialize)]
pub struct TaxJson {
    pub rate_percent: i64,
    /// The tax-inclusive amount at this rate.
    pub taxable_yen: i64,
    /// The tax contained in it.
    pub tax_yen: i64,
}

#[derive(Debug, Serialize)]
pub struct TotalsJson {
    pub goods_yen: i64,
    pub discount_yen: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
    pub shipping_yen: i64,
    pub cod_fee_yen: i64,
    pub total_yen: i64,
    pub tax: Vec<TaxJson>,
}

#[derive(Debug, Serialize)]
pub struct DeliveryJson {
    pub date: Option<String>,
    pub slot: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct OrderJson {
    pub order_number: String,
    pub status: &'static str,
    pub payment_method: &'static str,
    pub lines: Vec<OrderLineJson>,
    pub totals: TotalsJson,
    pub delivery: DeliveryJson,
    /// Where to pay, while a card order waits for payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_url: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

pub fn order_json(o: &OrderView) -> OrderJson {
    let t = &o.totals;
    OrderJson {
        order_number: o.number.clone(),
        status: o.status.code(),
        payment_method: o.payment.code(),
        lines: o
            .lines
            .iter()
            .map(|l| OrderLineJson {
                sku: l.sku.clone(),
                name: l.product_name.clone(),
                variant: l.variant_label.clone(),
                unit_price_yen: l.unit_price.0,
                quantity: l.quantity,
                line_total_yen: l.unit_price.checked_mul(l.quantity).unwrap_or_default().0,
                tax_rate_percent: l.tax.percent(),
            })
            .collect(),
        totals: TotalsJson {
            goods_yen: t.goods.0,
            discount_yen: t.discount.0,
            coupon: o.coupon_code.clone(),
            shipping_yen: t.shipping.0,
            cod_fee_yen: t.cod_fee.0,
            total_yen: t.total.0,
            tax: vec![
                TaxJson {
                    rate_percent: TaxRate::Standard.percent(),
                    taxable_yen: t.tax.standard_total.0,
                    tax_yen: t.tax.standard_tax.0,
                },
                TaxJson {
                    rate_percent: TaxRate::Reduced.percent(),
                    taxable_yen: t.tax.reduced_total.0,
                    tax_yen: t.tax.reduced_tax.0,
                },
            ],
        },
        delivery: DeliveryJson {
            date: o.delivery_date.map(kura_domain::Date::iso),
            slot: o.delivery_slot.map(kura_domain::DeliverySlot::code),
        },
        payment_url: o
            .payment_url
            .clone()
            // The page to pay on, or an issued convenience-store number's voucher.
            .filter(|_| {
                matches!(
                    o.status,
                    OrderStatus::AwaitingPayment | OrderStatus::AwaitingStorePayment
                )
            }),
        created_at: o.created_at,
    }
}

pub async fn order_get(
    State(state): State<AppState>,
    ip: Option<axum::Extension<crate::security::client_ip::ClientIp>>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A wrong token answers "not found" like an unknown order (no oracle), and tells the guard.
    let refused = || {
        let mut e = kura_app::SecurityEvent::new(kura_app::SecurityEventKind::ApiTokenRejected)
            .detail("order_token");
        e.ip = ip.as_ref().map(|i| i.0.0);
        state.event(e);
        ApiError::not_found()
    };
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::not_found());
    };
    if number.len() > 20 || token.len() > 200 {
        return Err(refused());
    }
    let Some(order) = state.orders.view_with_token(&number, token).await? else {
        return Err(refused());
    };
    let mut res = Json(order_json(&order)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
