//! The signed-in customer's own data: profile edit, email and password change, saved delivery
//! addresses and account deletion.
//!
//! Every change of personal data, email or password asks for the current password again
//! (ASVS 6.2.3, 7.5.1; REFERENCES.md item 12), through the same throttle as sign-in. A password
//! change ends every other session and cycles this one. Forms keep what was typed (never a
//! password) and name what is wrong next to the field.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::accounts::Refusal;
use kura_app::customers::{EmailChange, SignIn};
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_domain::{Email, Person};
use secrecy::SecretString;

use crate::AppState;
use crate::error::WebError;
use crate::i18n::{Lang, Tr};
use crate::pages::PageContext;
use crate::pages::forms::{
    Choice, FormState, PERSON_FIELDS, Posted, check_new_password, field_message, optional_from,
    person_from, personal_values, prefectures, put_person,
};
use crate::pages::notice::NoticeView;
use crate::pages::password;
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

/// One line for a person's name and address, in the visitor's language.
pub(crate) fn person_line(p: &Person, tr: Tr) -> String {
    let pref = if tr.0 == Lang::En {
        p.prefecture.name_en()
    } else {
        p.prefecture.name_ja()
    };
    let mut s = format!(
        "{} {} 〒{} {}{}",
        p.family_name.as_str(),
        p.given_name.as_str(),
        p.postal_code.display(),
        pref,
        p.address1.as_str()
    );
    if let Some(a) = &p.address2 {
        s.push(' ');
        s.push_str(a.as_str());
    }
    s.push_str(" / ");
    s.push_str(p.phone.as_str());
    s
}

/// "Please wait N minutes" for a throttled attempt.
pub(crate) fn refusal_message(tr: Tr, refusal: Refusal) -> String {
    match refusal {
        Refusal::ResetRequired => tr.t("account.throttle.reset").to_string(),
        Refusal::Ip { retry_after } | Refusal::Account { retry_after } => {
            let minutes = (retry_after.max(1) + 59) / 60;
            tr.t("account.throttle.wait")
                .replace("{minutes}", &minutes.to_string())
        }
    }
}

fn event(kind: SecurityEventKind, ip: &ClientIp, rid: &RequestId, who: i64) -> SecurityEvent {
    SecurityEvent::new(kind)
        .ip(ip.0)
        .request(&rid.0)
        .subject(who)
}

/// Checks the current password typed on a change form; on refusal the field carries why.
pub(crate) async fn reauthenticate(
    state: &AppState,
    tr: Tr,
    who: i64,
    posted: &mut Posted,
    ip: &ClientIp,
    rid: &RequestId,
) -> Result<bool, WebError> {
    let typed = posted.secret("current_password");
    if typed.is_empty() {
        posted.form.errors.insert(
            "current_password".into(),
            tr.t("account.error.current_password_required").to_string(),
        );
        return Ok(false);
    }
    let secret = SecretString::from(typed.chars().take(password::MAX_CHARS).collect::<String>());
    match state.customers.reauthenticate(who, secret, ip.0).await? {
        SignIn::Ok(_) => Ok(true),
        SignIn::Failed => {
            state.event(event(SecurityEventKind::ReauthFailed, ip, rid, who));
            posted.form.errors.insert(
                "current_password".into(),
                tr.t("account.error.current_password_wrong").to_string(),
            );
            Ok(false)
        }
        SignIn::Throttled(refusal) => {
            state.event(event(SecurityEventKind::LoginThrottled, ip, rid, who));
            posted
                .form
                .errors
                .insert("current_password".into(), refusal_message(tr, refusal));
            Ok(false)
        }
    }
}

/// The signed-in customer, or a redirect to sign in.
async fn customer_or_login(session: &Session) -> Result<i64, Response> {
    session
        .customer_id()
        .await
        .ok_or_else(|| Redirect::to("/login").into_response())
}

macro_rules! signed_in {
    ($session:expr) => {
        match customer_or_login(&$session).await {
            Ok(id) => id,
            Err(r) => return Ok(r),
        }
    };
}

