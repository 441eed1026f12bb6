//! Checkout and orders.
//!
//! Guarantees: prices come from the catalog at the moment of ordering; stock is taken
//! atomically with the order (never oversold); a repeated submission (same idempotency key)
//! yields the first order, never a second; buyer and recipient are sealed before they reach
//! the store; an unpaid card order expires and gives its stock back; a payment notification
//! is acted on once, only when its signature verified and its amount matches.

use std::sync::Arc;

use crate::sealed::OutboxRecord;
use kura_domain::{
    CustomerProfile, Date, DeliverySlot, OrderStatus, PaymentMethod, Person, Totals, Yen,
    delivery_window,
};
use kura_seal::{Normalize, SessionToken};
use serde::{Deserialize, Serialize};

use crate::carts::CartView;
use crate::clock::Clock;
use crate::data_keys::PersonKeys;
use crate::error::AppError;
use crate::payments::{CheckoutRequest, PaymentGateway, PaymentNotification, PaymentOutcome};
use crate::ports::{PaymentEventOutcome, Store, Transition};
use crate::sealed::{DataKeyRef, OrderLineRecord, OrderRecord, PlaceOutcome, col};
use crate::vault::Vault;

/// What the customer chose at checkout, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutInput {
    pub buyer: CustomerProfile,
    /// `None`: deliver to the buyer.
    pub recipient: Option<Person>,
    pub delivery_date: Option<Date>,
    pub delivery_slot: Option<DeliverySlot>,
    pub payment: PaymentMethod,
    /// "ja" or "en": the language of mails about this order.
    pub lang: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutError {
    EmptyCart,
    SoldOut { sku: String },
    PriceChanged { sku: String },
    Unavailable { sku: String },
    DeliveryDateOutOfRange,
    CardUnavailable,
}

impl CheckoutError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyCart => "cart_empty",
            Self::SoldOut { .. } => "sold_out",
            Self::PriceChanged { .. } => "price_changed",
            Self::Unavailable { .. } => "unknown_sku",
            Self::DeliveryDateOutOfRange => "delivery_date_out_of_range",
            Self::CardUnavailable => "card_payment_unavailable",
        }
    }
}

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
    /// Where to send the customer to pay by card.
    pub payment_url: Option<String>,
    /// True when this submission repeated an earlier one.
    pub repeated: bool,
}

/// Tells customers about their orders (mail, in production).
pub trait OrderNotifier: Send + Sync {
    /// The confirmation for a new order, sealed for the outbox (or `None` to send nothing).
    /// It is stored in the order's own transaction.
    fn order_placed(&self, order: &OrderView) -> Result<Option<OutboxRecord>, AppError>;

    /// The shipping notice (carrier and tracking number), sealed for the outbox.
    fn order_shipped(
        &self,
        _order: &OrderView,
        _parcel: &Parcel,
    ) -> Result<Option<OutboxRecord>, AppError> {
        Ok(None)
    }
}

/// What the shipping notice tells: who carries the parcel and how to follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
}

/// Why an order could not be moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilError {
    UnknownOrder,
    /// The order's status does not allow it (e.g. shipping an unpaid bank transfer).
    WrongStatus(OrderStatus),
}

