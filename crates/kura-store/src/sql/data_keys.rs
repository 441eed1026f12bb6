//! People's data keys, stored wrapped: created with the row of the person they belong to, read
//! back with it (a `LEFT JOIN`, so an erased person's rows come back naming a key that is gone),
//! and deleted to erase the person. Written once, compiled once per backend.

use kura_app::sealed::DataKeyRef;
use kura_seal::Sealed;
use sqlx::Row;

use super::{Conn, DbRow};
use crate::now_epoch;

/// The data key a row names; the query reads its table as `t` with
/// `dk.wrapped AS data_key_wrapped ... LEFT JOIN data_keys dk ON dk.id = t.data_key_id`.
pub(crate) fn from_row(r: &DbRow) -> Result<Option<DataKeyRef>, sqlx::Error> {
    let id: Option<i64> = r.try_get("data_key_id")?;
    Ok(match id {
        Some(id) => Some(DataKeyRef {
            id,
            wrapped: r
                .try_get::<Option<Vec<u8>>, _>("data_key_wrapped")?
                .map(Sealed::from_stored),
        }),
        None => None,
    })
}

/// A data key, unless stored already.
pub(crate) const INSERT: &str = "INSERT INTO data_keys (id, wrapped, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";

/// Stores the key a new row brings (its wrapped form set); a key already stored is left as it
/// is (an account's key, named again by the account's order).
pub(crate) async fn ensure(tx: &mut Conn, key: Option<&DataKeyRef>) -> Result<(), sqlx::Error> {
    let Some(DataKeyRef {
        id,
        wrapped: Some(wrapped),
    }) = key
    else {
        return Ok(());
    };
    sqlx::query(INSERT)
        .bind(id)
        .bind(wrapped.as_bytes().to_vec())
        .bind(now_epoch())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The id a row stores for its key.
pub(crate) fn id_of(key: Option<&DataKeyRef>) -> Option<i64> {
    key.map(|k| k.id)
}

/// A blind index that matches nothing any more: the stored key id kept, the MAC random.
pub(crate) fn tombstone(stored: Vec<u8>) -> Result<Vec<u8>, sqlx::Error> {
    let mut t = stored.get(..4).unwrap_or_default().to_vec();
    t.extend_from_slice(
        &kura_seal::random_bytes::<32>().map_err(|e| sqlx::Error::Protocol(e.to_string()))?,
    );
    Ok(t)
}

/// Deletes a data key and the queued mails sealed under it: every value sealed under it,
/// wherever it lies, is noise from now on.
pub(crate) async fn destroy(tx: &mut Conn, key: i64) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM mail_outbox WHERE data_key_id = $1")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query("DELETE FROM data_keys WHERE id = $1")
        .bind(key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}
