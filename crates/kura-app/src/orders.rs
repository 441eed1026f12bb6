//! Checkout and orders.
//!
//! Guarantees: prices come from the catalog at the moment of ordering; stock is taken
//! atomically with the order (never oversold); a repeated submission (same idempotency key)
//! yields the first order, never a second; buyer and recipient are sealed before they reach
//! the store; an unpaid card order expires and gives its stock back; a payment notification
//! is acted on once, only when its signature verified and its amount matches.

use std::net::IpAddr;
use std::sync::Arc;

use crate::sealed::OutboxRecord;
use kura_domain::{
    CustomerProfile, Date, DeliverySlot, Email, OrderStatus, PaymentMethod, Person, Phone, Totals,
    Yen, delivery_window,
};
use kura_seal::{Normalize, SessionToken};
use serde::Serialize;

use crate::carts::CartView;
pub use crate::checkout::{CheckoutError, CheckoutInput};
use crate::checkout::{CheckoutProblem, TypedCheckout};
use crate::clock::Clock;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::lookup::{LookupPolicy, LookupThrottle};
use crate::payments::{
    CheckoutRequest, PaymentGateway, PaymentNotification, PaymentOutcome, RefundReceipt,
    SessionClosed,
};
use crate::ports::{PaymentEventOutcome, Store, Transition};
use crate::sealed::{DataKeyRef, OrderLineRecord, OrderRecord, PlaceOutcome, col};
use crate::vault::Vault;

/// How long after a convenience-store number's deadline the shop waits for the provider's
/// word before it lapses the order itself.
pub const KONBINI_GRACE_SECONDS: i64 = 3600;

/// An order as a person reads it.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub id: i64,
    pub number: String,
    pub customer_id: Option<i64>,
    pub status: OrderStatus,
    pub payment: PaymentMethod,
    pub lang: String,
    pub buyer: CustomerProfile,
    pub recipient: Option<Person>,
    pub delivery_date: Option<Date>,
    pub delivery_slot: Option<DeliverySlot>,
    pub totals: Totals,
    pub lines: Vec<OrderLineRecord>,
    pub payment_url: Option<String>,
    pub payment_expires_at: Option<i64>,
    pub created_at: i64,
    /// The buyer's data key: mails about the order are sealed under it.
    pub data_key: Option<DataKeyRef>,
    /// のし and wrapping asked for at checkout.
    pub gift: Option<kura_domain::Gift>,
    /// The order note (ご要望).
    pub note: Option<String>,
    /// The coupon used (its discount is `totals.discount`).
    pub coupon_code: Option<String>,
}

/// What the order's sealed buyer field holds: the buyer's profile and, beside it, what they
/// asked for with the order that is as personal as the rest (the name on a のし, the note).
/// Orders from before these fields read with none.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedBuyer {
    #[serde(flatten)]
    profile: CustomerProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gift: Option<kura_domain::Gift>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl OrderView {
    pub fn ship_to(&self) -> &Person {
        self.recipient.as_ref().unwrap_or(&self.buyer.person)
    }
}

/// The result of placing an order.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub id: i64,
    pub number: String,
    /// The bearer token that reads this order through the API.
    pub token: String,
    pub status: OrderStatus,
    pub total: Yen,
    /// What the order's coupon took off (zero without one).
    pub discount: Yen,
    /// Where to send the customer to pay by card.
    pub payment_url: Option<String>,
    /// True when this submission repeated an earlier one.
    pub repeated: bool,
}

/// Tells customers about their orders (mail, in production). `order_url` is the order's page
/// as the mail should link it.
pub trait OrderNotifier: Send + Sync {
    /// The confirmation for a new order, sealed for the outbox (or `None` to send nothing).
    /// It says only what is true when the order is placed: a card order's confirmation says
    /// the payment is awaited and links the page to pay on. Cash on delivery and bank transfer
    /// confirmations are stored in the order's own transaction.
    fn order_placed(
        &self,
        order: &OrderView,
        order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError>;

    /// The notice that the payment arrived (the provider's paid notification for a card, the
    /// recorded transfer for a bank transfer), stored with the order's move to paid.
    fn payment_received(
        &self,
        _order: &OrderView,
        _order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        Ok(None)
    }

    /// The shipping notice (carrier and tracking number), sealed for the outbox.
    fn order_shipped(
        &self,
        _order: &OrderView,
        _parcel: &Parcel,
        _order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        Ok(None)
    }

    /// Packed, delivered, cancelled or refunded, sealed for the outbox.
    fn status_changed(
        &self,
        _order: &OrderView,
        _notice: StatusNotice,
        _order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        Ok(None)
    }
}

/// A change of an order's status the customer is told about (besides payment and shipping,
/// which have their own notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusNotice {
    Packed,
    Delivered,
    Cancelled(CancelReason),
    /// The amount went back to the card through the provider.
    Refunded {
        amount: Yen,
    },
    /// A convenience-store payment number was issued; the order's payment URL is its voucher
    /// page and its payment deadline the number's.
    KonbiniVoucher,
    /// The convenience-store payment did not arrive by the number's deadline.
    KonbiniLapsed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The shop cancelled it (at the customer's request, or out of stock).
    ByShop,
    /// The bank transfer did not arrive by the date the confirmation named.
    TransferDeadline,
}

/// What became of a request to pay an unpaid card order (again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardResume {
    /// Send the customer to this provider page.
    Pay(String),
    /// The order is not waiting for a card payment (paid, expired, cancelled, not a card order).
    NotAwaiting(OrderStatus),
    /// A payment went through on the provider's side; its notification is on its way.
    PaidMeanwhile,
    /// The provider cannot be reached now, or card payment is not configured.
    Unavailable,
}

/// An unpaid card order released so that its items can be ordered again (with another method).
#[derive(Debug, Clone)]
pub struct Reopened {
    /// The lines as ordered: SKU and quantity.
    pub lines: Vec<(String, u32)>,
    /// What was entered at checkout, to fill the form in again (a delivery date no longer
    /// in the delivery window left out).
    pub input: CheckoutInput,
}

/// Why an order could not be reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReopenRefused {
    /// Paid, shipped or waiting for a bank transfer or the door: nothing to redo.
    NotReopenable(OrderStatus),
    /// The card payment went through meanwhile; the order is being confirmed.
    PaidMeanwhile,
    /// The provider could not confirm that the payment page is closed; try again later.
    Unavailable,
}

/// What the shipping notice tells: who carries the parcel and how to follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
}

