//! Detectors: which events count, per whom, over what window, how many are too many, and what
//! the guard does then. The defaults are meant for a shop of one to a few hundred orders a day;
//! each can be changed or turned off in the configuration by its id.

use kura_app::SecurityEventKind as K;

/// Whose events a detector counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Per {
    /// The client address (an IPv6 address by its /64), as a daily pseudonym.
    Source,
    /// The staff member the event is about.
    Staff,
    /// The customer the event is about.
    Customer,
    /// The whole shop.
    Shop,
}

/// What the guard does when a detector's threshold is crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// An alert: an error-level log line, a stored alert for the back office, the owner told.
    Alert,
    /// The source is refused for this many seconds, on every node.
    Block { seconds: i64 },
    /// The staff member's sessions end (they sign in again, with both factors).
    CutSessions,
    /// The staff member is suspended until an owner restores them.
    LockStaff,
    /// The source's unpaid card orders are cancelled and their payment pages closed.
    CloseCardOrders,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Notice,
    Warning,
    Critical,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detector {
    pub id: &'static str,
    pub kinds: &'static [K],
    pub per: Per,
    pub window_seconds: i64,
    pub threshold: u32,
    pub responses: &'static [Response],
    pub severity: Severity,
}

/// The shop's detectors as shipped.
pub fn defaults() -> Vec<Detector> {
    vec![
        // Credential stuffing and brute force: many failed sign-ins from one source (against
        // one account or many). Real customers behind one carrier address fail a few times
        // each; forty in five minutes is a script.
        Detector {
            id: "sign_in_failures.source",
            kinds: &[K::LoginFailed, K::LoginThrottled, K::StaffLoginFailed],
            per: Per::Source,
            window_seconds: 300,
            threshold: 40,
            responses: &[Response::Alert, Response::Block { seconds: 900 }],
            severity: Severity::Warning,
        },
        // Failed sign-ins across the shop (a distributed stuffing run from many addresses).
        Detector {
            id: "sign_in_failures.shop",
            kinds: &[K::LoginFailed, K::StaffLoginFailed],
            per: Per::Shop,
            window_seconds: 300,
            threshold: 300,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
        // Someone with a staff password guessing the second factor.
        Detector {
            id: "mfa_failures.staff",
            kinds: &[K::MfaFailed],
            per: Per::Staff,
            window_seconds: 3600,
            threshold: 8,
            responses: &[Response::Alert, Response::CutSessions],
            severity: Severity::Critical,
        },
        // A staff account reading past its budget again and again: a script, or a stolen login.
        Detector {
            id: "read_budget.staff",
            kinds: &[K::ReadBudgetExceeded],
            per: Per::Staff,
            window_seconds: 3600,
            threshold: 3,
            responses: &[Response::Alert, Response::LockStaff],
            severity: Severity::Critical,
        },
        // Order numbers or lookup pairs walked by a script.
        Detector {
            id: "order_enumeration.source",
            kinds: &[
                K::OrderLookupFailed,
                K::OrderLookupThrottled,
                K::OrderLinkRejected,
            ],
            per: Per::Source,
            window_seconds: 600,
            threshold: 20,
            responses: &[Response::Alert, Response::Block { seconds: 3600 }],
            severity: Severity::Warning,
        },
        // Injection, traversal and platform probes.
        Detector {
            id: "probes.source",
            kinds: &[K::RequestProbe],
            per: Per::Source,
            window_seconds: 300,
            threshold: 5,
            responses: &[Response::Alert, Response::Block { seconds: 3600 }],
            severity: Severity::Warning,
        },
        // A known attack tool announces itself.
        Detector {
            id: "scanner.source",
            kinds: &[K::ScannerSeen],
            per: Per::Source,
            window_seconds: 300,
            threshold: 1,
            responses: &[Response::Alert, Response::Block { seconds: 3600 }],
            severity: Severity::Warning,
        },
        // Forged CSRF tokens or cross-site posts in numbers.
        Detector {
            id: "csrf.source",
            kinds: &[K::CsrfRejected, K::CrossSiteRejected],
            per: Per::Source,
            window_seconds: 600,
            threshold: 20,
            responses: &[Response::Alert, Response::Block { seconds: 900 }],
            severity: Severity::Notice,
        },
        // Card numbers typed into the shop's own fields (skimming tests, confused customers).
        Detector {
            id: "card_numbers.source",
            kinds: &[K::CardNumberRefused],
            per: Per::Source,
            window_seconds: 600,
            threshold: 5,
            responses: &[Response::Alert, Response::Block { seconds: 900 }],
            severity: Severity::Warning,
        },
        // Card testing: a script placing card orders to try stolen numbers on the provider's
        // page. A shopper starts one or two card payments; fifteen in ten minutes is a script.
        Detector {
            id: "card_testing.source",
            kinds: &[K::CardCheckoutStarted],
            per: Per::Source,
            window_seconds: 600,
            threshold: 15,
            responses: &[Response::Alert, Response::Block { seconds: 3600 }],
            severity: Severity::Warning,
        },
        // Card testing on the provider's page: declined cards, counted against the source that
        // started each order. A shopper mistypes once or twice; five declines in an hour is
        // someone trying numbers. Their open payment pages are closed with the block.
        Detector {
            id: "card_declines.source",
            kinds: &[K::CardDeclined],
            per: Per::Source,
            window_seconds: 3600,
            threshold: 5,
            responses: &[
                Response::Alert,
                Response::Block { seconds: 86_400 },
                Response::CloseCardOrders,
            ],
            severity: Severity::Critical,
        },
        // Declines across the shop (testing spread over many addresses).
        Detector {
            id: "card_declines.shop",
            kinds: &[K::CardDeclined],
            per: Per::Shop,
            window_seconds: 3600,
            threshold: 30,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
        // Card testing spread over many addresses.
        Detector {
            id: "card_testing.shop",
            kinds: &[K::CardCheckoutStarted],
            per: Per::Shop,
            window_seconds: 600,
            threshold: 300,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
        // Bad API tokens from one source.
        Detector {
            id: "api_tokens.source",
            kinds: &[K::ApiTokenRejected],
            per: Per::Source,
            window_seconds: 300,
            threshold: 20,
            responses: &[Response::Alert, Response::Block { seconds: 900 }],
            severity: Severity::Warning,
        },
        // Forged payment notifications.
        Detector {
            id: "webhook_forgery.shop",
            kinds: &[K::WebhookRejected],
            per: Per::Shop,
            window_seconds: 600,
            threshold: 5,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
        // Script injected into pages (CSP reports).
        Detector {
            id: "csp_violations.shop",
            kinds: &[K::CspViolation],
            per: Per::Shop,
            window_seconds: 600,
            threshold: 10,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
        // The shop failing.
        Detector {
            id: "server_errors.shop",
            kinds: &[K::ServerError],
            per: Per::Shop,
            window_seconds: 60,
            threshold: 30,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
        // Keys or ciphertexts that do not check out.
        Detector {
            id: "integrity.shop",
            kinds: &[K::SealFailure],
            per: Per::Shop,
            window_seconds: 3600,
            threshold: 1,
            responses: &[Response::Alert],
            severity: Severity::Critical,
        },
        // A canary customer touched: nobody legitimate ever reads one.
        Detector {
            id: "honeytoken",
            kinds: &[K::HoneytokenTouched],
            per: Per::Shop,
            window_seconds: 60,
            threshold: 1,
            responses: &[Response::Alert],
            severity: Severity::Critical,
        },
        // Many bulk exports in a day.
        Detector {
            id: "exports.shop",
            kinds: &[K::ExportDownloaded],
            per: Per::Shop,
            window_seconds: 86_400,
            threshold: 3,
            responses: &[Response::Alert],
            severity: Severity::Warning,
        },
    ]
}

/// A configured change to a detector, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    pub window_seconds: Option<i64>,
    pub threshold: Option<u32>,
    pub enabled: bool,
}

/// The defaults with the configured changes applied; unknown ids are reported.
pub fn tuned(changes: &[(String, Tuning)]) -> Result<Vec<Detector>, String> {
    let mut detectors = defaults();
    for (id, t) in changes {
        let Some(d) = detectors.iter_mut().find(|d| d.id == id.as_str()) else {
            return Err(id.clone());
        };
        if let Some(w) = t.window_seconds {
            d.window_seconds = w.max(1);
        }
        if let Some(n) = t.threshold {
            d.threshold = n.max(1);
        }
    }
    detectors.retain(|d| {
        changes
            .iter()
            .find(|(id, _)| id.as_str() == d.id)
            .is_none_or(|(_, t)| t.enabled)
    });
    Ok(detectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_tuning_applies() {
        let d = defaults();
        let mut ids: Vec<_> = d.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), d.len());
        let t = tuned(&[
            (
                "probes.source".into(),
                Tuning {
                    window_seconds: None,
                    threshold: Some(2),
                    enabled: true,
                },
            ),
            (
                "exports.shop".into(),
                Tuning {
                    window_seconds: None,
                    threshold: None,
                    enabled: false,
                },
            ),
        ])
        .unwrap_or_default();
        assert_eq!(t.len(), d.len() - 1);
        assert!(
            t.iter()
                .any(|d| d.id == "probes.source" && d.threshold == 2)
        );
        assert_eq!(
            tuned(&[(
                "no.such".into(),
                Tuning {
                    window_seconds: None,
                    threshold: None,
                    enabled: true
                }
            )]),
            Err("no.such".into())
        );
    }
}