fn status_of(form: &FormState) -> StatusCode {
    if form.general.is_some() || !form.errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

// ---- Profile -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfileView {
    ctx: PageContext,
    form: FormState,
    prefectures: Vec<Choice>,
}

const PROFILE_FIELDS: [&str; 11] = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "postal_code",
    "prefecture",
    "address1",
    "address2",
    "phone",
    "birth_date",
    "gender",
];

async fn render_profile(
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let status = status_of(&form);
    let prefectures = prefectures(ctx.tr);
    let page = ProfileView {
        ctx,
        form,
        prefectures,
    }
    .render()?;
    Ok((status, Html(page)).into_response())
}

pub async fn profile_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    let Some(profile) = state.customers.profile(who).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mut form = FormState::default();
    put_person(&mut form.values, "", &profile.person);
    form.values.insert(
        "birth_date".into(),
        profile.birth_date.map(|d| d.iso()).unwrap_or_default(),
    );
    form.values.insert(
        "gender".into(),
        profile
            .gender
            .map(|g| g.code().to_string())
            .unwrap_or_default(),
    );
    render_profile(ctx, &session, form).await
}

pub async fn profile_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    let tr = ctx.tr;
    let mut posted = Posted::read(&body, &PROFILE_FIELDS, &["current_password"], tr);
    if !posted.readable() {
        return render_profile(ctx, &session, posted.form).await;
    }
    let mut errors = BTreeMap::new();
    let person = person_from(&posted.form, "", tr, &mut errors);
    let optional = optional_from(&posted.form, tr, state.clock.now(), &mut errors);
    posted.form.errors = errors;
    if !posted.form.errors.is_empty() {
        return render_profile(ctx, &session, posted.form).await;
    }
    if !reauthenticate(&state, tr, who, &mut posted, &ip, &rid).await? {
        return render_profile(ctx, &session, posted.form).await;
    }
    let (Some(person), Some((birth, gender))) = (person, optional) else {
        posted.form.general = Some(tr.t("account.error.unreadable").to_string());
        return render_profile(ctx, &session, posted.form).await;
    };
    state
        .customers
        .update_profile(who, person, birth, gender)
        .await?;
    state.event(event(SecurityEventKind::ProfileChanged, &ip, &rid, who));
    Ok(Redirect::to("/account?done=profile").into_response())
}

// ---- Email ---------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/email.html")]
struct EmailView {
    ctx: PageContext,
    form: FormState,
}

async fn render_email(
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let status = status_of(&form);
    Ok((status, Html(EmailView { ctx, form }.render()?)).into_response())
}

pub async fn email_get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    signed_in!(session);
    render_email(ctx, &session, FormState::default()).await
}

pub async fn email_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    let tr = ctx.tr;
    let mut posted = Posted::read(&body, &["email"], &["current_password"], tr);
    if !posted.readable() {
        return render_email(ctx, &session, posted.form).await;
    }
    let email = match Email::parse(posted.form.v("email")) {
        Ok(e) => e,
        Err(e) => {
            posted
                .form
                .errors
                .insert("email".into(), field_message(tr, e));
            return render_email(ctx, &session, posted.form).await;
        }
    };
    if !reauthenticate(&state, tr, who, &mut posted, &ip, &rid).await? {
        return render_email(ctx, &session, posted.form).await;
    }
    match state.customers.change_email(who, email, tr.lang()).await? {
        EmailChange::Changed => {
            state.event(event(SecurityEventKind::EmailChanged, &ip, &rid, who));
        }
        EmailChange::Unchanged => {}
        // Not said on the page: it would tell that the address has an account.
        EmailChange::Taken => {
            state.event(event(
                SecurityEventKind::RegistrationDuplicate,
                &ip,
                &rid,
                who,
            ));
        }
    }
    Ok(Redirect::to("/account?done=email").into_response())
}

// ---- Password ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordView {
    ctx: PageContext,
    form: FormState,
}

