//! Incidents in the back office (the owner): declare one, see its report clocks, publish dated
//! entries on its public notice page in Japanese and English, close it; and the maintenance
//! switch that closes ordering while the notice, the mail-check page and the desk stay open.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kura_app::incident_people::{ScopeBasis, Tally};
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
    /// Counts over the people found (after scoping).
    tally: Tally,
    /// Whole percent of the mail campaign done.
    progress: i64,
    sending: bool,
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
    let tally = state.incidents.tally(&notice.incident).await?;
    let progress = if tally.to_mail > 0 {
        tally.mail_done * 100 / tally.to_mail
    } else {
        0
    };
    let html = DetailView {
        tally,
        progress,
        sending: state.incidents.is_sending(id),
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

/// The incident page again after one of its actions, saying what the action did, with an empty
/// update entry ready.
async fn after_action(
    state: &AppState,
    ctx: AdminContext,
    session: &kura_app::staff::StaffSession,
    id: i64,
    message: String,
) -> Result<Response, WebError> {
    let draft = EntryDraft {
        kind: "update".into(),
        ..Default::default()
    };
    detail_page(
        state,
        ctx,
        session,
        id,
        StatusCode::OK,
        Some(message),
        draft,
    )
    .await
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

/// Finds the people an incident touched (the window, the audit log's reads, and a list handed
/// in by outsiders, matched through the blind index).
pub async fn incident_scope_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let f = FormFields::parse(&body);
    let basis = match f.get("basis") {
        "activity" => ScopeBasis::Activity,
        _ => ScopeBasis::Present,
    };
    let m = match state
        .incidents
        .scope(&session, ctx.ip, id, basis, f.get("list"))
        .await?
    {
        Ok(r) => ctx
            .tr
            .t("admin.incidents.scoped")
            .replace("{n}", &r.people.to_string())
            .replace("{lines}", &r.list_lines.to_string())
            .replace("{unmatched}", &r.list_unmatched.to_string())
            .replace("{reads}", &r.read_targets.to_string()),
        Err(problem) => ctx.tr.t(problem.key()).to_string(),
    };
    after_action(&state, ctx, &session, id, m).await
}

/// Starts the notice mails; they are sent in the background (and resumed after a restart).
pub async fn incident_notify_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let m = match state.incidents.start_notices(&session, ctx.ip, id).await? {
        Ok(()) => {
            let s = state.clone();
            tokio::spawn(async move {
                if let Err(e) = s.incidents.send_notices(id).await {
                    tracing::warn!(target: "kura::incidents", incident = id, error = %e, "incident notices not sent");
                }
            });
            ctx.tr.t("admin.incidents.notify_started").to_string()
        }
        Err(problem) => ctx.tr.t(problem.key()).to_string(),
    };
    after_action(&state, ctx, &session, id, m).await
}

/// Asks for the postal list (CSV) or its letters (PDF); a second person approves it on the
/// exports page, where the one who asked then downloads it.
pub async fn incident_postal_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let f = FormFields::parse(&body);
    let letters = f.get("format") == "letters";
    let m = match state
        .backoffice
        .request_postal_export(&session, ctx.ip, id, letters, f.get("reason"))
        .await?
    {
        Ok(_) => ctx.tr.t("admin.incidents.postal_requested").to_string(),
        Err(kura_app::exports::ExportRefusal::NeedsReason) => {
            ctx.tr.t("admin.exports.needs_reason").to_string()
        }
        Err(_) => ctx.tr.t("admin.incidents.missing").to_string(),
    };
    after_action(&state, ctx, &session, id, m).await
}

/// Records that the letters went out.
pub async fn incident_posted_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let n = state.incidents.mark_posted(&session, ctx.ip, id).await?;
    let m = ctx
        .tr
        .t("admin.incidents.posted_done")
        .replace("{n}", &n.to_string());
    after_action(&state, ctx, &session, id, m).await
}

#[derive(Template)]
#[template(path = "admin/incident_report.html")]
struct ReportView {
    ctx: AdminContext,
    incident: IncidentRecord,
    discovered: String,
    window: String,
    preliminary_due: String,
    final_due: String,
    overview: String,
    tally: Tally,
    entries: Vec<EntryRow>,
    forged: Vec<EntryRow>,
    evidence: kura_app::incident_people::KeyEvidence,
    newest_key: String,
    maintenance: bool,
}

/// The report to the Personal Information Protection Commission, drafted from the incident:
/// its nine items, the two clocks, and the evidence for the strong-encryption carve-out.
pub async fn incident_report_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let Some(notice) = state.incidents.get(&session, id).await? else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let c = clocks(&notice.incident);
    let tally = state.incidents.tally(&notice.incident).await?;
    let evidence = state
        .incidents
        .key_evidence(&session, &notice.incident)
        .await?;
    let rows = |kind: Option<&str>| -> Vec<EntryRow> {
        notice
            .entries
            .iter()
            .filter(|e| kind.is_none_or(|k| e.kind == k))
            .map(|e| EntryRow {
                kind: e.kind.clone(),
                at: minute(e.published_at),
                title_ja: e.title_ja.clone(),
                title_en: e.title_en.clone(),
            })
            .collect()
    };
    let html = ReportView {
        discovered: minute(notice.incident.discovered_at),
        window: format!(
            "{} – {}",
            minute(notice.incident.window_start),
            minute(notice.incident.window_end)
        ),
        preliminary_due: minute(c.preliminary_due),
        final_due: minute(c.final_due),
        overview: notice
            .entries
            .first()
            .map(|e| e.body_ja.clone())
            .unwrap_or_default(),
        entries: rows(None),
        forged: rows(Some("forged_mail")),
        newest_key: evidence.newest_key_at.map(minute).unwrap_or_default(),
        evidence,
        tally,
        maintenance: state.incidents.maintenance(),
        incident: notice.incident,
        ctx,
    }
    .render()?;
    Ok(status_page(StatusCode::OK, html))
}

/// Aftercare: the affected accounts' passwords stop working, their sessions end, and each
/// gets the guidance mail.
pub async fn incident_aftercare_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, WebError> {
    let id = incident_id(&id)?;
    let m = match state.incidents.aftercare(&session, ctx.ip, id).await? {
        Some(done) => ctx
            .tr
            .t("admin.incidents.aftercare_done")
            .replace("{n}", &done.passwords_reset.to_string())
            .replace("{m}", &done.mailed.to_string()),
        None => ctx.tr.t("admin.incidents.missing").to_string(),
    };
    after_action(&state, ctx, &session, id, m).await
}

/// The files for outsiders: the card orders of the window (card companies) or the alerts and
/// audit log since the window opened (police). No names or addresses are in either.
pub async fn incident_outside_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    use axum::http::header;
    let id = incident_id(&id)?;
    let f = FormFields::parse(&body);
    let police = match f.get("for") {
        "police" => true,
        "cards" => false,
        _ => return Err(WebError::new(ErrorKind::BadRequest)),
    };
    let Some(file) = state
        .incidents
        .outside_export(&session, ctx.ip, id, police)
        .await?
    else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let mut res = file.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if let Ok(v) =
        header::HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