impl std::fmt::Display for FulfilError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownOrder => f.write_str("no order has that number"),
            Self::WrongStatus(s) => write!(f, "not possible while the order is {}", s.code()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrderSettings {
    /// The shop's public base URL, for the payment provider's return links.
    pub base_url: String,
    /// How long a card order waits for payment before its stock returns.
    pub card_minutes: i64,
}

pub struct Orders {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    gateway: Option<Arc<dyn PaymentGateway>>,
    notifier: Arc<dyn OrderNotifier>,
    settings: OrderSettings,
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
        }
    }

    pub fn card_available(&self) -> bool {
        self.gateway.is_some()
    }

    /// The dates a customer may pick for delivery.
    pub fn delivery_window(&self) -> (Date, Date) {
        delivery_window(self.clock.now())
    }

    /// Places an order for the cart's contents. `idempotency` names the submission (the
    /// checkout form's attempt id, or the API's Idempotency-Key scoped to the cart).
    pub async fn place(
        &self,
        cart: &CartView,
        cart_id: Option<i64>,
        customer_id: Option<i64>,
        input: &CheckoutInput,
        idempotency: &str,
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
        if let Some(d) = input.delivery_date {
            let (first, last) = self.delivery_window();
            if d < first || d > last {
                return Ok(Err(CheckoutError::DeliveryDateOutOfRange));
            }
        }
        if input.payment == PaymentMethod::Card && self.gateway.is_none() {
            return Ok(Err(CheckoutError::CardUnavailable));
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
        let destination = input
            .recipient
            .as_ref()
            .unwrap_or(&input.buyer.person)
            .prefecture;
        let priced: Vec<_> = cart.lines.iter().map(|l| l.priced()).collect();
        let totals = Totals::compute(&priced, destination, input.payment);
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
            buyer: keys.seal(col::ORDER_BUYER, id, to_json(&input.buyer)?.as_bytes())?,
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
            payment_expires_at: (input.payment == PaymentMethod::Card)
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
        };
        // Cash on delivery and bank transfer are confirmed now, in the order's transaction; a
        // card order is confirmed once the provider has accepted its checkout.
        let mail = if input.payment == PaymentMethod::Card {
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
        }
        let mut payment_url = None;
        if let (PaymentMethod::Card, Some(gateway)) = (input.payment, &self.gateway) {
            let request = CheckoutRequest {
                order_number: record.number.clone(),
                amount_yen: totals.total.0,
                description: format!(
                    "{} {}",
                    if input.lang == "en" {
                        "Order"
                    } else {
                        "ご注文"
                    },
                    record.number
                ),
                success_url: format!(
                    "{}/checkout/return/{}",
                    self.settings.base_url, record.number
                ),
                cancel_url: format!(
                    "{}/checkout/return/{}",
                    self.settings.base_url, record.number
                ),
                locale: record.lang.clone(),
                expires_at: record.payment_expires_at.unwrap_or(now + 1800),
            };
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
        if input.payment == PaymentMethod::Card
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
            payment_url,
            repeated: false,
        }))
    }

    /// The confirmation mail for an order about to be stored, or `None` (logged) if it could
    /// not be made: a missing mail must not refuse an order.
    fn confirmation(&self, record: &OrderRecord) -> Option<OutboxRecord> {
        let made = self
            .open(record)
            .and_then(|view| self.notifier.order_placed(&view));
        match made {
            Ok(mail) => mail,
            Err(e) => {
                tracing::error!(target: "kura::orders", order = record.id, error = %e, "order confirmation could not be made");
                None
            }
        }
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
        let buyer: CustomerProfile =
            serde_json::from_slice(&keys.open(col::ORDER_BUYER, rec.id, &rec.buyer)?)
                .map_err(|e| AppError::Task(format!("order buyer record unreadable: {e}")))?;
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
    /// same transaction as what it does to the order, so a failure leaves neither and the
    /// provider's retry is acted on.
    pub async fn payment_notification(&self, n: &PaymentNotification) -> Result<(), AppError> {
        let now = self.clock.now();
        let rec = self.store.order_by_number(&n.order_number).await?;
        let (order_id, to) = match (&rec, n.outcome) {
            (None, _) => {
                tracing::warn!(target: "kura::payments", event = %n.event_id, "payment event for an unknown order");
                return self.record_only(n, now).await;
            }
            (Some(rec), _) if rec.payment_session_id.as_deref() != Some(n.session_id.as_str()) => {
                tracing::warn!(target: "kura::payments", order = rec.id, "payment event names another session; ignored");
                return self.record_only(n, now).await;
            }
            (Some(rec), PaymentOutcome::Paid) if n.amount_yen != rec.totals.total.0 => {
                tracing::error!(target: "kura::payments", order = rec.id, paid = n.amount_yen, due = rec.totals.total.0, "paid amount differs from the order total; order left unpaid");
                return self.record_only(n, now).await;
            }
            (Some(rec), PaymentOutcome::Paid) => (rec.id, OrderStatus::Paid),
            (Some(rec), PaymentOutcome::Expired) => (rec.id, OrderStatus::Expired),
        };
        let transition = Transition {
            order_id,
            from: &[OrderStatus::AwaitingPayment],
            to,
            restock: to == OrderStatus::Expired,
            mail: None,
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
                let status = rec.as_ref().map_or("", |r| r.status.code());
                tracing::error!(target: "kura::payments", order = order_id, status, "paid after the order left awaiting_payment: refund or restore by hand");
            }
            PaymentEventOutcome::Applied { .. } => {}
        }
        Ok(())
    }

    /// Records an event that changes nothing, so its repeats are recognised.
    async fn record_only(&self, n: &PaymentNotification, now: i64) -> Result<(), AppError> {
        if !self.store.record_payment_event(&n.event_id, now).await? {
            tracing::info!(target: "kura::payments", event = %n.event_id, "payment event seen before; ignored");
        }
        Ok(())
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
        let moved = self
            .store
            .transition_order(
                rec.id,
                &[OrderStatus::AwaitingTransfer],
                OrderStatus::Paid,
                false,
                self.clock.now(),
                None,
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
        let mail = match self
            .open(&rec)
            .and_then(|view| self.notifier.order_shipped(&view, parcel))
        {
            Ok(mail) => mail,
            Err(e) => {
                tracing::error!(target: "kura::orders", order = rec.id, error = %e, "shipping notice could not be made");
                None
            }
        };
        let moved = self
            .store
            .transition_order(
                rec.id,
                &[OrderStatus::Confirmed, OrderStatus::Paid],
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

    /// Expires unpaid card orders past their deadline and returns their stock.
    pub async fn expire_due(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut n = 0;
        for id in self.store.due_expirations(now).await? {
            if self
                .store
                .transition_order(
                    id,
                    &[OrderStatus::AwaitingPayment],
                    OrderStatus::Expired,
                    true,
                    now,
                    None,
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
