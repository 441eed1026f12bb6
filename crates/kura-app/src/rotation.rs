//! Key rotation: every sealed value and blind index moves to the active key, in batches.
//!
//! Resumable by construction: a batch is one transaction, a row already under the active key is
//! skipped, and a row that changed while it was being re-sealed is left for the next pass. A
//! crash at any point leaves every value readable (old or new key), and running `rotate` again
//! continues where it stopped. Old keys are retired only when [`key_usage`] counts none.
//!
//! Personal values under a person's data key are not re-sealed: the data keys themselves (the
//! `data_keys` table) are re-wrapped, and blind indexes recomputed, which is what makes a
//! rotation's cost a row per person instead of a value per field.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use kura_seal::{BlindIndex, KeyId, KeyRing, Sealed};

use crate::clock::{Clock, SystemClock};
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::ports::Store;
use crate::sealed::{ResealedRow, SEALED_TABLES, SealedRow, SealedTable};
use crate::vault::Vault;

#[derive(Debug, Clone)]
pub struct RotationProgress {
    pub table: &'static str,
    pub scanned: u64,
    pub total: u64,
    pub resealed: u64,
}

/// Values per key id, over every sealed column and blind index of the schema.
pub async fn key_usage(store: &dyn Store) -> Result<BTreeMap<u32, u64>, AppError> {
    let mut counts = BTreeMap::new();
    for table in SEALED_TABLES {
        let mut after = i64::MIN;
        loop {
            let rows = store.sealed_rows(table, after, 2000).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in &rows {
                for v in row.sealed.iter().flatten() {
                    // Under a data key: counted through the data key that wraps it.
                    let Ok(id) = Sealed::from_stored(v.clone()).key_id() else {
                        continue;
                    };
                    *counts.entry(id).or_insert(0) += 1;
                }
                for v in row.blind.iter().flatten() {
                    let id = BlindIndex::from_stored(v.clone()).key_id().unwrap_or(0);
                    *counts.entry(id).or_insert(0) += 1;
                }
            }
        }
    }
    // The audit log's MACs: an entry can be verified only with the key that made its MAC,
    // so that key stays in use as long as the entry is kept.
    let mut after = 0;
    loop {
        let rows = store.audit_after(after, 2000).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            *counts.entry(row.entry.key_id).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn needs_reseal(row: &SealedRow, active: u32) -> bool {
    // Values under a data key have no master key id; an erased person's emptied values none.
    row.sealed
        .iter()
        .flatten()
        .any(|v| matches!(Sealed::from_stored(v.clone()).key_id(), Ok(id) if id != active))
        || row
            .blind
            .iter()
            .flatten()
            .any(|v| BlindIndex::from_stored(v.clone()).key_id() != Some(active))
}

fn reseal_row(
    ring: &Arc<KeyRing>,
    table: &SealedTable,
    row: &SealedRow,
) -> Result<ResealedRow, AppError> {
    let keys = PersonKeys::of_in(Arc::clone(ring), row.data_key.as_ref())?;
    if keys.erased() {
        // Nothing of an erased person opens: the values stay noise, and the blind indexes
        // become tombstones under the new key (they matched nothing anyway).
        let blind = row
            .blind
            .iter()
            .map(|b| match b {
                Some(_) => ring.tombstone_index().map(|t| Some(t.as_bytes().to_vec())),
                None => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        return Ok(ResealedRow {
            old: row.clone(),
            sealed: row.sealed.clone(),
            blind,
        });
    }
    let mut plain = Vec::with_capacity(row.sealed.len());
    let mut sealed = Vec::with_capacity(row.sealed.len());
    for (name, value) in table.sealed.iter().zip(&row.sealed) {
        match value {
            Some(bytes) => {
                let col = table.column(name);
                let stored = Sealed::from_stored(bytes.clone());
                // Opened only as far as a blind index needs it, or to move it to the new key.
                let needed =
                    !stored.under_data_key() || table.blind.iter().any(|b| b.source == *name);
                let opened = if needed {
                    Some(keys.open(col, row.id, &stored)?)
                } else {
                    None
                };
                if stored.under_data_key() {
                    sealed.push(Some(bytes.clone()));
                } else if let Some(p) = &opened {
                    sealed.push(Some(ring.seal(col, row.id, p)?.into_bytes()));
                }
                plain.push(opened);
            }
            None => {
                sealed.push(None);
                plain.push(None);
            }
        }
    }
    let mut blind = Vec::with_capacity(table.blind.len());
    for b in table.blind {
        let source = table
            .sealed
            .iter()
            .position(|s| *s == b.source)
            .and_then(|i| plain.get(i))
            .and_then(Option::as_ref);
        let text = match source {
            Some(p) => {
                let text = std::str::from_utf8(p).map_err(|_| kura_seal::SealError::NotText)?;
                crate::sealed::blind_source(text, b.json_path)
            }
            None => None,
        };
        // The blind-index key belongs to the index column, so two indexes of one record differ.
        let column = kura_seal::Column::new(table.table, b.column);
        blind.push(match text {
            Some(text) => Some(ring.blind_index(column, &text, b.how)?.as_bytes().to_vec()),
            None => None,
        });
    }
    Ok(ResealedRow {
        old: row.clone(),
        sealed,
        blind,
    })
}

/// One pass over every sealed table. Returns how many rows were re-sealed.
pub async fn reseal_pass(
    store: &dyn Store,
    vault: &Vault,
    batch: u32,
    on_progress: &mut (dyn FnMut(&RotationProgress) + Send),
) -> Result<u64, AppError> {
    let mut written = 0;
    for table in SEALED_TABLES {
        let total = store.count_rows(table).await?;
        let mut progress = RotationProgress {
            table: table.table,
            scanned: 0,
            total,
            resealed: 0,
        };
        let mut after = i64::MIN;
        loop {
            let rows = store.sealed_rows(table, after, batch).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let ring = vault.ring();
            let active = ring.active_key_id().0;
            let mut changed = Vec::new();
            for row in rows.iter().filter(|r| needs_reseal(r, active)) {
                changed.push(reseal_row(&ring, table, row)?);
            }
            let n = if changed.is_empty() {
                0
            } else {
                store.reseal_rows(table, &changed).await?
            };
            progress.scanned += rows.len() as u64;
            progress.resealed += n;
            written += n;
            on_progress(&progress);
        }
    }
    Ok(written)
}

#[derive(Debug, Clone)]
pub struct RotationOutcome {
    pub active: KeyId,
    pub resumed: bool,
    pub resealed: u64,
    pub usage: BTreeMap<u32, u64>,
}

/// Rotates to a new key, or resumes an unfinished rotation to the active key.
///
/// Passes repeat until one finds nothing left and every running node has had `settle` to pick
/// up the new key (their writes made before that would otherwise use the old key).
pub async fn rotate(
    store: &dyn Store,
    vault: &Vault,
    batch: u32,
    settle: Duration,
    on_progress: &mut (dyn FnMut(&RotationProgress) + Send),
) -> Result<RotationOutcome, AppError> {
    vault.reload()?;
    let ring = vault.ring();
    let usage = key_usage(store).await?;
    let active = ring.active_key_id();
    let unfinished = usage.keys().any(|k| *k != active.0);
    let resumed = unfinished && usage.get(&active.0).copied().unwrap_or(0) > 0;
    let active = if resumed {
        active
    } else {
        let mut material = vault.provider().load()?;
        let id = material.add_active_key()?;
        vault.provider().store(&material)?;
        // Recorded at once (before any value is re-sealed under it), so a start with a copy of
        // the key file from before this rotation is refused. Recorded after the file is
        // written: a failed write must not leave the database asking for a key nobody holds.
        let recorded = store.key_checks().await?;
        crate::key_checks::record_new(store, &material, &recorded, SystemClock.now()).await?;
        vault.reload()?;
        id
    };
    let started = Instant::now();
    let mut resealed = 0;
    loop {
        let n = reseal_pass(store, vault, batch, on_progress).await?;
        resealed += n;
        if n == 0 && started.elapsed() >= settle {
            break;
        }
        if n == 0 {
            tokio::time::sleep(
                settle
                    .saturating_sub(started.elapsed())
                    .min(Duration::from_secs(1)),
            )
            .await;
        }
    }
    Ok(RotationOutcome {
        active,
        resumed,
        resealed,
        usage: key_usage(store).await?,
    })
}

/// Removes every non-active key that no value uses any more. Returns the retired ids, or the
/// keys still in use.
pub async fn retire_unused(
    store: &dyn Store,
    vault: &Vault,
) -> Result<Result<Vec<KeyId>, BTreeMap<u32, u64>>, AppError> {
    let usage = key_usage(store).await?;
    let mut material = vault.provider().load()?;
    let active = material.active;
    let still_used: BTreeMap<u32, u64> = usage
        .iter()
        .filter(|(k, _)| **k != active.0)
        .map(|(k, v)| (*k, *v))
        .collect();
    let candidates: Vec<KeyId> = material
        .keys
        .iter()
        .map(|k| k.id)
        .filter(|id| *id != active && !still_used.contains_key(&id.0))
        .collect();
    if candidates.is_empty() && !still_used.is_empty() {
        return Ok(Err(still_used));
    }
    for id in &candidates {
        material.retire(*id)?;
    }
    // Forgotten by the database before the file drops them: a crash in between leaves a key
    // the file holds and the database re-records, never one the database needs and lacks.
    for id in &candidates {
        store.delete_key_check(id.0).await?;
    }
    if !candidates.is_empty() {
        vault.provider().store(&material)?;
        vault.reload()?;
    }
    Ok(Ok(candidates))
}
