-- 領収書 and 適格請求書 of paid orders: the name they are made out to (宛名), sealed under the
-- order's data key like the order's buyer (erasing the buyer erases it), and how often each was
-- issued: the first issue is the original, every later one is printed as 再発行. The addressee
-- is fixed once either document was issued. One row per order, made at the first save or issue.
CREATE TABLE order_receipts (
    id                BIGINT PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    addressee         BYTEA NOT NULL,
    data_key_id       BIGINT,
    receipt_issues    BIGINT NOT NULL DEFAULT 0,
    invoice_issues    BIGINT NOT NULL DEFAULT 0,
    receipt_first_at  BIGINT,
    invoice_first_at  BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
