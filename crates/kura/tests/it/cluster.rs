//! Two `kura serve` nodes on one PostgreSQL database are one shop. Checkouts spread over both
//! survive one node being killed with SIGKILL: every acknowledged order is kept, a retry with
//! the same `Idempotency-Key` gets the same order, no checkout makes two orders, and stock goes
//! down by exactly what the orders hold. A shopper's session and cart follow them from node to
//! node. A key rotation (and the old key's retirement) runs while both nodes take orders, and
//! every order stays readable on both. Two nodes starting at the same instant on an empty
//! database migrate it once.
//!
//! Every node is a real process on the same shop directory (one `kura.toml`, one key file) with
//! its own port; simulated customers name their address in `X-Forwarded-For`, as a load
//! balancer in front of the nodes would. What was recorded is read from the database itself.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{self, Client};

const BIN: &str = env!("CARGO_BIN_EXE_kura");
const KETTLE: &str = "EKD-08-RD";
const RICE: &str = "R-2KG";
/// Stock of both SKUs at the start: more than any run orders, so no checkout is refused.
const STOCK: i64 = 5000;

/// A fresh database for one case, dropped when the case ends, also when it fails (after the
/// nodes, which are declared later and so dropped first; `WITH (FORCE)` ends what still holds
/// a connection).
struct Scratch {
    url: String,
}

impl Scratch {
    async fn new() -> Self {
        Self {
            url: support::required_pg().await,
        }
    }

    async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Ok(admin) = std::env::var("KURA_TEST_PG_URL") else {
            return;
        };
        let path = self.url.split('?').next().unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        if !name.starts_with("kura_t_") {
            return;
        }
        // Drop runs inside the test's runtime: the database is dropped from a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = PgPool::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// The one `kura.toml` that every process of the shop reads, both nodes and the `kura`
/// commands: the database; loopback as the trusted proxy (each simulated customer names its
/// address in `X-Forwarded-For`); no metrics listener (two nodes on one machine would fight
/// over its port); mails as files; the key file checked every second.
fn write_config(dir: &Path, db_url: &str) {
    std::fs::write(
        dir.join("kura.toml"),
        format!(
            "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\nmetrics_listen = \"\"\n\n\
             [database]\nurl = \"{db_url}\"\n\n[keys]\nreload_seconds = 1\n\n\
             [mail]\ntransport = \"outbox\"\n"
        ),
    )
    .unwrap();
}

/// A shop on the database `url` with the demo catalog, kettles and rice plentiful, and its
/// `kura.toml` written for the nodes.
async fn seeded_shop(url: &str) -> support::TestShop {
    let shop = support::shop_with(Some(url), |_| {}).await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    for sku in [KETTLE, RICE] {
        shop.state.store.set_stock(sku, STOCK).await.unwrap();
    }
    write_config(shop.dir.path(), url);
    shop
}

/// A `kura` command's environment: the shop directory's `kura.toml` only, no `KURA_*` variable
/// of the test's own.
fn kura_command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("KURA_")) {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir);
    cmd
}

