//! Sign-in, sign-out and the account page.
//!
//! Sign-in goes through the account and IP throttle in `kura_app::Customers::sign_in`: after
//! repeated failures the page asks to wait (and says how long) instead of checking the
//! password; every failure and every refusal reaches the guard as a security event. Accounts
//! whose address is not yet confirmed may sign in and see a banner asking to confirm it.

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kura_app::customers::SignIn;
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_domain::Date;
use secrecy::SecretString;
use serde::Deserialize;

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::pages::PageContext;
use crate::pages::profile::{person_line, refusal_message};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginView {
    ctx: PageContext,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

pub async fn login_get(mut ctx: PageContext, session: Session) -> Result<Response, WebError> {
    if session.customer_id().await.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    ctx.csrf = session.csrf_token().await?;
    Ok(Html(
        LoginView {
            ctx,
            email: String::new(),
            error: None,
            notice: None,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    email: String,
    password: String,
    #[allow(dead_code)]
    csrf_token: String,
}

pub async fn login_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(request_id): Extension<RequestId>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, WebError> {
    let form = match form {
        Ok(Form(f)) => f,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(WebError::new(ErrorKind::PayloadTooLarge));
        }
        Err(_) => {
            ctx.csrf = session.csrf_token().await?;
            let error = Some(ctx.tr.t("login.unreadable").to_string());
            let page = LoginView {
                ctx,
                email: String::new(),
                error,
                notice: None,
            }
            .render()?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let email = form.email.chars().take(254).collect::<String>();
    let password = SecretString::from(form.password);
    match state.customers.sign_in(&email, password, ip.0).await? {
        SignIn::Ok(customer_id) => {
            session.sign_in(customer_id).await?;
            state.event(
                SecurityEvent::new(SecurityEventKind::LoginSucceeded)
                    .ip(ip.0)
                    .request(&request_id.0)
                    .subject(customer_id),
            );
            Ok(Redirect::to("/account").into_response())
        }
        SignIn::Failed => {
            state.event(
                SecurityEvent::new(SecurityEventKind::LoginFailed)
                    .ip(ip.0)
                    .request(&request_id.0),
            );
            ctx.csrf = session.csrf_token().await?;
            let error = Some(ctx.tr.t("login.failed").to_string());
            let page = LoginView {
                ctx,
                email,
                error,
                notice: None,
            }
            .render()?;
            Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response())
        }
        SignIn::Throttled(refusal) => {
            state.event(
                SecurityEvent::new(SecurityEventKind::LoginThrottled)
                    .ip(ip.0)
                    .request(&request_id.0),
            );
            ctx.csrf = session.csrf_token().await?;
            let error = Some(refusal_message(ctx.tr, refusal));
            let page = LoginView {
                ctx,
                email,
                error,
                notice: None,
            }
            .render()?;
            Ok((StatusCode::TOO_MANY_REQUESTS, Html(page)).into_response())
        }
    }
}

pub async fn logout_post(
    State(state): State<AppState>,
    session: Session,
    Extension(ip): Extension<ClientIp>,
) -> Result<Response, WebError> {
    let who = session.customer_id().await;
    session.sign_out().await?;
    let mut event = SecurityEvent::new(SecurityEventKind::Logout).ip(ip.0);
    if let Some(id) = who {
        event = event.subject(id);
    }
    state.event(event);
    Ok(Redirect::to("/").into_response())
}

pub struct OrderRow {
    pub number: String,
    pub date: String,
    pub status: String,
    pub total: String,
}

pub struct AddressRow {
    pub id: i64,
    pub text: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountView {
    ctx: PageContext,
    family_name: String,
    given_name: String,
    verified: bool,
    notice: Option<String>,
    orders: Vec<OrderRow>,
    profile: Vec<(String, String)>,
    addresses: Vec<AddressRow>,
    /// The anti-phishing phrase as set (or as just typed, when it was refused).
    phrase: String,
    phrase_error: Option<String>,
}

pub async fn account_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let notice = query
        .as_deref()
        .and_then(|q| q.strip_prefix("done="))
        .and_then(|d| match d {
            "profile" | "email" | "password" | "address" | "resent" | "phrase" => {
                Some(tr.t(&format!("account.done.{d}")).to_string())
            }
            _ => None,
        });
    account_page(&state, ctx, &session, notice, None, StatusCode::OK).await
}

/// Sets or (when empty) removes the phrase shown at the top of every mail to this account.
/// The current password is asked for: whoever took over a session must not be able to choose
/// the phrase their forged mails will carry.
pub async fn phrase_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let Some(id) = session.customer_id().await else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mut posted =
        crate::pages::forms::Posted::read(&body, &["phrase"], &["current_password"], ctx.tr);
    let phrase = posted
        .form
        .values
        .get("phrase")
        .cloned()
        .unwrap_or_default();
    if !crate::pages::profile::reauthenticate(&state, ctx.tr, id, &mut posted, &ip, &rid).await? {
        let error = posted
            .form
            .errors
            .get("current_password")
            .cloned()
            .unwrap_or_default();
        return account_page(
            &state,
            ctx,
            &session,
            None,
            Some((phrase, error)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state
        .customers
        .set_anti_phishing_phrase(id, &phrase)
        .await?
    {
        Ok(()) => Ok(Redirect::to("/account?done=phrase").into_response()),
        Err(key) => {
            let error = ctx.tr.t(key).to_string();
            account_page(
                &state,
                ctx,
                &session,
                None,
                Some((phrase, error)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn account_page(
    state: &AppState,
    mut ctx: PageContext,
    session: &Session,
    notice: Option<String>,
    refused_phrase: Option<(String, String)>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let Some(id) = session.customer_id().await else {
        return Ok(Redirect::to("/login").into_response());
    };
    ctx.csrf = session.csrf_token().await?;
    let Some(profile) = state.customers.profile(id).await? else {
        session.sign_out().await?;
        return Ok(Redirect::to("/login").into_response());
    };
    let tr = ctx.tr;
    let orders = state
        .orders
        .history(id, 20)
        .await?
        .into_iter()
        .map(|o| OrderRow {
            date: Date::today_in_japan(o.created_at).iso(),
            status: tr
                .t(&format!("order.status.{}", o.status.code()))
                .to_string(),
            total: o.totals.total.grouped(),
            number: o.number,
        })
        .collect();
    let addresses = state
        .customers
        .addresses(id)
        .await?
        .into_iter()
        .map(|a| AddressRow {
            id: a.id,
            text: person_line(&a.person, tr),
        })
        .collect();
    let p = &profile.person;
    let none = tr.t("account.not_given").to_string();
    let rows = vec![
        (
            tr.t("account.name").to_string(),
            format!("{} {}", p.family_name.as_str(), p.given_name.as_str()),
        ),
        (
            tr.t("account.kana").to_string(),
            format!(
                "{} {}",
                p.family_name_kana.as_str(),
                p.given_name_kana.as_str()
            ),
        ),
        (tr.t("account.address").to_string(), person_line(p, tr)),
        (
            tr.t("field.email").to_string(),
            profile.email.as_str().to_string(),
        ),
        (
            tr.t("field.birth_date").to_string(),
            profile.birth_date.map_or(none.clone(), |d| d.iso()),
        ),
        (
            tr.t("field.gender").to_string(),
            profile.gender.map_or(none, |g| {
                tr.t(&format!("field.gender.{}", g.code())).to_string()
            }),
        ),
    ];
    let (phrase, phrase_error) = match refused_phrase {
        Some((typed, error)) => (typed, Some(error)),
        None => (
            state
                .customers
                .anti_phishing_phrase(profile.email.as_str())
                .await?
                .unwrap_or_default(),
            None,
        ),
    };
    let view = AccountView {
        ctx,
        family_name: p.family_name.as_str().to_string(),
        given_name: p.given_name.as_str().to_string(),
        verified: state.customers.email_verified(id).await?,
        notice,
        orders,
        profile: rows,
        addresses,
        phrase,
        phrase_error,
    };
    Ok((status, Html(view.render()?)).into_response())
}
