//! Receipts (領収書) and qualified invoices (適格請求書) of paid orders.
//!
//! Guarantees:
//! - A document is issued only for an order whose money arrived ([`OrderStatus::is_paid`]: card
//!   or bank transfer once paid, cash on delivery once delivered); an invoice only when the
//!   seller's registration number is configured.
//! - The addressee (宛名) is personal data: it is sealed under the order's data key, against the
//!   order's id, before it reaches the store, so erasing the buyer erases it with the order.
//! - Each issue is counted in the same statement that fixes the addressee: the first issue of a
//!   document is the original, every later one carries its number and is marked 再発行, and two
//!   downloads at once never both print the original. Once either document was issued, the
//!   addressee no longer changes.
//! - The figures are the order's own: goods per line, fees at the standard rate, and the tax per
//!   rate computed once over that rate's total ([`kura_domain::TaxBreakdown`]), as the invoice
//!   rules require.

use std::sync::Arc;

use kura_domain::{
    Addressee, Date, FieldError, OrderStatus, PaymentMethod, RegistrationNumber, TaxRate, Totals,
    Yen,
};

pub use crate::records::{DocumentKind, ReceiptRecord};

use crate::clock::Clock;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::orders::OrderView;
use crate::ports::Store;
use crate::sealed::col;
use crate::vault::Vault;

/// The seller as documents name it (the shop's `[legal]` configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seller {
    pub name: String,
    pub address: String,
    pub phone: String,
    /// `None`: the shop is not a registered issuer and gives no qualified invoices.
    pub registration: Option<RegistrationNumber>,
}

/// One goods line of a document, as ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLine {
    pub name: String,
    pub variant: String,
    pub unit_price: Yen,
    pub quantity: u32,
    pub total: Yen,
    pub tax: TaxRate,
}

/// Everything a printed receipt or invoice says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleDocument {
    pub kind: DocumentKind,
    /// `en` for orders placed in English (labels get their English beside them), else `ja`.
    pub lang: String,
    /// The order number and the issue: `K-ABCD-EFGH-R1` (receipt), `K-ABCD-EFGH-I2` (invoice).
    pub document_number: String,
    pub order_number: String,
    /// 1 for the original; more is a reissue.
    pub issue: u32,
    pub issued_on: Date,
    /// The original's date, on a reissue.
    pub first_issued_on: Option<Date>,
    /// 取引年月日: the day the order was placed (Japan).
    pub transaction_date: Date,
    pub addressee: String,
    pub lines: Vec<DocumentLine>,
    /// Goods, shipping and cash-on-delivery fee, total and the tax per rate.
    pub totals: Totals,
    pub payment: PaymentMethod,
    pub seller: Seller,
    /// The coupon that `totals.discount` is for, when the order used one.
    pub coupon_code: Option<String>,
}

impl SaleDocument {
    pub fn reissued(&self) -> bool {
        self.issue > 1
    }
}

/// Prints documents (a PDF writer with a Japanese font, in production).
pub trait DocumentPrinter: Send + Sync {
    fn print(&self, doc: &SaleDocument) -> Result<Vec<u8>, AppError>;
}

/// Why an order gets no document, or its addressee no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptRefused {
    /// The money has not arrived, or went back: the order's status.
    NotPaid(OrderStatus),
    /// No registration number is configured: the shop issues no qualified invoices.
    NoInvoices,
    /// Documents cannot be printed (no font).
    Unavailable,
    /// A document was issued already: the addressee stays as printed.
    Fixed,
    /// The typed addressee was refused.
    Invalid(FieldError),
}

/// An order's documents as its page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptStatus {
    /// Why there are none yet (or will be none), when that is so.
    pub refused: Option<ReceiptRefused>,
    /// The saved addressee, else the buyer's name.
    pub addressee: String,
    /// A document was issued: the addressee is fixed.
    pub fixed: bool,
    pub receipt_issues: u32,
    pub invoice_issues: u32,
    /// Whether the shop issues qualified invoices at all.
    pub invoices: bool,
}

/// A document as issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub pdf: Vec<u8>,
    pub issue: u32,
    pub document_number: String,
}

pub struct Receipts {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    printer: Option<Arc<dyn DocumentPrinter>>,
    seller: Seller,
}

