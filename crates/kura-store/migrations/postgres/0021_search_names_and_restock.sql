-- Search ranks products whose name or model number holds the query words first: their names and
-- model number in the folded search form. Filled at start by the shop (it is Rust that folds).
ALTER TABLE products ADD COLUMN name_text TEXT NOT NULL DEFAULT '';

-- 入荷お知らせ: a signed-in customer asks to be mailed when a sold-out variant is back in stock.
-- Nothing personal is stored here: the mail goes to the account's (sealed) address.
CREATE TABLE restock_requests (
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    lang TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sku, customer_id)
);
CREATE INDEX restock_requests_customer ON restock_requests (customer_id);
