//! Coupons: a code the owner chose, a discount on the goods, a period in Japan time, a minimum.
//!
//! Guarantees: a code is compared only in its normal form (NFKC, upper case, 3–32 of A–Z, 0–9
//! and `-`), so what a customer types with full-width letters or in lower case finds the code;
//! a discount is never more than the goods it applies to and is whole yen (a percent is rounded
//! down); every refusal names its reason with a stable code the web layer translates.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::date::Date;
use crate::money::Yen;

/// Shortest and longest code.
pub const CODE_LENGTH: std::ops::RangeInclusive<usize> = 3..=32;
/// The largest fixed discount the back office accepts.
pub const MAX_AMOUNT: i64 = 1_000_000;

/// A coupon code in its normal form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CouponCode(String);

/// Why a typed code is not a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a code is required")]
    Required,
    #[error("a code has 3 to 32 characters")]
    Length,
    #[error("a code has only letters A-Z, digits and hyphens")]
    Characters,
}

impl CodeError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Length => "code_length",
            Self::Characters => "code_characters",
        }
    }
}

impl CouponCode {
    /// Normalises `typed` (NFKC, trimmed, upper case; a full-width `ｓｐｒｉｎｇ-１０` reads as
    /// `SPRING-10`) and checks it.
    pub fn parse(typed: &str) -> Result<Self, CodeError> {
        let s: String = typed.nfkc().collect::<String>().trim().to_uppercase();
        // NFKC keeps the minus sign and the long dashes distinct from `-`; people type them
        // from Japanese input methods for a hyphen.
        let s: String = s
            .chars()
            .map(|c| match c {
                '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}' => '-',
                c => c,
            })
            .collect();
        if s.is_empty() {
            return Err(CodeError::Required);
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(CodeError::Characters);
        }
        if !CODE_LENGTH.contains(&s.len()) {
            return Err(CodeError::Length);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CouponCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CouponCode> for String {
    fn from(c: CouponCode) -> String {
        c.0
    }
}

impl std::fmt::Display for CouponCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a coupon takes off the goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Discount {
    /// A fixed amount, tax included.
    Amount(Yen),
    /// A percent of the goods (1–100), rounded down to the yen.
    Percent(u8),
}

impl Discount {
    /// `amount` or `percent`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Amount(_) => "amount",
            Self::Percent(_) => "percent",
        }
    }

    /// The yen or the percent.
    pub fn value(self) -> i64 {
        match self {
            Self::Amount(y) => y.0,
            Self::Percent(p) => i64::from(p),
        }
    }

    /// From the stored kind and value; `None` for a kind or value out of range.
    pub fn from_parts(kind: &str, value: i64) -> Option<Self> {
        match kind {
            "amount" if (1..=MAX_AMOUNT).contains(&value) => Some(Self::Amount(Yen(value))),
            "percent" if (1..=100).contains(&value) => u8::try_from(value).ok().map(Self::Percent),
            _ => None,
        }
    }

    /// What it takes off `goods`: never more than the goods, never negative.
    pub fn of(self, goods: Yen) -> Yen {
        let goods = goods.0.max(0);
        let off = match self {
            Self::Amount(y) => y.0,
            Self::Percent(p) => goods.saturating_mul(i64::from(p)) / 100,
        };
        Yen(off.clamp(0, goods))
    }
}

/// A coupon as the owner set it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: CouponCode,
    pub discount: Discount,
    /// The first day it can be used, in Japan.
    pub starts_on: Date,
    /// The last day it can be used, in Japan (inclusive).
    pub ends_on: Date,
    /// The goods (tax included, before the discount) an order needs for it.
    pub minimum: Yen,
    pub active: bool,
}

/// Why a coupon does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No coupon has this code (or what was typed cannot be a code).
    Unknown,
    /// Its period starts on this day.
    NotYetValid { starts_on: Date },
    /// Its period ended.
    Expired,
    /// The goods need this much more.
    BelowMinimum { short: Yen },
    /// This customer (email or account) used it already.
    AlreadyUsed,
    /// The owner switched it off.
    Disabled,
}

impl Refusal {
    /// The stable code clients and translations use.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unknown => "coupon_unknown",
            Self::NotYetValid { .. } => "coupon_not_yet_valid",
            Self::Expired => "coupon_expired",
            Self::BelowMinimum { .. } => "coupon_below_minimum",
            Self::AlreadyUsed => "coupon_used",
            Self::Disabled => "coupon_disabled",
        }
    }
}

