//! The records the ports exchange with a store: catalog rows (public, in the clear), account
//! rows and every row with sealed personal data ([`Sealed`] and [`BlindIndex`] values, never
//! plaintext). One module for all of them, so the ports, the use cases and the stores share
//! them without importing one another; each is re-exported where its use case lives.

use kura_domain::{TaxRate, Yen};
use kura_seal::{BlindIndex, PasswordHash, Sealed};
use serde::Serialize;

// ---- Catalog -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: i64,
    pub slug: String,
    pub name_ja: String,
    pub name_en: String,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub sku: String,
    pub label_ja: String,
    pub label_en: String,
    pub price: Yen,
    pub stock: i64,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub slug: String,
    pub category_id: i64,
    pub name_ja: String,
    pub name_en: String,
    pub description_ja: String,
    pub description_en: String,
    pub tax: TaxRate,
    /// The embedded illustration's name (`/images/{image}.svg`), shown while no photo is
    /// uploaded.
    pub image: String,
    pub position: i64,
    pub variants: Vec<Variant>,
    /// Whether the storefront shows it; the back office shows every product.
    pub active: bool,
    /// The first uploaded photo as served (`{sha256 hex}.{jpg|png}` under `/images/p/`), shown
    /// instead of the illustration.
    pub photo: Option<String>,
    /// 品番, specifications and food labelling.
    pub details: ProductDetails,
}

/// What Japanese shoppers look for beyond the name: the model number (品番), a short table of
/// specifications (容量 1.0L, 消費電力 1250W) and, for food, the label's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductDetails {
    /// 品番 (empty: none).
    pub model_number: String,
    /// 商品仕様 rows, in the order shown.
    pub specs: Vec<Spec>,
    pub food: FoodDetails,
}

/// One row of the specification table; an empty English text falls back to the Japanese.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub label_ja: String,
    pub label_en: String,
    pub value_ja: String,
    pub value_en: String,
}

/// A food label's facts (食品表示): each empty when not stated; an empty English text falls
/// back to the Japanese.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FoodDetails {
    /// 原材料名
    pub ingredients_ja: String,
    pub ingredients_en: String,
    /// The eight mandatory allergens (特定原材料).
    pub allergens: kura_domain::AllergenStatement,
    /// The recommended ones (特定原材料に準ずるもの), as free text.
    pub allergens_other_ja: String,
    pub allergens_other_en: String,
    /// 内容量
    pub net_contents_ja: String,
    pub net_contents_en: String,
    /// 賞味期限, as text (製造日より180日).
    pub best_before_ja: String,
    pub best_before_en: String,
    /// 保存方法
    pub storage_ja: String,
    pub storage_en: String,
}

impl FoodDetails {
    /// Nothing is stated: the storefront shows no food table.
    pub fn is_empty(&self) -> bool {
        !self.allergens.is_stated()
            && [
                &self.ingredients_ja,
                &self.ingredients_en,
                &self.allergens_other_ja,
                &self.allergens_other_en,
                &self.net_contents_ja,
                &self.net_contents_en,
                &self.best_before_ja,
                &self.best_before_en,
                &self.storage_ja,
                &self.storage_en,
            ]
            .iter()
            .all(|t| t.is_empty())
    }
}

/// An uploaded product image as stored: only the re-encoded bytes, never the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductImage {
    pub id: i64,
    pub product_id: i64,
    /// Order on the product page; the lowest is the product's photo.
    pub position: i64,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub sha256: [u8; 32],
    pub width: u32,
    pub height: u32,
    /// The file name it is served under: `{sha256 hex}.{jpg|png}`.
    pub file: String,
    /// Alternative text for screen readers (empty: the product's name).
    pub alt_ja: String,
    pub alt_en: String,
    pub created_at: i64,
}

/// A product image without its bytes, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductImageInfo {
    pub id: i64,
    pub product_id: i64,
    pub position: i64,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub file: String,
    pub alt_ja: String,
    pub alt_en: String,
    pub created_at: i64,
}

impl Product {
    pub fn lowest_price(&self) -> Yen {
        self.variants
            .iter()
            .map(|v| v.price)
            .min()
            .unwrap_or_default()
    }

    pub fn in_stock(&self) -> bool {
        self.variants.iter().any(|v| v.stock > 0)
    }
}

/// A variant with what a cart line needs of its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub sku: String,
    pub product_slug: String,
    pub product_name_ja: String,
    pub product_name_en: String,
    pub label_ja: String,
    pub label_en: String,
    pub price: Yen,
    pub tax: TaxRate,
    pub stock: i64,
    pub image: String,
}

