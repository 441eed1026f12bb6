//! The back office's pages. Each handler runs behind [`super::guard`], which already checked
//! the session, the second factor, the role and the CSRF token; sensitive changes (staff,
//! settings) also ask for a fresh authenticator code unless one was given in the last minutes.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::audit::AuditView;
use kura_app::backoffice::{Dashboard, MaskedCustomer, OrderSummary, Unmask, VariantRefusal};
use kura_app::orders::{FulfilError, Parcel};
use kura_app::records::{AuditFilter, OrderFilter};
use kura_app::staff::{
    PasskeyAnswer, PasskeyCreation, PasskeyRefusal, PasskeyRequest, PasswordSignIn, Permission,
    Role, StaffMember, StaffRefusal,
};
use kura_domain::{CustomerProfile, Date, OrderStatus, PaymentMethod, Person};
use kura_seal::{SessionToken, base64url_decode};
use secrecy::SecretString;
use serde::Deserialize;

use super::{AdminContext, Staff, device_cookie, device_secret, session_cookie, status_page};
use crate::AppState;
use crate::error::{ErrorKind, WebError};

/// The least a staff password has: 15 characters (and a zxcvbn score of 3, as for customers).
pub const STAFF_MIN_CHARS: usize = 15;

pub(crate) fn minute(unix: i64) -> String {
    Date::japan_minute(unix)
}

fn yen(v: kura_domain::Yen) -> String {
    format!("¥{}", v.grouped())
}

// ---- Sign-in -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginView {
    ctx: AdminContext,
    login: String,
    error: Option<String>,
}

pub async fn login_get(
    State(state): State<AppState>,
    mut ctx: AdminContext,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let mut set_device = None;
    if device_secret(&state, &headers).is_none() {
        let token = SessionToken::generate().map_err(WebError::internal)?;
        ctx.csrf = state.vault.ring().csrf_token(token.expose().as_bytes());
        set_device = Some(device_cookie(&state, &token));
    }
    let html = LoginView {
        ctx,
        login: String::new(),
        error: None,
    }
    .render()?;
    let mut res = Html(html).into_response();
    if let Some(c) = set_device {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
}

pub async fn login_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let login = form.login.trim().to_lowercase();
    let password = SecretString::from(form.password);
    let tr = ctx.tr;
    let error = match state.staff.sign_in(&login, &password, ctx.ip).await? {
        PasswordSignIn::SecondFactor(session) => {
            let next = if session.member.enrolled {
                "/verify"
            } else {
                "/enrol"
            };
            let mut res = Redirect::to(&ctx.href(next)).into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                session_cookie(&state, Some(&session.token)),
            );
            return Ok(res);
        }
        PasswordSignIn::Refused => tr.t("admin.login.failed").to_string(),
        PasswordSignIn::Throttled { retry_after } => tr
            .t("admin.login.throttled")
            .replace("{minutes}", &((retry_after + 59) / 60).max(1).to_string()),
    };
    let html = LoginView {
        ctx,
        login,
        error: Some(error),
    }
    .render()?;
    Ok(status_page(StatusCode::UNAUTHORIZED, html))
}

#[derive(Template)]
#[template(path = "admin/enrol.html")]
struct EnrolView {
    ctx: AdminContext,
    sealed: String,
    secret: String,
    uri: String,
    error: Option<String>,
}

pub async fn enrol_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    if session.member.enrolled && !session.complete() {
        return Ok(Redirect::to(&ctx.href("/verify")).into_response());
    }
    let e = state.staff.begin_enrolment(&session).await?;
    Ok(Html(
        EnrolView {
            ctx,
            sealed: e.sealed,
            secret: e.base32.to_string(),
            uri: e.uri.to_string(),
            error: None,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct EnrolForm {
    code: String,
    sealed: String,
}

#[derive(Template)]
#[template(path = "admin/codes.html")]
struct CodesView {
    ctx: AdminContext,
    codes: Vec<String>,
}

pub async fn enrol_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    headers: HeaderMap,
    Staff(mut session): Staff,
    Form(form): Form<EnrolForm>,
) -> Result<Response, WebError> {
    match state
        .staff
        .finish_enrolment(&mut session, &form.sealed, &form.code, ctx.ip)
        .await?
    {
        Some(codes) => {
            // The device enrolled on is the staff member's first: no notice for it.
            if let Some(device) = device_secret(&state, &headers) {
                state
                    .staff
                    .device_is_new(session.member.id, device.expose())
                    .await?;
            }
            let mut ctx = ctx;
            ctx.staff = Some((
                session.member.login.clone(),
                session.member.role.code().to_string(),
            ));
            // The session has a new token now; the page's forms are bound to it.
            ctx.csrf = state
                .vault
                .ring()
                .csrf_token(session.token.expose().as_bytes());
            let mut res = Html(
                CodesView {
                    ctx,
                    codes: codes.iter().map(|c| c.to_string()).collect(),
                }
                .render()?,
            )
            .into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                session_cookie(&state, Some(&session.token)),
            );
            Ok(res)
        }
        None => {
            let Some(e) = state.staff.resume_enrolment(&session, &form.sealed) else {
                return Ok(Redirect::to(&ctx.href("/enrol")).into_response());
            };
            let error = Some(ctx.tr.t("admin.enrol.wrong_code").to_string());
            let html = EnrolView {
                ctx,
                sealed: e.sealed,
                secret: e.base32.to_string(),
                uri: e.uri.to_string(),
                error,
            }
            .render()?;
            Ok(status_page(StatusCode::UNPROCESSABLE_ENTITY, html))
        }
    }
}

#[derive(Template)]
#[template(path = "admin/verify.html")]
struct VerifyView {
    ctx: AdminContext,
    error: Option<String>,
    passkey: Option<PasskeyRequest>,
}

pub async fn verify_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    if !session.member.enrolled {
        return Ok(Redirect::to(&ctx.href("/enrol")).into_response());
    }
    if session.complete() {
        return Ok(Redirect::to(&ctx.href("")).into_response());
    }
    let passkey = state.staff.passkey_request(&session).await?;
    Ok(Html(
        VerifyView {
            ctx,
            error: None,
            passkey,
        }
        .render()?,
    )
    .into_response())
}

