//! An order's receipt (領収書) and qualified invoice (適格請求書): the section of the order page,
//! the addressee form and the PDF downloads.
//!
//! Guarantees: the PDFs and the form open under the same rule as the order's page
//! ([`super::orders::viewable`]: the order's customer, the session that placed it, or a browser
//! let in by the signed mail link or the lookup); anyone else gets "not found", as for an order
//! that does not exist. An order that is not paid gets a page saying why there is no document
//! yet, never a PDF. A PDF is an attachment that no cache keeps (`no-store`). Every issue and
//! every saved addressee is reported to the guard (the order's id, never the name).

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::orders::OrderView;
use kura_app::receipts::{DocumentKind, ReceiptRefused};
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_domain::OrderStatus;

use crate::AppState;
use crate::error::WebError;
use crate::form::FormFields;
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::pages::forms::field_message;
use crate::pages::orders::viewable;
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

/// What the order page shows of the order's documents.
pub struct ReceiptSection {
    /// Documents can be had now.
    pub available: bool,
    /// Why not, when not.
    pub reason: String,
    /// The saved addressee, else the buyer's name (or, after a refused save, what was typed).
    pub addressee: String,
    /// A document was issued: the addressee is shown, not editable.
    pub fixed: bool,
    /// Whether the shop issues qualified invoices.
    pub invoices: bool,
    /// After a save (`?receipt=saved`) or a refused change (`?receipt=fixed`).
    pub notice: Option<String>,
    /// The typed addressee was refused: why.
    pub error: Option<String>,
}

/// The words for why an order gets no document.
fn reason(tr: Tr, refused: ReceiptRefused) -> String {
    let key = match refused {
        ReceiptRefused::NotPaid(OrderStatus::AwaitingPayment) => "receipt.pending.card",
        ReceiptRefused::NotPaid(OrderStatus::AwaitingTransfer) => "receipt.pending.transfer",
        ReceiptRefused::NotPaid(OrderStatus::AwaitingStorePayment) => "receipt.pending.konbini",
        ReceiptRefused::NotPaid(
            OrderStatus::Confirmed | OrderStatus::Packed | OrderStatus::Shipped,
        ) => "receipt.pending.cod",
        ReceiptRefused::NotPaid(OrderStatus::Refunded) => "receipt.none.refunded",
        ReceiptRefused::NotPaid(_) => "receipt.none.closed",
        ReceiptRefused::NoInvoices => "receipt.no_invoices",
        ReceiptRefused::Unavailable => "receipt.unavailable",
        ReceiptRefused::Fixed => "receipt.fixed",
        ReceiptRefused::Invalid(e) => return field_message(tr, e),
    };
    tr.t(key).to_string()
}

/// The section for `order`; `notice` is the order page's `receipt` query value.
pub(crate) async fn section(
    state: &AppState,
    tr: Tr,
    order: &OrderView,
    notice: &str,
) -> Result<ReceiptSection, WebError> {
    let status = state.receipts.status(order).await?;
    let notice = match notice {
        "saved" => Some(tr.t("receipt.saved").to_string()),
        "fixed" => Some(tr.t("receipt.fixed").to_string()),
        _ => None,
    };
    Ok(ReceiptSection {
        available: status.refused.is_none(),
        reason: status.refused.map(|r| reason(tr, r)).unwrap_or_default(),
        addressee: status.addressee,
        fixed: status.fixed,
        invoices: status.invoices,
        notice,
        error: None,
    })
}

/// A page saying why there is no document (or no change), with the way back to the order.
#[derive(Template)]
#[template(path = "receipt_unavailable.html")]
struct UnavailablePage {
    ctx: PageContext,
    number: String,
    reason: String,
}

