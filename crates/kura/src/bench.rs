//! `kura bench`: the numbers behind "sealing is cheap".
//!
//! Prints per-field seal/open and blind-index cost, Argon2id verify time, and the time to insert
//! and read back N customer rows sealed through the real repository, beside the same rows
//! stored unsealed in a plain table of the same shape on the same database (the ratio is the
//! cost of sealing). Run with `cargo run --release -p kura -- bench`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kura_app::data_keys::PersonKeys;
use kura_app::sealed::col;
use kura_app::{Customers, Store};
use kura_domain::{
    AddressLine, CustomerProfile, Email, Gender, Kana, Person, PersonName, Phone, PostalCode,
    Prefecture,
};
use kura_seal::{KeyRing, Normalize, PasswordPolicy, Passwords};
use kura_store::pg::PgStore;
use kura_store::sqlite::SqliteStore;
use secrecy::SecretString;
use sqlx::Row;

use crate::synth;

const CHUNK: usize = 5000;

fn per_op(total: Duration, n: u64) -> f64 {
    total.as_nanos() as f64 / n as f64
}

fn micro() -> anyhow::Result<()> {
    let ring = KeyRing::ephemeral()?;
    let value = "山田 太郎";
    let n = 200_000u64;
    let t = Instant::now();
    let mut last = None;
    for i in 0..n {
        last = Some(ring.seal_str(col::FAMILY_NAME, i64::try_from(i)?, value)?);
    }
    let seal = per_op(t.elapsed(), n);
    let sealed = last.ok_or_else(|| anyhow::anyhow!("nothing sealed"))?;
    let t = Instant::now();
    for _ in 0..n {
        black_box(ring.open(col::FAMILY_NAME, i64::try_from(n - 1)?, &sealed)?);
    }
    let open = per_op(t.elapsed(), n);
    let t = Instant::now();
    for i in 0..n {
        black_box(ring.blind_index(
            col::EMAIL,
            &format!("customer{i}@example.jp"),
            Normalize::Email,
        )?);
    }
    let blind = per_op(t.elapsed(), n);
    println!("seal one field (15 bytes, XChaCha20-Poly1305): {seal:>10.0} ns");
    println!("open one field:                               {open:>10.0} ns");
    println!("blind index (NFKC + HMAC-SHA256):             {blind:>10.0} ns");
    // The same under a person's data key, and what reaching that key costs.
    let key = kura_seal::DataKey::generate()?;
    let t = Instant::now();
    let mut last = None;
    for i in 0..n {
        last = Some(key.seal_str(col::FAMILY_NAME, i64::try_from(i)?, value)?);
    }
    let dk_seal = per_op(t.elapsed(), n);
    let sealed = last.ok_or_else(|| anyhow::anyhow!("nothing sealed"))?;
    let t = Instant::now();
    for _ in 0..n {
        black_box(key.open(col::FAMILY_NAME, i64::try_from(n - 1)?, &sealed)?);
    }
    let dk_open = per_op(t.elapsed(), n);
    let wrapped = ring.wrap_data_key(1, &key)?;
    let t = Instant::now();
    for _ in 0..n {
        black_box(ring.unwrap_data_key(1, &wrapped)?);
    }
    let unwrap = per_op(t.elapsed(), n);
    let t = Instant::now();
    for _ in 0..n {
        let k = kura_seal::DataKey::generate()?;
        black_box(ring.wrap_data_key(1, &k)?);
    }
    let new_key = per_op(t.elapsed(), n);
    println!("seal one field under a data key:              {dk_seal:>10.0} ns");
    println!("open one field under a data key:              {dk_open:>10.0} ns");
    println!("unwrap a person's data key:                   {unwrap:>10.0} ns");
    println!("new data key (random + wrap):                 {new_key:>10.0} ns");
    let passwords = Passwords::new(PasswordPolicy::FLOOR)?;
    let pw = SecretString::from("correct horse battery staple".to_string());
    let hash = passwords.hash(&pw)?;
    let rounds = 10u32;
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(passwords.verify(&pw, &hash));
    }
    let p = PasswordPolicy::FLOOR;
    println!(
        "Argon2id verify (m={} KiB, t={}, p={}):       {:>10.1} ms",
        p.memory_kib,
        p.iterations,
        p.parallelism,
        t.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
    );
    Ok(())
}

fn profiles(rows: u64) -> anyhow::Result<Vec<CustomerProfile>> {
    let mut rng = synth::Rng::new(42);
    (0..rows).map(|n| synth::profile(&mut rng, n)).collect()
}

