//! Bulk exports of personal data (CSV), under two people's eyes: one staff member asks with a
//! stated reason, a different one approves, and only the one who asked downloads it, once,
//! within an hour of the approval. Every step is audited; the download is written to the log
//! with its row count before a byte of it is returned.
//!
//! The CSV is what Japanese spreadsheet software opens as UTF-8 (a byte-order mark first, CRLF
//! line ends). Every cell is quoted, and a cell that a spreadsheet would read as a formula
//! (`=`, `+`, `-`, `@`, tab, carriage return first) gets a leading apostrophe (OWASP CSV
//! Injection).

use std::net::IpAddr;

use crate::audit::AuditDetail;
use crate::backoffice::BackOffice;
use crate::customers::Customers;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::events::{SecurityEvent, SecurityEventKind};
use crate::records::ExportRecord;
use crate::staff::{Permission, StaffSession};

/// How long a request waits for its approval.
pub const APPROVAL_SECONDS: i64 = 24 * 3600;
/// How long an approved export may be downloaded.
pub const DOWNLOAD_SECONDS: i64 = 3600;
const PAGE: u32 = 500;

/// Why an export step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRefusal {
    /// A reason of 4 to 200 characters is needed.
    NeedsReason,
    NotFound,
    /// Approving one's own request: a second person must.
    OwnRequest,
    /// Approved already, or downloaded already.
    AlreadyDone,
    /// Not approved yet.
    NotApproved,
    /// Only the staff member who asked downloads it.
    NotRequester,
    /// The request waited too long for approval, or the download window closed.
    Expired,
}

/// Where an export stands, as the back office lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    Pending,
    Approved,
    Downloaded,
    Expired,
}

/// An export as listed: the record and its state now.
#[derive(Debug, Clone)]
pub struct ExportView {
    pub record: ExportRecord,
    pub state: ExportState,
    pub requested_by: String,
    pub approved_by: Option<String>,
}

/// A finished CSV.
pub struct CsvExport {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub rows: i64,
}

