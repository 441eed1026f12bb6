//! The inquiry desk (お問い合わせ): a public form, a queue for support staff, replies by mail.
//!
//! An inquiry is a person of its own: its sender's name and email and every message are sealed
//! under a data key made for it, so erasing it (retention, a request) erases the conversation.
//! Staff read an inquiry only through [`Desk::open`], which writes the read to the audit log
//! first and counts it against the same hourly budget as unmasking a customer. The
//! acknowledgement mail never repeats what was typed (the form cannot be used to send text to
//! someone else's address), and an address that sent more than a few inquiries in an hour gets
//! no further acknowledgements.

use std::net::IpAddr;
use std::sync::Arc;

use kura_domain::Email;
use kura_seal::Normalize;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::{Audit, AuditDetail};
use crate::clock::Clock;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::mail::{MailOutbox, OutgoingMail};
use crate::ports::Store;
use crate::records::{InquiryMessageRecord, InquiryRecord, ReadBudget};
use crate::sealed::col;
use crate::staff::{Permission, StaffSession};
use crate::vault::Vault;

/// What an inquiry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Order,
    Product,
    Delivery,
    Return,
    Account,
    Other,
    /// About an incident's notice (offered while an incident is open).
    Incident,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Self::Incident,
        Self::Order,
        Self::Product,
        Self::Delivery,
        Self::Return,
        Self::Account,
        Self::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Product => "product",
            Self::Delivery => "delivery",
            Self::Return => "return",
            Self::Account => "account",
            Self::Other => "other",
            Self::Incident => "incident",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A message's longest length, in characters.
pub const MAX_MESSAGE: usize = 2000;
/// Acknowledgements one address receives per hour; later inquiries are kept without one.
const ACKS_PER_HOUR: u64 = 3;
const READ: &str = "inquiry.read";

/// A message as typed: trimmed, 1 to [`MAX_MESSAGE`] characters, no control characters but
/// line breaks and tabs (Windows line ends become `\n`).
pub fn clean_message(text: &str) -> Option<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    let n = text.chars().count();
    let ok = (1..=MAX_MESSAGE).contains(&n)
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    ok.then(|| text.to_string())
}

/// A checked inquiry from the public form.
#[derive(Debug, Clone)]
pub struct InquiryInput {
    pub category: Category,
    pub order_number: Option<String>,
    pub name: kura_domain::PersonName,
    pub email: Email,
    pub message: String,
    pub lang: String,
}

#[derive(Serialize, Deserialize)]
struct Contact {
    name: String,
    email: String,
}

/// Renders the mails of the desk (a port: kura-mail implements it).
pub trait InquiryNotifier: Send + Sync {
    /// "We received your inquiry (number)": never repeats what was typed.
    fn received(
        &self,
        to: &str,
        name: &str,
        number: &str,
        lang: &str,
    ) -> Result<OutgoingMail, AppError>;
    /// A staff reply, in the inquiry's language.
    fn reply(
        &self,
        to: &str,
        name: &str,
        number: &str,
        lang: &str,
        body: &str,
    ) -> Result<OutgoingMail, AppError>;
}

/// An inquiry in the queue: no personal data.
#[derive(Debug, Clone)]
pub struct InquirySummary {
    pub id: i64,
    pub number: String,
    pub category: String,
    pub order_number: Option<String>,
    pub status: String,
    pub assignee: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One message as staff read it.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub author: String,
    pub body: String,
    pub at: i64,
}

/// An opened inquiry.
#[derive(Debug, Clone)]
pub struct InquiryView {
    pub summary: InquirySummary,
    pub name: String,
    pub email: String,
    pub lang: String,
    pub messages: Vec<MessageView>,
}

/// What opening an inquiry gave.
#[derive(Debug)]
pub enum Opened {
    Shown(Box<InquiryView>),
    OverBudget { limit: u32 },
    NotFound,
    Erased,
}

fn summary(r: &InquiryRecord) -> InquirySummary {
    InquirySummary {
        id: r.id,
        number: r.number.clone(),
        category: r.category.clone(),
        order_number: r.order_number.clone(),
        status: r.status.clone(),
        assignee: r.assignee,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// `Q-XXXX-XXXX` from an alphabet without look-alikes.
fn inquiry_number() -> Result<String, AppError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = kura_seal::random_bytes::<8>()?;
    let mut s = String::from("Q-");
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 {
            s.push('-');
        }
        s.push(char::from(
            ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'A'),
        ));
    }
    Ok(s)
}

