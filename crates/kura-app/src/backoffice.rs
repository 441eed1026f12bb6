//! What staff see of customers and orders: masked by default; a customer's data in full only
//! with a stated reason, within the staff member's hourly budget, and written to the audit log
//! before it is returned.

use std::net::IpAddr;
use std::sync::Arc;

use kura_domain::{CustomerProfile, OrderStatus, Person};
use kura_seal::Normalize;

use crate::Customers;
use crate::audit::{Actor, Audit, AuditDetail};
use crate::clock::Clock;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::events::{SecurityEvent, SecurityEventKind, SecurityEvents};
use crate::orders::{OrderView, Orders};
use crate::ports::Store;
use crate::records::{OrderFilter, OrderRecord, ReadBudget};
use crate::sealed::col;
use crate::staff::{Permission, StaffSession};
use crate::vault::Vault;

/// How many customers a staff member may unmask per hour unless the owner set otherwise.
pub const DEFAULT_UNMASK_BUDGET: u32 = 50;
pub const UNMASK_BUDGET_SETTING: &str = "unmask_budget_per_hour";
const UNMASK: &str = "customer.unmask";
/// Every read one hourly budget covers: customers shown, inquiries read, packing addresses.
pub const BUDGETED_READS: &[&str] = &["customer.unmask", "inquiry.read", "order.packing_address"];
const UNMASK_FIELDS: &str =
    "name,kana,email,phone,postal_code,prefecture,address,birth_date,gender";

/// A customer as the list shows them: enough to tell people apart, not to reach them.
#[derive(Debug, Clone)]
pub struct MaskedCustomer {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub prefecture: Option<kura_domain::Prefecture>,
    /// The data key is gone: nothing of this person opens.
    pub erased: bool,
}

/// An order as the list shows it: no contact data.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub id: i64,
    pub number: String,
    pub status: OrderStatus,
    pub payment: kura_domain::PaymentMethod,
    pub total: kura_domain::Yen,
    pub items: u32,
    pub created_at: i64,
    pub customer_id: Option<i64>,
}

/// What asking for a customer's data in full gave.
#[derive(Debug)]
pub enum Unmask {
    Shown {
        profile: Box<CustomerProfile>,
        orders: Vec<OrderSummary>,
    },
    /// The reason is missing or too short (at least 4 characters, at most 200).
    NeedsReason,
    /// The staff member's budget for this hour is spent; the owner was alerted.
    OverBudget {
        limit: u32,
    },
    NotFound,
    Erased,
}

/// Why a catalog change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantRefusal {
    UnknownSku,
    /// A price from ¥1 to ¥10,000,000.
    Price,
    /// Stock from 0 to 1,000,000.
    Stock,
}

/// The dashboard's counts.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    pub orders_today: u64,
    pub sales_today: i64,
    pub awaiting_payment: u64,
    pub to_ship: u64,
    pub open_inquiries: u64,
    pub low_stock: Vec<(String, i64)>,
}

fn mask_text(s: &str, keep: usize) -> String {
    let kept: String = s.chars().take(keep).collect();
    format!("{kept}{}", "＊".repeat(2))
}

/// `t***@e***.jp`: the first letter of each part and the top-level domain.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return "***".into();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let tld = domain.rsplit('.').next().unwrap_or("");
    format!("{}***@{}***.{tld}", first(local), first(domain))
}

/// `***-****-1234`: the last four digits only.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits
        .get(digits.len().saturating_sub(4)..)
        .unwrap_or_default()
        .iter()
        .collect();
    format!("***-****-{tail}")
}

/// The settings key of the staff allow-list.
pub const STAFF_ALLOW_SETTING: &str = "staff_allow_list";

/// What the person packing an order needs: where it goes, and the のし, wrapping and note the
/// customer asked for.
#[derive(Debug, Clone)]
pub struct PackingSlip {
    pub ship_to: Person,
    pub gift: Option<kura_domain::Gift>,
    pub note: Option<String>,
}

