//! Incidents: the owner declares one (what happened, when it was found, the window in which
//! data may have been taken, the cause so far, the kinds of data, whether the keys may be
//! exposed), publishes dated entries on its public notice page in Japanese and English, and
//! closes it. The report clocks of the Personal Information Protection Commission run from the
//! moment it was found. The shop can also be put into maintenance: ordering closes, while the
//! notice, the mail-check page and the desk stay open.
//!
//! Every step is audited. The banner and the maintenance switch are read from the store by
//! every node ([`Incidents::refresh`], every few seconds) and kept in memory for each request.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use kura_domain::Date;

use crate::audit::{Actor, Audit, AuditDetail};
use crate::clock::Clock;
use crate::error::AppError;
use crate::ports::Store;
use crate::records::{IncidentEntryRecord, IncidentRecord};
use crate::staff::{Permission, StaffSession};

/// The kinds of personal data an incident may touch, as the notice and the report name them.
pub const CATEGORIES: &[&str] = &[
    "name",
    "address",
    "phone",
    "email",
    "birth_date",
    "order_history",
    "password_hash",
];

/// A category's name for notices, mails and letters (`lang` `en` or else Japanese).
pub fn category_label(category: &str, lang: &str) -> &'static str {
    let en = lang == "en";
    match category {
        "name" if en => "Name",
        "name" => "氏名",
        "address" if en => "Postal address",
        "address" => "住所",
        "phone" if en => "Phone number",
        "phone" => "電話番号",
        "email" if en => "Email address",
        "email" => "メールアドレス",
        "birth_date" if en => "Date of birth",
        "birth_date" => "生年月日",
        "order_history" if en => "Order history",
        "order_history" => "ご注文履歴",
        "password_hash" if en => "Password (stored hashed)",
        "password_hash" => "パスワード（ハッシュ値）",
        _ if en => "Other",
        _ => "その他",
    }
}

/// The kinds of notice entries: the first report, an update, a warning about forged mail in
/// the shop's name, and the closing report.
pub const ENTRY_KINDS: &[&str] = &["first", "update", "forged_mail", "closed"];

/// The setting that holds the maintenance switch.
const MAINTENANCE_SETTING: &str = "maintenance";

const DAY: i64 = 86_400;

/// What the owner types to declare an incident (times as `YYYY-MM-DDTHH:MM`, Japan time).
#[derive(Debug, Clone, Default)]
pub struct IncidentDraft {
    pub title: String,
    pub discovered_at: String,
    pub window_start: String,
    pub window_end: String,
    pub cause: String,
    pub categories: Vec<String>,
    pub keys_exposed: bool,
    pub attack: bool,
}

/// What is wrong with a draft; each names the translation key of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftProblem {
    Title,
    Discovered,
    Window,
    Cause,
    Categories,
}

impl DraftProblem {
    pub fn key(self) -> &'static str {
        match self {
            Self::Title => "admin.incidents.bad_title",
            Self::Discovered => "admin.incidents.bad_discovered",
            Self::Window => "admin.incidents.bad_window",
            Self::Cause => "admin.incidents.bad_cause",
            Self::Categories => "admin.incidents.bad_categories",
        }
    }
}

/// A notice entry as the owner writes it, in both languages.
#[derive(Debug, Clone, Default)]
pub struct EntryDraft {
    pub kind: String,
    pub title_ja: String,
    pub body_ja: String,
    pub title_en: String,
    pub body_en: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryProblem {
    Missing,
    Kind,
    Title,
    Body,
}

impl EntryProblem {
    pub fn key(self) -> &'static str {
        match self {
            Self::Missing => "admin.incidents.missing",
            Self::Kind => "admin.incidents.bad_kind",
            Self::Title => "admin.incidents.bad_entry_title",
            Self::Body => "admin.incidents.bad_entry_body",
        }
    }
}

/// When the reports to the Personal Information Protection Commission are due: the
/// preliminary report promptly (the Commission's guidelines: about three to five days from
/// learning of it), the final one within 30 days, or 60 when the leak came from an act done
/// for an unlawful purpose such as an attack (APPI enforcement rules, Art. 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clocks {
    pub preliminary_due: i64,
    pub final_due: i64,
}

pub fn clocks(incident: &IncidentRecord) -> Clocks {
    Clocks {
        preliminary_due: incident.discovered_at + 5 * DAY,
        final_due: incident.discovered_at + if incident.attack { 60 } else { 30 } * DAY,
    }
}

/// An incident as the public notice page shows it: its entries, oldest first.
#[derive(Debug, Clone)]
pub struct PublicNotice {
    pub incident: IncidentRecord,
    pub entries: Vec<IncidentEntryRecord>,
}

/// The notice every page links to while an incident with published entries is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub incident_id: i64,
    pub title_ja: String,
    pub title_en: String,
}

#[derive(Default)]
struct Shown {
    maintenance: bool,
    banner: Option<Banner>,
}

