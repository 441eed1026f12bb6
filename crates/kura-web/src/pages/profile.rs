//! The signed-in customer's own data: profile edit, email and password change, saved delivery
//! addresses and account deletion; and the form plumbing the account pages share.
//!
//! Every change of personal data, email or password asks for the current password again
//! (ASVS 6.2.3, 7.5.1; REFERENCES.md item 12), through the same throttle as sign-in. A password
//! change ends every other session and cycles this one. Forms keep what was typed (never a
//! password) and name what is wrong next to the field.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::accounts::Refusal;
use kura_app::customers::{EmailChange, SignIn};
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_domain::{BirthDate, Date, Email, Gender, Person, Prefecture};
use secrecy::SecretString;

use crate::AppState;
use crate::error::WebError;
use crate::form::FormFields;
use crate::i18n::{Lang, Tr};
use crate::pages::PageContext;
use crate::pages::checkout::{Choice, FormState};
use crate::pages::password;
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

pub(crate) const PERSON_FIELDS: [&str; 9] = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "postal_code",
    "prefecture",
    "address1",
    "address2",
    "phone",
];

/// Longest text kept from any one field (longer input is refused by the field's own rule).
const FIELD_CHARS: usize = 300;

pub(crate) use super::checkout::field_message;

/// The person fields of a form, the way checkout reads them.
pub(crate) fn person_from(
    form: &FormState,
    tr: Tr,
    errors: &mut BTreeMap<String, String>,
) -> Option<Person> {
    super::checkout::person_from(form, "", tr, errors)
}

/// Birth date and gender: optional, each refused only when something unreadable was sent.
pub(crate) fn optional_from(
    form: &FormState,
    tr: Tr,
    now: i64,
    errors: &mut BTreeMap<String, String>,
) -> Option<(Option<BirthDate>, Option<Gender>)> {
    let today = Date::today_in_japan(now);
    let birth_today = (
        u16::try_from(today.year).unwrap_or(9999),
        u8::try_from(today.month).unwrap_or(12),
        u8::try_from(today.day).unwrap_or(31),
    );
    let birth = BirthDate::parse_optional(form.v("birth_date"), birth_today)
        .map_err(|e| errors.insert("birth_date".into(), field_message(tr, e)))
        .ok();
    let gender = Gender::parse_optional(form.v("gender"))
        .map_err(|e| errors.insert("gender".into(), field_message(tr, e)))
        .ok();
    Some((birth?, gender?))
}

pub(crate) fn person_values(p: &Person, v: &mut BTreeMap<String, String>) {
    v.insert("family_name".into(), p.family_name.as_str().to_string());
    v.insert("given_name".into(), p.given_name.as_str().to_string());
    v.insert(
        "family_name_kana".into(),
        p.family_name_kana.as_str().to_string(),
    );
    v.insert(
        "given_name_kana".into(),
        p.given_name_kana.as_str().to_string(),
    );
    v.insert("postal_code".into(), p.postal_code.display());
    v.insert("prefecture".into(), p.prefecture.code().to_string());
    v.insert("address1".into(), p.address1.as_str().to_string());
    v.insert(
        "address2".into(),
        p.address2
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
    );
    v.insert("phone".into(), p.phone.as_str().to_string());
}

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

pub(crate) fn prefectures(tr: Tr) -> Vec<Choice> {
    let en = tr.0 == Lang::En;
    Prefecture::all()
        .map(|p| Choice {
            value: p.code().to_string(),
            label: if en { p.name_en() } else { p.name_ja() }.to_string(),
        })
        .collect()
}

/// A posted form: text fields kept for showing again, secrets (passwords) kept apart.
pub(crate) struct Posted {
    pub form: FormState,
    fields: FormFields,
}

