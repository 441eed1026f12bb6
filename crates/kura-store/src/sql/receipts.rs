//! Receipts and invoices of orders: the sealed addressee and the issue counts; written once,
//! compiled once per backend (see the crate documentation).

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::ReceiptRepo;
use kura_app::records::{DataKeyRef, DocumentKind, ReceiptRecord};
use kura_seal::Sealed;
use sqlx::Row;

use super::{DbRow, This, data_keys};
use crate::db_err;

fn count(r: &DbRow, column: &str) -> Result<u32, sqlx::Error> {
    let n: i64 = r.try_get(column)?;
    u32::try_from(n).map_err(|_| sqlx::Error::Decode(format!("{column} is {n}").into()))
}

/// A row read with the columns of `order_receipts`; its data key comes from `data_key`.
fn receipt_from_row(r: &DbRow, data_key: Option<DataKeyRef>) -> Result<ReceiptRecord, sqlx::Error> {
    Ok(ReceiptRecord {
        order_id: r.try_get("id")?,
        addressee: Sealed::from_stored(r.try_get("addressee")?),
        receipt_issues: count(r, "receipt_issues")?,
        invoice_issues: count(r, "invoice_issues")?,
        receipt_first_at: r.try_get("receipt_first_at")?,
        invoice_first_at: r.try_get("invoice_first_at")?,
        data_key,
    })
}

#[async_trait]
impl ReceiptRepo for This {
    async fn order_receipt(&self, order_id: i64) -> Result<Option<ReceiptRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM order_receipts t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.reads())
        .await
        .map_err(db_err)?;
        row.map(|r| {
            let key = data_keys::from_row(&r)?;
            receipt_from_row(&r, key)
        })
        .transpose()
        .map_err(db_err)
    }

    async fn set_receipt_addressee(
        &self,
        order_id: i64,
        addressee: &Sealed,
        data_key: Option<&DataKeyRef>,
        now: i64,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            // The update's condition is the rule: once a document was issued, the row keeps
            // the addressee it was printed with.
            sqlx::query(
                "INSERT INTO order_receipts (id, addressee, data_key_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (id) DO UPDATE SET addressee = excluded.addressee, \
                 updated_at = excluded.updated_at \
                 WHERE order_receipts.receipt_issues = 0 AND order_receipts.invoice_issues = 0",
            )
            .bind(order_id)
            .bind(addressee.as_bytes().to_vec())
            .bind(data_keys::id_of(data_key))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn issue_receipt(
        &self,
        order_id: i64,
        kind: DocumentKind,
        default_addressee: &Sealed,
        data_key: Option<&DataKeyRef>,
        now: i64,
    ) -> Result<ReceiptRecord, StoreError> {
        let (receipt, invoice) = match kind {
            DocumentKind::Receipt => (1_i64, 0_i64),
            DocumentKind::Invoice => (0, 1),
        };
        let row = write_tx!(self, |tx| {
            // One statement: the count goes up and the row as it is now comes back, so each
            // issue gets a number of its own however many run at once.
            sqlx::query(
                "INSERT INTO order_receipts (id, addressee, data_key_id, receipt_issues, \
                 invoice_issues, receipt_first_at, invoice_first_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (id) DO UPDATE SET \
                 receipt_issues = order_receipts.receipt_issues + excluded.receipt_issues, \
                 invoice_issues = order_receipts.invoice_issues + excluded.invoice_issues, \
                 receipt_first_at = COALESCE(order_receipts.receipt_first_at, excluded.receipt_first_at), \
                 invoice_first_at = COALESCE(order_receipts.invoice_first_at, excluded.invoice_first_at), \
                 updated_at = excluded.updated_at \
                 RETURNING id, addressee, receipt_issues, invoice_issues, receipt_first_at, \
                 invoice_first_at",
            )
            .bind(order_id)
            .bind(default_addressee.as_bytes().to_vec())
            .bind(data_keys::id_of(data_key))
            .bind(receipt)
            .bind(invoice)
            .bind((receipt == 1).then_some(now))
            .bind((invoice == 1).then_some(now))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        })?;
        receipt_from_row(&row, data_key.cloned()).map_err(db_err)
    }
}
