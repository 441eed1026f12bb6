//! The guard's events, alerts and blocks.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::GuardRepo;
use kura_app::records::{AlertRecord, BlockRecord, SecurityEventRecord};
use sqlx::Row;

use super::{DbRow, This};
use crate::db_err;

fn alert_from_row(r: &DbRow) -> Result<AlertRecord, sqlx::Error> {
    Ok(AlertRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        detector: r.try_get("detector")?,
        severity: r.try_get("severity")?,
        principal: r.try_get("principal")?,
        count: r.try_get("count")?,
        window_seconds: r.try_get("window_seconds")?,
        actions: r.try_get("actions")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
        acknowledged_by: r.try_get("acknowledged_by")?,
        note: r
            .try_get::<Option<Vec<u8>>, _>("note")?
            .map(kura_seal::Sealed::from_stored),
    })
}

fn block_from_row(r: &DbRow) -> Result<BlockRecord, sqlx::Error> {
    Ok(BlockRecord {
        source: r.try_get("source")?,
        until: r.try_get("until")?,
        detector: r.try_get("detector")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl GuardRepo for This {
    async fn insert_security_events(
        &self,
        events: &[SecurityEventRecord],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            for e in events {
                sqlx::query(
                    "INSERT INTO security_events (id, at, kind, source, subject, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(e.id)
                .bind(e.at)
                .bind(&e.kind)
                .bind(&e.source)
                .bind(e.subject)
                .bind(&e.detail)
                .execute(&mut *tx)
                .await?;
            }
        })
    }

    async fn security_event_counts(
        &self,
        since: i64,
        bucket_seconds: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let bucket = bucket_seconds.max(1);
        let rows = sqlx::query(
            "SELECT (at / $1) * $1 AS bucket, kind, COUNT(*) AS n FROM security_events \
             WHERE at >= $2 GROUP BY (at / $1) * $1, kind ORDER BY bucket, kind",
        )
        .bind(bucket)
        .bind(since)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get("bucket")?, r.try_get("kind")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn purge_security_events(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM security_events WHERE id IN \
                 (SELECT id FROM security_events WHERE at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected()
        })
    }

    async fn insert_alert(&self, a: &AlertRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO guard_alerts (id, at, detector, severity, principal, count, \
                 window_seconds, actions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(a.id)
            .bind(a.at)
            .bind(&a.detector)
            .bind(&a.severity)
            .bind(&a.principal)
            .bind(a.count)
            .bind(a.window_seconds)
            .bind(&a.actions)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn alerts(&self, limit: u32) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM guard_alerts ORDER BY at DESC, id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(alert_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn acknowledge_alert(
        &self,
        id: i64,
        by: i64,
        now: i64,
        note: Option<&kura_seal::Sealed>,
    ) -> Result<bool, StoreError> {
        let note = note.map(|n| n.as_bytes().to_vec());
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE guard_alerts SET acknowledged_at = $1, acknowledged_by = $2, note = $3 \
                 WHERE id = $4 AND acknowledged_at IS NULL",
            )
            .bind(now)
            .bind(by)
            .bind(note.clone())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn upsert_block(&self, b: &BlockRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let moved = sqlx::query(
                "UPDATE guard_blocks SET until = $1, detector = $2 WHERE source = $3 AND until < $1",
            )
            .bind(b.until)
            .bind(&b.detector)
            .bind(&b.source)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                sqlx::query(
                    "INSERT INTO guard_blocks (source, until, detector, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (source) DO NOTHING",
                )
                .bind(&b.source)
                .bind(b.until)
                .bind(&b.detector)
                .bind(b.created_at)
                .execute(&mut *tx)
                .await?;
            }
        })
    }

    async fn active_blocks(&self, now: i64) -> Result<Vec<BlockRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM guard_blocks WHERE until > $1 ORDER BY until DESC")
            .bind(now)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(block_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn delete_block(&self, source: &str) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM guard_blocks WHERE source = $1")
                .bind(source)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        })
    }
}
