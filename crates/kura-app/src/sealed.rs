//! Which columns hold sealed values, and the sealed record types the ports accept.
//!
//! [`SEALED_TABLES`] is the single list of every sealed column and blind index in the schema;
//! key rotation, key status and the invariant tests walk it, so a new personal column added to
//! the schema but not here is caught by the conformance suite.

use kura_seal::{Column, Normalize};

pub use crate::records::{
    CustomerCredentials, DataKeyRef, KeyCheck, OrderLineRecord, OrderRecord, OutboxRecord,
    PlaceOutcome, ResealedRow, SealedCustomer, SealedRow, SessionRecord,
};

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
    /// The customer's anti-phishing phrase (at most 40 characters: one length for all).
    pub const ANTI_PHISHING_PHRASE: Column =
        Column::fixed("customers", "anti_phishing_phrase", 160);
    pub const EMAIL_BIDX: Column = Column::new("customers", "email_bidx");
    pub const PHONE_BIDX: Column = Column::new("customers", "phone_bidx");
    pub const SESSION_DATA: Column = Column::new("sessions", "data");
    pub const ORDER_BUYER: Column = Column::new("orders", "buyer");
    pub const ORDER_RECIPIENT: Column = Column::new("orders", "recipient");
    pub const ORDER_TOKEN: Column = Column::new("orders", "access_token");
    pub const ORDER_EMAIL_BIDX: Column = Column::new("orders", "email_bidx");
    pub const ORDER_PHONE_BIDX: Column = Column::new("orders", "phone_bidx");
    /// The name an order's receipt and invoice are made out to (宛名), under the order's key.
    pub const RECEIPT_ADDRESSEE: Column = Column::new("order_receipts", "addressee");
    pub const OUTBOX_PAYLOAD: Column = Column::new("mail_outbox", "payload");
    /// Key of the stable Message-ID reference of an outbox row (never stored).
    pub const OUTBOX_MESSAGE_ID: Column = Column::new("mail_outbox", "message_id");
    /// The masked recipient of a sent mail, for the mail-check page.
    pub const MAIL_RECEIPT_RECIPIENT: Column = Column::new("mail_receipts", "recipient");
    /// Key of the MAC under which a mail's verification code is looked up (never stored).
    pub const MAIL_RECEIPT_CODE: Column = Column::new("mail_receipts", "code_mac");
    /// An address mail cannot reach (a permanent refusal or a bounce), sealed under the
    /// master key, and its blind index.
    pub const UNDELIVERABLE_ADDRESS: Column = Column::new("mail_undeliverable", "address");
    pub const UNDELIVERABLE_BIDX: Column = Column::new("mail_undeliverable", "email_bidx");
    /// Key of the tag in a mail's Message-ID that ties it to its recipient, so that a bounce
    /// naming that Message-ID proves the shop sent to that address (never stored).
    pub const MAIL_BOUNCE_TAG: Column = Column::new("mail_outbox", "bounce_tag");
    /// A saved delivery address of an account (one JSON `Person` record per row).
    pub const ADDRESS_RECORD: Column = Column::new("customer_addresses", "record");
    /// A note on how a guard alert was seen to.
    pub const GUARD_ALERT_NOTE: Column = Column::new("guard_alerts", "note");
    /// A staff member's email (for sign-in notices).
    pub const STAFF_EMAIL: Column = Column::new("staff", "email");
    /// A staff member's TOTP secret (20 bytes: every one seals to one length).
    pub const STAFF_TOTP: Column = Column::fixed("staff", "totp_secret", 32);
    /// A TOTP secret offered at enrolment, carried by the form until confirmed (never stored).
    pub const PENDING_TOTP: Column = Column::new("staff_sessions", "pending_totp");
    /// An inquiry's sender (JSON: name, email), under the inquiry's data key.
    pub const INQUIRY_CONTACT: Column = Column::new("inquiries", "contact");
    pub const INQUIRY_EMAIL_BIDX: Column = Column::new("inquiries", "email_bidx");
    /// A message of an inquiry (the question or a reply), under the inquiry's data key.
    pub const INQUIRY_BODY: Column = Column::new("inquiry_messages", "body");
    /// What an audit entry says beyond its plain fields: the stated reason, the client IP.
    pub const AUDIT_DETAIL: Column = Column::new("audit_log", "detail");

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
        ANTI_PHISHING_PHRASE,
        SESSION_DATA,
        ORDER_BUYER,
        ORDER_RECIPIENT,
        ORDER_TOKEN,
        OUTBOX_PAYLOAD,
        MAIL_RECEIPT_RECIPIENT,
        UNDELIVERABLE_ADDRESS,
        ADDRESS_RECORD,
        kura_seal::DATA_KEY_COLUMN,
        STAFF_EMAIL,
        STAFF_TOTP,
        AUDIT_DETAIL,
        INQUIRY_CONTACT,
        INQUIRY_BODY,
        RECEIPT_ADDRESSEE,
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
        "anti_phishing_phrase",
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

/// What the mail-check page can tell about a sent mail: the masked recipient, sealed.
pub const MAIL_RECEIPTS: SealedTable = SealedTable {
    table: "mail_receipts",
    sealed: &["recipient"],
    blind: &[],
    data_key: false,
};

/// Addresses mail cannot reach.
pub const MAIL_UNDELIVERABLE: SealedTable = SealedTable {
    table: "mail_undeliverable",
    sealed: &["address"],
    blind: &[BlindColumn {
        column: "email_bidx",
        source: "address",
        how: Normalize::Email,
        json_path: &[],
    }],
    data_key: false,
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

/// Staff members: email and TOTP secret, under the master keys.
pub const STAFF: SealedTable = SealedTable {
    table: "staff",
    sealed: &["email", "totp_secret"],
    blind: &[],
    data_key: false,
};

/// The audit log's sealed detail. Re-sealing it leaves the chain whole: MACs cover plaintext.
pub const AUDIT_LOG: SealedTable = SealedTable {
    table: "audit_log",
    sealed: &["detail"],
    blind: &[],
    data_key: false,
};

/// Inquiries: the sender's name and email, with a blind index of the email.
pub const INQUIRIES: SealedTable = SealedTable {
    table: "inquiries",
    sealed: &["contact"],
    blind: &[BlindColumn {
        column: "email_bidx",
        source: "contact",
        how: Normalize::Email,
        json_path: &["email"],
    }],
    data_key: true,
};

/// The messages of inquiries.
pub const INQUIRY_MESSAGES: SealedTable = SealedTable {
    table: "inquiry_messages",
    sealed: &["body"],
    blind: &[],
    data_key: true,
};

/// The receipt (領収書) and invoice (適格請求書) of an order: its addressee, under the order's
/// data key (erasing the buyer erases it), and how often each document was issued.
pub const ORDER_RECEIPTS: SealedTable = SealedTable {
    table: "order_receipts",
    sealed: &["addressee"],
    blind: &[],
    data_key: true,
};

pub const SEALED_TABLES: &[SealedTable] = &[
    DATA_KEYS,
    CUSTOMERS,
    SESSIONS,
    ORDERS,
    MAIL_OUTBOX,
    MAIL_RECEIPTS,
    MAIL_UNDELIVERABLE,
    CUSTOMER_ADDRESSES,
    STAFF,
    AUDIT_LOG,
    INQUIRIES,
    INQUIRY_MESSAGES,
    ORDER_RECEIPTS,
];

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
    use std::collections::BTreeSet;

    use kura_seal::Padding;

    use super::*;

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
}