/// One page of products and how many there are in all.
#[derive(Debug, Clone, Default)]
pub struct ProductPage {
    pub products: Vec<Product>,
    pub total: u64,
}

// ---- Accounts ------------------------------------------------------------------------------

/// What a one-time account token is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    PasswordReset,
}

impl TokenPurpose {
    pub fn code(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }

    /// How long a link lives: a day to confirm an address, an hour to reset a password
    /// (OWASP Forgot Password CS).
    pub fn lifetime_secs(self) -> i64 {
        match self {
            Self::VerifyEmail => 24 * 3600,
            Self::PasswordReset => 3600,
        }
    }
}

/// A stored one-time token: its hash only.
#[derive(Debug, Clone)]
pub struct AccountTokenRecord {
    pub token_hash: [u8; 32],
    pub customer_id: i64,
    pub purpose: TokenPurpose,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A saved delivery address as stored: the whole `Person` sealed against the row id.
#[derive(Debug, Clone)]
pub struct SavedAddressRecord {
    pub id: i64,
    pub customer_id: i64,
    pub record: Sealed,
    pub created_at: i64,
    /// The customer's data key (the record is sealed under it).
    pub data_key: Option<DataKeyRef>,
}

// ---- Sealed rows ---------------------------------------------------------------------------

/// A person's data key as a row names it: its id and, when read back, its wrapped form.
/// `wrapped` is `None` on a row read after the person was erased (the key is gone, and with
/// it every value sealed under it). On insert, a customer or order whose `wrapped` is set
/// creates the key in the same transaction; otherwise the key must exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRef {
    pub id: i64,
    pub wrapped: Option<Sealed>,
}

/// A customer row as the store holds it: personal fields sealed, lookups by blind index.
#[derive(Debug, Clone)]
pub struct SealedCustomer {
    pub id: i64,
    pub email_bidx: BlindIndex,
    pub phone_bidx: BlindIndex,
    pub family_name: Sealed,
    pub given_name: Sealed,
    pub family_name_kana: Sealed,
    pub given_name_kana: Sealed,
    pub email: Sealed,
    pub phone: Sealed,
    pub postal_code: Sealed,
    pub prefecture: Sealed,
    pub address1: Sealed,
    pub address2: Option<Sealed>,
    pub birth_date: Option<Sealed>,
    pub gender: Option<Sealed>,
    pub password_hash: Option<PasswordHash>,
    pub created_at: i64,
    /// The data key the personal fields are sealed under (`None`: sealed under a master key,
    /// before data keys).
    pub data_key: Option<DataKeyRef>,
}

/// What login needs of a customer: the id and the password hash, nothing personal.
#[derive(Debug, Clone)]
pub struct CustomerCredentials {
    pub id: i64,
    pub password_hash: Option<PasswordHash>,
}

/// One row's sealed and blind-index columns, in [`SealedTable`] order, for key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    pub id: i64,
    pub sealed: Vec<Option<Vec<u8>>>,
    pub blind: Vec<Option<Vec<u8>>>,
    /// For tables with [`SealedTable::data_key`]: the row's data key, if it names one.
    pub data_key: Option<DataKeyRef>,
}

/// A row re-sealed under a new key, written only if the row still holds `old`.
#[derive(Debug, Clone)]
pub struct ResealedRow {
    pub old: SealedRow,
    pub sealed: Vec<Option<Vec<u8>>>,
    pub blind: Vec<Option<Vec<u8>>>,
}

/// A stored session: the token's hash, never the token; the data sealed.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: i64,
    pub token_hash: [u8; 32],
    pub customer_id: Option<i64>,
    pub data: Sealed,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
}

/// An order as the store holds it: buyer and recipient sealed as whole records, blind indexes
/// of the buyer's email and phone for incident scoping, money and lines in the clear.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: i64,
    pub number: String,
    pub customer_id: Option<i64>,
    pub status: kura_domain::OrderStatus,
    pub payment: kura_domain::PaymentMethod,
    pub lang: String,
    pub buyer: Sealed,
    pub recipient: Option<Sealed>,
    pub access_token: Sealed,
    pub email_bidx: BlindIndex,
    pub phone_bidx: BlindIndex,
    pub delivery_date: Option<String>,
    pub delivery_slot: Option<String>,
    pub totals: kura_domain::Totals,
    pub payment_session_id: Option<String>,
    pub payment_url: Option<String>,
    pub payment_expires_at: Option<i64>,
    pub idempotency_hash: [u8; 32],
    pub created_at: i64,
    pub lines: Vec<OrderLineRecord>,
    /// The buyer's data key: the customer's, or a guest order's own.
    pub data_key: Option<DataKeyRef>,
    /// The coupon the order used (its discount is in `totals.discount`); placing the order
    /// records its use for the buyer's email and account in the order's transaction.
    pub coupon_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLineRecord {
    pub sku: String,
    pub product_name: String,
    pub variant_label: String,
    pub unit_price: kura_domain::Yen,
    pub quantity: u32,
    pub tax: kura_domain::TaxRate,
}