async fn render_password(
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let status = status_of(&form);
    Ok((status, Html(PasswordView { ctx, form }.render()?)).into_response())
}

pub async fn password_get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    signed_in!(session);
    render_password(ctx, &session, FormState::default()).await
}

pub async fn password_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    let tr = ctx.tr;
    let mut posted = Posted::read(
        &body,
        &[],
        &["current_password", "password", "password_confirm"],
        tr,
    );
    if !posted.readable() {
        return render_password(ctx, &session, posted.form).await;
    }
    let Some(profile) = state.customers.profile(who).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let fresh = check_new_password(&mut posted, tr, &personal_values(&profile));
    if !reauthenticate(&state, tr, who, &mut posted, &ip, &rid).await? {
        return render_password(ctx, &session, posted.form).await;
    }
    let Some(fresh) = fresh else {
        return render_password(ctx, &session, posted.form).await;
    };
    // Every session of the customer ends; this browser gets a new one.
    state.customers.set_password(who, fresh).await?;
    session.sign_in(who).await?;
    state.event(event(SecurityEventKind::PasswordChanged, &ip, &rid, who));
    Ok(Redirect::to("/account?done=password").into_response())
}

// ---- Delete --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/delete.html")]
struct DeleteView {
    ctx: PageContext,
    form: FormState,
}

async fn render_delete(
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let status = status_of(&form);
    Ok((status, Html(DeleteView { ctx, form }.render()?)).into_response())
}

pub async fn delete_get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    signed_in!(session);
    render_delete(ctx, &session, FormState::default()).await
}

pub async fn delete_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    let tr = ctx.tr;
    let mut posted = Posted::read(&body, &[], &["current_password"], tr);
    if !posted.readable() {
        return render_delete(ctx, &session, posted.form).await;
    }
    if !reauthenticate(&state, tr, who, &mut posted, &ip, &rid).await? {
        return render_delete(ctx, &session, posted.form).await;
    }
    state.customers.delete_account(who).await?;
    session.sign_out().await?;
    state.event(event(SecurityEventKind::AccountDeleted, &ip, &rid, who));
    ctx.signed_in = false;
    ctx.csrf = String::new();
    let page = NoticeView {
        title: tr.t("account.deleted.title").to_string(),
        lines: vec![
            tr.t("account.deleted.text").to_string(),
            tr.t("account.delete.orders_kept").to_string(),
        ],
        link: Some(("/".to_string(), tr.t("account.deleted.home").to_string())),
        ctx,
    }
    .render()?;
    Ok(Html(page).into_response())
}

// ---- Saved addresses -----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/address.html")]
struct AddressView {
    ctx: PageContext,
    form: FormState,
    prefectures: Vec<Choice>,
}

async fn render_address(
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let status = status_of(&form);
    let prefectures = prefectures(ctx.tr);
    let page = AddressView {
        ctx,
        form,
        prefectures,
    }
    .render()?;
    Ok((status, Html(page)).into_response())
}

pub async fn address_new_get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    signed_in!(session);
    render_address(ctx, &session, FormState::default()).await
}

pub async fn address_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    let tr = ctx.tr;
    let mut posted = Posted::read(&body, &PERSON_FIELDS, &[], tr);
    if !posted.readable() {
        return render_address(ctx, &session, posted.form).await;
    }
    let mut errors = BTreeMap::new();
    let person = person_from(&posted.form, "", tr, &mut errors);
    posted.form.errors = errors;
    let Some(person) = person.filter(|_| posted.form.errors.is_empty()) else {
        return render_address(ctx, &session, posted.form).await;
    };
    if !state.customers.add_address(who, &person).await? {
        posted.form.general = Some(tr.t("account.address.full").to_string());
        return render_address(ctx, &session, posted.form).await;
    }
    Ok(Redirect::to("/account?done=address").into_response())
}

pub async fn address_delete_post(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let who = signed_in!(session);
    if let Ok(id) = id.parse::<i64>() {
        state.customers.delete_address(who, id).await?;
    }
    Ok(Redirect::to("/account").into_response())
}
