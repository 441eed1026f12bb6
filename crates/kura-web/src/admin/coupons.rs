//! The back office's coupon page: the list of codes with their kind, value, period, minimum,
//! uses and state; the form that creates one; the button that disables or enables one.
//!
//! Each handler runs behind [`super::guard`] with [`Permission::Catalog`] (the roles that may
//! edit the catalog set prices, so they set discounts too). A refused form comes back with
//! everything typed and each problem next to its field in the staff member's language (from
//! the stable codes of `kura_app::coupons`). Every change is audited by `kura_app::coupons`.
//!
//! [`Permission::Catalog`]: kura_app::staff::Permission::Catalog

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kura_app::coupons::{CouponInput, Problem};
use kura_domain::{Date, Discount};
use serde::Deserialize;

use super::{AdminContext, Staff};
use crate::AppState;
use crate::error::WebError;
use crate::i18n::Tr;

struct CouponRow {
    id: i64,
    code: String,
    kind: String,
    value: String,
    period: String,
    minimum: String,
    uses: u64,
    active: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct CouponForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    minimum: String,
}

#[derive(Template)]
#[template(path = "admin/coupons.html")]
struct CouponsView {
    ctx: AdminContext,
    coupons: Vec<CouponRow>,
    form: CouponForm,
    problems: Vec<(String, String)>,
    message: Option<String>,
}

impl CouponsView {
    fn error(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// A refused field's message: `admin.coupon.error.{code}`, naming the field by its label.
fn problem_message(tr: Tr, p: &Problem) -> (String, String) {
    let key = format!("admin.coupon.field.{}", p.field);
    let label = tr.t(&key);
    (
        p.field.to_string(),
        tr.t(&format!("admin.coupon.error.{}", p.code))
            .replace("{field}", label),
    )
}

async fn page(
    state: &AppState,
    ctx: AdminContext,
    status: StatusCode,
    message: Option<String>,
    form: CouponForm,
    problems: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let en = tr.lang() == "en";
    let label = |d: Date| if en { d.label_en() } else { d.label_ja() };
    let coupons = state
        .coupons
        .list()
        .await?
        .into_iter()
        .map(|l| {
            let c = &l.record.coupon;
            CouponRow {
                id: l.record.id,
                code: c.code.to_string(),
                kind: tr
                    .t(&format!("admin.coupon.kind.{}", c.discount.kind()))
                    .to_string(),
                value: match c.discount {
                    Discount::Amount(y) => format!("¥{}", y.grouped()),
                    Discount::Percent(p) => format!("{p}%"),
                },
                period: format!("{} – {}", label(c.starts_on), label(c.ends_on)),
                minimum: if c.minimum.0 == 0 {
                    tr.t("admin.coupon.no_minimum").to_string()
                } else {
                    format!("¥{}", c.minimum.grouped())
                },
                uses: l.uses,
                active: c.active,
            }
        })
        .collect();
    let view = CouponsView {
        ctx,
        coupons,
        form,
        problems,
        message,
    };
    Ok((status, Html(view.render()?)).into_response())
}

pub async fn coupons_get(
    State(state): State<AppState>,
    ctx: AdminContext,
) -> Result<Response, WebError> {
    let form = CouponForm {
        kind: "amount".into(),
        ..CouponForm::default()
    };
    page(&state, ctx, StatusCode::OK, None, form, Vec::new()).await
}

/// Creates a coupon; a refused form comes back as typed with each problem named.
pub async fn coupons_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Form(form): Form<CouponForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let input = CouponInput {
        code: form.code.clone(),
        kind: form.kind.clone(),
        value: form.value.clone(),
        starts_on: form.starts_on.clone(),
        ends_on: form.ends_on.clone(),
        minimum: form.minimum.clone(),
    };
    match state.coupons.create(&session, ctx.ip, &input).await? {
        Ok(record) => {
            let m = tr
                .t("admin.coupon.created")
                .replace("{code}", record.coupon.code.as_str());
            let fresh = CouponForm {
                kind: "amount".into(),
                ..CouponForm::default()
            };
            page(&state, ctx, StatusCode::OK, Some(m), fresh, Vec::new()).await
        }
        Err(problems) => {
            let problems = problems.iter().map(|p| problem_message(tr, p)).collect();
            page(
                &state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form,
                problems,
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ActiveForm {
    /// "1" to enable, anything else to disable.
    #[serde(default)]
    active: String,
}

/// Disables or enables a coupon.
pub async fn coupon_active_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<ActiveForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let active = form.active == "1";
    let changed = state
        .coupons
        .set_active(&session, ctx.ip, id, active)
        .await?;
    let (status, key) = match (changed, active) {
        (false, _) => (StatusCode::NOT_FOUND, "admin.coupon.unknown"),
        (true, true) => (StatusCode::OK, "admin.coupon.enabled"),
        (true, false) => (StatusCode::OK, "admin.coupon.disabled"),
    };
    let form = CouponForm {
        kind: "amount".into(),
        ..CouponForm::default()
    };
    let m = tr.t(key).to_string();
    page(&state, ctx, status, Some(m), form, Vec::new()).await
}
