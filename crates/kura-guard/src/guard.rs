//! The guard itself: every security event passes through [`Guard::record`], which forwards it
//! (to the log, and to the event store through the [`Responder`]), counts it in each detector
//! that watches its kind, and when a count crosses a threshold carries out that detector's
//! responses before `record` returns, so they hold for the rest of the request that caused
//! them. Blocks of a source are kept here and shared with other nodes through the responder.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use kura_app::{Clock, SecurityEvent, SecurityEventKind, SecurityEvents};

use crate::detect::{Detector, Per, Response, Severity, WorkingHours};
use crate::window::{Count, Windows};

/// Who a count is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A daily pseudonym of the client address (an IPv6 address by its /64).
    Source(String),
    Staff(i64),
    Customer(i64),
    Shop,
}

impl Principal {
    /// How an alert names it: a pseudonym or an internal id, never an address or a name.
    pub fn label(&self) -> String {
        match self {
            Self::Source(p) => p.clone(),
            Self::Staff(id) => format!("staff:{id}"),
            Self::Customer(id) => format!("customer:{id}"),
            Self::Shop => "shop".into(),
        }
    }
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub detector: &'static str,
    pub severity: Severity,
    pub principal: Principal,
    /// Events counted in the window when it was crossed.
    pub count: u32,
    pub window_seconds: i64,
    pub at: i64,
    /// What the guard did about it, as words for the log and the back office.
    pub actions: Vec<String>,
}

