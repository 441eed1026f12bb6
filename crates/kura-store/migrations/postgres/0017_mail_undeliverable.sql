-- Addresses mail cannot reach: a receiving server refused the recipient for good (an SMTP 5xx
-- reply to the recipient) or sent back a delivery-status notification saying so. The address is
-- sealed under the master key and found through its blind index; the shop sends nothing more
-- to it, and an incident notice to it goes by post instead.
CREATE TABLE mail_undeliverable (
    id BIGINT PRIMARY KEY,
    address BYTEA NOT NULL,
    email_bidx BYTEA NOT NULL UNIQUE,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    marked_at BIGINT NOT NULL
);
