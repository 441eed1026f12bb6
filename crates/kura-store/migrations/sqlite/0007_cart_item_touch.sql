-- A cart line remembers when it was last set, so adding to a cart is one statement; a guest
-- cart is idle when neither the cart nor any of its lines was touched for the sweep's period.
ALTER TABLE cart_items ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
