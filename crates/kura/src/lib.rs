//! The `kura` program as a library: configuration, wiring and operations, so that the binary
//! and the integration tests drive exactly the same code.

pub mod bench;
pub mod bench_admin;
pub mod bench_card;
pub mod bench_guard;
pub mod bench_incident;
pub mod bench_search;
pub mod bench_web;
pub mod catalog_data;
pub mod config;
pub mod demo;
pub mod guarding;
pub mod honeytoken;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod shop;
pub mod staff_cli;
pub mod synth;
