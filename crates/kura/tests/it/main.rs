//! Kura's integration tests: one binary, one module per story.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod accounts;
mod api;
mod attacks;
mod backoffice;
mod browser;
mod card_payments;
mod catalog;
mod cli;
mod cluster;
mod coupons;
mod guard;
mod incidents;
mod invariant;
mod konbini;
mod mail_trust;
mod nodes;
mod receipts;
mod rotation;
mod store_conformance;
mod storefront;
mod support;
mod web_security;
