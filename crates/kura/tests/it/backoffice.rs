//! The back office: every staff route behind its guard, TOTP sign-in, sessions that end when
//! access changes (on every node), the read budget, least privilege for fulfilment, and an
//! audit log whose chain names the entry someone edited, deleted, reordered or appended.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::{Method, Request};
use kura_app::Clock;
use kura_app::audit::{Actor, AuditDetail, ChainProblem, ChainReport};
use kura_app::staff::{Permission, Role};
use kura_seal::TotpSecret;
use kura_web::AppState;
use kura_web::admin::{Access, routes};

use crate::support::{self, Client, Reply, hidden_value};

/// A clock the test moves.
pub struct Manual(pub AtomicI64);

impl Manual {
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for Manual {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Office {
    pub _dir: tempfile::TempDir,
    pub config: kura::config::Config,
    pub state: AppState,
    pub router: axum::Router,
    pub clock: Arc<Manual>,
}

pub const OWNER_PASSWORD: &str = "kura owner passphrase: lantern harbour 57";

/// A shop on `db_url` (SQLite when `None`) with the demo catalog and an owner `boss` who has
/// not enrolled yet.
pub async fn office(db_url: Option<&str>) -> Office {
    support::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::test_config(dir.path(), db_url);
    // The route-table test sends hundreds of requests from one address at once; the rate
    // limit has its own tests.
    config.server.rate_limit_burst = 100_000;
    // It also forges a CSRF token on every route from that one address, which the guard would
    // (rightly) block; the guard has its own attack tests.
    config.guard.detectors.insert(
        "csrf.source".into(),
        kura::config::DetectorSetting {
            threshold: Some(100_000),
            window_seconds: None,
            enabled: true,
        },
    );
    kura::shop::init_keys(&config).await.unwrap();
    let clock = Arc::new(Manual(AtomicI64::new(1_800_000_000)));
    let state = kura::shop::build_with_clock(
        &config,
        "http://shop.test",
        None,
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    kura::demo::ensure_catalog(&state.store).await.unwrap();
    add_staff(&state, "boss", Role::Owner, OWNER_PASSWORD).await;
    let router = kura_web::router(Arc::clone(&state));
    Office {
        _dir: dir,
        config,
        state,
        router,
        clock,
    }
}

pub async fn add_staff(state: &AppState, login: &str, role: Role, password: &str) -> i64 {
    let email = kura_domain::Email::parse(&format!("{login}@staff.example.jp")).unwrap();
    state
        .staff
        .add(
            &Actor::cli(),
            login,
            role,
            &email,
            &secrecy::SecretString::from(password.to_string()),
        )
        .await
        .unwrap()
        .unwrap()
}

/// RFC 4648 base32 (upper case, no padding), as the enrolment page shows the secret.
pub fn base32_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.trim().chars().filter(|c| *c != '=') {
        let v = match c {
            'A'..='Z' => c as u64 - 'A' as u64,
            '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => panic!("not base32: {c}"),
        };
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

/// A fresh code: the clock moves one step first, so no code is ever a replay.
pub fn next_code(office: &Office, secret: &TotpSecret) -> String {
    office.clock.advance(30);
    secret.code_at(office.clock.now())
}

pub fn location(r: &Reply) -> String {
    r.headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Signs `login` in with the password only; returns where the shop sent the browser.
pub async fn password_step(c: &mut Client, login: &str, password: &str) -> Reply {
    let page = c.get("/admin/login").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = hidden_value(&page.body, "csrf_token").unwrap();
    c.post_form(
        "/admin/login",
        &[
            ("csrf_token", &csrf),
            ("login", login),
            ("password", password),
        ],
    )
    .await
}

/// Signs in a staff member who has not enrolled: password, then TOTP enrolment. Returns the
/// browser and the authenticator secret.
pub async fn enrol(office: &Office, login: &str, password: &str) -> (Client, TotpSecret) {
    let mut c = Client::new(&office.router);
    let secret = enrol_as(&mut c, login, password, |s| next_code(office, s)).await;
    (c, secret)
}

/// The enrolment steps in the browser `c`, with `code` computing the authenticator's code
/// (on the office's clock, or the real one for a node in its own process).
pub async fn enrol_as(
    c: &mut Client,
    login: &str,
    password: &str,
    code: impl Fn(&TotpSecret) -> String,
) -> TotpSecret {
    let r = password_step(c, login, password).await;
    assert_eq!(location(&r), "/admin/enrol", "{} {}", r.status, r.body);
    let page = c.get("/admin/enrol").await;
    assert_eq!(page.status, 200);
    let secret_text = between(&page.body, "id=\"totp-secret\">", "<").unwrap();
    let secret = TotpSecret::from_bytes(&base32_decode(secret_text)).unwrap();
    let sealed = hidden_value(&page.body, "sealed").unwrap();
    let csrf = hidden_value(&page.body, "csrf_token").unwrap();
    let code = code(&secret);
    let done = c
        .post_form(
            "/admin/enrol",
            &[("csrf_token", &csrf), ("sealed", &sealed), ("code", &code)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("id=\"recovery-codes\""));
    secret
}

/// Signs in an enrolled staff member: password, then a fresh TOTP code.
pub async fn sign_in(office: &Office, login: &str, password: &str, secret: &TotpSecret) -> Client {
    let mut c = Client::new(&office.router);
    let r = password_step(&mut c, login, password).await;
    assert_eq!(location(&r), "/admin/verify");
    let csrf = c.csrf_from("/admin/verify").await;
    let code = next_code(office, secret);
    let r = c
        .post_form("/admin/verify", &[("csrf_token", &csrf), ("code", &code)])
        .await;
    assert_eq!(location(&r), "/admin", "{} {}", r.status, r.body);
    c
}

/// Staff notices waiting in the outbox (new device, budget reached).
async fn staff_notices(office: &Office) -> usize {
    office
        .state
        .store
        .due_mail(office.clock.now() + 3600, 500)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == "staff_notice")
        .count()
}

fn request(method: &Method, path: &str, csrf: Option<&str>) -> Request<Body> {
    let b = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("host", "shop.test");
    if *method == Method::GET {
        return b.body(Body::empty()).unwrap();
    }
    let body = match csrf {
        Some(t) => support::encode_form(&[("csrf_token", t), ("reason", "x")]),
        None => "reason=x".to_string(),
    };
    b.header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://shop.test")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(body))
        .unwrap()
}

fn refused(r: &Reply, what: &str) {
    let to_login = r.status == 303 && location(r) == "/admin/login";
    assert!(
        to_login || r.status == 403,
        "{what}: expected a refusal, got {} {}",
        r.status,
        location(r)
    );
}

fn concrete(path: &str) -> String {
    path.replace("{number}", "K-TEST-0000")
        .replace("{id}", "12345")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_staff_route_refuses_no_session_no_second_factor_wrong_role_and_forged_csrf() {
    let office = office(None).await;
    let (mut owner, _) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let owner_csrf = owner.csrf_from("/admin/staff").await;
    // A staff member of every role, fully signed in, and one who gave only the password.
    let mut by_role = Vec::new();
    for role in Role::ALL {
        let login = format!("r-{}", role.code());
        let pw = format!("{} passphrase for the back office 91", role.code());
        add_staff(&office.state, &login, role, &pw).await;
        let (c, _) = enrol(&office, &login, &pw).await;
        by_role.push((role, c));
    }
    add_staff(&office.state, "halfway", Role::Owner, OWNER_PASSWORD).await;
    let mut halfway = Client::new(&office.router);
    password_step(&mut halfway, "halfway", OWNER_PASSWORD).await;

    let table = routes();
    assert!(table.len() >= 20);
    let mut staff_routes = 0;
    for route in &table {
        let path = concrete(&format!("/admin{}", route.path).replace("/admin/", "/admin/"));
        let path = if route.path == "/" {
            "/admin".to_string()
        } else {
            path
        };
        let what = format!("{} {}", route.method, route.path);
        match route.access {
            Access::Public => continue,
            Access::Signed => {
                let mut anon = Client::new(&office.router);
                refused(
                    &anon.send(request(&route.method, &path, None)).await,
                    &format!("{what} without a session"),
                );
            }
            Access::Staff(permission) => {
                staff_routes += 1;
                let mut anon = Client::new(&office.router);
                refused(
                    &anon.send(request(&route.method, &path, None)).await,
                    &format!("{what} without a session"),
                );
                let h_csrf = halfway.csrf_from("/admin/enrol").await;
                refused(
                    &halfway
                        .send(request(&route.method, &path, Some(&h_csrf)))
                        .await,
                    &format!("{what} without the second factor"),
                );
                let lacking = by_role.iter_mut().find(|(r, _)| !r.can(permission));
                match lacking {
                    Some((role, c)) => {
                        let csrf = c.csrf_from("/admin").await;
                        let r = c.send(request(&route.method, &path, Some(&csrf))).await;
                        assert_eq!(r.status, 403, "{what} as {}", role.code());
                    }
                    // Every role may see the dashboard (its counts hold no personal data).
                    None => assert_eq!(permission, Permission::Dashboard, "{what}"),
                }
                // The owner may do everything, so what refuses the owner is the forged token.
                if route.method != Method::GET {
                    let forged = format!("{}x", &owner_csrf[..owner_csrf.len() - 1]);
                    let r = owner
                        .send(request(&route.method, &path, Some(&forged)))
                        .await;
                    assert_eq!(r.status, 403, "{what} with a forged CSRF token");
                    let r = owner.send(request(&route.method, &path, None)).await;
                    assert_eq!(r.status, 403, "{what} without a CSRF token");
                } else {
                    let r = owner.send(request(&route.method, &path, None)).await;
                    assert!(
                        r.status == 200 || r.status == 404,
                        "{what} answers the owner: {}",
                        r.status
                    );
                }
            }
        }
    }
    assert!(staff_routes >= 14);
    // Nothing else lives under the prefix.
    let r = owner.get("/admin/export").await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_needs_both_factors_and_a_code_works_once() {
    let office = office(None).await;
    let (_, secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    // A wrong password: refused, the same words as an unknown name.
    let mut c = Client::new(&office.router);
    let r = password_step(&mut c, "boss", "not the passphrase at all 12345").await;
    assert_eq!(r.status, 401);
    let r2 = password_step(&mut c, "nobody", "not the passphrase at all 12345").await;
    assert_eq!(r2.status, 401);
    assert!(
        r.body
            .contains("ログイン名またはパスワードが正しくありません")
    );
    // The right password leads to the code prompt; the dashboard is not reachable yet.
    let r = password_step(&mut c, "boss", OWNER_PASSWORD).await;
    assert_eq!(location(&r), "/admin/verify");
    assert_eq!(location(&c.get("/admin").await), "/admin/login");
    let half_signed = c.cookies.clone();
    let csrf = c.csrf_from("/admin/verify").await;
    let code = next_code(&office, &secret);
    let ok = c
        .post_form("/admin/verify", &[("csrf_token", &csrf), ("code", &code)])
        .await;
    assert_eq!(location(&ok), "/admin");
    assert_eq!(c.get("/admin").await.status, 200);
    // The session got a new token with the second factor: the cookie from before it (planted
    // or copied at the password step) opens nothing.
    assert_ne!(half_signed, c.cookies, "a new session cookie");
    let mut planted = Client::new(&office.router);
    planted.cookies = half_signed;
    assert_eq!(location(&planted.get("/admin").await), "/admin/login");
    // This browser was never used by the owner: a notice is queued to the owner's address.
    let notices = staff_notices(&office).await;
    assert_eq!(notices, 1, "one new-device notice");
    // The same code again, in another browser, within its 30 seconds: refused as a replay.
    let mut other = Client::new(&office.router);
    password_step(&mut other, "boss", OWNER_PASSWORD).await;
    let csrf = other.csrf_from("/admin/verify").await;
    let replay = other
        .post_form("/admin/verify", &[("csrf_token", &csrf), ("code", &code)])
        .await;
    assert_eq!(replay.status, 401, "a TOTP code works once");
    // Repeated wrong passwords from one address slow that address only.
    let mut guesser = Client::new(&office.router);
    guesser.peer = "198.51.100.7:5000".parse().unwrap();
    for _ in 0..6 {
        password_step(&mut guesser, "boss", "wrong wrong wrong wrong").await;
    }
    let r = password_step(&mut guesser, "boss", OWNER_PASSWORD).await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("一時的に止めています"), "{}", r.body);
    let mut owner_elsewhere = Client::new(&office.router);
    let r = password_step(&mut owner_elsewhere, "boss", OWNER_PASSWORD).await;
    assert_eq!(location(&r), "/admin/verify", "the owner is not locked out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_staff_cookie_dies_after_the_idle_timeout_and_a_role_change_cuts_sessions_on_every_node()
 {
    let office = office(None).await;
    let (owner, owner_secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let stolen = owner.cookie_header();
    office.clock.advance(16 * 60);
    let mut thief = Client::new(&office.router);
    let r = thief
        .send(
            Request::get("/admin")
                .header("cookie", &stolen)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        location(&r),
        "/admin/login",
        "an idle staff session is over"
    );

    // A second node on the same database.
    let node_b = kura::shop::build_with_clock(
        &office.config,
        "http://shop.test",
        None,
        Arc::clone(&office.clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    let router_b = kura_web::router(Arc::clone(&node_b));
    let pw = "support passphrase: quiet river stones 44";
    let support_id = add_staff(&office.state, "sato", Role::Support, pw).await;
    let (mut support_a, _) = enrol(&office, "sato", pw).await;
    assert_eq!(support_a.get("/admin/customers").await.status, 200);
    // The owner, on node B, makes the support member an analyst.
    let mut owner_b = sign_in(&office, "boss", OWNER_PASSWORD, &owner_secret).await;
    let cookies = owner_b.cookies.clone();
    let mut owner_b2 = Client::new(&router_b);
    owner_b2.cookies = cookies;
    let csrf = owner_b2.csrf_from("/admin/staff").await;
    let code = next_code(&office, &owner_secret);
    let r = owner_b2
        .post_form(
            &format!("/admin/staff/{support_id}/access"),
            &[
                ("csrf_token", &csrf),
                ("role", "analyst"),
                ("active", "yes"),
                ("otp", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("セッションはすべて終了しました"));
    // Node A refuses the support member's cookie at once.
    let r = support_a.get("/admin/customers").await;
    assert_eq!(location(&r), "/admin/login");
    let _ = owner_b.get("/admin").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn support_unmasks_with_a_reason_within_the_budget_and_fulfilment_never_sees_contact_data() {
    let office = office(None).await;
    let (mut owner, owner_secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    // Five customers.
    for n in 0..5 {
        office
            .state
            .customers
            .register(&support::profile(n), None)
            .await
            .unwrap();
    }
    // The owner sets the budget to three an hour (a sensitive change: a fresh code).
    let csrf = owner.csrf_from("/admin/settings").await;
    office.clock.advance(6 * 60);
    let code = next_code(&office, &owner_secret);
    let r = owner
        .post_form(
            "/admin/settings",
            &[
                ("csrf_token", &csrf),
                ("unmask_budget", "3"),
                ("personal_years", "3"),
                ("accounting_years", "7"),
                ("otp", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let pw = "support passphrase: quiet river stones 44";
    add_staff(&office.state, "sato", Role::Support, pw).await;
    let (mut support, _) = enrol(&office, "sato", pw).await;
    let list = support.get("/admin/customers").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("m***@e***.jp"), "emails are masked");
    assert!(
        !list.body.contains("mizuho.kaburagi"),
        "no address in the list"
    );
    assert!(!list.body.contains("宮の森"));
    let ids: Vec<i64> = list
        .body
        .match_indices("/admin/customers/")
        .map(|(i, _)| {
            let rest = &list.body[i + "/admin/customers/".len()..];
            rest[..rest.find('/').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 5);
    let csrf = hidden_value(&list.body, "csrf_token").unwrap();
    // No reason, no data.
    let r = support
        .post_form(
            &format!("/admin/customers/{}/unmask", ids[0]),
            &[("csrf_token", &csrf), ("reason", " ")],
        )
        .await;
    assert_eq!(r.status, 422);
    for id in &ids[..3] {
        let r = support
            .post_form(
                &format!("/admin/customers/{id}/unmask"),
                &[
                    ("csrf_token", &csrf),
                    ("reason", "電話でのお問い合わせ対応"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("@example.jp"));
    }
    // The same customer again does not count twice; a fourth one is over the budget.
    let again = support
        .post_form(
            &format!("/admin/customers/{}/unmask", ids[0]),
            &[("csrf_token", &csrf), ("reason", "再確認のため")],
        )
        .await;
    assert_eq!(again.status, 200);
    let over = support
        .post_form(
            &format!("/admin/customers/{}/unmask", ids[3]),
            &[
                ("csrf_token", &csrf),
                ("reason", "電話でのお問い合わせ対応"),
            ],
        )
        .await;
    assert_eq!(over.status, 429, "{}", over.body);
    let before = staff_notices(&office).await;
    let again_over = support
        .post_form(
            &format!("/admin/customers/{}/unmask", ids[4]),
            &[
                ("csrf_token", &csrf),
                ("reason", "電話でのお問い合わせ対応"),
            ],
        )
        .await;
    assert_eq!(again_over.status, 429);
    assert_eq!(
        staff_notices(&office).await,
        before,
        "owners hear of a spent budget once an hour"
    );
    assert_eq!(
        before, 1,
        "the owner was mailed when the budget was reached"
    );
    assert!(!over.body.contains("@example.jp"));
    assert!(over.body.contains("オーナーに通知"));
    // The audit log has each look, with its reason, and the refusal; the chain is whole.
    let audit = owner.get("/admin/audit?action=customer.unmask").await;
    assert_eq!(audit.status, 200);
    assert_eq!(
        audit.body.matches("customer.unmask<").count(),
        4,
        "{}",
        audit.body
    );
    assert!(audit.body.contains("customer.unmask_refused"));
    assert!(audit.body.contains("電話でのお問い合わせ対応"));
    assert!(matches!(
        office.state.audit.verify(None).await.unwrap(),
        ChainReport::Intact { .. }
    ));
    // The database holds no reason in the clear.
    let db = std::fs::read(office._dir.path().join("kura.db")).unwrap();
    let wal = std::fs::read(office._dir.path().join("kura.db-wal")).unwrap_or_default();
    let needle = "電話でのお問い合わせ対応".as_bytes();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }

    // Fulfilment reaches no customer data by any URL.
    let fpw = "fulfilment passphrase: cedar boxes ship 63";
    add_staff(&office.state, "kato", Role::Fulfilment, fpw).await;
    let (mut packer, _) = enrol(&office, "kato", fpw).await;
    assert_eq!(packer.get("/admin/customers").await.status, 403);
    let csrf = packer.csrf_from("/admin").await;
    for id in &ids {
        let r = packer
            .post_form(
                &format!("/admin/customers/{id}/unmask"),
                &[("csrf_token", &csrf), ("reason", "packing")],
            )
            .await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains("@example.jp"));
    }
    assert_eq!(packer.get("/admin/audit").await.status, 403);
    assert_eq!(packer.get("/admin/staff").await.status, 403);
}

/// Entries, then a hand-made change of one kind, then what `verify` says.
async fn tampered(db_url: Option<&str>, tamper: &[&str], expect: ChainReport) {
    let office = office(db_url).await;
    let audit = &office.state.audit;
    for n in 0..4 {
        audit
            .record(
                &Actor::cli(),
                "test.entry",
                &format!("customer:{n}"),
                "email",
                AuditDetail {
                    reason: Some(format!("reason {n}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    // The owner's addition made entry 1; these are 2..=5.
    assert_eq!(
        audit.verify(None).await.unwrap(),
        ChainReport::Intact {
            entries: 5,
            head: office.state.store.audit_head().await.unwrap()
        }
    );
    let head = office.state.store.audit_head().await.unwrap();
    exec(&office, tamper).await;
    let expect_head = matches!(
        expect,
        ChainReport::Broken {
            problem: ChainProblem::HeadMissing { .. },
            ..
        }
    )
    .then_some(head)
    .flatten();
    let report = audit.verify(expect_head).await.unwrap();
    assert_eq!(report, expect, "after {tamper:?}");
    // The command says the same and fails.
    let cli = kura::staff_cli::verify(
        &office.config,
        expect_head
            .map(|(s, m)| format!("{s}:{}", hex::encode(m)))
            .as_deref(),
    )
    .await;
    let err = format!("{:#}", cli.unwrap_err());
    let ChainReport::Broken { seq, .. } = expect else {
        unreachable!()
    };
    assert!(err.contains(&format!("entry {seq}")), "{err}");
}

async fn exec(office: &Office, statements: &[&str]) {
    let url = &office.config.database.url;
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    } else {
        let path = kura_store::path_from_url(url).unwrap();
        let path = if path.is_relative() {
            office._dir.path().join(path)
        } else {
            path
        };
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }
}

const EDIT: &[&str] = &["UPDATE audit_log SET target = 'customer:99' WHERE seq = 3"];
const DELETE: &[&str] = &["DELETE FROM audit_log WHERE seq = 3"];
const REORDER: &[&str] = &[
    "UPDATE audit_log SET seq = 100 WHERE seq = 2",
    "UPDATE audit_log SET seq = 2 WHERE seq = 3",
    "UPDATE audit_log SET seq = 3 WHERE seq = 100",
];
const APPEND: &[&str] = &[
    "INSERT INTO audit_log (seq, id, at, staff_id, actor, action, target, fields, detail, key_id, mac) \
     SELECT 6, id + 1, at + 1, staff_id, actor, action, 'customer:7', fields, detail, key_id, mac \
     FROM audit_log WHERE seq = 5",
];
const CUT_TAIL: &[&str] = &["DELETE FROM audit_log WHERE seq = 5"];

fn broken(seq: i64, problem: ChainProblem) -> ChainReport {
    ChainReport::Broken { seq, problem }
}

async fn every_tampering(
    db: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>,
) {
    tampered(db().await.as_deref(), EDIT, broken(3, ChainProblem::Mac)).await;
    tampered(
        db().await.as_deref(),
        DELETE,
        broken(4, ChainProblem::Gap { expected: 3 }),
    )
    .await;
    tampered(db().await.as_deref(), REORDER, broken(2, ChainProblem::Mac)).await;
    tampered(db().await.as_deref(), APPEND, broken(6, ChainProblem::Mac)).await;
    tampered(
        db().await.as_deref(),
        CUT_TAIL,
        broken(5, ChainProblem::HeadMissing { expected_seq: 5 }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_names_the_edited_deleted_reordered_appended_or_cut_entry_on_sqlite() {
    every_tampering(|| Box::pin(async { None })).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn audit_verify_names_the_edited_deleted_reordered_appended_or_cut_entry_on_postgres() {
    every_tampering(|| Box::pin(async { Some(support::required_pg().await) })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_moves_from_paid_to_shipped_from_the_back_office_and_the_customer_is_mailed() {
    let office = office(None).await;
    let (_, _) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let fpw = "fulfilment passphrase: cedar boxes ship 63";
    add_staff(&office.state, "kato", Role::Fulfilment, fpw).await;
    let (mut packer, _) = enrol(&office, "kato", fpw).await;
    // A bank-transfer order placed through the shop.
    let mut shopper = Client::new(&office.router);
    let number = crate::storefront::bank_transfer_order(&mut shopper).await;
    // Fulfilment sees the order but not its address while it is unpaid, and cannot mark it paid.
    let page = packer.get(&format!("/admin/orders/{number}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"ship-to\""));
    let csrf = hidden_value(&page.body, "csrf_token").unwrap();
    let r = packer
        .post_form(
            &format!("/admin/orders/{number}/paid"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 403);
    // The owner records the transfer.
    let owner_secret = {
        let rec = office
            .state
            .store
            .staff_by_login("boss")
            .await
            .unwrap()
            .unwrap();
        let ring = office.state.vault.ring();
        let plain = ring
            .open(
                kura_app::sealed::col::STAFF_TOTP,
                rec.id,
                rec.totp_secret.as_ref().unwrap(),
            )
            .unwrap();
        TotpSecret::from_bytes(&plain).unwrap()
    };
    let mut owner = sign_in(&office, "boss", OWNER_PASSWORD, &owner_secret).await;
    let csrf = owner.csrf_from(&format!("/admin/orders/{number}")).await;
    let r = owner
        .post_form(
            &format!("/admin/orders/{number}/paid"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert!(r.body.contains("入金を記録しました"), "{}", r.body);
    // Now fulfilment sees where it goes, and ships it.
    let page = packer.get(&format!("/admin/orders/{number}")).await;
    assert!(page.body.contains("id=\"ship-to\""));
    let csrf = hidden_value(&page.body, "csrf_token").unwrap();
    let r = packer
        .post_form(
            &format!("/admin/orders/{number}/ship"),
            &[
                ("csrf_token", &csrf),
                ("carrier", "ヤマト運輸"),
                ("tracking", "1234-5678-9012"),
            ],
        )
        .await;
    assert!(r.body.contains("出荷を記録しました"), "{}", r.body);
    let rec = office
        .state
        .store
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, kura_domain::OrderStatus::Shipped);
    // The shipping notice is queued for the customer, in the order's transaction.
    let due = office
        .state
        .store
        .due_mail(office.clock.now() + 3600, 50)
        .await
        .unwrap();
    assert!(
        due.iter().any(|m| m.kind == "shipping_notice"),
        "{:?}",
        due.iter().map(|m| &m.kind).collect::<Vec<_>>()
    );
    // Both changes are in the audit log under who made them.
    let audit = owner.get("/admin/audit?action=order.").await;
    assert!(audit.body.contains("order.paid") && audit.body.contains("order.shipped"));
    assert!(audit.body.contains(">kato<"));
}

async fn retention_story(db_url: Option<&str>) {
    let office = office(db_url).await;
    let state = &office.state;
    // A customer account with no orders, and a guest who orders by bank transfer.
    let customer = state
        .customers
        .register(&support::profile(1), None)
        .await
        .unwrap();
    let mut shopper = Client::new(&office.router);
    let number = crate::storefront::bank_transfer_order(&mut shopper).await;
    let order_id = state
        .store
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap()
        .id;
    let nothing = state.retention.dry_run().await.unwrap();
    assert!(nothing.is_empty(), "{nothing:?}");

    // Four years on: past the personal period (3 years), within the accounting one (7).
    office.clock.advance(4 * 366 * 86_400);
    let plan = state.retention.dry_run().await.unwrap();
    assert_eq!(
        (plan.customers, plan.guest_keys, plan.orders),
        (1, 1, 0),
        "{plan:?}"
    );
    assert!(
        state.store.customer(customer).await.unwrap().is_some(),
        "a dry run erases nothing"
    );
    let done = state.retention.run().await.unwrap();
    assert_eq!((done.customers, done.guest_keys, done.orders), (1, 1, 0));
    assert!(state.store.customer(customer).await.unwrap().is_none());
    // The order keeps its accounting facts; its buyer can no longer be read by anyone.
    let rec = state.store.order_by_number(&number).await.unwrap().unwrap();
    assert!(rec.totals.total.0 > 0);
    assert!(matches!(
        state.orders.view_by_id(order_id).await,
        Err(kura_app::AppError::Erased)
    ));
    assert!(
        state.retention.run().await.unwrap().is_empty(),
        "nothing twice"
    );

    // Eight years on: past the accounting period, the order itself goes.
    office.clock.advance(4 * 366 * 86_400);
    let done = state.retention.run().await.unwrap();
    assert_eq!(done.orders, 1);
    assert!(
        state
            .store
            .order_by_number(&number)
            .await
            .unwrap()
            .is_none()
    );
    let log = state
        .audit
        .page(
            &kura_app::records::AuditFilter {
                action_prefix: Some("retention.".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(log.len(), 2, "each run that erased something is audited");
    assert!(matches!(
        state.audit.verify(None).await.unwrap(),
        ChainReport::Intact { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_erases_expired_people_and_then_old_orders_on_sqlite() {
    retention_story(None).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn retention_erases_expired_people_and_then_old_orders_on_postgres() {
    retention_story(Some(&support::required_pg().await)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inquiry_from_the_public_form_is_answered_from_the_queue() {
    let office = office(None).await;
    let mut customer = Client::new(&office.router);
    let form = customer.get("/contact").await;
    assert_eq!(form.status, 200);
    let csrf = hidden_value(&form.body, "csrf_token").unwrap();
    // Bad input: every field is named, nothing typed is lost.
    let bad = customer
        .post_form(
            "/contact",
            &[
                ("csrf_token", &csrf),
                ("category", ""),
                ("order_number", "<x>"),
                ("name", ""),
                ("email", "not-an-address"),
                ("message", "  "),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for needle in [
        "お問い合わせの種類を選んでください",
        "注文番号は英数字とハイフン",
        "お名前を30文字以内で入力してください",
        "メールアドレスの形式が正しくありません",
        "お問い合わせ内容を2000文字以内で入力してください",
    ] {
        assert!(bad.body.contains(needle), "{needle}");
    }
    assert!(bad.body.contains("value=\"not-an-address\""));
    let ok = customer
        .post_form(
            "/contact",
            &[
                ("csrf_token", &csrf),
                ("category", "delivery"),
                ("order_number", "k-abcd-efgh"),
                ("name", "鏑木 瑞穂"),
                ("email", "mizuho.kaburagi@example.jp"),
                ("message", "配達日を変更できますか。\n来週は不在です。"),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let number = {
        let i = ok.body.find("受付番号は ").unwrap() + "受付番号は ".len();
        ok.body[i..i + 11].to_string()
    };
    assert!(number.starts_with("Q-"), "{number}");
    // Nothing typed is in the database in the clear.
    let db = std::fs::read(office._dir.path().join("kura.db")).unwrap();
    let wal = std::fs::read(office._dir.path().join("kura.db-wal")).unwrap_or_default();
    for needle in ["来週は不在です", "mizuho.kaburagi", "鏑木"] {
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle}"
            );
        }
    }

    // Support finds it in the queue, reads it (audited), answers from a template.
    let pw = "support passphrase: quiet river stones 44";
    add_staff(&office.state, "sato", Role::Support, pw).await;
    let (mut support, _) = enrol(&office, "sato", pw).await;
    let dash = support.get("/admin").await;
    assert!(
        dash.body.contains("<td id=\"open-inquiries\">1</td>"),
        "the dashboard counts it"
    );
    let queue = support.get("/admin/inquiries").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains(&number) && queue.body.contains("配送について"));
    assert!(
        !queue.body.contains("鏑木"),
        "the queue shows no personal data"
    );
    let id: i64 = {
        let i = queue.body.find("/admin/inquiries/").unwrap() + "/admin/inquiries/".len();
        let rest = &queue.body[i..];
        rest[..rest.find('"').unwrap()].parse().unwrap()
    };
    let page = support
        .get(&format!("/admin/inquiries/{id}?template=thanks"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("来週は不在です") && page.body.contains("鏑木 瑞穂"));
    assert!(
        page.body.contains("内容を確認のうえ"),
        "the template fills the reply"
    );
    let csrf = hidden_value(&page.body, "csrf_token").unwrap();
    let r = support
        .post_form(
            &format!("/admin/inquiries/{id}/reply"),
            &[
                ("csrf_token", &csrf),
                (
                    "body",
                    "お問い合わせありがとうございます。\n配達日は再配達のご依頼で変更できます。",
                ),
            ],
        )
        .await;
    assert!(r.body.contains("回答を記録し"), "{}", r.body);
    assert!(r.body.contains("回答済み"));
    let mails: Vec<String> = office
        .state
        .store
        .due_mail(office.clock.now() + 3600, 50)
        .await
        .unwrap()
        .iter()
        .map(|m| m.kind.clone())
        .collect();
    assert_eq!(
        mails.iter().filter(|k| *k == "inquiry").count(),
        2,
        "the acknowledgement and the reply: {mails:?}"
    );
    // Fulfilment has no desk.
    let fpw = "fulfilment passphrase: cedar boxes ship 63";
    add_staff(&office.state, "kato", Role::Fulfilment, fpw).await;
    let (mut packer, _) = enrol(&office, "kato", fpw).await;
    assert_eq!(
        packer.get(&format!("/admin/inquiries/{id}")).await.status,
        403
    );
    // Both looks are in the audit log.
    let log = office
        .state
        .audit
        .page(
            &kura_app::records::AuditFilter {
                target: Some(format!("inquiry:{id}")),
                ..Default::default()
            },
            None,
            20,
        )
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"inquiry.read") && actions.contains(&"inquiry.reply"),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retiring_an_old_key_rechains_the_audit_log_but_never_a_broken_one() {
    let office = office(None).await;
    for n in 0..3 {
        office
            .state
            .audit
            .record(
                &Actor::cli(),
                "test.entry",
                &format!("customer:{n}"),
                "email",
                AuditDetail::default(),
            )
            .await
            .unwrap();
    }
    kura::keys::rotate(&office.config, 500).await.unwrap();
    kura::keys::retire(&office.config).await.unwrap();
    // A shop started now holds only the new key, and the whole log still verifies.
    let fresh = kura::shop::build(&office.config).await.unwrap();
    let rows = fresh.store.audit_after(0, 100).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|r| r.entry.key_id == 2),
        "re-chained under key 2"
    );
    assert!(matches!(
        fresh.audit.verify(None).await.unwrap(),
        ChainReport::Intact { entries: 4, .. }
    ));

    // A chain edited by hand is not laundered by the next retirement.
    exec(&office, EDIT).await;
    kura::keys::rotate(&office.config, 500).await.unwrap();
    let err = format!(
        "{:#}",
        kura::keys::retire(&office.config).await.unwrap_err()
    );
    assert!(err.contains("broken at entry 3"), "{err}");
    let again = kura::shop::build(&office.config).await.unwrap();
    assert_eq!(
        again.audit.verify(None).await.unwrap(),
        ChainReport::Broken {
            seq: 3,
            problem: ChainProblem::Mac
        }
    );
}

/// A bulk export needs two people: the owner asks (with a fresh code and a reason), cannot
/// approve it herself, a manager approves, and only the owner downloads it, once. The CSV holds
/// every customer, defuses a formula-looking cell, and the log has the request, the approval
/// and the download with its row count. Erasing a customer then leaves them out of the next
/// export and unreadable everywhere.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_needs_a_second_person_and_is_downloaded_once_with_its_row_count() {
    let office = office(None).await;
    let (mut owner, owner_secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            office
                .state
                .customers
                .register(&support::profile(n), None)
                .await
                .unwrap(),
        );
    }
    let pw = "manager passphrase: copper kettle morning 18";
    add_staff(&office.state, "kimura", Role::Manager, pw).await;
    let pw_support = "support passphrase: quiet river stones 44";
    add_staff(&office.state, "sato", Role::Support, pw_support).await;

    // Asking needs a fresh code once the sign-in is older than five minutes.
    office.clock.advance(6 * 60);
    let csrf = owner.csrf_from("/admin/exports").await;
    let r = owner
        .post_form(
            "/admin/exports",
            &[
                ("csrf_token", &csrf),
                ("reason", "年末の発送業者への連携"),
                ("otp", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 401, "no step-up, no export");
    let code = next_code(&office, &owner_secret);
    let r = owner
        .post_form(
            "/admin/exports",
            &[
                ("csrf_token", &csrf),
                ("reason", "年末の発送業者への連携"),
                ("otp", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let export = office.state.backoffice.exports().await.unwrap()[0]
        .record
        .id;

    // Not by herself, and nothing to download before approval.
    for action in ["approve", "download"] {
        let r = owner
            .post_form(
                &format!("/admin/exports/{export}/{action}"),
                &[("csrf_token", &csrf), ("otp", "")],
            )
            .await;
        assert_eq!(r.status, 422, "{action}: {}", r.body);
        assert!(!r.body.contains("mizuho"), "no data before approval");
    }
    // Support staff have no export at all.
    let (mut support, _) = enrol(&office, "sato", pw_support).await;
    assert_eq!(support.get("/admin/exports").await.status, 403);

    // A manager approves; the manager cannot download it.
    let (mut manager, _) = enrol(&office, "kimura", pw).await;
    let mcsrf = manager.csrf_from("/admin/exports").await;
    let r = manager
        .post_form(
            &format!("/admin/exports/{export}/approve"),
            &[("csrf_token", &mcsrf), ("otp", "")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = manager
        .post_form(
            &format!("/admin/exports/{export}/download"),
            &[("csrf_token", &mcsrf), ("otp", "")],
        )
        .await;
    assert_eq!(r.status, 422);

    // The owner downloads it once.
    let code = next_code(&office, &owner_secret);
    let csv = owner
        .post_form(
            &format!("/admin/exports/{export}/download"),
            &[("csrf_token", &csrf), ("otp", &code)],
        )
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(
        csv.headers.get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        csv.headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(csv.headers.get("cache-control").unwrap(), "no-store");
    let lines: Vec<&str> = csv.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 4, "a header and three customers: {lines:?}");
    let again = owner
        .post_form(
            &format!("/admin/exports/{export}/download"),
            &[("csrf_token", &csrf), ("otp", "")],
        )
        .await;
    assert_eq!(again.status, 422, "downloaded once");

    let log = office
        .state
        .audit
        .page(&kura_app::records::AuditFilter::default(), None, 50)
        .await
        .unwrap();
    let actions: Vec<(String, String)> = log
        .iter()
        .map(|e| (e.action.clone(), e.detail.note.clone().unwrap_or_default()))
        .collect();
    for wanted in ["export.requested", "export.approved", "export.downloaded"] {
        assert!(
            actions.iter().any(|(a, _)| a == wanted),
            "{wanted} in {actions:?}"
        );
    }
    assert!(
        actions
            .iter()
            .any(|(a, n)| a == "export.downloaded" && n == "3 rows"),
        "{actions:?}"
    );

    // Erasing one customer (a fresh code, a reason) takes them out of everything, the record
    // that their mailbox refused mail included.
    let erased_email = support::profile(0).email.as_str().to_string();
    office
        .state
        .outbox
        .mark_undeliverable(&erased_email, "550", "smtp")
        .await
        .unwrap();
    office
        .state
        .outbox
        .mark_undeliverable("mizuho.kaburagi1@example.jp", "550", "smtp")
        .await
        .unwrap();
    let code = next_code(&office, &owner_secret);
    let r = owner
        .post_form(
            &format!("/admin/customers/{}/erase", ids[0]),
            &[
                ("csrf_token", &csrf),
                ("reason", "本人からの削除依頼"),
                ("otp", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        office.state.store.customer(ids[0]).await.unwrap().is_none(),
        "the account is gone"
    );
    assert_eq!(
        office
            .state
            .outbox
            .undeliverable(&erased_email)
            .await
            .unwrap(),
        None
    );
    assert!(
        office
            .state
            .outbox
            .undeliverable("mizuho.kaburagi1@example.jp")
            .await
            .unwrap()
            .is_some(),
        "another customer's record stays"
    );
    assert!(
        actions.len()
            < office
                .state
                .audit
                .page(&kura_app::records::AuditFilter::default(), None, 50)
                .await
                .unwrap()
                .len(),
        "the erasure is in the log"
    );
    // Support cannot erase.
    let scsrf = support.csrf_from("/admin/customers").await;
    let r = support
        .post_form(
            &format!("/admin/customers/{}/erase", ids[1]),
            &[
                ("csrf_token", &scsrf),
                ("reason", "本人からの削除依頼"),
                ("otp", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}

/// A lost phone: the owner resets a member's authenticator (a sensitive change); the member's
/// session ends at once and their next sign-in asks them to enrol again. Nobody resets their own.
#[tokio::test(flavor = "multi_thread")]
async fn the_owner_resets_a_lost_authenticator_and_the_member_enrols_again() {
    let office = office(None).await;
    let (mut owner, owner_secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let pw = "support passphrase: quiet river stones 44";
    let sato = add_staff(&office.state, "sato", Role::Support, pw).await;
    let (mut support, _) = enrol(&office, "sato", pw).await;
    assert_eq!(support.get("/admin").await.status, 200);

    office.clock.advance(6 * 60);
    let csrf = owner.csrf_from("/admin/staff").await;
    let r = owner
        .post_form(
            &format!("/admin/staff/{sato}/reset-mfa"),
            &[("csrf_token", &csrf), ("otp", "")],
        )
        .await;
    assert_eq!(r.status, 401, "a fresh code first");
    let code = next_code(&office, &owner_secret);
    let r = owner
        .post_form(
            &format!("/admin/staff/{sato}/reset-mfa"),
            &[("csrf_token", &csrf), ("otp", &code)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(location(&support.get("/admin").await), "/admin/login");
    let mut again = Client::new(&office.router);
    let r = password_step(&mut again, "sato", pw).await;
    assert_eq!(location(&r), "/admin/enrol");

    // The owner's own: refused.
    let boss = office
        .state
        .staff
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.login == "boss")
        .unwrap()
        .id;
    let r = owner
        .post_form(
            &format!("/admin/staff/{boss}/reset-mfa"),
            &[("csrf_token", &csrf), ("otp", "")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        office
            .state
            .staff
            .member(boss)
            .await
            .unwrap()
            .unwrap()
            .enrolled
    );
}

/// The owner limits the back office to the office network from the settings page: a list
/// without the owner's own address is refused (it would lock them out), a good one is audited
/// and applies at once here and, once reloaded, on another node; other addresses get "not found".
#[tokio::test(flavor = "multi_thread")]
async fn the_owner_sets_the_staff_allow_list_without_locking_themselves_out() {
    let office = office(None).await;
    let (mut owner, owner_secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let csrf = owner.csrf_from("/admin/settings").await;
    let form = |allow: &'static str, otp: String| {
        vec![
            ("csrf_token", csrf.clone()),
            ("unmask_budget", "50".to_string()),
            ("personal_years", "3".to_string()),
            ("accounting_years", "7".to_string()),
            ("allow", allow.to_string()),
            ("otp", otp),
        ]
    };
    office.clock.advance(6 * 60);
    let code = next_code(&office, &owner_secret);
    let fields = form("203.0.113.0/24", code);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner.post_form("/admin/settings", &pairs).await;
    assert_eq!(r.status, 422, "the owner's own address is not in it");
    assert!(
        r.body.contains("192.0.2.10") || r.body.contains("接続できなくなります"),
        "{}",
        r.body
    );
    let fields = form("not-a-network", String::new());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner.post_form("/admin/settings", &pairs).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not-a-network"));
    let fields = form("192.0.2.0/24\n2001:db8::/48", String::new());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner.post_form("/admin/settings", &pairs).await;
    assert_eq!(r.status, 200, "{}", r.body);

    assert_eq!(owner.get("/admin").await.status, 200);
    let mut outsider = Client::new(&office.router);
    outsider.peer = "198.51.100.7:5000".parse().unwrap();
    assert_eq!(outsider.get("/admin/login").await.status, 404);
    // The storefront is not affected.
    assert_eq!(outsider.get("/").await.status, 200);

    // Another node on the same database applies it once it reloads (every minute).
    let other = kura::shop::build_with_clock(
        &office.config,
        "http://shop.test",
        None,
        Arc::clone(&office.clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    assert!(!other.admin_allows(Some("198.51.100.7".parse().unwrap())));
    assert!(other.admin_allows(Some("192.0.2.77".parse().unwrap())));

    let log = office
        .state
        .audit
        .page(&kura_app::records::AuditFilter::default(), None, 10)
        .await
        .unwrap();
    assert!(
        log.iter().any(|e| e.target == "setting:staff_allow_list"
            && e.detail
                .note
                .as_deref()
                .is_some_and(|n| n.contains("192.0.2.0/24"))),
        "the change is audited"
    );
}
