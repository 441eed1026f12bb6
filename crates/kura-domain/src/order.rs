//! Carts, delivery choices, payment methods, fees and the order's state machine.

use serde::{Deserialize, Serialize};

use crate::money::{TaxBreakdown, TaxRate, Yen};
use crate::prefecture::Prefecture;

/// Most of one variant in one order; also the largest quantity a form accepts.
pub const MAX_QUANTITY: u32 = 99;
/// Most distinct lines in one cart.
pub const MAX_LINES: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantity must be a whole number")]
    NotANumber,
    #[error("quantity must be at least 1")]
    TooSmall,
    #[error("quantity may be at most 99")]
    TooLarge,
}

impl QuantityError {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotANumber => "invalid_quantity",
            Self::TooSmall => "quantity_too_small",
            Self::TooLarge => "quantity_too_large",
        }
    }
}

/// A quantity between 1 and [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub fn new(n: i64) -> Result<Self, QuantityError> {
        if n < 1 {
            Err(QuantityError::TooSmall)
        } else if n > i64::from(MAX_QUANTITY) {
            Err(QuantityError::TooLarge)
        } else {
            Ok(Self(u32::try_from(n).map_err(|_| QuantityError::TooLarge)?))
        }
    }

    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let s: String = unicode_normalization::UnicodeNormalization::nfkc(input.trim()).collect();
        let n: i64 = s.parse().map_err(|_| {
            if s.trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit())
                && !s.is_empty()
            {
                if s.starts_with('-') {
                    QuantityError::TooSmall
                } else {
                    QuantityError::TooLarge
                }
            } else {
                QuantityError::NotANumber
            }
        })?;
        Self::new(n)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

/// The delivery time slots Japanese carriers offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverySlot {
    Morning,
    S14To16,
    S16To18,
    S18To20,
    S19To21,
}

impl DeliverySlot {
    pub const ALL: [DeliverySlot; 5] = [
        Self::Morning,
        Self::S14To16,
        Self::S16To18,
        Self::S18To20,
        Self::S19To21,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::S14To16 => "14-16",
            Self::S16To18 => "16-18",
            Self::S18To20 => "18-20",
            Self::S19To21 => "19-21",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Morning => "午前中",
            Self::S14To16 => "14時〜16時",
            Self::S16To18 => "16時〜18時",
            Self::S18To20 => "18時〜20時",
            Self::S19To21 => "19時〜21時",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Morning => "Morning (8–12)",
            Self::S14To16 => "14:00–16:00",
            Self::S16To18 => "16:00–18:00",
            Self::S18To20 => "18:00–20:00",
            Self::S19To21 => "19:00–21:00",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cod,
    BankTransfer,
    Card,
    /// Convenience-store payment (コンビニ払い): the provider's hosted page issues a payment
    /// number, the customer pays cash at a store before its deadline.
    Konbini,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 4] = [Self::Cod, Self::BankTransfer, Self::Card, Self::Konbini];

    pub fn code(self) -> &'static str {
        match self {
            Self::Cod => "cod",
            Self::BankTransfer => "bank_transfer",
            Self::Card => "card",
            Self::Konbini => "konbini",
        }
    }

    /// Paid through the provider's hosted page (card or convenience store).
    pub fn is_hosted(self) -> bool {
        matches!(self, Self::Card | Self::Konbini)
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }
}

/// The most a convenience store accepts for one payment (tax included).
pub const KONBINI_MAX: Yen = Yen(300_000);
/// Days a convenience-store payment number stays valid; it ends at the close of the last
/// day in Japan.
pub const KONBINI_DAYS: i64 = 3;

/// Cash-on-delivery fee (代引手数料), tax included, by the amount collected.
pub fn cod_fee(amount: Yen) -> Yen {
    match amount.0 {
        ..10_000 => Yen(330),
        10_000..30_000 => Yen(440),
        30_000..100_000 => Yen(660),
        _ => Yen(1_100),
    }
}

/// Shipping fee, tax included, by destination prefecture; free from ¥11,000 of goods.
pub fn shipping_fee(prefecture: Prefecture, goods: Yen) -> Yen {
    if goods.0 >= 11_000 {
        return Yen::ZERO;
    }
    match prefecture.code() {
        1 => Yen(1_300),       // Hokkaido
        47 => Yen(1_600),      // Okinawa
        2..=7 => Yen(990),     // Tohoku
        31..=39 => Yen(990),   // Chugoku, Shikoku
        40..=46 => Yen(1_100), // Kyushu
        _ => Yen(770),         // Kanto, Chubu, Kinki
    }
}

