//! Kura's ports on embedded SQLite.
//!
//! Guarantees:
//! - WAL journal, foreign keys on, `synchronous = FULL` so an accepted write survives power loss.
//! - One writer path: every write goes through a pool of exactly one connection and opens its
//!   transaction with `BEGIN IMMEDIATE`; a busy database (another process, such as
//!   `kura keys rotate`) is waited out with a busy timeout and retries, never returned to a user.
//! - Readers use a separate pool of read-only connections, so reads never block on the writer.
//! - Personal columns are bound only from [`kura_seal::Sealed`] and [`kura_seal::BlindIndex`].

mod migrate;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::{CustomerRepo, SealedRowRepo, SessionRepo, Store};
use kura_app::sealed::{
    CustomerCredentials, ResealedRow, SealedCustomer, SealedRow, SealedTable, SessionRecord,
};
use kura_seal::{BlindIndex, PasswordHash, Sealed};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Row, SqliteConnection};
use writer::{WriteError, Writer};

pub use migrate::MIGRATIONS;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) read: SqlitePool,
    pub(crate) writer: Arc<Writer>,
    path: PathBuf,
}

/// Accepts `sqlite://path`, `sqlite:path` or a bare path.
pub fn path_from_url(url: &str) -> Result<PathBuf, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::Unavailable(
            "an SQLite database needs a file path".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c == "5" || c == "6" || c == "517" || c == "261"))
}

pub(crate) const WRITE_ATTEMPTS: u32 = 40;

/// Maps a failed write to the port's error.
pub(crate) fn write_err(e: WriteError) -> StoreError {
    match e {
        WriteError::Sql(e) => db_err(e),
        WriteError::Retry => StoreError::Unavailable("the write could not be committed".into()),
        WriteError::Closed => StoreError::Unavailable("the store is closed".into()),
    }
}

/// Whether a failed write should run again: its batch was rolled back, or another process
/// held the write lock.
pub(crate) fn should_retry(e: &WriteError, attempt: u32) -> bool {
    attempt < WRITE_ATTEMPTS
        && match e {
            WriteError::Retry => true,
            WriteError::Sql(e) => is_busy(e),
            WriteError::Closed => false,
        }
}

pub(crate) async fn back_off(e: &WriteError, attempt: u32) {
    match e {
        WriteError::Sql(_) => {
            tracing::debug!(target: "kura::store", attempt, "database busy; retrying write");
            tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt.min(20)))).await;
        }
        // The shared commit failed (a disk that is full or failing): not at full speed.
        WriteError::Retry if attempt > 1 => {
            tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt.min(20)))).await;
        }
        _ => {}
    }
}

/// Runs the body as one job on the writer (see [`writer`]): inside a savepoint of the shared
/// transaction, answered once a commit holds it, run again if that commit failed or another
/// process held the write lock. The body names the connection and may use `?` on
/// `sqlx::Error`; its value is the result. An error undoes only this body's statements.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<_, $crate::writer::WriteError> = async {
                let mut job = $store.writer.job().await?;
                let out: Result<_, sqlx::Error> = async {
                    let $tx: &mut sqlx::SqliteConnection = match job.conn() {
                        Ok(c) => c,
                        Err(_) => return Err(sqlx::Error::PoolClosed),
                    };
                    Ok($body)
                }
                .await;
                match out {
                    Ok(v) => {
                        job.keep().await?;
                        Ok(v)
                    }
                    Err(e) => {
                        job.undo().await?;
                        Err($crate::writer::WriteError::Sql(e))
                    }
                }
            }
            .await;
            match result {
                Ok(v) => break Ok(v),
                Err(e) if $crate::should_retry(&e, attempt) => $crate::back_off(&e, attempt).await,
                Err(e) => break Err($crate::write_err(e)),
            }
        }
    }};
}

