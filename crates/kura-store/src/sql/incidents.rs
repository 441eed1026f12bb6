//! Incidents and the dated entries of their public notice pages.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::IncidentRepo;
use kura_app::records::{
    IncidentEntryRecord, IncidentPersonRecord, IncidentRecord, OutboxRecord, ScopeBuyer, ScopePlan,
};
use sqlx::{AssertSqlSafe, Row};

use super::{DbRow, This, dialect};
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

/// An order's account, when it existed by `$2`/`$3` (the window's end): otherwise the order
/// is a guest's, known by its email blind index.
const HELD: &str = "o.customer_id IS NOT NULL AND EXISTS (SELECT 1 FROM customers h \
    WHERE h.id = o.customer_id AND h.created_at <= $2)";

/// The guest orders held by the window's end (`$3`).
const BUYER_ORDERS: &str = "o.created_at <= $3 AND (o.customer_id IS NULL OR NOT EXISTS \
    (SELECT 1 FROM customers h WHERE h.id = o.customer_id AND h.created_at <= $3))";

/// A person found again keeps their status and reach; how they were found adds up.
const UPSERT_PERSON: &str = " ON CONFLICT (incident_id, person) DO UPDATE SET \
    found_by = CASE WHEN incident_people.found_by = '' THEN excluded.found_by \
    ELSE incident_people.found_by || ',' || excluded.found_by END, \
    customer_id = excluded.customer_id, order_id = excluded.order_id, \
    fields = excluded.fields, lang = excluded.lang, updated_at = excluded.updated_at";

/// The categories every person's data holds (with a trailing comma each).
fn constant_fields(categories: &[String]) -> String {
    categories
        .iter()
        .filter(|c| !CONDITIONAL.iter().any(|(k, _)| k == c))
        .map(|c| format!("{c},"))
        .collect()
}

/// Categories a person's data holds only sometimes, and the SQL that says whether an
/// account's does (`c` the account, `$3` the window's end).
const CONDITIONAL: [(&str, &str); 3] = [
    ("birth_date", "c.birth_date IS NOT NULL"),
    ("password_hash", "c.password_hash IS NOT NULL"),
    (
        "order_history",
        "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.created_at <= $3)",
    ),
];

/// The statements that insert an incident's accounts and (the part after `SELECT`) its guest
/// buyers. Binds: `$1` incident, `$2` found by, `$3` window end, `$4` now, `$5` window start,
/// `$6` the constant fields.
fn scope_statements(categories: &[String]) -> (String, String) {
    let mut account_fields = String::from("CAST($6 AS TEXT)");
    let mut guest_fields = String::from("CAST($6 AS TEXT)");
    for (key, held) in CONDITIONAL {
        if categories.iter().any(|c| c == key) {
            account_fields.push_str(&format!(" || CASE WHEN {held} THEN '{key},' ELSE '' END"));
            if key == "order_history" {
                guest_fields.push_str(&format!(" || '{key},'"));
            }
        }
    }
    let accounts = format!(
        "INSERT INTO incident_people (incident_id, person, customer_id, order_id, found_by, \
         fields, reach, status, lang, updated_at) \
         SELECT $1, 'c:' || CAST(c.id AS TEXT), c.id, NULL, $2, rtrim({account_fields}, ','), \
         'mail', 'pending', COALESCE((SELECT o.lang FROM orders o WHERE o.customer_id = c.id \
         AND o.created_at <= $3 ORDER BY o.created_at DESC LIMIT 1), 'ja'), $4 \
         FROM customers c WHERE c.created_at <= $3 AND c.created_at >= $5"
    );
    let guests = format!(
        "INSERT INTO incident_people (incident_id, person, customer_id, order_id, found_by, \
         fields, reach, status, lang, updated_at) \
         SELECT $1, 'g:' || {}, NULL, g.id, $2, rtrim({guest_fields}, ','), 'mail', 'pending', \
         g.lang, $4 FROM ",
        dialect::hex("g.email_bidx")
    );
    (accounts, guests)
}

/// A scoping statement with the six binds [`scope_statements`] names; a person found
/// otherwise adds `$7` (their account id or email blind index).
fn scope_query<'q>(
    sql: &'q str,
    plan: &ScopePlan,
    how: &'q str,
    since: i64,
    constant: &'q str,
) -> sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments> {
    sqlx::query(AssertSqlSafe(sql))
        .bind(plan.incident_id)
        .bind(how)
        .bind(plan.until)
        .bind(plan.now)
        .bind(since)
        .bind(constant)
}

