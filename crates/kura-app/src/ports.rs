//! The ports the use cases need from a store. SQLite and PostgreSQL implement them the same
//! way, and one conformance suite checks both.

use async_trait::async_trait;
use kura_seal::{BlindIndex, PasswordHash, Sealed};

use kura_domain::OrderStatus;

use crate::error::StoreError;
use crate::records::{
    AccountTokenRecord, CatalogItem, Category, CustomerCredentials, KeyCheck, OrderRecord,
    OutboxRecord, PlaceOutcome, Product, ProductImage, ProductImageInfo, ProductPage, ResealedRow,
    SavedAddressRecord, SealedCustomer, SealedRow, SessionRecord, TokenPurpose, Variant,
};
use crate::records::{
    AuditAppend, AuditEntry, AuditFilter, AuditRow, ExportRecord, IncidentEntryRecord,
    IncidentPersonRecord, IncidentRecord, InquiryMessageRecord, InquiryRecord, OrderFilter,
    PasskeyRecord, ReadBudget, ScopeBuyer, ScopePlan, StaffRecord, StaffSessionRecord,
};
use crate::records::{CouponRecord, DataKeyRef, DocumentKind, ReceiptRecord};
use crate::sealed::SealedTable;

#[async_trait]
pub trait CustomerRepo: Send + Sync {
    /// Inserts one customer; [`StoreError::Conflict`] when the email blind index exists.
    async fn insert_customer(&self, customer: &SealedCustomer) -> Result<(), StoreError>;
    /// Inserts many customers in one transaction (demo data, imports).
    async fn insert_customers(&self, customers: &[SealedCustomer]) -> Result<(), StoreError>;
    /// Finds credentials by any of the given email blind indexes (one per held key).
    async fn customer_credentials_by_email(
        &self,
        email_bidx: &[BlindIndex],
    ) -> Result<Option<CustomerCredentials>, StoreError>;
    async fn customer(&self, id: i64) -> Result<Option<SealedCustomer>, StoreError>;
    async fn set_password_hash(&self, id: i64, hash: &PasswordHash) -> Result<(), StoreError>;
    async fn count_customers(&self) -> Result<u64, StoreError>;
    /// Customers in id order after `after_id`, for listings and exports.
    async fn customers_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedCustomer>, StoreError>;
}

/// What customer accounts need beyond [`CustomerRepo`]: email verification, one-time tokens,
/// profile changes, saved addresses and erasure.
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Stores a token's hash; older tokens of the same purpose for the customer are deleted in
    /// the same transaction, so only the newest link works.
    async fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<(), StoreError>;
    /// The customer a live token belongs to, leaving the token in place.
    async fn account_token(
        &self,
        token_hash: &[u8; 32],
        purpose: TokenPurpose,
        now: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Deletes the token and returns its customer if it was live: a token works once.
    async fn take_account_token(
        &self,
        token_hash: &[u8; 32],
        purpose: TokenPurpose,
        now: i64,
    ) -> Result<Option<i64>, StoreError>;
    async fn delete_account_tokens(
        &self,
        customer_id: i64,
        purpose: TokenPurpose,
    ) -> Result<u64, StoreError>;
    async fn set_email_verified(&self, customer_id: i64, at: Option<i64>)
    -> Result<(), StoreError>;
    /// `None` when the customer does not exist; `Some(None)` when not verified.
    async fn email_verified_at(&self, customer_id: i64) -> Result<Option<Option<i64>>, StoreError>;
    /// Replaces every sealed field and blind index of the customer (not the password);
    /// [`StoreError::Conflict`] when the email blind index belongs to someone else.
    async fn update_customer(&self, customer: &SealedCustomer) -> Result<(), StoreError>;
    /// Erases a customer in one transaction: saved addresses, tokens, sessions, carts and the
    /// row with every sealed field. Orders stay (their own sealed buyer record, the accounting
    /// facts) with `customer_id` NULL. False when there was no such customer.
    async fn delete_customer(&self, customer_id: i64) -> Result<bool, StoreError>;
    async fn insert_address(&self, address: &SavedAddressRecord) -> Result<(), StoreError>;
    async fn addresses_of(&self, customer_id: i64) -> Result<Vec<SavedAddressRecord>, StoreError>;
    /// Deletes the address only if it belongs to `customer_id`.
    async fn delete_address(&self, customer_id: i64, id: i64) -> Result<bool, StoreError>;
    /// Sets (or, with `None`, removes) the customer's sealed anti-phishing phrase.
    async fn set_anti_phishing_phrase(
        &self,
        customer_id: i64,
        phrase: Option<&Sealed>,
    ) -> Result<(), StoreError>;
    /// The sealed phrase of the customer whose email has one of these blind indexes, with the
    /// customer's id and data key (to open it).
    async fn anti_phishing_phrase(
        &self,
        email_bidx: &[BlindIndex],
    ) -> Result<Option<(i64, Sealed, Option<crate::sealed::DataKeyRef>)>, StoreError>;
}

