-- The inquiry desk (お問い合わせ). The sender's name and email are one sealed JSON record under
-- the inquiry's own data key (erasing it erases the whole conversation); every message, the
-- question and each reply, is sealed under the same key.
CREATE TABLE inquiries (
    id            BIGINT PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    category      TEXT NOT NULL,
    order_number  TEXT,
    status        TEXT NOT NULL,
    assignee      BIGINT,
    lang          TEXT NOT NULL,
    contact       BYTEA NOT NULL,
    email_bidx    BYTEA NOT NULL,
    data_key_id   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX inquiries_status ON inquiries (status, id);
CREATE INDEX inquiries_email_bidx ON inquiries (email_bidx);

CREATE TABLE inquiry_messages (
    id           BIGINT PRIMARY KEY,
    inquiry_id   BIGINT NOT NULL REFERENCES inquiries (id) ON DELETE CASCADE,
    author       TEXT NOT NULL,
    staff_id     BIGINT,
    body         BYTEA NOT NULL,
    data_key_id  BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX inquiry_messages_inquiry ON inquiry_messages (inquiry_id, id);
