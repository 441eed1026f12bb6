-- The catalog is public data: names, prices, stock.
CREATE TABLE categories (
    id        BIGINT PRIMARY KEY,
    slug      TEXT NOT NULL UNIQUE,
    name_ja   TEXT NOT NULL,
    name_en   TEXT NOT NULL,
    position  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id              BIGINT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    category_id     BIGINT NOT NULL REFERENCES categories (id),
    name_ja         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    description_ja  TEXT NOT NULL,
    description_en  TEXT NOT NULL,
    tax_rate        TEXT NOT NULL CHECK (tax_rate IN ('standard', 'reduced')),
    image           TEXT NOT NULL,
    position        BIGINT NOT NULL DEFAULT 0,
    active          BIGINT NOT NULL DEFAULT 1,
    search_text     TEXT NOT NULL
);
CREATE INDEX products_category ON products (category_id, position);

CREATE TABLE variants (
    id          BIGINT PRIMARY KEY,
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku         TEXT NOT NULL UNIQUE,
    label_ja    TEXT NOT NULL,
    label_en    TEXT NOT NULL,
    price_yen   BIGINT NOT NULL CHECK (price_yen >= 0),
    stock       BIGINT NOT NULL CHECK (stock >= 0),
    position    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX variants_product ON variants (product_id, position);

-- Search uses ILIKE over search_text (normalised, lower-case) on PostgreSQL.

-- Carts: an API cart has a token (its SHA-256 here), a customer's cart has its owner.
CREATE TABLE carts (
    id           BIGINT PRIMARY KEY,
    token_hash   BYTEA UNIQUE,
    customer_id  BIGINT UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE cart_items (
    cart_id   BIGINT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    sku       TEXT NOT NULL,
    quantity  BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    PRIMARY KEY (cart_id, sku)
);

-- Orders: buyer and recipient sealed as whole records; money and lines in the clear (they
-- name no one); blind indexes of the buyer's email and phone for incident scoping.
CREATE TABLE orders (
    id                  BIGINT PRIMARY KEY,
    number              TEXT NOT NULL UNIQUE,
    customer_id         BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    status              TEXT NOT NULL,
    payment_method      TEXT NOT NULL,
    lang                TEXT NOT NULL,
    buyer               BYTEA NOT NULL,
    recipient           BYTEA,
    access_token        BYTEA NOT NULL,
    email_bidx          BYTEA NOT NULL,
    phone_bidx          BYTEA NOT NULL,
    delivery_date       TEXT,
    delivery_slot       TEXT,
    goods_yen           BIGINT NOT NULL,
    shipping_yen        BIGINT NOT NULL,
    cod_fee_yen         BIGINT NOT NULL,
    total_yen           BIGINT NOT NULL,
    tax_standard_base   BIGINT NOT NULL,
    tax_standard        BIGINT NOT NULL,
    tax_reduced_base    BIGINT NOT NULL,
    tax_reduced         BIGINT NOT NULL,
    payment_session_id  TEXT,
    payment_url         TEXT,
    payment_expires_at  BIGINT,
    idempotency_hash    BYTEA NOT NULL UNIQUE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, created_at);
CREATE INDEX orders_email_bidx ON orders (email_bidx);
CREATE INDEX orders_phone_bidx ON orders (phone_bidx);
CREATE INDEX orders_payment_due ON orders (status, payment_expires_at);

CREATE TABLE order_lines (
    order_id        BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no         BIGINT NOT NULL,
    sku             TEXT NOT NULL,
    product_name    TEXT NOT NULL,
    variant_label   TEXT NOT NULL,
    unit_price_yen  BIGINT NOT NULL,
    quantity        BIGINT NOT NULL,
    tax_rate        TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- Payment provider events already acted on (webhook replay protection).
CREATE TABLE payment_events (
    event_id     TEXT PRIMARY KEY,
    received_at  BIGINT NOT NULL
);

-- Mail waiting to be delivered, sealed (it holds addresses and names).
CREATE TABLE mail_outbox (
    id               BIGINT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          BYTEA NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    failed           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_outbox_due ON mail_outbox (failed, next_attempt_at);
