//! The guard as the shop runs it: [`kura_guard::Guard`] takes every security event; this module
//! keeps what it decides (events, alerts, blocks) in the store without holding up a request,
//! carries out its staff responses, and keeps this node's blocks in step with the other nodes'.
//!
//! Writes go through a bounded queue to one task: events in batches (at most a second late),
//! alerts, blocks and staff responses at once. When the queue is full (a flood), events are
//! dropped and counted (`kura_guard_events_dropped_total`); alerts and blocks are never dropped
//! from this node's memory, since the guard holds them itself.

use std::sync::Arc;
use std::time::Duration;

use kura_app::records::{AlertRecord, BlockRecord, SecurityEventRecord};
use kura_app::{Clock, SecurityEvent, SecurityEvents, Store};
use kura_guard::{Alert, Guard, Responder};
use tokio::sync::mpsc;

/// How long a block this node placed stays even before the store shows it.
const BLOCK_GRACE_SECONDS: i64 = 10;

enum Job {
    Event(SecurityEventRecord),
    Alert(AlertRecord),
    Block(BlockRecord),
    Staff {
        id: i64,
        lock: bool,
        detector: &'static str,
    },
    CloseCardOrders(Vec<i64>),
}

/// The shop, once built: the guard exists before the use cases it acts through.
pub type ShopCell = Arc<std::sync::OnceLock<kura_web::AppState>>;

pub struct StoreResponder {
    tx: mpsc::Sender<Job>,
    clock: Arc<dyn Clock>,
}

impl StoreResponder {
    fn send(&self, job: Job) {
        if let Err(e) = self.tx.try_send(job) {
            let what = match e.into_inner() {
                Job::Event(_) => "event",
                Job::Alert(_) => "alert",
                Job::Block(_) => "block",
                Job::Staff { .. } => "staff",
                Job::CloseCardOrders(_) => "orders",
            };
            metrics::counter!("kura_guard_events_dropped_total", "job" => what).increment(1);
        }
    }
}

impl Responder for StoreResponder {
    fn persist(&self, event: &SecurityEvent, source: Option<&str>) {
        metrics::counter!("kura_guard_events_total", "event" => event.kind.name()).increment(1);
        self.send(Job::Event(SecurityEventRecord {
            id: kura_app::ids::new_id(),
            at: self.clock.now(),
            kind: event.kind.name().to_string(),
            source: source.map(str::to_string),
            subject: event.subject,
            detail: event.detail.map(str::to_string),
        }));
    }

    fn alert(&self, alert: &Alert) {
        metrics::counter!("kura_guard_alerts_total", "detector" => alert.detector).increment(1);
        self.send(Job::Alert(AlertRecord {
            id: kura_app::ids::new_id(),
            at: alert.at,
            detector: alert.detector.to_string(),
            severity: alert.severity.code().to_string(),
            principal: alert.principal.label(),
            count: i64::from(alert.count),
            window_seconds: alert.window_seconds,
            actions: alert.actions.join(", "),
            acknowledged_at: None,
            acknowledged_by: None,
            note: None,
        }));
    }

    fn block(&self, source: &str, until: i64, detector: &'static str) {
        self.send(Job::Block(BlockRecord {
            source: source.to_string(),
            until,
            detector: detector.to_string(),
            created_at: self.clock.now(),
        }));
    }

    fn cut_staff(&self, staff_id: i64, lock: bool, detector: &'static str) {
        self.send(Job::Staff {
            id: staff_id,
            lock,
            detector,
        });
    }

    fn close_card_orders(&self, order_ids: &[i64], _detector: &'static str) {
        self.send(Job::CloseCardOrders(order_ids.to_vec()));
    }
}

/// Where alerts are posted, signed.
#[derive(Clone)]
pub struct AlertHook {
    pub url: String,
    pub secret: secrecy::SecretString,
}

/// The header of the alert webhook's signature.
pub const ALERT_SIGNATURE_HEADER: &str = "Kura-Signature";

