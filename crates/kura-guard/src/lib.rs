//! The guard: Kura notices an attack while it happens and acts within the request.
//!
//! - [`inspect`]: a compact rule set over a request's path, query, headers and body for SQL
//!   injection, cross-site scripting, path traversal, command injection, scanner fingerprints and
//!   probes for other platforms' admin paths. It sees what the client sent, never decrypted
//!   personal data.

//! - [`window`]: bounded sliding-window counters.
//! - [`detect`]: the detectors (what counts, per whom, how many is too many, what to do).
//! - [`guard`]: the [`Guard`], which takes every security event, counts it and responds before
//!   the request that caused it goes on.

pub mod detect;
pub mod guard;
pub mod inspect;
pub mod window;

pub use detect::{Detector, Per, Response, Severity, Tuning, WorkingHours};
pub use guard::{Alert, Guard, NoResponder, Principal, Responder, source_address};
