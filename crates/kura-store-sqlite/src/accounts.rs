//! Customer accounts on SQLite: one-time tokens (hashes only), email verification, profile
//! updates, saved addresses (sealed) and erasure in one transaction.

use async_trait::async_trait;
use kura_app::accounts::{AccountTokenRecord, SavedAddressRecord, TokenPurpose};
use kura_app::error::StoreError;
use kura_app::ports::AccountRepo;
use kura_app::sealed::SealedCustomer;
use kura_seal::Sealed;
use sqlx::Row;

use crate::{SqliteStore, db_err};

#[async_trait]
impl AccountRepo for SqliteStore {
    async fn insert_account_token(&self, t: &AccountTokenRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM account_tokens WHERE customer_id = ? AND purpose = ?")
                .bind(t.customer_id)
                .bind(t.purpose.code())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO account_tokens (token_hash, customer_id, purpose, expires_at, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(t.token_hash.to_vec())
            .bind(t.customer_id)
            .bind(t.purpose.code())
            .bind(t.expires_at)
            .bind(t.created_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn account_token(
        &self,
        token_hash: &[u8; 32],
        purpose: TokenPurpose,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT customer_id FROM account_tokens WHERE token_hash = ? AND purpose = ? AND expires_at > ?",
        )
        .bind(token_hash.to_vec())
        .bind(purpose.code())
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)
    }

    async fn take_account_token(
        &self,
        token_hash: &[u8; 32],
        purpose: TokenPurpose,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        write_tx!(self, |tx| {
            let found: Option<(i64, i64)> = sqlx::query_as(
                "DELETE FROM account_tokens WHERE token_hash = ? AND purpose = ? \
                 RETURNING customer_id, expires_at",
            )
            .bind(token_hash.to_vec())
            .bind(purpose.code())
            .fetch_optional(&mut *tx)
            .await?;
            found
                .filter(|(_, expires)| *expires > now)
                .map(|(id, _)| id)
        })
    }

    async fn delete_account_tokens(
        &self,
        customer_id: i64,
        purpose: TokenPurpose,
    ) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM account_tokens WHERE customer_id = ? AND purpose = ?")
                .bind(customer_id)
                .bind(purpose.code())
                .execute(&mut *tx)
                .await?
                .rows_affected()
        })
    }

    async fn set_email_verified(
        &self,
        customer_id: i64,
        at: Option<i64>,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE customers SET email_verified_at = ? WHERE id = ?")
                .bind(at)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn email_verified_at(&self, customer_id: i64) -> Result<Option<Option<i64>>, StoreError> {
        let row = sqlx::query("SELECT email_verified_at FROM customers WHERE id = ?")
            .bind(customer_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<Option<i64>, _>("email_verified_at"))
            .transpose()
            .map_err(db_err)
    }

    async fn update_customer(&self, c: &SealedCustomer) -> Result<(), StoreError> {
        let b = |s: &Sealed| s.as_bytes().to_vec();
        let ob = |s: &Option<Sealed>| s.as_ref().map(|v| v.as_bytes().to_vec());
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE customers SET email_bidx = ?, phone_bidx = ?, family_name = ?, given_name = ?, \
                 family_name_kana = ?, given_name_kana = ?, email = ?, phone = ?, postal_code = ?, \
                 prefecture = ?, address1 = ?, address2 = ?, birth_date = ?, gender = ?, \
                 updated_at = strftime('%s','now') WHERE id = ?",
            )
            .bind(c.email_bidx.as_bytes().to_vec())
            .bind(c.phone_bidx.as_bytes().to_vec())
            .bind(b(&c.family_name))
            .bind(b(&c.given_name))
            .bind(b(&c.family_name_kana))
            .bind(b(&c.given_name_kana))
            .bind(b(&c.email))
            .bind(b(&c.phone))
            .bind(b(&c.postal_code))
            .bind(b(&c.prefecture))
            .bind(b(&c.address1))
            .bind(ob(&c.address2))
            .bind(ob(&c.birth_date))
            .bind(ob(&c.gender))
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn delete_customer(&self, customer_id: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            for sql in [
                "DELETE FROM customer_addresses WHERE customer_id = ?",
                "DELETE FROM account_tokens WHERE customer_id = ?",
                "DELETE FROM sessions WHERE customer_id = ?",
                "DELETE FROM carts WHERE customer_id = ?",
                "UPDATE orders SET customer_id = NULL WHERE customer_id = ?",
            ] {
                sqlx::query(sql).bind(customer_id).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM customers WHERE id = ?")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        })
    }

    async fn insert_address(&self, a: &SavedAddressRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO customer_addresses (id, customer_id, record, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(a.id)
            .bind(a.customer_id)
            .bind(a.record.as_bytes().to_vec())
            .bind(a.created_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn addresses_of(&self, customer_id: i64) -> Result<Vec<SavedAddressRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer_id, record, created_at FROM customer_addresses \
             WHERE customer_id = ? ORDER BY created_at, id",
        )
        .bind(customer_id)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(SavedAddressRecord {
                    id: r.try_get("id")?,
                    customer_id: r.try_get("customer_id")?,
                    record: Sealed::from_stored(r.try_get("record")?),
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn delete_address(&self, customer_id: i64, id: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM customer_addresses WHERE id = ? AND customer_id = ?")
                .bind(id)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        })
    }
}
