//! The people an incident touched: finding them (scoping), telling them (the notice
//! campaign) and the list of those only a letter can reach.
//!
//! Scoping reads no sealed field. It works on dates and blind indexes: accounts and orders
//! that were in the database during the suspected window (or created in it), the targets the
//! audit log shows were read in it, and lists that outsiders hand in (card companies, the
//! police), whose emails and phone numbers are matched through the blind index. Nothing is
//! decrypted in bulk; only the few addresses known to be undeliverable are opened, to say who
//! can be reached by post only.
//!
//! The campaign opens one person at a time, renders their notice in their language, seals it
//! for the outbox and, in the same transaction, moves the person from `pending` to `mailed`,
//! so a crash or a second node never sends a notice twice and a restart resumes where it
//! stopped.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError};

use kura_domain::{CustomerProfile, Date};
use kura_seal::Normalize;

use crate::audit::AuditDetail;
use crate::customers::Customers;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::incidents::Incidents;
use crate::mail::{MailOutbox, OutgoingMail};
use crate::ports::Store;
use crate::records::{
    IncidentEntryRecord, IncidentPersonRecord, IncidentRecord, ScopeBuyer, ScopePlan,
};
use crate::sealed::col;
use crate::staff::StaffSession;
use crate::vault::Vault;

/// People handled per transaction by the campaign.
const BATCH: u32 = 200;
/// Lines an outsider's list may have.
const MAX_LIST_LINES: usize = 100_000;

/// Renders the notice to one person (implemented with the mail templates).
pub trait IncidentNotifier: Send + Sync {
    fn notice(&self, to: &str, notice: &PersonNotice<'_>) -> Result<OutgoingMail, AppError>;
    /// The aftercare mail: the password no longer works and how to set a new one, checking
    /// card statements, changing reused passwords, recognising forged mail.
    fn guidance(
        &self,
        to: &str,
        lang: &str,
        notice_url: &str,
        reset_url: &str,
    ) -> Result<OutgoingMail, AppError>;
    /// The answer to "was my data affected?": `fields` are the person's affected data items,
    /// `None` when they are not among the people found.
    fn lookup_answer(
        &self,
        to: &str,
        lang: &str,
        fields: Option<Vec<&str>>,
        notice_url: &str,
    ) -> Result<OutgoingMail, AppError>;
}

/// What the public "was I affected?" form answers on the page (the answer itself goes by mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOutcome {
    /// Taken: if the address or number is known, the answer was mailed to the address the
    /// shop holds. The page says the same whether or not anything was sent.
    Taken,
    /// Neither an email address nor a phone number.
    Invalid,
    /// No open incident with people found.
    NotAvailable,
}

/// How long one address or number waits for its next answer.
const LOOKUP_EVERY_SECONDS: i64 = 24 * 3600;
/// Answers kept in memory for the throttle (per node).
const LOOKUP_MEMORY: usize = 100_000;

/// What one person's notice says.
pub struct PersonNotice<'a> {
    pub incident: &'a IncidentRecord,
    /// The first entry of the public notice (its title and text, in both languages).
    pub entry: &'a IncidentEntryRecord,
    /// The person's name as the shop holds it, in the order the language writes names.
    pub name: String,
    pub lang: &'a str,
    /// The incident's categories this person's data fell under.
    pub fields: Vec<&'a str>,
    /// The public notice page of the incident.
    pub notice_url: String,
}

/// What scoping and notifying need beyond the incident records.
pub struct PeopleParts {
    pub vault: Arc<Vault>,
    pub outbox: Arc<MailOutbox>,
    pub notifier: Arc<dyn IncidentNotifier>,
    /// The shop's public address, for the notice page link (`https://shop.example.jp`).
    pub public_url: String,
    /// The canary customers (honeytokens): found like anyone by scoping, but never mailed,
    /// written to or put on a postal list (a mail to one would raise the honeytoken alert).
    pub canaries: Option<Arc<crate::canary::Canaries>>,
}

fn is_canary(canaries: Option<&crate::canary::Canaries>, profile: &CustomerProfile) -> bool {
    canaries.is_some_and(|c| c.is_canary(profile.email.as_str()))
}

/// Which accounts and orders the window takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeBasis {
    /// Everything that was in the database by the window's end (a copied database).
    Present,
    /// Only what was created within the window (a skimmed form, a leaking page).
    Activity,
}

/// What a scoping found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeResult {
    pub people: usize,
    pub list_lines: usize,
    pub list_unmatched: usize,
    pub read_targets: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeProblem {
    Missing,
    /// Scoping is not configured on this shop.
    Unavailable,
    /// The list has more lines than one scoping takes.
    ListTooLong,
    /// Notices are being sent: the people stay as they are until that is done.
    Sending,
}

