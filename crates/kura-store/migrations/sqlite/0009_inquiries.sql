-- The inquiry desk (お問い合わせ). The sender's name and email are one sealed JSON record under
-- the inquiry's own data key (erasing it erases the whole conversation); every message, the
-- question and each reply, is sealed under the same key.
CREATE TABLE inquiries (
    id            INTEGER PRIMARY KEY NOT NULL,
    number        TEXT NOT NULL UNIQUE,
    category      TEXT NOT NULL,
    order_number  TEXT,
    status        TEXT NOT NULL,
    assignee      INTEGER,
    lang          TEXT NOT NULL,
    contact       BLOB NOT NULL,
    email_bidx    BLOB NOT NULL,
    data_key_id   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX inquiries_status ON inquiries (status, id);
CREATE INDEX inquiries_email_bidx ON inquiries (email_bidx);

CREATE TABLE inquiry_messages (
    id           INTEGER PRIMARY KEY NOT NULL,
    inquiry_id   INTEGER NOT NULL REFERENCES inquiries (id) ON DELETE CASCADE,
    author       TEXT NOT NULL,
    staff_id     INTEGER,
    body         BLOB NOT NULL,
    data_key_id  INTEGER,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX inquiry_messages_inquiry ON inquiry_messages (inquiry_id, id);