/// Starts `kura serve` on the shop directory, on a port of its own, its log in `{name}.log`
/// there; does not wait for it (see [`announced`]).
fn spawn_node(dir: &Path, name: &str) -> support::Node {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = kura_command(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the kura binary runs");
    support::Node(child)
}

/// Waits for a node started by [`spawn_node`] to serve; answers its base URL (no trailing `/`).
fn announced(node: &mut support::Node, dir: &Path, name: &str) -> String {
    let mut line = String::new();
    BufReader::new(node.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches('/').to_string())
        .unwrap_or_else(|| {
            panic!(
                "node {name} did not start: {line}\n{}",
                std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
            )
        })
}

/// Nodes A and B on the shop directory, both serving.
fn two_nodes(dir: &Path) -> ([support::Node; 2], [String; 2]) {
    let mut a = spawn_node(dir, "a");
    let base_a = announced(&mut a, dir, "a");
    let mut b = spawn_node(dir, "b");
    let base_b = announced(&mut b, dir, "b");
    ([a, b], [base_a, base_b])
}

/// A reply of the JSON API.
struct Answer {
    status: StatusCode,
    json: Value,
}

/// An order as its checkout answered it.
#[derive(Debug, Clone)]
struct Placed {
    status: StatusCode,
    number: String,
    token: String,
}

impl Answer {
    /// The order a 2xx checkout answer names; `None` for anything else.
    fn placed(&self) -> Option<Placed> {
        if !self.status.is_success() {
            return None;
        }
        Some(Placed {
            status: self.status,
            number: self.json["order_number"].as_str()?.to_string(),
            token: self.json["order_token"].as_str()?.to_string(),
        })
    }
}

#[derive(Debug, Clone)]
struct ApiCart {
    id: String,
    token: String,
}

/// A client of the JSON API from one source address.
struct Api {
    http: reqwest::Client,
    source: String,
}

fn order_body() -> Value {
    json!({
        "customer": {
            "family_name": "山田",
            "given_name": "花子",
            "family_name_kana": "ヤマダ",
            "given_name_kana": "ハナコ",
            "email": "hanako.yamada@example.jp",
            "phone": "090-1234-5678",
            "postal_code": "100-0001",
            "prefecture": 13,
            "address1": "千代田区千代田1-1",
            "address2": null,
            "birth_date": "1990-04-01",
            "gender": "female"
        },
        "shipping": null,
        "delivery": { "slot": "14-16" },
        "payment_method": "cod"
    })
}

impl Api {
    fn new(source: &str) -> Self {
        Self {
            http: kura_pay::http_client(Duration::from_secs(30)).unwrap(),
            source: source.to_string(),
        }
    }

    async fn send(
        &self,
        base: &str,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{base}{path}"))
            .header("x-forwarded-for", &self.source);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await?;
        let status = res.status();
        let bytes = res.bytes().await?;
        Ok(Answer {
            status,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// A new cart on the node at `base` holding `kettles` kettles and `rice` bags of rice.
    async fn cart(&self, base: &str, kettles: i64, rice: i64) -> Result<ApiCart, String> {
        let made = self
            .send(base, Method::POST, "/api/v1/carts", None, None, None)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if made.status != StatusCode::CREATED {
            return Err(format!("new cart: {} {}", made.status, made.json));
        }
        let cart = ApiCart {
            id: made.json["cart_id"].as_str().unwrap().to_string(),
            token: made.json["cart_token"].as_str().unwrap().to_string(),
        };
        for (sku, quantity) in [(KETTLE, kettles), (RICE, rice)] {
            if quantity == 0 {
                continue;
            }
            let added = self
                .send(
                    base,
                    Method::POST,
                    &format!("/api/v1/carts/{}/items", cart.id),
                    Some(&cart.token),
                    None,
                    Some(&json!({ "sku": sku, "quantity": quantity })),
                )
                .await
                .map_err(|e| format!("{e:?}"))?;
            if added.status != StatusCode::OK {
                return Err(format!("add {sku}: {} {}", added.status, added.json));
            }
        }
        Ok(cart)
    }

    async fn checkout(
        &self,
        base: &str,
        cart: &ApiCart,
        key: &str,
    ) -> Result<Answer, reqwest::Error> {
        self.send(
            base,
            Method::POST,
            &format!("/api/v1/carts/{}/checkout", cart.id),
            Some(&cart.token),
            Some(key),
            Some(&order_body()),
        )
        .await
    }

    async fn order(&self, base: &str, placed: &Placed) -> Result<Answer, reqwest::Error> {
        self.send(
            base,
            Method::GET,
            &format!("/api/v1/orders/{}", placed.number),
            Some(&placed.token),
            None,
            None,
        )
        .await
    }

    /// Whether the node at `base` reads `placed` with its token.
    async fn reads(&self, base: &str, placed: &Placed) -> Result<(), String> {
        let read = self
            .order(base, placed)
            .await
            .map_err(|e| format!("order {} on {base}: {e:?}", placed.number))?;
        if read.status == StatusCode::OK && read.json["order_number"] == placed.number.as_str() {
            Ok(())
        } else {
            Err(format!(
                "order {} on {base}: {} {}",
                placed.number, read.status, read.json
            ))
        }
    }
}

/// Every order in the database: number → (SKU → quantity).
async fn recorded_orders(pool: &PgPool) -> BTreeMap<String, BTreeMap<String, i64>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT o.number, l.sku, l.quantity FROM orders o \
         JOIN order_lines l ON l.order_id = o.id ORDER BY o.number, l.line_no",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut orders: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (number, sku, quantity) in rows {
        *orders.entry(number).or_default().entry(sku).or_default() += quantity;
    }
    orders
}

async fn stock_of(pool: &PgPool, sku: &str) -> i64 {
    sqlx::query_scalar("SELECT stock FROM variants WHERE sku = $1")
        .bind(sku)
        .fetch_one(pool)
        .await
        .unwrap()
}

const TASKS: usize = 4;
const PER_TASK: usize = 25;
/// Node A is killed once this many checkouts were acknowledged.
const KILL_AFTER: usize = 25;

/// What the first try of a checkout got.
#[derive(Debug)]
enum Tried {
    /// A 2xx answer with an order number.
    Acknowledged(Placed),
    /// Any other answer.
    Refused(StatusCode, Value),
    /// No answer: the node could not be reached (`sent` false), or the request was sent and
    /// the connection broke before the answer (`sent` true: in flight when the node died).
    Lost { sent: bool, error: String },
}

/// One checkout of the run: its key, its cart and what the cart holds, the node it was sent
/// to, and what the first try got.
#[derive(Debug)]
struct Attempt {
    key: String,
    cart: ApiCart,
    kettles: i64,
    rice: i64,
    node: usize,
    first: Tried,
}

/// A customer script: makes carts on one node and checks them out on the other, alternating.
/// A cart the dead node could not make is made on node B (nothing is ordered before checkout).
/// `acked` counts acknowledged checkouts, `in_flight_on_a` the checkouts awaiting node A's
/// answer.
async fn shopper(
    t: usize,
    bases: [String; 2],
    acked: Arc<AtomicUsize>,
    in_flight_on_a: Arc<AtomicUsize>,
) -> Vec<Attempt> {
    let api = Api::new(&format!("198.51.100.{}", 10 + t));
    let mut attempts = Vec::new();
    for i in 0..PER_TASK {
        let n = t * PER_TASK + i;
        let (kettles, rice) = (1 + (n % 3) as i64, ((n / 2) % 2) as i64);
        let (here, there) = (n % 2, 1 - n % 2);
        let cart = match api.cart(&bases[here], kettles, rice).await {
            Ok(cart) => cart,
            Err(_) => api
                .cart(&bases[1], kettles, rice)
                .await
                .unwrap_or_else(|e| panic!("node B makes no cart: {e}")),
        };
        let key = format!("checkout-{n}");
        if there == 0 {
            in_flight_on_a.fetch_add(1, Ordering::SeqCst);
        }
        let first = match api.checkout(&bases[there], &cart, &key).await {
            Ok(answer) => match answer.placed() {
                Some(placed) => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    Tried::Acknowledged(placed)
                }
                None => Tried::Refused(answer.status, answer.json),
            },
            Err(e) => Tried::Lost {
                sent: !e.is_connect(),
                error: format!("{e:?}"),
            },
        };
        if there == 0 {
            in_flight_on_a.fetch_sub(1, Ordering::SeqCst);
        }
        attempts.push(Attempt {
            key,
            cart,
            kettles,
            rice,
            node: there,
            first,
        });
    }
    attempts
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn checkouts_across_two_nodes_survive_one_being_killed() {
    let db = Scratch::new().await;
    let shop = seeded_shop(&db.url).await;
    let pool = db.pool().await;
    let ([mut a, _b], bases) = two_nodes(shop.dir.path());

    let acked = Arc::new(AtomicUsize::new(0));
    let in_flight_on_a = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            tokio::spawn(shopper(
                t,
                bases.clone(),
                Arc::clone(&acked),
                Arc::clone(&in_flight_on_a),
            ))
        })
        .collect();
    let started = Instant::now();
    // Once enough were acknowledged, and at a moment a checkout awaits node A's answer.
    while acked.load(Ordering::SeqCst) < KILL_AFTER || in_flight_on_a.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} checkouts acknowledged in a minute",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL: node A gets no chance to finish what it is doing or to clean up.
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let acked_at_kill = acked.load(Ordering::SeqCst);
    let mut attempts = Vec::new();
    for t in tasks {
        attempts.extend(t.await.unwrap());
    }
    assert_eq!(attempts.len(), TASKS * PER_TASK);

    let refused: Vec<String> = attempts
        .iter()
        .filter_map(|a| match &a.first {
            Tried::Refused(status, json) => {
                Some(format!("{} on node {}: {status} {json}", a.key, a.node))
            }
            _ => None,
        })
        .collect();
    assert!(
        refused.is_empty(),
        "a node that answered refused a checkout: {refused:#?}"
    );
    for a in &attempts {
        match &a.first {
            Tried::Acknowledged(p) => assert_eq!(
                p.status,
                StatusCode::CREATED,
                "a first checkout is never a repeat ({})",
                a.key
            ),
            Tried::Lost { error, .. } => {
                assert_eq!(a.node, 0, "node B, alive, lost {}: {error}", a.key);
            }
            Tried::Refused(..) => {}
        }
    }
    let lost = attempts
        .iter()
        .filter(|a| matches!(a.first, Tried::Lost { .. }))
        .count();
    let lost_in_flight = attempts
        .iter()
        .filter(|a| matches!(a.first, Tried::Lost { sent: true, .. }))
        .count();
    assert!(
        lost > 0,
        "node A was killed while checkouts still went to it"
    );

    // Every checkout again on node B: same cart, same key.
    let api = Api::new("198.51.100.99");
    let mut finals: BTreeMap<String, Placed> = BTreeMap::new();
    let mut placed_by_the_dead_node = 0;
    for a in &attempts {
        let again = api
            .checkout(&bases[1], &a.cart, &a.key)
            .await
            .unwrap_or_else(|e| panic!("node B does not answer the retry of {}: {e}", a.key));
        let Some(placed) = again.placed() else {
            panic!("retry of {}: {} {}", a.key, again.status, again.json);
        };
        match &a.first {
            Tried::Acknowledged(first) => {
                assert_eq!(
                    placed.status,
                    StatusCode::OK,
                    "{}: an acknowledged checkout is answered again, not placed again",
                    a.key
                );
                assert_eq!(placed.number, first.number, "{}: the same order", a.key);
                assert_eq!(placed.token, first.token, "{}: the same order token", a.key);
            }
            _ if placed.status == StatusCode::OK => placed_by_the_dead_node += 1,
            _ => assert_eq!(placed.status, StatusCode::CREATED, "{}", a.key),
        }
        finals.insert(a.key.clone(), placed);
    }

    // What the database holds.
    let orders = recorded_orders(&pool).await;
    let numbers: Vec<String> = sqlx::query_scalar("SELECT number FROM orders ORDER BY number")
        .fetch_all(&pool)
        .await
        .unwrap();
    let distinct: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "no order number twice");
    assert_eq!(
        numbers.len(),
        attempts.len(),
        "one order per idempotency key, no more and no fewer"
    );
    let answered: BTreeSet<&String> = finals.values().map(|p| &p.number).collect();
    assert_eq!(answered.len(), attempts.len(), "each key got its own order");
    assert_eq!(
        answered, distinct,
        "the orders in the database are exactly the ones answered"
    );
    for a in &attempts {
        let number = &finals[&a.key].number;
        let mut expected = BTreeMap::from([(KETTLE.to_string(), a.kettles)]);
        if a.rice > 0 {
            expected.insert(RICE.to_string(), a.rice);
        }
        assert_eq!(
            orders.get(number),
            Some(&expected),
            "order {number} ({}) holds what its cart held",
            a.key
        );
        if let Tried::Acknowledged(first) = &a.first {
            assert!(
                orders.contains_key(&first.number),
                "acknowledged {} kept",
                a.key
            );
        }
    }
    for sku in [KETTLE, RICE] {
        let ordered: i64 = orders.values().filter_map(|o| o.get(sku)).sum();
        let planned: i64 = attempts
            .iter()
            .map(|a| if sku == KETTLE { a.kettles } else { a.rice })
            .sum();
        assert_eq!(
            ordered, planned,
            "{sku}: the orders hold what was checked out"
        );
        assert_eq!(
            stock_of(&pool, sku).await,
            STOCK - ordered,
            "{sku}: stock went down by exactly what the orders hold"
        );
    }
    let cart_ids: Vec<i64> = attempts
        .iter()
        .map(|a| a.cart.id.parse().unwrap())
        .collect();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_items WHERE cart_id = ANY($1)")
        .bind(&cart_ids)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "every checked-out cart is empty");
    // Node B reads every order, also those node A placed.
    for placed in finals.values() {
        api.reads(&bases[1], placed).await.unwrap();
    }
    pool.close().await;
    eprintln!(
        "two nodes, A killed after {acked_at_kill} acknowledged checkouts: {} of {} acknowledged at first, \
         {lost} lost with node A ({lost_in_flight} of them in flight), \
         {placed_by_the_dead_node} had been placed by A before it died",
        attempts
            .iter()
            .filter(|a| matches!(a.first, Tried::Acknowledged(_)))
            .count(),
        attempts.len()
    );
}