impl std::fmt::Debug for CsvExport {
    // The bytes are personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvExport")
            .field("filename", &self.filename)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

fn state_of(e: &ExportRecord, now: i64) -> ExportState {
    match (e.approved_at, e.downloaded_at) {
        (_, Some(_)) => ExportState::Downloaded,
        (Some(at), None) if now - at <= DOWNLOAD_SECONDS => ExportState::Approved,
        (None, None) if now - e.requested_at <= APPROVAL_SECONDS => ExportState::Pending,
        _ => ExportState::Expired,
    }
}

/// One CSV cell: quoted, inner quotes doubled, a formula-looking start defused.
pub fn csv_cell(value: &str) -> String {
    let risky = value
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    let mut out = String::with_capacity(value.len() + 3);
    out.push('"');
    if risky {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
    out
}

pub fn csv_line(cells: &[&str]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

impl BackOffice {
    fn check_export(&self, session: &StaffSession) -> Result<(), AppError> {
        if session.can(Permission::Export) {
            Ok(())
        } else {
            Err(AppError::Task("export without permission".into()))
        }
    }

    /// Asks for an export of every customer's contact data.
    pub async fn request_export(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        reason: &str,
    ) -> Result<Result<i64, ExportRefusal>, AppError> {
        self.request_kind(session, ip, "customers".into(), reason)
            .await
    }

    /// Asks for an incident's postal list: the names and addresses of the people only a
    /// letter can reach, as CSV for a mailing house (`letters`: as printable letters, PDF).
    /// Like every bulk export, a second person approves it.
    pub async fn request_postal_export(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
        letters: bool,
        reason: &str,
    ) -> Result<Result<i64, ExportRefusal>, AppError> {
        if !session.can(Permission::Incidents) {
            return Err(AppError::Task("postal list without permission".into()));
        }
        if self.store.incident(incident_id).await?.is_none() {
            return Ok(Err(ExportRefusal::NotFound));
        }
        let kind = format!(
            "{}:{incident_id}",
            if letters { "letters" } else { "postal" }
        );
        self.request_kind(session, ip, kind, reason).await
    }

    async fn request_kind(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        kind: String,
        reason: &str,
    ) -> Result<Result<i64, ExportRefusal>, AppError> {
        self.check_export(session)?;
        let reason = reason.trim();
        if !(4..=200).contains(&reason.chars().count()) {
            return Ok(Err(ExportRefusal::NeedsReason));
        }
        let id = crate::ids::new_id();
        self.store
            .insert_export(&ExportRecord {
                id,
                kind: kind.clone(),
                requested_by: session.member.id,
                requested_at: self.clock.now(),
                approved_by: None,
                approved_at: None,
                downloaded_at: None,
                row_count: None,
            })
            .await?;
        self.audit
            .record(
                &session.actor(ip),
                "export.requested",
                &format!("export:{id}"),
                &kind,
                AuditDetail {
                    reason: Some(reason.to_string()),
                    ..Default::default()
                },
            )
            .await?;
        let mut event =
            SecurityEvent::new(SecurityEventKind::ExportRequested).subject(session.member.id);
        event.ip = ip;
        self.events.record(event);
        Ok(Ok(id))
    }

    /// Exports of the last days, newest first.
    pub async fn exports(&self) -> Result<Vec<ExportView>, AppError> {
        let now = self.clock.now();
        let staff = self.staff.list().await?;
        let name = |id: i64| {
            staff
                .iter()
                .find(|m| m.id == id)
                .map_or_else(|| format!("#{id}"), |m| m.login.clone())
        };
        Ok(self
            .store
            .recent_exports(now - 7 * 86_400)
            .await?
            .into_iter()
            .map(|record| ExportView {
                state: state_of(&record, now),
                requested_by: name(record.requested_by),
                approved_by: record.approved_by.map(name),
                record,
            })
            .collect())
    }

    /// Approves another staff member's request.
    pub async fn approve_export(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
    ) -> Result<Result<(), ExportRefusal>, AppError> {
        self.check_export(session)?;
        let Some(e) = self.store.export(id).await? else {
            return Ok(Err(ExportRefusal::NotFound));
        };
        if e.requested_by == session.member.id {
            return Ok(Err(ExportRefusal::OwnRequest));
        }
        match state_of(&e, self.clock.now()) {
            ExportState::Pending => {}
            ExportState::Expired => return Ok(Err(ExportRefusal::Expired)),
            ExportState::Approved | ExportState::Downloaded => {
                return Ok(Err(ExportRefusal::AlreadyDone));
            }
        }
        if !self
            .store
            .approve_export(id, session.member.id, self.clock.now())
            .await?
        {
            return Ok(Err(ExportRefusal::AlreadyDone));
        }
        self.audit
            .record(
                &session.actor(ip),
                "export.approved",
                &format!("export:{id}"),
                "customers",
                AuditDetail {
                    note: Some(format!("asked for by staff {}", e.requested_by)),
                    ..Default::default()
                },
            )
            .await?;
        Ok(Ok(()))
    }

    /// The approved export as CSV, once, to the staff member who asked for it. The download
    /// is claimed and audited (with the row count) before the CSV is handed back.
    pub async fn download_export(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
    ) -> Result<Result<CsvExport, ExportRefusal>, AppError> {
        self.check_export(session)?;
        let Some(e) = self.store.export(id).await? else {
            return Ok(Err(ExportRefusal::NotFound));
        };
        if e.requested_by != session.member.id {
            return Ok(Err(ExportRefusal::NotRequester));
        }
        match state_of(&e, self.clock.now()) {
            ExportState::Approved => {}
            ExportState::Pending => return Ok(Err(ExportRefusal::NotApproved)),
            ExportState::Downloaded => return Ok(Err(ExportRefusal::AlreadyDone)),
            ExportState::Expired => return Ok(Err(ExportRefusal::Expired)),
        }
        if let Some((what, incident)) = e.kind.split_once(':') {
            let incident_id: i64 = incident
                .parse()
                .map_err(|_| AppError::Task("export kind unreadable".into()))?;
            return self
                .download_postal(session, ip, id, incident_id, what == "letters")
                .await;
        }
        let mut csv = String::from("\u{feff}");
        csv.push_str(&csv_line(&[
            "id",
            "family_name",
            "given_name",
            "family_name_kana",
            "given_name_kana",
            "email",
            "phone",
            "postal_code",
            "prefecture",
            "address1",
            "address2",
        ]));
        let mut rows = 0i64;
        let mut after = 0;
        loop {
            let page = self.store.customers_after(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for rec in &page {
                let opened = PersonKeys::of(&self.vault, rec.data_key.as_ref())
                    .and_then(|keys| Customers::open(&keys, rec));
                let Ok(p) = opened else {
                    // Erased: nothing left to export.
                    continue;
                };
                self.canary(p.email.as_str(), "export", session, ip);
                let id = rec.id.to_string();
                csv.push_str(&csv_line(&[
                    &id,
                    p.person.family_name.as_str(),
                    p.person.given_name.as_str(),
                    p.person.family_name_kana.as_str(),
                    p.person.given_name_kana.as_str(),
                    p.email.as_str(),
                    p.person.phone.as_str(),
                    p.person.postal_code.as_str(),
                    p.person.prefecture.name_ja(),
                    p.person.address1.as_str(),
                    p.person.address2.as_ref().map_or("", |a| a.as_str()),
                ]));
                rows += 1;
            }
        }
        let now = self.clock.now();
        if !self.store.export_downloaded(id, rows, now).await? {
            return Ok(Err(ExportRefusal::AlreadyDone));
        }
        self.audit
            .record(
                &session.actor(ip),
                "export.downloaded",
                &format!("export:{id}"),
                "name,kana,email,phone,address",
                AuditDetail {
                    note: Some(format!("{rows} rows")),
                    ..Default::default()
                },
            )
            .await?;
        let mut event = SecurityEvent::new(SecurityEventKind::PersonalDataRead);
        event.ip = ip;
        event.subject = Some(session.member.id);
        self.events.record(event);
        let mut event =
            SecurityEvent::new(SecurityEventKind::ExportDownloaded).subject(session.member.id);
        event.ip = ip;
        self.events.record(event);
        tracing::warn!(target: "kura::alert", staff = session.member.id, export = id, rows, "bulk export of customer data downloaded");
        Ok(Ok(CsvExport {
            filename: format!(
                "customers-{}.csv",
                kura_domain::Date::today_in_japan(now).iso()
            ),
            bytes: csv.into_bytes(),
            rows,
        }))
    }
}

impl BackOffice {
    /// The postal list of an incident, claimed and audited before it is handed back.
    async fn download_postal(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
        incident_id: i64,
        letters: bool,
    ) -> Result<Result<CsvExport, ExportRefusal>, AppError> {
        let rows = crate::incident_people::postal_rows(
            self.store.as_ref(),
            &self.vault,
            self.canaries.as_deref(),
            incident_id,
        )
        .await?;
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let now = self.clock.now();
        let day = kura_domain::Date::today_in_japan(now).iso();
        let (filename, bytes) = if letters {
            let Some(printer) = &self.letters else {
                return Err(AppError::Task("no letter printer configured".into()));
            };
            let incident = self
                .store
                .incident(incident_id)
                .await?
                .ok_or_else(|| AppError::Task("incident vanished".into()))?;
            let entries = self.store.incident_entries(incident_id).await?;
            (
                format!("incident-{incident_id}-letters-{day}.pdf"),
                printer.letters(&incident, entries.first(), &rows)?,
            )
        } else {
            let mut csv = String::from("\u{feff}");
            csv.push_str(&csv_line(&[
                "reference",
                "name",
                "postal_code",
                "prefecture",
                "address1",
                "address2",
                "lang",
            ]));
            for r in &rows {
                csv.push_str(&csv_line(&[
                    &r.person,
                    &r.name,
                    &r.postal_code,
                    &r.prefecture_ja,
                    &r.address1,
                    &r.address2,
                    &r.lang,
                ]));
            }
            (
                format!("incident-{incident_id}-postal-{day}.csv"),
                csv.into_bytes(),
            )
        };
        if !self.store.export_downloaded(id, count, now).await? {
            return Ok(Err(ExportRefusal::AlreadyDone));
        }
        self.audit
            .record(
                &session.actor(ip),
                "export.downloaded",
                &format!("export:{id}"),
                "name,address",
                AuditDetail {
                    note: Some(format!(
                        "{count} rows; postal list of incident {incident_id}{}",
                        if letters { " as letters" } else { "" }
                    )),
                    ..Default::default()
                },
            )
            .await?;
        let mut event =
            SecurityEvent::new(SecurityEventKind::ExportDownloaded).subject(session.member.id);
        event.ip = ip;
        self.events.record(event);
        tracing::warn!(target: "kura::alert", staff = session.member.id, export = id, rows = count, "postal list of an incident downloaded");
        Ok(Ok(CsvExport {
            filename,
            bytes,
            rows: count,
        }))
    }
}

/// Prints the letters of a postal list (implemented with a PDF writer and a Japanese font).
pub trait LetterPrinter: Send + Sync {
    fn letters(
        &self,
        incident: &crate::records::IncidentRecord,
        entry: Option<&crate::records::IncidentEntryRecord>,
        rows: &[crate::incident_people::PostalRow],
    ) -> Result<Vec<u8>, AppError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("山田"), "\"山田\"");
        assert_eq!(csv_cell("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+81-3"), "\"'+81-3\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_line(&["1", "x,y"]), "\"1\",\"x,y\"\r\n");
    }

    #[test]
    fn states_follow_the_clock() {
        let mut e = ExportRecord {
            id: 1,
            kind: "customers".into(),
            requested_by: 1,
            requested_at: 0,
            approved_by: None,
            approved_at: None,
            downloaded_at: None,
            row_count: None,
        };
        assert_eq!(state_of(&e, 10), ExportState::Pending);
        assert_eq!(state_of(&e, APPROVAL_SECONDS + 1), ExportState::Expired);
        e.approved_at = Some(100);
        assert_eq!(state_of(&e, 100 + DOWNLOAD_SECONDS), ExportState::Approved);
        assert_eq!(state_of(&e, 101 + DOWNLOAD_SECONDS), ExportState::Expired);
        e.downloaded_at = Some(200);
        assert_eq!(state_of(&e, 200), ExportState::Downloaded);
    }
}
