-- What the shop keeps of every mail it sends, so that anyone holding a mail can ask whether the
-- shop sent it (the public mail-check page): the mail's verification code only as a keyed MAC,
-- the recipient masked (ha***@example.jp) and sealed, the kind and the time.
CREATE TABLE mail_receipts (
    id BIGINT PRIMARY KEY,
    code_mac BYTEA NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    recipient BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_receipts_created ON mail_receipts (created_at);