/// The plain columns of a profile, in table order.
fn plain_fields(p: &CustomerProfile) -> [Option<String>; 12] {
    let q = &p.person;
    [
        Some(q.family_name.as_str().into()),
        Some(q.given_name.as_str().into()),
        Some(q.family_name_kana.as_str().into()),
        Some(q.given_name_kana.as_str().into()),
        Some(p.email.as_str().into()),
        Some(q.phone.as_str().into()),
        Some(q.postal_code.as_str().into()),
        Some(q.prefecture.code().to_string()),
        Some(q.address1.as_str().into()),
        q.address2.as_ref().map(|a| a.as_str().into()),
        p.birth_date.map(|d| d.iso()),
        p.gender.map(|g| g.code().into()),
    ]
}

const PLAIN_COLUMNS: &str = "family_name, given_name, family_name_kana, given_name_kana, email, phone, postal_code, prefecture, address1, address2, birth_date, gender";

fn profile_from_plain(row: &[Option<String>]) -> anyhow::Result<CustomerProfile> {
    let g = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    Ok(CustomerProfile {
        person: Person {
            family_name: PersonName::parse(&g(0))?,
            given_name: PersonName::parse(&g(1))?,
            family_name_kana: Kana::parse(&g(2))?,
            given_name_kana: Kana::parse(&g(3))?,
            postal_code: PostalCode::parse(&g(6))?,
            prefecture: Prefecture::parse(&g(7))?,
            address1: AddressLine::parse(&g(8))?,
            address2: AddressLine::parse_optional(&g(9))?,
            phone: Phone::parse(&g(5))?,
        },
        email: Email::parse(&g(4))?,
        birth_date: None,
        gender: Gender::parse_optional(&g(11))?,
    })
}

struct Timing {
    insert: Duration,
    read: Duration,
}

// Every run below, sealed or not, works the way concurrent requests use a shop's two cores:
// while one batch is written (or read) by the database, the next is prepared (sealed or
// bound) and the last one read is decoded (opened or parsed). The unsealed runs get exactly the
// same overlap, so the ratio stays the cost of sealing.

async fn sealed_run(
    store: &Arc<dyn Store>,
    profiles: &[CustomerProfile],
) -> anyhow::Result<Timing> {
    let ring = Arc::new(KeyRing::ephemeral()?);
    let t = Instant::now();
    let mut writing: Option<tokio::task::JoinHandle<Result<(), kura_app::StoreError>>> = None;
    for chunk in profiles.chunks(CHUNK) {
        // Each customer under a data key of their own, as the shop seals them.
        let sealed = chunk
            .iter()
            .map(|p| {
                let (keys, key) = PersonKeys::new_person_in(Arc::clone(&ring))?;
                Customers::seal(&keys, Some(key), kura_app::new_id(), p, None, 0)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(w) = writing.take() {
            w.await??;
        }
        let store = Arc::clone(store);
        writing = Some(tokio::spawn(async move {
            store.insert_customers(&sealed).await
        }));
    }
    if let Some(w) = writing {
        w.await??;
    }
    let insert = t.elapsed();
    let t = Instant::now();
    let limit = u32::try_from(CHUNK)?;
    let fetch = |after: i64| {
        let store = Arc::clone(store);
        tokio::spawn(async move { store.customers_after(after, limit).await })
    };
    let mut next = fetch(i64::MIN);
    let mut seen = 0usize;
    loop {
        let page = next.await??;
        let Some(last) = page.last() else { break };
        next = fetch(last.id);
        for rec in &page {
            let keys = PersonKeys::of_in(Arc::clone(&ring), rec.data_key.as_ref())?;
            black_box(Customers::open(&keys, rec)?);
        }
        seen += page.len();
    }
    anyhow::ensure!(
        seen == profiles.len(),
        "read back {seen} of {} sealed rows",
        profiles.len()
    );
    Ok(Timing {
        insert,
        read: t.elapsed(),
    })
}

fn parse_plain_rows<R: Row>(rows: &[R]) -> anyhow::Result<()>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    for r in rows {
        let fields: Vec<Option<String>> =
            (1..=12).map(|i| r.try_get(i)).collect::<Result<_, _>>()?;
        black_box(profile_from_plain(&fields)?);
    }
    Ok(())
}

async fn plain_sqlite(store: &SqliteStore, profiles: &[CustomerProfile]) -> anyhow::Result<Timing> {
    store
        .with_writer(|w| {
            Box::pin(async move {
                sqlx::query(
                    "CREATE TABLE bench_plain (id INTEGER PRIMARY KEY NOT NULL, family_name TEXT NOT NULL, given_name TEXT NOT NULL, \
                     family_name_kana TEXT NOT NULL, given_name_kana TEXT NOT NULL, email TEXT NOT NULL UNIQUE, phone TEXT NOT NULL, \
                     postal_code TEXT NOT NULL, prefecture TEXT NOT NULL, address1 TEXT NOT NULL, address2 TEXT, birth_date TEXT, gender TEXT, \
                     password_hash TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT",
                )
                .execute(&mut *w)
                .await?;
                sqlx::query("CREATE INDEX bench_plain_phone ON bench_plain (phone)")
                    .execute(&mut *w)
                    .await?;
                Ok(())
            })
        })
        .await?;
    let t = Instant::now();
    let mut writing: Option<tokio::task::JoinHandle<Result<(), kura_app::StoreError>>> = None;
    for chunk in profiles.chunks(CHUNK) {
        let rows: Vec<(i64, [Option<String>; 12])> = chunk
            .iter()
            .map(|p| (kura_app::new_id(), plain_fields(p)))
            .collect();
        if let Some(w) = writing.take() {
            w.await??;
        }
        let store = store.clone();
        writing = Some(tokio::spawn(async move {
            store
                .with_writer(move |w| {
                    Box::pin(async move {
                        sqlx::query("BEGIN IMMEDIATE").execute(&mut *w).await?;
                        for (id, fields) in rows {
                            let mut q = sqlx::query(
                                "INSERT INTO bench_plain (id, family_name, given_name, family_name_kana, given_name_kana, email, phone, postal_code, \
                                 prefecture, address1, address2, birth_date, gender, password_hash, created_at, updated_at) \
                                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0)",
                            )
                            .bind(id);
                            for v in fields {
                                q = q.bind(v);
                            }
                            q.execute(&mut *w).await?;
                        }
                        sqlx::query("COMMIT").execute(&mut *w).await?;
                        Ok(())
                    })
                })
                .await
        }));
    }
    if let Some(w) = writing {
        w.await??;
    }
    let insert = t.elapsed();
    let t = Instant::now();
    let limit = i64::try_from(CHUNK)?;
    let fetch = |after: i64| {
        let pool = store.reader().clone();
        tokio::spawn(async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, {PLAIN_COLUMNS} FROM bench_plain WHERE id > ? ORDER BY id LIMIT ?"
            )))
            .bind(after)
            .bind(limit)
            .fetch_all(&pool)
            .await
        })
    };
    let mut next = fetch(i64::MIN);
    loop {
        let rows = next.await??;
        let Some(last) = rows.last() else { break };
        next = fetch(last.try_get("id")?);
        parse_plain_rows(&rows)?;
    }
    Ok(Timing {
        insert,
        read: t.elapsed(),
    })
}

