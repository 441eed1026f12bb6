-- Coupons the owner makes in the back office. The code is stored in its normal form (NFKC,
-- upper case); `value` is yen for kind 'amount' and a percent (1-100) for kind 'percent'.
-- Dates are days in Japan, both inclusive. Nothing here is personal.
CREATE TABLE coupons (
    id           INTEGER PRIMARY KEY NOT NULL,
    code         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('amount', 'percent')),
    value        INTEGER NOT NULL CHECK (value > 0),
    starts_on    TEXT NOT NULL,
    ends_on      TEXT NOT NULL,
    minimum_yen  INTEGER NOT NULL DEFAULT 0,
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    created_by   INTEGER NOT NULL
) STRICT;

-- Who used which coupon with which order: the holder is the order's email blind index and,
-- for a signed-in customer, 'customer:<id>'. The primary key is the "once per customer" rule;
-- the rows are written in the order's transaction and removed when the order is cancelled or
-- expires with its stock returned.
CREATE TABLE coupon_uses (
    coupon_id  INTEGER NOT NULL REFERENCES coupons (id),
    holder     BLOB NOT NULL,
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    PRIMARY KEY (coupon_id, holder)
) STRICT, WITHOUT ROWID;
CREATE INDEX coupon_uses_order ON coupon_uses (order_id);

-- What the order's coupon took off the goods (the total is after it), and its code.
ALTER TABLE orders ADD COLUMN discount_yen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN coupon_code TEXT;