/// The guard for a shop: `inner` receives every event too (the log), `pseudonym` names sources.
#[allow(clippy::too_many_arguments)] // each is one wire of the guard to the shop; a struct would only rename them
pub fn guard(
    detectors: Vec<kura_guard::Detector>,
    never_block: Vec<ipnet::IpNet>,
    store: Arc<dyn Store>,
    inner: Arc<kura_app::LogEvents>,
    clock: Arc<dyn Clock>,
    hook: Option<AlertHook>,
    shop: ShopCell,
    working: kura_guard::WorkingHours,
) -> Arc<Guard> {
    let (tx, rx) = mpsc::channel(10_000);
    tokio::spawn(write_jobs(
        rx,
        Arc::clone(&store),
        Arc::clone(&clock),
        hook,
        shop,
    ));
    let responder = Arc::new(StoreResponder {
        tx,
        clock: Arc::clone(&clock),
    });
    let names = Arc::clone(&inner);
    Arc::new(
        Guard::new(
            detectors,
            never_block,
            inner as Arc<dyn SecurityEvents>,
            responder,
            Arc::new(move |ip| names.pseudonym(ip)),
            clock,
        )
        .with_working_hours(working),
    )
}

/// Posts an alert to the webhook (two tries); the body names no person and no address.
async fn post_alert(hook: &AlertHook, alert: &AlertRecord, now: i64) {
    use secrecy::ExposeSecret;
    let body = serde_json::json!({
        "id": alert.id,
        "at": alert.at,
        "detector": alert.detector,
        "severity": alert.severity,
        "principal": alert.principal,
        "count": alert.count,
        "window_seconds": alert.window_seconds,
        "actions": alert.actions,
    })
    .to_string();
    let signature = kura_pay::signature::header_value(
        hook.secret.expose_secret().as_bytes(),
        now,
        body.as_bytes(),
    );
    let Ok(client) = kura_pay::http_client(Duration::from_secs(5)) else {
        return;
    };
    for attempt in 1..=2 {
        let sent = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header(ALERT_SIGNATURE_HEADER, &signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(target: "kura::guard", status = r.status().as_u16(), attempt, "alert webhook refused")
            }
            Err(e) => {
                tracing::warn!(target: "kura::guard", error = %e.without_url(), attempt, "alert webhook unreachable")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn write_jobs(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hook: Option<AlertHook>,
    shop: ShopCell,
) {
    let mut events = Vec::new();
    let mut mailed: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    loop {
        let job = if events.is_empty() {
            rx.recv().await
        } else {
            match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
                Ok(job) => job,
                Err(_) => {
                    flush(&store, &mut events).await;
                    continue;
                }
            }
        };
        let Some(job) = job else {
            flush(&store, &mut events).await;
            return;
        };
        match job {
            Job::Event(e) => {
                events.push(e);
                if events.len() >= 200 {
                    flush(&store, &mut events).await;
                }
            }
            Job::Alert(a) => {
                if let Err(e) = store.insert_alert(&a).await {
                    tracing::error!(target: "kura::guard", error = %e, detector = %a.detector, "alert not stored");
                }
                if let Some(state) = shop.get()
                    && owners_should_hear(&mut mailed, &a, clock.now())
                {
                    let (state, a) = (state.clone(), a.clone());
                    tokio::spawn(async move {
                        if let Err(e) = state.staff.notify_guard_alert(&a).await {
                            tracing::error!(target: "kura::guard", error = %e, "owners not mailed about an alert");
                        }
                    });
                }
                if let Some(hook) = &hook {
                    let (hook, now) = (hook.clone(), clock.now());
                    tokio::spawn(async move { post_alert(&hook, &a, now).await });
                }
            }
            Job::Block(b) => {
                if let Err(e) = store.upsert_block(&b).await {
                    tracing::error!(target: "kura::guard", error = %e, "block not shared");
                }
            }
            Job::Staff { id, lock, detector } => {
                staff_response(&store, clock.now(), id, lock, detector).await;
            }
            Job::CloseCardOrders(ids) => {
                if let Some(state) = shop.get() {
                    let state = state.clone();
                    tokio::spawn(async move { close_card_orders(&state, &ids).await });
                }
            }
        }
    }
}

/// Owners hear of every critical alert, and of others once per detector in ten minutes (a
/// distributed attack raises one alert per source; the dashboard lists them all).
fn owners_should_hear(
    mailed: &mut std::collections::HashMap<String, i64>,
    alert: &AlertRecord,
    now: i64,
) -> bool {
    const QUIET_SECONDS: i64 = 600;
    if alert.severity == kura_guard::Severity::Critical.code() {
        return true;
    }
    match mailed.get(&alert.detector) {
        Some(at) if now - at < QUIET_SECONDS => false,
        _ => {
            mailed.insert(alert.detector.clone(), now);
            true
        }
    }
}

/// Cancels the unpaid card orders a card tester started: the provider's page of each is closed
/// first, so no more numbers can be tried on it (an order paid meanwhile is left alone).
async fn close_card_orders(state: &kura_web::AppState, ids: &[i64]) {
    for id in ids {
        let rec = match state.store.order_by_id(*id).await {
            Ok(Some(rec)) => rec,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(target: "kura::guard", error = %e, order = id, "card order not closed");
                continue;
            }
        };
        if rec.status != kura_domain::OrderStatus::AwaitingPayment {
            continue;
        }
        match state.orders.cancel(&rec.number).await {
            Ok(Ok(())) => {
                tracing::warn!(target: "kura::guard", order = id, "card tester's order cancelled and its payment page closed")
            }
            // Closing the page made the provider's "expired" event arrive first.
            Ok(Err(kura_app::orders::FulfilError::WrongStatus(
                kura_domain::OrderStatus::Expired,
            ))) => {
                tracing::warn!(target: "kura::guard", order = id, "card tester's payment page closed and its order expired")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "kura::guard", order = id, reason = ?e, "card tester's order left as it is")
            }
            Err(e) => {
                tracing::error!(target: "kura::guard", error = %e, order = id, "card order not closed")
            }
        }
    }
}

