//! Which columns hold sealed values, and the sealed record types the ports accept.
//!
//! [`SEALED_TABLES`] is the single list of every sealed column and blind index in the schema;
//! key rotation, key status and the invariant tests walk it, so a new personal column added to
//! the schema but not here is caught by the conformance suite.

use kura_seal::{BlindIndex, Column, Normalize, PasswordHash, Sealed};

/// A blind-index column and the sealed column it is computed from.
#[derive(Debug, Clone, Copy)]
pub struct BlindColumn {
    pub column: &'static str,
    pub source: &'static str,
    pub how: Normalize,
    /// When the source holds a sealed JSON record: the path of the indexed field in it.
    pub json_path: &'static [&'static str],
}

/// A table with sealed columns, keyed by an `id BIGINT` primary key.
#[derive(Debug, Clone, Copy)]
pub struct SealedTable {
    pub table: &'static str,
    pub sealed: &'static [&'static str],
    pub blind: &'static [BlindColumn],
    /// Whether rows name a person's data key (`data_key_id`); their sealed values are then
    /// under it (or, for rows from before data keys, under a master key).
    pub data_key: bool,
}

impl SealedTable {
    /// The sealed column `name` of this table, padded as [`col::SEALED`] declares it (a name
    /// missing there gets free-text buckets; a test keeps the two lists in step).
    pub fn column(&self, name: &'static str) -> Column {
        col::SEALED
            .iter()
            .copied()
            .find(|c| c.table == self.table && c.column == name)
            .unwrap_or(Column::new(self.table, name))
    }
}

/// Every column in the schema, as code seals it. How a column is padded is declared here, once:
/// enum-like values (codes, dates, postal codes, phone numbers) use [`Column::fixed`] with
/// [`col::ENUM_WIDTH`], so every value of the column seals to one length; free text and JSON
/// records use [`Column::new`] and are padded to length buckets (see [`kura_seal::Padding`]).
pub mod col {
    use kura_seal::Column;
    /// Padded length of enum-like values: the longest (`female`, `1990-01-31`, an 11-digit
    /// phone number) plus the padding mark fit with room to spare.
    pub const ENUM_WIDTH: u16 = 16;
    /// Key of the daily pseudonyms that stand for client IPs in log lines (never stored).
    pub const LOG_IP: Column = Column::new("log", "client_ip");
    pub const FAMILY_NAME: Column = Column::new("customers", "family_name");
    pub const GIVEN_NAME: Column = Column::new("customers", "given_name");
    pub const FAMILY_NAME_KANA: Column = Column::new("customers", "family_name_kana");
    pub const GIVEN_NAME_KANA: Column = Column::new("customers", "given_name_kana");
    pub const EMAIL: Column = Column::new("customers", "email");
    pub const PHONE: Column = Column::fixed("customers", "phone", ENUM_WIDTH);
    pub const POSTAL_CODE: Column = Column::fixed("customers", "postal_code", ENUM_WIDTH);
    pub const PREFECTURE: Column = Column::fixed("customers", "prefecture", ENUM_WIDTH);
    pub const ADDRESS1: Column = Column::new("customers", "address1");
    pub const ADDRESS2: Column = Column::new("customers", "address2");
    pub const BIRTH_DATE: Column = Column::fixed("customers", "birth_date", ENUM_WIDTH);
    pub const GENDER: Column = Column::fixed("customers", "gender", ENUM_WIDTH);
    pub const EMAIL_BIDX: Column = Column::new("customers", "email_bidx");
    pub const PHONE_BIDX: Column = Column::new("customers", "phone_bidx");
    pub const SESSION_DATA: Column = Column::new("sessions", "data");
    pub const ORDER_BUYER: Column = Column::new("orders", "buyer");
    pub const ORDER_RECIPIENT: Column = Column::new("orders", "recipient");
    pub const ORDER_TOKEN: Column = Column::new("orders", "access_token");
    pub const ORDER_EMAIL_BIDX: Column = Column::new("orders", "email_bidx");
    pub const ORDER_PHONE_BIDX: Column = Column::new("orders", "phone_bidx");
    pub const OUTBOX_PAYLOAD: Column = Column::new("mail_outbox", "payload");
    /// Key of the stable Message-ID reference of an outbox row (never stored).
    pub const OUTBOX_MESSAGE_ID: Column = Column::new("mail_outbox", "message_id");
    /// A saved delivery address of an account (one JSON `Person` record per row).
    pub const ADDRESS_RECORD: Column = Column::new("customer_addresses", "record");

