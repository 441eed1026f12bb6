//! Kura's ports on SQLite (the embedded default) and PostgreSQL.
//!
//! Guarantees:
//! - Each query and each row mapping is written once, in `src/sql/`, and compiled once per
//!   backend against that backend's concrete sqlx types (`sqlite::SqliteStore`,
//!   `pg::PgStore`). Both run the same SQL text; placeholders are `$n` in both (sqlx's SQLite
//!   driver reads `$n` as the n-th argument).
//! - What truly differs is named in each backend's `dialect` module and nowhere else: full-text
//!   search, null-safe comparison, byte-order collation, the migration lock, and how a write
//!   transaction is run (the SQLite group-commit writer, a pooled PostgreSQL transaction), which
//!   each backend gives as its `write_tx!` macro.
//! - Every write runs in a transaction; personal columns are bound only from
//!   [`kura_seal::Sealed`] and [`kura_seal::BlindIndex`].
//!
//! Why shared source files compiled twice rather than code generic over `sqlx::Database`: the
//! generic form needs a dozen higher-ranked bounds (`Executor` for connections and pools,
//! `Encode`/`Decode`/`Type` for every column type, `ColumnIndex` for rows) restated on every
//! impl, because Rust does not imply where-clauses on other types; the compiled-twice form
//! type-checks each backend against concrete types with no runtime dispatch, and its seam is a
//! short module each backend fills in.

pub mod pg;
pub mod sqlite;

use kura_app::error::StoreError;
use kura_domain::TaxRate;

pub use sqlite::path_from_url;

/// Every migration as (number, name), the same for both backends; each backend has a file of
/// that number and name under `migrations/<backend>/`.
macro_rules! migrations {
    ($backend:literal) => {
        &[
            (
                1,
                "foundation",
                include_str!(concat!("../migrations/", $backend, "/0001_foundation.sql")),
            ),
            (
                2,
                "shop",
                include_str!(concat!("../migrations/", $backend, "/0002_shop.sql")),
            ),
            (
                3,
                "accounts",
                include_str!(concat!("../migrations/", $backend, "/0003_accounts.sql")),
            ),
            (
                4,
                "cart_sweep",
                include_str!(concat!("../migrations/", $backend, "/0004_cart_sweep.sql")),
            ),
            (
                5,
                "key_checks",
                include_str!(concat!("../migrations/", $backend, "/0005_key_checks.sql")),
            ),
            (
                6,
                "data_keys",
                include_str!(concat!("../migrations/", $backend, "/0006_data_keys.sql")),
            ),
            (
                7,
                "cart_item_touch",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0007_cart_item_touch.sql"
                )),
            ),
            (
                8,
                "staff",
                include_str!(concat!("../migrations/", $backend, "/0008_staff.sql")),
            ),
            (
                9,
                "inquiries",
                include_str!(concat!("../migrations/", $backend, "/0009_inquiries.sql")),
            ),
            (
                10,
                "catalog_details",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0010_catalog_details.sql"
                )),
            ),
            (
                11,
                "passkeys",
                include_str!(concat!("../migrations/", $backend, "/0011_passkeys.sql")),
            ),
            (
                12,
                "exports",
                include_str!(concat!("../migrations/", $backend, "/0012_exports.sql")),
            ),
            (
                13,
                "guard",
                include_str!(concat!("../migrations/", $backend, "/0013_guard.sql")),
            ),
            (
                14,
                "alert_notes",
                include_str!(concat!("../migrations/", $backend, "/0014_alert_notes.sql")),
            ),
            (
                15,
                "mail_receipts",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0015_mail_receipts.sql"
                )),
            ),
            (
                16,
                "anti_phishing_phrase",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0016_anti_phishing_phrase.sql"
                )),
            ),
            (
                17,
                "mail_undeliverable",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0017_mail_undeliverable.sql"
                )),
            ),
            (
                18,
                "incidents",
                include_str!(concat!("../migrations/", $backend, "/0018_incidents.sql")),
            ),
            (
                19,
                "incident_people",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0019_incident_people.sql"
                )),
            ),
            (
                20,
                "scoping_in_the_database",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0020_scoping_in_the_database.sql"
                )),
            ),
            (
                21,
                "search_names_and_restock",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0021_search_names_and_restock.sql"
                )),
            ),
            (
                22,
                "receipts",
                include_str!(concat!("../migrations/", $backend, "/0022_receipts.sql")),
            ),
            (
                23,
                "coupons",
                include_str!(concat!("../migrations/", $backend, "/0023_coupons.sql")),
            ),
            (
                24,
                "search_trigrams",
                include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0024_search_trigrams.sql"
                )),
            ),
        ]
    };
}

/// (number, name, SQL) of the SQLite migrations.
pub const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = migrations!("sqlite");
/// (number, name, SQL) of the PostgreSQL migrations: the same numbers and names.
pub const PG_MIGRATIONS: &[(i64, &str, &str)] = migrations!("postgres");

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// A value bound into a query whose text is built at run time.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// `$start, $start+1, ...` for `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes LIKE wildcards so a query word is matched literally, anywhere in the text.
pub(crate) fn like_literal(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A LIKE pattern (with `ESCAPE '\'`) for text starting with `prefix`, taken literally.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("{escaped}%")
}

/// Product ids whose normalised search text contains every word, compared with `like` (`LIKE`
/// or `ILIKE`: case-insensitive on each backend).
pub(crate) fn tax_of(code: &str) -> Result<TaxRate, sqlx::Error> {
    TaxRate::parse(code)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown tax rate {code}").into()))
}

pub(crate) fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}
