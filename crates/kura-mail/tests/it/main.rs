//! kura-mail integration tests: rendering of every mail in both languages, the outbox
//! transport on a real file system, and the SMTP transport against a real local SMTP server
//! (Python's aiosmtpd; `pip install aiosmtpd`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fixtures;
mod outbox;
mod parse;
mod render;
mod smtp;
