//! Which master keys the data needs, checked against the key file at every start and by the
//! readiness probe.
//!
//! Guarantees: the database records each master key id with a check value (an HMAC of a fixed
//! label under a key derived from it; see [`kura_seal::KeyRing::check_value`]) and the key's
//! creation time. A key file that lacks a recorded key (missing volume, an older copy from
//! before a rotation) or holds another key under a recorded id (another shop's file) is
//! refused with a message naming the key the database needs; a shop is never split between two
//! key files. Keys new to the database (the first start, a rotation) are recorded.

use kura_seal::{KeyId, KeyMaterial, KeyRing};

use crate::error::StoreError;
use crate::ports::Store;
use crate::sealed::KeyCheck;

/// Why a key file cannot serve this database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileMismatch {
    #[error(
        "the database needs master key {id} (created {created}), which the key file does not hold{hint}; \
         start with the shop's current key file (restore it from its backup, or mount the volume that holds it)"
    )]
    Missing {
        id: u32,
        created: String,
        /// Set when the file holds only older keys: it is a copy from before a rotation.
        hint: &'static str,
    },
    #[error(
        "the key file's master key {id} is not the key this database was sealed with (that key was created {created}): \
         the key file belongs to another shop; start with this shop's key file"
    )]
    Different { id: u32, created: String },
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
fn when(unix: i64) -> String {
    let date = kura_domain::Date::from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        date.iso(),
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// What is wrong between the recorded keys and `ring`; empty when the ring serves the data.
pub fn mismatches(recorded: &[KeyCheck], ring: &KeyRing) -> Vec<KeyFileMismatch> {
    let newest_held = ring.key_ids().map(|k| k.0).max().unwrap_or(0);
    recorded
        .iter()
        .filter_map(|c| {
            let created = when(c.key_created_at);
            match ring.check_value(KeyId(c.key_id)) {
                None => Some(KeyFileMismatch::Missing {
                    id: c.key_id,
                    created,
                    hint: if newest_held < c.key_id {
                        " (the key file is an older copy, from before a key rotation)"
                    } else {
                        ""
                    },
                }),
                Some(v) if !kura_seal::constant_time_eq(&v, &c.check_value) => {
                    Some(KeyFileMismatch::Different {
                        id: c.key_id,
                        created,
                    })
                }
                Some(_) => None,
            }
        })
        .collect()
}

/// At start: refuses a key file that cannot serve the database, then records the keys of the
/// file the database does not know yet (a new shop, the first start after an upgrade).
pub async fn verify_and_record(
    store: &dyn Store,
    material: &KeyMaterial,
    now: i64,
) -> Result<Result<(), KeyFileMismatch>, StoreError> {
    let ring = KeyRing::from_material(material)
        .map_err(|e| StoreError::Unavailable(format!("the key file cannot be used: {e}")))?;
    let recorded = store.key_checks().await?;
    if let Some(first) = mismatches(&recorded, &ring).into_iter().next() {
        return Ok(Err(first));
    }
    record_new(store, material, &recorded, now).await?;
    Ok(Ok(()))
}

/// Records the keys of `material` that `recorded` lacks (a rotation's new key is recorded
/// before anything is sealed under it).
pub async fn record_new(
    store: &dyn Store,
    material: &KeyMaterial,
    recorded: &[KeyCheck],
    now: i64,
) -> Result<(), StoreError> {
    let ring = KeyRing::from_material(material)
        .map_err(|e| StoreError::Unavailable(format!("the key file cannot be used: {e}")))?;
    for info in &material.keys {
        if recorded.iter().any(|c| c.key_id == info.id.0) {
            continue;
        }
        let Some(check_value) = ring.check_value(info.id) else {
            continue;
        };
        store
            .record_key_check(&KeyCheck {
                key_id: info.id.0,
                check_value,
                key_created_at: info.created,
                recorded_at: now,
            })
            .await?;
        tracing::info!(target: "kura::keys", key = info.id.0, "master key recorded by its check value");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(ring: &KeyRing, created: i64) -> KeyCheck {
        let id = ring.active_key_id();
        KeyCheck {
            key_id: id.0,
            check_value: ring.check_value(id).unwrap(),
            key_created_at: created,
            recorded_at: created,
        }
    }

    #[test]
    fn the_right_ring_passes_and_another_shops_is_named() {
        let ours = KeyRing::ephemeral().unwrap();
        let theirs = KeyRing::ephemeral().unwrap();
        let recorded = vec![check(&ours, 1_764_547_200)];
        assert!(mismatches(&recorded, &ours).is_empty());
        let wrong = mismatches(&recorded, &theirs);
        assert_eq!(wrong.len(), 1);
        let text = wrong[0].to_string();
        assert!(text.contains("another shop"), "{text}");
        assert!(text.contains("2025-12-01 00:00 UTC"), "{text}");
    }

    #[test]
    fn an_older_copy_is_told_apart_from_a_missing_key() {
        let mut material = KeyMaterial::generate().unwrap();
        let old = KeyRing::from_material(&material).unwrap();
        material.add_active_key().unwrap();
        let new = KeyRing::from_material(&material).unwrap();
        let recorded: Vec<KeyCheck> = new
            .key_ids()
            .map(|id| KeyCheck {
                key_id: id.0,
                check_value: new.check_value(id).unwrap(),
                key_created_at: 0,
                recorded_at: 0,
            })
            .collect();
        assert!(mismatches(&recorded, &new).is_empty());
        let wrong = mismatches(&recorded, &old);
        assert_eq!(wrong.len(), 1);
        assert!(wrong[0].to_string().contains("older copy"), "{}", wrong[0]);
    }
}