/// After a complete sign-in: remembers the device (mailing the staff member when it is new)
/// and goes to the dashboard.
async fn signed_in(
    state: &AppState,
    ctx: &AdminContext,
    headers: &HeaderMap,
    session: &kura_app::staff::StaffSession,
) -> Result<Response, WebError> {
    if let Some(device) = device_secret(state, headers)
        && state
            .staff
            .device_is_new(session.member.id, device.expose())
            .await?
    {
        state.staff.notify_new_device(session, ctx.ip).await?;
    }
    // The session has a new token now that both factors are given.
    let mut res = Redirect::to(&ctx.href("")).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(state, Some(&session.token)),
    );
    Ok(res)
}

/// A second factor that did not count: back to the sign-in page when too many wrong answers
/// ended the session, else the code page again with the reason.
async fn second_factor_refused(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    reason: &str,
) -> Result<Response, WebError> {
    if state.staff.load(&session.token).await?.is_none() {
        let mut res = Redirect::to(&ctx.href("/login")).into_response();
        res.headers_mut()
            .append(header::SET_COOKIE, session_cookie(state, None));
        return Ok(res);
    }
    let passkey = state.staff.passkey_request(session).await?;
    let error = Some(ctx.tr.t(reason).to_string());
    let html = VerifyView {
        ctx,
        error,
        passkey,
    }
    .render()?;
    Ok(status_page(StatusCode::UNAUTHORIZED, html))
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn verify_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    headers: HeaderMap,
    Staff(mut session): Staff,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    if state
        .staff
        .verify_second_factor(&mut session, &form.code, ctx.ip)
        .await?
    {
        return signed_in(&state, &ctx, &headers, &session).await;
    }
    second_factor_refused(&state, ctx, &session, "admin.verify.wrong_code").await
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    credential_id: String,
    #[serde(default)]
    client_data: String,
    #[serde(default)]
    authenticator_data: String,
    #[serde(default)]
    signature: String,
}

/// The second factor given with a passkey (the browser's answer, base64url).
pub async fn verify_passkey_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    headers: HeaderMap,
    Staff(mut session): Staff,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, WebError> {
    let decoded = (
        base64url_decode(&form.credential_id),
        base64url_decode(&form.client_data),
        base64url_decode(&form.authenticator_data),
        base64url_decode(&form.signature),
    );
    let (Some(credential_id), Some(client_data), Some(authenticator_data), Some(signature)) =
        decoded
    else {
        return second_factor_refused(&state, ctx, &session, "admin.passkey.refused").await;
    };
    let answer = PasskeyAnswer {
        credential_id: &credential_id,
        client_data_json: &client_data,
        authenticator_data: &authenticator_data,
        signature: &signature,
    };
    if state
        .staff
        .verify_passkey(&mut session, &answer, ctx.ip)
        .await?
    {
        return signed_in(&state, &ctx, &headers, &session).await;
    }
    second_factor_refused(&state, ctx, &session, "admin.passkey.refused").await
}

pub async fn logout_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    state.staff.sign_out(&session, ctx.ip).await?;
    let mut res = Redirect::to(&ctx.href("/login")).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, session_cookie(&state, None));
    Ok(res)
}

// ---- Own security: passkeys ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/security.html")]
struct SecurityView {
    ctx: AdminContext,
    message: Option<String>,
    /// (id, name, added, last used)
    passkeys: Vec<(i64, String, String, String)>,
    creation: Option<PasskeyCreation>,
    algorithms: String,
}

async fn security_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, WebError> {
    let passkeys = state
        .staff
        .passkeys(session)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.id,
                p.name,
                minute(p.created_at),
                p.last_used_at.map(minute).unwrap_or_else(|| "-".into()),
            )
        })
        .collect();
    let creation = state.staff.passkey_creation(session).await?;
    let algorithms = creation
        .as_ref()
        .map(|c| {
            c.algorithms
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let html = SecurityView {
        ctx,
        message,
        passkeys,
        creation,
        algorithms,
    }
    .render()?;
    Ok(status_page(status, html))
}

pub async fn security_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    security_page(&state, ctx, &session, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct PasskeyAddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    client_data: String,
    #[serde(default)]
    attestation: String,
}

/// Keeps a passkey the browser just made, after a fresh authenticator code.
pub async fn passkey_add_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Form(form): Form<PasskeyAddForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
        return security_page(&state, ctx, &session, StatusCode::UNAUTHORIZED, m).await;
    }
    let (Some(client_data), Some(attestation)) = (
        base64url_decode(&form.client_data),
        base64url_decode(&form.attestation),
    ) else {
        let m = Some(ctx.tr.t("admin.passkey.invalid").to_string());
        return security_page(&state, ctx, &session, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    let result = state
        .staff
        .add_passkey(&session, ctx.ip, &form.name, &client_data, &attestation)
        .await?;
    let (status, key) = match result {
        Ok(()) => (StatusCode::OK, "admin.passkey.added_done"),
        Err(r) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            match r {
                PasskeyRefusal::Unavailable => "admin.passkey.unavailable",
                PasskeyRefusal::Expired => "admin.passkey.expired",
                PasskeyRefusal::Invalid => "admin.passkey.invalid",
                PasskeyRefusal::Duplicate => "admin.passkey.duplicate",
                PasskeyRefusal::TooMany => "admin.passkey.too_many",
                PasskeyRefusal::Name => "admin.passkey.name_invalid",
            },
        ),
    };
    let m = Some(ctx.tr.t(key).to_string());
    security_page(&state, ctx, &session, status, m).await
}

/// Removes one of the staff member's own passkeys, after a fresh authenticator code.
pub async fn passkey_remove_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<StepUpForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
        return security_page(&state, ctx, &session, StatusCode::UNAUTHORIZED, m).await;
    }
    let removed = state.staff.remove_passkey(&session, ctx.ip, id).await?;
    let key = if removed {
        "admin.passkey.removed"
    } else {
        "admin.passkey.unknown"
    };
    let m = Some(ctx.tr.t(key).to_string());
    security_page(&state, ctx, &session, StatusCode::OK, m).await
}

// ---- Dashboard ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardView {
    ctx: AdminContext,
    d: Dashboard,
    sales: String,
}

pub async fn dashboard_get(
    State(state): State<AppState>,
    ctx: AdminContext,
) -> Result<Response, WebError> {
    let d = state.backoffice.dashboard(5).await?;
    let sales = yen(kura_domain::Yen(d.sales_today));
    Ok(Html(DashboardView { ctx, d, sales }.render()?).into_response())
}

