-- Customers: every personal column holds a sealed envelope (BLOB); lookups use blind indexes.
CREATE TABLE customers (
    id                INTEGER PRIMARY KEY NOT NULL,
    email_bidx        BLOB NOT NULL UNIQUE,
    phone_bidx        BLOB NOT NULL,
    family_name       BLOB NOT NULL,
    given_name        BLOB NOT NULL,
    family_name_kana  BLOB NOT NULL,
    given_name_kana   BLOB NOT NULL,
    email             BLOB NOT NULL,
    phone             BLOB NOT NULL,
    postal_code       BLOB NOT NULL,
    prefecture        BLOB NOT NULL,
    address1          BLOB NOT NULL,
    address2          BLOB,
    birth_date        BLOB,
    gender            BLOB,
    password_hash     TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX customers_phone_bidx ON customers (phone_bidx);

-- Sessions: the token's SHA-256 only; the data sealed against the row id.
CREATE TABLE sessions (
    id                   INTEGER PRIMARY KEY NOT NULL,
    token_hash           BLOB NOT NULL UNIQUE,
    customer_id          INTEGER REFERENCES customers (id) ON DELETE CASCADE,
    data                 BLOB NOT NULL,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    idle_expires_at      INTEGER NOT NULL,
    absolute_expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_customer ON sessions (customer_id);
CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);
