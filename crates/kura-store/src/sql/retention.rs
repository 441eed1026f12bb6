//! Retention: people whose purpose ended (their data keys destroyed) and orders past the
//! accounting period (deleted with their lines).

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::RetentionRepo;
use sqlx::Row;

use super::{This, data_keys};
use crate::db_err;

#[async_trait]
impl RetentionRepo for This {
    async fn expired_customers(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT c.id FROM customers c WHERE c.created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.created_at >= $1) \
             ORDER BY c.id LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)
    }

    async fn expired_guest_keys(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT dk.id FROM data_keys dk WHERE \
             EXISTS (SELECT 1 FROM orders o WHERE o.data_key_id = dk.id AND o.customer_id IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.data_key_id = dk.id \
                 AND (o.created_at >= $1 OR o.customer_id IS NOT NULL)) \
             AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.data_key_id = dk.id) \
             ORDER BY dk.id LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)
    }

    async fn expired_inquiry_keys(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT dk.id FROM data_keys dk JOIN inquiries i ON i.data_key_id = dk.id \
             WHERE i.updated_at < $1 ORDER BY dk.id LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)
    }

    async fn shred_guest_key(&self, data_key_id: i64) -> Result<bool, StoreError> {
        let shredded = write_tx!(self, |tx| {
            let orders =
                sqlx::query("SELECT id, email_bidx, phone_bidx FROM orders WHERE data_key_id = $1")
                    .bind(data_key_id)
                    .fetch_all(&mut *tx)
                    .await?;
            for o in &orders {
                sqlx::query("UPDATE orders SET email_bidx = $1, phone_bidx = $2 WHERE id = $3")
                    .bind(data_keys::tombstone(o.try_get("email_bidx")?)?)
                    .bind(data_keys::tombstone(o.try_get("phone_bidx")?)?)
                    .bind(o.try_get::<i64, _>("id")?)
                    .execute(&mut *tx)
                    .await?;
            }
            data_keys::destroy(&mut *tx, data_key_id).await?
        })?;
        if shredded {
            self.settle_erasure().await?;
        }
        Ok(shredded)
    }

    async fn count_orders_before(&self, before: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE created_at < $1")
            .bind(before)
            .fetch_one(self.reads())
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn delete_orders_before(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM orders WHERE created_at < $1 ORDER BY id LIMIT $2",
            )
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                sqlx::query("DELETE FROM order_lines WHERE order_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM orders WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            u64::try_from(ids.len()).unwrap_or(0)
        })
    }
}