// ---- Orders ------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct OrderQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    before: Option<i64>,
}

struct OrderRow {
    number: String,
    status: String,
    payment: String,
    total: String,
    items: u32,
    at: String,
}

fn order_row(ctx: &AdminContext, o: &OrderSummary) -> OrderRow {
    OrderRow {
        number: o.number.clone(),
        status: ctx
            .tr
            .t(&format!("order.status.{}", o.status.code()))
            .to_string(),
        payment: ctx
            .tr
            .t(&format!("payment.{}", o.payment.code()))
            .to_string(),
        total: yen(o.total),
        items: o.items,
        at: minute(o.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersView {
    ctx: AdminContext,
    rows: Vec<OrderRow>,
    statuses: Vec<(String, String)>,
    q_status: String,
    q_number: String,
    q_contact: String,
    next: Option<String>,
}

const PAGE: u32 = 50;

pub async fn orders_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Query(q): Query<OrderQuery>,
) -> Result<Response, WebError> {
    let mut filter = OrderFilter::default();
    if let Some(s) = OrderStatus::parse(&q.status) {
        filter.statuses = vec![s.code().to_string()];
    }
    let number = q.number.trim();
    if !number.is_empty() {
        filter.number = Some(number.to_uppercase());
    }
    let contact = q.contact.trim();
    let orders = state
        .backoffice
        .orders(
            &session,
            ctx.ip,
            filter,
            (!contact.is_empty()).then_some(contact),
            q.before,
            PAGE,
        )
        .await?;
    let next = (orders.len() == PAGE as usize)
        .then(|| orders.last())
        .flatten()
        .map(|o| {
            format!(
                "{}?status={}&before={}",
                ctx.href("/orders"),
                q.status,
                o.id
            )
        });
    let rows = orders.iter().map(|o| order_row(&ctx, o)).collect();
    let statuses = OrderStatus::ALL
        .iter()
        .map(|s| {
            (
                s.code().to_string(),
                ctx.tr.t(&format!("order.status.{}", s.code())).to_string(),
            )
        })
        .collect();
    Ok(Html(
        OrdersView {
            rows,
            statuses,
            q_status: q.status.clone(),
            q_number: number.to_string(),
            q_contact: contact.to_string(),
            next,
            ctx,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPageView {
    ctx: AdminContext,
    order: OrderRow,
    lines: Vec<(String, String, u32)>,
    ship_to: Option<Person>,
    gift: Option<String>,
    note: Option<String>,
    can_mark_paid: bool,
    can_ship: bool,
    can_pack: bool,
    can_deliver: bool,
    can_cancel: bool,
    can_refund: bool,
    message: Option<String>,
}

async fn order_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    number: &str,
    message: Option<String>,
) -> Result<Response, WebError> {
    let Some((summary, slip, over_budget)) = state
        .backoffice
        .packing_view(session, ctx.ip, &state.orders, number)
        .await?
    else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let gift = slip
        .as_ref()
        .and_then(|s| s.gift.as_ref())
        .map(kura_domain::Gift::describe_ja);
    let note = slip.as_ref().and_then(|s| s.note.clone());
    let ship_to = slip.map(|s| s.ship_to);
    let message = if over_budget {
        let limit = state.backoffice.unmask_budget().await?;
        Some(
            ctx.tr
                .t("admin.unmask.over_budget")
                .replace("{limit}", &limit.to_string()),
        )
    } else {
        message
    };
    let rec = state
        .store
        .order_by_number(number)
        .await
        .map_err(kura_app::AppError::from)?;
    let lines = rec
        .map(|r| {
            r.lines
                .iter()
                .map(|l| {
                    (
                        l.sku.clone(),
                        format!("{} {}", l.product_name, l.variant_label),
                        l.quantity,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let can_mark_paid =
        session.can(Permission::OrdersManage) && summary.status == OrderStatus::AwaitingTransfer;
    let ships = session.can(Permission::OrdersShip);
    let manages = session.can(Permission::OrdersManage);
    let can_ship = ships
        && matches!(
            summary.status,
            OrderStatus::Paid | OrderStatus::Confirmed | OrderStatus::Packed
        );
    let can_pack = ships && matches!(summary.status, OrderStatus::Paid | OrderStatus::Confirmed);
    let can_deliver = ships && summary.status == OrderStatus::Shipped;
    let can_cancel = manages
        && match summary.payment {
            // An issued convenience-store number cannot be withdrawn; it lapses by itself.
            PaymentMethod::Card | PaymentMethod::Konbini => {
                summary.status == OrderStatus::AwaitingPayment
            }
            PaymentMethod::BankTransfer => summary.status == OrderStatus::AwaitingTransfer,
            PaymentMethod::Cod => {
                matches!(summary.status, OrderStatus::Confirmed | OrderStatus::Packed)
            }
        };
    let can_refund = manages
        && summary.payment == PaymentMethod::Card
        && matches!(
            summary.status,
            OrderStatus::Paid | OrderStatus::Packed | OrderStatus::Shipped | OrderStatus::Delivered
        );
    let order = order_row(&ctx, &summary);
    Ok(Html(
        OrderPageView {
            ctx,
            order,
            lines,
            ship_to,
            gift,
            note,
            can_mark_paid,
            can_ship,
            can_pack,
            can_deliver,
            can_cancel,
            can_refund,
            message,
        }
        .render()?,
    )
    .into_response())
}

pub async fn order_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    order_page(&state, ctx, &session, &number, None).await
}

pub async fn order_paid_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    let message = match state.orders.mark_transfer_received(&number).await? {
        Ok(()) => {
            state
                .backoffice
                .record_order_change(&session, ctx.ip, &number, "order.paid", None)
                .await?;
            ctx.tr.t("admin.order.marked_paid")
        }
        Err(_) => ctx.tr.t("admin.order.cannot"),
    };
    let message = Some(message.to_string());
    order_page(&state, ctx, &session, &number, message).await
}

#[derive(Deserialize)]
pub struct ShipForm {
    carrier: String,
    tracking: String,
    #[serde(default)]
    tracking_url: String,
}

pub async fn order_ship_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(number): Path<String>,
    Form(form): Form<ShipForm>,
) -> Result<Response, WebError> {
    let carrier = form.carrier.trim();
    let tracking = form.tracking.trim();
    let url = form.tracking_url.trim();
    let valid = (1..=40).contains(&carrier.chars().count())
        && (1..=40).contains(&tracking.len())
        && tracking
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (url.is_empty() || (url.starts_with("https://") && url.len() <= 300));
    if !valid {
        let message = Some(ctx.tr.t("admin.order.ship_invalid").to_string());
        return order_page(&state, ctx, &session, &number, message).await;
    }
    let parcel = Parcel {
        carrier: carrier.to_string(),
        tracking_number: tracking.to_string(),
        tracking_url: (!url.is_empty()).then(|| url.to_string()),
    };
    let message = match state.orders.mark_shipped(&number, &parcel).await? {
        Ok(()) => {
            state
                .backoffice
                .record_order_change(
                    &session,
                    ctx.ip,
                    &number,
                    "order.shipped",
                    Some(carrier.to_string()),
                )
                .await?;
            ctx.tr.t("admin.order.marked_shipped")
        }
        Err(_) => ctx.tr.t("admin.order.cannot"),
    };
    let message = Some(message.to_string());
    order_page(&state, ctx, &session, &number, message).await
}

/// What a status change without a form answered, as the order page's message.
fn fulfil_message(tr: crate::i18n::Tr, result: &Result<(), FulfilError>, done: &str) -> String {
    match result {
        Ok(()) => tr.t(done).to_string(),
        Err(e) => tr.t(fulfil_refusal_key(e)).to_string(),
    }
}

fn fulfil_refusal_key(e: &FulfilError) -> &'static str {
    match e {
        FulfilError::NotRefundable => "admin.order.not_refundable",
        FulfilError::PaidMeanwhile => "admin.order.paid_meanwhile",
        FulfilError::Provider(_) => "admin.order.provider_failed",
        FulfilError::UnknownOrder | FulfilError::WrongStatus(_) => "admin.order.cannot",
    }
}

/// One step of an order without details (packed, delivered, cancelled), audited when done.
async fn order_step(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    number: &str,
    action: &str,
) -> Result<Response, WebError> {
    let (result, done) = match action {
        "order.packed" => (
            state.orders.mark_packed(number).await?,
            "admin.order.marked_packed",
        ),
        "order.delivered" => (
            state.orders.mark_delivered(number).await?,
            "admin.order.marked_delivered",
        ),
        _ => (state.orders.cancel(number).await?, "admin.order.cancelled"),
    };
    if result.is_ok() {
        state
            .backoffice
            .record_order_change(session, ctx.ip, number, action, None)
            .await?;
    }
    let message = Some(fulfil_message(ctx.tr, &result, done));
    order_page(state, ctx, session, number, message).await
}

pub async fn order_pack_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    order_step(&state, ctx, &session, &number, "order.packed").await
}

pub async fn order_deliver_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    order_step(&state, ctx, &session, &number, "order.delivered").await
}

pub async fn order_cancel_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(number): Path<String>,
) -> Result<Response, WebError> {
    order_step(&state, ctx, &session, &number, "order.cancelled").await
}

#[derive(Deserialize)]
pub struct StepUpForm {
    #[serde(default)]
    otp: String,
}

/// Refunds a card order through the provider after a fresh authenticator code; the refund id
/// goes into the audit log.
pub async fn order_refund_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(number): Path<String>,
    Form(form): Form<StepUpForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
        let mut page = order_page(&state, ctx, &session, &number, m).await?;
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(page);
    }
    let message = match state.orders.refund(&number).await? {
        Ok(done) => {
            state
                .backoffice
                .record_order_change(
                    &session,
                    ctx.ip,
                    &number,
                    "order.refunded",
                    Some(format!(
                        "{} yen, refund {}, was {}",
                        done.receipt.amount_yen,
                        done.receipt.id,
                        done.was.code()
                    )),
                )
                .await?;
            let key = if done.receipt.pending {
                "admin.order.refund_pending"
            } else {
                "admin.order.refunded"
            };
            ctx.tr.t(key).replace("{refund}", &done.receipt.id)
        }
        Err(e) => {
            if let FulfilError::Provider(cause) = &e {
                tracing::warn!(target: "kura::admin", error = %cause, "refund not carried out");
            }
            ctx.tr.t(fulfil_refusal_key(&e)).to_string()
        }
    };
    order_page(&state, ctx, &session, &number, Some(message)).await
}

// ---- Customers ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct AfterQuery {
    #[serde(default)]
    after: i64,
}

