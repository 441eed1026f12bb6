//! Yen amounts and Japanese consumption tax.
//!
//! Prices are tax-inclusive (総額表示). The tax contained in a document is computed once per
//! rate over that rate's total (the invoice rule: one rounding per rate per document, rounded
//! down), never per line, so the per-rate figures on a receipt add up.

use serde::{Deserialize, Serialize};

/// An amount of yen. Never fractional.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Yen(pub i64);

impl Yen {
    pub const ZERO: Yen = Yen(0);

    pub fn checked_mul(self, n: u32) -> Option<Yen> {
        self.0.checked_mul(i64::from(n)).map(Yen)
    }

    pub fn checked_add(self, other: Yen) -> Option<Yen> {
        self.0.checked_add(other.0).map(Yen)
    }

    /// "12,800" (digits grouped by thousands).
    pub fn grouped(self) -> String {
        let digits = self.0.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if self.0 < 0 {
            out.push('-');
        }
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    }
}

impl std::fmt::Display for Yen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "¥{}", self.grouped())
    }
}

/// The consumption-tax class of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRate {
    /// 10 %.
    Standard,
    /// 8 %, food and drink (marked ※ on documents).
    Reduced,
}

impl TaxRate {
    pub fn percent(self) -> i64 {
        match self {
            TaxRate::Standard => 10,
            TaxRate::Reduced => 8,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            TaxRate::Standard => "standard",
            TaxRate::Reduced => "reduced",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "standard" => Some(TaxRate::Standard),
            "reduced" => Some(TaxRate::Reduced),
            _ => None,
        }
    }

    /// The tax contained in a tax-inclusive total at this rate, rounded down.
    pub fn tax_in(self, inclusive: Yen) -> Yen {
        let p = self.percent();
        Yen(inclusive.0 * p / (100 + p))
    }
}

/// Per-rate totals of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaxBreakdown {
    pub standard_total: Yen,
    pub standard_tax: Yen,
    pub reduced_total: Yen,
    pub reduced_tax: Yen,
}

impl TaxBreakdown {
    /// From the tax-inclusive sums per rate.
    pub fn from_totals(standard_total: Yen, reduced_total: Yen) -> Self {
        Self {
            standard_total,
            standard_tax: TaxRate::Standard.tax_in(standard_total),
            reduced_total,
            reduced_tax: TaxRate::Reduced.tax_in(reduced_total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_display() {
        assert_eq!(Yen(0).to_string(), "¥0");
        assert_eq!(Yen(980).grouped(), "980");
        assert_eq!(Yen(12_800).to_string(), "¥12,800");
        assert_eq!(Yen(1_234_567).grouped(), "1,234,567");
    }

    #[test]
    fn tax_is_rounded_once_per_rate() {
        // Three lines of ¥105 at 10 %: per-line rounding would give 9 × 3 = 27; per document 28.
        let t = TaxBreakdown::from_totals(Yen(315), Yen(0));
        assert_eq!(t.standard_tax, Yen(28));
        assert_eq!(TaxRate::Reduced.tax_in(Yen(1080)), Yen(80));
        assert_eq!(TaxRate::Standard.tax_in(Yen(11_000)), Yen(1000));
    }
}
