//! The guard: Kura notices an attack while it happens and acts within the request.
//!
//! - [`inspect`]: a compact rule set over a request's path, query, headers and body for SQL
//!   injection, cross-site scripting, path traversal, command injection, scanner fingerprints and
//!   probes for other platforms' admin paths. It sees what the client sent, never decrypted
//!   personal data.

pub mod inspect;
