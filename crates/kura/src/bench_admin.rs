//! `kura bench-admin`: the back office on a large shop. Fills a scratch shop with synthetic
//! customers and orders (sealed like real ones), signs an owner in (password and TOTP), then
//! times pages through the real router (session, guard, queries, rendering): the order list in
//! its common shapes, and unmasking a customer (budget check, audit entry, opening).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use http_body_util::BodyExt;
use kura_app::audit::Actor;
use kura_app::staff::{PasswordSignIn, Role};
use tower::ServiceExt;

use crate::config::Config;

struct Timing {
    name: String,
    millis: Vec<f64>,
}

impl Timing {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.millis.clone();
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v.get(i).copied().unwrap_or(0.0)
    }

    fn print(&self) {
        println!(
            "{:<44} n={:<5} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
            self.name,
            self.millis.len(),
            self.pct(0.5),
            self.pct(0.99),
            self.pct(1.0)
        );
    }
}

fn base32_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push(u8::try_from((bits >> n) & 0xff).unwrap_or(0));
            bits &= (1 << n) - 1;
        }
    }
    out
}

async fn send(router: &axum::Router, req: Request<Body>) -> anyhow::Result<(u16, String)> {
    let mut req = req;
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let res = router.clone().oneshot(req).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

async fn time_get(
    router: &axum::Router,
    cookie: &str,
    name: &str,
    paths: &[String],
) -> anyhow::Result<Timing> {
    let mut t = Timing {
        name: name.to_string(),
        millis: Vec::with_capacity(paths.len()),
    };
    for path in paths {
        let req = Request::get(path.as_str())
            .header("cookie", cookie)
            .body(Body::empty())?;
        let started = Instant::now();
        let (status, _) = send(router, req).await?;
        t.millis.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(status == 200, "{path} answered {status}");
    }
    Ok(t)
}

pub async fn run(
    orders: u64,
    customers: u64,
    samples: usize,
    pg_url: Option<&str>,
    keep: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    println!(
        "Kura back-office benchmark: {orders} orders, {customers} customers ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let dir = match keep {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("kura-bench-admin-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    // One client asks as fast as it can: the per-client rate limit would refuse it.
    let mut env = vec![
        ("KURA_SERVER_METRICS_LISTEN".to_string(), String::new()),
        ("KURA_MAIL_TRANSPORT".to_string(), "outbox".to_string()),
        (
            "KURA_SERVER_RATE_LIMIT_PER_SECOND".to_string(),
            "1000000".to_string(),
        ),
        (
            "KURA_SERVER_RATE_LIMIT_BURST".to_string(),
            "1000000".to_string(),
        ),
    ];
    let pg_db = match pg_url {
        Some(url) => {
            let name = format!("kura_bench_admin_{}", std::process::id());
            let admin = sqlx::PgPool::connect(url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await?;
            env.push((
                "KURA_DATABASE_URL".into(),
                crate::bench::replace_db(url, &name),
            ));
            Some((admin, name))
        }
        None => None,
    };
    let result = measure(&dir, &env, orders, customers, samples).await;
    if let Some((admin, name)) = pg_db {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
    }
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// A staff member of `role` made for a benchmark and signed in with both factors: the cookie
/// header and the CSRF token of their session.
pub(crate) async fn signed_in(
    state: &kura_web::AppState,
    name: &str,
    role: Role,
) -> anyhow::Result<(String, String)> {
    let (cookie, csrf, _) = signed_in_session(state, name, role).await?;
    Ok((cookie, csrf))
}

/// As [`signed_in`], with the session itself (for use cases called directly).
pub async fn signed_in_session(
    state: &kura_web::AppState,
    name: &str,
    role: Role,
) -> anyhow::Result<(String, String, kura_app::staff::StaffSession)> {
    let password = "bench staff passphrase: amber lighthouse 72";
    let email = kura_domain::Email::parse(&format!("{name}{}@kura.example.jp", std::process::id()))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let login = format!("{name}{}", std::process::id());
    state
        .staff
        .add(
            &Actor::system("bench"),
            &login,
            role,
            &email,
            &secrecy::SecretString::from(password.to_string()),
        )
        .await?
        .map_err(|r| anyhow::anyhow!("{r:?}"))?;
    let PasswordSignIn::SecondFactor(mut session) = state
        .staff
        .sign_in(
            &login,
            &secrecy::SecretString::from(password.to_string()),
            None,
        )
        .await?
    else {
        anyhow::bail!("the bench staff member could not sign in");
    };
    let enrolment = state.staff.begin_enrolment(&session).await?;
    let secret = kura_seal::TotpSecret::from_bytes(&base32_decode(&enrolment.base32))
        .ok_or_else(|| anyhow::anyhow!("enrolment secret"))?;
    let code = secret.code_at(state.clock.now());
    state
        .staff
        .finish_enrolment(&mut session, &enrolment.sealed, &code, None)
        .await?
        .ok_or_else(|| anyhow::anyhow!("enrolment refused"))?;
    let token = session.token.expose().to_string();
    let cookie = format!("{}={token}", state.config.staff_cookie_name());
    let csrf = state.vault.ring().csrf_token(token.as_bytes());
    Ok((cookie, csrf, session))
}

async fn measure(
    dir: &std::path::Path,
    env: &[(String, String)],
    orders: u64,
    customers: u64,
    samples: usize,
) -> anyhow::Result<()> {
    let config = Config::load(Some(dir), None, env)?;
    crate::shop::init_keys(&config).await?;
    let state = crate::shop::build(&config).await?;
    println!("database: {}", state.store.backend());
    crate::demo::ensure_catalog(&state.store).await?;
    // A kept shop (--dir) is topped up to the counts asked for, not filled again.
    let new_customers = customers.saturating_sub(state.store.count_customers().await?);
    let started = Instant::now();
    crate::demo::insert_synthetic(&state.store, &state.vault, new_customers).await?;
    println!(
        "{customers} customers ({new_customers} new) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let new_orders = orders.saturating_sub(state.store.count_orders().await?);
    let started = Instant::now();
    crate::demo::insert_synthetic_orders(&state.store, &state.vault, new_orders).await?;
    println!(
        "{orders} orders ({new_orders} new) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // An owner, signed in with both factors.
    let (cookie, csrf) = signed_in(&state, "bench", Role::Owner).await?;
    state
        .store
        .set_setting(
            kura_app::backoffice::UNMASK_BUDGET_SETTING,
            "1000000",
            state.clock.now(),
        )
        .await?;
    let router = kura_web::router(Arc::clone(&state));
    let prefix = config.admin.path.clone();

    // Order list shapes. Deep pages start below ids spread over the whole table.
    let some: Vec<i64> = state
        .store
        .orders_page(&Default::default(), None, 500)
        .await?
        .iter()
        .map(|o| o.id)
        .collect();
    let oldest = state
        .store
        .orders_page(&Default::default(), Some(i64::MAX), 1)
        .await?;
    let numbers: Vec<String> = state
        .store
        .orders_page(&Default::default(), None, 200)
        .await?
        .into_iter()
        .map(|o| o.number)
        .collect();
    let _ = oldest;
    let first = time_get(
        &router,
        &cookie,
        "order list, newest 50",
        &vec![format!("{prefix}/orders"); samples],
    )
    .await?;
    let by_status = time_get(
        &router,
        &cookie,
        "order list, status = paid, 50",
        &(0..samples)
            .map(|i| {
                let s = ["paid", "shipped", "awaiting_transfer", "confirmed"]
                    .get(i % 4)
                    .copied()
                    .unwrap_or("paid");
                format!("{prefix}/orders?status={s}")
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    let deep = time_get(
        &router,
        &cookie,
        "order list, a later page (before an id), 50",
        &(0..samples)
            .map(|i| {
                let id = some.get(i % some.len().max(1)).copied().unwrap_or(i64::MAX);
                format!("{prefix}/orders?before={id}")
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    let by_number = time_get(
        &router,
        &cookie,
        "order list, by order number",
        &(0..samples)
            .map(|i| {
                format!(
                    "{prefix}/orders?number={}",
                    numbers
                        .get(i % numbers.len().max(1))
                        .cloned()
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    let by_email = time_get(
        &router,
        &cookie,
        "order list, by buyer email (blind index)",
        &(0..samples)
            .map(|i| format!("{prefix}/orders?contact=c{i}%40example.jp"))
            .collect::<Vec<_>>(),
    )
    .await?;

    // Unmasking: one distinct customer per request.
    let ids: Vec<i64> = state
        .store
        .customers_after(0, u32::try_from(samples).unwrap_or(u32::MAX))
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let mut unmask = Timing {
        name: "unmask a customer (budget, audit entry, open)".into(),
        millis: Vec::new(),
    };
    for id in &ids {
        let body = format!("csrf_token={}&reason=bench", csrf.replace('.', "%2E"));
        let req = Request::post(format!("{prefix}/customers/{id}/unmask"))
            .header("cookie", &cookie)
            .header("host", "bench.test")
            .header("origin", "http://bench.test")
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))?;
        let started = Instant::now();
        let (status, page) = send(&router, req).await?;
        unmask.millis.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            status == 200 && page.contains("customer-email"),
            "unmask answered {status}"
        );
    }
    println!();
    for t in [&first, &by_status, &deep, &by_number, &by_email, &unmask] {
        t.print();
    }
    let verify_started = Instant::now();
    let report = state.audit.verify(None).await?;
    println!(
        "audit verify: {report} in {:.1} ms",
        verify_started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
