//! 入荷お知らせ: a signed-in customer asks to be mailed when a sold-out variant is back.
//!
//! Guarantees:
//! - Nothing personal is stored for a request: the customer's id, the SKU and the language.
//!   The mail goes to the account's sealed address, opened only to write it, and the mail is
//!   sealed under the customer's data key; erasing the customer removes their requests.
//! - A request is mailed once: its mail is stored and the request removed in one transaction,
//!   so two nodes sweeping at once send one mail.
//! - The mail is written only while the variant has stock and its product is shown, and says
//!   no more than that (stock may run out again).
//! - A sweep finds every request whose variant has stock, however the stock came back (the
//!   back office, a cancelled order, the command line), so none waits for a particular path.

use std::sync::Arc;

use crate::catalog::CatalogItem;
use crate::clock::Clock;
use crate::customers::Customers;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::ports::Store;
use crate::sealed::{DataKeyRef, OutboxRecord};
use crate::vault::Vault;

/// Most open requests one customer may have.
pub const MAX_REQUESTS: usize = 20;

/// What a restock mail says, for the notifier to render and seal.
pub struct RestockMail<'a> {
    pub email: &'a str,
    /// "ja" or "en".
    pub lang: &'a str,
    pub item: &'a CatalogItem,
    /// The product page, on the configured public address.
    pub product_url: String,
    /// When the stock was seen (Unix seconds).
    pub seen_at: i64,
    pub data_key: Option<&'a DataKeyRef>,
}

pub trait RestockNotifier: Send + Sync {
    fn restock_notice(&self, mail: &RestockMail<'_>) -> Result<OutboxRecord, AppError>;
}

/// The answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Recorded (or recorded already).
    Recorded,
    /// The variant has stock now: nothing to wait for.
    InStock,
    UnknownSku,
    /// The customer has [`MAX_REQUESTS`] open requests.
    TooMany,
}

pub struct Restock {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn RestockNotifier>,
    /// The public address product links start with (no trailing slash).
    base_url: String,
}

impl Restock {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        clock: Arc<dyn Clock>,
        notifier: Arc<dyn RestockNotifier>,
        base_url: &str,
    ) -> Self {
        Self {
            store,
            vault,
            clock,
            notifier,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// Records that the customer wants a mail when `sku` is back in stock.
    pub async fn ask(&self, customer_id: i64, sku: &str, lang: &str) -> Result<Asked, AppError> {
        let Some(item) = self.store.catalog_items(&[sku.to_string()]).await?.pop() else {
            return Ok(Asked::UnknownSku);
        };
        if item.stock > 0 {
            return Ok(Asked::InStock);
        }
        let open = self.store.restock_requests_of(customer_id).await?;
        if open.iter().any(|s| s == sku) {
            return Ok(Asked::Recorded);
        }
        if open.len() >= MAX_REQUESTS {
            return Ok(Asked::TooMany);
        }
        let lang = if lang == "en" { "en" } else { "ja" };
        self.store
            .add_restock_request(customer_id, &item.sku, lang, self.clock.now())
            .await?;
        Ok(Asked::Recorded)
    }

    /// Withdraws a request; false when there was none.
    pub async fn withdraw(&self, customer_id: i64, sku: &str) -> Result<bool, AppError> {
        Ok(self.store.remove_restock_request(customer_id, sku).await?)
    }

    /// The SKUs the customer waits for.
    pub async fn requests_of(&self, customer_id: i64) -> Result<Vec<String>, AppError> {
        Ok(self.store.restock_requests_of(customer_id).await?)
    }

    /// Mails up to `limit` requests whose variant has stock again; returns how many were
    /// mailed. A customer who cannot be read (erased meanwhile) loses the request.
    pub async fn notify_due(&self, limit: u32) -> Result<u64, AppError> {
        let due = self.store.due_restock_requests(limit).await?;
        let mut sent = 0;
        for (customer_id, sku, lang) in due {
            let Some(item) = self
                .store
                .catalog_items(std::slice::from_ref(&sku))
                .await?
                .pop()
            else {
                continue;
            };
            if item.stock <= 0 {
                continue;
            }
            let Some(rec) = self.store.customer(customer_id).await? else {
                self.store.remove_restock_request(customer_id, &sku).await?;
                continue;
            };
            let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
            let profile = Customers::open(&keys, &rec)?;
            let mail = self.notifier.restock_notice(&RestockMail {
                email: profile.email.as_str(),
                lang: &lang,
                product_url: format!("{}/products/{}", self.base_url, item.product_slug),
                item: &item,
                seen_at: self.clock.now(),
                data_key: rec.data_key.as_ref(),
            })?;
            if self
                .store
                .complete_restock_request(customer_id, &sku, &mail)
                .await?
            {
                sent += 1;
            }
        }
        Ok(sent)
    }
}