#[derive(Template)]
#[template(path = "admin/customers.html")]
struct CustomersView {
    ctx: AdminContext,
    rows: Vec<MaskedCustomer>,
    used: u32,
    budget: u32,
    next: Option<String>,
}

impl CustomersView {
    fn prefecture(&self, c: &MaskedCustomer) -> String {
        c.prefecture
            .map(|p| {
                if self.ctx.tr.lang() == "ja" {
                    p.name_ja().to_string()
                } else {
                    p.name_en().to_string()
                }
            })
            .unwrap_or_default()
    }
}

pub async fn customers_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Query(q): Query<AfterQuery>,
) -> Result<Response, WebError> {
    let rows = state.backoffice.customers(q.after, PAGE).await?;
    let used = state
        .backoffice
        .unmasked_this_hour(session.member.id)
        .await?;
    let budget = state.backoffice.unmask_budget().await?;
    let next = (rows.len() == PAGE as usize)
        .then(|| rows.last())
        .flatten()
        .map(|c| format!("{}?after={}", ctx.href("/customers"), c.id));
    Ok(Html(
        CustomersView {
            ctx,
            rows,
            used,
            budget,
            next,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct ReasonForm {
    reason: String,
}

#[derive(Template)]
#[template(path = "admin/customer.html")]
struct CustomerView {
    ctx: AdminContext,
    id: i64,
    profile: CustomerProfile,
    orders: Vec<OrderRow>,
    can_erase: bool,
}

#[derive(Template)]
#[template(path = "admin/notice.html")]
struct NoticeView {
    ctx: AdminContext,
    title: String,
    message: String,
}

fn notice(
    ctx: AdminContext,
    status: StatusCode,
    title: &str,
    message: String,
) -> Result<Response, WebError> {
    let title = ctx.tr.t(title).to_string();
    Ok(status_page(
        status,
        NoticeView {
            ctx,
            title,
            message,
        }
        .render()?,
    ))
}

pub async fn unmask_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, WebError> {
    match state
        .backoffice
        .unmask_customer(&session, ctx.ip, id, &form.reason)
        .await?
    {
        Unmask::Shown { profile, orders } => {
            let orders = orders.iter().map(|o| order_row(&ctx, o)).collect();
            Ok(Html(
                CustomerView {
                    ctx,
                    id,
                    profile: *profile,
                    orders,
                    can_erase: session.can(Permission::CustomersErase),
                }
                .render()?,
            )
            .into_response())
        }
        Unmask::NeedsReason => {
            let m = ctx.tr.t("admin.unmask.needs_reason").to_string();
            notice(
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                "admin.unmask.title",
                m,
            )
        }
        Unmask::OverBudget { limit } => {
            let m = ctx
                .tr
                .t("admin.unmask.over_budget")
                .replace("{limit}", &limit.to_string());
            notice(ctx, StatusCode::TOO_MANY_REQUESTS, "admin.unmask.title", m)
        }
        Unmask::NotFound => Err(WebError::new(ErrorKind::NotFound)),
        Unmask::Erased => {
            let m = ctx.tr.t("admin.unmask.erased").to_string();
            notice(ctx, StatusCode::GONE, "admin.unmask.title", m)
        }
    }
}

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    otp: String,
}

/// Erases a customer on request, after a fresh authenticator code and with a stated reason.
pub async fn erase_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<EraseForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = ctx.tr.t("admin.step_up.needed").to_string();
        return notice(ctx, StatusCode::UNAUTHORIZED, "admin.erase.title", m);
    }
    match state
        .backoffice
        .erase_customer(&session, ctx.ip, id, &form.reason)
        .await?
    {
        Ok(true) => {
            let m = ctx
                .tr
                .t("admin.erase.done")
                .replace("{id}", &id.to_string());
            notice(ctx, StatusCode::OK, "admin.erase.title", m)
        }
        Ok(false) => Err(WebError::new(ErrorKind::NotFound)),
        Err(()) => {
            let m = ctx.tr.t("admin.unmask.needs_reason").to_string();
            notice(
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                "admin.erase.title",
                m,
            )
        }
    }
}

// ---- Two-person exports ------------------------------------------------------------------

struct ExportRow {
    id: i64,
    /// What is exported: every customer, or an incident's postal list or letters.
    what: String,
    at: String,
    by: String,
    state: String,
    rows: String,
    can_approve: bool,
    can_download: bool,
}

#[derive(Template)]
#[template(path = "admin/exports.html")]
struct ExportsView {
    ctx: AdminContext,
    message: Option<String>,
    rows: Vec<ExportRow>,
}

async fn exports_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, WebError> {
    use kura_app::exports::ExportState;
    let me = session.member.id;
    let rows = state
        .backoffice
        .exports()
        .await?
        .into_iter()
        .map(|e| {
            let key = match e.state {
                ExportState::Pending => "admin.export.pending",
                ExportState::Approved => "admin.export.approved",
                ExportState::Downloaded => "admin.export.downloaded",
                ExportState::Expired => "admin.export.expired",
            };
            let mut state_text = ctx.tr.t(key).to_string();
            if let Some(by) = &e.approved_by {
                state_text.push_str(&format!(" ({by})"));
            }
            let what = match e.record.kind.split_once(':') {
                Some(("letters", n)) => ctx.tr.t("admin.export.kind_letters").replace("{n}", n),
                Some((_, n)) => ctx.tr.t("admin.export.kind_postal").replace("{n}", n),
                None => ctx.tr.t("admin.export.kind_customers").to_string(),
            };
            ExportRow {
                id: e.record.id,
                what,
                at: minute(e.record.requested_at),
                by: e.requested_by.clone(),
                state: state_text,
                rows: e
                    .record
                    .row_count
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                can_approve: e.state == ExportState::Pending && e.record.requested_by != me,
                can_download: e.state == ExportState::Approved && e.record.requested_by == me,
            }
        })
        .collect();
    let html = ExportsView { ctx, message, rows }.render()?;
    Ok(status_page(status, html))
}

fn export_refusal_key(r: kura_app::exports::ExportRefusal) -> &'static str {
    use kura_app::exports::ExportRefusal as R;
    match r {
        R::NeedsReason => "admin.unmask.needs_reason",
        R::NotFound => "admin.export.not_found",
        R::OwnRequest => "admin.export.own_request",
        R::AlreadyDone => "admin.export.already_done",
        R::NotApproved => "admin.export.not_approved",
        R::NotRequester => "admin.export.not_requester",
        R::Expired => "admin.export.expired_note",
    }
}

