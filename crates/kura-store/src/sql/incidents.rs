//! Incidents and the dated entries of their public notice pages.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::IncidentRepo;
use kura_app::records::{
    IncidentEntryRecord, IncidentPersonRecord, IncidentRecord, OutboxRecord, ScopeCustomerRow,
    ScopeOrderRow,
};
use sqlx::{AssertSqlSafe, Row};

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
        campaign_started_at: r.try_get("campaign_started_at")?,
        people: r.try_get("people")?,
    })
}

fn person_from_row(r: &DbRow) -> Result<IncidentPersonRecord, sqlx::Error> {
    Ok(IncidentPersonRecord {
        incident_id: r.try_get("incident_id")?,
        person: r.try_get("person")?,
        customer_id: r.try_get("customer_id")?,
        order_id: r.try_get("order_id")?,
        found_by: r.try_get("found_by")?,
        fields: r.try_get("fields")?,
        reach: r.try_get("reach")?,
        status: r.try_get("status")?,
        lang: r.try_get("lang")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Rows per multi-row insert (10 columns each, well under either backend's bind limit).
const PEOPLE_PER_INSERT: usize = 400;

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

    async fn scope_customers(&self, until: i64) -> Result<Vec<ScopeCustomerRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, email_bidx, phone_bidx, created_at, \
             CASE WHEN birth_date IS NULL THEN 0 ELSE 1 END AS has_birth, \
             CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password \
             FROM customers WHERE created_at <= $1",
        )
        .bind(until)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ScopeCustomerRow {
                    id: r.try_get("id")?,
                    email_bidx: r.try_get("email_bidx")?,
                    phone_bidx: r.try_get("phone_bidx")?,
                    created_at: r.try_get("created_at")?,
                    has_birth_date: r.try_get::<i32, _>("has_birth")? != 0,
                    has_password: r.try_get::<i32, _>("has_password")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn scope_orders(&self, until: i64) -> Result<Vec<ScopeOrderRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, number, customer_id, email_bidx, phone_bidx, created_at, lang \
             FROM orders WHERE created_at <= $1",
        )
        .bind(until)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ScopeOrderRow {
                    id: r.try_get("id")?,
                    number: r.try_get("number")?,
                    customer_id: r.try_get("customer_id")?,
                    email_bidx: r.try_get("email_bidx")?,
                    phone_bidx: r.try_get("phone_bidx")?,
                    created_at: r.try_get("created_at")?,
                    lang: r.try_get("lang")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn audit_targets_between(
        &self,
        actions: &[&str],
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for action in actions {
            let targets: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT target FROM audit_log WHERE action = $1 AND at >= $2 AND at <= $3",
            )
            .bind(*action)
            .bind(from)
            .bind(to)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
            out.extend(targets);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn replace_incident_people(
        &self,
        incident_id: i64,
        people: &[IncidentPersonRecord],
    ) -> Result<(), StoreError> {
        let count = i64::try_from(people.len()).unwrap_or(i64::MAX);
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM incident_people WHERE incident_id = $1")
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
            for chunk in people.chunks(PEOPLE_PER_INSERT) {
                let mut sql = String::from(
                    "INSERT INTO incident_people (incident_id, person, customer_id, order_id, \
                     found_by, fields, reach, status, lang, updated_at) VALUES ",
                );
                for i in 0..chunk.len() {
                    let b = i * 10;
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9,
                        b + 10
                    ));
                }
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for p in chunk {
                    q = q
                        .bind(incident_id)
                        .bind(&p.person)
                        .bind(p.customer_id)
                        .bind(p.order_id)
                        .bind(&p.found_by)
                        .bind(&p.fields)
                        .bind(&p.reach)
                        .bind(&p.status)
                        .bind(&p.lang)
                        .bind(p.updated_at);
                }
                q.execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE incidents SET people = $1 WHERE id = $2")
                .bind(count)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn incident_people(
        &self,
        incident_id: i64,
        status: Option<&str>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<IncidentPersonRecord>, StoreError> {
        let rows = match status {
            Some(status) => {
                sqlx::query(
                    "SELECT * FROM incident_people WHERE incident_id = $1 AND status = $2 \
                     AND person > $3 ORDER BY person LIMIT $4",
                )
                .bind(incident_id)
                .bind(status)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(self.reads())
                .await
            }
            None => {
                sqlx::query(
                    "SELECT * FROM incident_people WHERE incident_id = $1 AND person > $2 \
                     ORDER BY person LIMIT $3",
                )
                .bind(incident_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(self.reads())
                .await
            }
        }
        .map_err(db_err)?;
        rows.iter()
            .map(person_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn incident_people_tally(
        &self,
        incident_id: i64,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT fields, reach, status, COUNT(*) AS n FROM incident_people \
             WHERE incident_id = $1 GROUP BY fields, reach, status",
        )
        .bind(incident_id)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("fields")?,
                    r.try_get("reach")?,
                    r.try_get("status")?,
                    r.try_get("n")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn incident_notice_batch(
        &self,
        incident_id: i64,
        items: &[(String, String, Option<OutboxRecord>)],
        now: i64,
    ) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            let mut moved = 0u64;
            for (person, status, mail) in items {
                let done = sqlx::query(
                    "UPDATE incident_people SET status = $1, updated_at = $2, \
                     reach = CASE WHEN $1 = 'bounced' THEN 'post' ELSE reach END \
                     WHERE incident_id = $3 AND person = $4 AND status = 'pending'",
                )
                .bind(status)
                .bind(now)
                .bind(incident_id)
                .bind(person)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 1 {
                    moved += 1;
                    if let Some(mail) = mail {
                        super::shop::insert_mail(&mut *tx, mail).await?;
                    }
                }
            }
            moved
        })
    }

    async fn set_incident_people_status(
        &self,
        incident_id: i64,
        persons: &[String],
        from: &[&str],
        to: &str,
        reach: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            let mut moved = 0u64;
            for person in persons {
                for status in from {
                    moved += sqlx::query(
                        "UPDATE incident_people SET status = $1, updated_at = $2, \
                         reach = COALESCE($3, reach) \
                         WHERE incident_id = $4 AND person = $5 AND status = $6",
                    )
                    .bind(to)
                    .bind(now)
                    .bind(reach)
                    .bind(incident_id)
                    .bind(person)
                    .bind(*status)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
            moved
        })
    }

    async fn undeliverable_all(
        &self,
    ) -> Result<Vec<kura_app::records::UndeliverableRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM mail_undeliverable ORDER BY id")
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(kura_app::records::UndeliverableRecord {
                    id: r.try_get("id")?,
                    address: kura_seal::Sealed::from_stored(r.try_get("address")?),
                    email_bidx: kura_seal::BlindIndex::from_stored(r.try_get("email_bidx")?),
                    status: r.try_get("status")?,
                    source: r.try_get("source")?,
                    marked_at: r.try_get("marked_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn incident_person(
        &self,
        incident_id: i64,
        person: &str,
    ) -> Result<Option<IncidentPersonRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM incident_people WHERE incident_id = $1 AND person = $2")
                .bind(incident_id)
                .bind(person)
                .fetch_optional(self.reads())
                .await
                .map_err(db_err)?;
        row.as_ref()
            .map(person_from_row)
            .transpose()
            .map_err(db_err)
    }

    async fn people_with_phone(
        &self,
        customer_bidx: &[Vec<u8>],
        order_bidx: &[Vec<u8>],
        limit: u32,
    ) -> Result<(Vec<i64>, Vec<(i64, Vec<u8>)>), StoreError> {
        let mut customers = Vec::new();
        for b in customer_bidx {
            let ids: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM customers WHERE phone_bidx = $1 LIMIT $2")
                    .bind(b.as_slice())
                    .bind(i64::from(limit))
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
            customers.extend(ids);
        }
        let mut orders = Vec::new();
        for b in order_bidx {
            let rows = sqlx::query(
                "SELECT id, email_bidx FROM orders WHERE phone_bidx = $1 AND customer_id IS NULL \
                 ORDER BY created_at DESC LIMIT $2",
            )
            .bind(b.as_slice())
            .bind(i64::from(limit))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
            for r in &rows {
                orders.push((
                    r.try_get("id").map_err(db_err)?,
                    r.try_get("email_bidx").map_err(db_err)?,
                ));
            }
        }
        Ok((customers, orders))
    }

    async fn force_password_reset(&self, customer_ids: &[i64]) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            let mut cleared = 0u64;
            for id in customer_ids {
                cleared += sqlx::query(
                    "UPDATE customers SET password_hash = NULL WHERE id = $1 \
                     AND password_hash IS NOT NULL",
                )
                .bind(*id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM sessions WHERE customer_id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            cleared
        })
    }

    async fn start_incident_campaign(&self, incident_id: i64, at: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE incidents SET campaign_started_at = $1 \
                 WHERE id = $2 AND campaign_started_at IS NULL",
            )
            .bind(at)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?;
        })
    }
}
