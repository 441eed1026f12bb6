-- Customer accounts: email verification, one-time links, saved delivery addresses.

-- When the account's email address was confirmed (NULL: not yet). Accounts made before this
-- migration are taken as confirmed.
ALTER TABLE customers ADD COLUMN email_verified_at INTEGER;
UPDATE customers SET email_verified_at = created_at WHERE password_hash IS NOT NULL;

-- One-time links (email verification, password reset): the SHA-256 of a 256-bit random token
-- only, with its purpose and expiry. Using a token deletes its row.
CREATE TABLE account_tokens (
    token_hash   BLOB PRIMARY KEY NOT NULL,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX account_tokens_customer ON account_tokens (customer_id, purpose);

-- Saved delivery addresses: the whole recipient (name, kana, address, phone) sealed as one
-- record against the row id.
CREATE TABLE customer_addresses (
    id           INTEGER PRIMARY KEY NOT NULL,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    record       BLOB NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, created_at);
