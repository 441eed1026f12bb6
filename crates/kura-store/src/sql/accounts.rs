//! Customer accounts: one-time tokens (hashes only), email verification, profile
//! updates, saved addresses (sealed) and erasure in one transaction.

use async_trait::async_trait;
use kura_app::accounts::{AccountTokenRecord, SavedAddressRecord, TokenPurpose};
use kura_app::error::StoreError;
use kura_app::ports::AccountRepo;
use kura_app::sealed::SealedCustomer;
use kura_seal::Sealed;
use sqlx::Row;

use super::{This, customers, data_keys};

/// The data key an erased account's orders from before data keys name: no key has it.
const ERASED_WITHOUT_KEY: i64 = -1;
use crate::{db_err, now_epoch};

#[async_trait]
impl AccountRepo for This {
    async fn insert_account_token(&self, t: &AccountTokenRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM account_tokens WHERE customer_id = $1 AND purpose = $2")
                .bind(t.customer_id)
                .bind(t.purpose.code())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO account_tokens (token_hash, customer_id, purpose, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
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
            "SELECT customer_id FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
        )
        .bind(token_hash.to_vec())
        .bind(purpose.code())
        .bind(now)
        .fetch_optional(self.reads())
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
                "DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2 \
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
            sqlx::query("DELETE FROM account_tokens WHERE customer_id = $1 AND purpose = $2")
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
            sqlx::query("UPDATE customers SET email_verified_at = $1 WHERE id = $2")
                .bind(at)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn email_verified_at(&self, customer_id: i64) -> Result<Option<Option<i64>>, StoreError> {
        let row = sqlx::query("SELECT email_verified_at FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<Option<i64>, _>("email_verified_at"))
            .transpose()
            .map_err(db_err)
    }

    async fn update_customer(&self, c: &SealedCustomer) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            customers::bind_fields(
                sqlx::query(
                    "UPDATE customers SET email_bidx = $1, phone_bidx = $2, family_name = $3, given_name = $4, \
                     family_name_kana = $5, given_name_kana = $6, email = $7, phone = $8, postal_code = $9, \
                     prefecture = $10, address1 = $11, address2 = $12, birth_date = $13, gender = $14, \
                     updated_at = $15 WHERE id = $16",
                ),
                c,
            )
            .bind(now_epoch())
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn delete_customer(&self, customer_id: i64) -> Result<bool, StoreError> {
        let deleted = write_tx!(self, |tx| {
            let data_key: Option<i64> =
                sqlx::query_scalar("SELECT data_key_id FROM customers WHERE id = $1")
                    .bind(customer_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
            // The account's orders keep their accounting facts. Their blind indexes become
            // tombstones (the key id kept, the MAC random), so an email no longer finds them;
            // orders from before data keys lose their sealed buyer and recipient outright.
            let orders = sqlx::query(
                "SELECT id, email_bidx, phone_bidx, data_key_id FROM orders WHERE customer_id = $1",
            )
            .bind(customer_id)
            .fetch_all(&mut *tx)
            .await?;
            for o in &orders {
                let legacy = o.try_get::<Option<i64>, _>("data_key_id")?.is_none();
                sqlx::query(
                    "UPDATE orders SET email_bidx = $1, phone_bidx = $2, \
                     buyer = CASE WHEN $3 THEN $4 ELSE buyer END, \
                     recipient = CASE WHEN $3 THEN NULL ELSE recipient END, \
                     data_key_id = COALESCE(data_key_id, $5) WHERE id = $6",
                )
                .bind(data_keys::tombstone(o.try_get("email_bidx")?)?)
                .bind(data_keys::tombstone(o.try_get("phone_bidx")?)?)
                .bind(legacy)
                .bind(Vec::<u8>::new())
                .bind(data_key.unwrap_or(ERASED_WITHOUT_KEY))
                .bind(o.try_get::<i64, _>("id")?)
                .execute(&mut *tx)
                .await?;
                // The order's receipt addressee goes the way of its buyer.
                sqlx::query(
                    "UPDATE order_receipts SET \
                     addressee = CASE WHEN $1 THEN $2 ELSE addressee END, \
                     data_key_id = COALESCE(data_key_id, $3) WHERE id = $4",
                )
                .bind(legacy)
                .bind(Vec::<u8>::new())
                .bind(data_key.unwrap_or(ERASED_WITHOUT_KEY))
                .bind(o.try_get::<i64, _>("id")?)
                .execute(&mut *tx)
                .await?;
            }
            // The data key goes, and with it every value sealed under it, wherever it lies.
            if let Some(key) = data_key {
                data_keys::destroy(&mut *tx, key).await?;
            }
            for sql in [
                "DELETE FROM customer_addresses WHERE customer_id = $1",
                "DELETE FROM account_tokens WHERE customer_id = $1",
                "DELETE FROM sessions WHERE customer_id = $1",
                "DELETE FROM carts WHERE customer_id = $1",
                "DELETE FROM restock_requests WHERE customer_id = $1",
                "UPDATE orders SET customer_id = NULL WHERE customer_id = $1",
            ] {
                sqlx::query(sql).bind(customer_id).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM customers WHERE id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        })?;
        // No earlier copy of the erased rows stays in the database's own files.
        self.settle_erasure().await?;
        Ok(deleted)
    }

    async fn insert_address(&self, a: &SavedAddressRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO customer_addresses (id, customer_id, record, created_at, data_key_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(a.id)
            .bind(a.customer_id)
            .bind(a.record.as_bytes().to_vec())
            .bind(a.created_at)
            .bind(data_keys::id_of(a.data_key.as_ref()))
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn addresses_of(&self, customer_id: i64) -> Result<Vec<SavedAddressRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.customer_id, t.record, t.created_at, t.data_key_id, \
             dk.wrapped AS data_key_wrapped FROM customer_addresses t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id \
             WHERE t.customer_id = $1 ORDER BY t.created_at, t.id",
        )
        .bind(customer_id)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(SavedAddressRecord {
                    id: r.try_get("id")?,
                    customer_id: r.try_get("customer_id")?,
                    record: Sealed::from_stored(r.try_get("record")?),
                    created_at: r.try_get("created_at")?,
                    data_key: data_keys::from_row(r)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn delete_address(&self, customer_id: i64, id: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM customer_addresses WHERE id = $1 AND customer_id = $2")
                .bind(id)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        })
    }

    async fn set_anti_phishing_phrase(
        &self,
        customer_id: i64,
        phrase: Option<&Sealed>,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE customers SET anti_phishing_phrase = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(phrase.map(|p| p.as_bytes().to_vec()))
            .bind(now_epoch())
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn anti_phishing_phrase(
        &self,
        email_bidx: &[kura_seal::BlindIndex],
    ) -> Result<Option<(i64, Sealed, Option<kura_app::sealed::DataKeyRef>)>, StoreError> {
        for bidx in email_bidx {
            let row = sqlx::query(
                "SELECT t.id, t.anti_phishing_phrase, t.data_key_id, dk.wrapped AS data_key_wrapped \
                 FROM customers t LEFT JOIN data_keys dk ON dk.id = t.data_key_id \
                 WHERE t.email_bidx = $1",
            )
            .bind(bidx.as_bytes().to_vec())
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
            if let Some(r) = row {
                let phrase: Option<Vec<u8>> = r.try_get("anti_phishing_phrase").map_err(db_err)?;
                return match phrase {
                    Some(p) => Ok(Some((
                        r.try_get("id").map_err(db_err)?,
                        Sealed::from_stored(p),
                        data_keys::from_row(&r).map_err(db_err)?,
                    ))),
                    None => Ok(None),
                };
            }
        }
        Ok(None)
    }
}