impl ScopeProblem {
    pub fn key(self) -> &'static str {
        match self {
            Self::Missing => "admin.incidents.missing",
            Self::Unavailable => "admin.incidents.unavailable",
            Self::ListTooLong => "admin.incidents.list_too_long",
            Self::Sending => "admin.incidents.sending",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeProblem {
    Missing,
    Unavailable,
    /// Nobody was found yet: scope first.
    NoPeople,
    /// The public notice has no entry yet: the mail carries its text and links it.
    NoNotice,
}

impl NoticeProblem {
    pub fn key(self) -> &'static str {
        match self {
            Self::Missing => "admin.incidents.missing",
            Self::Unavailable => "admin.incidents.unavailable",
            Self::NoPeople => "admin.incidents.no_people",
            Self::NoNotice => "admin.incidents.no_notice",
        }
    }
}

/// Counts over an incident's people, as the back office and the report show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub people: i64,
    /// Per category of the incident: how many people's data fell under it.
    pub by_field: Vec<(String, i64)>,
    /// `mail`, `post`, `none`.
    pub by_reach: Vec<(String, i64)>,
    /// `pending`, `mailed`, `bounced`, `posted`, `answered`.
    pub by_status: Vec<(String, i64)>,
    /// People the campaign is to mail, and how many of them it has handled.
    pub to_mail: i64,
    pub mail_done: i64,
    /// People a letter has to reach (no deliverable address), not yet posted.
    pub postal: i64,
}

impl Tally {
    pub fn count(list: &[(String, i64)], key: &str) -> i64 {
        list.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
    }
}

/// A person on the postal list, opened for the letter.
pub struct PostalRow {
    pub person: String,
    pub name: String,
    pub postal_code: String,
    pub prefecture_ja: String,
    pub address1: String,
    pub address2: String,
    pub lang: String,
}

fn guest_key(email_bidx: &[u8]) -> String {
    format!("g:{}", hex::encode(email_bidx))
}

fn display_name(profile: &CustomerProfile, lang: &str) -> String {
    let (family, given) = (
        profile.person.family_name.as_str(),
        profile.person.given_name.as_str(),
    );
    if lang == "en" {
        format!("{given} {family}")
    } else {
        format!("{family} {given}")
    }
}

/// Opens a person's contact data: the account's, or a guest's from their latest order.
async fn open_person(
    store: &dyn Store,
    vault: &Vault,
    p: &IncidentPersonRecord,
) -> Result<Option<(CustomerProfile, Option<crate::sealed::DataKeyRef>)>, AppError> {
    if let Some(id) = p.customer_id {
        let Some(rec) = store.customer(id).await? else {
            return Ok(None);
        };
        let opened =
            PersonKeys::of(vault, rec.data_key.as_ref()).and_then(|k| Customers::open(&k, &rec));
        return Ok(opened.ok().map(|profile| (profile, rec.data_key.clone())));
    }
    let Some(order_id) = p.order_id else {
        return Ok(None);
    };
    let Some(rec) = store.order_by_id(order_id).await? else {
        return Ok(None);
    };
    let Ok(keys) = PersonKeys::of(vault, rec.data_key.as_ref()) else {
        return Ok(None);
    };
    let Ok(plain) = keys.open(col::ORDER_BUYER, rec.id, &rec.buyer) else {
        return Ok(None);
    };
    let profile: CustomerProfile = serde_json::from_slice(&plain)
        .map_err(|e| AppError::Task(format!("order buyer record unreadable: {e}")))?;
    Ok(Some((profile, rec.data_key.clone())))
}

/// A person who wrote to the desk about an incident and was answered: in every open
/// incident that lists them (by account or as a guest buyer, through the blind indexes of
/// their email), their status becomes `answered`. Returns how many entries moved.
pub async fn mark_answered(
    store: &dyn Store,
    vault: &Vault,
    email: &str,
    now: i64,
) -> Result<u64, AppError> {
    let open: Vec<i64> = store
        .incidents()
        .await?
        .into_iter()
        .filter(|i| i.closed_at.is_none() && i.people > 0)
        .map(|i| i.id)
        .collect();
    if open.is_empty() {
        return Ok(0);
    }
    let ring = vault.ring();
    let mut persons = Vec::new();
    let account = ring.blind_indexes(col::EMAIL_BIDX, email, Normalize::Email)?;
    if let Some(c) = store.customer_credentials_by_email(&account).await? {
        persons.push(format!("c:{}", c.id));
    }
    for b in ring.blind_indexes(col::ORDER_EMAIL_BIDX, email, Normalize::Email)? {
        persons.push(guest_key(b.as_bytes()));
    }
    let mut moved = 0;
    for id in open {
        moved += store
            .set_incident_people_status(
                id,
                &persons,
                &["pending", "mailed", "bounced", "posted"],
                "answered",
                None,
                now,
            )
            .await?;
    }
    Ok(moved)
}

