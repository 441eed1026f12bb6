//! Home, sign-in, sign-out and the account page.

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kura_app::{SecurityEvent, SecurityEventKind};
use secrecy::SecretString;
use serde::Deserialize;

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::pages::PageContext;
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginView {
    ctx: PageContext,
    email: String,
    error: Option<String>,
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
            }
            .render()?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let email = form.email.chars().take(254).collect::<String>();
    let password = SecretString::from(form.password);
    match state.customers.authenticate(&email, password).await? {
        Some(customer_id) => {
            let guest_cart = session.data().await.cart_id;
            session.sign_in(customer_id).await?;
            if let Some(cart) = guest_cart {
                state.carts.merge_into_customer(cart, customer_id).await?;
                let mut data = session.data().await;
                data.cart_id = None;
                session.set_data(data).await?;
            }
            state.event(
                SecurityEvent::new(SecurityEventKind::LoginSucceeded)
                    .ip(ip.0)
                    .request(&request_id.0)
                    .subject(customer_id),
            );
            Ok(Redirect::to("/account").into_response())
        }
        None => {
            state.event(
                SecurityEvent::new(SecurityEventKind::LoginFailed)
                    .ip(ip.0)
                    .request(&request_id.0),
            );
            ctx.csrf = session.csrf_token().await?;
            let error = Some(ctx.tr.t("login.failed").to_string());
            let page = LoginView { ctx, email, error }.render()?;
            Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response())
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

#[derive(Template)]
#[template(path = "account.html")]
struct AccountView {
    ctx: PageContext,
    family_name: String,
    given_name: String,
}

pub async fn account_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    let Some(id) = session.customer_id().await else {
        return Ok(Redirect::to("/login").into_response());
    };
    let Some(profile) = state.customers.profile(id).await? else {
        session.sign_out().await?;
        return Ok(Redirect::to("/login").into_response());
    };
    let view = AccountView {
        ctx,
        family_name: profile.person.family_name.as_str().to_string(),
        given_name: profile.person.given_name.as_str().to_string(),
    };
    Ok(Html(view.render()?).into_response())
}
