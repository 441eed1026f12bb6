//! The audit log: every staff action and every read of personal data, written before the data
//! leaves the server, in a chain no one can quietly edit.
//!
//! Each entry's MAC is HMAC-SHA256, under a key derived from the master key (which the
//! database does not hold), over the previous entry's MAC and every field of the entry, the
//! sealed detail by its plaintext (so a key rotation that re-seals it leaves the chain whole).
//! [`Audit::verify`] walks the chain and names the first entry that is missing, out of place,
//! edited or forged; the head (place and MAC) is also written to the shop's log with every entry
//! and every ten minutes, so a tail cut off and rewritten is caught against the last head logged
//! ([`Audit::verify`]'s `expect_head`).

use std::sync::Arc;

use kura_seal::{KeyId, MacPurpose};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::AppError;
use crate::ports::Store;
use crate::records::{AuditAppend, AuditEntry, AuditFilter, AuditRow, ReadBudget};
use crate::sealed::col;
use crate::vault::Vault;

/// Who did something: a staff member, the command line, or one of the shop's own jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub staff_id: Option<i64>,
    pub name: String,
    /// Where the request came from (sealed into the entry's detail).
    pub ip: Option<std::net::IpAddr>,
}

impl Actor {
    pub fn cli() -> Self {
        Self {
            staff_id: None,
            name: "cli".into(),
            ip: None,
        }
    }

    pub fn system(job: &str) -> Self {
        Self {
            staff_id: None,
            name: job.into(),
            ip: None,
        }
    }
}

/// What an entry says beyond its plain fields; sealed, since people type the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Anything else worth keeping (a row count, the new role), never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An entry as the owner reads it.
#[derive(Debug, Clone)]
pub struct AuditView {
    pub seq: i64,
    pub at: i64,
    pub staff_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub fields: String,
    pub detail: AuditDetail,
}

/// What [`Audit::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every entry is in place and authentic; `head` is the last (place, MAC), if any.
    Intact {
        entries: u64,
        head: Option<(i64, [u8; 32])>,
    },
    /// The first entry that breaks the chain, and how.
    Broken { seq: i64, problem: ChainProblem },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entries before this place end at `found` (entries are missing or out of place).
    Gap { expected: i64 },
    /// Its MAC does not match its content and the entry before it (edited, reordered or forged).
    Mac,
    /// It was made under a master key this key file does not hold.
    UnknownKey(u32),
    /// The log ends before (or differs at) the head recorded earlier.
    HeadMissing { expected_seq: i64 },
}

impl std::fmt::Display for ChainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Intact { entries, head } => {
                write!(f, "audit log intact: {entries} entries")?;
                if let Some((seq, mac)) = head {
                    write!(f, ", head {seq}:{}", hex::encode(mac))?;
                }
                Ok(())
            }
            Self::Broken { seq, problem } => match problem {
                ChainProblem::Gap { expected } => write!(
                    f,
                    "audit log broken at entry {seq}: entry {expected} was expected there (entries deleted or reordered)"
                ),
                ChainProblem::Mac => write!(
                    f,
                    "audit log broken at entry {seq}: its MAC does not match (edited, reordered or inserted by hand)"
                ),
                ChainProblem::UnknownKey(k) => write!(
                    f,
                    "audit log entry {seq} was made under master key {k}, which this key file does not hold"
                ),
                ChainProblem::HeadMissing { expected_seq } => write!(
                    f,
                    "audit log broken at entry {seq}: the head recorded earlier (entry {expected_seq}) is missing or differs (the tail was cut or rewritten)"
                ),
            },
        }
    }
}

pub struct Audit {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
}

/// The bytes an entry's MAC covers besides the chain: every field, the detail by plaintext.
fn entry_parts(e: &AuditEntry, detail_plain: &[u8]) -> Vec<Vec<u8>> {
    vec![
        e.id.to_be_bytes().to_vec(),
        e.at.to_be_bytes().to_vec(),
        e.staff_id.unwrap_or(-1).to_be_bytes().to_vec(),
        e.actor.as_bytes().to_vec(),
        e.action.as_bytes().to_vec(),
        e.target.as_bytes().to_vec(),
        e.fields.as_bytes().to_vec(),
        detail_plain.to_vec(),
    ]
}