async fn flush(store: &Arc<dyn Store>, events: &mut Vec<SecurityEventRecord>) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = store.insert_security_events(events).await {
        tracing::warn!(target: "kura::guard", error = %e, n = events.len(), "security events not stored");
    }
    events.clear();
}

/// Ends a staff member's sessions (their role and state are written again, which ends every
/// session of theirs on every node) or suspends them. An owner is never suspended by the guard,
/// so no attacker can lock the shop's owners out: their sessions end instead, and they sign in
/// again with both factors.
async fn staff_response(store: &Arc<dyn Store>, now: i64, id: i64, lock: bool, detector: &str) {
    let member = match store.staff_by_id(id).await {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(target: "kura::guard", error = %e, staff = id, "staff response failed");
            return;
        }
    };
    let suspend = lock && member.role != "owner";
    let status = if suspend {
        "suspended"
    } else {
        member.status.as_str()
    };
    match store.set_staff_access(id, &member.role, status, now).await {
        Ok(_) => {
            tracing::error!(target: "kura::alert", staff = id, detector, suspended = suspend, "guard ended a staff member's sessions")
        }
        Err(e) => {
            tracing::error!(target: "kura::guard", error = %e, staff = id, "staff response failed")
        }
    }
}

/// Reads the shared blocks once into this node's guard.
pub async fn sync_blocks(
    guard: &Guard,
    store: &dyn Store,
    now: i64,
) -> Result<(), kura_app::AppError> {
    let shared: Vec<(String, i64)> = store
        .active_blocks(now)
        .await?
        .into_iter()
        .map(|b| (b.source, b.until))
        .collect();
    guard.sync_blocks(&shared, BLOCK_GRACE_SECONDS);
    Ok(())
}

/// Keeps this node's blocks in step with the store (every 2 s) and purges events older than
/// `keep_months` (hourly).
pub fn spawn_workers(
    guard: Arc<Guard>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keep_months: i64,
) {
    let (g, s, c) = (Arc::clone(&guard), Arc::clone(&store), Arc::clone(&clock));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Err(e) = sync_blocks(&g, s.as_ref(), c.now()).await {
                tracing::warn!(target: "kura::guard", error = %e, "blocks not refreshed");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let before = clock.now() - keep_months * 30 * 86_400;
            loop {
                match store.purge_security_events(before, 5_000).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(target: "kura::guard", error = %e, "security events not purged");
                        break;
                    }
                }
            }
        }
    });
}
