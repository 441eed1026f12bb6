//! Card payments through a provider's hosted page (the Stripe Checkout protocol subset), and a
//! local payment sandbox that speaks the same subset.
//!
//! Guarantees (DESIGN.md §1, invariant 2 — card data never touches the server):
//! - [`StripeCheckout`] sends the provider only the amount, a description, the order number and
//!   return URLs; the customer types the card and passes 3-D Secure on the provider's page;
//! - Kura learns a payment's result only from a notification whose HMAC-SHA256 signature and
//!   age both verify ([`signature`]);
//! - secrets (`sk_...`, `whsec_...`) are held in `SecretString`, never printed by `Debug` and
//!   never included in an error;
//! - TLS, where used, is rustls on the ring provider only: no OpenSSL, no aws-lc.
//!
//! The [`sandbox`] is for demos and tests; it never runs inside the shop's process in
//! production, and the card data typed into it is dropped at the end of each request.

pub mod sandbox;
pub mod signature;
pub mod stripe;

pub use stripe::{
    STRIPE_API_BASE, StripeCheckout, StripeConfig, StripeSetupError, http_client, parse_event,
};