/// The guest buyers' statement over the orders `filter` takes in.
fn scope_guests(head: &str, filter: &str) -> String {
    format!(
        "{head}({}) g WHERE g.latest_at >= $5{UPSERT_PERSON}",
        dialect::latest_per_buyer(filter)
    )
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

    async fn scope_accounts_by_bidx(
        &self,
        phone: bool,
        bidx: &[Vec<u8>],
        until: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let column = if phone { "phone_bidx" } else { "email_bidx" };
        let sql = format!("SELECT id FROM customers WHERE {column} = $1 AND created_at <= $2");
        let mut out = Vec::new();
        for b in bidx {
            let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
                .bind(b.as_slice())
                .bind(until)
                .fetch_all(self.reads())
                .await
                .map_err(db_err)?;
            out.extend(ids);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    async fn scope_order_buyers(
        &self,
        phone: bool,
        bidx: &[Vec<u8>],
        numbers: &[String],
        until: i64,
    ) -> Result<Vec<ScopeBuyer>, StoreError> {
        let column = if phone {
            "o.phone_bidx"
        } else {
            "o.email_bidx"
        };
        let select = format!(
            "SELECT DISTINCT CASE WHEN {HELD} THEN o.customer_id END AS account, o.email_bidx \
             FROM orders o WHERE o.created_at <= $2 AND "
        );
        let by_bidx = format!("{select}{column} = $1");
        let by_number = format!("{select}o.number = $1");
        let mut rows = Vec::new();
        for b in bidx {
            rows.extend(
                sqlx::query(AssertSqlSafe(by_bidx.as_str()))
                    .bind(b.as_slice())
                    .bind(until)
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?,
            );
        }
        for n in numbers {
            rows.extend(
                sqlx::query(AssertSqlSafe(by_number.as_str()))
                    .bind(n.as_str())
                    .bind(until)
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?,
            );
        }
        let mut out = Vec::new();
        for r in &rows {
            let buyer = match r.try_get::<Option<i64>, _>("account").map_err(db_err)? {
                Some(id) => ScopeBuyer::Account(id),
                None => ScopeBuyer::Guest(r.try_get("email_bidx").map_err(db_err)?),
            };
            if !out.contains(&buyer) {
                out.push(buyer);
            }
        }
        Ok(out)
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

    async fn scope_incident_people(&self, plan: &ScopePlan) -> Result<i64, StoreError> {
        let (accounts_sql, guests_sql) = scope_statements(&plan.categories);
        let account_one = format!("{accounts_sql} AND c.id = $7{UPSERT_PERSON}");
        let accounts_all = format!("{accounts_sql}{UPSERT_PERSON}");
        let guest_filter = format!("{BUYER_ORDERS} AND o.email_bidx = $7");
        let guests_all = scope_guests(&guests_sql, BUYER_ORDERS);
        let guest_one = scope_guests(&guests_sql, &guest_filter);
        let constant = constant_fields(&plan.categories);
        write_tx!(self, |tx| {
            // People found by an earlier scoping are marked, then found again or removed.
            let before: i64 = sqlx::query_scalar("SELECT people FROM incidents WHERE id = $1")
                .bind(plan.incident_id)
                .fetch_one(&mut *tx)
                .await?;
            if before > 0 {
                sqlx::query("UPDATE incident_people SET found_by = '' WHERE incident_id = $1")
                    .bind(plan.incident_id)
                    .execute(&mut *tx)
                    .await?;
            }
            for sql in [&accounts_all, &guests_all] {
                scope_query(sql, plan, "window", plan.since, &constant)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, how) in &plan.accounts {
                scope_query(&account_one, plan, how, i64::MIN, &constant)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (bidx, how) in &plan.guests {
                scope_query(&guest_one, plan, how, i64::MIN, &constant)
                    .bind(bidx.as_slice())
                    .execute(&mut *tx)
                    .await?;
            }
            if before > 0 {
                sqlx::query("DELETE FROM incident_people WHERE incident_id = $1 AND found_by = ''")
                    .bind(plan.incident_id)
                    .execute(&mut *tx)
                    .await?;
            }
            for person in &plan.unreachable {
                sqlx::query(
                    "UPDATE incident_people SET reach = 'post' \
                     WHERE incident_id = $1 AND person = $2 AND reach = 'mail'",
                )
                .bind(plan.incident_id)
                .bind(person.as_str())
                .execute(&mut *tx)
                .await?;
            }
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM incident_people WHERE incident_id = $1")
                    .bind(plan.incident_id)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("UPDATE incidents SET people = $1 WHERE id = $2")
                .bind(count)
                .bind(plan.incident_id)
                .execute(&mut *tx)
                .await?;
            count
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