pub struct Incidents {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) audit: Arc<Audit>,
    pub(crate) clock: Arc<dyn Clock>,
    shown: RwLock<Shown>,
    /// What finding and notifying the affected people needs (absent: scoping is refused).
    pub(crate) people: Option<crate::incident_people::PeopleParts>,
    /// Incidents whose notices this node is sending now.
    pub(crate) sending: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// When each address or number (by blind index) last got a lookup answer (this node).
    pub(crate) lookups: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

fn clean(text: &str, max_chars: usize, multiline: bool) -> Option<String> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.chars().count() <= max_chars
        && !text
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')));
    ok.then(|| text.replace("\r\n", "\n"))
}

impl Incidents {
    pub fn new(store: Arc<dyn Store>, audit: Arc<Audit>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            audit,
            clock,
            shown: RwLock::default(),
            people: None,
            sending: std::sync::Mutex::default(),
            lookups: std::sync::Mutex::default(),
        }
    }

    /// Lets the incidents find and notify the people they touched.
    pub fn with_people(mut self, parts: crate::incident_people::PeopleParts) -> Self {
        self.people = Some(parts);
        self
    }

    /// Reads the maintenance switch and the banner from the store (every node, every few
    /// seconds, and right after this node changed either).
    pub async fn refresh(&self) -> Result<(), AppError> {
        let maintenance = self.store.setting(MAINTENANCE_SETTING).await?.as_deref() == Some("on");
        let mut banner = None;
        for incident in self.store.incidents().await? {
            if incident.closed_at.is_some() {
                continue;
            }
            if let Some(first) = self.store.incident_entries(incident.id).await?.first() {
                banner = Some(Banner {
                    incident_id: incident.id,
                    title_ja: first.title_ja.clone(),
                    title_en: first.title_en.clone(),
                });
                break;
            }
        }
        let mut shown = self.shown.write().unwrap_or_else(PoisonError::into_inner);
        shown.maintenance = maintenance;
        shown.banner = banner;
        Ok(())
    }

    /// Whether ordering is closed.
    pub fn maintenance(&self) -> bool {
        self.shown
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .maintenance
    }

    /// The open incident every page links to, if one has a published notice.
    pub fn banner(&self) -> Option<Banner> {
        self.shown
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .banner
            .clone()
    }

    /// Opens or closes ordering (the CLI's `kura maintenance`, or the owner's switch).
    pub async fn set_maintenance(&self, actor: &Actor, on: bool) -> Result<(), AppError> {
        self.audit
            .record(
                actor,
                if on {
                    "shop.maintenance_on"
                } else {
                    "shop.maintenance_off"
                },
                "shop",
                "",
                AuditDetail::default(),
            )
            .await?;
        self.store
            .set_setting(
                MAINTENANCE_SETTING,
                if on { "on" } else { "off" },
                self.clock.now(),
            )
            .await?;
        tracing::warn!(target: "kura::incidents", on, "maintenance switched");
        self.refresh().await
    }

    pub(crate) fn allowed(session: &StaffSession) -> Result<(), AppError> {
        if session.can(Permission::Incidents) {
            Ok(())
        } else {
            Err(AppError::Task("incident work without permission".into()))
        }
    }

    /// Declares an incident. `Ok(Err(..))`: the draft has a problem (nothing is stored).
    pub async fn declare(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        draft: &IncidentDraft,
    ) -> Result<Result<i64, DraftProblem>, AppError> {
        Self::allowed(session)?;
        let now = self.clock.now();
        let Some(title) = clean(&draft.title, 120, false) else {
            return Ok(Err(DraftProblem::Title));
        };
        let Some(discovered_at) =
            Date::parse_japan_minute(&draft.discovered_at).filter(|t| *t <= now + 60)
        else {
            return Ok(Err(DraftProblem::Discovered));
        };
        let (Some(window_start), Some(window_end)) = (
            Date::parse_japan_minute(&draft.window_start),
            Date::parse_japan_minute(&draft.window_end),
        ) else {
            return Ok(Err(DraftProblem::Window));
        };
        if window_start > window_end || window_start > now {
            return Ok(Err(DraftProblem::Window));
        }
        let Some(cause) = clean(&draft.cause, 4000, true) else {
            return Ok(Err(DraftProblem::Cause));
        };
        let mut categories: Vec<String> = CATEGORIES
            .iter()
            .filter(|c| draft.categories.iter().any(|d| d == *c))
            .map(|c| (*c).to_string())
            .collect();
        categories.dedup();
        if categories.is_empty()
            || draft
                .categories
                .iter()
                .any(|d| !CATEGORIES.contains(&d.as_str()))
        {
            return Ok(Err(DraftProblem::Categories));
        }
        let record = IncidentRecord {
            id: crate::ids::new_id(),
            title,
            discovered_at,
            window_start,
            window_end,
            cause,
            categories,
            keys_exposed: draft.keys_exposed,
            attack: draft.attack,
            declared_by: session.member.id,
            declared_at: now,
            closed_at: None,
            campaign_started_at: None,
            people: 0,
        };
        self.audit
            .record(
                &session.actor(ip),
                "incident.declare",
                &format!("incident:{}", record.id),
                &record.categories.join(","),
                AuditDetail::default(),
            )
            .await?;
        self.store.insert_incident(&record).await?;
        tracing::warn!(target: "kura::incidents", incident = record.id, keys_exposed = record.keys_exposed, "an incident was declared");
        Ok(Ok(record.id))
    }

    /// Publishes a dated entry on an incident's public notice page.
    pub async fn publish(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
        draft: &EntryDraft,
    ) -> Result<Result<(), EntryProblem>, AppError> {
        Self::allowed(session)?;
        if self.store.incident(incident_id).await?.is_none() {
            return Ok(Err(EntryProblem::Missing));
        }
        if !ENTRY_KINDS.contains(&draft.kind.as_str()) {
            return Ok(Err(EntryProblem::Kind));
        }
        let (Some(title_ja), Some(title_en)) = (
            clean(&draft.title_ja, 120, false),
            clean(&draft.title_en, 120, false),
        ) else {
            return Ok(Err(EntryProblem::Title));
        };
        let (Some(body_ja), Some(body_en)) = (
            clean(&draft.body_ja, 8000, true),
            clean(&draft.body_en, 8000, true),
        ) else {
            return Ok(Err(EntryProblem::Body));
        };
        let entry = IncidentEntryRecord {
            id: crate::ids::new_id(),
            incident_id,
            kind: draft.kind.clone(),
            title_ja,
            body_ja,
            title_en,
            body_en,
            published_at: self.clock.now(),
            staff_id: session.member.id,
        };
        self.audit
            .record(
                &session.actor(ip),
                "incident.publish",
                &format!("incident:{incident_id}"),
                &entry.kind,
                AuditDetail::default(),
            )
            .await?;
        self.store.insert_incident_entry(&entry).await?;
        self.refresh().await?;
        Ok(Ok(()))
    }

    /// Closes an incident (its notice stays published). `false`: it was not open.
    pub async fn close(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
    ) -> Result<bool, AppError> {
        Self::allowed(session)?;
        let closed = self
            .store
            .close_incident(incident_id, self.clock.now())
            .await?;
        if closed {
            self.audit
                .record(
                    &session.actor(ip),
                    "incident.close",
                    &format!("incident:{incident_id}"),
                    "",
                    AuditDetail::default(),
                )
                .await?;
            self.refresh().await?;
        }
        Ok(closed)
    }

    /// Every incident, the latest first (for the back office).
    pub async fn list(&self, session: &StaffSession) -> Result<Vec<IncidentRecord>, AppError> {
        Self::allowed(session)?;
        Ok(self.store.incidents().await?)
    }

    /// One incident with its entries (for the back office).
    pub async fn get(
        &self,
        session: &StaffSession,
        id: i64,
    ) -> Result<Option<PublicNotice>, AppError> {
        Self::allowed(session)?;
        let Some(incident) = self.store.incident(id).await? else {
            return Ok(None);
        };
        let entries = self.store.incident_entries(id).await?;
        Ok(Some(PublicNotice { incident, entries }))
    }

    /// The incidents with a published notice, the latest first (for the public page).
    pub async fn published(&self) -> Result<Vec<PublicNotice>, AppError> {
        let mut out = Vec::new();
        for incident in self.store.incidents().await? {
            let entries = self.store.incident_entries(incident.id).await?;
            if !entries.is_empty() {
                out.push(PublicNotice { incident, entries });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(discovered_at: i64, attack: bool) -> IncidentRecord {
        IncidentRecord {
            id: 1,
            title: "t".into(),
            discovered_at,
            window_start: 0,
            window_end: 0,
            cause: "c".into(),
            categories: vec!["email".into()],
            keys_exposed: false,
            attack,
            declared_by: 1,
            declared_at: discovered_at,
            closed_at: None,
            campaign_started_at: None,
            people: 0,
        }
    }

    #[test]
    fn the_final_report_is_due_in_sixty_days_after_an_attack_and_thirty_otherwise() {
        let found = Date::parse_japan_minute("2026-12-01T10:00").unwrap();
        let c = clocks(&incident(found, true));
        assert_eq!(Date::japan_minute(c.preliminary_due), "2026-12-06 10:00");
        assert_eq!(Date::japan_minute(c.final_due), "2027-01-30 10:00");
        let c = clocks(&incident(found, false));
        assert_eq!(Date::japan_minute(c.final_due), "2026-12-31 10:00");
    }

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(clean("  a  ", 10, false).as_deref(), Some("a"));
        assert_eq!(clean("", 10, false), None);
        assert_eq!(clean("a\nb", 10, false), None);
        assert_eq!(clean("a\r\nb", 10, true).as_deref(), Some("a\nb"));
        assert_eq!(clean("a\u{0}b", 10, true), None);
        assert_eq!(clean(&"x".repeat(11), 10, true), None);
    }
}