#[async_trait]
pub trait SessionRepo: Send + Sync {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    async fn session_by_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Updates data, owner and expiry of a session.
    async fn update_session(
        &self,
        id: i64,
        customer_id: Option<i64>,
        data: &Sealed,
        last_seen_at: i64,
        idle_expires_at: i64,
    ) -> Result<(), StoreError>;
    async fn delete_session(&self, id: i64) -> Result<(), StoreError>;
    async fn delete_sessions_of_customer(&self, customer_id: i64) -> Result<u64, StoreError>;
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError>;
}

/// Generic access to sealed columns for key rotation and key status.
#[async_trait]
pub trait SealedRowRepo: Send + Sync {
    async fn sealed_rows(
        &self,
        table: &SealedTable,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError>;
    /// Writes re-sealed rows in one transaction, each only if it still holds its old values
    /// (a row changed meanwhile is left for the next pass). Returns how many were written.
    async fn reseal_rows(
        &self,
        table: &SealedTable,
        rows: &[ResealedRow],
    ) -> Result<u64, StoreError>;
    async fn count_rows(&self, table: &SealedTable) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait CatalogRepo: Send + Sync {
    async fn upsert_category(&self, category: &Category) -> Result<(), StoreError>;
    /// Inserts a product with its variants, details and specifications unless a product with
    /// its slug exists.
    async fn insert_product(&self, product: &Product) -> Result<bool, StoreError>;
    async fn categories(&self) -> Result<Vec<Category>, StoreError>;
    async fn products(
        &self,
        category: Option<i64>,
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError>;
    async fn product_by_slug(&self, slug: &str) -> Result<Option<Product>, StoreError>;
    /// Shown products that contain a word of each group (a group: a query word and its
    /// synonyms, in `kura_domain::search_form`), else, when none has all, those with the most
    /// groups; those with more groups in their name or model number first, then by category
    /// and position.
    async fn search_products(
        &self,
        groups: &[Vec<String>],
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError>;
    async fn catalog_items(&self, skus: &[String]) -> Result<Vec<CatalogItem>, StoreError>;
    async fn set_stock(&self, sku: &str, stock: i64) -> Result<(), StoreError>;
    async fn set_price(&self, sku: &str, price: kura_domain::Yen) -> Result<(), StoreError>;
}

/// What the back office's catalog pages need beyond [`CatalogRepo`]: every product whether
/// shown or not, creating and editing products, variants and categories, and product images.
/// A product's `search_text` is the caller's ([`crate::catalog::search_text`]), written in the
/// same transaction as the change it follows.
#[async_trait]
pub trait CatalogEditRepo: Send + Sync {
    /// Every product, shown or not, with variants and specifications, by category and position.
    async fn all_products(&self) -> Result<Vec<Product>, StoreError>;
    /// Sets products' `search_text` and `name_text` (id, search text, name text), in one
    /// transaction.
    async fn set_search_texts(&self, rows: &[(i64, String, String)]) -> Result<(), StoreError>;
    /// A product by id, shown or not, with variants and specifications.
    async fn product_by_id(&self, id: i64) -> Result<Option<Product>, StoreError>;
    /// [`StoreError::Conflict`] when the slug is taken.
    async fn insert_category(&self, category: &Category) -> Result<(), StoreError>;
    /// Inserts a product with its details, specifications and variants, after the others of
    /// its category. [`StoreError::Conflict`] when its slug or a SKU is taken.
    async fn create_product(&self, product: &Product, search_text: &str) -> Result<(), StoreError>;
    /// Replaces a product's fields, details and specifications (not its variants or images).
    /// False when there is no such product; [`StoreError::Conflict`] when the slug is taken.
    async fn update_product(
        &self,
        product: &Product,
        search_text: &str,
    ) -> Result<bool, StoreError>;
    /// Adds a variant after the product's others; [`StoreError::Conflict`] when the SKU is taken.
    async fn add_variant(&self, variant: &Variant, search_text: &str) -> Result<(), StoreError>;
    /// Sets a variant's labels, price and stock (found by SKU within its product). False when
    /// there is no such variant.
    async fn update_variant(
        &self,
        variant: &Variant,
        search_text: &str,
    ) -> Result<bool, StoreError>;
    /// Stores an image after the product's others and makes the first one the product's photo,
    /// in one transaction. False when there is no such product; [`StoreError::Conflict`] when
    /// the product has the same image already.
    async fn add_product_image(&self, image: &ProductImage) -> Result<bool, StoreError>;
    /// A product's images in order, without their bytes.
    async fn product_images(&self, product_id: i64) -> Result<Vec<ProductImageInfo>, StoreError>;
    /// An image by the file name it is served under.
    async fn product_image_file(&self, file: &str) -> Result<Option<ProductImage>, StoreError>;
    /// Removes an image of the product and makes the next one its photo, in one transaction.
    /// False when the product has no such image.
    async fn remove_product_image(
        &self,
        product_id: i64,
        image_id: i64,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait CartRepo: Send + Sync {
    async fn create_cart(
        &self,
        id: i64,
        token_hash: Option<[u8; 32]>,
        customer_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn cart_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<i64>, StoreError>;
    async fn cart_of_customer(&self, customer_id: i64) -> Result<Option<i64>, StoreError>;
    async fn cart_items(&self, cart_id: i64) -> Result<Vec<(String, u32)>, StoreError>;
    async fn set_cart_item(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: u32,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn remove_cart_item(&self, cart_id: i64, sku: &str) -> Result<(), StoreError>;
    async fn delete_cart(&self, cart_id: i64) -> Result<(), StoreError>;
    /// Deletes up to `limit` guest carts (no customer) untouched since `before`; returns how
    /// many went.
    async fn delete_idle_guest_carts(&self, before: i64, limit: u32) -> Result<u64, StoreError>;
}

/// A move of an order from one of `from` to `to`, returning its stock if `restock` and storing
/// `mail` in the outbox, all only if the order moved.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub order_id: i64,
    pub from: &'a [OrderStatus],
    pub to: OrderStatus,
    pub restock: bool,
    pub mail: Option<&'a OutboxRecord>,
}

/// What applying a provider's event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEventOutcome {
    /// The event was recorded before: nothing was done.
    Seen,
    /// The event is now recorded; `moved` tells whether the order was in one of `from`.
    Applied { moved: bool },
}

#[async_trait]
pub trait OrderRepo: Send + Sync {
    /// In one transaction: takes stock for every line (refusing when short or when the price
    /// moved), writes the order and its lines, and empties `cart_id`. A reused idempotency hash
    /// returns the existing order instead.
    /// Takes the stock, writes the order and empties the cart in one transaction, and puts
    /// `mail` (the order's confirmation) into the outbox in that same transaction, so an
    /// accepted order never loses its mail to a crash. An order naming a coupon records its
    /// use for each of its holders in that transaction too; one used already makes the answer
    /// [`PlaceOutcome::CouponUsed`] and nothing is written.
    async fn place_order(
        &self,
        order: &OrderRecord,
        cart_id: Option<i64>,
        mail: Option<&OutboxRecord>,
    ) -> Result<PlaceOutcome, StoreError>;
    async fn order_by_id(&self, id: i64) -> Result<Option<OrderRecord>, StoreError>;
    /// The order an idempotency key already made, if any.
    async fn order_id_by_idempotency(&self, hash: &[u8; 32]) -> Result<Option<i64>, StoreError>;
    async fn order_by_number(&self, number: &str) -> Result<Option<OrderRecord>, StoreError>;
    async fn orders_of_customer(
        &self,
        customer_id: i64,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError>;
    async fn set_payment_session(
        &self,
        order_id: i64,
        session_id: &str,
        url: &str,
    ) -> Result<(), StoreError>;
    /// Points the order at a new payment page (a convenience-store voucher) and its deadline.
    async fn set_payment_deadline(
        &self,
        order_id: i64,
        session_id: &str,
        url: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Moves the order from one of `from` to `to`; with `restock`, returns its lines to stock
    /// and frees its coupon uses (the code can be used again) in the same transaction. False
    /// when the order was not in one of `from`.
    /// Moves an order from one of `from` to `to` (returning whether it moved), returning its
    /// stock if `restock`, and storing `mail` in the outbox in the same transaction if it moved.
    async fn transition_order(
        &self,
        order_id: i64,
        from: &[OrderStatus],
        to: OrderStatus,
        restock: bool,
        now: i64,
        mail: Option<&OutboxRecord>,
    ) -> Result<bool, StoreError>;
    /// Bank-transfer orders still awaiting the money, placed before `created_before`.
    async fn awaiting_transfers_before(
        &self,
        created_before: i64,
    ) -> Result<Vec<OrderRecord>, StoreError>;
    /// Card and convenience-store orders still unpaid after their deadline.
    async fn due_expirations(&self, now: i64) -> Result<Vec<i64>, StoreError>;
    /// Records a provider event id; false when it was seen before.
    async fn record_payment_event(&self, event_id: &str, now: i64) -> Result<bool, StoreError>;
    /// In one transaction: records the provider's event id and, when it is new, applies
    /// `transition` (as [`OrderRepo::transition_order`] would). If anything fails, neither is
    /// kept, so the provider's retry of the event is acted on, not taken for a repeat.
    async fn apply_payment_event(
        &self,
        event_id: &str,
        now: i64,
        transition: &Transition<'_>,
    ) -> Result<PaymentEventOutcome, StoreError>;
    async fn count_orders(&self) -> Result<u64, StoreError>;
    /// Orders matching `filter` with ids below `before_id`, newest first (the back office).
    async fn orders_page(
        &self,
        filter: &OrderFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError>;
    /// Order counts and sums for the dashboard: (orders, total yen) since `since` in
    /// `statuses`, and the number of orders now in each of `open`.
    async fn order_stats(
        &self,
        since: i64,
        counted: &[&str],
        open: &[&str],
    ) -> Result<(u64, i64, Vec<u64>), StoreError>;
    /// Many orders in one transaction, without stock changes (demo data, imports).
    async fn insert_orders(&self, orders: &[OrderRecord]) -> Result<(), StoreError>;
}

#[async_trait]
pub trait OutboxRepo: Send + Sync {
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> Result<(), StoreError>;
    /// Mails due at `now`, without claiming them (inspection and tests).
    async fn due_mail(&self, now: i64, limit: u32) -> Result<Vec<OutboxRecord>, StoreError>;
    /// Claims up to `limit` mails due at `now` for the caller until `lease_until`: each one's
    /// `next_attempt_at` becomes `lease_until`, so no other node finds it due before then, and
    /// on PostgreSQL rows another node is claiming at that moment are skipped, not shared. A
    /// node that dies holding a claim loses it when the lease runs out; another node sends.
    async fn claim_mail(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRecord>, StoreError>;
    async fn mail_sent(&self, id: i64) -> Result<(), StoreError>;
    /// The receipt of a mail by its verification code's MAC.
    async fn mail_receipt(
        &self,
        code_mac: &[u8],
    ) -> Result<Option<crate::records::MailReceiptRecord>, StoreError>;
    /// Puts a claimed mail back until `next_attempt_at` without counting an attempt (the
    /// receiving domain has had its share for now), if the caller's claim still holds it.
    async fn mail_defer(
        &self,
        id: i64,
        lease_until: i64,
        next_attempt_at: i64,
    ) -> Result<(), StoreError>;
    /// Records that mail cannot reach an address; an address already recorded under the same
    /// blind index gets the new status, source and time.
    async fn mark_undeliverable(
        &self,
        record: &crate::records::UndeliverableRecord,
    ) -> Result<(), StoreError>;
    /// The record of an address, by its blind indexes (one per live key), if mail cannot
    /// reach it.
    async fn undeliverable(
        &self,
        email_bidx: &[kura_seal::BlindIndex],
    ) -> Result<Option<crate::records::UndeliverableRecord>, StoreError>;
    /// Forgets an address (a mail reached it after all, or its owner was erased).
    async fn forget_undeliverable(
        &self,
        email_bidx: &[kura_seal::BlindIndex],
    ) -> Result<(), StoreError>;
    /// Schedules another attempt (or gives up) if the caller's claim (`lease_until`) still
    /// holds the row; a claim that ran out and went to another node is left alone.
    async fn mail_failed(
        &self,
        id: i64,
        lease_until: i64,
        next_attempt_at: i64,
        give_up: bool,
    ) -> Result<(), StoreError>;
}

/// The master keys the data uses (their check values, never the keys).
#[async_trait]
pub trait KeyCheckRepo: Send + Sync {
    async fn key_checks(&self) -> Result<Vec<KeyCheck>, StoreError>;
    /// Records a key's check value; one already recorded for that id stays as it is.
    async fn record_key_check(&self, check: &KeyCheck) -> Result<(), StoreError>;
    /// Forgets a retired key (nothing uses it any more).
    async fn delete_key_check(&self, key_id: u32) -> Result<(), StoreError>;
}

/// Staff members, their sessions and devices, sign-in throttling and the owner's settings.
#[async_trait]
pub trait StaffRepo: Send + Sync {
    /// [`StoreError::Conflict`] when the login name is taken.
    async fn insert_staff(&self, staff: &StaffRecord) -> Result<(), StoreError>;
    async fn staff_by_login(&self, login: &str) -> Result<Option<StaffRecord>, StoreError>;
    async fn staff_by_id(&self, id: i64) -> Result<Option<StaffRecord>, StoreError>;
    /// Every staff member, by login name.
    async fn list_staff(&self) -> Result<Vec<StaffRecord>, StoreError>;
    /// Sets role and status; in the same transaction every session of the staff member ends.
    /// False when there is no such staff member.
    async fn set_staff_access(
        &self,
        id: i64,
        role: &str,
        status: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Sets the password hash and ends every session of the staff member but `keep_session`.
    async fn set_staff_password(
        &self,
        id: i64,
        hash: &PasswordHash,
        keep_session: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Stores a new TOTP secret and recovery codes (replacing any before); resets the last step.
    async fn set_staff_totp(
        &self,
        id: i64,
        secret: &Sealed,
        recovery_codes: &[[u8; 32]],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Accepts a TOTP time step only if it is later than the last accepted: a code works once.
    /// Forgets a staff member's authenticator, recovery codes and passkeys and ends their
    /// sessions: they enrol again at their next sign-in. False: no such staff member.
    async fn reset_staff_mfa(&self, id: i64, now: i64) -> Result<bool, StoreError>;
    async fn accept_totp_step(&self, id: i64, step: i64) -> Result<bool, StoreError>;
    /// Uses up a recovery code: false when the staff member has no such unused code.
    async fn use_recovery_code(&self, id: i64, hash: &[u8; 32]) -> Result<bool, StoreError>;
    /// Removes a staff member and their sessions and devices (the audit log keeps their name).
    async fn delete_staff(&self, id: i64) -> Result<bool, StoreError>;

    async fn insert_staff_session(&self, session: &StaffSessionRecord) -> Result<(), StoreError>;
    /// The session with this token hash, only while its staff member is active and still has
    /// the role the session was made with.
    async fn staff_session(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<StaffSessionRecord>, StoreError>;
    async fn update_staff_session(&self, session: &StaffSessionRecord) -> Result<(), StoreError>;
    async fn delete_staff_session(&self, id: i64) -> Result<(), StoreError>;
    async fn delete_expired_staff_sessions(&self, now: i64) -> Result<u64, StoreError>;

    /// Remembers a device (a keyed hash of its cookie) of a staff member; true when it is new.
    async fn remember_staff_device(
        &self,
        staff_id: i64,
        device: &[u8; 32],
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Records a failed sign-in against `subject` (a keyed hash of what was tried, and from
    /// where); failures older than `forget_before` are dropped in the same write.
    async fn record_sign_in_failure(
        &self,
        subject: &[u8; 32],
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError>;
    /// How many failures `subject` has since `since`, and when the last one was.
    async fn sign_in_failures(
        &self,
        subject: &[u8; 32],
        since: i64,
    ) -> Result<(u32, Option<i64>), StoreError>;
    async fn clear_sign_in_failures(&self, subject: &[u8; 32]) -> Result<(), StoreError>;

    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> Result<(), StoreError>;
    async fn passkeys_of(&self, staff_id: i64) -> Result<Vec<PasskeyRecord>, StoreError>;
    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError>;
    /// Stores the counter a sign-in reported, only if it moved forward (or both are zero), so
    /// of two racing sign-ins with one counter value only one is kept. False: it did not move.
    async fn passkey_used(&self, id: i64, sign_count: u32, now: i64) -> Result<bool, StoreError>;
    async fn delete_passkey(&self, staff_id: i64, id: i64) -> Result<bool, StoreError>;
    /// Keeps a WebAuthn challenge for a staff session and purpose, replacing an earlier one.
    async fn put_staff_challenge(
        &self,
        session_id: i64,
        purpose: &str,
        challenge: &[u8],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Takes (and deletes) the challenge of a session and purpose: `(challenge, created_at)`.
    async fn take_staff_challenge(
        &self,
        session_id: i64,
        purpose: &str,
    ) -> Result<Option<(Vec<u8>, i64)>, StoreError>;

    async fn insert_export(&self, export: &ExportRecord) -> Result<(), StoreError>;
    async fn export(&self, id: i64) -> Result<Option<ExportRecord>, StoreError>;
    /// Exports asked for since `since`, newest first.
    async fn recent_exports(&self, since: i64) -> Result<Vec<ExportRecord>, StoreError>;
    /// Approves a pending export by someone other than who asked; false when it was not
    /// pending, or `by` asked for it.
    async fn approve_export(&self, id: i64, by: i64, now: i64) -> Result<bool, StoreError>;
    /// Marks an approved export downloaded (once); false when it was not approved or was
    /// downloaded already.
    async fn export_downloaded(&self, id: i64, rows: i64, now: i64) -> Result<bool, StoreError>;

    /// A setting the owner made (`None`: the default applies).
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_setting(&self, key: &str, value: &str, now: i64) -> Result<(), StoreError>;
}

/// The inquiry desk: inquiries and their messages.
#[async_trait]
pub trait InquiryRepo: Send + Sync {
    /// Stores a new inquiry with its first message (and its data key), and `mail` (the
    /// acknowledgement) in the same transaction.
    async fn insert_inquiry(
        &self,
        inquiry: &InquiryRecord,
        first: &InquiryMessageRecord,
        mail: Option<&OutboxRecord>,
    ) -> Result<(), StoreError>;
    /// Inquiries newest first, with ids below `before_id`, in one of `statuses` (all when empty),
    /// in `category` when given.
    async fn inquiries(
        &self,
        statuses: &[&str],
        category: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InquiryRecord>, StoreError>;
    async fn inquiry(&self, id: i64) -> Result<Option<InquiryRecord>, StoreError>;
    async fn inquiry_messages(&self, id: i64) -> Result<Vec<InquiryMessageRecord>, StoreError>;
    /// Adds a reply, sets the status, and queues `mail`, in one transaction.
    async fn add_inquiry_reply(
        &self,
        message: &InquiryMessageRecord,
        status: &str,
        mail: Option<&OutboxRecord>,
    ) -> Result<(), StoreError>;
    /// Sets status and assignee; false when there is no such inquiry.
    async fn set_inquiry(
        &self,
        id: i64,
        status: &str,
        assignee: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError>;
    async fn count_open_inquiries(&self) -> Result<u64, StoreError>;
    /// Inquiries from any of these email blind indexes since `since` (mail-bomb guard).
    async fn count_inquiries_from(
        &self,
        email_bidx: &[kura_seal::BlindIndex],
        since: i64,
    ) -> Result<u64, StoreError>;
}

/// What retention needs: people whose purpose ended, and orders past the accounting period.
#[async_trait]
pub trait RetentionRepo: Send + Sync {
    /// Customers created before `before` with no order since then.
    async fn expired_customers(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError>;
    /// Data keys of guest orders (no account) none of whose orders is from `before` or later.
    async fn expired_guest_keys(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError>;
    /// Data keys of inquiries not touched (no message, no status change) since `before`.
    async fn expired_inquiry_keys(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError>;
    /// Destroys a guest's data key in one transaction: their orders' blind indexes become
    /// tombstones, their queued mails go, the key goes. False when it was gone already.
    async fn shred_guest_key(&self, data_key_id: i64) -> Result<bool, StoreError>;
    /// How many orders were placed before `before`.
    async fn count_orders_before(&self, before: i64) -> Result<u64, StoreError>;
    /// Deletes up to `limit` orders placed before `before`, with their lines; returns how many.
    async fn delete_orders_before(&self, before: i64, limit: u32) -> Result<u64, StoreError>;
}

/// The MAC of an audit entry at place `seq` after the entry whose MAC is `prev` (all zeros
/// for the first); `None` when it cannot be made (the key is missing).
pub type ChainMac<'a> = &'a (dyn Fn(i64, &[u8; 32]) -> Option<[u8; 32]> + Send + Sync);

/// Checks an entry's MAC as stored against its place and the previous entry's stored MAC.
pub type ChainCheck<'a> = &'a (dyn Fn(i64, &[u8; 32], &AuditRow) -> bool + Send + Sync);
/// The MAC an entry gets under the new key, after the previous entry's new MAC.
pub type ChainRemac<'a> = &'a (dyn Fn(i64, &[u8; 32], &AuditRow) -> Option<[u8; 32]> + Send + Sync);

/// The audit log: append-only, hash-chained by the caller's key.
#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// In one transaction, one writer at a time: with `budget`, refuses when the staff member
    /// opened `budget.limit` distinct targets with any of `budget.actions` since `budget.since`
    /// and this target is not among them; otherwise takes the next place after the head, computes the
    /// entry's MAC with `chain` and writes it.
    async fn append_audit(
        &self,
        entry: &AuditEntry,
        chain: ChainMac<'_>,
        budget: Option<&ReadBudget>,
    ) -> Result<AuditAppend, StoreError>;
    /// Entries in chain order after `after_seq` (verification).
    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError>;
    /// Entries matching `filter`, newest first, before `before_seq` (browsing).
    async fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError>;
    /// Re-chains the whole log under the key `key_id` in one transaction, one writer at a time:
    /// each entry is first checked (`check`) against the chain as stored, then given its new
    /// MAC (`remac`). Returns `Err(seq)` (and changes nothing) at the first entry that fails
    /// the check, so a broken chain is never laundered; else how many entries were re-chained.
    async fn rechain_audit(
        &self,
        key_id: u32,
        check: ChainCheck<'_>,
        remac: ChainRemac<'_>,
    ) -> Result<Result<u64, i64>, StoreError>;
    /// The last entry's place and MAC.
    async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, StoreError>;
    /// Distinct targets `staff_id` opened with any of `actions` since `since`.
    async fn audit_distinct_targets(
        &self,
        staff_id: i64,
        actions: &[&str],
        since: i64,
    ) -> Result<u32, StoreError>;
}

/// Everything a shop needs from its database.
/// Incidents and the entries of their public notice pages.
#[async_trait]
pub trait IncidentRepo: Send + Sync {
    async fn insert_incident(&self, incident: &IncidentRecord) -> Result<(), StoreError>;
    /// Every incident, the latest declared first.
    async fn incidents(&self) -> Result<Vec<IncidentRecord>, StoreError>;
    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError>;
    /// Closes an open incident; `false` when it was not open.
    async fn close_incident(&self, id: i64, at: i64) -> Result<bool, StoreError>;
    async fn insert_incident_entry(&self, entry: &IncidentEntryRecord) -> Result<(), StoreError>;
    /// An incident's notice entries, oldest first.
    async fn incident_entries(
        &self,
        incident_id: i64,
    ) -> Result<Vec<IncidentEntryRecord>, StoreError>;
    /// The accounts created up to `until` whose email (or phone) blind index is one of `bidx`.
    async fn scope_accounts_by_bidx(
        &self,
        phone: bool,
        bidx: &[Vec<u8>],
        until: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// The buyers of orders placed up to `until` whose email (or phone) blind index is one of
    /// `bidx`, or whose number is one of `numbers`: the account when it existed by `until`,
    /// else the email blind index the guest is known by.
    async fn scope_order_buyers(
        &self,
        phone: bool,
        bidx: &[Vec<u8>],
        numbers: &[String],
        until: i64,
    ) -> Result<Vec<ScopeBuyer>, StoreError>;
    /// Distinct audit targets of `actions` between `from` and `to`.
    async fn audit_targets_between(
        &self,
        actions: &[&str],
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, StoreError>;
    /// Stores the people of an incident as `plan` finds them, set-based inside the database
    /// (nothing is loaded into the process), in one transaction: the window's accounts and
    /// guest buyers, then the ones found otherwise; people found before keep their status
    /// and a reach other than mail; people no longer found are removed; the unreachable ones
    /// are marked for post. Stores and returns their number.
    async fn scope_incident_people(&self, plan: &ScopePlan) -> Result<i64, StoreError>;
    /// People of an incident after `after` (by person), optionally only those in `status`.
    async fn incident_people(
        &self,
        incident_id: i64,
        status: Option<&str>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<IncidentPersonRecord>, StoreError>;
    /// (fields, reach, status, count) over an incident's people.
    async fn incident_people_tally(
        &self,
        incident_id: i64,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError>;
    /// In one transaction: each (person, new status, mail) moves from `pending` to its new
    /// status, and its mail (if any) is queued only when that move happened here, so a
    /// notice is queued once even when two nodes or a restart go over the same people.
    /// Returns how many moved.
    async fn incident_notice_batch(
        &self,
        incident_id: i64,
        items: &[(String, String, Option<OutboxRecord>)],
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Moves people of an incident from one of `from` to `to` (with `reach` when given).
    async fn set_incident_people_status(
        &self,
        incident_id: i64,
        persons: &[String],
        from: &[&str],
        to: &str,
        reach: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Every address mail cannot reach (few; opened under the master key to find who they are).
    async fn undeliverable_all(
        &self,
    ) -> Result<Vec<crate::records::UndeliverableRecord>, StoreError>;
    /// One person of an incident.
    async fn incident_person(
        &self,
        incident_id: i64,
        person: &str,
    ) -> Result<Option<IncidentPersonRecord>, StoreError>;
    /// Accounts with any of `customer_bidx` as phone, and guest orders (id, email blind
    /// index) with any of `order_bidx` as phone, at most `limit` of each.
    async fn people_with_phone(
        &self,
        customer_bidx: &[Vec<u8>],
        order_bidx: &[Vec<u8>],
        limit: u32,
    ) -> Result<(Vec<i64>, Vec<(i64, Vec<u8>)>), StoreError>;
    /// Aftercare: the accounts' passwords stop working (a new one is set through the reset
    /// mail) and their sessions end, in one transaction. Returns how many accounts had one.
    async fn force_password_reset(&self, customer_ids: &[i64]) -> Result<u64, StoreError>;
    /// Marks the notice campaign started (once).
    async fn start_incident_campaign(&self, incident_id: i64, at: i64) -> Result<(), StoreError>;
}

/// 入荷お知らせ requests (see [`crate::restock`]).
#[async_trait]
pub trait RestockRepo: Send + Sync {
    /// Records a request (a second one for the same SKU changes nothing).
    async fn add_restock_request(
        &self,
        customer_id: i64,
        sku: &str,
        lang: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// False when there was no such request.
    async fn remove_restock_request(&self, customer_id: i64, sku: &str)
    -> Result<bool, StoreError>;
    /// The SKUs a customer waits for, oldest request first.
    async fn restock_requests_of(&self, customer_id: i64) -> Result<Vec<String>, StoreError>;
    /// Requests (customer, SKU, language) whose variant has stock on a shown product, oldest
    /// first.
    async fn due_restock_requests(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, String, String)>, StoreError>;
    /// Removes the request and stores its mail, in one transaction; false (and no mail) when
    /// the request was gone already.
    async fn complete_restock_request(
        &self,
        customer_id: i64,
        sku: &str,
        mail: &OutboxRecord,
    ) -> Result<bool, StoreError>;
}

/// Receipts and invoices of orders (see [`crate::receipts`]).
#[async_trait]
pub trait ReceiptRepo: Send + Sync {
    /// The order's receipt row, if an addressee was saved or a document issued.
    async fn order_receipt(&self, order_id: i64) -> Result<Option<ReceiptRecord>, StoreError>;
    /// Saves the addressee while neither document was issued; false (nothing changed) once one
    /// was. The row names `data_key`, the order's.
    async fn set_receipt_addressee(
        &self,
        order_id: i64,
        addressee: &Sealed,
        data_key: Option<&DataKeyRef>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Counts one more issue of `kind` in one statement, making the row with
    /// `default_addressee` when none was saved; from then on the addressee is fixed. Returns the
    /// row as it is after this issue, so two issues at once get two different numbers.
    async fn issue_receipt(
        &self,
        order_id: i64,
        kind: DocumentKind,
        default_addressee: &Sealed,
        data_key: Option<&DataKeyRef>,
        now: i64,
    ) -> Result<ReceiptRecord, StoreError>;
}

/// Coupons and who used them (see [`crate::coupons`]). A use is written only with its order,
/// in the order's transaction (see [`OrderRepo::place_order`]).
#[async_trait]
pub trait CouponRepo: Send + Sync {
    /// A new coupon; [`StoreError::Conflict`] when its code exists.
    async fn insert_coupon(&self, coupon: &CouponRecord) -> Result<(), StoreError>;
    /// Every coupon, newest first, with how many orders use it now.
    async fn coupons(&self) -> Result<Vec<(CouponRecord, u64)>, StoreError>;
    /// The coupon with this (normalised) code.
    async fn coupon_by_code(&self, code: &str) -> Result<Option<CouponRecord>, StoreError>;
    /// Switches a coupon on or off; false when there is no such coupon.
    async fn set_coupon_active(&self, id: i64, active: bool) -> Result<bool, StoreError>;
    /// Whether any of `holders` (see [`crate::coupons::holders`]) used the coupon.
    async fn coupon_used_by(&self, coupon_id: i64, holders: &[Vec<u8>])
    -> Result<bool, StoreError>;
}

#[async_trait]
pub trait Store:
    CustomerRepo
    + CouponRepo
    + ReceiptRepo
    + RestockRepo
    + AccountRepo
    + SessionRepo
    + SealedRowRepo
    + CatalogRepo
    + CatalogEditRepo
    + CartRepo
    + OrderRepo
    + OutboxRepo
    + KeyCheckRepo
    + StaffRepo
    + AuditRepo
    + RetentionRepo
    + InquiryRepo
    + GuardRepo
    + IncidentRepo
    + Send
    + Sync
    + 'static
{
    /// A cart's lines (SKU order) and the catalog items they name (active products only).
    /// A store may answer in one query; by default it is two.
    async fn cart_lines(
        &self,
        cart_id: i64,
    ) -> Result<(Vec<(String, u32)>, Vec<CatalogItem>), StoreError> {
        let rows = self.cart_items(cart_id).await?;
        let skus: Vec<String> = rows.iter().map(|(s, _)| s.clone()).collect();
        let items = self.catalog_items(&skus).await?;
        Ok((rows, items))
    }

    /// Applies pending migrations; returns the names of those applied.
    async fn migrate(&self) -> Result<Vec<String>, StoreError>;
    /// Applied migrations as (number, name).
    async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
}

/// The guard's events, alerts and blocks (shared by every node).
#[async_trait]
pub trait GuardRepo: Send + Sync {
    async fn insert_security_events(
        &self,
        events: &[crate::records::SecurityEventRecord],
    ) -> Result<(), StoreError>;
    /// Events since `since` counted per (bucket start, kind), buckets of `bucket_seconds`.
    async fn security_event_counts(
        &self,
        since: i64,
        bucket_seconds: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError>;
    /// Deletes events older than `before` (at most `limit`); how many went.
    async fn purge_security_events(&self, before: i64, limit: u32) -> Result<u64, StoreError>;
    async fn insert_alert(&self, alert: &crate::records::AlertRecord) -> Result<(), StoreError>;
    /// The newest alerts.
    async fn alerts(&self, limit: u32) -> Result<Vec<crate::records::AlertRecord>, StoreError>;
    /// Marks an alert seen to, with an optional note (sealed under
    /// [`crate::sealed::col::GUARD_ALERT_NOTE`] against the alert's id).
    async fn acknowledge_alert(
        &self,
        id: i64,
        by: i64,
        now: i64,
        note: Option<&kura_seal::Sealed>,
    ) -> Result<bool, StoreError>;
    /// Blocks a source until `until` (a later end wins over an earlier one).
    async fn upsert_block(&self, block: &crate::records::BlockRecord) -> Result<(), StoreError>;
    async fn active_blocks(&self, now: i64)
    -> Result<Vec<crate::records::BlockRecord>, StoreError>;
    async fn delete_block(&self, source: &str) -> Result<bool, StoreError>;
}
