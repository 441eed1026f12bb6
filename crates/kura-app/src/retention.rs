//! Retention: personal data is kept for as long as its purpose lasts, then erased by
//! destroying the person's data key; accounting facts (what was sold, for how much, when) are
//! kept for the legal period, then deleted.
//!
//! The owner sets both periods (settings `retention_personal_years`, default 3 years after the
//! last order; `retention_accounting_years`, default 7). A customer account with no order in the
//! personal period is erased as if its owner had deleted it; a guest's orders lose their
//! personal data once the newest of them is that old; an inquiry's conversation goes when it
//! has not been touched for that long. Every run is written to the audit log
//! with what it did.

use std::sync::Arc;

use crate::audit::{Actor, Audit, AuditDetail};
use crate::clock::Clock;
use crate::error::AppError;
use crate::ports::Store;

pub const PERSONAL_YEARS_SETTING: &str = "retention_personal_years";
pub const ACCOUNTING_YEARS_SETTING: &str = "retention_accounting_years";
pub const DEFAULT_PERSONAL_YEARS: u32 = 3;
pub const DEFAULT_ACCOUNTING_YEARS: u32 = 7;
const YEAR: i64 = 365 * 86_400 + 6 * 3600;
const BATCH: u32 = 500;

/// What a run erased (or, dry, would erase).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub customers: u64,
    pub guest_keys: u64,
    /// Inquiries whose conversation was erased (untouched for the personal period).
    pub inquiries: u64,
    pub orders: u64,
    pub personal_years: u32,
    pub accounting_years: u32,
}

impl RetentionReport {
    pub fn is_empty(&self) -> bool {
        self.customers == 0 && self.guest_keys == 0 && self.inquiries == 0 && self.orders == 0
    }
}

pub struct Retention {
    store: Arc<dyn Store>,
    audit: Arc<Audit>,
    clock: Arc<dyn Clock>,
}

impl Retention {
    pub fn new(store: Arc<dyn Store>, audit: Arc<Audit>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            audit,
            clock,
        }
    }

    async fn years(&self, key: &str, default: u32) -> Result<u32, AppError> {
        Ok(self
            .store
            .setting(key)
            .await?
            .and_then(|v| v.parse().ok())
            .filter(|y| (1..=100).contains(y))
            .unwrap_or(default))
    }

    /// The two periods as the owner set them.
    pub async fn periods(&self) -> Result<(u32, u32), AppError> {
        Ok((
            self.years(PERSONAL_YEARS_SETTING, DEFAULT_PERSONAL_YEARS)
                .await?,
            self.years(ACCOUNTING_YEARS_SETTING, DEFAULT_ACCOUNTING_YEARS)
                .await?,
        ))
    }

    /// Sets the periods (the accounting one at least as long as the personal one).
    pub async fn set_periods(
        &self,
        actor: &Actor,
        personal: u32,
        accounting: u32,
    ) -> Result<bool, AppError> {
        if !(1..=100).contains(&personal) || !(personal..=100).contains(&accounting) {
            return Ok(false);
        }
        let now = self.clock.now();
        self.store
            .set_setting(PERSONAL_YEARS_SETTING, &personal.to_string(), now)
            .await?;
        self.store
            .set_setting(ACCOUNTING_YEARS_SETTING, &accounting.to_string(), now)
            .await?;
        self.audit
            .record(
                actor,
                "settings.change",
                "setting:retention",
                "personal_years,accounting_years",
                AuditDetail {
                    note: Some(format!("{personal} / {accounting} years")),
                    ..Default::default()
                },
            )
            .await?;
        Ok(true)
    }

    /// What a run would erase now, without erasing anything.
    pub async fn dry_run(&self) -> Result<RetentionReport, AppError> {
        let (personal_years, accounting_years) = self.periods().await?;
        let now = self.clock.now();
        let personal_cut = now - i64::from(personal_years) * YEAR;
        let accounting_cut = now - i64::from(accounting_years) * YEAR;
        let count = |v: Vec<i64>| u64::try_from(v.len()).unwrap_or(0);
        Ok(RetentionReport {
            customers: count(self.store.expired_customers(personal_cut, u32::MAX).await?),
            guest_keys: count(
                self.store
                    .expired_guest_keys(personal_cut, u32::MAX)
                    .await?,
            ),
            inquiries: count(
                self.store
                    .expired_inquiry_keys(personal_cut, u32::MAX)
                    .await?,
            ),
            orders: self.store.count_orders_before(accounting_cut).await?,
            personal_years,
            accounting_years,
        })
    }

    /// Erases what expired, in batches, and writes what it did to the audit log.
    pub async fn run(&self) -> Result<RetentionReport, AppError> {
        let (personal_years, accounting_years) = self.periods().await?;
        let now = self.clock.now();
        let personal_cut = now - i64::from(personal_years) * YEAR;
        let accounting_cut = now - i64::from(accounting_years) * YEAR;
        let mut report = RetentionReport {
            personal_years,
            accounting_years,
            ..Default::default()
        };
        loop {
            let ids = self.store.expired_customers(personal_cut, BATCH).await?;
            if ids.is_empty() {
                break;
            }
            for id in ids {
                if self.store.delete_customer(id).await? {
                    report.customers += 1;
                }
            }
        }
        loop {
            let keys = self.store.expired_guest_keys(personal_cut, BATCH).await?;
            if keys.is_empty() {
                break;
            }
            for key in keys {
                if self.store.shred_guest_key(key).await? {
                    report.guest_keys += 1;
                }
            }
        }
        loop {
            let keys = self.store.expired_inquiry_keys(personal_cut, BATCH).await?;
            if keys.is_empty() {
                break;
            }
            for key in keys {
                if self.store.shred_guest_key(key).await? {
                    report.inquiries += 1;
                }
            }
        }
        loop {
            let n = self
                .store
                .delete_orders_before(accounting_cut, BATCH)
                .await?;
            report.orders += n;
            if n == 0 {
                break;
            }
        }
        if !report.is_empty() {
            self.audit
                .record(
                    &Actor::system("retention"),
                    "retention.run",
                    "",
                    "",
                    AuditDetail {
                        note: Some(format!(
                            "{} customers erased, {} guests' order data erased, {} inquiries erased, {} orders past {} years deleted",
                            report.customers,
                            report.guest_keys,
                            report.inquiries,
                            report.orders,
                            accounting_years
                        )),
                        ..Default::default()
                    },
                )
                .await?;
        }
        Ok(report)
    }
}