/// A master key the data uses, as the database records it: the id and a check value that
/// tells the right key file from another shop's or an outdated copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheck {
    pub key_id: u32,
    pub check_value: [u8; 32],
    /// Unix seconds when the key was created (from the key file), to name it in messages.
    pub key_created_at: i64,
    pub recorded_at: i64,
}

/// What placing an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    Placed,
    /// The idempotency key was used before: this is that order.
    Duplicate {
        order_id: i64,
    },
    /// Not enough stock for this SKU; nothing was written.
    SoldOut {
        sku: String,
    },
    /// The price changed since the cart was priced; nothing was written.
    PriceChanged {
        sku: String,
    },
    /// The SKU no longer exists; nothing was written.
    Unavailable {
        sku: String,
    },
    /// The order's coupon was used already by its email or account; nothing was written.
    CouponUsed,
}

/// A coupon as the store holds it (codes and amounts are shop data, nothing personal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRecord {
    pub id: i64,
    pub coupon: kura_domain::Coupon,
    pub created_at: i64,
    /// The staff account that made it.
    pub created_by: i64,
}

/// A mail waiting in the durable outbox, sealed (it holds addresses and names).
#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: String,
    pub payload: Sealed,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// The data key of the person the mail is to (the payload is sealed under it).
    pub data_key: Option<DataKeyRef>,
    /// The mail's verification code, kept with the row when it is queued (a row read back
    /// from the outbox has `None`: the receipt lives on in its own table).
    pub receipt: Option<MailReceiptRecord>,
}

/// What the shop keeps of each mail it sends so that anyone holding the mail can ask whether
/// the shop sent it: the code only as a keyed MAC, the recipient masked and sealed.
#[derive(Debug, Clone)]
pub struct MailReceiptRecord {
    /// The outbox row's id.
    pub id: i64,
    pub code_mac: Vec<u8>,
    pub kind: String,
    /// The recipient as shown on the check page (`ha***@example.jp`), sealed.
    pub recipient: Sealed,
    pub created_at: i64,
}

/// An address mail cannot reach, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeliverableRecord {
    pub id: i64,
    /// The address, sealed under the master key against `id`.
    pub address: Sealed,
    pub email_bidx: BlindIndex,
    /// The SMTP reply or the delivery-status code that said so (`550`, `5.1.1`): never text
    /// from the receiving server, which often repeats the address.
    pub status: String,
    /// `"smtp"` (refused while sending) or `"dsn"` (a delivery-status notification came back).
    pub source: String,
    pub marked_at: i64,
}

/// An incident the owner declared. Its text is written for the record: no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: i64,
    pub title: String,
    pub discovered_at: i64,
    /// The suspected window in which data may have been taken (Unix seconds).
    pub window_start: i64,
    pub window_end: i64,
    /// The cause as far as it is known.
    pub cause: String,
    /// The categories of data affected (see [`crate::incidents::CATEGORIES`]).
    pub categories: Vec<String>,
    /// Whether the master key file may have been exposed with the data.
    pub keys_exposed: bool,
    /// Whether an attack caused it (the final report is then due in 60 days, not 30).
    pub attack: bool,
    pub declared_by: i64,
    pub declared_at: i64,
    pub closed_at: Option<i64>,
    /// When the owner started sending the notice mails (a restarted node resumes them).
    pub campaign_started_at: Option<i64>,
    /// How many people the last scoping found.
    pub people: i64,
}

/// A person an incident touched: an account (`c:ID`) or a guest buyer (`g:` and the hex blind
/// index of the order's email), what found them, which kinds of their data were held, how
/// they can be reached and where their notice stands. Nothing here is personal in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentPersonRecord {
    pub incident_id: i64,
    pub person: String,
    pub customer_id: Option<i64>,
    /// The latest order, for a guest buyer (their contact data is opened from it).
    pub order_id: Option<i64>,
    /// What found them, comma-separated: `window`, `read`, `list`.
    pub found_by: String,
    /// The incident's categories this person's data fell under, comma-separated.
    pub fields: String,
    /// `mail`, `post` (no deliverable address) or `none`.
    pub reach: String,
    /// `pending`, `mailed`, `bounced`, `posted` or `answered`.
    pub status: String,
    pub lang: String,
    pub updated_at: i64,
}

