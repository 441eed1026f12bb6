-- Staff who run the shop. The email and the TOTP secret are sealed against the row; the
-- password is an Argon2id hash; recovery codes are SHA-256 hashes (hex, space-separated).
CREATE TABLE staff (
    id              BIGINT PRIMARY KEY,
    login           TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    status          TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    email           BYTEA NOT NULL,
    totp_secret     BYTEA,
    totp_last_step  BIGINT NOT NULL DEFAULT 0,
    recovery_codes  TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Staff sessions: the token's SHA-256 only. A session is valid only while its staff member is
-- active with the role it was made with (checked on every request, so a change cuts it at once).
CREATE TABLE staff_sessions (
    id                   BIGINT PRIMARY KEY,
    token_hash           BYTEA NOT NULL UNIQUE,
    staff_id             BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    role                 TEXT NOT NULL,
    mfa_at               BIGINT,
    step_up_at           BIGINT,
    created_at           BIGINT NOT NULL,
    last_seen_at         BIGINT NOT NULL,
    idle_expires_at      BIGINT NOT NULL,
    absolute_expires_at  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX staff_sessions_idle_expiry ON staff_sessions (idle_expires_at);

-- Devices a staff member signed in from (a keyed hash of a device cookie): a new one is mailed.
CREATE TABLE staff_devices (
    staff_id       BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    device_mac     BYTEA NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    PRIMARY KEY (staff_id, device_mac)
);

-- Failed staff sign-ins, by a keyed hash of (login name, source): throttling per source.
CREATE TABLE sign_in_failures (
    subject  BYTEA NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);

-- What the owner set in the back office (budgets, retention...); absent keys take defaults.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- The audit log: every staff action and every read of personal data. Each entry's MAC (under a
-- key derived from the master key, which the database does not hold) covers the previous
-- entry's MAC, so an edited, deleted, reordered or forged entry breaks the chain. `detail`
-- (the stated reason, the client IP) is sealed; nothing else names a person but by id.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    id        BIGINT NOT NULL UNIQUE,
    at        BIGINT NOT NULL,
    staff_id  BIGINT,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    fields    TEXT NOT NULL,
    detail    BYTEA NOT NULL,
    key_id    BIGINT NOT NULL,
    mac       BYTEA NOT NULL
);
CREATE INDEX audit_log_staff_action ON audit_log (staff_id, action, at);
CREATE INDEX audit_log_target ON audit_log (target, seq);

-- The back office lists orders newest first, often by status.
CREATE INDEX orders_status_id ON orders (status, id);
