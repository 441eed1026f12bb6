//! The order page and what a customer can do from it: pay an unpaid card order (again), or
//! release it to order the same items with another payment method.
//!
//! Guarantees: the page states only what the order's recorded status says. An order waiting
//! for its card payment never says it was accepted ("ご注文を承りました"): it says the payment
//! is not complete, by when it must be, and offers to pay (through a fresh provider page) or to
//! choose another method. Only this browser's own orders, its customer's, or orders it was let
//! into are shown; any other number answers exactly like a missing one: with the lookup form.
//!
//! A browser is let into an order by the signed link in the order's mails (`?k=`, checked
//! without the database and then dropped from the address bar by a redirect) or by the lookup
//! page (order number plus the email or phone given at checkout, throttled per client and per
//! order number). Either works on any device, and neither tells whether an order number exists.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::orders::{CardResume, Lookup, OrderView, ReopenRefused};
use kura_app::{CheckoutDraft, SecurityEvent, SecurityEventKind};
use kura_domain::{OrderStatus, PaymentMethod, Quantity};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::form::FormFields;
use crate::pages::PageContext;
use crate::pages::cart::ensure_cart;
use crate::pages::checkout::{
    PersonView, TotalsView, delivery_text, payment_text, person_view, totals_view,
};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

/// Notices the order page shows after an action (`?notice=`), by fixed code only.
const NOTICES: &[&str] = &["paid_meanwhile", "unavailable"];

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage<'a> {
    ctx: PageContext,
    number: String,
    status: String,
    /// A card order waiting for its payment: pay (again) or choose another method.
    awaiting_card: bool,
    /// When the waiting card order's payment page closes (Japan time).
    deadline: String,
    /// A card order whose payment never came (expired or cancelled): order the same again.
    card_closed: bool,
    /// A convenience-store order (its texts differ from a card's).
    konbini: bool,
    /// The issued convenience-store number's voucher page, while it can be paid.
    voucher_url: Option<String>,
    /// Cancelled or expired, whatever the method.
    closed: bool,
    /// The thank-you line, only when the recorded status makes it true.
    thanks: Option<&'static str>,
    notice: Option<String>,
    lines: Vec<OrderLineView>,
    totals: TotalsView,
    buyer: PersonView,
    recipient: Option<PersonView>,
    delivery: String,
    gift: Option<String>,
    note: Option<String>,
    payment: &'static str,
    /// When and how to pay: shown only while there is still something to pay.
    payment_timing: &'static str,
    /// This session just placed the order: its confirmation mail is queued (not yet sent).
    mail_queued: bool,
    bank: Option<&'a crate::config::BankAccount>,
    /// 領収書・適格請求書: the addressee and the downloads, or why there are none yet.
    receipt: crate::pages::receipts::ReceiptSection,
}

pub struct OrderLineView {
    pub name: String,
    pub variant: String,
    pub unit_price: String,
    pub quantity: u32,
    pub total: String,
    pub reduced: bool,
}

/// Whether this browser may see the order: its customer, the session that placed it, or a
/// session let into it by a mailed link or a lookup.
pub(crate) async fn may_view(session: &Session, order: &OrderView) -> bool {
    let customer = session.customer_id().await;
    let data = session.data().await;
    (customer.is_some() && customer == order.customer_id)
        || data.recent_orders.contains(&order.id)
        || data.linked_orders.contains(&order.id)
}

/// The order behind `number`, if this browser may see it; otherwise the same answer as for a
/// number that does not exist.
pub(crate) async fn viewable(
    state: &AppState,
    session: &Session,
    number: &str,
) -> Result<OrderView, WebError> {
    if number.len() > 20 {
        return Err(WebError::new(ErrorKind::NotFound));
    }
    match state.orders.view_by_number(number).await? {
        Some(order) if may_view(session, &order).await => Ok(order),
        _ => Err(WebError::new(ErrorKind::NotFound)),
    }
}

/// Lets this browser view the order from now on.
async fn let_in(session: &Session, order: &OrderView) -> Result<(), WebError> {
    let mut data = session.data().await;
    data.link_order(order.id);
    session.set_data(data).await?;
    Ok(())
}

fn event(kind: SecurityEventKind, ip: ClientIp, request: &RequestId) -> SecurityEvent {
    SecurityEvent::new(kind).ip(ip.0).request(&request.0)
}

#[derive(Template)]
#[template(path = "order_lookup.html")]
struct LookupPage {
    ctx: PageContext,
    number: String,
    contact: String,
    message: Option<String>,
}