/// What the guard asks the rest of the shop to do. Every method must return quickly (queue the
/// work); the guard calls them while a request waits.
pub trait Responder: Send + Sync {
    /// Keeps the event (with the source's pseudonym) for the security dashboard.
    fn persist(&self, event: &SecurityEvent, source: Option<&str>);
    /// Raises an alert (stored, logged at error level, the owner told).
    fn alert(&self, alert: &Alert);
    /// Shares a block with the other nodes.
    fn block(&self, source: &str, until: i64, detector: &'static str);
    /// Ends a staff member's sessions; with `lock`, also suspends them.
    fn cut_staff(&self, staff_id: i64, lock: bool, detector: &'static str);
    /// Closes the provider's payment pages of these unpaid card orders and cancels them.
    fn close_card_orders(&self, _order_ids: &[i64], _detector: &'static str) {}
}

/// A responder that does nothing (tests, tools).
pub struct NoResponder;

impl Responder for NoResponder {
    fn persist(&self, _: &SecurityEvent, _: Option<&str>) {}
    fn alert(&self, _: &Alert) {}
    fn block(&self, _: &str, _: i64, _: &'static str) {}
    fn cut_staff(&self, _: i64, _: bool, _: &'static str) {}
}

/// Turns an address into its daily pseudonym (the caller's key; `None` without one).
pub type Pseudonymize = dyn Fn(IpAddr) -> Option<String> + Send + Sync;

/// The address a source is counted by: IPv4 as is, IPv6 by its /64 (one machine commonly holds
/// the whole prefix).
pub fn source_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

pub struct Guard {
    detectors: Vec<Detector>,
    windows: Vec<Mutex<Windows<Principal>>>,
    /// Source pseudonym → (blocked until, when this node learned of it), unix seconds.
    blocks: Mutex<HashMap<String, (i64, i64)>>,
    /// Networks never blocked (monitoring, the office).
    never_block: Vec<ipnet::IpNet>,
    inner: Arc<dyn SecurityEvents>,
    responder: Arc<dyn Responder>,
    pseudonym: Arc<Pseudonymize>,
    clock: Arc<dyn Clock>,
    /// Card orders sent to the provider's page: order id → (source, address, when). A decline
    /// arrives from the provider, not the buyer; this names the source that started it.
    card_orders: Mutex<HashMap<i64, CardOrder>>,
    /// When staff work; off-hours detectors count only outside them.
    working: WorkingHours,
}

#[derive(Debug, Clone)]
struct CardOrder {
    source: String,
    ip: Option<IpAddr>,
    at: i64,
}

/// How many card orders the guard remembers, and for how long.
const CARD_ORDERS_KEPT: usize = 50_000;
const CARD_ORDER_SECONDS: i64 = 24 * 3600;

impl Guard {
    pub fn new(
        detectors: Vec<Detector>,
        never_block: Vec<ipnet::IpNet>,
        inner: Arc<dyn SecurityEvents>,
        responder: Arc<dyn Responder>,
        pseudonym: Arc<Pseudonymize>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let windows = detectors
            .iter()
            .map(|d| Mutex::new(Windows::new(d.window_seconds, d.threshold)))
            .collect();
        Self {
            detectors,
            windows,
            blocks: Mutex::new(HashMap::new()),
            never_block,
            inner,
            responder,
            pseudonym,
            clock,
            card_orders: Mutex::new(HashMap::new()),
            working: WorkingHours::default(),
        }
    }

    /// Sets the shop's working hours (the default: weekdays 09:00–19:00, Japan time).
    pub fn with_working_hours(mut self, working: WorkingHours) -> Self {
        self.working = working;
        self
    }

    fn remember_card_order(&self, order_id: i64, source: &str, ip: Option<IpAddr>, now: i64) {
        let mut orders = self
            .card_orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if orders.len() >= CARD_ORDERS_KEPT {
            orders.retain(|_, o| o.at > now - CARD_ORDER_SECONDS);
            if orders.len() >= CARD_ORDERS_KEPT {
                orders.clear();
            }
        }
        orders.insert(
            order_id,
            CardOrder {
                source: source.to_string(),
                ip,
                at: now,
            },
        );
    }

    fn card_order(&self, order_id: i64) -> Option<CardOrder> {
        self.card_orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&order_id)
            .cloned()
    }

    /// The card orders `source` started in the last day.
    fn card_orders_of(&self, source: &str, now: i64) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .card_orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, o)| o.source == source && o.at > now - CARD_ORDER_SECONDS)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn detectors(&self) -> &[Detector] {
        &self.detectors
    }

    /// The pseudonym a client address is counted and blocked by.
    pub fn source(&self, ip: IpAddr) -> Option<String> {
        (self.pseudonym)(source_address(ip))
    }

    /// Until when `ip` is blocked, if it is now.
    pub fn blocked(&self, ip: Option<IpAddr>) -> Option<i64> {
        let ip = ip?;
        // The common case, nobody blocked, costs one lock and no keyed hash.
        if self
            .blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
        {
            return None;
        }
        if self.never_block.iter().any(|n| n.contains(&ip)) {
            return None;
        }
        let source = self.source(ip)?;
        let now = self.clock.now();
        let blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        blocks
            .get(&source)
            .map(|(until, _)| *until)
            .filter(|until| *until > now)
    }

    /// Blocks a source here (and nowhere else): for blocks read back from the shared store.
    pub fn learn_block(&self, source: &str, until: i64) {
        let mut blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        blocks.retain(|_, (u, _)| *u > now);
        let entry = blocks.entry(source.to_string()).or_insert((until, now));
        entry.0 = entry.0.max(until);
    }

    /// Takes the shared list of blocks (read from the store) as the truth: blocks lifted
    /// elsewhere go, blocks placed elsewhere arrive. A block this node placed in the last
    /// `grace` seconds stays even if the store does not show it yet (its write is queued).
    pub fn sync_blocks(&self, shared: &[(String, i64)], grace: i64) {
        let now = self.clock.now();
        let mut blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        blocks.retain(|source, (until, learned)| {
            *until > now && (now - *learned <= grace || shared.iter().any(|(s, _)| s == source))
        });
        for (source, until) in shared {
            let entry = blocks.entry(source.clone()).or_insert((*until, now));
            entry.0 = *until;
        }
    }

    /// Lifts a block here (the owner unblocked it; the store forgets it for every node).
    pub fn unblock(&self, source: &str) {
        self.blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(source);
    }

    /// Sources blocked now, with their end.
    pub fn blocks(&self) -> Vec<(String, i64)> {
        let now = self.clock.now();
        let blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<_> = blocks
            .iter()
            .filter(|(_, (u, _))| *u > now)
            .map(|(s, (u, _))| (s.clone(), *u))
            .collect();
        list.sort();
        list
    }

    fn principal(
        &self,
        per: Per,
        event: &SecurityEvent,
        source: Option<&String>,
    ) -> Option<Principal> {
        match per {
            Per::Source => source.cloned().map(Principal::Source),
            Per::Staff => event.subject.map(Principal::Staff),
            Per::Customer => event.subject.map(Principal::Customer),
            Per::Shop => Some(Principal::Shop),
        }
    }

    fn respond(&self, detector: &Detector, principal: &Principal, ip: Option<IpAddr>, now: i64) {
        let mut actions = Vec::new();
        for response in detector.responses {
            match (response, principal) {
                (Response::Block { seconds }, Principal::Source(source)) => {
                    if ip.is_some_and(|ip| self.never_block.iter().any(|n| n.contains(&ip))) {
                        actions.push("not blocked: a trusted network".to_string());
                        continue;
                    }
                    let until = now + seconds;
                    self.learn_block(source, until);
                    self.responder.block(source, until, detector.id);
                    actions.push(format!("source blocked for {seconds} s"));
                }
                (Response::CutSessions, Principal::Staff(id)) => {
                    self.responder.cut_staff(*id, false, detector.id);
                    actions.push("staff sessions ended".into());
                }
                (Response::LockStaff, Principal::Staff(id)) => {
                    self.responder.cut_staff(*id, true, detector.id);
                    actions.push("staff member suspended".into());
                }
                (Response::CloseCardOrders, Principal::Source(source)) => {
                    let ids = self.card_orders_of(source, now);
                    if !ids.is_empty() {
                        self.responder.close_card_orders(&ids, detector.id);
                        actions.push(format!(
                            "{} open card payment page(s) closed and their orders cancelled",
                            ids.len()
                        ));
                    }
                }
                _ => {}
            }
        }
        if detector.responses.contains(&Response::Alert) {
            let count = self
                .windows
                .iter()
                .zip(&self.detectors)
                .find(|(_, d)| d.id == detector.id)
                .map_or(detector.threshold, |(w, _)| {
                    w.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .count(principal, now)
                });
            let alert = Alert {
                detector: detector.id,
                severity: detector.severity,
                principal: principal.clone(),
                count,
                window_seconds: detector.window_seconds,
                at: now,
                actions,
            };
            tracing::error!(
                target: "kura::alert",
                detector = alert.detector,
                severity = alert.severity.code(),
                principal = %alert.principal.label(),
                count = alert.count,
                window = alert.window_seconds,
                actions = %alert.actions.join(", "),
                "guard alert"
            );
            self.responder.alert(&alert);
        }
    }
}

impl SecurityEvents for Guard {
    fn record(&self, event: SecurityEvent) {
        let now = self.clock.now();
        let mut ip = event.ip;
        let mut source = ip.and_then(|ip| self.source(ip));
        match (event.kind, event.subject, &source) {
            (SecurityEventKind::CardCheckoutStarted, Some(order), Some(s)) => {
                self.remember_card_order(order, s, ip, now);
            }
            // A decline comes from the provider: it counts against whoever started the order.
            (SecurityEventKind::CardDeclined, Some(order), None) => {
                if let Some(o) = self.card_order(order) {
                    source = Some(o.source);
                    ip = o.ip;
                }
            }
            _ => {}
        }
        self.responder.persist(&event, source.as_deref());
        for (detector, window) in self.detectors.iter().zip(&self.windows) {
            if !detector.kinds.contains(&event.kind)
                || (detector.off_hours_only && self.working.contains(now))
            {
                continue;
            }
            let Some(principal) = self.principal(detector.per, &event, source.as_ref()) else {
                continue;
            };
            let crossed = {
                let mut w = window.lock().unwrap_or_else(PoisonError::into_inner);
                w.add(&principal, now) == Count::Crossed
            };
            if crossed {
                self.respond(detector, &principal, ip, now);
            }
        }
        self.inner.record(event);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use kura_app::SecurityEventKind as K;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct At(AtomicI64);
    impl Clock for At {
        fn now(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[derive(Default)]
    struct Seen {
        alerts: Mutex<Vec<Alert>>,
        blocks: Mutex<Vec<(String, i64)>>,
        cuts: Mutex<Vec<(i64, bool)>>,
        events: Mutex<usize>,
    }
    impl Responder for Seen {
        fn persist(&self, _: &SecurityEvent, _: Option<&str>) {
            *self.events.lock().unwrap() += 1;
        }
        fn alert(&self, a: &Alert) {
            self.alerts.lock().unwrap().push(a.clone());
        }
        fn block(&self, s: &str, until: i64, _: &'static str) {
            self.blocks.lock().unwrap().push((s.to_string(), until));
        }
        fn cut_staff(&self, id: i64, lock: bool, _: &'static str) {
            self.cuts.lock().unwrap().push((id, lock));
        }
    }

    fn guard(never: Vec<ipnet::IpNet>) -> (Guard, Arc<Seen>, Arc<At>) {
        let seen = Arc::new(Seen::default());
        let clock = Arc::new(At(AtomicI64::new(1_000_000)));
        let g = Guard::new(
            crate::detect::defaults(),
            never,
            Arc::new(kura_app::events::LogEvents::default()),
            Arc::clone(&seen) as Arc<dyn Responder>,
            Arc::new(|ip: IpAddr| Some(format!("ip-{ip}"))),
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        (g, seen, clock)
    }

    fn probe(ip: &str) -> SecurityEvent {
        SecurityEvent::new(K::RequestProbe)
            .ip(ip.parse().unwrap())
            .detail("sqli.union_select")
    }

    #[test]
    fn probes_block_the_source_at_the_threshold_and_alert_once() {
        let (g, seen, _) = guard(Vec::new());
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..4 {
            g.record(probe("198.51.100.7"));
            assert_eq!(g.blocked(Some(ip)), None);
        }
        g.record(probe("198.51.100.7"));
        assert!(g.blocked(Some(ip)).is_some(), "blocked by the fifth probe");
        assert!(g.blocked(Some("198.51.100.8".parse().unwrap())).is_none());
        for _ in 0..10 {
            g.record(probe("198.51.100.7"));
        }
        let alerts = seen.alerts.lock().unwrap();
        assert_eq!(alerts.len(), 1, "one alert per crossing");
        assert_eq!(alerts[0].detector, "probes.source");
        assert_eq!(alerts[0].principal.label(), "ip-198.51.100.7");
        assert_eq!(seen.blocks.lock().unwrap().len(), 1, "shared once");
        assert_eq!(*seen.events.lock().unwrap(), 15, "every event kept");
    }

    #[test]
    fn a_block_ends_and_trusted_networks_are_never_blocked() {
        let (g, _, clock) = guard(vec!["203.0.113.0/24".parse().unwrap()]);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        g.record(SecurityEvent::new(K::ScannerSeen).ip(ip));
        assert!(g.blocked(Some(ip)).is_some());
        clock.0.fetch_add(3_601, Ordering::SeqCst);
        assert_eq!(g.blocked(Some(ip)), None, "the block ran out");
        let office: IpAddr = "203.0.113.9".parse().unwrap();
        g.record(SecurityEvent::new(K::ScannerSeen).ip(office));
        assert_eq!(g.blocked(Some(office)), None);
    }

    #[test]
    fn an_ipv6_source_is_its_slash_64() {
        let (g, _, _) = guard(Vec::new());
        g.record(SecurityEvent::new(K::ScannerSeen).ip("2001:db8:1:2::99".parse().unwrap()));
        assert!(
            g.blocked(Some("2001:db8:1:2:ffff::1".parse().unwrap()))
                .is_some()
        );
        assert!(
            g.blocked(Some("2001:db8:1:3::1".parse().unwrap()))
                .is_none()
        );
    }

    #[test]
    fn a_staff_member_past_the_budget_again_and_again_is_locked() {
        let (g, seen, _) = guard(Vec::new());
        for _ in 0..3 {
            g.record(SecurityEvent::new(K::ReadBudgetExceeded).subject(42));
        }
        assert_eq!(*seen.cuts.lock().unwrap(), vec![(42, true)]);
        // MFA guessing ends the sessions without suspending.
        for _ in 0..8 {
            g.record(SecurityEvent::new(K::MfaFailed).subject(7));
        }
        assert_eq!(seen.cuts.lock().unwrap().last(), Some(&(7, false)));
    }

    #[test]
    fn a_learned_block_from_another_node_holds_here() {
        let (g, _, clock) = guard(Vec::new());
        let ip: IpAddr = "192.0.2.44".parse().unwrap();
        g.learn_block("ip-192.0.2.44", clock.now() + 60);
        assert!(g.blocked(Some(ip)).is_some());
        g.unblock("ip-192.0.2.44");
        assert!(g.blocked(Some(ip)).is_none());
        // The shared list is the truth once this node's own block has had time to reach it.
        g.record(SecurityEvent::new(K::ScannerSeen).ip(ip));
        g.sync_blocks(&[], 10);
        assert!(g.blocked(Some(ip)).is_some(), "its own fresh block stays");
        clock.0.fetch_add(11, Ordering::SeqCst);
        g.sync_blocks(&[], 10);
        assert!(g.blocked(Some(ip)).is_none(), "lifted elsewhere");
        g.sync_blocks(&[("ip-192.0.2.44".into(), clock.now() + 30)], 10);
        assert!(g.blocked(Some(ip)).is_some(), "placed elsewhere");
    }
}
