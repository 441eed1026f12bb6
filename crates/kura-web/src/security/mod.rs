//! One file per security layer; `router.rs` states their order.

pub mod body_limit;
pub mod card_guard;
pub mod client_ip;
pub mod csrf;
pub mod guard;
pub mod headers;
pub mod maintenance;
pub mod rate_limit;
pub mod request_id;
pub mod session;
