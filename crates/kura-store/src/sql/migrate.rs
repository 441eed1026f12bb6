//! Migrations, numbered and named the same on both backends, applied in order, each in its own
//! transaction under the backend's migration lock (so several nodes starting together migrate
//! once). A database that knows a newer migration than this program is refused.

use kura_app::error::StoreError;
use sqlx::Row;

use super::{Conn, dialect};
use crate::{db_err, now_epoch};

pub(crate) async fn applied<'e, E>(db: E) -> Result<Vec<(i64, String)>, StoreError>
where
    E: sqlx::Executor<'e, Database = super::Db>,
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

/// Applies `version` unless another node did while we waited for the lock.
async fn apply(
    conn: &mut Conn,
    version: i64,
    name: &str,
    sql: &'static str,
) -> Result<bool, StoreError> {
    let done = applied(&mut *conn).await?;
    if done.iter().any(|(v, _)| *v == version) {
        return Ok(false);
    }
    sqlx::raw_sql(sql)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query("INSERT INTO kura_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
        .bind(version)
        .bind(name)
        .bind(now_epoch())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(true)
}

/// Applies pending migrations on `conn`; returns the names of those applied.
pub(crate) async fn run(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    // Under the migration lock too: on PostgreSQL, two `CREATE TABLE IF NOT EXISTS` at the
    // same instant collide on the catalog's unique type name and one node fails to start.
    for begin in dialect::BEGIN_MIGRATION {
        sqlx::query(*begin)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    if let Err(e) = sqlx::query(dialect::MIGRATIONS_TABLE)
        .execute(&mut *conn)
        .await
    {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(db_err(e));
    }
    sqlx::query("COMMIT")
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let done = applied(&mut *conn).await?;
    let known = dialect::MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some((v, _)) = done.iter().find(|(v, _)| *v > known) {
        return Err(StoreError::SchemaTooNew(*v));
    }
    let mut ran = Vec::new();
    for (version, name, sql) in dialect::MIGRATIONS {
        if done.iter().any(|(v, _)| v == version) {
            continue;
        }
        for begin in dialect::BEGIN_MIGRATION {
            sqlx::query(*begin)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        match apply(conn, *version, name, sql).await {
            Ok(applied_here) => {
                sqlx::query("COMMIT")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if applied_here {
                    tracing::info!(target: "kura::store", version, name, "migration applied");
                    ran.push(format!("{version:04}_{name}"));
                }
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(e);
            }
        }
    }
    Ok(ran)
}