pub struct Desk {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    outbox: Arc<MailOutbox>,
    notifier: Arc<dyn InquiryNotifier>,
    audit: Arc<Audit>,
    clock: Arc<dyn Clock>,
}

impl Desk {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        outbox: Arc<MailOutbox>,
        notifier: Arc<dyn InquiryNotifier>,
        audit: Arc<Audit>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            vault,
            outbox,
            notifier,
            audit,
            clock,
        }
    }

    /// Stores an inquiry and queues its acknowledgement; returns the inquiry's number and
    /// whether the acknowledgement was queued (not for an address that sent many this hour).
    pub async fn submit(&self, input: &InquiryInput) -> Result<(String, bool), AppError> {
        let now = self.clock.now();
        let ring = self.vault.ring();
        let (keys, data_key) = PersonKeys::new_person(&self.vault)?;
        let id = crate::ids::new_id();
        let number = inquiry_number()?;
        let contact = Zeroizing::new(
            serde_json::to_vec(&Contact {
                name: input.name.as_str().to_string(),
                email: input.email.as_str().to_string(),
            })
            .map_err(|e| AppError::Task(e.to_string()))?,
        );
        let lang = if input.lang == "en" { "en" } else { "ja" };
        let record = InquiryRecord {
            id,
            number: number.clone(),
            category: input.category.code().to_string(),
            order_number: input.order_number.clone(),
            status: "open".into(),
            assignee: None,
            lang: lang.into(),
            contact: keys.seal(col::INQUIRY_CONTACT, id, &contact)?,
            email_bidx: ring.blind_index(
                col::INQUIRY_EMAIL_BIDX,
                input.email.as_str(),
                Normalize::Email,
            )?,
            data_key: Some(data_key.clone()),
            created_at: now,
            updated_at: now,
        };
        let message_id = crate::ids::new_id();
        let first = InquiryMessageRecord {
            id: message_id,
            inquiry_id: id,
            author: "customer".into(),
            staff_id: None,
            body: keys.seal(col::INQUIRY_BODY, message_id, input.message.as_bytes())?,
            data_key: Some(data_key.clone()),
            created_at: now,
        };
        let recent = self
            .store
            .count_inquiries_from(
                &ring.blind_indexes(
                    col::INQUIRY_EMAIL_BIDX,
                    input.email.as_str(),
                    Normalize::Email,
                )?,
                now - 3600,
            )
            .await?;
        let mail = if recent < ACKS_PER_HOUR {
            let mail =
                self.notifier
                    .received(input.email.as_str(), input.name.as_str(), &number, lang)?;
            Some(self.outbox.seal(&mail, Some(&data_key))?)
        } else {
            tracing::warn!(target: "kura::desk", "an address sent many inquiries within an hour; no acknowledgement queued");
            None
        };
        self.store
            .insert_inquiry(&record, &first, mail.as_ref())
            .await?;
        tracing::info!(target: "kura::desk", inquiry = id, category = input.category.code(), "inquiry received");
        Ok((number, mail.is_some()))
    }

    /// The queue, newest first, without personal data.
    pub async fn queue(
        &self,
        statuses: &[&str],
        category: Option<Category>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InquirySummary>, AppError> {
        Ok(self
            .store
            .inquiries(statuses, category.map(Category::code), before_id, limit)
            .await?
            .iter()
            .map(summary)
            .collect())
    }

    pub async fn count_open(&self) -> Result<u64, AppError> {
        Ok(self.store.count_open_inquiries().await?)
    }

    /// An inquiry in full: written to the audit log first, within the staff member's hourly
    /// budget (`limit` distinct records, shared with customers shown and packing addresses).
    pub async fn open(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
        limit: u32,
    ) -> Result<Opened, AppError> {
        if !session.can(Permission::Inquiries) {
            return Err(AppError::Task("inquiry read without permission".into()));
        }
        let Some(rec) = self.store.inquiry(id).await? else {
            return Ok(Opened::NotFound);
        };
        let budget = ReadBudget {
            staff_id: session.member.id,
            actions: crate::backoffice::BUDGETED_READS,
            since: self.clock.now() - 3600,
            limit,
        };
        let written = self
            .audit
            .record_within(
                &session.actor(ip),
                READ,
                &format!("inquiry:{id}"),
                "name,email,messages",
                AuditDetail::default(),
                Some(&budget),
            )
            .await?;
        if written.is_err() {
            return Ok(Opened::OverBudget { limit });
        }
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let contact = match keys
            .open(col::INQUIRY_CONTACT, rec.id, &rec.contact)
            .map_err(AppError::from)
        {
            Ok(c) => c,
            Err(AppError::Erased) => return Ok(Opened::Erased),
            Err(e) => return Err(e),
        };
        let contact: Contact =
            serde_json::from_slice(&contact).map_err(|e| AppError::Task(e.to_string()))?;
        let mut messages = Vec::new();
        for m in self.store.inquiry_messages(id).await? {
            let body = keys.open(col::INQUIRY_BODY, m.id, &m.body)?;
            messages.push(MessageView {
                author: m.author,
                body: String::from_utf8_lossy(&body).into_owned(),
                at: m.created_at,
            });
        }
        Ok(Opened::Shown(Box::new(InquiryView {
            summary: summary(&rec),
            name: contact.name,
            email: contact.email,
            lang: rec.lang,
            messages,
        })))
    }

    /// Sends a reply by mail and keeps it with the inquiry (status `answered`). False when the
    /// inquiry is gone or erased.
    pub async fn reply(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
        body: &str,
    ) -> Result<bool, AppError> {
        if !session.can(Permission::Inquiries) {
            return Err(AppError::Task("inquiry reply without permission".into()));
        }
        let Some(rec) = self.store.inquiry(id).await? else {
            return Ok(false);
        };
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let contact = match keys
            .open(col::INQUIRY_CONTACT, rec.id, &rec.contact)
            .map_err(AppError::from)
        {
            Ok(c) => c,
            Err(AppError::Erased) => return Ok(false),
            Err(e) => return Err(e),
        };
        let contact: Contact =
            serde_json::from_slice(&contact).map_err(|e| AppError::Task(e.to_string()))?;
        let now = self.clock.now();
        let message_id = crate::ids::new_id();
        let message = InquiryMessageRecord {
            id: message_id,
            inquiry_id: id,
            author: session.member.login.clone(),
            staff_id: Some(session.member.id),
            body: keys.seal(col::INQUIRY_BODY, message_id, body.as_bytes())?,
            data_key: rec.data_key.clone(),
            created_at: now,
        };
        let mail =
            self.notifier
                .reply(&contact.email, &contact.name, &rec.number, &rec.lang, body)?;
        let mail = self.outbox.seal(&mail, rec.data_key.as_ref())?;
        self.audit
            .record(
                &session.actor(ip),
                "inquiry.reply",
                &format!("inquiry:{id}"),
                "messages",
                AuditDetail::default(),
            )
            .await?;
        self.store
            .add_inquiry_reply(&message, "answered", Some(&mail))
            .await?;
        if rec.category == Category::Incident.code() {
            crate::incident_people::mark_answered(
                self.store.as_ref(),
                &self.vault,
                &contact.email,
                now,
            )
            .await?;
        }
        Ok(true)
    }

    /// Sets an inquiry's status (`open`, `answered`, `closed`) and assignee.
    pub async fn set(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
        status: &str,
        assignee: Option<i64>,
    ) -> Result<bool, AppError> {
        if !matches!(status, "open" | "answered" | "closed") {
            return Ok(false);
        }
        let done = self
            .store
            .set_inquiry(id, status, assignee, self.clock.now())
            .await?;
        if done {
            self.audit
                .record(
                    &session.actor(ip),
                    "inquiry.status",
                    &format!("inquiry:{id}"),
                    "status,assignee",
                    AuditDetail {
                        note: Some(format!(
                            "{status}, {}",
                            assignee.map(|a| a.to_string()).unwrap_or_default()
                        )),
                        ..Default::default()
                    },
                )
                .await?;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(
            clean_message("  hello\r\nthere  ").as_deref(),
            Some("hello\nthere")
        );
        assert!(clean_message("   ").is_none());
        assert!(clean_message(&"あ".repeat(MAX_MESSAGE + 1)).is_none());
        assert!(clean_message("bell\u{7}").is_none());
        assert!(clean_message(&"あ".repeat(MAX_MESSAGE)).is_some());
    }

    #[test]
    fn numbers_have_the_desk_shape() {
        let n = inquiry_number().unwrap();
        assert_eq!(n.len(), 11);
        assert!(n.starts_with("Q-") && n.as_bytes()[6] == b'-');
    }
}
