-- Staff who run the shop. The email and the TOTP secret are sealed against the row; the
-- password is an Argon2id hash; recovery codes are SHA-256 hashes (hex, space-separated).
CREATE TABLE staff (
    id              INTEGER PRIMARY KEY NOT NULL,
    login           TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    status          TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    email           BLOB NOT NULL,
    totp_secret     BLOB,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    recovery_codes  TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- Staff sessions: the token's SHA-256 only. A session is valid only while its staff member is
-- active with the role it was made with (checked on every request, so a change cuts it at once).
CREATE TABLE staff_sessions (
    id                   INTEGER PRIMARY KEY NOT NULL,
    token_hash           BLOB NOT NULL UNIQUE,
    staff_id             INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    role                 TEXT NOT NULL,
    mfa_at               INTEGER,
    step_up_at           INTEGER,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    idle_expires_at      INTEGER NOT NULL,
    absolute_expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX staff_sessions_idle_expiry ON staff_sessions (idle_expires_at);

-- Devices a staff member signed in from (a keyed hash of a device cookie): a new one is mailed.
CREATE TABLE staff_devices (
    staff_id       INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    device_mac     BLOB NOT NULL,
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    PRIMARY KEY (staff_id, device_mac)
) STRICT;

-- Failed staff sign-ins, by a keyed hash of (login name, source): throttling per source.
CREATE TABLE sign_in_failures (
    subject  BLOB NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);

-- What the owner set in the back office (budgets, retention...); absent keys take defaults.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- The audit log: every staff action and every read of personal data. Each entry's MAC (under a
-- key derived from the master key, which the database does not hold) covers the previous
-- entry's MAC, so an edited, deleted, reordered or forged entry breaks the chain. `detail`
-- (the stated reason, the client IP) is sealed; nothing else names a person but by id.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    id        INTEGER NOT NULL UNIQUE,
    at        INTEGER NOT NULL,
    staff_id  INTEGER,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    fields    TEXT NOT NULL,
    detail    BLOB NOT NULL,
    key_id    INTEGER NOT NULL,
    mac       BLOB NOT NULL
) STRICT;
CREATE INDEX audit_log_staff_action ON audit_log (staff_id, action, at);
CREATE INDEX audit_log_target ON audit_log (target, seq);

-- The back office lists orders newest first, often by status.
CREATE INDEX orders_status_id ON orders (status, id);