/// Copies the browser's cookies from one client to the other: the same browser, sent to the
/// other node by the load balancer.
fn same_browser(from: &Client, to: &mut Client) {
    to.cookies = from.cookies.clone();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn a_shoppers_session_and_cart_move_between_nodes() {
    let db = Scratch::new().await;
    let shop = seeded_shop(&db.url).await;
    let pool = db.pool().await;
    let (_nodes, [base_a, base_b]) = two_nodes(shop.dir.path());
    let source = "203.0.113.40";
    let mut on_a = Client::remote(&format!("{base_a}/"), source);
    let mut on_b = Client::remote(&format!("{base_b}/"), source);

    let added = crate::storefront::add(&mut on_a, "electric-kettle-drip", KETTLE, "2").await;
    assert_eq!(added.status, 303);
    assert_eq!(
        crate::storefront::location(&added),
        "/products/electric-kettle-drip?added=1",
        "node A took the kettles"
    );
    assert!(
        on_a.cookies.contains_key("kura_session"),
        "{:?}",
        on_a.cookies
    );

    same_browser(&on_a, &mut on_b);
    let cart = on_b.get("/cart").await;
    assert_eq!(cart.status, 200);
    assert!(
        cart.body.contains("電気ケトル ドリップ") && cart.body.contains("¥11,960"),
        "node B shows the cart made on node A"
    );
    let stranger = Client::remote(&format!("{base_b}/"), "203.0.113.41")
        .get("/cart")
        .await;
    assert!(
        stranger.body.contains("カートは空です") && !stranger.body.contains("電気ケトル"),
        "without the cookie, node B shows an empty cart"
    );

    // The CSRF token comes from node B's page this time, and node B checks it.
    let added = crate::storefront::add(&mut on_b, "rice", RICE, "1").await;
    assert_eq!(added.status, 303);
    assert_eq!(
        crate::storefront::location(&added),
        "/products/rice?added=1",
        "node B took the rice into the same cart"
    );
    same_browser(&on_b, &mut on_a);
    let cart = on_a.get("/cart").await;
    assert_eq!(cart.status, 200);
    assert!(
        cart.body.contains("電気ケトル ドリップ")
            && cart.body.contains("特選 コシヒカリ 2kg")
            && cart.body.contains("<strong>¥13,940</strong>"),
        "node A shows both lines and their total:\n{}",
        cart.body
    );

    // One cart in the database, holding both lines.
    let lines: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT cart_id, sku, quantity FROM cart_items ORDER BY sku")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].0, lines[1].0, "one cart: {lines:?}");
    assert_eq!(
        (
            lines[0].1.as_str(),
            lines[0].2,
            lines[1].1.as_str(),
            lines[1].2
        ),
        (KETTLE, 2, RICE, 1)
    );
    pool.close().await;
}

/// The number of values under `key` in the output of `kura keys status`.
fn usage_of(status: &str, key: u32) -> u64 {
    status
        .lines()
        .map(str::split_whitespace)
        .filter_map(|mut w| {
            Some((
                w.next()?.parse::<u32>().ok()?,
                w.nth(2)?.parse::<u64>().ok()?,
            ))
        })
        .find(|(id, _)| *id == key)
        .map_or(0, |(_, n)| n)
}

fn keys(dir: &Path, args: &[&str]) -> std::process::Output {
    kura_command(dir)
        .arg("keys")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

/// One order: a cart made on one node, checked out on the other, and read back at once on the
/// first. Any failure is an error: both nodes are up throughout.
async fn order_across(api: &Api, bases: &[String; 2], n: usize) -> Result<Placed, String> {
    let (here, there) = (n % 2, 1 - n % 2);
    let cart = api.cart(&bases[here], 1, (n % 2) as i64).await?;
    let answer = api
        .checkout(&bases[there], &cart, &format!("rotation-{n}"))
        .await
        .map_err(|e| format!("checkout {n}: {e:?}"))?;
    let placed = answer
        .placed()
        .filter(|p| p.status == StatusCode::CREATED)
        .ok_or_else(|| format!("checkout {n}: {} {}", answer.status, answer.json))?;
    api.reads(&bases[here], &placed).await?;
    Ok(placed)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn a_key_rotation_runs_while_both_nodes_serve() {
    let db = Scratch::new().await;
    let shop = seeded_shop(&db.url).await;
    let dir = shop.dir.path();
    let pool = db.pool().await;
    let (_nodes, bases) = two_nodes(dir);
    let api = Api::new("198.51.100.50");
    let mut before = Vec::new();
    for n in 0..6 {
        before.push(order_across(&api, &bases, n).await.unwrap());
    }
    let status = String::from_utf8(keys(dir, &["status"]).stdout).unwrap();
    assert!(
        usage_of(&status, 1) > 0,
        "the orders are under key 1:\n{status}"
    );

    // Orders keep coming on both nodes, each read back on the other node at once.
    const BEFORE: usize = 0;
    const DURING: usize = 1;
    const AFTER: usize = 2;
    let phase = Arc::new(AtomicUsize::new(BEFORE));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let background = {
        let (phase, stop, count, bases) = (
            Arc::clone(&phase),
            Arc::clone(&stop),
            Arc::clone(&count),
            bases.clone(),
        );
        tokio::spawn(async move {
            let api = Api::new("198.51.100.51");
            let (mut placed, mut errors) = (Vec::new(), Vec::new());
            let mut n = 1000;
            while !stop.load(Ordering::SeqCst) {
                let when = phase.load(Ordering::SeqCst);
                match order_across(&api, &bases, n).await {
                    Ok(p) => {
                        placed.push((when, p));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        errors.push(e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                n += 1;
            }
            (placed, errors)
        })
    };
    while count.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    phase.store(DURING, Ordering::SeqCst);
    let rotate_dir = dir.to_path_buf();
    let rotated =
        tokio::task::spawn_blocking(move || keys(&rotate_dir, &["rotate", "--batch", "5"]))
            .await
            .unwrap();
    phase.store(AFTER, Ordering::SeqCst);
    let out = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(out.contains("Finished rotation to key 2"), "{out}");
    let at_rotation_end = count.load(Ordering::SeqCst);
    while count.load(Ordering::SeqCst) < at_rotation_end + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (during_run, errors) = background.await.unwrap();
    assert!(
        errors.is_empty(),
        "orders failed around the rotation: {errors:#?}"
    );
    let in_phase = |p: usize| during_run.iter().filter(|(w, _)| *w == p).count();
    assert!(
        in_phase(DURING) > 0,
        "orders were placed during the rotation"
    );

    let status = String::from_utf8(keys(dir, &["status"]).stdout).unwrap();
    assert_eq!(
        usage_of(&status, 1),
        0,
        "nothing left on the old key:\n{status}"
    );
    assert!(usage_of(&status, 2) > 0, "{status}");

    let retired = keys(dir, &["retire"]);
    assert!(
        retired.status.success(),
        "{}",
        String::from_utf8_lossy(&retired.stderr)
    );
    assert!(String::from_utf8_lossy(&retired.stdout).contains("Retired key 1."));
    // Longer than the nodes' key reload: both now run without key 1.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let all: Vec<&Placed> = before
        .iter()
        .chain(during_run.iter().map(|(_, p)| p))
        .collect();
    for base in &bases {
        for placed in &all {
            api.reads(base, placed).await.unwrap();
        }
        let ready = api
            .send(base, Method::GET, "/readyz", None, None, None)
            .await
            .unwrap();
        assert_eq!(ready.status, StatusCode::OK, "{base} is ready");
    }
    // New orders on both nodes (each checks out one, the other reads it).
    let mut after = Vec::new();
    for n in 100..102 {
        after.push(order_across(&api, &bases, n).await.unwrap());
    }
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        recorded as usize,
        all.len() + after.len(),
        "every order placed is recorded, once"
    );
    pool.close().await;
    eprintln!(
        "key rotation under two nodes: {} orders before, {} during the rotation, {} after, {} after retiring key 1",
        before.len() + in_phase(BEFORE),
        in_phase(DURING),
        in_phase(AFTER),
        after.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn two_nodes_starting_at_once_migrate_once() {
    let db = Scratch::new().await;
    let pool = db.pool().await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tables, 0, "the database starts empty");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_config(dir, &db.url);
    // The shop's key file, made without touching the database.
    let (_, created) = kura_seal::FileKeyProvider::new(dir.join("kura.key"))
        .load_or_create()
        .unwrap();
    assert!(created);

    // Both started before either is waited for.
    let mut a = spawn_node(dir, "a");
    let mut b = spawn_node(dir, "b");
    let bases = [announced(&mut a, dir, "a"), announced(&mut b, dir, "b")];
    let api = Api::new("198.51.100.60");
    for base in &bases {
        let ready = api
            .send(base, Method::GET, "/readyz", None, None, None)
            .await
            .unwrap();
        assert_eq!(ready.status, StatusCode::OK, "{base} is ready");
    }

    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM kura_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let known: Vec<(i64, String)> = kura_store::PG_MIGRATIONS
        .iter()
        .map(|(v, name, _)| (*v, (*name).to_string()))
        .collect();
    assert_eq!(applied, known, "every migration recorded, each once");
    // The nodes' own word: each migration was applied by exactly one of them.
    let by_node: Vec<usize> = ["a", "b"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(dir.join(format!("{name}.log")))
                .unwrap()
                .lines()
                .filter(|l| l.contains("migration applied"))
                .count()
        })
        .collect();
    assert_eq!(
        by_node.iter().sum::<usize>(),
        known.len(),
        "migrations applied by node A and B: {by_node:?}"
    );
    let key_checks: i64 = sqlx::query_scalar("SELECT count(*) FROM key_checks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(key_checks, 1, "the key recorded once");
    pool.close().await;
    eprintln!(
        "two nodes starting at once: {} migrations, applied {by_node:?} by node A and B",
        known.len()
    );
}

/// A storm shopper on one node: makes a cart and checks it out, again and again, until the
/// node stops answering.
async fn storm_shopper(
    t: usize,
    base: String,
    acked: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
) -> Vec<Attempt> {
    let api = Api::new(&format!("198.51.100.{}", 10 + t));
    let mut attempts = Vec::new();
    for i in 0..PER_TASK * 4 {
        let n = t * PER_TASK * 4 + i;
        let (kettles, rice) = (1 + (n % 3) as i64, ((n / 2) % 2) as i64);
        let Ok(cart) = api.cart(&base, kettles, rice).await else {
            break;
        };
        let key = format!("storm-{n}");
        in_flight.fetch_add(1, Ordering::SeqCst);
        let first = match api.checkout(&base, &cart, &key).await {
            Ok(answer) => match answer.placed() {
                Some(placed) => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    Tried::Acknowledged(placed)
                }
                None => Tried::Refused(answer.status, answer.json),
            },
            Err(e) => Tried::Lost {
                sent: !e.is_connect(),
                error: format!("{e:?}"),
            },
        };
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let lost = matches!(first, Tried::Lost { .. });
        attempts.push(Attempt {
            key,
            cart,
            kettles,
            rice,
            node: 0,
            first,
        });
        if lost {
            break;
        }
    }
    attempts
}

/// The same durability on the embedded default: one `kura serve` on SQLite takes checkouts
/// from eight shoppers at once (group commit, each checkout in one trip to the writer) and is
/// killed with SIGKILL while checkouts are in flight. Started again on the same file, it still
/// has every acknowledged order, answers each retry with the same order, and the stock and
/// carts agree with the orders exactly.
#[tokio::test(flavor = "multi_thread")]
async fn checkouts_on_sqlite_survive_the_node_being_killed() {
    let shop = support::shop_with(None, |_| {}).await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    for sku in [KETTLE, RICE] {
        shop.state.store.set_stock(sku, STOCK).await.unwrap();
    }
    let dir = shop.dir.path();
    let url = shop.config.database.url.clone();
    write_config(dir, &url);
    let mut node = spawn_node(dir, "first");
    let base = announced(&mut node, dir, "first");

    let acked = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            tokio::spawn(storm_shopper(
                t,
                base.clone(),
                Arc::clone(&acked),
                Arc::clone(&in_flight),
            ))
        })
        .collect();
    let started = Instant::now();
    while acked.load(Ordering::SeqCst) < 60 || in_flight.load(Ordering::SeqCst) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} checkouts acknowledged in a minute",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    node.0.kill().unwrap();
    node.0.wait().unwrap();
    let acked_at_kill = acked.load(Ordering::SeqCst);
    let mut attempts = Vec::new();
    for t in tasks {
        attempts.extend(t.await.unwrap());
    }
    let refused: Vec<String> = attempts
        .iter()
        .filter_map(|a| match &a.first {
            Tried::Refused(status, json) => Some(format!("{}: {status} {json}", a.key)),
            _ => None,
        })
        .collect();
    assert!(refused.is_empty(), "checkouts refused: {refused:#?}");

    let mut again = spawn_node(dir, "second");
    let base = announced(&mut again, dir, "second");
    let api = Api::new("198.51.100.99");
    let mut finals: BTreeMap<String, Placed> = BTreeMap::new();
    let mut placed_before_the_kill = 0;
    for a in &attempts {
        let retry = api
            .checkout(&base, &a.cart, &a.key)
            .await
            .unwrap_or_else(|e| panic!("the restarted node does not answer {}: {e}", a.key));
        let Some(placed) = retry.placed() else {
            panic!("retry of {}: {} {}", a.key, retry.status, retry.json);
        };
        match &a.first {
            Tried::Acknowledged(first) => {
                assert_eq!(placed.status, StatusCode::OK, "{}: answered again", a.key);
                assert_eq!(placed.number, first.number, "{}: the same order", a.key);
                assert_eq!(placed.token, first.token, "{}: the same token", a.key);
            }
            _ if placed.status == StatusCode::OK => placed_before_the_kill += 1,
            _ => assert_eq!(placed.status, StatusCode::CREATED, "{}", a.key),
        }
        finals.insert(a.key.clone(), placed);
    }

    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(kura_store::path_from_url(&url).unwrap())
                .read_only(true),
        )
        .await
        .unwrap();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT o.number, l.sku, l.quantity FROM orders o \
         JOIN order_lines l ON l.order_id = o.id ORDER BY o.number, l.line_no",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut orders: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (number, sku, quantity) in rows {
        *orders.entry(number).or_default().entry(sku).or_default() += quantity;
    }
    let numbers: Vec<String> = sqlx::query_scalar("SELECT number FROM orders")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(numbers.len(), attempts.len(), "one order per key");
    let distinct: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "no order number twice");
    for a in &attempts {
        let number = &finals[&a.key].number;
        let mut expected = BTreeMap::from([(KETTLE.to_string(), a.kettles)]);
        if a.rice > 0 {
            expected.insert(RICE.to_string(), a.rice);
        }
        assert_eq!(orders.get(number), Some(&expected), "order of {}", a.key);
    }
    for sku in [KETTLE, RICE] {
        let ordered: i64 = orders.values().filter_map(|o| o.get(sku)).sum();
        let stock: i64 = sqlx::query_scalar("SELECT stock FROM variants WHERE sku = $1")
            .bind(sku)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stock, STOCK - ordered, "{sku}: stock matches the orders");
    }
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cart_items WHERE cart_id IN (SELECT value FROM json_each($1))",
    )
    .bind(
        serde_json::to_string(
            &attempts
                .iter()
                .map(|a| a.cart.id.parse::<i64>().unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap(),
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "every checked-out cart is empty");
    pool.close().await;
    eprintln!(
        "SQLite node killed after {acked_at_kill} acknowledged checkouts; {} attempts, \
         {placed_before_the_kill} unanswered ones had been placed before the kill",
        attempts.len()
    );
}
