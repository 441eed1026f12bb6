//! The guard's dashboard for the owner: security events of the last day as a chart drawn on the
//! server (an SVG with no script and no inline style, so the back office's CSP holds), alerts to
//! acknowledge, blocked sources to unblock, and the detectors with their thresholds. Sources
//! appear only as daily pseudonyms.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kura_app::audit::AuditDetail;
use kura_app::records::AlertRecord;
use kura_app::sealed::col;
use serde::Deserialize;

use super::pages::minute;
use super::{AdminContext, Staff, status_page};
use crate::AppState;
use crate::error::WebError;

/// Hours shown in the chart.
const HOURS: i64 = 24;

struct Bar {
    x: i64,
    y: i64,
    height: i64,
    label: String,
}

struct DetectorRow {
    id: &'static str,
    per: &'static str,
    window: i64,
    threshold: u32,
    responses: String,
}

#[derive(Template)]
#[template(path = "admin/guard.html")]
struct GuardView {
    ctx: AdminContext,
    message: Option<String>,
    bars: Vec<Bar>,
    peak: i64,
    total: i64,
    kinds: Vec<(String, i64)>,
    /// Each alert, its time, and its note (opened).
    alerts: Vec<(AlertRecord, String, String)>,
    blocks: Vec<(String, String, String)>,
    detectors: Vec<DetectorRow>,
}

async fn guard_page(
    state: &AppState,
    ctx: AdminContext,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, WebError> {
    let now = state.clock.now();
    let hour_now = now / 3600 * 3600;
    let since = hour_now - (HOURS - 1) * 3600;
    let counts = state
        .store
        .security_event_counts(since, 3600)
        .await
        .map_err(kura_app::AppError::from)?;
    let mut per_hour = vec![0i64; usize::try_from(HOURS).unwrap_or(24)];
    let mut kinds: std::collections::BTreeMap<String, i64> = Default::default();
    for (bucket, kind, n) in &counts {
        let i = usize::try_from((bucket - since) / 3600).unwrap_or(usize::MAX);
        if let Some(slot) = per_hour.get_mut(i) {
            *slot += n;
        }
        *kinds.entry(kind.clone()).or_default() += n;
    }
    let peak = per_hour.iter().copied().max().unwrap_or(0).max(1);
    let bars = per_hour
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let height = n * 100 / peak;
            let i = i64::try_from(i).unwrap_or(0);
            Bar {
                x: i * 20 + 2,
                y: 110 - height,
                height,
                label: format!("{} {n}", minute(since + i * 3600)),
            }
        })
        .collect();
    let total = per_hour.iter().sum();
    let mut kinds: Vec<(String, i64)> = kinds.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    let alerts = state
        .store
        .alerts(50)
        .await
        .map_err(kura_app::AppError::from)?
        .into_iter()
        .map(|a| {
            let at = minute(a.at);
            let note = a
                .note
                .as_ref()
                .and_then(|sealed| {
                    state
                        .vault
                        .ring_holding(sealed.key_id().unwrap_or(0))
                        .open_string(col::GUARD_ALERT_NOTE, a.id, sealed)
                        .ok()
                })
                .map(|n| n.to_string())
                .unwrap_or_default();
            (a, at, note)
        })
        .collect();
    let blocks = state
        .store
        .active_blocks(now)
        .await
        .map_err(kura_app::AppError::from)?
        .into_iter()
        .map(|b| (b.source, minute(b.until), b.detector))
        .collect();
    let detectors = state
        .guard
        .as_ref()
        .map(|g| {
            g.detectors()
                .iter()
                .map(|d| DetectorRow {
                    id: d.id,
                    per: match d.per {
                        kura_guard::Per::Source => "source",
                        kura_guard::Per::Staff => "staff",
                        kura_guard::Per::Customer => "customer",
                        kura_guard::Per::Shop => "shop",
                    },
                    window: d.window_seconds,
                    threshold: d.threshold,
                    responses: d
                        .responses
                        .iter()
                        .map(|r| match r {
                            kura_guard::Response::Alert => "alert".to_string(),
                            kura_guard::Response::Block { seconds } => format!("block {seconds} s"),
                            kura_guard::Response::CutSessions => "end sessions".to_string(),
                            kura_guard::Response::LockStaff => "suspend".to_string(),
                            kura_guard::Response::CloseCardOrders => {
                                "close card payments".to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect()
        })
        .unwrap_or_default();
    let html = GuardView {
        ctx,
        message,
        bars,
        peak,
        total,
        kinds,
        alerts,
        blocks,
        detectors,
    }
    .render()?;
    Ok(status_page(status, html))
}

pub async fn guard_get(
    State(state): State<AppState>,
    ctx: AdminContext,
) -> Result<Response, WebError> {
    guard_page(&state, ctx, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct Empty {}

#[derive(Deserialize)]
pub struct AckForm {
    #[serde(default)]
    note: String,
}

/// The longest note on an alert, in characters.
const NOTE_CHARS: usize = 500;

pub async fn alert_ack_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<AckForm>,
) -> Result<Response, WebError> {
    let note = form.note.trim();
    if note.chars().count() > NOTE_CHARS || note.chars().any(|c| c.is_control() && c != '\n') {
        let m = Some(ctx.tr.t("admin.guard.note_invalid").to_string());
        return guard_page(&state, ctx, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    }
    let sealed = if note.is_empty() {
        None
    } else {
        Some(
            state
                .vault
                .ring()
                .seal_str(col::GUARD_ALERT_NOTE, id, note)
                .map_err(WebError::internal)?,
        )
    };
    let done = state
        .store
        .acknowledge_alert(id, session.member.id, state.clock.now(), sealed.as_ref())
        .await
        .map_err(kura_app::AppError::from)?;
    if done {
        state
            .audit
            .record(
                &session.actor(ctx.ip),
                "guard.alert_ack",
                &format!("alert:{id}"),
                "",
                AuditDetail {
                    note: (!note.is_empty()).then(|| note.to_string()),
                    ..Default::default()
                },
            )
            .await?;
    }
    let key = if done {
        "admin.guard.acked"
    } else {
        "admin.guard.ack_none"
    };
    let m = Some(ctx.tr.t(key).to_string());
    guard_page(&state, ctx, StatusCode::OK, m).await
}

pub async fn unblock_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(source): Path<String>,
    Form(_): Form<Empty>,
) -> Result<Response, WebError> {
    let source: String = source.chars().take(80).collect();
    let done = state
        .store
        .delete_block(&source)
        .await
        .map_err(kura_app::AppError::from)?;
    if let Some(g) = &state.guard {
        g.unblock(&source);
    }
    if done {
        state
            .audit
            .record(
                &session.actor(ctx.ip),
                "guard.unblock",
                &format!("source:{source}"),
                "",
                AuditDetail::default(),
            )
            .await?;
    }
    let key = if done {
        "admin.guard.unblocked"
    } else {
        "admin.guard.unblock_none"
    };
    let m = Some(ctx.tr.t(key).to_string());
    guard_page(&state, ctx, StatusCode::OK, m).await
}