impl Coupon {
    /// Whether `coupon` (the one the code names, `None` when none does) takes something off
    /// `goods` at `now` (Unix seconds), for a customer who has (`used`) or has not used it:
    /// the discount, or why not. The reasons are checked in this order: unknown, disabled,
    /// used, not yet valid, expired, below the minimum.
    pub fn check(
        coupon: Option<&Coupon>,
        goods: Yen,
        now: i64,
        used: bool,
    ) -> Result<Yen, Refusal> {
        let c = coupon.ok_or(Refusal::Unknown)?;
        if !c.active {
            return Err(Refusal::Disabled);
        }
        if used {
            return Err(Refusal::AlreadyUsed);
        }
        let today = Date::today_in_japan(now);
        if today < c.starts_on {
            return Err(Refusal::NotYetValid {
                starts_on: c.starts_on,
            });
        }
        if today > c.ends_on {
            return Err(Refusal::Expired);
        }
        if goods < c.minimum {
            return Err(Refusal::BelowMinimum {
                short: Yen(c.minimum.0 - goods.0),
            });
        }
        Ok(c.discount.of(goods))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-02 03:00 in Japan (2026-03-01 18:00 UTC).
    const NOW: i64 = 1_772_388_000;

    fn coupon(discount: Discount) -> Coupon {
        Coupon {
            code: CouponCode::parse("SPRING-10").unwrap(),
            discount,
            starts_on: Date::parse("2026-03-02").unwrap(),
            ends_on: Date::parse("2026-03-31").unwrap(),
            minimum: Yen(3_000),
            active: true,
        }
    }

    #[test]
    fn codes_are_normalised_the_same_way_for_owner_and_customer() {
        let owner = CouponCode::parse("SPRING-10").unwrap();
        for typed in [
            "ｓｐｒｉｎｇ-１０",
            " spring-10 ",
            "Spring－10",
            "SPRING−10",
        ] {
            assert_eq!(CouponCode::parse(typed).unwrap(), owner, "{typed}");
        }
        assert_eq!(CouponCode::parse("   "), Err(CodeError::Required));
        assert_eq!(CouponCode::parse("AB"), Err(CodeError::Length));
        assert_eq!(CouponCode::parse(&"A".repeat(33)), Err(CodeError::Length));
        assert!(CouponCode::parse(&"A".repeat(32)).is_ok());
        assert_eq!(CouponCode::parse("SPRING 10"), Err(CodeError::Characters));
        assert_eq!(CouponCode::parse("春セール"), Err(CodeError::Characters));
        assert_eq!(CouponCode::parse("A_B"), Err(CodeError::Characters));
    }

    #[test]
    fn percent_discounts_are_rounded_down_and_never_exceed_the_goods() {
        assert_eq!(Discount::Percent(10).of(Yen(3_999)), Yen(399));
        assert_eq!(Discount::Percent(15).of(Yen(1_099)), Yen(164));
        assert_eq!(Discount::Percent(100).of(Yen(2_480)), Yen(2_480));
        assert_eq!(Discount::Amount(Yen(500)).of(Yen(300)), Yen(300));
        assert_eq!(Discount::Amount(Yen(500)).of(Yen(3_000)), Yen(500));
        assert_eq!(Discount::from_parts("percent", 0), None);
        assert_eq!(Discount::from_parts("percent", 101), None);
        assert_eq!(
            Discount::from_parts("percent", 100),
            Some(Discount::Percent(100))
        );
        assert_eq!(Discount::from_parts("amount", 0), None);
        assert_eq!(Discount::from_parts("gift", 5), None);
    }

    #[test]
    fn the_minimum_says_how_much_more_is_needed() {
        let c = coupon(Discount::Amount(Yen(500)));
        assert_eq!(
            Coupon::check(Some(&c), Yen(2_400), NOW, false),
            Err(Refusal::BelowMinimum { short: Yen(600) })
        );
        assert_eq!(
            Coupon::check(Some(&c), Yen(3_000), NOW, false),
            Ok(Yen(500))
        );
    }

    #[test]
    fn the_period_is_inclusive_in_japan_time() {
        let c = coupon(Discount::Percent(10));
        // 2026-03-02 00:00 in Japan is still 1 March in UTC: the first day counts.
        let first_minute = NOW - 3 * 3600;
        assert_eq!(
            Coupon::check(Some(&c), Yen(5_000), first_minute, false),
            Ok(Yen(500))
        );
        assert_eq!(
            Coupon::check(Some(&c), Yen(5_000), first_minute - 60, false),
            Err(Refusal::NotYetValid {
                starts_on: c.starts_on
            })
        );
        // 2026-03-31 23:59 in Japan: the last day counts; a minute later it has ended.
        let last_minute = first_minute + 30 * 86_400 - 60;
        assert_eq!(
            Coupon::check(Some(&c), Yen(5_000), last_minute, false),
            Ok(Yen(500))
        );
        assert_eq!(
            Coupon::check(Some(&c), Yen(5_000), last_minute + 60, false),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn unknown_disabled_and_used_coupons_are_refused() {
        let mut c = coupon(Discount::Percent(10));
        assert_eq!(
            Coupon::check(None, Yen(5_000), NOW, false),
            Err(Refusal::Unknown)
        );
        assert_eq!(
            Coupon::check(Some(&c), Yen(5_000), NOW, true),
            Err(Refusal::AlreadyUsed)
        );
        c.active = false;
        assert_eq!(
            Coupon::check(Some(&c), Yen(5_000), NOW, false),
            Err(Refusal::Disabled)
        );
        assert_eq!(Refusal::AlreadyUsed.code(), "coupon_used");
    }
}
