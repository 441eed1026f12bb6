//! Kura's HTTP face.
//!
//! Guarantees: every route and the order of every security layer are in [`router`]; every
//! response carries the security headers; every unsafe browser request passes the CSRF and
//! cross-site checks; every error is a page (or JSON under `/api/`) in the visitor's language
//! with an operation id that is also in the log, and never a stack trace, SQL or echoed input.

pub mod admin;
pub mod api;
pub mod config;
pub mod cookies;
pub mod error;
pub mod form;
pub mod i18n;
pub mod pages;
pub mod router;
pub mod security;
pub mod state;

pub use config::{BankAccount, LegalNotice, WebConfig};
pub use router::{account_links, order_pages, router};
pub use state::{AppState, Shop, ShopParts, parse_networks};