async fn plain_pg(store: &PgStore, profiles: &[CustomerProfile]) -> anyhow::Result<Timing> {
    let pool = store.pool();
    sqlx::query(
        "CREATE TABLE bench_plain (id BIGINT PRIMARY KEY, family_name TEXT NOT NULL, given_name TEXT NOT NULL, \
         family_name_kana TEXT NOT NULL, given_name_kana TEXT NOT NULL, email TEXT NOT NULL UNIQUE, phone TEXT NOT NULL, \
         postal_code TEXT NOT NULL, prefecture TEXT NOT NULL, address1 TEXT NOT NULL, address2 TEXT, birth_date TEXT, gender TEXT, \
         password_hash TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    sqlx::query("CREATE INDEX bench_plain_phone ON bench_plain (phone)")
        .execute(pool)
        .await?;
    let t = Instant::now();
    let mut writing: Option<tokio::task::JoinHandle<Result<(), sqlx::Error>>> = None;
    for chunk in profiles.chunks(CHUNK) {
        let rows: Vec<(i64, [Option<String>; 12])> = chunk
            .iter()
            .map(|p| (kura_app::new_id(), plain_fields(p)))
            .collect();
        if let Some(w) = writing.take() {
            w.await??;
        }
        let pool = pool.clone();
        writing = Some(tokio::spawn(async move {
            let mut tx = pool.begin().await?;
            for (id, fields) in rows {
                let mut q = sqlx::query(
                    "INSERT INTO bench_plain (id, family_name, given_name, family_name_kana, given_name_kana, email, phone, postal_code, \
                     prefecture, address1, address2, birth_date, gender, password_hash, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, 0, 0)",
                )
                .bind(id);
                for v in fields {
                    q = q.bind(v);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }));
    }
    if let Some(w) = writing {
        w.await??;
    }
    let insert = t.elapsed();
    let t = Instant::now();
    let limit = i64::try_from(CHUNK)?;
    let fetch = |after: i64| {
        let pool = pool.clone();
        tokio::spawn(async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, {PLAIN_COLUMNS} FROM bench_plain WHERE id > $1 ORDER BY id LIMIT $2"
            )))
            .bind(after)
            .bind(limit)
            .fetch_all(&pool)
            .await
        })
    };
    let mut next = fetch(i64::MIN);
    loop {
        let rows = next.await??;
        let Some(last) = rows.last() else { break };
        next = fetch(last.try_get("id")?);
        parse_plain_rows(&rows)?;
    }
    Ok(Timing {
        insert,
        read: t.elapsed(),
    })
}