pub struct BackOffice {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) staff: Arc<crate::staff::StaffDesk>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) audit: Arc<Audit>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: Arc<dyn SecurityEvents>,
    pub(crate) canaries: Option<Arc<crate::canary::Canaries>>,
    pub(crate) letters: Option<Arc<dyn crate::exports::LetterPrinter>>,
}

fn summary(o: &OrderRecord) -> OrderSummary {
    OrderSummary {
        id: o.id,
        number: o.number.clone(),
        status: o.status,
        payment: o.payment,
        total: o.totals.total,
        items: o.lines.iter().map(|l| l.quantity).sum(),
        created_at: o.created_at,
        customer_id: o.customer_id,
    }
}

impl BackOffice {
    pub fn new(
        store: Arc<dyn Store>,
        staff: Arc<crate::staff::StaffDesk>,
        vault: Arc<Vault>,
        audit: Arc<Audit>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn SecurityEvents>,
    ) -> Self {
        Self {
            store,
            staff,
            vault,
            audit,
            clock,
            events,
            canaries: None,
            letters: None,
        }
    }

    /// Prints postal lists as letters (PDF).
    pub fn with_letters(mut self, printer: Arc<dyn crate::exports::LetterPrinter>) -> Self {
        self.letters = Some(printer);
        self
    }

    /// Watches the shop's canary customers (see [`crate::canary`]).
    pub fn with_canaries(mut self, canaries: Arc<crate::canary::Canaries>) -> Self {
        self.canaries = Some(canaries);
        self
    }

    /// Raises the honeytoken alert if `email` is a canary's.
    pub(crate) fn canary(
        &self,
        email: &str,
        how: &'static str,
        session: &StaffSession,
        ip: Option<IpAddr>,
    ) {
        if let Some(c) = &self.canaries {
            c.check(email, how, ip, Some(session.member.id));
        }
    }

    pub async fn dashboard(&self, low_stock_below: i64) -> Result<Dashboard, AppError> {
        // Midnight in Japan (UTC+9), as unix seconds.
        let start_of_day =
            kura_domain::Date::today_in_japan(self.clock.now()).to_days() * 86_400 - 9 * 3600;
        let counted = [
            OrderStatus::Paid,
            OrderStatus::Confirmed,
            OrderStatus::AwaitingTransfer,
            OrderStatus::Shipped,
        ];
        let counted: Vec<&str> = counted.iter().map(|s| s.code()).collect();
        let open = [
            OrderStatus::AwaitingTransfer.code(),
            OrderStatus::AwaitingPayment.code(),
            OrderStatus::Paid.code(),
            OrderStatus::Confirmed.code(),
        ];
        let (orders_today, sales_today, per) = self
            .store
            .order_stats(start_of_day, &counted, &open)
            .await?;
        let at = |i: usize| per.get(i).copied().unwrap_or(0);
        let mut low_stock = Vec::new();
        let page = self.store.products(None, 0, 1000).await?;
        for p in page.products {
            for v in p.variants {
                if v.stock < low_stock_below {
                    low_stock.push((v.sku, v.stock));
                }
            }
        }
        Ok(Dashboard {
            orders_today,
            sales_today,
            awaiting_payment: at(0) + at(1),
            to_ship: at(2) + at(3),
            open_inquiries: self.store.count_open_inquiries().await?,
            low_stock,
        })
    }

