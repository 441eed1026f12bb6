//! Coupons as the owner runs them, and as checkout checks them.
//!
//! Guarantees:
//! - Only a staff session holding [`Permission::Catalog`] creates, disables or enables a
//!   coupon; every change is written to the audit log (codes and amounts are shop data, nothing
//!   personal).
//! - A coupon form is checked whole; a refusal names each field by its form name with a stable
//!   code, so the form comes back with everything typed and every problem shown at once.
//! - "Once per customer" is decided by the store in the order's own transaction (see
//!   [`crate::ports::OrderRepo::place_order`]): the use is recorded for the buyer's email (its
//!   blind index, never the address) and, when signed in, their account; [`Coupons::check`]
//!   only tells a customer early.

use std::net::IpAddr;
use std::sync::Arc;

use kura_domain::{Coupon, CouponCode, Date, Discount, Refusal, Yen};
use kura_seal::Normalize;
use unicode_normalization::UnicodeNormalization;

use crate::audit::{Audit, AuditDetail};
use crate::clock::Clock;
use crate::error::{AppError, StoreError};
use crate::ports::Store;
use crate::records::CouponRecord;
use crate::sealed::col;
use crate::staff::{Permission, StaffSession};
use crate::vault::Vault;

/// The largest minimum a coupon may ask for, in yen.
pub const MAX_MINIMUM: i64 = 10_000_000;

/// Who used a coupon, as `coupon_uses` stores it: the buyer's email blind index and, for a
/// signed-in customer, `customer:<id>`. A conflict on either is a second use.
pub fn holders(email_bidx: &[u8], customer_id: Option<i64>) -> Vec<Vec<u8>> {
    let mut out = vec![email_bidx.to_vec()];
    if let Some(id) = customer_id {
        out.push(format!("customer:{id}").into_bytes());
    }
    out
}

/// A coupon as the back-office form gives it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct CouponInput {
    pub code: String,
    /// `amount` or `percent`.
    pub kind: String,
    pub value: String,
    pub starts_on: String,
    pub ends_on: String,
    /// Empty: no minimum.
    pub minimum: String,
}

/// A refused field: its form name and a stable code the web layer translates (`required`,
/// `code_length`, `code_characters`, `taken`, `unknown_choice`, `not_a_number`,
/// `amount_range`, `percent_range`, `invalid_date`, `ends_before_start`, `minimum_range`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub code: &'static str,
}

/// A coupon in the back office's list.
#[derive(Debug, Clone)]
pub struct CouponListing {
    pub record: CouponRecord,
    /// Orders that use it now (a cancelled or expired order frees its use).
    pub uses: u64,
}

pub struct Coupons {
    store: Arc<dyn Store>,
    audit: Arc<Audit>,
    clock: Arc<dyn Clock>,
    vault: Arc<Vault>,
}

/// A whole number as typed (full-width digits and thousands separators allowed).
fn number(typed: &str) -> Option<i64> {
    let s: String = typed
        .nfkc()
        .filter(|c| !matches!(c, ',' | '¥' | '円' | '%'))
        .collect();
    s.trim().parse().ok()
}