/// Marks a campaign as being sent on this node while it lives.
struct Sending<'a> {
    set: &'a std::sync::Mutex<HashSet<i64>>,
    id: i64,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl Incidents {
    fn parts(&self) -> Option<&PeopleParts> {
        self.people.as_ref()
    }

    /// The people the undeliverable addresses belong to (opened one by one; they are few).
    async fn unreachable_people(&self, parts: &PeopleParts) -> Result<HashSet<String>, AppError> {
        let ring = parts.vault.ring();
        let mut out = HashSet::new();
        for rec in self.store.undeliverable_all().await? {
            let Ok(address) = ring.open(col::UNDELIVERABLE_ADDRESS, rec.id, &rec.address) else {
                continue;
            };
            let Ok(address) = std::str::from_utf8(&address) else {
                continue;
            };
            let account = ring.blind_indexes(col::EMAIL_BIDX, address, Normalize::Email)?;
            if let Some(c) = self.store.customer_credentials_by_email(&account).await? {
                out.insert(format!("c:{}", c.id));
            }
            for b in ring.blind_indexes(col::ORDER_EMAIL_BIDX, address, Normalize::Email)? {
                out.insert(guest_key(b.as_bytes()));
            }
        }
        Ok(out)
    }

    /// Finds the people an incident touched and stores them with how each can be reached.
    /// People found before keep where their notice stands.
    pub async fn scope(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
        basis: ScopeBasis,
        list: &str,
    ) -> Result<Result<ScopeResult, ScopeProblem>, AppError> {
        Self::allowed(session)?;
        let Some(parts) = self.parts() else {
            return Ok(Err(ScopeProblem::Unavailable));
        };
        let Some(incident) = self.store.incident(incident_id).await? else {
            return Ok(Err(ScopeProblem::Missing));
        };
        if self.is_sending(incident_id) {
            return Ok(Err(ScopeProblem::Sending));
        }
        let lines: Vec<&str> = list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.len() > MAX_LIST_LINES {
            return Ok(Err(ScopeProblem::ListTooLong));
        }
        let (start, end) = (incident.window_start, incident.window_end);
        // How each person was found besides the window ("read", "list", in that order).
        let mut found: HashMap<ScopeBuyer, String> = HashMap::new();
        let mut add = |buyer: ScopeBuyer, how: &str| {
            let entry = found.entry(buyer).or_default();
            if !entry.split(',').any(|h| h == how) {
                if !entry.is_empty() {
                    entry.push(',');
                }
                entry.push_str(how);
            }
        };
        // What the audit log shows was opened during the window.
        let targets = self
            .store
            .audit_targets_between(
                &[
                    "customer.unmask",
                    "order.packing_address",
                    "order.search_contact",
                    "export.downloaded",
                ],
                start,
                end,
            )
            .await?;
        let mut read_targets = 0;
        let mut numbers = Vec::new();
        for t in &targets {
            if let Some(id) = t
                .strip_prefix("customer:")
                .and_then(|v| v.parse::<i64>().ok())
            {
                // An id no account held by the window's end had is dropped by the store.
                add(ScopeBuyer::Account(id), "read");
                read_targets += 1;
            } else if let Some(n) = t.strip_prefix("order:") {
                numbers.push(n.to_string());
            }
        }
        for chunk in numbers.chunks(500) {
            let buyers = self
                .store
                .scope_order_buyers(false, &[], chunk, end)
                .await?;
            read_targets += buyers.len();
            for b in buyers {
                add(b, "read");
            }
        }
        // Lists handed in by outsiders, matched through the blind indexes.
        let mut list_unmatched = 0;
        if !lines.is_empty() {
            let ring = parts.vault.ring();
            for line in &lines {
                let (account_cols, order_cols, how, phone) = if line.contains('@') {
                    (
                        col::EMAIL_BIDX,
                        col::ORDER_EMAIL_BIDX,
                        Normalize::Email,
                        false,
                    )
                } else {
                    (
                        col::PHONE_BIDX,
                        col::ORDER_PHONE_BIDX,
                        Normalize::Digits,
                        true,
                    )
                };
                let bytes = |list: Vec<kura_seal::BlindIndex>| -> Vec<Vec<u8>> {
                    list.iter().map(|b| b.as_bytes().to_vec()).collect()
                };
                let account_bidx = bytes(ring.blind_indexes(account_cols, line, how)?);
                let order_bidx = bytes(ring.blind_indexes(order_cols, line, how)?);
                let ids = self
                    .store
                    .scope_accounts_by_bidx(phone, &account_bidx, end)
                    .await?;
                let buyers = self
                    .store
                    .scope_order_buyers(phone, &order_bidx, &[], end)
                    .await?;
                if ids.is_empty() && buyers.is_empty() {
                    list_unmatched += 1;
                }
                for id in ids {
                    add(ScopeBuyer::Account(id), "list");
                }
                for b in buyers {
                    add(b, "list");
                }
            }
        }
        let (mut accounts, mut guests) = (Vec::new(), Vec::new());
        for (buyer, how) in found {
            match buyer {
                ScopeBuyer::Account(id) => accounts.push((id, how)),
                ScopeBuyer::Guest(b) => guests.push((b, how)),
            }
        }
        accounts.sort_unstable();
        guests.sort_unstable();
        let mut unreachable: Vec<String> =
            self.unreachable_people(parts).await?.into_iter().collect();
        unreachable.sort();
        let plan = ScopePlan {
            incident_id,
            since: if basis == ScopeBasis::Present {
                i64::MIN
            } else {
                start
            },
            until: end,
            categories: incident.categories.clone(),
            accounts,
            guests,
            unreachable,
            now: self.clock.now(),
        };
        let people = self.store.scope_incident_people(&plan).await?;
        let result = ScopeResult {
            people: usize::try_from(people).unwrap_or(0),
            list_lines: lines.len(),
            list_unmatched,
            read_targets,
        };
        self.audit
            .record(
                &session.actor(ip),
                "incident.scope",
                &format!("incident:{incident_id}"),
                &incident.categories.join(","),
                AuditDetail {
                    note: Some(format!(
                        "{} people; basis {}; {} list lines, {} unmatched; {} read targets",
                        result.people,
                        if basis == ScopeBasis::Present {
                            "present"
                        } else {
                            "activity"
                        },
                        result.list_lines,
                        result.list_unmatched,
                        result.read_targets
                    )),
                    ..Default::default()
                },
            )
            .await?;
        tracing::warn!(target: "kura::incidents", incident = incident_id, people = result.people, "incident scoped");
        Ok(Ok(result))
    }

    /// Counts over the people of an incident.
    pub async fn tally(&self, incident: &IncidentRecord) -> Result<Tally, AppError> {
        let rows = self.store.incident_people_tally(incident.id).await?;
        let mut t = Tally::default();
        let mut by_field: HashMap<&str, i64> = HashMap::new();
        let mut by_reach: HashMap<String, i64> = HashMap::new();
        let mut by_status: HashMap<String, i64> = HashMap::new();
        for (fields, reach, status, n) in &rows {
            t.people += n;
            for f in fields.split(',').filter(|f| !f.is_empty()) {
                *by_field.entry(f).or_default() += n;
            }
            *by_reach.entry(reach.clone()).or_default() += n;
            *by_status.entry(status.clone()).or_default() += n;
            if reach == "mail" || status == "mailed" || status == "bounced" {
                t.to_mail += n;
                if status != "pending" {
                    t.mail_done += n;
                }
            }
            if (reach == "post" && status == "pending") || status == "bounced" {
                t.postal += n;
            }
        }
        t.by_field = incident
            .categories
            .iter()
            .map(|c| (c.clone(), by_field.get(c.as_str()).copied().unwrap_or(0)))
            .collect();
        t.by_reach = ["mail", "post", "none"]
            .iter()
            .map(|k| ((*k).to_string(), by_reach.get(*k).copied().unwrap_or(0)))
            .collect();
        t.by_status = ["pending", "mailed", "bounced", "posted", "answered"]
            .iter()
            .map(|k| ((*k).to_string(), by_status.get(*k).copied().unwrap_or(0)))
            .collect();
        Ok(t)
    }

    /// Whether this node is sending an incident's notices now.
    pub fn is_sending(&self, incident_id: i64) -> bool {
        self.sending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&incident_id)
    }

    /// Starts the notice campaign (the caller then runs [`Self::send_notices`] in the
    /// background). `Ok(Err(..))`: nothing to send yet.
    pub async fn start_notices(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
    ) -> Result<Result<(), NoticeProblem>, AppError> {
        Self::allowed(session)?;
        if self.parts().is_none() {
            return Ok(Err(NoticeProblem::Unavailable));
        }
        let Some(incident) = self.store.incident(incident_id).await? else {
            return Ok(Err(NoticeProblem::Missing));
        };
        if incident.people == 0 {
            return Ok(Err(NoticeProblem::NoPeople));
        }
        if self.store.incident_entries(incident_id).await?.is_empty() {
            return Ok(Err(NoticeProblem::NoNotice));
        }
        self.audit
            .record(
                &session.actor(ip),
                "incident.notify",
                &format!("incident:{incident_id}"),
                &incident.categories.join(","),
                AuditDetail {
                    note: Some(format!("{} people", incident.people)),
                    ..Default::default()
                },
            )
            .await?;
        self.store
            .start_incident_campaign(incident_id, self.clock.now())
            .await?;
        Ok(Ok(()))
    }

    /// Incidents whose campaign was started and may have people left (resumed at start).
    pub async fn campaigns_to_resume(&self) -> Result<Vec<i64>, AppError> {
        Ok(self
            .store
            .incidents()
            .await?
            .into_iter()
            .filter(|i| i.campaign_started_at.is_some() && i.closed_at.is_none())
            .map(|i| i.id)
            .collect())
    }

    /// Sends the notices of a started campaign to everyone still pending who can be mailed,
    /// batch by batch; returns how many were queued. Safe to run again after a crash and on
    /// several nodes: each person is moved and mailed in one transaction, once.
    pub async fn send_notices(&self, incident_id: i64) -> Result<u64, AppError> {
        let Some(parts) = self.parts() else {
            return Ok(0);
        };
        {
            let mut sending = self.sending.lock().unwrap_or_else(PoisonError::into_inner);
            if !sending.insert(incident_id) {
                return Ok(0);
            }
        }
        // Cleared however this ends, even when the task is dropped half-way.
        let _sending = Sending {
            set: &self.sending,
            id: incident_id,
        };
        let queued = self.send_pending(parts, incident_id).await?;
        self.refresh_bounces(incident_id).await?;
        Ok(queued)
    }

    async fn send_pending(&self, parts: &PeopleParts, incident_id: i64) -> Result<u64, AppError> {
        let Some(incident) = self.store.incident(incident_id).await? else {
            return Ok(0);
        };
        if incident.campaign_started_at.is_none() {
            return Ok(0);
        }
        let entries = self.store.incident_entries(incident_id).await?;
        let Some(entry) = entries.first() else {
            return Ok(0);
        };
        let notice_url = format!(
            "{}/notices/{}",
            parts.public_url.trim_end_matches('/'),
            incident_id
        );
        // Who mail cannot reach, worked out once (few addresses), not asked per person.
        let unreachable = self.unreachable_people(parts).await?;
        let mut queued = 0u64;
        let mut after = String::new();
        loop {
            let page = self
                .store
                .incident_people(incident_id, Some("pending"), &after, BATCH)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.person.clone();
            let mut items = Vec::new();
            let mut lost = Vec::new();
            for p in page.iter().filter(|p| p.reach == "mail") {
                let Some((profile, data_key)) = open_person(self.store.as_ref(), &parts.vault, p)
                    .await?
                    .filter(|(profile, _)| !is_canary(parts.canaries.as_deref(), profile))
                else {
                    // Erased since, or a canary: nobody to reach.
                    lost.push(p.person.clone());
                    continue;
                };
                let to = profile.email.as_str();
                if unreachable.contains(&p.person) {
                    items.push((p.person.clone(), "bounced".to_string(), None));
                    continue;
                }
                let notice = PersonNotice {
                    incident: &incident,
                    entry,
                    name: display_name(&profile, &p.lang),
                    lang: &p.lang,
                    fields: p.fields.split(',').filter(|f| !f.is_empty()).collect(),
                    notice_url: notice_url.clone(),
                };
                let mail = parts.notifier.notice(to, &notice)?;
                let record = parts.outbox.seal(&mail, data_key.as_ref())?;
                items.push((p.person.clone(), "mailed".to_string(), Some(record)));
            }
            let now = self.clock.now();
            if !lost.is_empty() {
                self.store
                    .set_incident_people_status(
                        incident_id,
                        &lost,
                        &["pending"],
                        "pending",
                        Some("none"),
                        now,
                    )
                    .await?;
            }
            queued += self
                .store
                .incident_notice_batch(incident_id, &items, now)
                .await?;
        }
        tracing::warn!(target: "kura::incidents", incident = incident_id, queued, "incident notices queued");
        Ok(queued)
    }

    /// People whose notice came back undeliverable since it was sent move to the postal list.
    pub async fn refresh_bounces(&self, incident_id: i64) -> Result<u64, AppError> {
        let Some(parts) = self.parts() else {
            return Ok(0);
        };
        let unreachable: Vec<String> = self.unreachable_people(parts).await?.into_iter().collect();
        if unreachable.is_empty() {
            return Ok(0);
        }
        Ok(self
            .store
            .set_incident_people_status(
                incident_id,
                &unreachable,
                &["mailed"],
                "bounced",
                Some("post"),
                self.clock.now(),
            )
            .await?)
    }

    /// Records that the letters of the postal list went out.
    pub async fn mark_posted(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
    ) -> Result<u64, AppError> {
        Self::allowed(session)?;
        let mut persons = Vec::new();
        for status in ["pending", "bounced"] {
            let mut after = String::new();
            loop {
                let page = self
                    .store
                    .incident_people(incident_id, Some(status), &after, 5000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.person.clone();
                persons.extend(
                    page.into_iter()
                        .filter(|p| p.reach == "post")
                        .map(|p| p.person),
                );
            }
        }
        let moved = self
            .store
            .set_incident_people_status(
                incident_id,
                &persons,
                &["pending", "bounced"],
                "posted",
                None,
                self.clock.now(),
            )
            .await?;
        self.audit
            .record(
                &session.actor(ip),
                "incident.posted",
                &format!("incident:{incident_id}"),
                "",
                AuditDetail {
                    note: Some(format!("{moved} letters")),
                    ..Default::default()
                },
            )
            .await?;
        Ok(moved)
    }
}

