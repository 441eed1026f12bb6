//! The public inquiry form (お問い合わせ): category, order number (optional), name, email and
//! message; the desk's phone and hours beside it. A refusal names every field that was wrong
//! and keeps what was typed; an accepted inquiry shows its number.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kura_app::inquiries::{Category, InquiryInput, clean_message};
use kura_domain::{Email, PersonName};

use crate::AppState;
use crate::error::WebError;
use crate::form::FormFields;
use crate::pages::PageContext;
use crate::security::session::Session;

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactView {
    ctx: PageContext,
    categories: Vec<(&'static str, String)>,
    category: String,
    order_number: String,
    name: String,
    email: String,
    message: String,
    errors: Vec<(&'static str, String)>,
    phone: String,
    hours: String,
    done: Option<String>,
    /// The acknowledgement was queued (it is not for an address that sent many this hour).
    ack_queued: bool,
}

impl ContactView {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn view(ctx: PageContext, state: &AppState) -> ContactView {
    // The incident category is there while an incident's notice is up.
    let incident_open = state.incidents.banner().is_some();
    let categories = Category::ALL
        .iter()
        .filter(|c| **c != Category::Incident || incident_open)
        .map(|c| {
            (
                c.code(),
                ctx.tr
                    .t(&format!("contact.category.{}", c.code()))
                    .to_string(),
            )
        })
        .collect();
    ContactView {
        categories,
        category: String::new(),
        order_number: String::new(),
        name: String::new(),
        email: String::new(),
        message: String::new(),
        errors: Vec::new(),
        phone: state.config.desk_phone.clone(),
        hours: state.config.desk_hours.clone(),
        done: None,
        ack_queued: false,
        ctx,
    }
}

pub async fn contact_get(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    Ok(Html(view(ctx, &state).render()?).into_response())
}

/// An order number as customers see it (`K-XXXX-XXXX`), upper-cased; anything else is refused.
fn order_number(text: &str) -> Result<Option<String>, ()> {
    let t = text.trim().to_uppercase();
    if t.is_empty() {
        return Ok(None);
    }
    let ok = t.len() <= 20 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok { Ok(Some(t)) } else { Err(()) }
}

pub async fn contact_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let form = FormFields::parse(&body);
    let tr = ctx.tr;
    let mut page = view(ctx, &state);
    page.category = form.get("category").chars().take(20).collect();
    page.order_number = form.get("order_number").chars().take(40).collect();
    page.name = form.get("name").chars().take(60).collect();
    page.email = form.get("email").chars().take(254).collect();
    page.message = form.get("message").chars().take(4000).collect();
    let mut errors = Vec::new();
    let category = Category::parse(&page.category);
    if category.is_none() {
        errors.push(("category", tr.t("contact.error.category").to_string()));
    }
    let order = order_number(&page.order_number);
    if order.is_err() {
        errors.push((
            "order_number",
            tr.t("contact.error.order_number").to_string(),
        ));
    }
    let name = PersonName::parse(&page.name);
    if name.is_err() {
        errors.push(("name", tr.t("contact.error.name").to_string()));
    }
    let email = Email::parse(&page.email);
    if email.is_err() {
        errors.push(("email", tr.t("contact.error.email").to_string()));
    }
    let message = clean_message(&page.message);
    if message.is_none() {
        errors.push(("message", tr.t("contact.error.message").to_string()));
    }
    match (category, order, name, email, message) {
        (Some(category), Ok(order_number), Ok(name), Ok(email), Some(message)) => {
            let input = InquiryInput {
                category,
                order_number,
                name,
                email,
                message,
                lang: tr.lang().to_string(),
            };
            let (number, ack_queued) = state.desk.submit(&input).await?;
            page.done = Some(number);
            page.ack_queued = ack_queued;
            page.message.clear();
            Ok(Html(page.render()?).into_response())
        }
        _ => {
            page.errors = errors;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
    }
}
