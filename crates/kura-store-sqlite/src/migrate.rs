//! Migrations, numbered and named exactly as PostgreSQL's, applied in order, each in its own
//! transaction. A database that knows a newer migration than this program is refused.

use kura_app::error::StoreError;
use sqlx::{Row, SqliteConnection};

use crate::db_err;

/// (number, name, SQL). The PostgreSQL store lists the same numbers and names.
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

pub(crate) async fn applied<'e, E>(db: E) -> Result<Vec<(i64, String)>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let rows = sqlx::query("SELECT version, name FROM kura_migrations ORDER BY version")
        .fetch_all(db)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| Ok((r.try_get("version")?, r.try_get("name")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err)
}

async fn apply(
    conn: &mut SqliteConnection,
    version: i64,
    name: &str,
    sql: &'static str,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO kura_migrations (version, name, applied_at) VALUES (?, ?, ?)")
        .bind(version)
        .bind(name)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Applies pending migrations on the writer connection, each in its own transaction.
pub(crate) async fn run(conn: &mut SqliteConnection) -> Result<Vec<String>, StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS kura_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
    )
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let done = applied(&mut *conn).await?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some((v, _)) = done.iter().find(|(v, _)| *v > known) {
        return Err(StoreError::SchemaTooNew(*v));
    }
    let mut ran = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.iter().any(|(v, _)| v == version) {
            continue;
        }
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        match apply(conn, *version, name, sql).await {
            Ok(()) => {
                sqlx::query("COMMIT")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(db_err(e));
            }
        }
        tracing::info!(target: "kura::store", version, name, "migration applied");
        ran.push(format!("{version:04}_{name}"));
    }
    Ok(ran)
}