/// Whom an order found by scoping belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeBuyer {
    Account(i64),
    /// A guest buyer, by the blind index of the order's email.
    Guest(Vec<u8>),
}

/// What one scoping asks the store to record (see `IncidentRepo::scope_incident_people`).
/// Nothing in it is personal: ids, blind indexes, dates and category keys.
#[derive(Debug, Clone, Default)]
pub struct ScopePlan {
    pub incident_id: i64,
    /// The window: accounts and guest buyers with a record created from `since` (the start,
    /// or `i64::MIN` for everything held) up to `until`.
    pub since: i64,
    pub until: i64,
    /// The incident's data categories: `birth_date`, `password_hash` and `order_history`
    /// count for a person only where their data holds them.
    pub categories: Vec<String>,
    /// People found otherwise, with how (`read`, `list`, `read,list`).
    pub accounts: Vec<(i64, String)>,
    pub guests: Vec<(Vec<u8>, String)>,
    /// People (`c:ID`, `g:HEX`) with no deliverable address.
    pub unreachable: Vec<String>,
    pub now: i64,
}

/// A dated entry of an incident's public notice page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentEntryRecord {
    pub id: i64,
    pub incident_id: i64,
    /// `first`, `update`, `forged_mail` or `closed`.
    pub kind: String,
    pub title_ja: String,
    pub body_ja: String,
    pub title_en: String,
    pub body_en: String,
    pub published_at: i64,
    pub staff_id: i64,
}

// ---- Staff and the audit log ------------------------------------------------------------------

/// A staff member as the store holds them: email and TOTP secret sealed against the row, the
/// password as an Argon2id hash, recovery codes as SHA-256 hashes (each usable once).
#[derive(Debug, Clone)]
pub struct StaffRecord {
    pub id: i64,
    /// The sign-in name (not personal data: chosen by the owner, e.g. `tanaka`).
    pub login: String,
    /// [`crate::staff::Role::code`].
    pub role: String,
    /// `active` or `suspended`.
    pub status: String,
    pub password_hash: PasswordHash,
    pub email: Sealed,
    /// Absent until the staff member enrols an authenticator.
    pub totp_secret: Option<Sealed>,
    /// The last TOTP time step accepted: a code of that step or an earlier one is refused.
    pub totp_last_step: i64,
    pub recovery_codes: Vec<[u8; 32]>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A staff session: the token's SHA-256 only. `role` is the role at sign-in; the store returns
/// the session only while the staff member is active with that same role, so a role change or
/// a suspension ends it on every node at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSessionRecord {
    pub id: i64,
    pub token_hash: [u8; 32],
    pub staff_id: i64,
    pub role: String,
    /// When the second factor was given; `None` while only the password was.
    pub mfa_at: Option<i64>,
    /// When the staff member last re-authenticated for a sensitive action.
    pub step_up_at: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
}

/// A staff member's passkey (WebAuthn credential). Neither the id nor the public key is a
/// secret; the authenticator holds the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: i64,
    pub staff_id: i64,
    pub credential_id: Vec<u8>,
    /// The COSE key as the authenticator sent it.
    pub public_key: Vec<u8>,
    pub algorithm: i64,
    pub sign_count: u32,
    /// What the staff member called it ("YubiKey 5", "MacBook").
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A bulk export of personal data and how far it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    pub id: i64,
    /// What is exported (`customers`).
    pub kind: String,
    pub requested_by: i64,
    pub requested_at: i64,
    pub approved_by: Option<i64>,
    pub approved_at: Option<i64>,
    pub downloaded_at: Option<i64>,
    pub row_count: Option<i64>,
}

/// One entry of the audit log before it joins the chain. Holds no plaintext personal data:
/// `target` names records by internal id, `fields` by column name, and what people typed (the
/// stated reason) or where they came from (the IP) is in `detail`, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The row id `detail` is sealed against.
    pub id: i64,
    pub at: i64,
    /// `None` for the command line and the shop's own jobs.
    pub staff_id: Option<i64>,
    /// Who acted, as named at the time (`tanaka`, `cli`, `retention`).
    pub actor: String,
    pub action: String,
    pub target: String,
    pub fields: String,
    pub detail: Sealed,
    /// The master key whose audit-chain key made `mac`.
    pub key_id: u32,
}

