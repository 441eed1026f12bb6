//! Kura's ports on embedded SQLite.
//!
//! Guarantees:
//! - WAL journal, foreign keys on, `synchronous = FULL` so an accepted write survives power loss.
//! - One writer path: every write goes through a pool of exactly one connection and opens its
//!   transaction with `BEGIN IMMEDIATE`; a busy database (another process, such as
//!   `kura keys rotate`) is waited out with a busy timeout and retries, never returned to a user.
//! - Readers use a separate pool of read-only connections, so reads never block on the writer.
//! - Personal columns are bound only from [`kura_seal::Sealed`] and [`kura_seal::BlindIndex`].

mod one_trip;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use kura_app::error::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use writer::{WriteError, Writer};

use crate::db_err;

/// The names the shared query code (`src/sql/`) is written against.
type This = SqliteStore;
type Db = sqlx::Sqlite;
type DbRow = sqlx::sqlite::SqliteRow;
type Conn = SqliteConnection;
/// A cart's lines and their catalog items.
type CartLines = (Vec<(String, u32)>, Vec<kura_app::catalog::CatalogItem>);

/// What SQLite does differently from PostgreSQL; nothing else in the shared code does.
mod dialect {

    pub(crate) const NAME: &str = "sqlite";
    pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = crate::SQLITE_MIGRATIONS;
    pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS kura_migrations \
        (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT";
    /// The writer connection is the only writer; `IMMEDIATE` takes the file's write lock now.
    pub(crate) const BEGIN_MIGRATION: &[&str] = &["BEGIN IMMEDIATE"];
    /// `a IS b` is true when both are NULL.
    /// One writer at a time: a claim never meets another in flight.
    pub(crate) const SKIP_LOCKED: &str = "";
    /// Taken before an audit entry reads the chain's head, so two entries never share a place.
    pub(crate) const AUDIT_LOCK: &[&str] = &[];
    /// One call may run several statements (`;`-separated), each binding the `$n` it names:
    /// a checkout makes fewer trips to the connection's worker thread.
    pub(crate) const MULTI_STATEMENT: bool = true;
    pub(crate) const NULL_SAFE_EQ: &str = "IS";

    /// A checkout runs in one trip to the writer's thread (see `one_trip`).
    pub(crate) async fn place_order(
        store: &super::SqliteStore,
        order: &kura_app::sealed::OrderRecord,
        cart_id: Option<i64>,
        mail: Option<&kura_app::sealed::OutboxRecord>,
    ) -> Option<Result<kura_app::sealed::PlaceOutcome, kura_app::error::StoreError>> {
        Some(store.place_in_one_trip(order, cart_id, mail).await)
    }

    /// A one-statement write runs in one trip to the writer's thread.
    pub(crate) async fn write_one(
        store: &super::SqliteStore,
        sql: &str,
        binds: &[crate::Bind],
    ) -> Option<Result<u64, kura_app::error::StoreError>> {
        Some(store.write_one_trip(sql, binds).await)
    }

    /// The checkout's reads run on the caller's thread (see `one_trip`).
    pub(crate) fn cart_by_token(
        store: &super::SqliteStore,
        hash: &[u8; 32],
    ) -> Option<Result<Option<i64>, kura_app::error::StoreError>> {
        Some(store.cart_by_token_raw(hash))
    }

    pub(crate) fn cart_items(
        store: &super::SqliteStore,
        cart_id: i64,
    ) -> Option<Result<Vec<(String, u32)>, kura_app::error::StoreError>> {
        Some(store.cart_items_raw(cart_id))
    }

    pub(crate) fn cart_lines(
        store: &super::SqliteStore,
        cart_id: i64,
    ) -> Option<Result<super::CartLines, kura_app::error::StoreError>> {
        Some(store.cart_lines_raw(cart_id))
    }

    pub(crate) fn catalog_items(
        store: &super::SqliteStore,
        skus: &[String],
    ) -> Option<Result<Vec<kura_app::catalog::CatalogItem>, kura_app::error::StoreError>> {
        Some(store.catalog_items_raw(skus))
    }

    /// Bulk orders run in one trip to the writer's thread.
    pub(crate) async fn insert_orders(
        store: &super::SqliteStore,
        orders: &[kura_app::sealed::OrderRecord],
    ) -> Option<Result<(), kura_app::error::StoreError>> {
        Some(store.insert_orders_in_one_trip(orders).await)
    }

    /// A blob as lower-case hex text.
    pub(crate) fn hex(column: &str) -> String {
        format!("lower(hex({column}))")
    }

    /// Each guest buyer's latest order among those `filter` takes in (the orders `o`):
    /// `email_bidx, id, lang, latest_at`. SQLite fills the bare columns from the row of the MAX.
    pub(crate) fn latest_per_buyer(filter: &str) -> String {
        format!(
            "SELECT o.email_bidx, o.id, o.lang, MAX(o.created_at) AS latest_at FROM orders o \
             WHERE {filter} GROUP BY o.email_bidx"
        )
    }
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) read: SqlitePool,
    /// The checkout's reads on rusqlite (see `one_trip`).
    raw_reads: Arc<one_trip::RawReads>,
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

pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c == "5" || c == "6" || c == "517" || c == "261"))
}

