//! Invariant 1: a copy of the database is worthless.
//!
//! Customers with known personal values go in through the real repository and the real web
//! layer (registration, sign-in, the account page); then the raw SQLite file and its WAL, and a
//! plain `pg_dump` of PostgreSQL, are searched for every one of those values in every common
//! encoding, and so is everything the process logged meanwhile.

use kura_domain::CustomerProfile;
use secrecy::SecretString;
use unicode_normalization::UnicodeNormalization;

use crate::support::{self, Client, TestShop};

const PASSWORD: &str = "sapporo snow festival lantern";

fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Base64 of `value` as it would appear inside a longer base64 text, at each of the three
/// alignments: the characters that depend only on `value`'s bytes.
fn b64_fragments(value: &[u8]) -> Vec<String> {
    (0..3)
        .filter_map(|k| {
            let mut padded = vec![0u8; k];
            padded.extend_from_slice(value);
            let full = b64(&padded);
            let skip = if k == 0 { 0 } else { 4 };
            let usable = (padded.len() / 3) * 4;
            (usable > skip + 4).then(|| full[skip..usable].to_string())
        })
        .collect()
}

/// Every form in which `value` could betray itself in a file or a log.
fn encodings(value: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let utf8 = value.as_bytes().to_vec();
    out.push(("utf-8".into(), utf8.clone()));
    let nfd: String = value.nfd().collect();
    out.push(("utf-8 nfd".into(), nfd.into_bytes()));
    out.push((
        "utf-16le".into(),
        value.encode_utf16().flat_map(u16::to_le_bytes).collect(),
    ));
    out.push((
        "utf-16be".into(),
        value.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ));
    for enc in [
        encoding_rs::SHIFT_JIS,
        encoding_rs::EUC_JP,
        encoding_rs::ISO_2022_JP,
    ] {
        let (bytes, _, lossy) = enc.encode(value);
        if !lossy && bytes.as_ref() != value.as_bytes() {
            out.push((enc.name().into(), bytes.into_owned()));
        }
    }
    out.push(("hex".into(), hex::encode(&utf8).into_bytes()));
    out.push(("HEX".into(), hex::encode_upper(&utf8).into_bytes()));
    let pct: String = utf8
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    out.push(("percent".into(), pct.into_bytes()));
    let json: String = value
        .encode_utf16()
        .map(|u| {
            if u < 0x80 {
                (u as u8 as char).to_string()
            } else {
                format!("\\u{u:04x}")
            }
        })
        .collect();
    out.push(("json-escaped".into(), json.into_bytes()));
    for (i, frag) in b64_fragments(&utf8).into_iter().enumerate() {
        out.push((format!("base64/{i}"), frag.clone().into_bytes()));
        out.push((
            format!("base64url/{i}"),
            frag.replace('+', "-").replace('/', "_").into_bytes(),
        ));
    }
    out.retain(|(_, b)| b.len() >= 4);
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

fn personal_values(p: &CustomerProfile) -> Vec<String> {
    let q = &p.person;
    let mut v = vec![
        q.family_name.as_str().to_string(),
        q.given_name.as_str().to_string(),
        format!("{}{}", q.family_name.as_str(), q.given_name.as_str()),
        q.family_name_kana.as_str().to_string(),
        q.given_name_kana.as_str().to_string(),
        p.email.as_str().to_string(),
        q.phone.as_str().to_string(),
        format!(
            "{}-{}-{}",
            &q.phone.as_str()[..3],
            &q.phone.as_str()[3..7],
            &q.phone.as_str()[7..]
        ),
        q.postal_code.as_str().to_string(),
        q.postal_code.display(),
        q.address1.as_str().to_string(),
        PASSWORD.to_string(),
    ];
    if let Some(a) = &q.address2 {
        v.push(a.as_str().to_string());
    }
    if let Some(d) = p.birth_date {
        v.push(d.iso());
    }
    v
}

fn find_leaks(haystack: &[u8], profiles: &[CustomerProfile]) -> Vec<String> {
    let mut leaks = Vec::new();
    for p in profiles {
        for value in personal_values(p) {
            for (how, needle) in encodings(&value) {
                if memchr::memmem::find(haystack, &needle).is_some() {
                    leaks.push(format!("{value:?} as {how}"));
                }
            }
        }
    }
    leaks
}

/// Registers the customers, signs one in through the web layer and views the account page, so
/// that customers, sessions and logs all hold data derived from them.
async fn exercise(shop: &TestShop) -> Vec<CustomerProfile> {
    let profiles: Vec<CustomerProfile> = (0..5).map(support::profile).collect();
    for p in &profiles {
        shop.state
            .customers
            .register(p, Some(SecretString::from(PASSWORD.to_string())))
            .await
            .unwrap();
    }
    let mut browser = Client::new(&shop.router);
    let csrf = browser.csrf_from("/login").await;
    let wrong = browser
        .post_form(
            "/login",
            &[
                ("email", profiles[1].email.as_str()),
                ("password", "not the password at all"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let csrf = support::hidden_value(&wrong.body, "csrf_token").unwrap();
    let ok = browser
        .post_form(
            "/login",
            &[
                ("email", profiles[0].email.as_str()),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let account = browser.get("/account").await;
    assert!(
        account
            .body
            .contains(profiles[0].person.family_name.as_str()),
        "the account page shows the customer's name"
    );
    let number = place_order_for(shop, &mut browser, &profiles).await;
    receipt_for(shop, &mut browser, &number, &profiles[0]).await;
    profiles
}

/// The order delivered (cash on delivery is paid at the door) and its receipt issued to an
/// addressee made of the buyer's name: sealed like every other personal field.
async fn receipt_for(shop: &TestShop, browser: &mut Client, number: &str, buyer: &CustomerProfile) {
    let orders = &shop.state.orders;
    let parcel = kura_app::orders::Parcel {
        carrier: "ヤマト運輸".into(),
        tracking_number: "1234-5678-9012".into(),
        tracking_url: None,
    };
    orders.mark_shipped(number, &parcel).await.unwrap().unwrap();
    orders.mark_delivered(number).await.unwrap().unwrap();
    let name = format!(
        "{}{} 商店",
        buyer.person.family_name.as_str(),
        buyer.person.given_name.as_str()
    );
    let csrf = browser.csrf_from("/account").await;
    let saved = browser
        .post_form(
            &format!("/orders/{number}/addressee"),
            &[("csrf_token", &csrf), ("addressee", &name)],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let pdf = browser.get(&format!("/orders/{number}/receipt.pdf")).await;
    assert_eq!(pdf.status, 200, "{}", pdf.body);
}

/// An order with a different recipient: buyer and recipient records, blind indexes, the
/// queued confirmation mail.
async fn place_order_for(
    shop: &TestShop,
    browser: &mut Client,
    profiles: &[CustomerProfile],
) -> String {
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    let csrf = browser.csrf_from("/products/rice").await;
    browser
        .post_form(
            "/cart/add",
            &[
                ("csrf_token", &csrf),
                ("slug", "rice"),
                ("sku", "R-2KG"),
                ("quantity", "1"),
            ],
        )
        .await;
    let (b, r) = (&profiles[0], &profiles[3]);
    let person = |prefix: &str, p: &kura_domain::Person| -> Vec<(String, String)> {
        vec![
            (
                format!("{prefix}family_name"),
                p.family_name.as_str().to_string(),
            ),
            (
                format!("{prefix}given_name"),
                p.given_name.as_str().to_string(),
            ),
            (
                format!("{prefix}family_name_kana"),
                p.family_name_kana.as_str().to_string(),
            ),
            (
                format!("{prefix}given_name_kana"),
                p.given_name_kana.as_str().to_string(),
            ),
            (
                format!("{prefix}postal_code"),
                p.postal_code.as_str().to_string(),
            ),
            (
                format!("{prefix}prefecture"),
                p.prefecture.code().to_string(),
            ),
            (format!("{prefix}address1"), p.address1.as_str().to_string()),
            (
                format!("{prefix}address2"),
                p.address2
                    .as_ref()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
            ),
            (format!("{prefix}phone"), p.phone.as_str().to_string()),
        ]
    };
    let csrf = browser.csrf_from("/checkout").await;
    let mut fields = vec![("csrf_token".to_string(), csrf)];
    fields.extend(person("", &b.person));
    fields.extend(person("ship_", &r.person));
    fields.extend([
        ("email".to_string(), b.email.as_str().to_string()),
        (
            "birth_date".to_string(),
            b.birth_date.map(|d| d.iso()).unwrap_or_default(),
        ),
        ("gender".to_string(), "female".to_string()),
        ("ship_to".to_string(), "other".to_string()),
        ("delivery_date".to_string(), String::new()),
        ("delivery_slot".to_string(), "morning".to_string()),
        ("payment".to_string(), "cod".to_string()),
    ]);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let checkout = browser.post_form("/checkout", &refs).await;
    assert_eq!(checkout.status, 303, "{}", checkout.body);
    let confirm = browser.get("/checkout/confirm").await;
    assert!(
        confirm.body.contains(r.person.address1.as_str()),
        "the recipient is on the confirmation page"
    );
    let csrf = support::hidden_value(&confirm.body, "csrf_token").unwrap();
    let attempt = support::hidden_value(&confirm.body, "attempt").unwrap();
    let total = support::hidden_value(&confirm.body, "total").unwrap();
    let placed = browser
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &csrf),
                ("attempt", &attempt),
                ("total", &total),
            ],
        )
        .await;
    assert_eq!(placed.status, 303);
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);
    assert_eq!(
        shop.state
            .store
            .count_rows(&kura_app::sealed::MAIL_OUTBOX)
            .await
            .unwrap(),
        1,
        "the confirmation mail waits, sealed"
    );
    crate::storefront::location(&placed)
        .trim_start_matches("/orders/")
        .split(['?', '/'])
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn the_searcher_finds_what_it_looks_for() {
    // A leak detector that cannot find a planted leak would make the tests below meaningless.
    let p = support::profile(1);
    let planted = [
        p.email.as_str().as_bytes().to_vec(),
        encoding_rs::SHIFT_JIS
            .encode(p.person.family_name.as_str())
            .0
            .into_owned(),
        b64(format!("xx{}", p.person.address1.as_str()).as_bytes()).into_bytes(),
        p.person
            .given_name_kana
            .as_str()
            .nfd()
            .collect::<String>()
            .into_bytes(),
    ];
    for blob in planted {
        let mut hay = b"noise before ".to_vec();
        hay.extend_from_slice(&blob);
        hay.extend_from_slice(b" noise after");
        assert!(!find_leaks(&hay, std::slice::from_ref(&p)).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_file_and_wal_hold_no_personal_data() {
    let shop = support::sqlite_shop().await;
    let profiles = exercise(&shop).await;
    let db = shop.dir.path().join("kura.db");
    let mut raw = std::fs::read(&db).unwrap();
    let wal = shop.dir.path().join("kura.db-wal");
    let wal_bytes = std::fs::read(&wal).unwrap_or_default();
    assert!(
        !wal_bytes.is_empty(),
        "the WAL holds recent writes and is searched too"
    );
    raw.extend_from_slice(&wal_bytes);
    let leaks = find_leaks(&raw, &profiles);
    assert!(
        leaks.is_empty(),
        "personal data found in the SQLite files: {leaks:?}"
    );
    let logs = support::captured_logs();
    assert!(!logs.is_empty());
    let leaks = find_leaks(&logs, &profiles);
    assert!(
        leaks.is_empty(),
        "personal data found in the logs: {leaks:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn postgres_dump_holds_no_personal_data() {
    let url = support::required_pg().await;
    let shop = support::shop_with(Some(&url), |_| {}).await;
    let profiles = exercise(&shop).await;
    let out = std::process::Command::new("pg_dump")
        .arg("--no-owner")
        .arg("-d")
        .arg(&url)
        .output()
        .expect("pg_dump is installed");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("COPY public.customers"),
        "the dump holds the customers table"
    );
    let leaks = find_leaks(&out.stdout, &profiles);
    assert!(
        leaks.is_empty(),
        "personal data found in pg_dump: {leaks:?}"
    );
    let leaks = find_leaks(&support::captured_logs(), &profiles);
    assert!(
        leaks.is_empty(),
        "personal data found in the logs: {leaks:?}"
    );
}

/// Lengths say nothing: customers who differ in gender, prefecture, birth date, postal code and
/// kind of phone number, registered through the real repository, leave one ciphertext length
/// per enum-like column in the SQLite file.
#[tokio::test(flavor = "multi_thread")]
async fn enum_like_columns_have_one_ciphertext_length() {
    use kura_domain::{BirthDate, Gender, Phone, PostalCode, Prefecture};
    let shop = support::sqlite_shop().await;
    let genders = [
        Some(Gender::Female),
        Some(Gender::Male),
        Some(Gender::Other),
    ];
    for n in 0..12u32 {
        let mut p = support::profile(n);
        p.gender = genders[n as usize % 3];
        p.person.prefecture = Prefecture::try_from(u8::try_from(n * 4 + 1).unwrap()).unwrap();
        p.person.postal_code = PostalCode::parse(&format!("{:07}", 1_000_000 + n * 7919)).unwrap();
        p.person.phone = Phone::parse(if n.is_multiple_of(2) {
            "03-1234-5678"
        } else {
            "090-1234-5678"
        })
        .unwrap();
        p.birth_date = Some(
            BirthDate::parse(
                &format!("19{:02}-{}-{}", 50 + n, n % 12 + 1, n + 1),
                (2026, 1, 1),
            )
            .unwrap(),
        );
        shop.state.customers.register(&p, None).await.unwrap();
    }
    let path = kura_store::path_from_url(&shop.config.database.url).unwrap();
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    for column in ["gender", "prefecture", "birth_date", "postal_code", "phone"] {
        let lengths: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT length({column}) FROM customers"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            lengths.len(),
            1,
            "customers.{column} has lengths {lengths:?}"
        );
    }
    let genders: i64 = sqlx::query_scalar("SELECT count(DISTINCT gender) FROM customers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(genders, 12, "every customer's gender is sealed apart");
}

/// The first customer of [`exercise`] (the one who ordered), erased through the real use case
/// after saving an address. Returns their wrapped data key's bytes, as stored before.
async fn erase_first(shop: &TestShop, profiles: &[CustomerProfile]) -> Vec<u8> {
    let ring = shop.state.vault.ring();
    let lookups = ring
        .blind_indexes(
            kura_app::sealed::col::EMAIL_BIDX,
            profiles[0].email.as_str(),
            kura_seal::Normalize::Email,
        )
        .unwrap();
    let id = shop
        .state
        .store
        .customer_credentials_by_email(&lookups)
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(
        shop.state
            .customers
            .add_address(id, &profiles[4].person)
            .await
            .unwrap()
    );
    let wrapped = shop
        .state
        .store
        .customer(id)
        .await
        .unwrap()
        .unwrap()
        .data_key
        .and_then(|k| k.wrapped)
        .expect("an account has a data key")
        .into_bytes();
    assert!(shop.state.customers.delete_account(id).await.unwrap());
    wrapped
}

/// Tries every sealed value of every sealed table of `store` with the key file's ring and the
/// data keys the store still holds. Returns (opened, refused) and every opened plaintext.
async fn open_everything(
    store: &dyn kura_app::Store,
    ring: &std::sync::Arc<kura_seal::KeyRing>,
) -> (usize, usize, Vec<u8>) {
    let (mut opened, mut refused, mut plain) = (0, 0, Vec::new());
    for table in kura_app::sealed::SEALED_TABLES {
        let mut after = i64::MIN;
        loop {
            let rows = store.sealed_rows(table, after, 500).await.unwrap();
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in &rows {
                let keys = kura_app::data_keys::PersonKeys::of_in(
                    std::sync::Arc::clone(ring),
                    row.data_key.as_ref(),
                );
                for (name, value) in table.sealed.iter().zip(&row.sealed) {
                    let Some(bytes) = value else { continue };
                    let sealed = kura_seal::Sealed::from_stored(bytes.clone());
                    let column = table.column(name);
                    let got = match &keys {
                        Ok(keys) => keys.open(column, row.id, &sealed).ok(),
                        Err(_) => None,
                    };
                    match got {
                        Some(p) => {
                            opened += 1;
                            plain.extend_from_slice(&p);
                            plain.push(b'\n');
                        }
                        None => refused += 1,
                    }
                }
            }
        }
    }
    (opened, refused, plain)
}

/// The values only the erased customer had (the other customers share the suite's test names).
fn erased_only(p: &CustomerProfile) -> Vec<String> {
    vec![
        p.email.as_str().to_string(),
        p.person.family_name.as_str().to_string(),
        p.person.postal_code.as_str().to_string(),
        p.person.phone.as_str().to_string(),
    ]
}

fn assert_erased(
    backend: &str,
    (opened, refused, plain): &(usize, usize, Vec<u8>),
    erased: &CustomerProfile,
    others: &[CustomerProfile],
) {
    // The erased customer's order (buyer, recipient, token) stays in place, as noise.
    assert!(
        *refused >= 3,
        "{backend}: the erased customer's order values should not open ({refused} refused)"
    );
    let text = String::from_utf8_lossy(plain);
    for v in erased_only(erased) {
        assert!(
            !text.contains(&v),
            "{backend}: an erased customer's value opened: {v}"
        );
    }
    for p in others {
        assert!(
            text.contains(p.email.as_str()),
            "{backend}: another customer no longer opens"
        );
    }
    assert!(*opened > 0);
}

/// Erasure erases: after an account is deleted, a copy of the SQLite file and its WAL, opened
/// with the key file, gives back none of that customer's values anywhere (their order, its
/// mail, their saved address), while the other customers' all open; and the erased customer's
/// wrapped data key is in neither file.
#[tokio::test(flavor = "multi_thread")]
async fn an_erased_customer_opens_from_no_copy_of_the_sqlite_files() {
    let shop = support::sqlite_shop().await;
    let profiles = exercise(&shop).await;
    let wrapped = erase_first(&shop, &profiles).await;

    let copy = tempfile::tempdir().unwrap();
    let mut raw = Vec::new();
    for name in ["kura.db", "kura.db-wal"] {
        let from = shop.dir.path().join(name);
        if let Ok(bytes) = std::fs::read(&from) {
            std::fs::write(copy.path().join(name), &bytes).unwrap();
            raw.extend_from_slice(&bytes);
        }
    }
    assert!(
        !raw.windows(wrapped.len()).any(|w| w == wrapped.as_slice()),
        "the erased customer's wrapped data key is still in the file or its WAL"
    );
    let copied =
        kura_store::sqlite::SqliteStore::open(copy.path().join("kura.db").to_str().unwrap())
            .await
            .unwrap();
    let result = open_everything(&copied, &shop.state.vault.ring()).await;
    assert_erased("sqlite", &result, &profiles[0], &profiles[1..]);
}

/// The same for a `pg_dump` taken after the erasure, restored into a fresh database.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn an_erased_customer_opens_from_no_pg_dump_taken_after() {
    let url = support::required_pg().await;
    let shop = support::shop_with(Some(&url), |_| {}).await;
    let profiles = exercise(&shop).await;
    let wrapped = erase_first(&shop, &profiles).await;
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "-d"])
        .arg(&url)
        .output()
        .expect("pg_dump is installed");
    assert!(dump.status.success());
    assert!(
        !String::from_utf8_lossy(&dump.stdout).contains(&format!("\\\\x{}", hex::encode(&wrapped))),
        "the erased customer's wrapped data key is in the dump"
    );
    let restored = support::required_pg().await;
    let mut psql = std::process::Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(&restored)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql is installed");
    std::io::Write::write_all(psql.stdin.as_mut().unwrap(), &dump.stdout).unwrap();
    drop(psql.stdin.take());
    assert!(psql.wait().unwrap().success(), "the dump restores");
    let copied = kura_store::pg::PgStore::open(&restored).await.unwrap();
    let result = open_everything(&copied, &shop.state.vault.ring()).await;
    assert_erased("postgres", &result, &profiles[0], &profiles[1..]);
}

/// Lengths say nothing in a shop of realistic size: `kura demo --customers 10000` (synthetic
/// customers of every gender and prefecture, sealed as real ones) leaves exactly one ciphertext
/// length in each enum-like column, and every customer and order under a data key of its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_demo_of_ten_thousand_customers_has_one_length_per_enum_like_column() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("shop");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kura"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("KURA_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args([
            "demo",
            "--no-serve",
            "--customers",
            "10000",
            "--orders",
            "500",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("kura.db"))
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    for column in ["gender", "prefecture", "birth_date", "postal_code", "phone"] {
        let lengths: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT length({column}) FROM customers WHERE {column} IS NOT NULL"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(
            lengths.len() <= 1,
            "customers.{column} has lengths {lengths:?}"
        );
    }
    let genders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customers WHERE gender IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(genders > 1000, "the demo gives genders: {genders}");
    let without_key: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM customers WHERE data_key_id IS NULL) \
         + (SELECT count(*) FROM orders WHERE data_key_id IS NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(without_key, 0, "every customer and order has a data key");
    let keys: i64 = sqlx::query_scalar("SELECT count(DISTINCT length(wrapped)) FROM data_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 1, "every wrapped data key has one length");
}
