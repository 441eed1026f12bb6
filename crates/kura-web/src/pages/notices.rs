//! The public notice of an incident at a stable address (`/notices/{id}`), with its dated
//! entries (first report, updates, warnings about forged mail, the closing report) in the
//! visitor's language, and the list of all of them at `/notices`. Linked from every page while
//! an incident is open; open in maintenance too.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use kura_domain::Date;

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::pages::PageContext;
use crate::security::session::Session;
use kura_app::incident_people::LookupOutcome;

struct Entry {
    kind: String,
    date: String,
    title: String,
    paragraphs: Vec<String>,
}

struct Listed {
    id: i64,
    title: String,
    first: String,
    latest: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "notices.html")]
struct ListPage {
    ctx: PageContext,
    notices: Vec<Listed>,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    ctx: PageContext,
    id: i64,
    title: String,
    open: bool,
    /// Whether the "was I affected?" form is offered (open, people found).
    lookup: bool,
    /// What the form answered, and whether it was a problem.
    message: Option<(bool, String)>,
    typed: String,
    /// The desk's incident line (phone and hours), when configured.
    desk: String,
    entries: Vec<Entry>,
}

fn date(unix: i64) -> String {
    Date::today_in_japan(unix).iso().replace('-', "/")
}

pub async fn notices_get(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    let ja = ctx.tr.lang() == "ja";
    let notices = state
        .incidents
        .published()
        .await?
        .into_iter()
        .filter_map(|n| {
            let (first, last) = (n.entries.first()?, n.entries.last()?);
            Some(Listed {
                id: n.incident.id,
                title: if ja {
                    first.title_ja.clone()
                } else {
                    first.title_en.clone()
                },
                first: date(first.published_at),
                latest: date(last.published_at),
                open: n.incident.closed_at.is_none(),
            })
        })
        .collect();
    Ok(Html(ListPage { ctx, notices }.render()?).into_response())
}

pub async fn notice_get(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let id: i64 = id.parse().map_err(|_| WebError::new(ErrorKind::NotFound))?;
    notice_page(&state, ctx, id, None, String::new()).await
}

/// "Was my data affected?": an email address or phone number; the answer goes by mail to the
/// address the shop holds, and the page says the same whatever was found.
pub async fn notice_lookup_post(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let id: i64 = id.parse().map_err(|_| WebError::new(ErrorKind::NotFound))?;
    let form = crate::form::FormFields::parse(&body);
    let typed: String = form.get("contact").chars().take(254).collect();
    let outcome = state.incidents.lookup(id, &typed, ctx.tr.lang()).await?;
    let (problem, key) = match outcome {
        LookupOutcome::Taken => (false, "notice.lookup.taken"),
        LookupOutcome::Invalid => (true, "notice.lookup.invalid"),
        LookupOutcome::NotAvailable => (true, "notice.lookup.unavailable"),
    };
    let message = Some((problem, ctx.tr.t(key).to_string()));
    let kept = if problem { typed } else { String::new() };
    let mut res = notice_page(&state, ctx, id, message, kept).await?;
    if problem {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn notice_page(
    state: &AppState,
    ctx: PageContext,
    id: i64,
    message: Option<(bool, String)>,
    typed: String,
) -> Result<Response, WebError> {
    let ja = ctx.tr.lang() == "ja";
    let Some(notice) = state
        .incidents
        .published()
        .await?
        .into_iter()
        .find(|n| n.incident.id == id)
    else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let title = notice
        .entries
        .first()
        .map(|e| if ja { &e.title_ja } else { &e.title_en })
        .cloned()
        .unwrap_or_default();
    // The latest entry first, as notices are read.
    let entries = notice
        .entries
        .iter()
        .rev()
        .map(|e| {
            let body = if ja { &e.body_ja } else { &e.body_en };
            Entry {
                kind: ctx.tr.t(&format!("notice.kind.{}", e.kind)).to_string(),
                date: date(e.published_at),
                title: if ja {
                    e.title_ja.clone()
                } else {
                    e.title_en.clone()
                },
                paragraphs: body
                    .split("\n\n")
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            }
        })
        .collect();
    let open = notice.incident.closed_at.is_none();
    let page = NoticePage {
        desk: state.config.incident_desk.clone(),
        ctx,
        id,
        title,
        open,
        lookup: open && notice.incident.people > 0,
        message,
        typed,
        entries,
    };
    Ok(Html(page.render()?).into_response())
}
