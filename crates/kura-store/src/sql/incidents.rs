//! Incidents and the dated entries of their public notice pages.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::IncidentRepo;
use kura_app::records::{IncidentEntryRecord, IncidentRecord};
use sqlx::Row;

use super::{DbRow, This};
use crate::db_err;

fn incident_from_row(r: &DbRow) -> Result<IncidentRecord, sqlx::Error> {
    let categories: String = r.try_get("categories")?;
    Ok(IncidentRecord {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        discovered_at: r.try_get("discovered_at")?,
        window_start: r.try_get("window_start")?,
        window_end: r.try_get("window_end")?,
        cause: r.try_get("cause")?,
        categories: categories
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        keys_exposed: r.try_get::<i64, _>("keys_exposed")? != 0,
        attack: r.try_get::<i64, _>("attack")? != 0,
        declared_by: r.try_get("declared_by")?,
        declared_at: r.try_get("declared_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

fn entry_from_row(r: &DbRow) -> Result<IncidentEntryRecord, sqlx::Error> {
    Ok(IncidentEntryRecord {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        kind: r.try_get("kind")?,
        title_ja: r.try_get("title_ja")?,
        body_ja: r.try_get("body_ja")?,
        title_en: r.try_get("title_en")?,
        body_en: r.try_get("body_en")?,
        published_at: r.try_get("published_at")?,
        staff_id: r.try_get("staff_id")?,
    })
}

#[async_trait]
impl IncidentRepo for This {
    async fn insert_incident(&self, i: &IncidentRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO incidents (id, title, discovered_at, window_start, window_end, cause, \
                 categories, keys_exposed, attack, declared_by, declared_at, closed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(i.id)
            .bind(&i.title)
            .bind(i.discovered_at)
            .bind(i.window_start)
            .bind(i.window_end)
            .bind(&i.cause)
            .bind(i.categories.join(","))
            .bind(i64::from(i.keys_exposed))
            .bind(i64::from(i.attack))
            .bind(i.declared_by)
            .bind(i.declared_at)
            .bind(i.closed_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn incidents(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM incidents ORDER BY declared_at DESC, id DESC")
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(incident_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(incident_from_row)
            .transpose()
            .map_err(db_err)
    }

    async fn close_incident(&self, id: i64, at: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE incidents SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        })
    }

    async fn insert_incident_entry(&self, e: &IncidentEntryRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO incident_entries (id, incident_id, kind, title_ja, body_ja, title_en, \
                 body_en, published_at, staff_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(e.id)
            .bind(e.incident_id)
            .bind(&e.kind)
            .bind(&e.title_ja)
            .bind(&e.body_ja)
            .bind(&e.title_en)
            .bind(&e.body_en)
            .bind(e.published_at)
            .bind(e.staff_id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn incident_entries(
        &self,
        incident_id: i64,
    ) -> Result<Vec<IncidentEntryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incident_entries WHERE incident_id = $1 ORDER BY published_at, id",
        )
        .bind(incident_id)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }
}