/// An entry in the chain: its place and its MAC (over the previous MAC and the entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub entry: AuditEntry,
    pub mac: [u8; 32],
}

/// A per-hour limit on distinct records one staff member may open with any of `actions`.
#[derive(Debug, Clone)]
pub struct ReadBudget {
    pub staff_id: i64,
    pub actions: &'static [&'static str],
    pub since: i64,
    pub limit: u32,
}

/// What appending to the audit log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAppend {
    Written {
        seq: i64,
        mac: [u8; 32],
    },
    /// The budget was spent: nothing was written (the caller records the refusal).
    OverBudget {
        used: u32,
    },
}

/// Which entries of the audit log to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub staff_id: Option<i64>,
    /// Entries whose action starts with this.
    pub action_prefix: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Which orders the back office lists, newest first. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// [`kura_domain::OrderStatus::code`]s; empty: any.
    pub statuses: Vec<String>,
    pub number: Option<String>,
    /// The buyer's email or phone, as blind indexes under every held key.
    pub contact_bidx: Vec<BlindIndex>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

// ---- Inquiry desk ---------------------------------------------------------------------------

/// An inquiry as the store holds it: the sender's name and email sealed as one JSON record
/// under the inquiry's own data key, a blind index of the email, the rest in the clear.
#[derive(Debug, Clone)]
pub struct InquiryRecord {
    pub id: i64,
    /// The number the customer is given (`Q-XXXX-XXXX`).
    pub number: String,
    pub category: String,
    /// An order number as the customer typed it (validated shape), if any.
    pub order_number: Option<String>,
    /// `open`, `answered` or `closed`.
    pub status: String,
    pub assignee: Option<i64>,
    pub lang: String,
    pub contact: Sealed,
    pub email_bidx: BlindIndex,
    pub data_key: Option<DataKeyRef>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One message of an inquiry: the customer's question or a staff reply, sealed.
#[derive(Debug, Clone)]
pub struct InquiryMessageRecord {
    pub id: i64,
    pub inquiry_id: i64,
    /// `customer`, or the replying staff member's login name.
    pub author: String,
    pub staff_id: Option<i64>,
    pub body: Sealed,
    pub data_key: Option<DataKeyRef>,
    pub created_at: i64,
}

/// A security event as the guard keeps it: the source as a daily pseudonym, people as ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEventRecord {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub source: Option<String>,
    pub subject: Option<i64>,
    pub detail: Option<String>,
}

/// An alert the guard raised, and whether staff have seen to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: i64,
    pub at: i64,
    pub detector: String,
    pub severity: String,
    /// A source pseudonym, `staff:ID`, `customer:ID` or `shop`.
    pub principal: String,
    pub count: i64,
    pub window_seconds: i64,
    /// What the guard did, in words.
    pub actions: String,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<i64>,
    /// How it was seen to, sealed (see [`crate::ports::GuardRepo::acknowledge_alert`]).
    pub note: Option<Sealed>,
}

/// A source refused by every node until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    pub source: String,
    pub until: i64,
    pub detector: String,
    pub created_at: i64,
}

// ---- Receipts ------------------------------------------------------------------------------

/// The two documents a paid order can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// 領収書: the money was received.
    Receipt,
    /// 適格請求書: a qualified invoice, for the buyer's input-tax credit.
    Invoice,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 2] = [Self::Receipt, Self::Invoice];

    pub fn code(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::Invoice => "invoice",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// An order's receipt row: the addressee (sealed under the order's data key, against the order
/// id) and how often each document was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRecord {
    pub order_id: i64,
    pub addressee: Sealed,
    pub receipt_issues: u32,
    pub invoice_issues: u32,
    /// When each document was first issued (the original's date).
    pub receipt_first_at: Option<i64>,
    pub invoice_first_at: Option<i64>,
    pub data_key: Option<DataKeyRef>,
}

impl ReceiptRecord {
    /// How often `kind` was issued.
    pub fn issues(&self, kind: DocumentKind) -> u32 {
        match kind {
            DocumentKind::Receipt => self.receipt_issues,
            DocumentKind::Invoice => self.invoice_issues,
        }
    }

    pub fn first_at(&self, kind: DocumentKind) -> Option<i64> {
        match kind {
            DocumentKind::Receipt => self.receipt_first_at,
            DocumentKind::Invoice => self.invoice_first_at,
        }
    }

    /// Once either document was issued, the addressee stays as printed.
    pub fn fixed(&self) -> bool {
        self.receipt_issues > 0 || self.invoice_issues > 0
    }
}
