//! Customers, sessions and the generic sealed-row access key rotation uses; written once,
//! compiled once per backend (see the crate documentation).

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::{CustomerRepo, KeyCheckRepo, SealedRowRepo, SessionRepo};
use kura_app::sealed::{
    CustomerCredentials, KeyCheck, ResealedRow, SealedCustomer, SealedRow, SealedTable,
    SessionRecord,
};
use kura_seal::{BlindIndex, PasswordHash, Sealed};
use sqlx::{AssertSqlSafe, Row};

use super::{Conn, DbRow, This, data_keys, dialect};
use crate::{db_err, now_epoch};

fn opt_sealed(v: Option<Vec<u8>>) -> Option<Sealed> {
    v.map(Sealed::from_stored)
}

fn customer_from_row(r: &DbRow) -> Result<SealedCustomer, sqlx::Error> {
    let s = |c: &str| r.try_get::<Vec<u8>, _>(c).map(Sealed::from_stored);
    Ok(SealedCustomer {
        id: r.try_get("id")?,
        email_bidx: BlindIndex::from_stored(r.try_get("email_bidx")?),
        phone_bidx: BlindIndex::from_stored(r.try_get("phone_bidx")?),
        family_name: s("family_name")?,
        given_name: s("given_name")?,
        family_name_kana: s("family_name_kana")?,
        given_name_kana: s("given_name_kana")?,
        email: s("email")?,
        phone: s("phone")?,
        postal_code: s("postal_code")?,
        prefecture: s("prefecture")?,
        address1: s("address1")?,
        address2: opt_sealed(r.try_get("address2")?),
        birth_date: opt_sealed(r.try_get("birth_date")?),
        gender: opt_sealed(r.try_get("gender")?),
        password_hash: r
            .try_get::<Option<String>, _>("password_hash")?
            .map(PasswordHash::from_stored),
        created_at: r.try_get("created_at")?,
        data_key: data_keys::from_row(r)?,
    })
}

/// A customer row with its data key.
const SELECT_CUSTOMER: &str = "SELECT t.*, dk.wrapped AS data_key_wrapped FROM customers t \
    LEFT JOIN data_keys dk ON dk.id = t.data_key_id";

const INSERT_CUSTOMER: &str = "INSERT INTO customers (id, email_bidx, phone_bidx, family_name, given_name, \
    family_name_kana, given_name_kana, email, phone, postal_code, prefecture, address1, address2, \
    birth_date, gender, password_hash, created_at, updated_at, data_key_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

type Query<'q> = sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments>;

/// Binds a customer's blind indexes and sealed fields, in that order: what the insert and the
/// profile update both write.
pub(crate) fn bind_fields<'q>(q: Query<'q>, c: &SealedCustomer) -> Query<'q> {
    let b = |s: &Sealed| s.as_bytes().to_vec();
    let ob = |s: &Option<Sealed>| s.as_ref().map(|v| v.as_bytes().to_vec());
    q.bind(c.email_bidx.as_bytes().to_vec())
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
}

async fn insert_one(tx: &mut Conn, c: &SealedCustomer) -> Result<(), sqlx::Error> {
    data_keys::ensure(&mut *tx, c.data_key.as_ref()).await?;
    bind_fields(sqlx::query(INSERT_CUSTOMER).bind(c.id), c)
        .bind(c.password_hash.as_ref().map(|h| h.as_str().to_string()))
        .bind(c.created_at)
        .bind(c.created_at)
        .bind(data_keys::id_of(c.data_key.as_ref()))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[async_trait]
impl CustomerRepo for This {
    async fn insert_customer(&self, customer: &SealedCustomer) -> Result<(), StoreError> {
        write_tx!(self, |tx| { insert_one(tx, customer).await? })
    }

    async fn insert_customers(&self, customers: &[SealedCustomer]) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            for c in customers {
                insert_one(&mut *tx, c).await?;
            }
        })
    }

    async fn customer_credentials_by_email(
        &self,
        email_bidx: &[BlindIndex],
    ) -> Result<Option<CustomerCredentials>, StoreError> {
        for bidx in email_bidx {
            let row = sqlx::query("SELECT id, password_hash FROM customers WHERE email_bidx = $1")
                .bind(bidx.as_bytes().to_vec())
                .fetch_optional(self.reads())
                .await
                .map_err(db_err)?;
            if let Some(r) = row {
                return Ok(Some(CustomerCredentials {
                    id: r.try_get("id").map_err(db_err)?,
                    password_hash: r
                        .try_get::<Option<String>, _>("password_hash")
                        .map_err(db_err)?
                        .map(PasswordHash::from_stored),
                }));
            }
        }
        Ok(None)
    }

    async fn customer(&self, id: i64) -> Result<Option<SealedCustomer>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_CUSTOMER} WHERE t.id = $1")))
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| customer_from_row(&r))
            .transpose()
            .map_err(db_err)
    }

    async fn set_password_hash(&self, id: i64, hash: &PasswordHash) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE customers SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash.as_str().to_string())
                .bind(now_epoch())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn customers_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedCustomer>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_CUSTOMER} WHERE t.id > $1 ORDER BY t.id LIMIT $2"
        )))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(customer_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn count_customers(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(self.reads())
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn session_from_row(r: &DbRow) -> Result<SessionRecord, sqlx::Error> {
    let hash: Vec<u8> = r.try_get("token_hash")?;
    Ok(SessionRecord {
        id: r.try_get("id")?,
        token_hash: hash
            .try_into()
            .map_err(|_| sqlx::Error::Decode("token hash length".into()))?,
        customer_id: r.try_get("customer_id")?,
        data: Sealed::from_stored(r.try_get("data")?),
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        idle_expires_at: r.try_get("idle_expires_at")?,
        absolute_expires_at: r.try_get("absolute_expires_at")?,
    })
}

#[async_trait]
impl SessionRepo for This {
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sessions (id, token_hash, customer_id, data, created_at, last_seen_at, idle_expires_at, absolute_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(s.id)
            .bind(s.token_hash.to_vec())
            .bind(s.customer_id)
            .bind(s.data.as_bytes().to_vec())
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.idle_expires_at)
            .bind(s.absolute_expires_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn session_by_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| session_from_row(&r))
            .transpose()
            .map_err(db_err)
    }

    async fn update_session(
        &self,
        id: i64,
        customer_id: Option<i64>,
        data: &Sealed,
        last_seen_at: i64,
        idle_expires_at: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE sessions SET customer_id = $1, data = $2, last_seen_at = $3, idle_expires_at = $4 WHERE id = $5")
                .bind(customer_id)
                .bind(data.as_bytes().to_vec())
                .bind(last_seen_at)
                .bind(idle_expires_at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn delete_session(&self, id: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn delete_sessions_of_customer(&self, customer_id: i64) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM sessions WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        })
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $2",
            )
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        })
    }
}

