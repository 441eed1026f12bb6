//! Kura's use cases and the ports they need.
//!
//! Guarantees: plaintext personal data enters a port only after [`Vault`] sealed it (the
//! repository types hold [`kura_seal::Sealed`] and [`kura_seal::BlindIndex`], never strings), and
//! every security-relevant outcome is reported to the [`SecurityEvents`] port.

pub mod accounts;
pub mod audit;
pub mod backoffice;
pub mod canary;
pub mod carts;
pub mod catalog;
pub mod catalog_admin;
pub mod checkout;
pub mod clock;
pub mod coupons;
pub mod customers;
pub mod data_keys;
pub mod error;
pub mod events;
pub mod exports;
pub mod ids;
pub mod images;
pub mod incident_people;
pub mod incidents;
pub mod inquiries;
pub mod key_checks;
pub mod lookup;
pub mod mail;
pub mod orders;
pub mod payments;
pub mod ports;
pub mod receipts;
pub mod records;
pub mod restock;
pub mod retention;
pub mod rotation;
pub mod sealed;
pub mod sessions;
pub mod staff;
pub mod vault;

pub use clock::{Clock, SystemClock};
pub use customers::Customers;
pub use error::{AppError, StoreError};
pub use events::{LogEvents, SecurityEvent, SecurityEventKind, SecurityEvents};
pub use ids::new_id;
pub use ports::{
    AccountRepo, AuditRepo, CartRepo, CatalogEditRepo, CatalogRepo, CouponRepo, CustomerRepo,
    OrderRepo, OutboxRepo, ReceiptRepo, SealedRowRepo, SessionRepo, StaffRepo, Store,
};
pub use sessions::{CheckoutDraft, LoadedSession, SessionData, SessionPolicy, Sessions};
pub use vault::Vault;