fn report(backend: &str, rows: u64, sealed: &Timing, plain: &Timing) {
    let total = |t: &Timing| (t.insert + t.read).as_secs_f64();
    println!("{backend}: {rows} customer rows");
    println!(
        "  sealed   insert {:>7.2} s  read {:>7.2} s  total {:>7.2} s",
        sealed.insert.as_secs_f64(),
        sealed.read.as_secs_f64(),
        total(sealed)
    );
    println!(
        "  unsealed insert {:>7.2} s  read {:>7.2} s  total {:>7.2} s",
        plain.insert.as_secs_f64(),
        plain.read.as_secs_f64(),
        total(plain)
    );
    println!(
        "  cost of sealing: insert {:.2}x, read {:.2}x, insert+read {:.2}x",
        sealed.insert.as_secs_f64() / plain.insert.as_secs_f64(),
        sealed.read.as_secs_f64() / plain.read.as_secs_f64(),
        total(sealed) / total(plain)
    );
}

pub async fn run(rows: u64, pg_url: Option<&str>) -> anyhow::Result<()> {
    println!(
        "Kura foundation benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    micro()?;
    let profiles = profiles(rows)?;
    let dir = tempfile_dir()?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let sqlite = SqliteStore::open(&url).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let plain = plain_sqlite(&sqlite, &profiles).await?;
    let sealed = sealed_run(&store, &profiles).await?;
    report("SQLite", rows, &sealed, &plain);
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    match pg_url {
        Some(url) => {
            let name = format!("kura_bench_{}", std::process::id());
            let admin = sqlx::PgPool::connect(url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await?;
            let db_url = replace_db(url, &name);
            let result = async {
                let pg = PgStore::open(&db_url).await?;
                let store: Arc<dyn Store> = Arc::new(pg.clone());
                let plain = plain_pg(&pg, &profiles).await?;
                let sealed = sealed_run(&store, &profiles).await?;
                report("PostgreSQL", rows, &sealed, &plain);
                pg.close().await;
                anyhow::Ok(())
            }
            .await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(&admin)
            .await?;
            result?;
        }
        None => println!("PostgreSQL: skipped (pass --pg-url or set KURA_BENCH_PG_URL)"),
    }
    Ok(())
}

/// Key rotation over `customers` synthetic customers on SQLite: sealed under data keys (what
/// the shop does) and, for comparison, under the master key alone (as before data keys).
pub async fn rotation(customers: u64) -> anyhow::Result<()> {
    let with_keys = rotation_run(customers, true).await?;
    let without = rotation_run(customers, false).await?;
    println!("key rotation, {customers} customers on SQLite (batches of 500):");
    println!(
        "  under data keys (re-wrap keys, recompute blind indexes): {:>8.1} s",
        with_keys.as_secs_f64()
    );
    println!(
        "  under the master key (re-seal every field):              {:>8.1} s",
        without.as_secs_f64()
    );
    println!(
        "  data keys take {:.2}x the time of re-sealing every field",
        with_keys.as_secs_f64() / without.as_secs_f64()
    );
    Ok(())
}

async fn rotation_run(customers: u64, data_keys: bool) -> anyhow::Result<Duration> {
    let dir = tempfile_dir()?.join(if data_keys { "rotation-dk" } else { "rotation" });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let config = crate::config::Config::load(Some(&dir), None, &[])?;
    crate::shop::init_keys(&config).await?;
    let store = crate::shop::open_store(&config).await?;
    let vault = crate::shop::open_vault(&config)?;
    let ring = vault.ring();
    let mut rng = synth::Rng::new(0x5eed);
    let mut n = 0;
    while n < customers {
        let len = CHUNK.min(usize::try_from(customers - n)?);
        let mut sealed = Vec::with_capacity(len);
        for i in 0..len {
            let p = synth::profile(&mut rng, n + u64::try_from(i)?)?;
            let (keys, key) = if data_keys {
                let (k, r) = PersonKeys::new_person_in(Arc::clone(&ring))?;
                (k, Some(r))
            } else {
                (PersonKeys::of_in(Arc::clone(&ring), None)?, None)
            };
            sealed.push(Customers::seal(
                &keys,
                key,
                kura_app::new_id(),
                &p,
                None,
                0,
            )?);
        }
        store.insert_customers(&sealed).await?;
        n += u64::try_from(len)?;
    }
    let t = Instant::now();
    kura_app::rotation::rotate(store.as_ref(), &vault, 500, Duration::ZERO, &mut |_| {}).await?;
    let took = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(took)
}

/// A private scratch directory for the SQLite file.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kura-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The same server URL with another database name.
pub fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}