/// Checks a coupon form: the coupon, or every problem in form order.
pub fn parse_input(input: &CouponInput) -> Result<Coupon, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut refuse = |field: &'static str, code: &'static str| {
        problems.push(Problem { field, code });
    };
    let code = CouponCode::parse(&input.code).map_err(|e| refuse("code", e.code()));
    let discount = match (input.kind.as_str(), number(&input.value)) {
        ("amount" | "percent", None) if input.value.trim().is_empty() => {
            refuse("value", "required");
            None
        }
        ("amount" | "percent", None) => {
            refuse("value", "not_a_number");
            None
        }
        ("amount", Some(v)) => Discount::from_parts("amount", v).or_else(|| {
            refuse("value", "amount_range");
            None
        }),
        ("percent", Some(v)) => Discount::from_parts("percent", v).or_else(|| {
            refuse("value", "percent_range");
            None
        }),
        _ => {
            refuse("kind", "unknown_choice");
            None
        }
    };
    let date = |typed: &str| {
        if typed.trim().is_empty() {
            Err("required")
        } else {
            Date::parse(typed).ok_or("invalid_date")
        }
    };
    let starts_on = date(&input.starts_on).map_err(|c| refuse("starts_on", c));
    let ends_on = date(&input.ends_on).map_err(|c| refuse("ends_on", c));
    if let (Ok(s), Ok(e)) = (&starts_on, &ends_on)
        && e < s
    {
        refuse("ends_on", "ends_before_start");
    }
    let minimum = match input.minimum.trim() {
        "" => Some(Yen::ZERO),
        typed => match number(typed) {
            Some(m) if (0..=MAX_MINIMUM).contains(&m) => Some(Yen(m)),
            Some(_) => {
                refuse("minimum", "minimum_range");
                None
            }
            None => {
                refuse("minimum", "not_a_number");
                None
            }
        },
    };
    match (code, discount, starts_on, ends_on, minimum) {
        (Ok(code), Some(discount), Ok(starts_on), Ok(ends_on), Some(minimum))
            if problems.is_empty() =>
        {
            Ok(Coupon {
                code,
                discount,
                starts_on,
                ends_on,
                minimum,
                active: true,
            })
        }
        _ => Err(problems),
    }
}

/// What `code` takes off `goods` at `now` for a customer known by `holders`: the discount, or
/// why not.
pub(crate) async fn resolve(
    store: &dyn Store,
    code: &CouponCode,
    goods: Yen,
    holders: &[Vec<u8>],
    now: i64,
) -> Result<Result<Yen, Refusal>, AppError> {
    let record = store.coupon_by_code(code.as_str()).await?;
    let used = match &record {
        Some(r) if r.coupon.active => store.coupon_used_by(r.id, holders).await?,
        _ => false,
    };
    Ok(Coupon::check(
        record.as_ref().map(|r| &r.coupon),
        goods,
        now,
        used,
    ))
}

impl Coupons {
    pub fn new(
        store: Arc<dyn Store>,
        audit: Arc<Audit>,
        clock: Arc<dyn Clock>,
        vault: Arc<Vault>,
    ) -> Self {
        Self {
            store,
            audit,
            clock,
            vault,
        }
    }

    fn allowed(session: &StaffSession) -> Result<(), AppError> {
        if session.can(Permission::Catalog) {
            Ok(())
        } else {
            Err(AppError::Task("coupon change without permission".into()))
        }
    }

    /// Every coupon, newest first, with its uses.
    pub async fn list(&self) -> Result<Vec<CouponListing>, AppError> {
        Ok(self
            .store
            .coupons()
            .await?
            .into_iter()
            .map(|(record, uses)| CouponListing { record, uses })
            .collect())
    }

