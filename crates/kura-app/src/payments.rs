//! The card-payment port: a hosted payment page at a provider, and the provider's signed
//! notifications. Kura never sees a card number: it sends the amount and order reference, the
//! customer types the card (and passes 3-D Secure) on the provider's page, and Kura learns the
//! result only from a notification whose signature and age it checks.

use async_trait::async_trait;

/// What Kura asks the provider to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Kura's order number, echoed back in notifications (`client_reference_id`).
    pub order_number: String,
    pub amount_yen: i64,
    /// Shown on the provider's page, e.g. "Kura order K-2026-000123".
    pub description: String,
    /// Where the provider sends the customer after paying / after giving up.
    pub success_url: String,
    pub cancel_url: String,
    /// "ja" or "en": the language of the provider's page.
    pub locale: String,
    /// Unix seconds after which the provider must refuse payment.
    pub expires_at: i64,
    /// Names this creation for the provider's retry protection: a retried request with the
    /// same key gets the same session back, so a fresh session for an order needs a fresh key.
    pub idempotency_key: String,
    /// Card, or convenience store (the provider's page then issues a payment number valid for
    /// [`kura_domain::KONBINI_DAYS`] days instead of taking a card).
    pub method: kura_domain::PaymentMethod,
}

/// A convenience-store payment number as the provider issued it: its hosted voucher page
/// (the number, the confirmation code and how to pay at each chain) and its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreVoucher {
    pub url: String,
    /// Unix seconds after which the store no longer accepts the payment.
    pub expires_at: i64,
}

/// What became of a payment session the shop asked the provider to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionClosed {
    /// Closed, now or earlier, without a payment: it can no longer take money.
    Unpaid,
    /// It was paid before it could be closed; the provider's paid notification says so too.
    Paid,
}

/// The provider's hosted page for one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

/// What the provider answered to a refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    /// The provider's refund id (`re_…`), kept in the audit log.
    pub id: String,
    pub amount_yen: i64,
    /// Accepted but not yet settled with the card network (it settles on its own; the money
    /// reaches the card either way).
    pub pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The customer paid (3-D Secure passed); the amount is captured.
    Paid,
    /// The session expired unpaid.
    Expired,
    /// A card was declined on the provider's page (the session stays open for another card);
    /// `session_id` is then the payment intent's id.
    Declined,
    /// A convenience-store payment number was issued on the provider's page (the session is
    /// complete but unpaid); the money comes later, as `Paid`, or never, as `Expired`.
    VoucherIssued,
}

/// A verified notification from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotification {
    /// The provider's event id, for de-duplication.
    pub event_id: String,
    pub session_id: String,
    pub order_number: String,
    pub amount_yen: i64,
    pub outcome: PaymentOutcome,
    /// The payment the session created, where the event names it (a voucher is read
    /// through it).
    pub payment_intent: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PaymentError {
    #[error("the payment provider could not be reached or refused the request: {0}")]
    Provider(String),
    #[error("the notification signature is missing or wrong")]
    BadSignature,
    #[error("the notification is outside the accepted time window")]
    Stale,
    #[error("the notification is not one Kura understands: {0}")]
    Unsupported(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Creates the hosted payment page for an order.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError>;
    /// Closes an open session so that it can no longer take a payment (before the shop hands
    /// out a fresh one, or cancels the order). A session that had already closed answers how it
    /// ended.
    async fn expire_checkout(&self, session_id: &str) -> Result<SessionClosed, PaymentError>;
    /// Gives `amount_yen` of a paid session's payment back to the card. A retry with the same
    /// `idempotency_key` returns the first refund instead of making a second one.
    async fn refund(
        &self,
        session_id: &str,
        amount_yen: i64,
        idempotency_key: &str,
    ) -> Result<RefundReceipt, PaymentError>;
    /// Reads the convenience-store voucher a payment was issued (its page and deadline).
    async fn store_voucher(&self, payment_intent: &str) -> Result<StoreVoucher, PaymentError>;
    /// Verifies a notification's signature (header value) and age against `now` (unix seconds)
    /// and parses it. Events Kura does not act on yield `PaymentError::Unsupported`.
    fn verify_notification(
        &self,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<PaymentNotification, PaymentError>;
    /// The origin (`https://host`) of the provider's hosted payment pages. The shop's CSP
    /// `form-action` must allow it: browsers apply that directive to the redirect that follows
    /// the order form.
    fn checkout_origin(&self) -> String;
}