/// Why an order could not be moved on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulfilError {
    UnknownOrder,
    /// The order's status does not allow it (e.g. shipping an unpaid bank transfer).
    WrongStatus(OrderStatus),
    /// Only card payments are refunded here: the provider holds the payment to give back.
    NotRefundable,
    /// The card payment was paid for meanwhile: refund it instead of cancelling.
    PaidMeanwhile,
    /// The payment provider is not configured, cannot be reached, or refused (its answer, for
    /// the log and the staff member; it holds no card data).
    Provider(String),
}

/// A refund as done: the provider's receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    pub receipt: RefundReceipt,
    /// The order's status before the refund.
    pub was: OrderStatus,
}

impl std::fmt::Display for FulfilError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownOrder => f.write_str("no order has that number"),
            Self::WrongStatus(s) => write!(f, "not possible while the order is {}", s.code()),
            Self::NotRefundable => f.write_str("only card payments are refunded through the shop"),
            Self::PaidMeanwhile => {
                f.write_str("the card payment went through meanwhile: refund it instead")
            }
            Self::Provider(e) => write!(f, "the payment provider: {e}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrderSettings {
    /// The shop's public base URL, for the payment provider's return links.
    pub base_url: String,
    /// How long a card order waits for payment before its stock returns.
    pub card_minutes: i64,
    /// Days after the order date (Japan) by which a bank transfer must arrive; the confirmation
    /// names that date, and an order still unpaid the day after is cancelled.
    pub transfer_days: i64,
    /// The front end's pages and words that order links and card payments name.
    pub pages: OrderPages,
}

/// What the front end calls things, handed in by whoever wires the shop: the use cases know
/// no route and no words of a page. In each text `{number}` stands for the order number.
#[derive(Debug, Clone)]
pub struct OrderPages {
    /// The path of an order's page (mails link it, signed).
    pub order: String,
    /// The path the card provider sends the customer back to.
    pub card_return: String,
    /// What the provider's payment page calls the payment, in Japanese and in English.
    pub card_description_ja: String,
    pub card_description_en: String,
}

impl OrderPages {
    fn fill(text: &str, number: &str) -> String {
        text.replace("{number}", number)
    }
}

/// How long a mailed order link opens its order, from the moment the mail is made: long enough
/// for the parcel to arrive and be followed; later, a guest looks the order up by number and
/// email or phone.
pub const ORDER_LINK_DAYS: i64 = 30;

/// The answer to a guest's order lookup. "No such order" and "details that do not match" are
/// one answer, so a lookup tells nothing about order numbers.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(Box<OrderView>),
    NoMatch,
    /// Too many attempts from this client or on this order number; seconds to wait.
    Throttled {
        retry_after: i64,
    },
}

/// `K-ABCD-EFGH` however it was typed (full-width, lower case, without or with other
/// hyphens); anything else is returned cleaned up, and matches no order.
fn normalise_order_number(typed: &str) -> String {
    let plain: String = kura_domain::search_form(typed)
        .to_ascii_uppercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    match (plain.get(..1), plain.get(1..5), plain.get(5..)) {
        (Some("K"), Some(a), Some(b)) if plain.len() == 9 => format!("K-{a}-{b}"),
        _ => plain,
    }
}

pub struct Orders {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    gateway: Option<Arc<dyn PaymentGateway>>,
    notifier: Arc<dyn OrderNotifier>,
    settings: OrderSettings,
    lookups: LookupThrottle,
    canaries: Option<Arc<crate::canary::Canaries>>,
    events: Option<Arc<dyn crate::SecurityEvents>>,
}

const BASE32: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `K-XXXX-XXXX`: 40 random bits in Crockford base32, so numbers cannot be guessed in sequence.
fn order_number() -> Result<String, AppError> {
    let bytes = kura_seal::random_bytes::<5>()?;
    let n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let chars: String = (0..8)
        .rev()
        .map(|i| {
            char::from(
                BASE32
                    .get(((n >> (i * 5)) & 31) as usize)
                    .copied()
                    .unwrap_or(b'0'),
            )
        })
        .collect();
    Ok(format!(
        "K-{}-{}",
        chars.get(..4).unwrap_or(""),
        chars.get(4..).unwrap_or("")
    ))
}