pub(crate) const WRITE_ATTEMPTS: u32 = 40;

/// Maps a failed write to the port's error.
pub(crate) fn write_err(e: WriteError) -> StoreError {
    match e {
        WriteError::Sql(e) => db_err(e),
        WriteError::Raw(e) => raw_err(&e),
        WriteError::Retry => StoreError::Unavailable("the write could not be committed".into()),
        WriteError::Closed => StoreError::Unavailable("the store is closed".into()),
    }
}

/// Maps a statement refused in a one-trip job like [`db_err`] does for sqlx's.
pub(crate) fn raw_err(e: &rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// Whether a failed write should run again: its batch was rolled back, or another process
/// held the write lock.
pub(crate) fn should_retry(e: &WriteError, attempt: u32) -> bool {
    attempt < WRITE_ATTEMPTS
        && match e {
            WriteError::Retry => true,
            WriteError::Sql(e) => is_busy(e),
            WriteError::Raw(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            WriteError::Closed => false,
        }
}

pub(crate) async fn back_off(e: &WriteError, attempt: u32) {
    match e {
        WriteError::Sql(_) | WriteError::Raw(_) => {
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
    ($store:expr, |$tx:ident| $body:block) => {
        write_tx!($store, keep_if |_v: &_| true, |$tx| $body)
    };
    ($store:expr, keep_if $keep:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<_, $crate::sqlite::writer::WriteError> = async {
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
                    Ok(v) if ($keep)(&v) => {
                        job.keep().await?;
                        Ok(v)
                    }
                    Ok(v) => {
                        job.undo().await?;
                        Ok(v)
                    }
                    Err(e) => {
                        job.undo().await?;
                        Err($crate::sqlite::writer::WriteError::Sql(e))
                    }
                }
            }
            .await;
            match result {
                Ok(v) => break Ok(v),
                Err(e) if $crate::sqlite::should_retry(&e, attempt) => {
                    $crate::sqlite::back_off(&e, attempt).await
                }
                Err(e) => break Err($crate::sqlite::write_err(e)),
            }
        }
    }};
}

// The shared query code, compiled here against SQLite's types.
#[path = "../sql/accounts.rs"]
mod accounts;
#[path = "../sql/catalog.rs"]
mod catalog;
#[path = "../sql/coupons.rs"]
mod coupons;
#[path = "../sql/customers.rs"]
mod customers;
#[path = "../sql/data_keys.rs"]
mod data_keys;
#[path = "../sql/guard.rs"]
mod guard;
#[path = "../sql/incidents.rs"]
mod incidents;
#[path = "../sql/inquiries.rs"]
mod inquiries;
#[path = "../sql/migrate.rs"]
mod migrate;
#[path = "../sql/receipts.rs"]
mod receipts;
#[path = "../sql/retention.rs"]
mod retention;
#[path = "../sql/shop.rs"]
mod shop;
#[path = "../sql/staff.rs"]
mod staff;
#[path = "../sql/store.rs"]
mod store;

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
            // Deleted rows are overwritten in their pages (FAST: wherever that costs no extra
            // write; a data key's small row always is), so an erased person's key does not
            // linger in the file; their data key is what makes their values unreadable.
            .pragma("secure_delete", "fast")
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
            // A file on this machine: no ping (a trip to the connection's thread) before each
            // read; a failing connection fails its query and is replaced.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true))
            .await
            .map_err(db_err)?;
        Ok(Self {
            read,
            writer,
            raw_reads: Arc::new(one_trip::RawReads::new(path.clone())),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn reader(&self) -> &SqlitePool {
        &self.read
    }

    /// Where the shared query code reads: the read-only pool, never blocked by the writer.
    fn reads(&self) -> &SqlitePool {
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

    /// After an erasure: the WAL still holds the page images written before it (the data key
    /// among them), so it is checkpointed into the file (where `secure_delete` has zeroed the
    /// deleted rows) and truncated. Readers that hold the WAL are waited for, a little.
    async fn settle_erasure(&self) -> Result<(), StoreError> {
        for attempt in 0..50u64 {
            let mut guard = self.writer.exclusive().await.map_err(write_err)?;
            let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(guard.conn().map_err(write_err)?)
                .await
                .map_err(db_err)?;
            drop(guard);
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
        }
        tracing::warn!(target: "kura::store", "the WAL could not be truncated after an erasure; it will be at the next checkpoint");
        Ok(())
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

    /// Applies pending migrations on the writer connection, with no other write in flight.
    async fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut guard = self.writer.exclusive().await.map_err(write_err)?;
        migrate::run(guard.conn().map_err(write_err)?).await
    }

    pub async fn close(&self) {
        self.raw_reads.close();
        self.read.close().await;
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests;