mod accounts;
mod shop;

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let path = path_from_url(url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let base = SqliteConnectOptions::from_str("sqlite://")
            .map_err(db_err)?
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16000");
        let mut conn = base
            .clone()
            .create_if_missing(true)
            .connect()
            .await
            .map_err(db_err)?;
        migrate::run(&mut conn).await?;
        let writer = Arc::new(Writer::start(conn));
        let readers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8)
            * 2;
        let read = SqlitePoolOptions::new()
            .max_connections(u32::try_from(readers).unwrap_or(4))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true))
            .await
            .map_err(db_err)?;
        Ok(Self { read, writer, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn reader(&self) -> &SqlitePool {
        &self.read
    }

    /// Runs raw statements on the writer connection with nothing else in flight (benchmark
    /// baselines and tools); everything written before is committed first.
    pub async fn with_writer<T>(
        &self,
        f: impl for<'c> FnOnce(
            &'c mut SqliteConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'c>,
        >,
    ) -> Result<T, StoreError> {
        let mut guard = self.writer.exclusive().await.map_err(write_err)?;
        let conn = guard.conn().map_err(write_err)?;
        let out = f(&mut *conn).await;
        if out.is_err() {
            // Whatever the tool began is not left open under the next job.
            let _ = sqlx::query("ROLLBACK").execute(conn).await;
        }
        out.map_err(db_err)
    }

    /// (commits, write jobs) since the store opened: jobs per commit is what group commit saves.
    pub async fn commit_counts(&self) -> (u64, u64) {
        self.writer.counts().await
    }

    /// Forces a WAL checkpoint (used by tests and before backups).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let mut guard = self.writer.exclusive().await.map_err(write_err)?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(guard.conn().map_err(write_err)?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.writer.close().await;
    }
}

fn opt_sealed(v: Option<Vec<u8>>) -> Option<Sealed> {
    v.map(Sealed::from_stored)
}

fn customer_from_row(r: &SqliteRow) -> Result<SealedCustomer, sqlx::Error> {
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
    })
}

const INSERT_CUSTOMER: &str = "INSERT INTO customers (id, email_bidx, phone_bidx, family_name, given_name, \
    family_name_kana, given_name_kana, email, phone, postal_code, prefecture, address1, address2, \
    birth_date, gender, password_hash, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

async fn insert_one(tx: &mut SqliteConnection, c: &SealedCustomer) -> Result<(), sqlx::Error> {
    let b = |s: &Sealed| s.as_bytes().to_vec();
    let ob = |s: &Option<Sealed>| s.as_ref().map(|v| v.as_bytes().to_vec());
    sqlx::query(INSERT_CUSTOMER)
        .bind(c.id)
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
        .bind(c.password_hash.as_ref().map(|h| h.as_str().to_string()))
        .bind(c.created_at)
        .bind(c.created_at)
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl CustomerRepo for SqliteStore {
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
            let row = sqlx::query("SELECT id, password_hash FROM customers WHERE email_bidx = ?")
                .bind(bidx.as_bytes().to_vec())
                .fetch_optional(&self.read)
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
        let row = sqlx::query("SELECT * FROM customers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.map(|r| customer_from_row(&r))
            .transpose()
            .map_err(db_err)
    }

    async fn set_password_hash(&self, id: i64, hash: &PasswordHash) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE customers SET password_hash = ?, updated_at = strftime('%s','now') WHERE id = ?")
                .bind(hash.as_str().to_string())
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
        let rows = sqlx::query("SELECT * FROM customers WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(customer_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn count_customers(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn session_from_row(r: &SqliteRow) -> Result<SessionRecord, sqlx::Error> {
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
impl SessionRepo for SqliteStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sessions (id, token_hash, customer_id, data, created_at, last_seen_at, idle_expires_at, absolute_expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = ?")
            .bind(token_hash.to_vec())
            .fetch_optional(&self.read)
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
            sqlx::query("UPDATE sessions SET customer_id = ?, data = ?, last_seen_at = ?, idle_expires_at = ? WHERE id = ?")
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
            sqlx::query("DELETE FROM sessions WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn delete_sessions_of_customer(&self, customer_id: i64) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM sessions WHERE customer_id = ?")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        })
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM sessions WHERE idle_expires_at <= ? OR absolute_expires_at <= ?",
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
impl SealedRowRepo for SqliteStore {
    async fn sealed_rows(
        &self,
        table: &SealedTable,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError> {
        let cols = columns_of(table);
        // Table and column names come from the compiled-in catalog, never from input.
        let sql = format!(
            "SELECT id, {} FROM {} WHERE id > ? ORDER BY id LIMIT ?",
            cols.join(", "),
            table.table
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
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
        let set = cols
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect::<Vec<_>>()
            .join(", ");
        let guard = cols
            .iter()
            .map(|c| format!("{c} IS ?"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!("UPDATE {} SET {set} WHERE id = ? AND {guard}", table.table);
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
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn cart_lines(
        &self,
        cart_id: i64,
    ) -> Result<(Vec<(String, u32)>, Vec<kura_app::catalog::CatalogItem>), StoreError> {
        self.cart_lines_joined(cart_id).await
    }

    async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut guard = self.writer.exclusive().await.map_err(write_err)?;
        migrate::run(guard.conn().map_err(write_err)?).await
    }

    async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        migrate::applied(&self.read).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests;
