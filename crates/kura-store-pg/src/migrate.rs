//! Migrations, numbered and named exactly as PostgreSQL's, applied in order, each in its own
//! transaction. A database that knows a newer migration than this program is refused.

use kura_app::error::StoreError;
use sqlx::{PgPool, Row};

use crate::db_err;

/// (number, name, SQL). The SQLite store lists the same numbers and names.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/0001_foundation.sql"),
    ),
    (2, "shop", include_str!("../migrations/0002_shop.sql")),
    (
        3,
        "accounts",
        include_str!("../migrations/0003_accounts.sql"),
    ),
    (
        4,
        "cart_sweep",
        include_str!("../migrations/0004_cart_sweep.sql"),
    ),
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

pub(crate) async fn applied(pool: &PgPool) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = sqlx::query("SELECT version, name FROM kura_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| Ok((r.try_get("version")?, r.try_get("name")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err)
}

pub(crate) async fn run(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    // One transaction under an advisory lock, so nodes starting together migrate once.
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock(7022365811)")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query("CREATE TABLE IF NOT EXISTS kura_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let rows = sqlx::query("SELECT version FROM kura_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let done: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get("version"))
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(v) = done.iter().find(|v| **v > known) {
        return Err(StoreError::SchemaTooNew(*v));
    }
    let mut ran = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO kura_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(version)
            .bind(*name)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tracing::info!(target: "kura::store", version, name, "migration applied");
        ran.push(format!("{version:04}_{name}"));
    }
    tx.commit().await.map_err(db_err)?;
    Ok(ran)
}
