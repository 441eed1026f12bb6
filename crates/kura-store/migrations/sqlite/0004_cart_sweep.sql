-- Guest carts left idle are swept (a signed-in customer's cart stays with the account).
CREATE INDEX carts_guest_idle ON carts (updated_at) WHERE customer_id IS NULL;