    /// Creates a coupon from the form, or names every refused field (nothing is saved).
    pub async fn create(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        input: &CouponInput,
    ) -> Result<Result<CouponRecord, Vec<Problem>>, AppError> {
        Self::allowed(session)?;
        let coupon = match parse_input(input) {
            Ok(c) => c,
            Err(problems) => return Ok(Err(problems)),
        };
        let record = CouponRecord {
            id: crate::ids::new_id(),
            coupon,
            created_at: self.clock.now(),
            created_by: session.member.id,
        };
        match self.store.insert_coupon(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Ok(Err(vec![Problem {
                    field: "code",
                    code: "taken",
                }]));
            }
            Err(e) => return Err(e.into()),
        }
        let c = &record.coupon;
        self.record(
            session,
            ip,
            "coupons.create",
            c,
            "code,kind,value,starts_on,ends_on,minimum",
            format!(
                "kind={}, value={}, starts_on={}, ends_on={}, minimum={}",
                c.discount.kind(),
                c.discount.value(),
                c.starts_on.iso(),
                c.ends_on.iso(),
                c.minimum.0
            ),
        )
        .await?;
        Ok(Ok(record))
    }

    /// Switches a coupon on or off (orders placed with it keep their discount); false when
    /// there is no such coupon.
    pub async fn set_active(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
        active: bool,
    ) -> Result<bool, AppError> {
        Self::allowed(session)?;
        let Some(before) = self
            .store
            .coupons()
            .await?
            .into_iter()
            .map(|(r, _)| r)
            .find(|r| r.id == id)
        else {
            return Ok(false);
        };
        if before.coupon.active == active {
            return Ok(true);
        }
        if !self.store.set_coupon_active(id, active).await? {
            return Ok(false);
        }
        let action = if active {
            "coupons.enable"
        } else {
            "coupons.disable"
        };
        self.record(
            session,
            ip,
            action,
            &before.coupon,
            "active",
            format!("active {} -> {active}", before.coupon.active),
        )
        .await?;
        Ok(true)
    }

    /// What `code` takes off `goods` now for the buyer with `email` (and `customer_id` when
    /// signed in): the discount, or why not. A later placement can still be refused if the
    /// same customer places another order with the code meanwhile.
    pub async fn check(
        &self,
        code: &CouponCode,
        goods: Yen,
        email: &str,
        customer_id: Option<i64>,
    ) -> Result<Result<Yen, Refusal>, AppError> {
        let holders = email_holders(&self.vault, email, customer_id)?;
        resolve(&*self.store, code, goods, &holders, self.clock.now()).await
    }

    async fn record(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        action: &str,
        coupon: &Coupon,
        fields: &str,
        note: String,
    ) -> Result<(), AppError> {
        self.audit
            .record(
                &session.actor(ip),
                action,
                &format!("coupon:{}", coupon.code),
                fields,
                AuditDetail {
                    note: Some(note),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }
}

/// The holders of a buyer for a check: the email's blind index under every key the shop holds
/// (a use recorded before a key rotation still counts while the old key is kept), and the
/// account.
pub(crate) fn email_holders(
    vault: &Vault,
    email: &str,
    customer_id: Option<i64>,
) -> Result<Vec<Vec<u8>>, AppError> {
    let ring = vault.ring();
    let mut out: Vec<Vec<u8>> = ring
        .blind_indexes(col::ORDER_EMAIL_BIDX, email, Normalize::Email)?
        .iter()
        .map(|b| b.as_bytes().to_vec())
        .collect();
    if let Some(id) = customer_id {
        out.push(format!("customer:{id}").into_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CouponInput {
        CouponInput {
            code: "ｗｅｌｃｏｍｅ５００".into(),
            kind: "amount".into(),
            value: "５００".into(),
            starts_on: "2026-04-01".into(),
            ends_on: "2026-04-30".into(),
            minimum: "3,000".into(),
        }
    }

    #[test]
    fn a_coupon_form_reads_as_the_owner_typed_it() {
        let c = parse_input(&input()).unwrap();
        assert_eq!(c.code.as_str(), "WELCOME500");
        assert_eq!(c.discount, Discount::Amount(Yen(500)));
        assert_eq!(c.minimum, Yen(3_000));
        assert!(c.active);
    }

    #[test]
    fn every_refused_field_is_named() {
        let bad = CouponInput {
            code: "x".into(),
            kind: "percent".into(),
            value: "150".into(),
            starts_on: "2026-04-30".into(),
            ends_on: "2026-04-01".into(),
            minimum: "lots".into(),
        };
        assert_eq!(
            parse_input(&bad).unwrap_err(),
            [
                Problem {
                    field: "code",
                    code: "code_length"
                },
                Problem {
                    field: "value",
                    code: "percent_range"
                },
                Problem {
                    field: "ends_on",
                    code: "ends_before_start"
                },
                Problem {
                    field: "minimum",
                    code: "not_a_number"
                },
            ]
        );
        let none = CouponInput::default();
        let fields: Vec<_> = parse_input(&none)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["code", "kind", "starts_on", "ends_on"]);
    }
}