    /// Every sealed (not blind-index) column, for key rotation and the tests.
    pub const SEALED: &[Column] = &[
        FAMILY_NAME,
        GIVEN_NAME,
        FAMILY_NAME_KANA,
        GIVEN_NAME_KANA,
        EMAIL,
        PHONE,
        POSTAL_CODE,
        PREFECTURE,
        ADDRESS1,
        ADDRESS2,
        BIRTH_DATE,
        GENDER,
        SESSION_DATA,
        ORDER_BUYER,
        ORDER_RECIPIENT,
        ORDER_TOKEN,
        OUTBOX_PAYLOAD,
        ADDRESS_RECORD,
        kura_seal::DATA_KEY_COLUMN,
    ];
}

pub const CUSTOMERS: SealedTable = SealedTable {
    table: "customers",
    sealed: &[
        "family_name",
        "given_name",
        "family_name_kana",
        "given_name_kana",
        "email",
        "phone",
        "postal_code",
        "prefecture",
        "address1",
        "address2",
        "birth_date",
        "gender",
    ],
    blind: &[
        BlindColumn {
            column: "email_bidx",
            source: "email",
            how: Normalize::Email,
            json_path: &[],
        },
        BlindColumn {
            column: "phone_bidx",
            source: "phone",
            how: Normalize::Digits,
            json_path: &[],
        },
    ],
    data_key: true,
};

pub const SESSIONS: SealedTable = SealedTable {
    table: "sessions",
    sealed: &["data"],
    blind: &[],
    data_key: false,
};

pub const ORDERS: SealedTable = SealedTable {
    table: "orders",
    sealed: &["buyer", "recipient", "access_token"],
    blind: &[
        BlindColumn {
            column: "email_bidx",
            source: "buyer",
            how: Normalize::Email,
            json_path: &["email"],
        },
        BlindColumn {
            column: "phone_bidx",
            source: "buyer",
            how: Normalize::Digits,
            json_path: &["person", "phone"],
        },
    ],
    data_key: true,
};

pub const MAIL_OUTBOX: SealedTable = SealedTable {
    table: "mail_outbox",
    sealed: &["payload"],
    blind: &[],
    data_key: true,
};

/// Saved delivery addresses of customer accounts: one sealed `Person` record per row.
pub const CUSTOMER_ADDRESSES: SealedTable = SealedTable {
    table: "customer_addresses",
    sealed: &["record"],
    blind: &[],
    data_key: true,
};

/// People's data keys, each wrapped (sealed) by the master key ring: key rotation re-wraps
/// them instead of re-sealing every personal field.
pub const DATA_KEYS: SealedTable = SealedTable {
    table: "data_keys",
    sealed: &["wrapped"],
    blind: &[],
    data_key: false,
};

pub const SEALED_TABLES: &[SealedTable] = &[
    DATA_KEYS,
    CUSTOMERS,
    SESSIONS,
    ORDERS,
    MAIL_OUTBOX,
    CUSTOMER_ADDRESSES,
];

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
}

