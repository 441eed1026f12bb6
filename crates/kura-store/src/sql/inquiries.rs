//! The inquiry desk: inquiries and their messages, sealed under each inquiry's data key.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::InquiryRepo;
use kura_app::records::{InquiryMessageRecord, InquiryRecord, OutboxRecord};
use kura_seal::{BlindIndex, Sealed};
use sqlx::{AssertSqlSafe, Row};

use super::{Conn, DbRow, This, data_keys, shop};
use crate::{db_err, placeholders};

fn inquiry_from_row(r: &DbRow) -> Result<InquiryRecord, sqlx::Error> {
    Ok(InquiryRecord {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        category: r.try_get("category")?,
        order_number: r.try_get("order_number")?,
        status: r.try_get("status")?,
        assignee: r.try_get("assignee")?,
        lang: r.try_get("lang")?,
        contact: Sealed::from_stored(r.try_get("contact")?),
        email_bidx: BlindIndex::from_stored(r.try_get("email_bidx")?),
        data_key: data_keys::from_row(r)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn message_from_row(r: &DbRow) -> Result<InquiryMessageRecord, sqlx::Error> {
    Ok(InquiryMessageRecord {
        id: r.try_get("id")?,
        inquiry_id: r.try_get("inquiry_id")?,
        author: r.try_get("author")?,
        staff_id: r.try_get("staff_id")?,
        body: Sealed::from_stored(r.try_get("body")?),
        data_key: data_keys::from_row(r)?,
        created_at: r.try_get("created_at")?,
    })
}

async fn insert_message(tx: &mut Conn, m: &InquiryMessageRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO inquiry_messages (id, inquiry_id, author, staff_id, body, data_key_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.id)
    .bind(m.inquiry_id)
    .bind(&m.author)
    .bind(m.staff_id)
    .bind(m.body.as_bytes().to_vec())
    .bind(data_keys::id_of(m.data_key.as_ref()))
    .bind(m.created_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait]
impl InquiryRepo for This {
    async fn insert_inquiry(
        &self,
        q: &InquiryRecord,
        first: &InquiryMessageRecord,
        mail: Option<&OutboxRecord>,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO inquiries (id, number, category, order_number, status, assignee, lang, \
                 contact, email_bidx, data_key_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(q.id)
            .bind(&q.number)
            .bind(&q.category)
            .bind(&q.order_number)
            .bind(&q.status)
            .bind(q.assignee)
            .bind(&q.lang)
            .bind(q.contact.as_bytes().to_vec())
            .bind(q.email_bidx.as_bytes().to_vec())
            .bind(data_keys::id_of(q.data_key.as_ref()))
            .bind(q.created_at)
            .bind(q.updated_at)
            .execute(&mut *tx)
            .await?;
            data_keys::ensure(&mut *tx, q.data_key.as_ref()).await?;
            insert_message(&mut *tx, first).await?;
            if let Some(m) = mail {
                shop::insert_mail(&mut *tx, m).await?;
            }
        })
    }

    async fn inquiries(
        &self,
        statuses: &[&str],
        category: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InquiryRecord>, StoreError> {
        let status_cond = if statuses.is_empty() {
            String::new()
        } else {
            format!(" AND t.status IN ({})", placeholders(2, statuses.len()))
        };
        let category_cond = if category.is_some() {
            format!(" AND t.category = ${}", statuses.len() + 2)
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM inquiries t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.id < $1{status_cond}{category_cond} \
             ORDER BY t.id DESC LIMIT {}",
            limit.min(500)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(before_id.unwrap_or(i64::MAX));
        for s in statuses {
            query = query.bind(*s);
        }
        if let Some(c) = category {
            query = query.bind(c);
        }
        let rows = query.fetch_all(self.reads()).await.map_err(db_err)?;
        rows.iter()
            .map(inquiry_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn inquiry(&self, id: i64) -> Result<Option<InquiryRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM inquiries t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.id = $1",
        )
        .bind(id)
        .fetch_optional(self.reads())
        .await
        .map_err(db_err)?;
        row.map(|r| inquiry_from_row(&r))
            .transpose()
            .map_err(db_err)
    }

    async fn inquiry_messages(&self, id: i64) -> Result<Vec<InquiryMessageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM inquiry_messages t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.inquiry_id = $1 ORDER BY t.id",
        )
        .bind(id)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn add_inquiry_reply(
        &self,
        m: &InquiryMessageRecord,
        status: &str,
        mail: Option<&OutboxRecord>,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            insert_message(&mut *tx, m).await?;
            sqlx::query("UPDATE inquiries SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(status)
                .bind(m.created_at)
                .bind(m.inquiry_id)
                .execute(&mut *tx)
                .await?;
            if let Some(mail) = mail {
                shop::insert_mail(&mut *tx, mail).await?;
            }
        })
    }

    async fn set_inquiry(
        &self,
        id: i64,
        status: &str,
        assignee: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE inquiries SET status = $1, assignee = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(status)
            .bind(assignee)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn count_inquiries_from(
        &self,
        email_bidx: &[BlindIndex],
        since: i64,
    ) -> Result<u64, StoreError> {
        if email_bidx.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "SELECT COUNT(*) FROM inquiries WHERE created_at >= $1 AND email_bidx IN ({})",
            placeholders(2, email_bidx.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(since);
        for b in email_bidx {
            q = q.bind(b.as_bytes().to_vec());
        }
        let n = q.fetch_one(self.reads()).await.map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn count_open_inquiries(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inquiries WHERE status = 'open'")
            .fetch_one(self.reads())
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