    /// The owner's hourly unmask budget per staff member.
    pub async fn unmask_budget(&self) -> Result<u32, AppError> {
        Ok(self
            .store
            .setting(UNMASK_BUDGET_SETTING)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_UNMASK_BUDGET))
    }

    /// The staff allow-list the owner set in the back office (network ranges, one per line as
    /// typed, checked by the caller), or `None`: the configuration file's applies.
    pub async fn staff_allow_list(&self) -> Result<Option<String>, AppError> {
        Ok(self.store.setting(STAFF_ALLOW_SETTING).await?)
    }

    /// Stores the staff allow-list (already parsed and checked by the caller); audited with
    /// the old and new lists.
    pub async fn set_staff_allow_list(&self, actor: &Actor, ranges: &str) -> Result<(), AppError> {
        let before = self.staff_allow_list().await?.unwrap_or_default();
        if before == ranges {
            return Ok(());
        }
        self.store
            .set_setting(STAFF_ALLOW_SETTING, ranges, self.clock.now())
            .await?;
        self.audit
            .record(
                actor,
                "settings.change",
                "setting:staff_allow_list",
                "value",
                AuditDetail {
                    note: Some(format!("[{before}] -> [{ranges}]")),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    pub async fn set_unmask_budget(&self, actor: &Actor, limit: u32) -> Result<(), AppError> {
        self.store
            .set_setting(UNMASK_BUDGET_SETTING, &limit.to_string(), self.clock.now())
            .await?;
        self.audit
            .record(
                actor,
                "settings.change",
                "setting:unmask_budget_per_hour",
                "value",
                AuditDetail {
                    note: Some(limit.to_string()),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    /// How many records (customers, inquiries, packing addresses) the staff member opened in
    /// the last hour, against the one budget.
    pub async fn unmasked_this_hour(&self, staff_id: i64) -> Result<u32, AppError> {
        Ok(self
            .store
            .audit_distinct_targets(staff_id, BUDGETED_READS, self.clock.now() - 3600)
            .await?)
    }

    /// A page of customers, masked (the list itself is not an unmasking).
    pub async fn customers(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<MaskedCustomer>, AppError> {
        let rows = self.store.customers_after(after_id, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for rec in rows {
            let opened = PersonKeys::of(&self.vault, rec.data_key.as_ref())
                .and_then(|keys| Customers::open(&keys, &rec));
            out.push(match opened {
                Ok(p) => MaskedCustomer {
                    id: rec.id,
                    name: format!(
                        "{} {}",
                        mask_text(p.person.family_name.as_str(), 1),
                        mask_text(p.person.given_name.as_str(), 0)
                    ),
                    email: mask_email(p.email.as_str()),
                    phone: mask_phone(p.person.phone.as_str()),
                    prefecture: Some(p.person.prefecture),
                    erased: false,
                },
                Err(_) => MaskedCustomer {
                    id: rec.id,
                    name: String::new(),
                    email: String::new(),
                    phone: String::new(),
                    prefecture: None,
                    erased: true,
                },
            });
        }
        Ok(out)
    }

    /// One customer's data in full: refused without a reason or past the budget; otherwise
    /// written to the audit log first, then opened.
    pub async fn unmask_customer(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        customer_id: i64,
        reason: &str,
    ) -> Result<Unmask, AppError> {
        if !session.can(Permission::CustomersUnmask) {
            return Err(AppError::Task("unmask without permission".into()));
        }
        let reason = reason.trim();
        let len = reason.chars().count();
        if !(4..=200).contains(&len) {
            return Ok(Unmask::NeedsReason);
        }
        let Some(rec) = self.store.customer(customer_id).await? else {
            return Ok(Unmask::NotFound);
        };
        let limit = self.unmask_budget().await?;
        let actor = session.actor(ip);
        let budget = ReadBudget {
            staff_id: session.member.id,
            actions: BUDGETED_READS,
            since: self.clock.now() - 3600,
            limit,
        };
        let target = format!("customer:{customer_id}");
        let written = self
            .audit
            .record_within(
                &actor,
                UNMASK,
                &target,
                UNMASK_FIELDS,
                AuditDetail {
                    reason: Some(reason.to_string()),
                    ..Default::default()
                },
                Some(&budget),
            )
            .await?;
        if written.is_err() {
            self.audit
                .record(
                    &actor,
                    "customer.unmask_refused",
                    &target,
                    "",
                    AuditDetail {
                        reason: Some(reason.to_string()),
                        note: Some(format!("budget of {limit} an hour spent")),
                        ..Default::default()
                    },
                )
                .await?;
            let mut e = SecurityEvent::new(SecurityEventKind::ReadBudgetExceeded);
            e.ip = ip;
            e.subject = Some(session.member.id);
            self.events.record(e);
            tracing::warn!(target: "kura::alert", staff = session.member.id, limit, "a staff member reached the hourly unmask budget; unmasking stopped");
            // Owners hear of it once per hour and person: the first refusal in the window.
            let filter = crate::records::AuditFilter {
                staff_id: Some(session.member.id),
                action_prefix: Some("customer.unmask_refused".into()),
                since: Some(budget.since),
                ..Default::default()
            };
            let refusals = self.store.audit_page(&filter, None, 2).await?.len();
            if refusals <= 1 {
                self.staff
                    .notify_budget_reached(&session.member.login, limit)
                    .await?;
            }
            return Ok(Unmask::OverBudget { limit });
        }
        let mut e = SecurityEvent::new(SecurityEventKind::PersonalDataRead);
        e.ip = ip;
        e.subject = Some(session.member.id);
        self.events.record(e);
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let profile = match Customers::open(&keys, &rec) {
            Ok(p) => p,
            Err(AppError::Erased) => return Ok(Unmask::Erased),
            Err(e) => return Err(e),
        };
        self.canary(profile.email.as_str(), "unmask", session, ip);
        let orders = self.store.orders_of_customer(customer_id, 20).await?;
        Ok(Unmask::Shown {
            profile: Box::new(profile),
            orders: orders.iter().map(summary).collect(),
        })
    }

    /// Erases a customer on request: the audit entry (with the stated reason) is written first,
    /// then the account row goes and the person's data key is destroyed, so every sealed field
    /// of theirs, in the account and in their orders, can no longer be opened. Orders keep their
    /// accounting facts. The caller has checked the step-up. `Ok(false)`: no such customer.
    pub async fn erase_customer(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        customer_id: i64,
        reason: &str,
    ) -> Result<Result<bool, ()>, AppError> {
        if !session.can(Permission::CustomersErase) {
            return Err(AppError::Task("erasure without permission".into()));
        }
        let reason = reason.trim();
        if !(4..=200).contains(&reason.chars().count()) {
            return Ok(Err(()));
        }
        let Some(rec) = self.store.customer(customer_id).await? else {
            return Ok(Ok(false));
        };
        self.audit
            .record(
                &session.actor(ip),
                "customer.erase",
                &format!("customer:{customer_id}"),
                "*",
                AuditDetail {
                    reason: Some(reason.to_string()),
                    ..Default::default()
                },
            )
            .await?;
        // A record that mail cannot reach their address is kept under the master key, not
        // theirs: it goes with them.
        if let Ok(profile) = PersonKeys::of(&self.vault, rec.data_key.as_ref())
            .and_then(|keys| Customers::open(&keys, &rec))
        {
            let bidx = self.vault.ring().blind_indexes(
                col::UNDELIVERABLE_BIDX,
                profile.email.as_str(),
                Normalize::Email,
            )?;
            self.store.forget_undeliverable(&bidx).await?;
        }
        let erased = self.store.delete_customer(customer_id).await?;
        tracing::info!(target: "kura::customers", customer = customer_id, erased, "customer erased on request from the back office");
        Ok(Ok(erased))
    }

    /// A page of orders, newest first, without contact data. A search by email or phone goes
    /// through the blind indexes (and is audited: it tells whether a person ordered).
    pub async fn orders(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        mut filter: OrderFilter,
        contact: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OrderSummary>, AppError> {
        if let Some(contact) = contact.map(str::trim).filter(|c| !c.is_empty()) {
            let ring = self.vault.ring();
            let how = if contact.contains('@') {
                (col::ORDER_EMAIL_BIDX, Normalize::Email)
            } else {
                (col::ORDER_PHONE_BIDX, Normalize::Digits)
            };
            filter.contact_bidx = ring.blind_indexes(how.0, contact, how.1)?;
            self.canary(contact, "search", session, ip);
            self.audit
                .record(
                    &session.actor(ip),
                    "order.search_contact",
                    "orders",
                    if how.1 == Normalize::Email {
                        "email"
                    } else {
                        "phone"
                    },
                    AuditDetail::default(),
                )
                .await?;
        }
        let rows = self.store.orders_page(&filter, before_id, limit).await?;
        Ok(rows.iter().map(summary).collect())
    }

    /// An order for packing: its items and the delivery address, to a staff member who ships,
    /// only while the order is waiting to be shipped. Audited before it is returned.
    pub async fn packing_view(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        orders: &Orders,
        number: &str,
    ) -> Result<Option<(OrderSummary, Option<PackingSlip>, bool)>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(None);
        };
        let packing = matches!(rec.status, OrderStatus::Paid | OrderStatus::Confirmed);
        if !(packing && session.can(Permission::OrdersShip)) {
            return Ok(Some((summary(&rec), None, false)));
        }
        let budget = ReadBudget {
            staff_id: session.member.id,
            actions: BUDGETED_READS,
            since: self.clock.now() - 3600,
            limit: self.unmask_budget().await?,
        };
        let written = self
            .audit
            .record_within(
                &session.actor(ip),
                "order.packing_address",
                &format!("order:{}", rec.number),
                "recipient,gift,note",
                AuditDetail::default(),
                Some(&budget),
            )
            .await?;
        if written.is_err() {
            return Ok(Some((summary(&rec), None, true)));
        }
        let view: OrderView = orders.open(&rec)?;
        let slip = PackingSlip {
            ship_to: view.ship_to().clone(),
            gift: view.gift.clone(),
            note: view.note.clone(),
        };
        Ok(Some((summary(&rec), Some(slip), false)))
    }

    /// Every product with its variants, for the catalog page.
    pub async fn catalog(&self) -> Result<Vec<crate::records::Product>, AppError> {
        Ok(self.store.products(None, 0, 10_000).await?.products)
    }

    /// Changes a variant's price and stock (either may stay as it is); audited with both values
    /// before and after. `Ok(false)`: no such SKU.
    pub async fn set_variant(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        sku: &str,
        price: Option<kura_domain::Yen>,
        stock: Option<i64>,
    ) -> Result<Result<(), VariantRefusal>, AppError> {
        if !session.can(Permission::Catalog) {
            return Err(AppError::Task("catalog change without permission".into()));
        }
        if price.is_some_and(|p| !(1..=10_000_000).contains(&p.0)) {
            return Ok(Err(VariantRefusal::Price));
        }
        if stock.is_some_and(|s| !(0..=1_000_000).contains(&s)) {
            return Ok(Err(VariantRefusal::Stock));
        }
        let Some(item) = self
            .store
            .catalog_items(&[sku.to_string()])
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Err(VariantRefusal::UnknownSku));
        };
        let mut changes = Vec::new();
        if let Some(p) = price.filter(|p| *p != item.price) {
            self.store.set_price(sku, p).await?;
            changes.push(format!("price {} -> {}", item.price.0, p.0));
        }
        if let Some(s) = stock.filter(|s| *s != item.stock) {
            self.store.set_stock(sku, s).await?;
            changes.push(format!("stock {} -> {s}", item.stock));
        }
        if !changes.is_empty() {
            self.audit
                .record(
                    &session.actor(ip),
                    "catalog.change",
                    &format!("sku:{sku}"),
                    "price,stock",
                    AuditDetail {
                        note: Some(changes.join(", ")),
                        ..Default::default()
                    },
                )
                .await?;
        }
        Ok(Ok(()))
    }

    /// Records an order event done through [`Orders`] (paid, shipped) in the audit log.
    pub async fn record_order_change(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        number: &str,
        action: &str,
        note: Option<String>,
    ) -> Result<(), AppError> {
        self.audit
            .record(
                &session.actor(ip),
                action,
                &format!("order:{number}"),
                "status",
                AuditDetail {
                    note,
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_little() {
        assert_eq!(mask_email("tanaka@example.jp"), "t***@e***.jp");
        assert_eq!(mask_email("nonsense"), "***");
        assert_eq!(mask_phone("090-1234-5678"), "***-****-5678");
        assert_eq!(mask_text("山田", 1), "山＊＊");
    }
}
