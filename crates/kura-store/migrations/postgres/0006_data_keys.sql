-- A data key per person: each customer's (and each guest order's) personal fields are sealed
-- under a key of their own, kept here only wrapped (sealed) by the master key ring. Erasing a
-- person deletes their row: every sealed value of theirs, wherever a copy lies, stays noise.
-- Rows that name no data key (data_key_id NULL) were sealed under the master keys before.
CREATE TABLE data_keys (
    id          BIGINT PRIMARY KEY,
    wrapped     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
ALTER TABLE customers ADD COLUMN data_key_id BIGINT;
ALTER TABLE orders ADD COLUMN data_key_id BIGINT;
ALTER TABLE mail_outbox ADD COLUMN data_key_id BIGINT;
ALTER TABLE customer_addresses ADD COLUMN data_key_id BIGINT;