impl Posted {
    /// Reads the body; an unreadable body or an unknown field sets the general message.
    pub fn read(body: &[u8], text: &[&str], secret: &[&str], tr: Tr) -> Self {
        let fields = FormFields::parse(body);
        let mut form = FormState::default();
        for name in text {
            let value: String = fields.get(name).chars().take(FIELD_CHARS).collect();
            form.values.insert((*name).to_string(), value);
        }
        let known: Vec<&str> = text.iter().chain(secret).copied().collect();
        if fields.malformed || !fields.unknown(&known).is_empty() {
            form.general = Some(tr.t("account.error.unreadable").to_string());
        }
        Self { form, fields }
    }

    pub fn readable(&self) -> bool {
        self.form.general.is_none()
    }

    pub fn secret(&self, name: &str) -> &str {
        self.fields.get(name)
    }
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

/// Where links in mails point: the configured base, never the request's `Host` (password
/// reset poisoning). The headers are not read on purpose.
pub(crate) fn link_base(state: &AppState, _headers: &HeaderMap) -> Option<String> {
    Some(state.config.link_base.trim_end_matches('/').to_string())
}

pub(crate) fn mail_lang(tr: Tr) -> kura_mail::Lang {
    kura_mail::Lang::parse(tr.lang()).unwrap_or_default()
}

/// Queues the verification mail for `to`.
pub(crate) async fn send_verification(
    state: &AppState,
    tr: Tr,
    base: &str,
    to: &str,
    customer_id: i64,
    token: &kura_seal::SessionToken,
) -> Result<(), WebError> {
    let mail = kura_mail::EmailVerification {
        lang: mail_lang(tr),
        shop_name: state.config.shop_name.clone(),
        verify_url: format!("{base}/account/verify/{}", token.expose()),
        expires_at: tr.t("account.mail.expires_24h").to_string(),
        anti_phishing_phrase: None,
    }
    .render(to)
    .map_err(WebError::internal)?;
    state
        .outbox
        .enqueue_for_customer(&mail, customer_id)
        .await?;
    Ok(())
}

fn event(kind: SecurityEventKind, ip: &ClientIp, rid: &RequestId, who: i64) -> SecurityEvent {
    SecurityEvent::new(kind)
        .ip(ip.0)
        .request(&rid.0)
        .subject(who)
}

/// Checks the current password typed on a change form; on refusal the field carries why.
async fn reauthenticate(
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
    person_values(&profile.person, &mut form.values);
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
    let person = person_from(&posted.form, tr, &mut errors);
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
    headers: HeaderMap,
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
    let to = email.as_str().to_string();
    match state.customers.change_email(who, email).await? {
        EmailChange::Changed(token) => {
            if let Some(base) = link_base(&state, &headers) {
                send_verification(&state, tr, &base, &to, who, &token).await?;
            }
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

/// The values a password must not be made of: the customer's names, kana and email.
pub(crate) fn personal_values(profile: &kura_domain::CustomerProfile) -> Vec<String> {
    let p = &profile.person;
    vec![
        p.family_name.as_str().to_string(),
        p.given_name.as_str().to_string(),
        p.family_name_kana.as_str().to_string(),
        p.given_name_kana.as_str().to_string(),
        profile.email.as_str().to_string(),
    ]
}

/// Checks a new password; on refusal the `password` field carries why.
pub(crate) fn check_new_password(
    posted: &mut Posted,
    tr: Tr,
    personal: &[String],
) -> Option<SecretString> {
    let refs: Vec<&str> = personal.iter().map(String::as_str).collect();
    let pw = posted.secret("password").to_string();
    let confirm = posted.secret("password_confirm").to_string();
    match password::check(&pw, &confirm, &refs) {
        Ok(()) => Some(SecretString::from(pw)),
        Err(password::PasswordProblem::Mismatch) => {
            posted.form.errors.insert(
                "password_confirm".into(),
                password::message(tr, &password::PasswordProblem::Mismatch),
            );
            None
        }
        Err(problem) => {
            posted
                .form
                .errors
                .insert("password".into(), password::message(tr, &problem));
            None
        }
    }
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
    let page = crate::pages::register::NoticeView {
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
    let person = person_from(&posted.form, tr, &mut errors);
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
