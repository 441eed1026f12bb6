//! The pages every Japanese shop has: the privacy policy, the terms of use, the FAQ, and what
//! the home page shows about shipping (the business-day calendar and the fee table), all made
//! from the same facts the shop acts on (the calendar, the fee table, the retention periods,
//! the seller's notice).

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use kura_domain::calendar::{Closed, closed, earliest_delivery_to};
use kura_domain::{Date, Prefecture, Yen, shipping_fee};

use crate::AppState;
use crate::config::LegalNotice;
use crate::error::WebError;
use crate::i18n::{Lang, Tr};
use crate::pages::PageContext;

/// One day of the calendar.
pub struct DayCell {
    pub day: u32,
    /// No shipping that day; with the reason as a title (a holiday's name).
    pub closed: bool,
    pub reason: String,
    pub today: bool,
}

/// A month of the calendar, in weeks from Sunday.
pub struct MonthView {
    pub title: String,
    pub weeks: Vec<Vec<Option<DayCell>>>,
}

/// The current and the next month, with closed days marked.
pub fn calendar(tr: Tr, today: Date) -> Vec<MonthView> {
    let mut out = Vec::new();
    let mut first = Date { day: 1, ..today };
    for _ in 0..2 {
        let title = if tr.0 == Lang::En {
            const M: [&str; 12] = [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ];
            format!(
                "{} {}",
                M.get(first.month.saturating_sub(1) as usize)
                    .copied()
                    .unwrap_or(""),
                first.year
            )
        } else {
            format!("{}年{}月", first.year, first.month)
        };
        let mut weeks = Vec::new();
        let mut week: Vec<Option<DayCell>> = (0..first.weekday()).map(|_| None).collect();
        let mut d = first;
        while d.month == first.month {
            let why = closed(d);
            week.push(Some(DayCell {
                day: d.day,
                closed: why.is_some(),
                reason: match why {
                    Some(Closed::Holiday(ja, en)) => if tr.0 == Lang::En { en } else { ja }.into(),
                    Some(Closed::YearEnd) => tr.t("calendar.year_end").into(),
                    Some(Closed::Weekend) | None => String::new(),
                },
                today: d == today,
            }));
            if week.len() == 7 {
                weeks.push(std::mem::take(&mut week));
            }
            d = d.add_days(1);
        }
        if !week.is_empty() {
            while week.len() < 7 {
                week.push(None);
            }
            weeks.push(week);
        }
        out.push(MonthView { title, weeks });
        first = d;
    }
    out
}

/// The shipping fee table as the shop charges it: (region, fee) and the free-shipping mark.
pub fn shipping_fees(tr: Tr) -> (Vec<(&'static str, String)>, String) {
    let fee = |code: u8| {
        Prefecture::try_from(code)
            .map(|p| shipping_fee(p, Yen(0)).grouped())
            .unwrap_or_default()
    };
    let rows = vec![
        (tr.t("shipping.region.central"), fee(13)),
        (tr.t("shipping.region.tohoku_west"), fee(4)),
        (tr.t("shipping.region.kyushu"), fee(40)),
        (tr.t("shipping.region.hokkaido"), fee(1)),
        (tr.t("shipping.region.okinawa"), fee(47)),
    ];
    // The smallest goods total that ships free, found from the fee rule itself.
    let tokyo = Prefecture::try_from(13).ok();
    let free = (1..=1_000)
        .map(|n| Yen(n * 1_000))
        .find(|&g| tokyo.is_some_and(|p| shipping_fee(p, g) == Yen::ZERO))
        .map(Yen::grouped)
        .unwrap_or_default();
    (rows, free)
}

#[derive(Template)]
#[template(path = "pages/privacy.html")]
struct PrivacyPage<'a> {
    ctx: PageContext,
    legal: &'a LegalNotice,
    personal_years: u32,
    accounting_years: u32,
}

fn legal_of(state: &AppState, tr: Tr) -> &LegalNotice {
    if tr.0 == Lang::En {
        &state.config.legal_en
    } else {
        &state.config.legal
    }
}

pub async fn privacy_get(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, WebError> {
    let (personal_years, accounting_years) = state.retention.periods().await?;
    let legal = legal_of(&state, ctx.tr);
    Ok(Html(
        PrivacyPage {
            ctx,
            legal,
            personal_years,
            accounting_years,
        }
        .render()?,
    ))
}

#[derive(Template)]
#[template(path = "pages/terms.html")]
struct TermsPage<'a> {
    ctx: PageContext,
    legal: &'a LegalNotice,
}

pub async fn terms_get(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, WebError> {
    let legal = legal_of(&state, ctx.tr);
    Ok(Html(TermsPage { ctx, legal }.render()?))
}

#[derive(Template)]
#[template(path = "pages/faq.html")]
struct FaqPage<'a> {
    ctx: PageContext,
    legal: &'a LegalNotice,
    fees: Vec<(&'static str, String)>,
    free_from: String,
}

pub async fn faq_get(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, WebError> {
    let legal = legal_of(&state, ctx.tr);
    let (fees, free_from) = shipping_fees(ctx.tr);
    Ok(Html(
        FaqPage {
            ctx,
            legal,
            fees,
            free_from,
        }
        .render()?,
    ))
}

/// What the home page says about shipping today.
pub struct ShippingToday {
    pub months: Vec<MonthView>,
    pub fees: Vec<(&'static str, String)>,
    pub free_from: String,
    /// The earliest delivery for an order placed now (most of Japan).
    pub earliest: String,
}

pub fn shipping_today(state: &AppState, tr: Tr) -> ShippingToday {
    let today = Date::today_in_japan(state.clock.now());
    let (fees, free_from) = shipping_fees(tr);
    let earliest = Prefecture::try_from(13)
        .map(|p| earliest_delivery_to(today, p))
        .map(|d| {
            if tr.0 == Lang::En {
                d.label_en()
            } else {
                d.label_ja()
            }
        })
        .unwrap_or_default();
    ShippingToday {
        months: calendar(tr, today),
        fees,
        free_from,
        earliest,
    }
}
