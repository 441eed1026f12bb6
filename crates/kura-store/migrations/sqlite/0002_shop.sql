-- The catalog is public data: names, prices, stock.
CREATE TABLE categories (
    id        INTEGER PRIMARY KEY NOT NULL,
    slug      TEXT NOT NULL UNIQUE,
    name_ja   TEXT NOT NULL,
    name_en   TEXT NOT NULL,
    position  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE products (
    id              INTEGER PRIMARY KEY NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    category_id     INTEGER NOT NULL REFERENCES categories (id),
    name_ja         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    description_ja  TEXT NOT NULL,
    description_en  TEXT NOT NULL,
    tax_rate        TEXT NOT NULL CHECK (tax_rate IN ('standard', 'reduced')),
    image           TEXT NOT NULL,
    position        INTEGER NOT NULL DEFAULT 0,
    active          INTEGER NOT NULL DEFAULT 1,
    search_text     TEXT NOT NULL
) STRICT;
CREATE INDEX products_category ON products (category_id, position);

CREATE TABLE variants (
    id          INTEGER PRIMARY KEY NOT NULL,
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku         TEXT NOT NULL UNIQUE,
    label_ja    TEXT NOT NULL,
    label_en    TEXT NOT NULL,
    price_yen   INTEGER NOT NULL CHECK (price_yen >= 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    position    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX variants_product ON variants (product_id, position);

-- Trigram full-text index: substring search that works for Japanese text.
CREATE VIRTUAL TABLE product_search USING fts5 (search_text, content = 'products', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO product_search (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER products_search_update AFTER UPDATE OF search_text ON products BEGIN
    INSERT INTO product_search (product_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO product_search (rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Carts: an API cart has a token (its SHA-256 here), a customer's cart has its owner.
CREATE TABLE carts (
    id           INTEGER PRIMARY KEY NOT NULL,
    token_hash   BLOB UNIQUE,
    customer_id  INTEGER UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE cart_items (
    cart_id   INTEGER NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    sku       TEXT NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    PRIMARY KEY (cart_id, sku)
) STRICT, WITHOUT ROWID;

-- Orders: buyer and recipient sealed as whole records; money and lines in the clear (they
-- name no one); blind indexes of the buyer's email and phone for incident scoping.
CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY NOT NULL,
    number              TEXT NOT NULL UNIQUE,
    customer_id         INTEGER REFERENCES customers (id) ON DELETE SET NULL,
    status              TEXT NOT NULL,
    payment_method      TEXT NOT NULL,
    lang                TEXT NOT NULL,
    buyer               BLOB NOT NULL,
    recipient           BLOB,
    access_token        BLOB NOT NULL,
    email_bidx          BLOB NOT NULL,
    phone_bidx          BLOB NOT NULL,
    delivery_date       TEXT,
    delivery_slot       TEXT,
    goods_yen           INTEGER NOT NULL,
    shipping_yen        INTEGER NOT NULL,
    cod_fee_yen         INTEGER NOT NULL,
    total_yen           INTEGER NOT NULL,
    tax_standard_base   INTEGER NOT NULL,
    tax_standard        INTEGER NOT NULL,
    tax_reduced_base    INTEGER NOT NULL,
    tax_reduced         INTEGER NOT NULL,
    payment_session_id  TEXT,
    payment_url         TEXT,
    payment_expires_at  INTEGER,
    idempotency_hash    BLOB NOT NULL UNIQUE,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_customer ON orders (customer_id, created_at);
CREATE INDEX orders_email_bidx ON orders (email_bidx);
CREATE INDEX orders_phone_bidx ON orders (phone_bidx);
CREATE INDEX orders_payment_due ON orders (status, payment_expires_at);

CREATE TABLE order_lines (
    order_id        INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no         INTEGER NOT NULL,
    sku             TEXT NOT NULL,
    product_name    TEXT NOT NULL,
    variant_label   TEXT NOT NULL,
    unit_price_yen  INTEGER NOT NULL,
    quantity        INTEGER NOT NULL,
    tax_rate        TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
) STRICT, WITHOUT ROWID;

-- Payment provider events already acted on (webhook replay protection).
CREATE TABLE payment_events (
    event_id     TEXT PRIMARY KEY NOT NULL,
    received_at  INTEGER NOT NULL
) STRICT;

-- Mail waiting to be delivered, sealed (it holds addresses and names).
CREATE TABLE mail_outbox (
    id               INTEGER PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL,
    payload          BLOB NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    failed           INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (failed, next_attempt_at);
