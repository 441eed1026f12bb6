-- Customers: every personal column holds a sealed envelope (BYTEA); lookups use blind indexes.
CREATE TABLE customers (
    id                BIGINT PRIMARY KEY,
    email_bidx        BYTEA NOT NULL UNIQUE,
    phone_bidx        BYTEA NOT NULL,
    family_name       BYTEA NOT NULL,
    given_name        BYTEA NOT NULL,
    family_name_kana  BYTEA NOT NULL,
    given_name_kana   BYTEA NOT NULL,
    email             BYTEA NOT NULL,
    phone             BYTEA NOT NULL,
    postal_code       BYTEA NOT NULL,
    prefecture        BYTEA NOT NULL,
    address1          BYTEA NOT NULL,
    address2          BYTEA,
    birth_date        BYTEA,
    gender            BYTEA,
    password_hash     TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX customers_phone_bidx ON customers (phone_bidx);

-- Sessions: the token's SHA-256 only; the data sealed against the row id.
CREATE TABLE sessions (
    id                   BIGINT PRIMARY KEY,
    token_hash           BYTEA NOT NULL UNIQUE,
    customer_id          BIGINT REFERENCES customers (id) ON DELETE CASCADE,
    data                 BYTEA NOT NULL,
    created_at           BIGINT NOT NULL,
    last_seen_at         BIGINT NOT NULL,
    idle_expires_at      BIGINT NOT NULL,
    absolute_expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_customer ON sessions (customer_id);
CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);