/// One priced line of a cart or order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub sku: String,
    pub unit_price: Yen,
    pub quantity: u32,
    pub tax: TaxRate,
}

impl PricedLine {
    pub fn total(&self) -> Yen {
        self.unit_price
            .checked_mul(self.quantity)
            .unwrap_or(Yen(i64::MAX))
    }
}

/// What an order costs: goods, fees, total, and the tax in it per rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// The goods at their prices, before any coupon.
    pub goods: Yen,
    /// What a coupon took off the goods (zero without one); the total is after it.
    #[serde(default)]
    pub discount: Yen,
    pub shipping: Yen,
    pub cod_fee: Yen,
    pub total: Yen,
    pub tax: TaxBreakdown,
}

impl Totals {
    /// Fees are taxed at the standard rate; goods at their own.
    pub fn compute(lines: &[PricedLine], destination: Prefecture, payment: PaymentMethod) -> Self {
        Self::compute_with_discount(lines, destination, payment, Yen::ZERO)
    }

    /// As [`Totals::compute`], with `discount` (a coupon's, at most the goods) taken off the
    /// goods. Free shipping (¥11,000) is decided on the goods *before* the discount, so a coupon
    /// never makes shipping cost again; the cash-on-delivery fee is on the amount collected,
    /// after it. The discount is split between the 10 % and 8 % goods in proportion to their
    /// value (the 8 % share rounded down, the 10 % share the rest), and each rate's tax is on
    /// its discounted base: an invoice (適格請求書) states a discount per rate.
    pub fn compute_with_discount(
        lines: &[PricedLine],
        destination: Prefecture,
        payment: PaymentMethod,
        discount: Yen,
    ) -> Self {
        let sum = |rate: TaxRate| {
            Yen(lines
                .iter()
                .filter(|l| l.tax == rate)
                .map(|l| l.total().0)
                .sum())
        };
        let (standard_goods, reduced_goods) = (sum(TaxRate::Standard), sum(TaxRate::Reduced));
        let goods = Yen(standard_goods.0 + reduced_goods.0);
        let discount = Yen(discount.0.clamp(0, goods.0.max(0)));
        let (standard_off, reduced_off) = split_discount(discount, standard_goods, reduced_goods);
        let shipping = shipping_fee(destination, goods);
        let before_cod = Yen(goods.0 - discount.0 + shipping.0);
        let cod = if payment == PaymentMethod::Cod {
            cod_fee(before_cod)
        } else {
            Yen::ZERO
        };
        let total = Yen(before_cod.0 + cod.0);
        Self {
            goods,
            discount,
            shipping,
            cod_fee: cod,
            total,
            tax: TaxBreakdown::from_totals(
                Yen(standard_goods.0 - standard_off.0 + shipping.0 + cod.0),
                Yen(reduced_goods.0 - reduced_off.0),
            ),
        }
    }
}

/// A discount split between the goods at 10 % and at 8 %, in proportion to their value: the
/// 8 % share rounded down, the 10 % share the rest, so the two add up to `discount`.
/// Returns (standard share, reduced share).
pub fn split_discount(discount: Yen, standard_goods: Yen, reduced_goods: Yen) -> (Yen, Yen) {
    let goods = i128::from(standard_goods.0) + i128::from(reduced_goods.0);
    if goods <= 0 {
        return (Yen::ZERO, Yen::ZERO);
    }
    let reduced = i128::from(discount.0) * i128::from(reduced_goods.0) / goods;
    let reduced = Yen(i64::try_from(reduced).unwrap_or(0).min(reduced_goods.0));
    (Yen(discount.0 - reduced.0), reduced)
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Card order waiting for the provider's confirmation; stock is held until it expires.
    AwaitingPayment,
    /// Convenience-store order whose payment number is issued; waiting for the payment at the
    /// store until the number's deadline (stock held until then).
    AwaitingStorePayment,
    /// Bank-transfer order waiting for the money.
    AwaitingTransfer,
    /// Cash on delivery: confirmed, paid at the door.
    Confirmed,
    Paid,
    /// Packed and waiting for the carrier.
    Packed,
    Shipped,
    /// The carrier reported the parcel delivered (recorded by staff).
    Delivered,
    Cancelled,
    /// Card payment never completed; stock returned.
    Expired,
    /// The payment went back to the customer through the provider.
    Refunded,
}

