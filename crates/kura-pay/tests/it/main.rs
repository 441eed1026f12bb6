//! kura-pay integration tests: the adapter against the in-process sandbox, the browser payment
//! flows through the sandbox's pages, and webhook verification end to end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod adapter;
mod flows;
mod support;
mod webhooks;
