-- 領収書 and 適格請求書 of paid orders: the name they are made out to (宛名), sealed under the
-- order's data key like the order's buyer (erasing the buyer erases it), and how often each was
-- issued: the first issue is the original, every later one is printed as 再発行. The addressee
-- is fixed once either document was issued. One row per order, made at the first save or issue.
CREATE TABLE order_receipts (
    id                INTEGER PRIMARY KEY NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    addressee         BLOB NOT NULL,
    data_key_id       INTEGER,
    receipt_issues    INTEGER NOT NULL DEFAULT 0,
    invoice_issues    INTEGER NOT NULL DEFAULT 0,
    receipt_first_at  INTEGER,
    invoice_first_at  INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