impl OrderStatus {
    pub fn code(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::AwaitingStorePayment => "awaiting_konbini",
            Self::AwaitingTransfer => "awaiting_transfer",
            Self::Confirmed => "confirmed",
            Self::Paid => "paid",
            Self::Packed => "packed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
        }
    }

    /// Every status, in the order an order usually passes through them.
    pub const ALL: [OrderStatus; 11] = [
        Self::AwaitingPayment,
        Self::AwaitingStorePayment,
        Self::AwaitingTransfer,
        Self::Confirmed,
        Self::Paid,
        Self::Packed,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
        Self::Expired,
        Self::Refunded,
    ];

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The status a new order starts in.
    pub fn initial(payment: PaymentMethod) -> Self {
        match payment {
            PaymentMethod::Cod => Self::Confirmed,
            PaymentMethod::BankTransfer => Self::AwaitingTransfer,
            PaymentMethod::Card | PaymentMethod::Konbini => Self::AwaitingPayment,
        }
    }

    /// Whether the money for an order paid by `payment` has been received, so that a receipt
    /// (領収書) may be issued for it. A card or bank-transfer order is paid once it reached
    /// `paid` (every later step, packed, shipped, delivered, comes only after it); cash on
    /// delivery is paid at the door, so only once the parcel is recorded as delivered.
    /// Cancelled, expired and refunded orders hold no money of the customer's.
    pub fn is_paid(self, payment: PaymentMethod) -> bool {
        use OrderStatus::*;
        match payment {
            PaymentMethod::Card | PaymentMethod::BankTransfer | PaymentMethod::Konbini => {
                matches!(self, Paid | Packed | Shipped | Delivered)
            }
            PaymentMethod::Cod => self == Delivered,
        }
    }

    /// Whether the state machine allows `self → next`.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (
                AwaitingPayment,
                Paid | AwaitingStorePayment | Expired | Cancelled
            ) | (AwaitingStorePayment, Paid | Expired | Cancelled)
                | (AwaitingTransfer, Paid | Cancelled)
                | (Confirmed, Packed | Shipped | Cancelled)
                | (Paid, Packed | Shipped | Refunded)
                | (Packed, Shipped | Cancelled | Refunded)
                | (Shipped, Delivered | Refunded)
                | (Delivered, Refunded)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, qty: u32, tax: TaxRate) -> PricedLine {
        PricedLine {
            sku: "x".into(),
            unit_price: Yen(price),
            quantity: qty,
            tax,
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(Quantity::parse("３").unwrap().get(), 3);
        assert_eq!(Quantity::parse("0").unwrap_err(), QuantityError::TooSmall);
        assert_eq!(Quantity::parse("-5").unwrap_err(), QuantityError::TooSmall);
        assert_eq!(Quantity::parse("100").unwrap_err(), QuantityError::TooLarge);
        assert_eq!(
            Quantity::parse("99999999999999999999999").unwrap_err(),
            QuantityError::TooLarge
        );
        assert_eq!(
            Quantity::parse("two").unwrap_err(),
            QuantityError::NotANumber
        );
    }

    #[test]
    fn totals_with_mixed_rates_and_cod() {
        let tokyo = Prefecture::parse("東京都").unwrap();
        let lines = [
            line(5_980, 1, TaxRate::Standard),
            line(1_080, 2, TaxRate::Reduced),
        ];
        let t = Totals::compute(&lines, tokyo, PaymentMethod::Cod);
        assert_eq!(t.goods, Yen(8_140));
        assert_eq!(t.shipping, Yen(770));
        assert_eq!(t.cod_fee, Yen(330));
        assert_eq!(t.total, Yen(9_240));
        assert_eq!(t.tax.reduced_total, Yen(2_160));
        assert_eq!(t.tax.reduced_tax, Yen(160));
        assert_eq!(t.tax.standard_total, Yen(5_980 + 770 + 330));
        assert_eq!(t.tax.standard_tax, Yen(643));
        let okinawa = Prefecture::parse("沖縄県").unwrap();
        let card = Totals::compute(&lines, okinawa, PaymentMethod::Card);
        assert_eq!((card.shipping, card.cod_fee), (Yen(1_600), Yen(0)));
        let big = Totals::compute(
            &[line(12_000, 1, TaxRate::Standard)],
            okinawa,
            PaymentMethod::Card,
        );
        assert_eq!(big.shipping, Yen(0));
    }

    #[test]
    fn a_discount_is_split_per_rate_and_shipping_stays_free_on_the_goods_before_it() {
        let tokyo = Prefecture::parse("東京都").unwrap();
        // ¥7,000 at 10 % and ¥3,000 at 8 %: ¥1,001 off is ¥300.3 → ¥300 reduced, ¥701 standard.
        let lines = [
            line(7_000, 1, TaxRate::Standard),
            line(1_500, 2, TaxRate::Reduced),
        ];
        assert_eq!(
            split_discount(Yen(1_001), Yen(7_000), Yen(3_000)),
            (Yen(701), Yen(300))
        );
        let t = Totals::compute_with_discount(&lines, tokyo, PaymentMethod::Card, Yen(1_001));
        assert_eq!((t.goods, t.discount), (Yen(10_000), Yen(1_001)));
        assert_eq!(t.shipping, Yen(770));
        assert_eq!(t.total, Yen(10_000 - 1_001 + 770));
        assert_eq!(t.tax.standard_total, Yen(7_000 - 701 + 770));
        assert_eq!(t.tax.reduced_total, Yen(2_700));
        assert_eq!(t.tax.reduced_tax, Yen(200));
        assert_eq!(
            t.tax.standard_total.0 + t.tax.reduced_total.0,
            t.total.0,
            "the per-rate bases add up to the total"
        );
        // ¥12,000 of goods less ¥2,000 is ¥10,000, under the threshold: shipping stays free.
        let big = [line(12_000, 1, TaxRate::Standard)];
        let t = Totals::compute_with_discount(&big, tokyo, PaymentMethod::Cod, Yen(2_000));
        assert_eq!(t.shipping, Yen::ZERO);
        // The COD fee is on what is collected: ¥10,000 → ¥440 (¥12,000 would be ¥440 too;
        // ¥9,999 after a discount is ¥330).
        assert_eq!(t.cod_fee, Yen(440));
        let t = Totals::compute_with_discount(&big, tokyo, PaymentMethod::Cod, Yen(2_001));
        assert_eq!(t.cod_fee, Yen(330));
        assert_eq!(t.total, Yen(12_000 - 2_001 + 330));
        // Never more than the goods; nothing off without a discount.
        let t = Totals::compute_with_discount(&lines, tokyo, PaymentMethod::Card, Yen(99_999));
        assert_eq!(t.discount, Yen(10_000));
        assert_eq!(t.total, Yen(770));
        assert_eq!(t.tax.reduced_total, Yen::ZERO);
        assert_eq!(
            Totals::compute_with_discount(&lines, tokyo, PaymentMethod::Card, Yen::ZERO),
            Totals::compute(&lines, tokyo, PaymentMethod::Card)
        );
    }

    #[test]
    fn state_machine() {
        assert!(OrderStatus::AwaitingPayment.can_become(OrderStatus::Paid));
        assert!(!OrderStatus::Expired.can_become(OrderStatus::Paid));
        assert!(!OrderStatus::Shipped.can_become(OrderStatus::Cancelled));
        assert!(OrderStatus::Shipped.can_become(OrderStatus::Delivered));
        assert!(!OrderStatus::Refunded.can_become(OrderStatus::Shipped));
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.code()), Some(s));
            assert!(!s.can_become(s), "{s:?} cannot become itself");
        }
        assert_eq!(
            OrderStatus::initial(PaymentMethod::BankTransfer),
            OrderStatus::AwaitingTransfer
        );
        // A convenience-store order waits for its payment number, then for the payment; an
        // issued number cannot be taken back to the hosted page.
        assert_eq!(
            OrderStatus::initial(PaymentMethod::Konbini),
            OrderStatus::AwaitingPayment
        );
        assert!(OrderStatus::AwaitingPayment.can_become(OrderStatus::AwaitingStorePayment));
        assert!(OrderStatus::AwaitingStorePayment.can_become(OrderStatus::Paid));
        assert!(OrderStatus::AwaitingStorePayment.can_become(OrderStatus::Expired));
        assert!(!OrderStatus::AwaitingStorePayment.can_become(OrderStatus::AwaitingPayment));
    }

    #[test]
    fn paid_means_the_money_arrived() {
        use OrderStatus::*;
        for method in [
            PaymentMethod::Card,
            PaymentMethod::BankTransfer,
            PaymentMethod::Konbini,
        ] {
            for s in [Paid, Packed, Shipped, Delivered] {
                assert!(s.is_paid(method), "{s:?} by {method:?}");
            }
            for s in [
                AwaitingPayment,
                AwaitingStorePayment,
                AwaitingTransfer,
                Cancelled,
                Expired,
                Refunded,
            ] {
                assert!(!s.is_paid(method), "{s:?} by {method:?}");
            }
        }
        // Cash on delivery is paid at the door: packed or shipped is not paid yet.
        assert!(Delivered.is_paid(PaymentMethod::Cod));
        for s in [Confirmed, Packed, Shipped, Cancelled] {
            assert!(!s.is_paid(PaymentMethod::Cod), "{s:?}");
        }
    }
}
