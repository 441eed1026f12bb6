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
    /// Counts only events outside the shop's working hours (Japan time).
    pub off_hours_only: bool,
}

/// When staff work, in Japan time: the days (Sunday = 0) and the minutes of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    pub days: [bool; 7],
    pub start_minute: u32,
    pub end_minute: u32,
}

impl Default for WorkingHours {
    fn default() -> Self {
        Self {
            days: [false, true, true, true, true, true, false],
            start_minute: 9 * 60,
            end_minute: 19 * 60,
        }
    }
}

impl WorkingHours {
    /// Parses `mon-fri 09:00-19:00` (days as a range or a comma list: `mon,wed,sat`; `daily`).
    pub fn parse(text: &str) -> Result<Self, String> {
        const NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let bad = || format!("\"{text}\" is not like \"mon-fri 09:00-19:00\"");
        let (days_text, hours) = text.trim().split_once(' ').ok_or_else(bad)?;
        let day = |d: &str| NAMES.iter().position(|n| n.eq_ignore_ascii_case(d.trim()));
        let mut days = [false; 7];
        if days_text.eq_ignore_ascii_case("daily") {
            days = [true; 7];
        } else {
            for part in days_text.split(',') {
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
                        let mut d = a;
                        loop {
                            if let Some(slot) = days.get_mut(d) {
                                *slot = true;
                            }
                            if d == b {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => {
                        if let Some(slot) = days.get_mut(day(part).ok_or_else(bad)?) {
                            *slot = true;
                        }
                    }
                }
            }
        }
        let minute = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
        };
        let (a, b) = hours.trim().split_once('-').ok_or_else(bad)?;
        let (start_minute, end_minute) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
        if start_minute >= end_minute {
            return Err(bad());
        }
        Ok(Self {
            days,
            start_minute,
            end_minute,
        })
    }

    /// Whether unix time `at` falls in working hours, in Japan (UTC+9, no daylight saving).
    pub fn contains(&self, at: i64) -> bool {
        let local = at + 9 * 3600;
        let day = (local.div_euclid(86_400) + 4).rem_euclid(7);
        let minute = u32::try_from(local.rem_euclid(86_400) / 60).unwrap_or(0);
        let working_day = usize::try_from(day)
            .ok()
            .and_then(|d| self.days.get(d))
            .copied()
            .unwrap_or(false);
        working_day && (self.start_minute..self.end_minute).contains(&minute)
    }
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
        },
        // Receipts and invoices issued again and again to one address: a script collecting
        // documents through order links it got hold of, or a download loop. Only an alert: a
        // customer may well download a few of their own.
        Detector {
            id: "receipts.source",
            kinds: &[K::ReceiptIssued],
            per: Per::Source,
            window_seconds: 600,
            threshold: 60,
            responses: &[Response::Alert],
            severity: Severity::Notice,
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
        },
        // Mails in the shop's name that the shop did not send, brought to the mail-check page:
        // a phishing run is under way and customers must be warned (the notice page, a mail).
        Detector {
            id: "forged_mail.shop",
            kinds: &[K::ForgedMailReported],
            per: Per::Shop,
            window_seconds: 86_400,
            threshold: 3,
            responses: &[Response::Alert],
            severity: Severity::Critical,
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
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
            off_hours_only: false,
        },
        // A new staff member, a changed role, or customer data exported outside working hours:
        // an intruder with an owner's session works while the shop sleeps.
        Detector {
            id: "staff_changes.off_hours",
            kinds: &[K::StaffChanged, K::ExportRequested, K::ExportDownloaded],
            per: Per::Shop,
            window_seconds: 3600,
            threshold: 1,
            responses: &[Response::Alert],
            severity: Severity::Warning,
            off_hours_only: true,
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
            off_hours_only: false,
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
    fn working_hours_are_read_in_japan_time() {
        let w = WorkingHours::parse("mon-fri 09:00-19:00").unwrap();
        assert_eq!(w, WorkingHours::default());
        // 2026-12-01 is a Tuesday. 10:00 JST = 01:00 UTC; 03:00 JST = 18:00 UTC the day before.
        let tuesday_10 = 1_796_086_800;
        assert!(w.contains(tuesday_10));
        assert!(!w.contains(tuesday_10 - 7 * 3600), "03:00 is outside");
        assert!(!w.contains(tuesday_10 + 9 * 3600), "19:00 is outside");
        assert!(w.contains(tuesday_10 + 9 * 3600 - 60), "18:59 is inside");
        assert!(!w.contains(tuesday_10 + 4 * 86_400), "Saturday is outside");
        let weekend = WorkingHours::parse("sat,sun 10:00-12:00").unwrap();
        assert!(weekend.contains(tuesday_10 + 4 * 86_400));
        let around = WorkingHours::parse("fri-mon 00:00-24:00").unwrap();
        assert!(around.contains(tuesday_10 - 86_400), "Monday");
        assert!(!around.contains(tuesday_10), "Tuesday");
        assert!(
            WorkingHours::parse("daily 08:00-20:00")
                .unwrap()
                .days
                .iter()
                .all(|d| *d)
        );
        for bad in [
            "",
            "mon-fri",
            "mon-fri 9-5",
            "xyz 09:00-10:00",
            "mon 10:00-09:00",
            "mon 25:00-26:00",
        ] {
            assert!(WorkingHours::parse(bad).is_err(), "{bad}");
        }
    }

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