fn chain_mac(
    ring: &kura_seal::KeyRing,
    key_id: u32,
    seq: i64,
    prev: &[u8; 32],
    parts: &[Vec<u8>],
) -> Option<[u8; 32]> {
    let seq_bytes = seq.to_be_bytes();
    let mut all: Vec<&[u8]> = vec![b"kura audit v1", prev, &seq_bytes];
    all.extend(parts.iter().map(Vec::as_slice));
    ring.purpose_mac(MacPurpose::AuditChain, KeyId(key_id), &all)
}

impl Audit {
    pub fn new(store: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            vault,
            clock,
        }
    }

    /// Writes an entry; returns its place. With `budget`, nothing is written when the budget is
    /// spent (`Ok(Err(used))`).
    pub async fn record_within(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        fields: &str,
        detail: AuditDetail,
        budget: Option<&ReadBudget>,
    ) -> Result<Result<i64, u32>, AppError> {
        let ring = self.vault.ring();
        let id = crate::ids::new_id();
        let detail = AuditDetail {
            ip: detail.ip.or_else(|| actor.ip.map(|ip| ip.to_string())),
            ..detail
        };
        let plain = serde_json::to_vec(&detail).map_err(|e| AppError::Task(e.to_string()))?;
        let entry = AuditEntry {
            id,
            at: self.clock.now(),
            staff_id: actor.staff_id,
            actor: actor.name.clone(),
            action: action.to_string(),
            target: target.to_string(),
            fields: fields.to_string(),
            detail: ring.seal(col::AUDIT_DETAIL, id, &plain)?,
            key_id: ring.active_key_id().0,
        };
        let parts = entry_parts(&entry, &plain);
        let key_id = entry.key_id;
        let chain = move |seq: i64, prev: &[u8; 32]| chain_mac(&ring, key_id, seq, prev, &parts);
        match self.store.append_audit(&entry, &chain, budget).await? {
            AuditAppend::Written { seq, mac } => {
                // The new head goes to the shop's log as each entry is written, where the
                // database cannot rewrite it: `verify --head` against the last one logged
                // catches a tail cut off or rewritten later.
                tracing::info!(target: "kura::audit", head_seq = seq, head_mac = %hex::encode(mac), action, "audit log head");
                Ok(Ok(seq))
            }
            AuditAppend::OverBudget { used } => Ok(Err(used)),
        }
    }

    /// Writes an entry; returns its place.
    pub async fn record(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        fields: &str,
        detail: AuditDetail,
    ) -> Result<i64, AppError> {
        match self
            .record_within(actor, action, target, fields, detail, None)
            .await?
        {
            Ok(seq) => Ok(seq),
            Err(_) => Err(AppError::Task("an unbudgeted entry was refused".into())),
        }
    }

    /// Writes the head (place and MAC) to the shop's log, where the database cannot reach.
    pub async fn log_head(&self) -> Result<Option<(i64, [u8; 32])>, AppError> {
        let head = self.store.audit_head().await?;
        if let Some((seq, mac)) = head {
            tracing::info!(target: "kura::audit", head_seq = seq, head_mac = %hex::encode(mac), "audit log head");
        }
        Ok(head)
    }

    fn open_detail(&self, e: &AuditEntry) -> Result<Vec<u8>, AppError> {
        let ring = self.vault.ring_holding(e.detail.key_id().unwrap_or(0));
        Ok(ring.open(col::AUDIT_DETAIL, e.id, &e.detail)?.to_vec())
    }

    /// Walks the whole chain from the first entry. With `expect_head` (a place and MAC logged
    /// earlier), the log must still hold that entry with that MAC.
    pub async fn verify(
        &self,
        expect_head: Option<(i64, [u8; 32])>,
    ) -> Result<ChainReport, AppError> {
        let ring = self.vault.ring();
        let mut prev = [0u8; 32];
        let mut expected = 1i64;
        let mut head = None;
        let mut head_seen = expect_head.is_none();
        loop {
            let rows = self.store.audit_after(expected - 1, 500).await?;
            if rows.is_empty() {
                break;
            }
            for AuditRow { seq, entry, mac } in rows {
                if seq != expected {
                    return Ok(ChainReport::Broken {
                        seq,
                        problem: ChainProblem::Gap { expected },
                    });
                }
                if !ring.holds(KeyId(entry.key_id)) {
                    return Ok(ChainReport::Broken {
                        seq,
                        problem: ChainProblem::UnknownKey(entry.key_id),
                    });
                }
                let plain = match self.open_detail(&entry) {
                    Ok(p) => p,
                    Err(_) => {
                        return Ok(ChainReport::Broken {
                            seq,
                            problem: ChainProblem::Mac,
                        });
                    }
                };
                let parts = entry_parts(&entry, &plain);
                let ok = chain_mac(&ring, entry.key_id, seq, &prev, &parts)
                    .is_some_and(|m| kura_seal::constant_time_eq(&m, &mac));
                if !ok {
                    return Ok(ChainReport::Broken {
                        seq,
                        problem: ChainProblem::Mac,
                    });
                }
                if let Some((hs, hm)) = expect_head
                    && hs == seq
                {
                    if !kura_seal::constant_time_eq(&hm, &mac) {
                        return Ok(ChainReport::Broken {
                            seq,
                            problem: ChainProblem::HeadMissing { expected_seq: hs },
                        });
                    }
                    head_seen = true;
                }
                prev = mac;
                head = Some((seq, mac));
                expected += 1;
            }
        }
        if !head_seen && let Some((hs, _)) = expect_head {
            return Ok(ChainReport::Broken {
                seq: expected,
                problem: ChainProblem::HeadMissing { expected_seq: hs },
            });
        }
        Ok(ChainReport::Intact {
            entries: u64::try_from(expected - 1).unwrap_or(0),
            head,
        })
    }

    /// Re-chains the whole log under the active master key, after checking every entry against
    /// the chain as stored (a broken chain is refused, never laundered): what `kura keys
    /// retire` does before an old key goes, so entries stay verifiable without it. Returns how
    /// many entries were re-chained, or the first broken entry.
    pub async fn rechain(&self) -> Result<Result<u64, i64>, AppError> {
        let ring = self.vault.ring();
        let active = ring.active_key_id().0;
        let open = |row: &AuditRow| -> Option<Vec<u8>> {
            let r = self
                .vault
                .ring_holding(row.entry.detail.key_id().unwrap_or(0));
            r.open(col::AUDIT_DETAIL, row.entry.id, &row.entry.detail)
                .ok()
                .map(|p| p.to_vec())
        };
        let check_ring = Arc::clone(&ring);
        let check = move |seq: i64, prev: &[u8; 32], row: &AuditRow| -> bool {
            let Some(plain) = open(row) else {
                return false;
            };
            chain_mac(
                &check_ring,
                row.entry.key_id,
                seq,
                prev,
                &entry_parts(&row.entry, &plain),
            )
            .is_some_and(|m| kura_seal::constant_time_eq(&m, &row.mac))
        };
        let remac = move |seq: i64, prev: &[u8; 32], row: &AuditRow| -> Option<[u8; 32]> {
            let r = self
                .vault
                .ring_holding(row.entry.detail.key_id().unwrap_or(0));
            let plain = r
                .open(col::AUDIT_DETAIL, row.entry.id, &row.entry.detail)
                .ok()?;
            let mut entry = row.entry.clone();
            entry.key_id = active;
            chain_mac(&ring, active, seq, prev, &entry_parts(&entry, &plain))
        };
        let done = self.store.rechain_audit(active, &check, &remac).await?;
        if done.is_ok() {
            self.log_head().await?;
        }
        Ok(done)
    }

    /// Entries matching `filter`, newest first, with their detail opened (the owner's view).
    pub async fn page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditView>, AppError> {
        let rows = self.store.audit_page(filter, before_seq, limit).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let detail = self
                    .open_detail(&r.entry)
                    .ok()
                    .and_then(|p| serde_json::from_slice(&p).ok())
                    .unwrap_or_default();
                AuditView {
                    seq: r.seq,
                    at: r.entry.at,
                    staff_id: r.entry.staff_id,
                    actor: r.entry.actor,
                    action: r.entry.action,
                    target: r.entry.target,
                    fields: r.entry.fields,
                    detail,
                }
            })
            .collect())
    }
}

/// Parses `SEQ:HEX` as logged (`head_seq`, `head_mac`).
pub fn parse_head(text: &str) -> Option<(i64, [u8; 32])> {
    let (seq, mac) = text.trim().split_once(':')?;
    let mac: [u8; 32] = hex::decode(mac).ok()?.try_into().ok()?;
    Some((seq.parse().ok()?, mac))
}