fn columns_of(table: &SealedTable) -> Vec<&'static str> {
    table
        .sealed
        .iter()
        .copied()
        .chain(table.blind.iter().map(|b| b.column))
        .collect()
}

#[async_trait]
impl SealedRowRepo for This {
    async fn sealed_rows(
        &self,
        table: &SealedTable,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError> {
        let cols = columns_of(table);
        // Table and column names come from the compiled-in catalog, never from input.
        let selected = cols
            .iter()
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if table.data_key {
            format!(
                "SELECT t.id, {selected}, t.data_key_id, dk.wrapped AS data_key_wrapped FROM {} t \
                 LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.id > $1 ORDER BY t.id LIMIT $2",
                table.table
            )
        } else {
            format!(
                "SELECT t.id, {selected} FROM {} t WHERE t.id > $1 ORDER BY t.id LIMIT $2",
                table.table
            )
        };
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let get = |c: &str| r.try_get::<Option<Vec<u8>>, _>(c);
                Ok(SealedRow {
                    id: r.try_get("id")?,
                    sealed: table
                        .sealed
                        .iter()
                        .map(|c| get(c))
                        .collect::<Result<_, _>>()?,
                    blind: table
                        .blind
                        .iter()
                        .map(|b| get(b.column))
                        .collect::<Result<_, _>>()?,
                    data_key: if table.data_key {
                        data_keys::from_row(r)?
                    } else {
                        None
                    },
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn reseal_rows(
        &self,
        table: &SealedTable,
        rows: &[ResealedRow],
    ) -> Result<u64, StoreError> {
        let cols = columns_of(table);
        let n = cols.len();
        let set = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let guard = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} {} ${}", dialect::NULL_SAFE_EQ, n + 2 + i))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "UPDATE {} SET {set} WHERE id = ${} AND {guard}",
            table.table,
            n + 1
        );
        write_tx!(self, |tx| {
            let mut written = 0;
            for row in rows {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for v in row.sealed.iter().chain(&row.blind) {
                    q = q.bind(v.clone());
                }
                q = q.bind(row.old.id);
                for v in row.old.sealed.iter().chain(&row.old.blind) {
                    q = q.bind(v.clone());
                }
                written += q.execute(&mut *tx).await?.rows_affected();
            }
            written
        })
    }

    async fn count_rows(&self, table: &SealedTable) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.table);
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(self.reads())
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl KeyCheckRepo for This {
    async fn key_checks(&self) -> Result<Vec<KeyCheck>, StoreError> {
        let rows = sqlx::query("SELECT * FROM key_checks ORDER BY key_id")
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let value: Vec<u8> = r.try_get("check_value")?;
                Ok(KeyCheck {
                    key_id: u32::try_from(r.try_get::<i64, _>("key_id")?)
                        .map_err(|_| sqlx::Error::Decode("key id out of range".into()))?,
                    check_value: value
                        .try_into()
                        .map_err(|_| sqlx::Error::Decode("check value length".into()))?,
                    key_created_at: r.try_get("key_created_at")?,
                    recorded_at: r.try_get("recorded_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn record_key_check(&self, c: &KeyCheck) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO key_checks (key_id, check_value, key_created_at, recorded_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING",
            )
            .bind(i64::from(c.key_id))
            .bind(c.check_value.to_vec())
            .bind(c.key_created_at)
            .bind(c.recorded_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn delete_key_check(&self, key_id: u32) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM key_checks WHERE key_id = $1")
                .bind(i64::from(key_id))
                .execute(&mut *tx)
                .await?;
        })
    }
}
