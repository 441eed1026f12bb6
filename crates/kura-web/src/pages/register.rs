//! Registration, email verification and password reset.
//!
//! Guarantees:
//! - Whether an address has an account is never shown: registering a known address and asking
//!   for a reset of an unknown one answer with the same page as the successful cases.
//! - Links carry a 256-bit token stored only as its SHA-256, with an expiry (24 h to verify,
//!   1 h to reset), used up on use. Opening a link (GET) changes nothing — mail scanners follow
//!   links — a button on the page (POST) does it.
//! - A reset ends every session of the customer; the customer then signs in with the new
//!   password.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::accounts::TokenPurpose;
use kura_app::customers::Registered;
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_domain::{CustomerProfile, Email};

use crate::AppState;
use crate::error::WebError;
use crate::pages::PageContext;
use crate::pages::forms::{
    Choice, FormState, PERSON_FIELDS, Posted, check_new_password, field_message, optional_from,
    person_from, personal_values, prefectures,
};
use crate::pages::notice::notice;
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

fn event(kind: SecurityEventKind, ip: &ClientIp, rid: &RequestId) -> SecurityEvent {
    SecurityEvent::new(kind).ip(ip.0).request(&rid.0)
}

// ---- Register ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/register.html")]
struct RegisterView {
    ctx: PageContext,
    form: FormState,
    prefectures: Vec<Choice>,
}

fn register_fields() -> Vec<&'static str> {
    let mut v = PERSON_FIELDS.to_vec();
    v.extend(["email", "birth_date", "gender"]);
    v
}

async fn render_register(
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let status = if form.general.is_some() || !form.errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let prefectures = prefectures(ctx.tr);
    let page = RegisterView {
        ctx,
        form,
        prefectures,
    }
    .render()?;
    Ok((status, Html(page)).into_response())
}

pub async fn register_get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    if session.customer_id().await.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    render_register(ctx, &session, FormState::default()).await
}

pub async fn register_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let mut posted = Posted::read(
        &body,
        &register_fields(),
        &["password", "password_confirm"],
        tr,
    );
    if !posted.readable() {
        return render_register(ctx, &session, posted.form).await;
    }
    let mut errors = std::collections::BTreeMap::new();
    let person = person_from(&posted.form, "", tr, &mut errors);
    let email = Email::parse(posted.form.v("email"))
        .map_err(|e| errors.insert("email".into(), field_message(tr, e)))
        .ok();
    let optional = optional_from(&posted.form, tr, state.clock.now(), &mut errors);
    posted.form.errors = errors;
    // The password is judged against whatever personal values were typed, even if some other
    // field still needs fixing, so every message shows at once.
    let personal = vec![
        posted.form.v("family_name").to_string(),
        posted.form.v("given_name").to_string(),
        posted.form.v("family_name_kana").to_string(),
        posted.form.v("given_name_kana").to_string(),
        posted.form.v("email").to_string(),
    ];
    let password = check_new_password(&mut posted, tr, &personal);
    let (Some(person), Some(email), Some((birth_date, gender)), Some(password)) =
        (person, email, optional, password)
    else {
        return render_register(ctx, &session, posted.form).await;
    };
    if !posted.form.errors.is_empty() {
        return render_register(ctx, &session, posted.form).await;
    }
    let profile = CustomerProfile {
        person,
        email,
        birth_date,
        gender,
    };
    match state
        .customers
        .register_account(&profile, password, tr.lang())
        .await?
    {
        Registered::Created { id } => {
            state.event(event(SecurityEventKind::AccountCreated, &ip, &rid).subject(id));
        }
        Registered::Exists { id } => {
            state.event(event(SecurityEventKind::RegistrationDuplicate, &ip, &rid).subject(id));
        }
    }
    ctx.csrf = session.csrf_token().await?;
    notice(
        ctx,
        StatusCode::OK,
        "register.sent.title",
        &["register.sent.text", "register.sent.spam"],
        Some(("/login", "login.title")),
    )
}

// ---- Verify --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/verify.html")]
struct VerifyView {
    ctx: PageContext,
    action: String,
}

fn dead_link(ctx: PageContext, title: &str) -> Result<Response, WebError> {
    notice(
        ctx,
        StatusCode::NOT_FOUND,
        title,
        &["account.link.dead"],
        Some(("/login", "login.title")),
    )
}

pub async fn verify_get(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let Some(_) = state
        .customers
        .peek_token(&token, TokenPurpose::VerifyEmail)
        .await?
    else {
        state.event(event(SecurityEventKind::AccountTokenRejected, &ip, &rid));
        return dead_link(ctx, "account.verify.title");
    };
    ctx.csrf = session.csrf_token().await?;
    let page = VerifyView {
        ctx,
        action: format!("/account/verify/{token}"),
    }
    .render()?;
    Ok(Html(page).into_response())
}