impl Orders {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        clock: Arc<dyn Clock>,
        gateway: Option<Arc<dyn PaymentGateway>>,
        notifier: Arc<dyn OrderNotifier>,
        settings: OrderSettings,
    ) -> Self {
        Self {
            store,
            vault,
            clock,
            gateway,
            notifier,
            settings,
            lookups: LookupThrottle::new(LookupPolicy::default()),
            canaries: None,
            events: None,
        }
    }

    /// Where the use cases report security events (declined cards).
    pub fn with_events(mut self, events: Arc<dyn crate::SecurityEvents>) -> Self {
        self.events = Some(events);
        self
    }

    /// Replaces the default order-lookup throttle.
    pub fn with_lookup_policy(mut self, policy: LookupPolicy) -> Self {
        self.lookups = LookupThrottle::new(policy);
        self
    }

    /// Watches the shop's canary customers: opening a canary's order raises the alert.
    pub fn with_canaries(mut self, canaries: Arc<crate::canary::Canaries>) -> Self {
        self.canaries = Some(canaries);
        self
    }

    pub fn card_available(&self) -> bool {
        self.gateway.is_some()
    }

    /// The dates a customer may pick for delivery.
    pub fn delivery_window(&self) -> (Date, Date) {
        delivery_window(self.clock.now())
    }

    /// A typed checkout checked against the rules as of now (see [`crate::checkout::validate`]):
    /// the delivery window of today, and card payment only when a provider is configured.
    pub fn checkout_input(
        &self,
        typed: &TypedCheckout<'_>,
    ) -> Result<CheckoutInput, Vec<CheckoutProblem>> {
        crate::checkout::validate(typed, self.clock.now(), self.card_available())
    }

    /// What `cart` costs with `input` for this buyer now: with the input's coupon taken off
    /// when it applies, or why it does not ([`CheckoutError::Coupon`]). The one computation
    /// of the total the confirmation page shows and [`Self::place`] charges.
    pub async fn quote(
        &self,
        cart: &CartView,
        customer_id: Option<i64>,
        input: &CheckoutInput,
    ) -> Result<Result<Totals, CheckoutError>, AppError> {
        let Some(code) = &input.coupon else {
            return Ok(Ok(input.totals(cart)));
        };
        let holders =
            crate::coupons::email_holders(&self.vault, input.buyer.email.as_str(), customer_id)?;
        let goods = input.totals(cart).goods;
        Ok(
            crate::coupons::resolve(&*self.store, code, goods, &holders, self.clock.now())
                .await?
                .map(|discount| input.totals_with_discount(cart, discount))
                .map_err(CheckoutError::Coupon),
        )
    }

    /// Places an order for the cart's contents. `idempotency` names the submission (the
    /// checkout form's attempt id, or the API's Idempotency-Key scoped to the cart).
    /// `shown_total`, when given, is the total the customer was shown and confirmed: a cart
    /// whose total differs now is refused with [`CheckoutError::TotalChanged`] (特定商取引法
    /// §12-6: the final confirmation screen binds).
    pub async fn place(
        &self,
        cart: &CartView,
        cart_id: Option<i64>,
        customer_id: Option<i64>,
        input: &CheckoutInput,
        idempotency: &str,
        shown_total: Option<Yen>,
    ) -> Result<Result<PlacedOrder, CheckoutError>, AppError> {
        let idempotency_hash = kura_seal::sha256(idempotency.as_bytes());
        if cart.lines.is_empty() {
            // A repeated submission finds its order even though the first one emptied the
            // cart. (With items still in the cart, the store's unique key on the hash tells.)
            if let Some(order_id) = self
                .store
                .order_id_by_idempotency(&idempotency_hash)
                .await?
            {
                return self.repeated(order_id).await.map(Ok);
            }
            return Ok(Err(CheckoutError::EmptyCart));
        }
        let totals = match self.quote(cart, customer_id, input).await? {
            Ok(t) => t,
            Err(e) => {
                // A repeated submission of an order that used the code finds that order.
                if let Some(order_id) = self
                    .store
                    .order_id_by_idempotency(&idempotency_hash)
                    .await?
                {
                    return self.repeated(order_id).await.map(Ok);
                }
                return Ok(Err(e));
            }
        };
        if shown_total.is_some_and(|shown| shown != totals.total) {
            return Ok(Err(CheckoutError::TotalChanged {
                total: totals.total,
            }));
        }
        if let Some(d) = input.delivery_date {
            let (first, last) = self.delivery_window();
            if d < first || d > last {
                return Ok(Err(CheckoutError::DeliveryDateOutOfRange));
            }
        }
        if input.payment.is_hosted() && self.gateway.is_none() {
            return Ok(Err(CheckoutError::CardUnavailable));
        }
        if input.payment == PaymentMethod::Konbini && totals.total > kura_domain::KONBINI_MAX {
            return Ok(Err(CheckoutError::KonbiniLimit));
        }
        let now = self.clock.now();
        let ring = self.vault.ring();
        // The buyer's personal data goes under their data key: the account's, or, for a guest
        // (or an account from before data keys), a key of the order's own.
        let account_key = match customer_id {
            Some(cid) => self.store.customer(cid).await?.and_then(|c| c.data_key),
            None => None,
        };
        let (keys, data_key) = match account_key {
            Some(key) => (PersonKeys::of(&self.vault, Some(&key))?, key),
            None => PersonKeys::new_person(&self.vault)?,
        };
        let id = crate::ids::new_id();
        let token = SessionToken::generate()?;
        let status = OrderStatus::initial(input.payment);
        let record = OrderRecord {
            id,
            number: order_number()?,
            customer_id,
            status,
            payment: input.payment,
            lang: if input.lang == "en" {
                "en".into()
            } else {
                "ja".into()
            },
            buyer: keys.seal(
                col::ORDER_BUYER,
                id,
                to_json(&SealedBuyer {
                    profile: input.buyer.clone(),
                    gift: input.gift.clone(),
                    note: input.note.clone(),
                })?
                .as_bytes(),
            )?,
            recipient: match &input.recipient {
                Some(r) => Some(keys.seal(col::ORDER_RECIPIENT, id, to_json(r)?.as_bytes())?),
                None => None,
            },
            access_token: keys.seal(col::ORDER_TOKEN, id, token.expose().as_bytes())?,
            email_bidx: ring.blind_index(
                col::ORDER_EMAIL_BIDX,
                input.buyer.email.as_str(),
                Normalize::Email,
            )?,
            phone_bidx: ring.blind_index(
                col::ORDER_PHONE_BIDX,
                input.buyer.person.phone.as_str(),
                Normalize::Digits,
            )?,
            delivery_date: input.delivery_date.map(Date::iso),
            delivery_slot: input.delivery_slot.map(|s| s.code().to_string()),
            totals,
            payment_session_id: None,
            payment_url: None,
            payment_expires_at: input
                .payment
                .is_hosted()
                .then_some(now + self.settings.card_minutes * 60),
            idempotency_hash,
            created_at: now,
            lines: cart
                .lines
                .iter()
                .map(|l| OrderLineRecord {
                    sku: l.item.sku.clone(),
                    product_name: if input.lang == "en" {
                        l.item.product_name_en.clone()
                    } else {
                        l.item.product_name_ja.clone()
                    },
                    variant_label: if input.lang == "en" {
                        l.item.label_en.clone()
                    } else {
                        l.item.label_ja.clone()
                    },
                    unit_price: l.item.price,
                    quantity: l.quantity,
                    tax: l.item.tax,
                })
                .collect(),
            data_key: Some(data_key),
            coupon_code: input
                .coupon
                .as_ref()
                .filter(|_| totals.discount > Yen::ZERO)
                .map(|c| c.as_str().to_string()),
        };
        // Cash on delivery and bank transfer are confirmed now, in the order's transaction; a
        // card order is confirmed once the provider has accepted its checkout.
        let mail = if input.payment.is_hosted() {
            None
        } else {
            self.confirmation(&record)
        };
        match self
            .store
            .place_order(&record, cart_id, mail.as_ref())
            .await?
        {
            PlaceOutcome::Placed => {}
            PlaceOutcome::Duplicate { order_id } => return self.repeated(order_id).await.map(Ok),
            PlaceOutcome::SoldOut { sku } => return Ok(Err(CheckoutError::SoldOut { sku })),
            PlaceOutcome::PriceChanged { sku } => {
                return Ok(Err(CheckoutError::PriceChanged { sku }));
            }
            PlaceOutcome::Unavailable { sku } => {
                return Ok(Err(CheckoutError::Unavailable { sku }));
            }
            PlaceOutcome::CouponUsed => {
                return Ok(Err(CheckoutError::Coupon(
                    kura_domain::Refusal::AlreadyUsed,
                )));
            }
        }
        let mut payment_url = None;
        if let (true, Some(gateway)) = (input.payment.is_hosted(), &self.gateway) {
            let request = self.card_request(
                &record,
                record.payment_expires_at.unwrap_or(now + 1800),
                record.number.clone(),
            );
            match gateway.create_checkout(&request).await {
                Ok(session) => {
                    self.store
                        .set_payment_session(id, &session.id, &session.url)
                        .await?;
                    payment_url = Some(session.url);
                }
                Err(e) => {
                    tracing::error!(target: "kura::payments", order = id, error = %e, "the payment provider refused the checkout; order cancelled and stock returned");
                    self.store
                        .transition_order(
                            id,
                            &[OrderStatus::AwaitingPayment],
                            OrderStatus::Cancelled,
                            true,
                            now,
                            None,
                        )
                        .await?;
                    return Ok(Err(CheckoutError::CardUnavailable));
                }
            }
        }
        if input.payment.is_hosted()
            && let Some(mail) = self.confirmation(&record)
            && let Err(e) = self.store.enqueue_mail(&mail).await
        {
            // A failed notice must not undo an accepted order.
            tracing::error!(target: "kura::orders", order = id, error = %e, "order confirmation could not be queued");
        }
        Ok(Ok(PlacedOrder {
            id,
            number: record.number,
            token: token.expose().to_string(),
            status,
            total: totals.total,
            discount: totals.discount,
            payment_url,
            repeated: false,
        }))
    }

    /// What the provider is asked to collect for an order.
    fn card_request(
        &self,
        record: &OrderRecord,
        expires_at: i64,
        idempotency_key: String,
    ) -> CheckoutRequest {
        let pages = &self.settings.pages;
        let back = format!(
            "{}{}",
            self.settings.base_url,
            OrderPages::fill(&pages.card_return, &record.number)
        );
        let description = if record.lang == "en" {
            &pages.card_description_en
        } else {
            &pages.card_description_ja
        };
        CheckoutRequest {
            order_number: record.number.clone(),
            amount_yen: record.totals.total.0,
            description: OrderPages::fill(description, &record.number),
            success_url: back.clone(),
            cancel_url: back,
            locale: record.lang.clone(),
            expires_at,
            idempotency_key,
            method: record.payment,
        }
    }

    /// The order's page as mails link it: signed, so that it opens on any device (another
    /// browser, a phone) for [`ORDER_LINK_DAYS`], without the session that placed the order.
    pub fn order_url(&self, record: &OrderRecord) -> String {
        let page = format!(
            "{}{}",
            self.settings.base_url,
            OrderPages::fill(&self.settings.pages.order, &record.number)
        );
        let expires_at = self.clock.now() + ORDER_LINK_DAYS * 86_400;
        match self.vault.ring().order_link_token(record.id, expires_at) {
            Ok(token) => format!("{page}?k={token}"),
            Err(e) => {
                tracing::error!(target: "kura::orders", order = record.id, error = %e, "order link could not be signed; the mail links the plain page");
                page
            }
        }
    }

    /// The order a mailed link opens. The token's signature and expiry are checked first, in
    /// constant time and without the database; only a genuine token costs a lookup, and it
    /// opens only the order it was made for.
    pub async fn view_by_link(
        &self,
        number: &str,
        token: &str,
    ) -> Result<Option<OrderView>, AppError> {
        let Some(id) = self.vault.ring().verify_order_link(token, self.clock.now()) else {
            return Ok(None);
        };
        match self.store.order_by_number(number).await? {
            Some(rec) if rec.id == id => self.open(&rec).map(Some),
            _ => Ok(None),
        }
    }

    /// A guest's lookup: the order number and the email address or phone number given at
    /// checkout, compared through the order's stored blind indexes (under every held key, in
    /// constant time). Throttled per client and per order number; an unknown number and wrong
    /// details give the same answer after the same work.
    pub async fn look_up(
        &self,
        number: &str,
        contact: &str,
        client: IpAddr,
    ) -> Result<Lookup, AppError> {
        let now = self.clock.now();
        let number = normalise_order_number(number);
        if let Err(retry_after) = self.lookups.attempt(client, &number, now) {
            return Ok(Lookup::Throttled { retry_after });
        }
        let ring = self.vault.ring();
        let contact = contact.trim();
        let (by_email, candidates) = if contact.contains('@') {
            let idx = match Email::parse(contact) {
                Ok(e) => ring.blind_indexes(col::ORDER_EMAIL_BIDX, e.as_str(), Normalize::Email)?,
                Err(_) => Vec::new(),
            };
            (true, idx)
        } else {
            let idx = match Phone::parse(contact) {
                Ok(p) => {
                    ring.blind_indexes(col::ORDER_PHONE_BIDX, p.as_str(), Normalize::Digits)?
                }
                Err(_) => Vec::new(),
            };
            (false, idx)
        };
        let rec = if number.is_empty() {
            None
        } else {
            self.store.order_by_number(&number).await?
        };
        let found = rec.filter(|rec| {
            let stored = if by_email {
                &rec.email_bidx
            } else {
                &rec.phone_bidx
            };
            candidates
                .iter()
                .any(|c| kura_seal::constant_time_eq(c.as_bytes(), stored.as_bytes()))
        });
        match found {
            Some(rec) => Ok(Lookup::Found(Box::new(self.open(&rec)?))),
            None => {
                self.lookups.failed(&number, now);
                Ok(Lookup::NoMatch)
            }
        }
    }

    /// A mail about an order, or `None` (logged) if it could not be made: a missing mail must
    /// not hold an order, a payment or a parcel back.
    fn mail(
        &self,
        record: &OrderRecord,
        what: &'static str,
        make: impl FnOnce(&OrderView, &str) -> Result<Option<OutboxRecord>, AppError>,
    ) -> Option<OutboxRecord> {
        let url = self.order_url(record);
        match self.open(record).and_then(|view| make(&view, &url)) {
            Ok(mail) => mail,
            Err(e) => {
                tracing::error!(target: "kura::orders", order = record.id, error = %e, mail = what, "order mail could not be made");
                None
            }
        }
    }

    /// The confirmation mail for an order about to be stored.
    fn confirmation(&self, record: &OrderRecord) -> Option<OutboxRecord> {
        self.mail(record, "order_confirmation", |view, url| {
            self.notifier.order_placed(view, url)
        })
    }

    /// The payment-received mail, for the order's move to paid.
    fn payment_mail(&self, record: &OrderRecord) -> Option<OutboxRecord> {
        self.mail(record, "payment_received", |view, url| {
            self.notifier.payment_received(view, url)
        })
    }

    async fn repeated(&self, order_id: i64) -> Result<PlacedOrder, AppError> {
        let rec = self
            .store
            .order_by_id(order_id)
            .await?
            .ok_or_else(|| AppError::Task("repeated order vanished".into()))?;
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let mut token = keys.open_string(col::ORDER_TOKEN, rec.id, &rec.access_token)?;
        Ok(PlacedOrder {
            id: rec.id,
            number: rec.number,
            token: std::mem::take(&mut *token),
            status: rec.status,
            total: rec.totals.total,
            discount: rec.totals.discount,
            payment_url: rec
                .payment_url
                .filter(|_| rec.status == OrderStatus::AwaitingPayment),
            repeated: true,
        })
    }

    /// Opens an order record for display.
    /// The order with its personal fields opened; [`AppError::Erased`] once the buyer was erased.
    pub fn open(&self, rec: &OrderRecord) -> Result<OrderView, AppError> {
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let sealed: SealedBuyer =
            serde_json::from_slice(&keys.open(col::ORDER_BUYER, rec.id, &rec.buyer)?)
                .map_err(|e| AppError::Task(format!("order buyer record unreadable: {e}")))?;
        let SealedBuyer {
            profile: buyer,
            gift,
            note,
        } = sealed;
        if let Some(c) = &self.canaries {
            c.check(buyer.email.as_str(), "order_read", None, None);
        }
        let recipient = match &rec.recipient {
            Some(r) => Some(
                serde_json::from_slice(&keys.open(col::ORDER_RECIPIENT, rec.id, r)?).map_err(
                    |e| AppError::Task(format!("order recipient record unreadable: {e}")),
                )?,
            ),
            None => None,
        };
        Ok(OrderView {
            id: rec.id,
            number: rec.number.clone(),
            customer_id: rec.customer_id,
            status: rec.status,
            payment: rec.payment,
            lang: rec.lang.clone(),
            buyer,
            recipient,
            delivery_date: rec.delivery_date.as_deref().and_then(Date::parse),
            delivery_slot: rec.delivery_slot.as_deref().and_then(DeliverySlot::parse),
            totals: rec.totals,
            lines: rec.lines.clone(),
            payment_url: rec.payment_url.clone(),
            payment_expires_at: rec.payment_expires_at,
            created_at: rec.created_at,
            data_key: rec.data_key.clone(),
            gift,
            note,
            coupon_code: rec.coupon_code.clone(),
        })
    }

    pub async fn view_by_id(&self, id: i64) -> Result<Option<OrderView>, AppError> {
        match self.store.order_by_id(id).await? {
            Some(rec) => self.open(&rec).map(Some),
            None => Ok(None),
        }
    }

    pub async fn view_by_number(&self, number: &str) -> Result<Option<OrderView>, AppError> {
        match self.store.order_by_number(number).await? {
            Some(rec) => self.open(&rec).map(Some),
            None => Ok(None),
        }
    }

    /// The order, if `token` is its bearer token (constant-time comparison).
    pub async fn view_with_token(
        &self,
        number: &str,
        token: &str,
    ) -> Result<Option<OrderView>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(None);
        };
        let keys = PersonKeys::of(&self.vault, rec.data_key.as_ref())?;
        let stored = match keys.open_string(col::ORDER_TOKEN, rec.id, &rec.access_token) {
            Ok(t) => t,
            // The buyer was erased: the order is no one's to see.
            Err(crate::data_keys::SealError::Erased) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let same = kura_seal::constant_time_eq(stored.as_bytes(), token.as_bytes());
        if !same {
            return Ok(None);
        }
        self.open(&rec).map(Some)
    }

    pub async fn history(&self, customer_id: i64, limit: u32) -> Result<Vec<OrderView>, AppError> {
        let records = self.store.orders_of_customer(customer_id, limit).await?;
        records.iter().map(|r| self.open(r)).collect()
    }

    /// Acts on a verified payment notification, once per event. The event is recorded in the
    /// same transaction as what it does to the order (with the "payment received" mail), so a
    /// failure leaves neither and the provider's retry is acted on.
    pub async fn payment_notification(&self, n: &PaymentNotification) -> Result<(), AppError> {
        let now = self.clock.now();
        let Some(rec) = self.store.order_by_number(&n.order_number).await? else {
            tracing::warn!(target: "kura::payments", event = %n.event_id, "payment event for an unknown order");
            return self.record_only(n, now).await;
        };
        // The order's current session decides an expiry. A payment counts from any session the
        // shop opened for this order (the signature proves the provider sent it, the amount is
        // checked): when a customer paid on a page that a fresh one was replacing, the money is
        // taken and the order must say so.
        if n.outcome == PaymentOutcome::Declined {
            // The page stays open for another card; the guard counts the decline against
            // whoever started the order (card testing). A repeated event counts once.
            if self.store.record_payment_event(&n.event_id, now).await?
                && let Some(events) = &self.events
            {
                events.record(
                    crate::SecurityEvent::new(crate::SecurityEventKind::CardDeclined)
                        .subject(rec.id),
                );
            }
            return Ok(());
        }
        let current = rec.payment_session_id.as_deref() == Some(n.session_id.as_str());
        if n.outcome == PaymentOutcome::VoucherIssued {
            return self.voucher_issued(n, rec, current, now).await;
        }
        // A lapsed convenience-store number is told to the customer; a card page that closed
        // unpaid is not (the customer left it).
        let lapsed = rec.status == OrderStatus::AwaitingStorePayment;
        let (to, mail) = match n.outcome {
            _ if !current && n.outcome != PaymentOutcome::Paid => {
                tracing::warn!(target: "kura::payments", order = rec.id, "payment event names another session; ignored");
                return self.record_only(n, now).await;
            }
            PaymentOutcome::Paid if n.amount_yen != rec.totals.total.0 => {
                tracing::error!(target: "kura::payments", order = rec.id, paid = n.amount_yen, due = rec.totals.total.0, "paid amount differs from the order total; order left unpaid");
                return self.record_only(n, now).await;
            }
            // The "payment received" mail goes into the outbox with the move to paid.
            PaymentOutcome::Paid => (OrderStatus::Paid, self.payment_mail(&rec)),
            PaymentOutcome::Expired if lapsed => (OrderStatus::Expired, self.lapse_mail(&rec)),
            PaymentOutcome::Expired => (OrderStatus::Expired, None),
            PaymentOutcome::Declined | PaymentOutcome::VoucherIssued => return Ok(()),
        };
        let transition = Transition {
            order_id: rec.id,
            from: &[
                OrderStatus::AwaitingPayment,
                OrderStatus::AwaitingStorePayment,
            ],
            to,
            restock: to == OrderStatus::Expired,
            mail: mail.as_ref(),
        };
        match self
            .store
            .apply_payment_event(&n.event_id, now, &transition)
            .await?
        {
            PaymentEventOutcome::Seen => {
                tracing::info!(target: "kura::payments", event = %n.event_id, "payment event seen before; ignored");
            }
            PaymentEventOutcome::Applied { moved: false } if to == OrderStatus::Paid => {
                tracing::error!(target: "kura::payments", order = rec.id, status = rec.status.code(), "paid after the order left awaiting_payment: refund or restore by hand");
            }
            PaymentEventOutcome::Applied { moved: true } if to == OrderStatus::Paid && !current => {
                tracing::info!(target: "kura::payments", order = rec.id, "paid on an earlier payment page of the order");
                self.close_current_session(&rec).await;
            }
            PaymentEventOutcome::Applied { .. } => {}
        }
        Ok(())
    }

    /// A convenience-store payment number was issued on the provider's page: the voucher (its
    /// page and deadline) is read from the provider and kept on the order first, then the order
    /// moves to awaiting the store payment with the mail that gives the number, in one
    /// transaction with the event. Stock stays held until the number's deadline. If the
    /// provider cannot be read, the event is refused so that its retry does it.
    async fn voucher_issued(
        &self,
        n: &PaymentNotification,
        rec: OrderRecord,
        current: bool,
        now: i64,
    ) -> Result<(), AppError> {
        if !current || rec.payment != PaymentMethod::Konbini {
            tracing::warn!(target: "kura::payments", order = rec.id, "voucher event for another session or a non-konbini order; ignored");
            return self.record_only(n, now).await;
        }
        if rec.status != OrderStatus::AwaitingPayment {
            return self.record_only(n, now).await;
        }
        if n.amount_yen != rec.totals.total.0 {
            tracing::error!(target: "kura::payments", order = rec.id, "voucher amount differs from the order total; order left as it is");
            return self.record_only(n, now).await;
        }
        let (Some(gateway), Some(intent)) = (&self.gateway, n.payment_intent.as_deref()) else {
            return Err(AppError::Task("a voucher event without a payment".into()));
        };
        let voucher = gateway
            .store_voucher(intent)
            .await
            .map_err(|e| AppError::Task(format!("voucher could not be read: {e}")))?;
        self.store
            .set_payment_deadline(rec.id, &n.session_id, &voucher.url, voucher.expires_at)
            .await?;
        let rec = OrderRecord {
            payment_url: Some(voucher.url),
            payment_expires_at: Some(voucher.expires_at),
            ..rec
        };
        let mail = self.mail(&rec, "status_notice", |view, url| {
            self.notifier
                .status_changed(view, StatusNotice::KonbiniVoucher, url)
        });
        let transition = Transition {
            order_id: rec.id,
            from: &[OrderStatus::AwaitingPayment],
            to: OrderStatus::AwaitingStorePayment,
            restock: false,
            mail: mail.as_ref(),
        };
        if let PaymentEventOutcome::Applied { moved: true } = self
            .store
            .apply_payment_event(&n.event_id, now, &transition)
            .await?
        {
            tracing::info!(target: "kura::payments", order = rec.id, "convenience-store payment number issued");
        }
        Ok(())
    }

    fn lapse_mail(&self, rec: &OrderRecord) -> Option<OutboxRecord> {
        self.mail(rec, "status_notice", |view, url| {
            self.notifier
                .status_changed(view, StatusNotice::KonbiniLapsed, url)
        })
    }

    /// Records an event that changes nothing, so its repeats are recognised.
    async fn record_only(&self, n: &PaymentNotification, now: i64) -> Result<(), AppError> {
        if !self.store.record_payment_event(&n.event_id, now).await? {
            tracing::info!(target: "kura::payments", event = %n.event_id, "payment event seen before; ignored");
        }
        Ok(())
    }

    /// Closes the order's current provider session after the order was paid on another one,
    /// so it cannot take a second payment.
    async fn close_current_session(&self, rec: &OrderRecord) {
        let (Some(gateway), Some(session)) = (&self.gateway, rec.payment_session_id.as_deref())
        else {
            return;
        };
        match gateway.expire_checkout(session).await {
            Ok(SessionClosed::Unpaid) => {}
            Ok(SessionClosed::Paid) => {
                tracing::error!(target: "kura::payments", order = rec.id, "the order was paid twice: refund one payment by hand");
            }
            Err(e) => {
                tracing::error!(target: "kura::payments", order = rec.id, error = %e, "the unused payment page could not be closed");
            }
        }
    }

    /// Sends the customer of an unpaid card order to pay (again): after a declined card or a
    /// payment page left with "back", before the order's deadline.
    ///
    /// A fresh provider session is opened, ending at the order's deadline (the stock is held
    /// until then), and only then is the previous one closed, so that exactly one page can take
    /// the money. When the provider will not open a fresh one (some refuse sessions shorter
    /// than 30 minutes), the current page, still open until the same deadline, is used.
    pub async fn resume_card_payment(&self, number: &str) -> Result<CardResume, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(CardResume::NotAwaiting(OrderStatus::Cancelled));
        };
        let now = self.clock.now();
        let deadline = rec.payment_expires_at.unwrap_or(0);
        if !rec.payment.is_hosted() || rec.status != OrderStatus::AwaitingPayment || now >= deadline
        {
            return Ok(CardResume::NotAwaiting(rec.status));
        }
        let Some(gateway) = &self.gateway else {
            return Ok(CardResume::Unavailable);
        };
        let key = format!(
            "{}-{}",
            rec.number,
            hex::encode(kura_seal::random_bytes::<6>()?)
        );
        let fresh = match gateway
            .create_checkout(&self.card_request(&rec, deadline, key))
            .await
        {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::info!(target: "kura::payments", order = rec.id, error = %e, "no fresh payment page; the current one is offered");
                return Ok(rec
                    .payment_url
                    .map_or(CardResume::Unavailable, CardResume::Pay));
            }
        };
        // From here on the fresh session is the order's: an expiry of the old one is ignored.
        self.store
            .set_payment_session(rec.id, &fresh.id, &fresh.url)
            .await?;
        let Some(old) = rec.payment_session_id.as_deref() else {
            return Ok(CardResume::Pay(fresh.url));
        };
        match gateway.expire_checkout(old).await {
            Ok(SessionClosed::Unpaid) => Ok(CardResume::Pay(fresh.url)),
            Ok(SessionClosed::Paid) => {
                // Paid on the old page just now: its notification moves the order to paid.
                if let Err(e) = gateway.expire_checkout(&fresh.id).await {
                    tracing::error!(target: "kura::payments", order = rec.id, error = %e, "the fresh payment page could not be closed");
                }
                Ok(CardResume::PaidMeanwhile)
            }
            Err(e) => {
                // The old page may still take money: keep it as the only one.
                tracing::warn!(target: "kura::payments", order = rec.id, error = %e, "the previous payment page could not be closed; it stays the order's page");
                let _ = gateway.expire_checkout(&fresh.id).await;
                if let Some(url) = &rec.payment_url {
                    self.store.set_payment_session(rec.id, old, url).await?;
                    Ok(CardResume::Pay(url.clone()))
                } else {
                    Ok(CardResume::Unavailable)
                }
            }
        }
    }

    /// Releases an order whose card payment did not happen, so its items can be ordered again
    /// with another payment method: an unpaid card order is cancelled (its payment page closed
    /// first, its stock returned); an expired or cancelled one is only read. The answer holds
    /// the lines and the checkout details to start again with.
    pub async fn reopen(&self, number: &str) -> Result<Result<Reopened, ReopenRefused>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(Err(ReopenRefused::NotReopenable(OrderStatus::Cancelled)));
        };
        match (rec.payment, rec.status) {
            (PaymentMethod::Card | PaymentMethod::Konbini, OrderStatus::AwaitingPayment) => {
                if let (Some(gateway), Some(session)) =
                    (&self.gateway, rec.payment_session_id.as_deref())
                {
                    match gateway.expire_checkout(session).await {
                        Ok(SessionClosed::Unpaid) => {}
                        Ok(SessionClosed::Paid) => return Ok(Err(ReopenRefused::PaidMeanwhile)),
                        Err(e) => {
                            tracing::warn!(target: "kura::payments", order = rec.id, error = %e, "payment page could not be closed; order kept");
                            return Ok(Err(ReopenRefused::Unavailable));
                        }
                    }
                }
                let cancelled = self
                    .store
                    .transition_order(
                        rec.id,
                        &[OrderStatus::AwaitingPayment],
                        OrderStatus::Cancelled,
                        true,
                        self.clock.now(),
                        None,
                    )
                    .await?;
                if !cancelled {
                    // Moved meanwhile (paid by a notification, or expired): read it again.
                    let status = self
                        .store
                        .order_by_id(rec.id)
                        .await?
                        .map_or(OrderStatus::Cancelled, |r| r.status);
                    if status != OrderStatus::Expired && status != OrderStatus::Cancelled {
                        return Ok(Err(ReopenRefused::NotReopenable(status)));
                    }
                }
                tracing::info!(target: "kura::orders", order = rec.id, "unpaid card order cancelled to order again");
            }
            (_, OrderStatus::Expired | OrderStatus::Cancelled) => {}
            (_, status) => return Ok(Err(ReopenRefused::NotReopenable(status))),
        }
        let view = self.open(&rec)?;
        // A delivery date that left the window meanwhile is dropped (the earliest date holds).
        let (first, last) = self.delivery_window();
        let delivery_date = view.delivery_date.filter(|d| *d >= first && *d <= last);
        Ok(Ok(Reopened {
            lines: view
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect(),
            input: CheckoutInput {
                buyer: view.buyer,
                recipient: view.recipient,
                delivery_date,
                delivery_slot: view.delivery_slot,
                payment: view.payment,
                lang: view.lang,
                gift: view.gift,
                note: view.note,
                // The released order freed its coupon: the new one may use it again.
                coupon: view
                    .coupon_code
                    .as_deref()
                    .and_then(|c| kura_domain::CouponCode::parse(c).ok()),
            },
        }))
    }

    /// Records a bank transfer as received: `awaiting_transfer` becomes `paid`.
    pub async fn mark_transfer_received(
        &self,
        number: &str,
    ) -> Result<Result<(), FulfilError>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(Err(FulfilError::UnknownOrder));
        };
        if rec.payment != PaymentMethod::BankTransfer {
            return Ok(Err(FulfilError::WrongStatus(rec.status)));
        }
        let mail = self.payment_mail(&rec);
        let moved = self
            .store
            .transition_order(
                rec.id,
                &[OrderStatus::AwaitingTransfer],
                OrderStatus::Paid,
                false,
                self.clock.now(),
                mail.as_ref(),
            )
            .await?;
        if !moved {
            return Ok(Err(FulfilError::WrongStatus(rec.status)));
        }
        tracing::info!(target: "kura::orders", order = rec.id, "bank transfer recorded as received");
        Ok(Ok(()))
    }

    /// Marks a confirmed (cash on delivery) or paid order as shipped and queues the shipping
    /// notice in the customer's language.
    pub async fn mark_shipped(
        &self,
        number: &str,
        parcel: &Parcel,
    ) -> Result<Result<(), FulfilError>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(Err(FulfilError::UnknownOrder));
        };
        // The notice is made first and stored with the status change, in one transaction. A
        // notice that cannot be made does not hold the parcel back; it is logged.
        let mail = self.mail(&rec, "shipping_notice", |view, url| {
            self.notifier.order_shipped(view, parcel, url)
        });
        let moved = self
            .store
            .transition_order(
                rec.id,
                &[
                    OrderStatus::Confirmed,
                    OrderStatus::Paid,
                    OrderStatus::Packed,
                ],
                OrderStatus::Shipped,
                false,
                self.clock.now(),
                mail.as_ref(),
            )
            .await?;
        if !moved {
            return Ok(Err(FulfilError::WrongStatus(rec.status)));
        }
        tracing::info!(target: "kura::orders", order = rec.id, "order shipped");
        Ok(Ok(()))
    }

    /// Moves an order from one of `from` to `to`, with the customer's notice in the same
    /// transaction. The status answered on refusal is the one read before.
    async fn change_status(
        &self,
        number: &str,
        from: &[OrderStatus],
        to: OrderStatus,
        restock: bool,
        notice: StatusNotice,
    ) -> Result<Result<OrderRecord, FulfilError>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(Err(FulfilError::UnknownOrder));
        };
        if !from.contains(&rec.status) {
            return Ok(Err(FulfilError::WrongStatus(rec.status)));
        }
        let mail = self.mail(&rec, "status_notice", |view, url| {
            self.notifier.status_changed(view, notice, url)
        });
        let moved = self
            .store
            .transition_order(rec.id, from, to, restock, self.clock.now(), mail.as_ref())
            .await?;
        if !moved {
            let now = self
                .store
                .order_by_id(rec.id)
                .await?
                .map_or(rec.status, |r| r.status);
            return Ok(Err(FulfilError::WrongStatus(now)));
        }
        tracing::info!(target: "kura::orders", order = rec.id, status = to.code(), "order status changed");
        Ok(Ok(rec))
    }

    /// Packed and waiting for the carrier (a paid order, or a cash-on-delivery one).
    pub async fn mark_packed(&self, number: &str) -> Result<Result<(), FulfilError>, AppError> {
        self.change_status(
            number,
            &[OrderStatus::Confirmed, OrderStatus::Paid],
            OrderStatus::Packed,
            false,
            StatusNotice::Packed,
        )
        .await
        .map(|r| r.map(drop))
    }

    /// The carrier delivered the parcel.
    pub async fn mark_delivered(&self, number: &str) -> Result<Result<(), FulfilError>, AppError> {
        self.change_status(
            number,
            &[OrderStatus::Shipped],
            OrderStatus::Delivered,
            false,
            StatusNotice::Delivered,
        )
        .await
        .map(|r| r.map(drop))
    }

    /// Cancels an order nobody has paid for yet and returns its stock: a bank transfer still
    /// awaited, cash on delivery not yet shipped, or a card order whose payment page is closed
    /// first (if it was paid meanwhile, the order stays and must be refunded instead).
    pub async fn cancel(&self, number: &str) -> Result<Result<(), FulfilError>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(Err(FulfilError::UnknownOrder));
        };
        let from: &[OrderStatus] = match (rec.payment, rec.status) {
            (PaymentMethod::Card | PaymentMethod::Konbini, OrderStatus::AwaitingPayment) => {
                if let (Some(gateway), Some(session)) =
                    (&self.gateway, rec.payment_session_id.as_deref())
                {
                    match gateway.expire_checkout(session).await {
                        Ok(SessionClosed::Unpaid) => {}
                        Ok(SessionClosed::Paid) => return Ok(Err(FulfilError::PaidMeanwhile)),
                        Err(e) => return Ok(Err(FulfilError::Provider(e.to_string()))),
                    }
                }
                &[OrderStatus::AwaitingPayment]
            }
            (PaymentMethod::BankTransfer, _) => &[OrderStatus::AwaitingTransfer],
            (PaymentMethod::Cod, _) => &[OrderStatus::Confirmed, OrderStatus::Packed],
            // An issued convenience-store number cannot be withdrawn: it lapses at its
            // deadline, and the order with it.
            (PaymentMethod::Card | PaymentMethod::Konbini, status) => {
                return Ok(Err(FulfilError::WrongStatus(status)));
            }
        };
        self.change_status(
            number,
            from,
            OrderStatus::Cancelled,
            true,
            StatusNotice::Cancelled(CancelReason::ByShop),
        )
        .await
        .map(|r| r.map(drop))
    }

    /// Gives a card order's whole payment back through the provider, then records the order
    /// as refunded (its stock returned when it had not left the warehouse) and tells the
    /// customer. The provider call carries a key made from the order number, so a repeated
    /// click or a retry after a lost answer never refunds twice.
    pub async fn refund(&self, number: &str) -> Result<Result<Refunded, FulfilError>, AppError> {
        let Some(rec) = self.store.order_by_number(number).await? else {
            return Ok(Err(FulfilError::UnknownOrder));
        };
        if rec.payment != PaymentMethod::Card {
            return Ok(Err(FulfilError::NotRefundable));
        }
        let from = [
            OrderStatus::Paid,
            OrderStatus::Packed,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
        ];
        if !from.contains(&rec.status) {
            return Ok(Err(FulfilError::WrongStatus(rec.status)));
        }
        let (Some(gateway), Some(session)) = (&self.gateway, rec.payment_session_id.as_deref())
        else {
            return Ok(Err(FulfilError::Provider(
                "card payment is not configured".to_owned(),
            )));
        };
        let amount = rec.totals.total;
        let receipt = match gateway
            .refund(session, amount.0, &format!("kura-refund-{}", rec.number))
            .await
        {
            Ok(receipt) => receipt,
            Err(e) => {
                tracing::warn!(target: "kura::payments", order = rec.id, error = %e, "refund refused");
                return Ok(Err(FulfilError::Provider(e.to_string())));
            }
        };
        let restock = matches!(rec.status, OrderStatus::Paid | OrderStatus::Packed);
        let mail = self.mail(&rec, "status_notice", |view, url| {
            self.notifier.status_changed(
                view,
                StatusNotice::Refunded {
                    amount: Yen(receipt.amount_yen),
                },
                url,
            )
        });
        let moved = self
            .store
            .transition_order(
                rec.id,
                &from,
                OrderStatus::Refunded,
                restock,
                self.clock.now(),
                mail.as_ref(),
            )
            .await?;
        if !moved {
            // The money went back but the order moved meanwhile: say so loudly, the refund
            // stands at the provider and a retry answers the same refund.
            tracing::error!(target: "kura::payments", order = rec.id, refund = %receipt.id, "refunded at the provider but the order changed meanwhile; record it by hand");
        }
        tracing::info!(target: "kura::payments", order = rec.id, refund = %receipt.id, "order refunded");
        Ok(Ok(Refunded {
            receipt,
            was: rec.status,
        }))
    }

    /// Cancels bank-transfer orders whose transfer did not arrive by the date their
    /// confirmation named (that date's end in Japan), returns their stock and tells the
    /// customers.
    pub async fn expire_transfers_due(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let today = Date::today_in_japan(now);
        // Candidates by age first (cheap), then the exact Japanese date rule.
        let older_than = now - self.settings.transfer_days.max(0) * 86_400;
        let mut n = 0;
        for rec in self.store.awaiting_transfers_before(older_than).await? {
            let deadline =
                Date::today_in_japan(rec.created_at).add_days(self.settings.transfer_days);
            if today <= deadline {
                continue;
            }
            let mail = self.mail(&rec, "status_notice", |view, url| {
                self.notifier.status_changed(
                    view,
                    StatusNotice::Cancelled(CancelReason::TransferDeadline),
                    url,
                )
            });
            if self
                .store
                .transition_order(
                    rec.id,
                    &[OrderStatus::AwaitingTransfer],
                    OrderStatus::Cancelled,
                    true,
                    now,
                    mail.as_ref(),
                )
                .await?
            {
                tracing::info!(target: "kura::orders", order = rec.id, "bank transfer not received by the deadline; order cancelled");
                n += 1;
            }
        }
        Ok(n)
    }

    /// Expires unpaid card orders past their deadline, and convenience-store orders whose
    /// number lapsed [`KONBINI_GRACE_SECONDS`] ago without the provider's word (a payment made
    /// at the last minute is reported a little later), and returns their stock. A lapsed
    /// number is told to the customer.
    pub async fn expire_due(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut n = 0;
        for id in self.store.due_expirations(now).await? {
            let Some(rec) = self.store.order_by_id(id).await? else {
                continue;
            };
            let deadline = rec.payment_expires_at.unwrap_or(0);
            let mail = match rec.status {
                OrderStatus::AwaitingStorePayment if now < deadline + KONBINI_GRACE_SECONDS => {
                    continue;
                }
                OrderStatus::AwaitingStorePayment => self.lapse_mail(&rec),
                _ => None,
            };
            if self
                .store
                .transition_order(
                    id,
                    &[rec.status],
                    OrderStatus::Expired,
                    true,
                    now,
                    mail.as_ref(),
                )
                .await?
            {
                n += 1;
            }
        }
        Ok(n)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::Task(e.to_string()))
}