/// The people of an incident a letter has to reach, opened for the postal list (the caller
/// audits it as an export). Erased people are left out.
pub async fn postal_rows(
    store: &dyn Store,
    vault: &Vault,
    canaries: Option<&crate::canary::Canaries>,
    incident_id: i64,
) -> Result<Vec<PostalRow>, AppError> {
    let mut out = Vec::new();
    for status in ["pending", "bounced"] {
        let mut after = String::new();
        loop {
            let page = store
                .incident_people(incident_id, Some(status), &after, 1000)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.person.clone();
            for p in page.iter().filter(|p| p.reach == "post") {
                let Some((profile, _)) = open_person(store, vault, p)
                    .await?
                    .filter(|(profile, _)| !is_canary(canaries, profile))
                else {
                    continue;
                };
                let person = &profile.person;
                out.push(PostalRow {
                    person: p.person.clone(),
                    name: display_name(&profile, "ja"),
                    postal_code: person.postal_code.as_str().to_string(),
                    prefecture_ja: person.prefecture.name_ja().to_string(),
                    address1: person.address1.as_str().to_string(),
                    address2: person
                        .address2
                        .as_ref()
                        .map_or(String::new(), |a| a.as_str().to_string()),
                    lang: p.lang.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.postal_code.cmp(&b.postal_code));
    Ok(out)
}

/// When a moment is, for notices: `2026-12-01 10:00`.
pub fn japan_minute(at: i64) -> String {
    Date::japan_minute(at)
}

/// What an incident report states about the keys, for the strong-encryption carve-out of the
/// reporting duty (data protected by advanced encryption whose key was not taken with it).
#[derive(Debug, Clone, Default)]
pub struct KeyEvidence {
    /// The key file, when the keys are a file.
    pub location: Option<String>,
    /// Its permission bits (`0600` is the only mode the shop accepts).
    pub mode: Option<String>,
    /// Master keys the database records, and when the newest was made.
    pub keys: usize,
    pub newest_key_at: Option<i64>,
    /// Distinct customers and orders staff opened during the window (the audit log).
    pub reads_in_window: usize,
    /// Whether the owner declared the keys possibly exposed.
    pub keys_exposed: bool,
}

impl KeyEvidence {
    /// The carve-out can be argued only when the keys were not exposed and the key file is
    /// readable by its owner alone.
    pub fn carve_out_possible(&self) -> bool {
        !self.keys_exposed && self.mode.as_deref() == Some("0600")
    }
}

impl Incidents {
    /// The evidence about the keys for an incident's report.
    pub async fn key_evidence(
        &self,
        session: &StaffSession,
        incident: &IncidentRecord,
    ) -> Result<KeyEvidence, AppError> {
        Self::allowed(session)?;
        let mut e = KeyEvidence {
            keys_exposed: incident.keys_exposed,
            ..KeyEvidence::default()
        };
        if let Some(parts) = self.parts()
            && let Some(path) = parts.vault.provider().location()
        {
            use std::os::unix::fs::PermissionsExt;
            e.mode = std::fs::metadata(&path)
                .ok()
                .map(|m| format!("{:04o}", m.permissions().mode() & 0o7777));
            e.location = Some(path.display().to_string());
        }
        let checks = self.store.key_checks().await?;
        e.keys = checks.len();
        e.newest_key_at = checks.iter().map(|c| c.key_created_at).max();
        e.reads_in_window = self
            .store
            .audit_targets_between(
                &[
                    "customer.unmask",
                    "order.packing_address",
                    "order.search_contact",
                ],
                incident.window_start,
                incident.window_end,
            )
            .await?
            .len();
        Ok(e)
    }
}

impl Incidents {
    /// Answers "was my data affected?" for an email address or a phone number typed on the
    /// public notice page. The answer goes only by mail, to the address the shop holds for
    /// that person, once a day per address or number (per node); the page never tells.
    pub async fn lookup(
        &self,
        incident_id: i64,
        typed: &str,
        lang: &str,
    ) -> Result<LookupOutcome, AppError> {
        let Some(parts) = self.parts() else {
            return Ok(LookupOutcome::NotAvailable);
        };
        let Some(incident) = self.store.incident(incident_id).await? else {
            return Ok(LookupOutcome::NotAvailable);
        };
        if incident.closed_at.is_some() || incident.people == 0 {
            return Ok(LookupOutcome::NotAvailable);
        }
        let typed = typed.trim();
        let ring = parts.vault.ring();
        let email = typed.contains('@');
        let digits = typed.chars().filter(char::is_ascii_digit).count();
        let valid = if email {
            kura_domain::Email::parse(typed).is_ok()
        } else {
            (10..=11).contains(&digits)
                && typed
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+')
        };
        if !valid {
            return Ok(LookupOutcome::Invalid);
        }
        let (account_col, order_col, how) = if email {
            (col::EMAIL_BIDX, col::ORDER_EMAIL_BIDX, Normalize::Email)
        } else {
            (col::PHONE_BIDX, col::ORDER_PHONE_BIDX, Normalize::Digits)
        };
        let account = ring.blind_indexes(account_col, typed, how)?;
        let orders = ring.blind_indexes(order_col, typed, how)?;
        // The throttle, keyed by the blind index: nothing typed is kept.
        let key = hex::encode(account.first().map(|b| b.as_bytes()).unwrap_or_default());
        let now = self.clock.now();
        {
            let mut seen = self.lookups.lock().unwrap_or_else(PoisonError::into_inner);
            if seen
                .get(&key)
                .is_some_and(|at| now - at < LOOKUP_EVERY_SECONDS)
            {
                return Ok(LookupOutcome::Taken);
            }
            if seen.len() >= LOOKUP_MEMORY {
                seen.retain(|_, at| now - *at < LOOKUP_EVERY_SECONDS);
            }
            seen.insert(key, now);
        }
        // Who it may be: accounts and guest buyers, found through the blind indexes.
        let mut people: Vec<IncidentPersonRecord> = Vec::new();
        let mut push = |person: String, customer_id: Option<i64>, order_id: Option<i64>| {
            if !people.iter().any(|p| p.person == person) {
                people.push(IncidentPersonRecord {
                    incident_id,
                    person,
                    customer_id,
                    order_id,
                    found_by: String::new(),
                    fields: String::new(),
                    reach: String::new(),
                    status: String::new(),
                    lang: lang.to_string(),
                    updated_at: now,
                });
            }
        };
        if email {
            if let Some(c) = self.store.customer_credentials_by_email(&account).await? {
                push(format!("c:{}", c.id), Some(c.id), None);
            }
            for b in &orders {
                push(guest_key(b.as_bytes()), None, None);
            }
        } else {
            let a: Vec<Vec<u8>> = account.iter().map(|b| b.as_bytes().to_vec()).collect();
            let o: Vec<Vec<u8>> = orders.iter().map(|b| b.as_bytes().to_vec()).collect();
            let (customers, guests) = self.store.people_with_phone(&a, &o, 5).await?;
            for id in customers {
                push(format!("c:{id}"), Some(id), None);
            }
            for (order_id, email_bidx) in guests {
                push(guest_key(&email_bidx), None, Some(order_id));
            }
        }
        let notice_url = format!(
            "{}/notices/{incident_id}",
            parts.public_url.trim_end_matches('/')
        );
        let mut answered = 0;
        for mut p in people.into_iter().take(5) {
            let found = self.store.incident_person(incident_id, &p.person).await?;
            if let Some(f) = &found {
                p.customer_id = f.customer_id;
                p.order_id = f.order_id;
                p.lang = if lang == "en" {
                    lang.into()
                } else {
                    f.lang.clone()
                };
            }
            if p.customer_id.is_none() && p.order_id.is_none() {
                // A guest address that is not among the people: nothing to open, nothing sent.
                continue;
            }
            let Some((profile, data_key)) = open_person(self.store.as_ref(), &parts.vault, &p)
                .await?
                .filter(|(profile, _)| !is_canary(parts.canaries.as_deref(), profile))
            else {
                continue;
            };
            // Typed as an email: the answer goes only to that same address.
            if email && !profile.email.as_str().eq_ignore_ascii_case(typed) {
                continue;
            }
            let fields: Option<Vec<&str>> = found
                .as_ref()
                .map(|f| f.fields.split(',').filter(|x| !x.is_empty()).collect());
            let mail = parts.notifier.lookup_answer(
                profile.email.as_str(),
                &p.lang,
                fields,
                &notice_url,
            )?;
            let record = parts.outbox.seal(&mail, data_key.as_ref())?;
            self.store.enqueue_mail(&record).await?;
            answered += 1;
        }
        tracing::info!(target: "kura::incidents", incident = incident_id, answered, "affected lookup answered by mail");
        Ok(LookupOutcome::Taken)
    }
}

/// What aftercare did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Aftercare {
    /// Accounts whose password stopped working (their sessions ended too).
    pub passwords_reset: u64,
    /// Guidance mails queued.
    pub mailed: u64,
}

impl Incidents {
    /// Aftercare for the accounts among an incident's people: their passwords stop working
    /// and their sessions end (so a password taken with the data opens nothing), and each gets
    /// a guidance mail on setting a new one, checking card statements, changing reused
    /// passwords and recognising forged mail.
    pub async fn aftercare(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
    ) -> Result<Option<Aftercare>, AppError> {
        Self::allowed(session)?;
        let Some(parts) = self.parts() else {
            return Ok(None);
        };
        if self.store.incident(incident_id).await?.is_none() {
            return Ok(None);
        }
        let base = parts.public_url.trim_end_matches('/');
        let notice_url = format!("{base}/notices/{incident_id}");
        let reset_url = format!("{base}/account/reset");
        let mut done = Aftercare::default();
        let mut after = String::new();
        loop {
            let page = self
                .store
                .incident_people(incident_id, None, &after, BATCH)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.person.clone();
            let accounts: Vec<&IncidentPersonRecord> =
                page.iter().filter(|p| p.customer_id.is_some()).collect();
            let ids: Vec<i64> = accounts.iter().filter_map(|p| p.customer_id).collect();
            done.passwords_reset += self.store.force_password_reset(&ids).await?;
            for p in accounts {
                let Some((profile, data_key)) = open_person(self.store.as_ref(), &parts.vault, p)
                    .await?
                    .filter(|(profile, _)| !is_canary(parts.canaries.as_deref(), profile))
                else {
                    continue;
                };
                let mail = parts.notifier.guidance(
                    profile.email.as_str(),
                    &p.lang,
                    &notice_url,
                    &reset_url,
                )?;
                let record = parts.outbox.seal(&mail, data_key.as_ref())?;
                self.store.enqueue_mail(&record).await?;
                done.mailed += 1;
            }
        }
        self.audit
            .record(
                &session.actor(ip),
                "incident.aftercare",
                &format!("incident:{incident_id}"),
                "password_hash",
                AuditDetail {
                    note: Some(format!(
                        "{} passwords reset and sessions ended; {} guidance mails",
                        done.passwords_reset, done.mailed
                    )),
                    ..Default::default()
                },
            )
            .await?;
        tracing::warn!(target: "kura::incidents", incident = incident_id, reset = done.passwords_reset, "aftercare: passwords reset, sessions ended");
        Ok(Some(done))
    }
}

/// A file for someone outside the shop, made from the records (no personal data in it).
pub struct OutsideExport {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub rows: usize,
}

impl Incidents {
    /// For the card companies: the card orders of the window (number, time, amount, status,
    /// the payment provider's reference), so they can look at the cards behind them. For the
    /// police: the guard's alerts and the audit log from the window's start to now (sources as
    /// pseudonyms, staff by login). Both are audited; neither holds a name or an address.
    pub async fn outside_export(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        incident_id: i64,
        police: bool,
    ) -> Result<Option<OutsideExport>, AppError> {
        use crate::exports::csv_line;
        Self::allowed(session)?;
        let Some(incident) = self.store.incident(incident_id).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let mut csv = String::from("\u{feff}");
        let mut rows = 0;
        if police {
            csv.push_str(&csv_line(&["at", "kind", "what", "who", "detail"]));
            let mut lines: Vec<(i64, String)> = Vec::new();
            for a in self.store.alerts(10_000).await? {
                if a.at < incident.window_start {
                    continue;
                }
                lines.push((
                    a.at,
                    csv_line(&[
                        &japan_minute(a.at),
                        "alert",
                        &format!("{} ({})", a.detector, a.severity),
                        &a.principal,
                        &format!("{} in {} s; {}", a.count, a.window_seconds, a.actions),
                    ]),
                ));
            }
            let filter = crate::records::AuditFilter {
                since: Some(incident.window_start),
                until: Some(now),
                ..Default::default()
            };
            let mut before = None;
            loop {
                let page = self.store.audit_page(&filter, before, 1000).await?;
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                for row in &page {
                    let e = &row.entry;
                    lines.push((
                        e.at,
                        csv_line(&[
                            &japan_minute(e.at),
                            "audit",
                            &e.action,
                            &e.actor,
                            &format!("{} {}", e.target, e.fields),
                        ]),
                    ));
                }
                if page.len() < 1000 {
                    break;
                }
            }
            lines.sort_by_key(|(at, _)| *at);
            rows = lines.len();
            for (_, l) in lines {
                csv.push_str(&l);
            }
        } else {
            csv.push_str(&csv_line(&[
                "order_number",
                "ordered_at",
                "total_yen",
                "status",
                "payment_reference",
            ]));
            let filter = crate::records::OrderFilter {
                since: Some(incident.window_start),
                until: Some(incident.window_end),
                ..Default::default()
            };
            let mut before = None;
            loop {
                let page = self.store.orders_page(&filter, before, 500).await?;
                let Some(last) = page.last() else { break };
                before = Some(last.id);
                for o in page
                    .iter()
                    .filter(|o| o.payment == kura_domain::PaymentMethod::Card)
                {
                    csv.push_str(&csv_line(&[
                        &o.number,
                        &japan_minute(o.created_at),
                        &o.totals.total.0.to_string(),
                        o.status.code(),
                        o.payment_session_id.as_deref().unwrap_or(""),
                    ]));
                    rows += 1;
                }
                if page.len() < 500 {
                    break;
                }
            }
        }
        let what = if police { "police" } else { "card_companies" };
        self.audit
            .record(
                &session.actor(ip),
                "incident.outside_export",
                &format!("incident:{incident_id}"),
                what,
                AuditDetail {
                    note: Some(format!("{rows} rows")),
                    ..Default::default()
                },
            )
            .await?;
        Ok(Some(OutsideExport {
            filename: format!("incident-{incident_id}-{what}.csv"),
            bytes: csv.into_bytes(),
            rows,
        }))
    }
}