pub async fn verify_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let Some(id) = state.customers.verify_email(&token).await? else {
        state.event(event(SecurityEventKind::AccountTokenRejected, &ip, &rid));
        return dead_link(ctx, "account.verify.title");
    };
    state.event(event(SecurityEventKind::EmailVerified, &ip, &rid).subject(id));
    let link = if session.customer_id().await == Some(id) {
        ("/account", "account.title")
    } else {
        ("/login", "login.title")
    };
    notice(
        ctx,
        StatusCode::OK,
        "account.verified.title",
        &["account.verified.text"],
        Some(link),
    )
}

/// Sends a fresh verification link to the signed-in customer's address.
pub async fn verify_resend_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    let Some(who) = session.customer_id().await else {
        return Ok(Redirect::to("/login").into_response());
    };
    state
        .customers
        .resend_verification(who, ctx.tr.lang())
        .await?;
    Ok(Redirect::to("/account?done=resent").into_response())
}

// ---- Password reset ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/reset_request.html")]
struct ResetRequestView {
    ctx: PageContext,
    form: FormState,
}

pub async fn reset_request_get(
    mut ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let page = ResetRequestView {
        ctx,
        form: FormState::default(),
    }
    .render()?;
    Ok(Html(page).into_response())
}

pub async fn reset_request_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let mut posted = Posted::read(&body, &["email"], &[], tr);
    if posted.readable()
        && let Err(e) = Email::parse(posted.form.v("email"))
    {
        posted
            .form
            .errors
            .insert("email".into(), field_message(tr, e));
    }
    if !posted.readable() || !posted.form.errors.is_empty() {
        ctx.csrf = session.csrf_token().await?;
        let page = ResetRequestView {
            ctx,
            form: posted.form,
        }
        .render()?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
    }
    if let Some(id) = state
        .customers
        .request_password_reset(posted.form.v("email"), tr.lang())
        .await?
    {
        state.event(event(SecurityEventKind::PasswordResetRequested, &ip, &rid).subject(id));
    } else {
        state.event(event(SecurityEventKind::PasswordResetRequested, &ip, &rid));
    }
    ctx.csrf = session.csrf_token().await?;
    notice(
        ctx,
        StatusCode::OK,
        "reset.sent.title",
        &["reset.sent.text", "register.sent.spam"],
        Some(("/login", "login.title")),
    )
}

#[derive(Template)]
#[template(path = "account/reset.html")]
struct ResetView {
    ctx: PageContext,
    form: FormState,
    action: String,
}

pub async fn reset_get(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    if state
        .customers
        .peek_token(&token, TokenPurpose::PasswordReset)
        .await?
        .is_none()
    {
        state.event(event(SecurityEventKind::AccountTokenRejected, &ip, &rid));
        return dead_link(ctx, "reset.new_title");
    }
    ctx.csrf = session.csrf_token().await?;
    let page = ResetView {
        ctx,
        form: FormState::default(),
        action: format!("/account/reset/{token}"),
    }
    .render()?;
    Ok(Html(page).into_response())
}

pub async fn reset_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let Some(id) = state
        .customers
        .peek_token(&token, TokenPurpose::PasswordReset)
        .await?
    else {
        state.event(event(SecurityEventKind::AccountTokenRejected, &ip, &rid));
        return dead_link(ctx, "reset.new_title");
    };
    let mut posted = Posted::read(&body, &[], &["password", "password_confirm"], tr);
    let personal = match state.customers.profile(id).await? {
        Some(p) => personal_values(&p),
        None => Vec::new(),
    };
    let fresh = if posted.readable() {
        check_new_password(&mut posted, tr, &personal)
    } else {
        None
    };
    let Some(fresh) = fresh else {
        ctx.csrf = session.csrf_token().await?;
        let page = ResetView {
            ctx,
            form: posted.form,
            action: format!("/account/reset/{token}"),
        }
        .render()?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
    };
    let Some(id) = state.customers.reset_password(&token, fresh).await? else {
        state.event(event(SecurityEventKind::AccountTokenRejected, &ip, &rid));
        return dead_link(ctx, "reset.new_title");
    };
    // Every session of the customer is gone (this browser's too, if it had one).
    session.sign_out().await?;
    ctx.signed_in = false;
    ctx.csrf = String::new();
    state.event(event(SecurityEventKind::PasswordChanged, &ip, &rid).subject(id));
    notice(
        ctx,
        StatusCode::OK,
        "reset.done.title",
        &["reset.done.text"],
        Some(("/login", "login.title")),
    )
}