pub async fn exports_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    exports_page(&state, ctx, &session, StatusCode::OK, None).await
}

pub async fn export_request_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Form(form): Form<EraseForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
        return exports_page(&state, ctx, &session, StatusCode::UNAUTHORIZED, m).await;
    }
    let (status, m) = match state
        .backoffice
        .request_export(&session, ctx.ip, &form.reason)
        .await?
    {
        Ok(id) => (
            StatusCode::OK,
            ctx.tr
                .t("admin.export.requested")
                .replace("{id}", &id.to_string()),
        ),
        Err(r) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ctx.tr.t(export_refusal_key(r)).to_string(),
        ),
    };
    exports_page(&state, ctx, &session, status, Some(m)).await
}

pub async fn export_approve_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<StepUpForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
        return exports_page(&state, ctx, &session, StatusCode::UNAUTHORIZED, m).await;
    }
    let (status, key) = match state
        .backoffice
        .approve_export(&session, ctx.ip, id)
        .await?
    {
        Ok(()) => (StatusCode::OK, "admin.export.approved_done"),
        Err(r) => (StatusCode::UNPROCESSABLE_ENTITY, export_refusal_key(r)),
    };
    let m = Some(ctx.tr.t(key).to_string());
    exports_page(&state, ctx, &session, status, m).await
}

/// The approved export as a CSV file, once, to the one who asked.
pub async fn export_download_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<StepUpForm>,
) -> Result<Response, WebError> {
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
        return exports_page(&state, ctx, &session, StatusCode::UNAUTHORIZED, m).await;
    }
    match state
        .backoffice
        .download_export(&session, ctx.ip, id)
        .await?
    {
        Ok(csv) => {
            let disposition = format!("attachment; filename=\"{}\"", csv.filename);
            let mut res = (StatusCode::OK, csv.bytes).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(if csv.filename.ends_with(".pdf") {
                    "application/pdf"
                } else {
                    "text/csv; charset=utf-8"
                }),
            );
            if let Ok(v) = header::HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(res)
        }
        Err(r) => {
            let m = Some(ctx.tr.t(export_refusal_key(r)).to_string());
            exports_page(&state, ctx, &session, StatusCode::UNPROCESSABLE_ENTITY, m).await
        }
    }
}