fn unavailable(
    ctx: PageContext,
    order: &OrderView,
    refused: ReceiptRefused,
) -> Result<Response, WebError> {
    let status = match refused {
        ReceiptRefused::NoInvoices => StatusCode::NOT_FOUND,
        ReceiptRefused::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ReceiptRefused::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ReceiptRefused::NotPaid(_) | ReceiptRefused::Fixed => StatusCode::CONFLICT,
    };
    let page = UnavailablePage {
        reason: reason(ctx.tr, refused),
        number: order.number.clone(),
        ctx,
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn event(
    kind: SecurityEventKind,
    ip: ClientIp,
    request: &RequestId,
    order: &OrderView,
) -> SecurityEvent {
    SecurityEvent::new(kind)
        .ip(ip.0)
        .request(&request.0)
        .subject(order.id)
}

/// Issues and sends the order's `kind` document.
async fn download(
    state: AppState,
    ctx: PageContext,
    session: Session,
    number: &str,
    kind: DocumentKind,
    ip: ClientIp,
    request: RequestId,
) -> Result<Response, WebError> {
    let order = viewable(&state, &session, number).await?;
    let issued = match state.receipts.issue(&order, kind).await? {
        Ok(issued) => issued,
        Err(refused) => return unavailable(ctx, &order, refused),
    };
    let detail = match (kind, issued.issue > 1) {
        (DocumentKind::Receipt, false) => "receipt",
        (DocumentKind::Receipt, true) => "receipt_reissue",
        (DocumentKind::Invoice, false) => "invoice",
        (DocumentKind::Invoice, true) => "invoice_reissue",
    };
    state.event(event(SecurityEventKind::ReceiptIssued, ip, &request, &order).detail(detail));
    // The order number is `K-` and letters, digits and hyphens: nothing to quote.
    let disposition = format!(
        "attachment; filename=\"{}-{}.pdf\"",
        kind.code(),
        order.number
    );
    let disposition = HeaderValue::from_str(&disposition).map_err(WebError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        issued.pdf,
    )
        .into_response())
}

/// `GET /orders/{number}/receipt.pdf`: the receipt (the first is the original, later ones
/// are reissues).
pub async fn receipt_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Path(number): Path<String>,
    Extension(ip): Extension<ClientIp>,
    Extension(request): Extension<RequestId>,
) -> Result<Response, WebError> {
    download(
        state,
        ctx,
        session,
        &number,
        DocumentKind::Receipt,
        ip,
        request,
    )
    .await
}

/// `GET /orders/{number}/invoice.pdf`: the qualified invoice.
pub async fn invoice_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Path(number): Path<String>,
    Extension(ip): Extension<ClientIp>,
    Extension(request): Extension<RequestId>,
) -> Result<Response, WebError> {
    download(
        state,
        ctx,
        session,
        &number,
        DocumentKind::Invoice,
        ip,
        request,
    )
    .await
}

/// The section again, alone, with what was typed and why it was refused.
#[derive(Template)]
#[template(path = "receipt_addressee.html")]
struct AddresseePage {
    ctx: PageContext,
    number: String,
    receipt: ReceiptSection,
}

/// `POST /orders/{number}/addressee`: saves the name the documents are made out to, until the
/// first is issued.
pub async fn addressee_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Path(number): Path<String>,
    Extension(ip): Extension<ClientIp>,
    Extension(request): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let order = viewable(&state, &session, &number).await?;
    let form = FormFields::parse(&body);
    let typed: String = form.get("addressee").chars().take(200).collect();
    let back = |code: &str| {
        Redirect::to(&format!("/orders/{}?receipt={code}#receipts", order.number)).into_response()
    };
    match state.receipts.set_addressee(&order, &typed).await? {
        Ok(()) => {
            state.event(event(
                SecurityEventKind::ReceiptAddressed,
                ip,
                &request,
                &order,
            ));
            Ok(back("saved"))
        }
        Err(ReceiptRefused::Fixed) => Ok(back("fixed")),
        Err(ReceiptRefused::Invalid(e)) => {
            ctx.csrf = session.csrf_token().await?;
            let mut receipt = section(&state, ctx.tr, &order, "").await?;
            receipt.error = Some(field_message(ctx.tr, e));
            receipt.addressee = typed;
            let page = AddresseePage {
                ctx,
                number: order.number.clone(),
                receipt,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(refused) => unavailable(ctx, &order, refused),
    }
}