impl Receipts {
    /// `printer`: `None` when no font could be loaded (the order page then says documents are
    /// not available).
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        clock: Arc<dyn Clock>,
        printer: Option<Arc<dyn DocumentPrinter>>,
        seller: Seller,
    ) -> Self {
        Self {
            store,
            vault,
            clock,
            printer,
            seller,
        }
    }

    pub fn seller(&self) -> &Seller {
        &self.seller
    }

    /// Why `order` gets no `kind` document now, if it does not.
    fn refusal(&self, order: &OrderView, kind: Option<DocumentKind>) -> Option<ReceiptRefused> {
        if !order.status.is_paid(order.payment) {
            return Some(ReceiptRefused::NotPaid(order.status));
        }
        if self.printer.is_none() {
            return Some(ReceiptRefused::Unavailable);
        }
        if kind == Some(DocumentKind::Invoice) && self.seller.registration.is_none() {
            return Some(ReceiptRefused::NoInvoices);
        }
        None
    }

    /// The name documents are made out to unless the customer writes another.
    fn default_addressee(order: &OrderView) -> String {
        let p = &order.buyer.person;
        format!("{} {}", p.family_name.as_str(), p.given_name.as_str())
    }

    /// What the order page shows of the order's documents.
    pub async fn status(&self, order: &OrderView) -> Result<ReceiptStatus, AppError> {
        let record = self.store.order_receipt(order.id).await?;
        let addressee = match &record {
            Some(r) => self.open_addressee(order, r)?,
            None => Self::default_addressee(order),
        };
        Ok(ReceiptStatus {
            refused: self.refusal(order, None),
            addressee,
            fixed: record.as_ref().is_some_and(ReceiptRecord::fixed),
            receipt_issues: record.as_ref().map_or(0, |r| r.receipt_issues),
            invoice_issues: record.as_ref().map_or(0, |r| r.invoice_issues),
            invoices: self.seller.registration.is_some(),
        })
    }

    fn open_addressee(
        &self,
        order: &OrderView,
        record: &ReceiptRecord,
    ) -> Result<String, AppError> {
        let keys = PersonKeys::of(&self.vault, order.data_key.as_ref())?;
        let mut text = keys.open_string(col::RECEIPT_ADDRESSEE, order.id, &record.addressee)?;
        Ok(std::mem::take(&mut *text))
    }

    fn seal_addressee(&self, order: &OrderView, text: &str) -> Result<kura_seal::Sealed, AppError> {
        let keys = PersonKeys::of(&self.vault, order.data_key.as_ref())?;
        Ok(keys.seal_str(col::RECEIPT_ADDRESSEE, order.id, text)?)
    }

    /// Saves the name the order's documents are made out to, while none was issued.
    pub async fn set_addressee(
        &self,
        order: &OrderView,
        typed: &str,
    ) -> Result<Result<(), ReceiptRefused>, AppError> {
        if let Some(refused) = self.refusal(order, None) {
            return Ok(Err(refused));
        }
        let addressee = match Addressee::parse(typed) {
            Ok(a) => a,
            Err(e) => return Ok(Err(ReceiptRefused::Invalid(e))),
        };
        let sealed = self.seal_addressee(order, addressee.as_str())?;
        let saved = self
            .store
            .set_receipt_addressee(order.id, &sealed, order.data_key.as_ref(), self.clock.now())
            .await?;
        if !saved {
            return Ok(Err(ReceiptRefused::Fixed));
        }
        tracing::info!(target: "kura::receipts", order = order.id, "receipt addressee saved");
        Ok(Ok(()))
    }

    /// Issues the order's receipt or invoice: counts the issue (fixing the addressee) and
    /// prints it.
    pub async fn issue(
        &self,
        order: &OrderView,
        kind: DocumentKind,
    ) -> Result<Result<Issued, ReceiptRefused>, AppError> {
        if let Some(refused) = self.refusal(order, Some(kind)) {
            return Ok(Err(refused));
        }
        let Some(printer) = &self.printer else {
            return Ok(Err(ReceiptRefused::Unavailable));
        };
        let now = self.clock.now();
        let default = self.seal_addressee(order, &Self::default_addressee(order))?;
        let record = self
            .store
            .issue_receipt(order.id, kind, &default, order.data_key.as_ref(), now)
            .await?;
        let issue = record.issues(kind).max(1);
        let doc = SaleDocument {
            kind,
            lang: if order.lang == "en" { "en" } else { "ja" }.to_string(),
            document_number: document_number(&order.number, kind, issue),
            order_number: order.number.clone(),
            issue,
            issued_on: Date::today_in_japan(now),
            first_issued_on: record
                .first_at(kind)
                .filter(|_| issue > 1)
                .map(Date::today_in_japan),
            transaction_date: Date::today_in_japan(order.created_at),
            addressee: self.open_addressee(order, &record)?,
            lines: order
                .lines
                .iter()
                .map(|l| DocumentLine {
                    name: l.product_name.clone(),
                    variant: l.variant_label.clone(),
                    unit_price: l.unit_price,
                    quantity: l.quantity,
                    total: l.unit_price.checked_mul(l.quantity).unwrap_or_default(),
                    tax: l.tax,
                })
                .collect(),
            totals: order.totals,
            payment: order.payment,
            seller: self.seller.clone(),
            coupon_code: order.coupon_code.clone(),
        };
        let pdf = printer.print(&doc)?;
        tracing::info!(target: "kura::receipts", order = order.id, document = kind.code(), issue, "document issued");
        Ok(Ok(Issued {
            pdf,
            issue,
            document_number: doc.document_number,
        }))
    }
}

/// `K-ABCD-EFGH-R1`: the order number, `R` (receipt) or `I` (invoice), and the issue.
pub fn document_number(order_number: &str, kind: DocumentKind, issue: u32) -> String {
    let letter = match kind {
        DocumentKind::Receipt => 'R',
        DocumentKind::Invoice => 'I',
    };
    format!("{order_number}-{letter}{issue}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_numbers_name_the_order_the_kind_and_the_issue() {
        assert_eq!(
            document_number("K-ABCD-EFGH", DocumentKind::Receipt, 1),
            "K-ABCD-EFGH-R1"
        );
        assert_eq!(
            document_number("K-ABCD-EFGH", DocumentKind::Invoice, 12),
            "K-ABCD-EFGH-I12"
        );
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(k.code()), Some(k));
        }
    }
}