/// The text a blind index is computed from: the source itself, or a field of the JSON record.
pub fn blind_source(text: &str, json_path: &[&str]) -> Option<String> {
    if json_path.is_empty() {
        return Some(text.to_string());
    }
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    for key in json_path {
        value = value.get_mut(*key)?.take();
    }
    value.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use kura_domain::{
        AddressLine, BirthDate, CustomerProfile, Email, Gender, Kana, Person, PersonName, Phone,
        PostalCode, Prefecture,
    };
    use kura_seal::{KeyRing, Padding};

    use super::*;
    use crate::Customers;

    #[test]
    fn every_sealed_column_of_the_schema_declares_its_padding() {
        let mut schema = BTreeSet::new();
        for table in SEALED_TABLES {
            for name in table.sealed {
                schema.insert((table.table, *name));
                assert!(
                    col::SEALED
                        .iter()
                        .any(|c| c.table == table.table && c.column == *name),
                    "{}.{name} is sealed but not declared in col::SEALED",
                    table.table
                );
            }
        }
        let declared: BTreeSet<_> = col::SEALED.iter().map(|c| (c.table, c.column)).collect();
        assert_eq!(declared, schema);
        assert_eq!(
            CUSTOMERS.column("gender").padding(),
            Padding::Fixed(col::ENUM_WIDTH)
        );
        assert_eq!(CUSTOMERS.column("family_name").padding(), Padding::Buckets);
    }

    fn profile(n: u8, gender: Option<Gender>) -> CustomerProfile {
        let phone = if n.is_multiple_of(2) {
            "0312345678"
        } else {
            "09012345678"
        };
        CustomerProfile {
            person: Person {
                family_name: PersonName::parse(["林", "勅使河原"][usize::from(n % 2)]).unwrap(),
                given_name: PersonName::parse("瑞穂").unwrap(),
                family_name_kana: Kana::parse("カブラギ").unwrap(),
                given_name_kana: Kana::parse("ミズホ").unwrap(),
                postal_code: PostalCode::parse(&format!("{:07}", 1_000_001 + u32::from(n)))
                    .unwrap(),
                prefecture: Prefecture::try_from(n % 47 + 1).unwrap(),
                address1: AddressLine::parse("千代田区千代田1-1").unwrap(),
                address2: None,
                phone: Phone::parse(phone).unwrap(),
            },
            email: Email::parse(&format!("c{n}@example.jp")).unwrap(),
            birth_date: Some(
                BirthDate::parse(
                    &format!("19{:02}-{}-{}", n % 100, n % 12 + 1, n % 28 + 1),
                    (2026, 1, 1),
                )
                .unwrap(),
            ),
            gender,
        }
    }

    /// A copy of the database must not tell a customer's gender, prefecture, birth date, postal
    /// code or phone kind from the length of the sealed value.
    #[test]
    fn enum_like_customer_fields_seal_to_one_length_per_column() {
        let ring = std::sync::Arc::new(KeyRing::ephemeral().unwrap());
        let mut lengths: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        let genders = [Gender::Female, Gender::Male, Gender::Other];
        for n in 0..94u8 {
            let gender = genders[usize::from(n) % 3];
            let p = profile(n, Some(gender));
            let (keys, key) =
                crate::data_keys::PersonKeys::new_person_in(std::sync::Arc::clone(&ring)).unwrap();
            let sealed = Customers::seal(&keys, Some(key), i64::from(n), &p, None, 0).unwrap();
            for (name, value) in [
                ("gender", sealed.gender.as_ref().unwrap()),
                ("prefecture", &sealed.prefecture),
                ("birth_date", sealed.birth_date.as_ref().unwrap()),
                ("postal_code", &sealed.postal_code),
                ("phone", &sealed.phone),
                ("family_name", &sealed.family_name),
            ] {
                lengths
                    .entry(name)
                    .or_default()
                    .insert(value.as_bytes().len());
            }
            // And everything opens back to what went in.
            assert_eq!(Customers::open(&keys, &sealed).unwrap(), p);
        }
        for (name, seen) in &lengths {
            assert_eq!(seen.len(), 1, "{name} sealed to lengths {seen:?}");
        }
    }
}