// ---- Inquiry desk ------------------------------------------------------------------------

struct InquiryRow {
    id: i64,
    number: String,
    category: String,
    order_number: String,
    status: String,
    assignee: String,
    at: String,
}

#[derive(Template)]
#[template(path = "admin/inquiries.html")]
struct InquiriesView {
    ctx: AdminContext,
    rows: Vec<InquiryRow>,
    q_status: String,
    q_category: String,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct InquiryQuery {
    #[serde(default)]
    status: String,
    /// One category only (`incident`: the queue of an incident's questions).
    #[serde(default)]
    category: String,
    #[serde(default)]
    before: Option<i64>,
}

fn inquiry_row(
    ctx: &AdminContext,
    s: &kura_app::inquiries::InquirySummary,
    staff: &[StaffMember],
) -> InquiryRow {
    InquiryRow {
        id: s.id,
        number: s.number.clone(),
        category: ctx
            .tr
            .t(&format!("contact.category.{}", s.category))
            .to_string(),
        order_number: s.order_number.clone().unwrap_or_default(),
        status: ctx
            .tr
            .t(&format!("admin.inquiry.status.{}", s.status))
            .to_string(),
        assignee: s
            .assignee
            .and_then(|a| staff.iter().find(|m| m.id == a))
            .map(|m| m.login.clone())
            .unwrap_or_default(),
        at: minute(s.created_at),
    }
}

pub async fn inquiries_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Query(q): Query<InquiryQuery>,
) -> Result<Response, WebError> {
    let statuses: Vec<&str> = match q.status.as_str() {
        "open" | "answered" | "closed" => vec![q.status.as_str()],
        "all" => Vec::new(),
        _ => vec!["open", "answered"],
    };
    let category = kura_app::inquiries::Category::parse(&q.category);
    let list = state
        .desk
        .queue(&statuses, category, q.before, PAGE)
        .await?;
    let staff = state.staff.list().await?;
    let next = (list.len() == PAGE as usize)
        .then(|| list.last())
        .flatten()
        .map(|r| {
            format!(
                "{}?status={}&category={}&before={}",
                ctx.href("/inquiries"),
                q.status,
                category.map_or("", |c| c.code()),
                r.id
            )
        });
    let rows = list.iter().map(|s| inquiry_row(&ctx, s, &staff)).collect();
    Ok(Html(
        InquiriesView {
            rows,
            q_category: category.map_or(String::new(), |c| c.code().to_string()),
            q_status: q.status.clone(),
            next,
            ctx,
        }
        .render()?,
    )
    .into_response())
}

/// Reply templates: (key, label key, body key). The body is a starting point staff edit.
const REPLY_TEMPLATES: &[&str] = &[
    "thanks",
    "shipping",
    "returns",
    "incident_affected",
    "incident_forged",
];

#[derive(Template)]
#[template(path = "admin/inquiry.html")]
struct InquiryPageView {
    ctx: AdminContext,
    row: InquiryRow,
    name: String,
    email: String,
    lang: String,
    messages: Vec<(String, String, String)>,
    templates: Vec<(&'static str, String)>,
    draft: String,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct TemplateQuery {
    #[serde(default)]
    template: String,
}

async fn inquiry_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    id: i64,
    draft: String,
    message: Option<String>,
) -> Result<Response, WebError> {
    let limit = state.backoffice.unmask_budget().await?;
    let opened = state.desk.open(session, ctx.ip, id, limit).await?;
    let view = match opened {
        kura_app::inquiries::Opened::Shown(v) => v,
        kura_app::inquiries::Opened::OverBudget { limit } => {
            let m = ctx
                .tr
                .t("admin.unmask.over_budget")
                .replace("{limit}", &limit.to_string());
            return notice(ctx, StatusCode::TOO_MANY_REQUESTS, "admin.unmask.title", m);
        }
        kura_app::inquiries::Opened::Erased => {
            let m = ctx.tr.t("admin.unmask.erased").to_string();
            return notice(ctx, StatusCode::GONE, "admin.unmask.title", m);
        }
        kura_app::inquiries::Opened::NotFound => return Err(WebError::new(ErrorKind::NotFound)),
    };
    let staff = state.staff.list().await?;
    let row = inquiry_row(&ctx, &view.summary, &staff);
    // Templates in the inquiry's language, whatever the page's.
    let reply_tr = crate::i18n::Tr(if view.lang == "en" {
        crate::i18n::Lang::En
    } else {
        crate::i18n::Lang::Ja
    });
    let templates = REPLY_TEMPLATES
        .iter()
        .map(|k| (*k, ctx.tr.t(&format!("admin.reply.{k}.label")).to_string()))
        .collect();
    let draft = if let Some(k) = REPLY_TEMPLATES.iter().find(|k| **k == draft) {
        reply_tr
            .t(&format!("admin.reply.{k}.body"))
            .replace("\\n", "\n")
    } else {
        draft
    };
    let messages = view
        .messages
        .iter()
        .map(|m| (m.author.clone(), minute(m.at), m.body.clone()))
        .collect();
    let html = InquiryPageView {
        row,
        name: view.name,
        email: view.email,
        lang: view.lang,
        messages,
        templates,
        draft,
        message,
        ctx,
    }
    .render()?;
    Ok(status_page(StatusCode::OK, html))
}

pub async fn inquiry_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Query(q): Query<TemplateQuery>,
) -> Result<Response, WebError> {
    inquiry_page(&state, ctx, &session, id, q.template, None).await
}

#[derive(Deserialize)]
pub struct ReplyForm {
    body: String,
}

pub async fn inquiry_reply_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let Some(body) = kura_app::inquiries::clean_message(&form.body) else {
        let m = Some(tr.t("admin.inquiry.reply_invalid").to_string());
        return inquiry_page(&state, ctx, &session, id, form.body, m).await;
    };
    let m = if state.desk.reply(&session, ctx.ip, id, &body).await? {
        tr.t("admin.inquiry.replied")
    } else {
        tr.t("admin.unmask.erased")
    };
    inquiry_page(
        &state,
        ctx,
        &session,
        id,
        String::new(),
        Some(m.to_string()),
    )
    .await
}

