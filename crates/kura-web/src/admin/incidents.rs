//! Incidents in the back office (the owner): declare one, see its report clocks, publish dated
//! entries on its public notice page in Japanese and English, close it; and the maintenance
//! switch that closes ordering while the notice, the mail-check page and the desk stay open.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kura_app::incidents::{CATEGORIES, ENTRY_KINDS, EntryDraft, IncidentDraft, clocks};
use kura_app::records::IncidentRecord;
use kura_domain::Date;

use super::pages::minute;
use super::{AdminContext, Staff, status_page};
use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::form::FormFields;

struct Row {
    id: i64,
    title: String,
    discovered: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "admin/incidents.html")]
struct ListView {
    ctx: AdminContext,
    message: Option<String>,
    maintenance: bool,
    incidents: Vec<Row>,
    /// Each category and whether the form has it ticked.
    categories: Vec<(&'static str, bool)>,
    /// The declare form as typed (shown again after a problem).
    draft: IncidentDraft,
}

struct EntryRow {
    kind: String,
    at: String,
    title_ja: String,
    title_en: String,
}

#[derive(Template)]
#[template(path = "admin/incident.html")]
struct DetailView {
    ctx: AdminContext,
    message: Option<String>,
    incident: IncidentRecord,
    discovered: String,
    window: String,
    preliminary_due: String,
    final_due: String,
    /// Whole days left until each clock runs out (negative: overdue).
    preliminary_left: i64,
    final_left: i64,
    entries: Vec<EntryRow>,
    kinds: &'static [&'static str],
    draft: EntryDraft,
}

async fn list_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    status: StatusCode,
    message: Option<String>,
    draft: IncidentDraft,
) -> Result<Response, WebError> {
    let incidents = state
        .incidents
        .list(session)
        .await?
        .into_iter()
        .map(|i| Row {
            id: i.id,
            title: i.title,
            discovered: minute(i.discovered_at),
            open: i.closed_at.is_none(),
        })
        .collect();
    let html = ListView {
        ctx,
        message,
        maintenance: state.incidents.maintenance(),
        incidents,
        categories: CATEGORIES
            .iter()
            .map(|c| (*c, draft.categories.iter().any(|d| d == c)))
            .collect(),
        draft,
    }
    .render()?;
    Ok(status_page(status, html))
}

pub async fn incidents_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
) -> Result<Response, WebError> {
    let draft = IncidentDraft {
        discovered_at: datetime_local(state.clock.now()),
        ..Default::default()
    };
    list_page(&state, ctx, &session, StatusCode::OK, None, draft).await
}

/// `YYYY-MM-DDTHH:MM` in Japan, as a `datetime-local` field shows it.
fn datetime_local(unix: i64) -> String {
    Date::japan_minute(unix).replace(' ', "T")
}

pub async fn incident_declare_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    body: Bytes,
) -> Result<Response, WebError> {
    let f = FormFields::parse(&body);
    let draft = IncidentDraft {
        title: f.get("title").to_string(),
        discovered_at: f.get("discovered_at").to_string(),
        window_start: f.get("window_start").to_string(),
        window_end: f.get("window_end").to_string(),
        cause: f.get("cause").to_string(),
        categories: f
            .names()
            .filter_map(|n| n.strip_prefix("cat_"))
            .map(str::to_string)
            .collect(),
        keys_exposed: f.get("keys_exposed") == "yes",
        attack: f.get("attack") == "on",
    };
    match state.incidents.declare(&session, ctx.ip, &draft).await? {
        Ok(id) => Ok(Redirect::to(&ctx.href(&format!("/incidents/{id}"))).into_response()),
        Err(problem) => {
            let m = Some(ctx.tr.t(problem.key()).to_string());
            list_page(
                &state,
                ctx,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
                draft,
            )
            .await
        }
    }
}

async fn detail_page(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    id: i64,
    status: StatusCode,
    message: Option<String>,
    draft: EntryDraft,
) -> Result<Response, WebError> {
    let Some(notice) = state.incidents.get(session, id).await? else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let now = state.clock.now();
    let c = clocks(&notice.incident);
    let days_left = |due: i64| (due - now).div_euclid(86_400);
    let html = DetailView {
        message,
        discovered: minute(notice.incident.discovered_at),
        window: format!(
            "{} – {}",
            minute(notice.incident.window_start),
            minute(notice.incident.window_end)
        ),
        preliminary_due: minute(c.preliminary_due),
        final_due: minute(c.final_due),
        preliminary_left: days_left(c.preliminary_due),
        final_left: days_left(c.final_due),
        entries: notice
            .entries
            .iter()
            .rev()
            .map(|e| EntryRow {
                kind: e.kind.clone(),
                at: minute(e.published_at),
                title_ja: e.title_ja.clone(),
                title_en: e.title_en.clone(),
            })
            .collect(),
        kinds: ENTRY_KINDS,
        draft,
        incident: notice.incident,
        ctx,
    }
    .render()?;
    Ok(status_page(status, html))
}

fn incident_id(raw: &str) -> Result<i64, WebError> {
    raw.parse().map_err(|_| WebError::new(ErrorKind::NotFound))
}

pub async fn incident_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let draft = EntryDraft {
        kind: "first".into(),
        ..Default::default()
    };
    detail_page(&state, ctx, &session, id, StatusCode::OK, None, draft).await
}

pub async fn incident_entry_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let f = FormFields::parse(&body);
    let draft = EntryDraft {
        kind: f.get("kind").to_string(),
        title_ja: f.get("title_ja").to_string(),
        body_ja: f.get("body_ja").to_string(),
        title_en: f.get("title_en").to_string(),
        body_en: f.get("body_en").to_string(),
    };
    match state
        .incidents
        .publish(&session, ctx.ip, id, &draft)
        .await?
    {
        Ok(()) => {
            let m = Some(ctx.tr.t("admin.incidents.published").to_string());
            let fresh = EntryDraft {
                kind: "update".into(),
                ..Default::default()
            };
            detail_page(&state, ctx, &session, id, StatusCode::OK, m, fresh).await
        }
        Err(problem) => {
            let m = Some(ctx.tr.t(problem.key()).to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            detail_page(&state, ctx, &session, id, status, m, draft).await
        }
    }
}

pub async fn incident_close_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let closed = state.incidents.close(&session, ctx.ip, id).await?;
    let key = if closed {
        "admin.incidents.closed_done"
    } else {
        "admin.incidents.closed_already"
    };
    let m = Some(ctx.tr.t(key).to_string());
    let draft = EntryDraft {
        kind: "closed".into(),
        ..Default::default()
    };
    detail_page(&state, ctx, &session, id, StatusCode::OK, m, draft).await
}

pub async fn maintenance_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    body: Bytes,
) -> Result<Response, WebError> {
    let f = FormFields::parse(&body);
    let on = match f.get("maintenance") {
        "on" => true,
        "off" => false,
        _ => return Err(WebError::new(ErrorKind::BadRequest)),
    };
    state
        .incidents
        .set_maintenance(&session.actor(ctx.ip), on)
        .await?;
    let key = if on {
        "admin.maintenance.now_on"
    } else {
        "admin.maintenance.now_off"
    };
    let m = Some(ctx.tr.t(key).to_string());
    let draft = IncidentDraft {
        discovered_at: datetime_local(state.clock.now()),
        ..Default::default()
    };
    list_page(&state, ctx, &session, StatusCode::OK, m, draft).await
}