/// The lookup form; `number` is shown again only when it has an order number's shape.
async fn lookup_page(
    mut ctx: PageContext,
    session: &Session,
    number: &str,
    contact: &str,
    message: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let number = if number.len() <= 20
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        number.to_string()
    } else {
        String::new()
    };
    let page = LookupPage {
        ctx,
        number,
        contact: contact.chars().take(254).collect(),
        message,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn lookup_get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    lookup_page(ctx, &session, "", "", None, StatusCode::OK).await
}

/// Order number plus the email or phone given at checkout: the order, or one answer for every
/// kind of miss.
pub async fn lookup_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(request_id): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = FormFields::parse(&body);
    let number: String = form.get("number").chars().take(40).collect();
    let contact: String = form.get("contact").chars().take(254).collect();
    match state.orders.look_up(&number, &contact, ip.0).await? {
        Lookup::Found(order) => {
            let_in(&session, &order).await?;
            Ok(Redirect::to(&format!("/orders/{}", order.number)).into_response())
        }
        Lookup::NoMatch => {
            state.event(event(SecurityEventKind::OrderLookupFailed, ip, &request_id));
            let message = Some(ctx.tr.t("lookup.no_match").to_string());
            lookup_page(
                ctx,
                &session,
                &number,
                &contact,
                message,
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Lookup::Throttled { retry_after } => {
            state.event(event(
                SecurityEventKind::OrderLookupThrottled,
                ip,
                &request_id,
            ));
            let minutes = (retry_after + 59) / 60;
            let message = Some(
                ctx.tr
                    .t("lookup.throttled")
                    .replace("{minutes}", &minutes.to_string()),
            );
            let mut response = lookup_page(
                ctx,
                &session,
                &number,
                &contact,
                message,
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await?;
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(response)
        }
    }
}

/// `fresh`: this session just placed the order; `back`: the browser just came back from the
/// provider's page (on whichever device paid).
fn thanks(order: &OrderView, fresh: bool, back: bool) -> Option<&'static str> {
    match order.status {
        OrderStatus::Confirmed | OrderStatus::AwaitingTransfer if fresh => Some("order.thanks"),
        OrderStatus::Paid if order.payment.is_hosted() && (fresh || back) => {
            Some("order.thanks_paid")
        }
        OrderStatus::AwaitingStorePayment if fresh || back => Some("order.thanks_voucher"),
        _ => None,
    }
}

pub async fn order_get(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Path(number): Path<String>,
    uri: axum::http::Uri,
    Extension(ip): Extension<ClientIp>,
    Extension(request_id): Extension<RequestId>,
) -> Result<Response, WebError> {
    let query = FormFields::parse(uri.query().unwrap_or_default().as_bytes());
    // A mailed link: a genuine token lets this browser in, then the address loses the token.
    let token = query.get("k");
    if !token.is_empty() {
        let linked = if number.len() <= 20 && token.len() <= 200 {
            state.orders.view_by_link(&number, token).await?
        } else {
            None
        };
        return match linked {
            Some(order) => {
                let_in(&session, &order).await?;
                Ok(Redirect::to(&format!("/orders/{}", order.number)).into_response())
            }
            None => {
                state.event(event(SecurityEventKind::OrderLinkRejected, ip, &request_id));
                let message = Some(ctx.tr.t("lookup.link_expired").to_string());
                lookup_page(ctx, &session, &number, "", message, StatusCode::NOT_FOUND).await
            }
        };
    }
    let order = match viewable(&state, &session, &number).await {
        Ok(order) => order,
        Err(e) if e.kind == ErrorKind::NotFound => {
            let message = Some(ctx.tr.t("lookup.not_found").to_string());
            return lookup_page(ctx, &session, &number, "", message, StatusCode::NOT_FOUND).await;
        }
        Err(e) => return Err(e),
    };
    ctx.csrf = session.csrf_token().await?;
    let notice = NOTICES
        .iter()
        .find(|code| query.get("notice") == **code)
        .map(|code| ctx.tr.t(&format!("order.notice.{code}")).to_string());
    let lang = ctx.tr.0;
    let (payment, payment_timing) = payment_text(ctx.tr, order.payment);
    // The page states only what is recorded: once paid (or closed), "how to pay" is past.
    let still_to_pay = matches!(
        order.status,
        OrderStatus::AwaitingPayment
            | OrderStatus::AwaitingTransfer
            | OrderStatus::AwaitingStorePayment
    ) || (order.payment == PaymentMethod::Cod
        && matches!(order.status, OrderStatus::Confirmed | OrderStatus::Shipped));
    let payment_timing = if still_to_pay { payment_timing } else { "" };
    let status_key = format!("order.status.{}", order.status.code());
    let card = order.payment.is_hosted();
    let konbini = order.payment == PaymentMethod::Konbini;
    let closed = matches!(order.status, OrderStatus::Expired | OrderStatus::Cancelled);
    let fresh = session.data().await.recent_orders.last() == Some(&order.id);
    let page = OrderPage {
        number: order.number.clone(),
        status: ctx.tr.t(&status_key).to_string(),
        awaiting_card: card && order.status == OrderStatus::AwaitingPayment,
        deadline: order
            .payment_expires_at
            .map(|t| crate::pages::moment(ctx.tr, t))
            .unwrap_or_default(),
        card_closed: card && closed,
        konbini,
        voucher_url: order
            .payment_url
            .clone()
            .filter(|_| order.status == OrderStatus::AwaitingStorePayment),
        closed,
        thanks: thanks(&order, fresh, query.get("from") == "provider"),
        notice,
        lines: order
            .lines
            .iter()
            .map(|l| OrderLineView {
                name: l.product_name.clone(),
                variant: l.variant_label.clone(),
                unit_price: l.unit_price.grouped(),
                quantity: l.quantity,
                total: l
                    .unit_price
                    .checked_mul(l.quantity)
                    .unwrap_or_default()
                    .grouped(),
                reduced: l.tax == kura_domain::TaxRate::Reduced,
            })
            .collect(),
        totals: totals_view(&order.totals).with_coupon(order.coupon_code.as_deref()),
        buyer: person_view(&order.buyer.person, lang),
        recipient: order.recipient.as_ref().map(|r| person_view(r, lang)),
        delivery: delivery_text(ctx.tr, order.delivery_date, order.delivery_slot),
        gift: order
            .gift
            .as_ref()
            .map(|g| crate::pages::checkout::gift_text(ctx.tr, g)),
        note: order.note.clone(),
        payment,
        payment_timing,
        mail_queued: fresh,
        bank: (order.payment == PaymentMethod::BankTransfer
            && order.status == OrderStatus::AwaitingTransfer)
            .then_some(&state.config.bank),
        receipt: crate::pages::receipts::section(&state, ctx.tr, &order, query.get("receipt"))
            .await?,
        ctx,
    };
    Ok(Html(page.render()?).into_response())
}

fn back_to(number: &str, notice: Option<&str>) -> Response {
    let url = match notice {
        Some(code) => format!("/orders/{number}?notice={code}"),
        None => format!("/orders/{number}"),
    };
    Redirect::to(&url).into_response()
}

/// "Pay by card": a fresh provider page for an unpaid card order (or, when the provider will
/// not open one, the current page, open until the same deadline).
pub async fn order_pay_post(
    State(state): State<AppState>,
    session: Session,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    let order = viewable(&state, &session, &number).await?;
    Ok(
        match state.orders.resume_card_payment(&order.number).await? {
            CardResume::Pay(url) => Redirect::to(&url).into_response(),
            CardResume::NotAwaiting(_) => back_to(&order.number, None),
            CardResume::PaidMeanwhile => back_to(&order.number, Some("paid_meanwhile")),
            CardResume::Unavailable => back_to(&order.number, Some("unavailable")),
        },
    )
}

/// "Order again with another payment method" (or "order the same again" after an expired card
/// payment): the unpaid order is released, its items go back into the cart and its details
/// into the checkout form, where the payment method is chosen anew.
pub async fn order_reopen_post(
    State(state): State<AppState>,
    session: Session,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    let order = viewable(&state, &session, &number).await?;
    let reopened = match state.orders.reopen(&order.number).await? {
        Ok(reopened) => reopened,
        Err(ReopenRefused::PaidMeanwhile) => {
            return Ok(back_to(&order.number, Some("paid_meanwhile")));
        }
        Err(ReopenRefused::Unavailable) => {
            return Ok(back_to(&order.number, Some("unavailable")));
        }
        Err(ReopenRefused::NotReopenable(_)) => return Ok(back_to(&order.number, None)),
    };
    let cart = ensure_cart(&state, &session).await?;
    for (sku, quantity) in &reopened.lines {
        if let Ok(q) = Quantity::new(i64::from(*quantity)) {
            // A line that cannot go back (sold out meanwhile) shows on the cart as missing.
            let _ = state.carts.add(cart, sku, q).await?;
        }
    }
    let input = reopened.input;
    let attempt = hex::encode(kura_seal::random_bytes::<16>().map_err(WebError::internal)?);
    let mut data = session.data().await;
    data.checkout = Some(CheckoutDraft { attempt, input });
    session.set_data(data).await?;
    Ok(Redirect::to("/checkout?again=1").into_response())
}

/// Where the card provider sends the customer back: the order page shows whether the payment
/// arrived (the signed notification decides, never this visit).
pub async fn return_get(Path(number): Path<String>) -> Result<Response, WebError> {
    if number.len() > 20
        || !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(WebError::new(ErrorKind::NotFound));
    }
    Ok(Redirect::to(&format!("/orders/{number}?from=provider")).into_response())
}