#[derive(Deserialize)]
pub struct InquiryStatusForm {
    status: String,
    #[serde(default)]
    assign: String,
}

pub async fn inquiry_status_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<InquiryStatusForm>,
) -> Result<Response, WebError> {
    let assignee = (form.assign == "me").then_some(session.member.id);
    let done = state
        .desk
        .set(&session, ctx.ip, id, &form.status, assignee)
        .await?;
    let m = ctx
        .tr
        .t(if done {
            "admin.inquiry.updated"
        } else {
            "admin.inquiry.status_invalid"
        })
        .to_string();
    inquiry_page(&state, ctx, &session, id, String::new(), Some(m)).await
}

// ---- Catalog -----------------------------------------------------------------------------
// The catalog's pages are in `super::catalog`; the quick price and stock change of its list
// stays here.

async fn catalog_page(
    state: &AppState,
    ctx: AdminContext,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, WebError> {
    super::catalog::list_page(state, ctx, status, message).await
}

#[derive(Deserialize)]
pub struct VariantForm {
    price: String,
    stock: String,
}

/// A whole number typed as people type it: full-width digits, commas and a yen sign allowed.
pub(super) fn typed_number(text: &str) -> Option<i64> {
    use unicode_normalization::UnicodeNormalization;
    let plain: String = text
        .nfkc()
        .filter(|c| !matches!(c, ',' | '¥' | '円' | ' '))
        .collect();
    plain.parse().ok()
}

pub async fn variant_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(sku): Path<String>,
    Form(form): Form<VariantForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let (Some(price), Some(stock)) = (typed_number(&form.price), typed_number(&form.stock)) else {
        let m = Some(tr.t("admin.catalog.numbers").to_string());
        return catalog_page(&state, ctx, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    let done = state
        .backoffice
        .set_variant(
            &session,
            ctx.ip,
            &sku,
            Some(kura_domain::Yen(price)),
            Some(stock),
        )
        .await?;
    state.catalog.forget_all();
    let (status, key) = match done {
        Ok(()) => (StatusCode::OK, "admin.catalog.saved"),
        Err(VariantRefusal::UnknownSku) => (StatusCode::NOT_FOUND, "admin.catalog.unknown"),
        Err(VariantRefusal::Price) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin.catalog.price_invalid",
        ),
        Err(VariantRefusal::Stock) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin.catalog.stock_invalid",
        ),
    };
    let m = Some(tr.t(key).replace("{sku}", &sku));
    catalog_page(&state, ctx, status, m).await
}

// ---- Staff -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffView {
    ctx: AdminContext,
    members: Vec<StaffMember>,
    roles: Vec<&'static str>,
    me: i64,
    message: Option<String>,
    stepped_up: bool,
}

async fn staff_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, WebError> {
    let members = state.staff.list().await?;
    let html = StaffView {
        stepped_up: state.staff.stepped_up(session),
        ctx,
        members,
        roles: Role::ALL.iter().map(|r| r.code()).collect(),
        me: session.member.id,
        message,
    }
    .render()?;
    Ok(status_page(status, html))
}

pub async fn staff_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    staff_page(&state, ctx, &session, StatusCode::OK, None).await
}

/// A sensitive change goes ahead only after a fresh authenticator code: one given now, or one
/// given within the last minutes.
async fn stepped_up(
    state: &AppState,
    ctx: &AdminContext,
    session: &mut kura_app::staff::StaffSession,
    otp: &str,
) -> Result<bool, WebError> {
    if state.staff.stepped_up(session) {
        return Ok(true);
    }
    Ok(!otp.trim().is_empty() && state.staff.step_up(session, otp, ctx.ip).await?)
}

/// The staff page again, asking for a fresh authenticator code.
async fn step_up_needed(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
) -> Result<Response, WebError> {
    let m = Some(ctx.tr.t("admin.step_up.needed").to_string());
    staff_page(state, ctx, session, StatusCode::UNAUTHORIZED, m).await
}

#[derive(Deserialize)]
pub struct StaffAddForm {
    login: String,
    role: String,
    email: String,
    password: String,
    #[serde(default)]
    otp: String,
}

fn refusal_key(r: StaffRefusal) -> &'static str {
    match r {
        StaffRefusal::LoginTaken => "admin.staff.login_taken",
        StaffRefusal::LoginInvalid => "admin.staff.login_invalid",
        StaffRefusal::UnknownStaff => "admin.staff.unknown",
        StaffRefusal::LastOwner => "admin.staff.last_owner",
    }
}

pub async fn staff_add_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Form(form): Form<StaffAddForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        return step_up_needed(&state, ctx, &session).await;
    }
    let Some(role) = Role::parse(&form.role) else {
        let m = Some(tr.t("admin.staff.role_invalid").to_string());
        return staff_page(&state, ctx, &session, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    let Ok(email) = kura_domain::Email::parse(&form.email) else {
        let m = Some(tr.t("admin.staff.email_invalid").to_string());
        return staff_page(&state, ctx, &session, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    let login = form.login.trim().to_lowercase();
    if let Err(problem) = crate::pages::password::check_with(
        &form.password,
        &form.password,
        &[login.as_str(), email.as_str()],
        STAFF_MIN_CHARS,
    ) {
        let m = Some(crate::pages::password::message_with(
            tr,
            &problem,
            STAFF_MIN_CHARS,
        ));
        return staff_page(&state, ctx, &session, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    }
    let actor = session.actor(ctx.ip);
    let password = SecretString::from(form.password);
    let m = match state
        .staff
        .add(&actor, &login, role, &email, &password)
        .await?
    {
        Ok(_) => tr.t("admin.staff.added").replace("{login}", &login),
        Err(r) => tr.t(refusal_key(r)).to_string(),
    };
    staff_page(&state, ctx, &session, StatusCode::OK, Some(m)).await
}

#[derive(Deserialize)]
pub struct StaffAccessForm {
    role: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    otp: String,
}

pub async fn staff_access_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<StaffAccessForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        return step_up_needed(&state, ctx, &session).await;
    }
    let Some(role) = Role::parse(&form.role) else {
        let m = Some(tr.t("admin.staff.role_invalid").to_string());
        return staff_page(&state, ctx, &session, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    let actor = session.actor(ctx.ip);
    let m = match state
        .staff
        .set_access(&actor, id, role, form.active == "yes")
        .await?
    {
        Ok(()) => tr.t("admin.staff.changed").to_string(),
        Err(r) => tr.t(refusal_key(r)).to_string(),
    };
    staff_page(&state, ctx, &session, StatusCode::OK, Some(m)).await
}

#[derive(Deserialize)]
pub struct OtpForm {
    #[serde(default)]
    otp: String,
}

pub async fn staff_remove_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<OtpForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        return step_up_needed(&state, ctx, &session).await;
    }
    let actor = session.actor(ctx.ip);
    let m = match state.staff.remove(&actor, id).await? {
        Ok(()) => tr.t("admin.staff.removed").to_string(),
        Err(r) => tr.t(refusal_key(r)).to_string(),
    };
    staff_page(&state, ctx, &session, StatusCode::OK, Some(m)).await
}

pub async fn staff_reset_mfa_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<OtpForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        return step_up_needed(&state, ctx, &session).await;
    }
    let actor = session.actor(ctx.ip);
    let m = match state.staff.reset_mfa(&actor, id).await? {
        Ok(()) => tr.t("admin.staff.mfa_reset_done").to_string(),
        Err(r) => tr.t(refusal_key(r)).to_string(),
    };
    staff_page(&state, ctx, &session, StatusCode::OK, Some(m)).await
}

