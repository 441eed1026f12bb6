//! Kura's ports on PostgreSQL.
//!
//! Guarantees: the same behaviour as the SQLite store (the same query code, checked by the same
//! conformance suite); every write in a transaction; personal columns bound only from sealed
//! values; several Kura nodes can share one database (sessions live here too, and migrations
//! run under an advisory lock).

use std::time::Duration;

use kura_app::error::StoreError;
use sqlx::PgConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::db_err;

/// The names the shared query code (`src/sql/`) is written against.
type This = PgStore;
type Db = sqlx::Postgres;
type DbRow = sqlx::postgres::PgRow;
/// A cart's lines and their catalog items.
type CartLines = (Vec<(String, u32)>, Vec<kura_app::catalog::CatalogItem>);
type Conn = PgConnection;

/// What PostgreSQL does differently from SQLite; nothing else in the shared code does.
mod dialect {

    pub(crate) const NAME: &str = "postgres";
    pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = crate::PG_MIGRATIONS;
    pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS kura_migrations \
        (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
    /// A transaction-scoped advisory lock: nodes starting together apply each migration once.
    pub(crate) const BEGIN_MIGRATION: &[&str] =
        &["BEGIN", "SELECT pg_advisory_xact_lock(7022365811)"];
    /// `a IS NOT DISTINCT FROM b` is true when both are NULL.
    /// Claims skip rows another transaction holds instead of waiting for (or sharing) them.
    pub(crate) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    /// Taken before an audit entry reads the chain's head, so two entries never share a place.
    pub(crate) const AUDIT_LOCK: &[&str] = &["SELECT pg_advisory_xact_lock(7022365812)"];
    /// One statement per call (the extended protocol).
    pub(crate) const MULTI_STATEMENT: bool = false;
    pub(crate) const NULL_SAFE_EQ: &str = "IS NOT DISTINCT FROM";

    /// PostgreSQL places an order in the shared code's transaction.
    pub(crate) async fn place_order(
        _store: &super::PgStore,
        _order: &kura_app::sealed::OrderRecord,
        _cart_id: Option<i64>,
        _mail: Option<&kura_app::sealed::OutboxRecord>,
    ) -> Option<Result<kura_app::sealed::PlaceOutcome, kura_app::error::StoreError>> {
        None
    }

    /// PostgreSQL runs a one-statement write in the shared code's transaction.
    pub(crate) async fn write_one(
        _store: &super::PgStore,
        _sql: &str,
        _binds: &[crate::Bind],
    ) -> Option<Result<u64, kura_app::error::StoreError>> {
        None
    }

    /// PostgreSQL reads the cart through the shared code's pool.
    pub(crate) fn cart_by_token(
        _store: &super::PgStore,
        _hash: &[u8; 32],
    ) -> Option<Result<Option<i64>, kura_app::error::StoreError>> {
        None
    }

    pub(crate) fn cart_items(
        _store: &super::PgStore,
        _cart_id: i64,
    ) -> Option<Result<Vec<(String, u32)>, kura_app::error::StoreError>> {
        None
    }

    pub(crate) fn cart_lines(
        _store: &super::PgStore,
        _cart_id: i64,
    ) -> Option<Result<super::CartLines, kura_app::error::StoreError>> {
        None
    }

    pub(crate) fn catalog_items(
        _store: &super::PgStore,
        _skus: &[String],
    ) -> Option<Result<Vec<kura_app::catalog::CatalogItem>, kura_app::error::StoreError>> {
        None
    }

    /// PostgreSQL inserts bulk orders in the shared code's transaction.
    pub(crate) async fn insert_orders(
        _store: &super::PgStore,
        _orders: &[kura_app::sealed::OrderRecord],
    ) -> Option<Result<(), kura_app::error::StoreError>> {
        None
    }

    /// A blob as lower-case hex text.
    pub(crate) fn hex(column: &str) -> String {
        format!("encode({column}, 'hex')")
    }

    /// Each guest buyer's latest order among those `filter` takes in (the orders `o`):
    /// `email_bidx, id, lang, latest_at`.
    pub(crate) fn latest_per_buyer(filter: &str) -> String {
        format!(
            "SELECT DISTINCT ON (o.email_bidx) o.email_bidx, o.id, o.lang, o.created_at AS latest_at \
             FROM orders o WHERE {filter} ORDER BY o.email_bidx, o.created_at DESC, o.id DESC"
        )
    }
}

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Runs the body in a transaction of its own; the body names the connection and may use `?` on
/// `sqlx::Error`; its value is the result. With `keep_if`, a value the predicate refuses is
/// rolled back and still returned.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        write_tx!($store, keep_if |_v: &_| true, |$tx| $body)
    };
    ($store:expr, keep_if $keep:expr, |$tx:ident| $body:block) => {{
        let result: Result<_, sqlx::Error> = async {
            let mut transaction = $store.pool.begin().await?;
            let out = {
                let $tx: &mut sqlx::PgConnection = &mut *transaction;
                $body
            };
            if ($keep)(&out) {
                transaction.commit().await?;
            } else {
                transaction.rollback().await?;
            }
            Ok(out)
        }
        .await;
        result.map_err($crate::db_err)
    }};
}

// The shared query code, compiled here against PostgreSQL's types (the SQLite module includes
// the same files: loading each twice is the design, see the crate documentation).
#[path = "../sql/accounts.rs"]
#[allow(clippy::duplicate_mod)]
mod accounts;
#[path = "../sql/catalog.rs"]
#[allow(clippy::duplicate_mod)]
mod catalog;
#[path = "../sql/coupons.rs"]
#[allow(clippy::duplicate_mod)]
mod coupons;
#[path = "../sql/customers.rs"]
#[allow(clippy::duplicate_mod)]
mod customers;
#[path = "../sql/data_keys.rs"]
#[allow(clippy::duplicate_mod)]
mod data_keys;
#[path = "../sql/guard.rs"]
#[allow(clippy::duplicate_mod)]
mod guard;
#[path = "../sql/incidents.rs"]
#[allow(clippy::duplicate_mod)]
mod incidents;
#[path = "../sql/inquiries.rs"]
#[allow(clippy::duplicate_mod)]
mod inquiries;
#[path = "../sql/migrate.rs"]
#[allow(clippy::duplicate_mod)]
mod migrate;
#[path = "../sql/receipts.rs"]
#[allow(clippy::duplicate_mod)]
mod receipts;
#[path = "../sql/retention.rs"]
#[allow(clippy::duplicate_mod)]
mod retention;
#[path = "../sql/shop.rs"]
#[allow(clippy::duplicate_mod)]
mod shop;
#[path = "../sql/staff.rs"]
#[allow(clippy::duplicate_mod)]
mod staff;
#[path = "../sql/store.rs"]
#[allow(clippy::duplicate_mod)]
mod store;

impl PgStore {
    /// Connects to `url` (`postgres://...`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(db_err)?;
        let store = Self { pool };
        store.run_migrations().await?;
        Ok(store)
    }

    /// The connection pool, for tools that need raw access (benchmarks).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// After an erasure: nothing to do here. The deleted data key lingers only in WAL segments
    /// and backups taken before, which the operator's retention governs (see the README).
    async fn settle_erasure(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Where the shared query code reads: the pool (reads and writes share it).
    fn reads(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations on a connection of the pool.
    async fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        migrate::run(&mut conn).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