// ---- Settings ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsView {
    ctx: AdminContext,
    budget: u32,
    personal_years: u32,
    accounting_years: u32,
    message: Option<String>,
    stepped_up: bool,
    /// The staff allow-list as it applies now, one range per line.
    allow: String,
    /// The address this page was asked from (so the owner keeps it in the list).
    your_ip: String,
}

fn allow_text(state: &AppState) -> String {
    state
        .admin_allow_list()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn settings_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    let budget = state.backoffice.unmask_budget().await?;
    let (personal_years, accounting_years) = state.retention.periods().await?;
    Ok(Html(
        SettingsView {
            stepped_up: state.staff.stepped_up(&session),
            allow: allow_text(&state),
            your_ip: ctx.ip.map(|i| i.to_string()).unwrap_or_default(),
            ctx,
            budget,
            personal_years,
            accounting_years,
            message: None,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct SettingsForm {
    unmask_budget: String,
    personal_years: String,
    accounting_years: String,
    #[serde(default)]
    allow: String,
    #[serde(default)]
    otp: String,
}

pub async fn settings_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(mut session): Staff,
    Form(form): Form<SettingsForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let refused = |key: &str| (StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_string());
    let (status, message) = if !stepped_up(&state, &ctx, &mut session, &form.otp).await? {
        (
            StatusCode::UNAUTHORIZED,
            tr.t("admin.step_up.needed").to_string(),
        )
    } else {
        let budget = typed_number(&form.unmask_budget)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=10_000).contains(n));
        let personal = typed_number(&form.personal_years).and_then(|n| u32::try_from(n).ok());
        let accounting = typed_number(&form.accounting_years).and_then(|n| u32::try_from(n).ok());
        match (
            budget,
            personal,
            accounting,
            crate::parse_networks(&form.allow),
        ) {
            (None, _, _, _) => refused("admin.settings.budget_invalid"),
            (_, None, _, _) | (_, _, None, _) => refused("admin.settings.years_invalid"),
            (_, _, _, Err(bad)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                tr.t("admin.settings.allow_invalid")
                    .replace("{entry}", &bad),
            ),
            // A list that leaves out the address it is saved from would lock this staff
            // member out of the back office at the next request.
            (_, _, _, Ok(list))
                if !list.is_empty()
                    && !ctx
                        .ip
                        .is_some_and(|ip| list.iter().any(|n| n.contains(&ip))) =>
            {
                refused("admin.settings.allow_locks_out")
            }
            (Some(n), Some(p), Some(a), Ok(list)) => {
                let actor = session.actor(ctx.ip);
                if state.retention.set_periods(&actor, p, a).await? {
                    if n != state.backoffice.unmask_budget().await? {
                        state.backoffice.set_unmask_budget(&actor, n).await?;
                    }
                    let ranges = list
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" ");
                    state
                        .backoffice
                        .set_staff_allow_list(&actor, &ranges)
                        .await?;
                    state.load_staff_allow().await?;
                    (StatusCode::OK, tr.t("admin.settings.saved").to_string())
                } else {
                    refused("admin.settings.years_invalid")
                }
            }
        }
    };
    let budget = state.backoffice.unmask_budget().await?;
    let (personal_years, accounting_years) = state.retention.periods().await?;
    let html = SettingsView {
        personal_years,
        accounting_years,
        allow: if status == StatusCode::OK {
            allow_text(&state)
        } else {
            form.allow.clone()
        },
        your_ip: ctx.ip.map(|i| i.to_string()).unwrap_or_default(),
        stepped_up: state.staff.stepped_up(&session),
        message: Some(message),
        ctx,
        budget,
    }
    .render()?;
    Ok(status_page(status, html))
}

// ---- Audit log ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPageView {
    ctx: AdminContext,
    rows: Vec<(AuditView, String)>,
    q_actor: String,
    q_action: String,
    q_target: String,
    next: Option<String>,
}

pub async fn audit_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let mut filter = AuditFilter::default();
    let actor = q.actor.trim();
    if !actor.is_empty() {
        let members = state.staff.list().await?;
        filter.staff_id = Some(
            members
                .iter()
                .find(|m| m.login == actor)
                .map(|m| m.id)
                .unwrap_or(-1),
        );
    }
    let action = q.action.trim();
    if !action.is_empty() {
        filter.action_prefix = Some(action.to_string());
    }
    let target = q.target.trim();
    if !target.is_empty() {
        filter.target = Some(target.to_string());
    }
    let rows = state.audit.page(&filter, q.before, PAGE).await?;
    let next = (rows.len() == PAGE as usize)
        .then(|| rows.last())
        .flatten()
        .map(|r| format!("{}?before={}", ctx.href("/audit"), r.seq));
    let rows = rows
        .into_iter()
        .map(|r| {
            let at = minute(r.at);
            (r, at)
        })
        .collect();
    Ok(Html(
        AuditPageView {
            rows,
            q_actor: actor.to_string(),
            q_action: action.to_string(),
            q_target: target.to_string(),
            next,
            ctx,
        }
        .render()?,
    )
    .into_response())
}
