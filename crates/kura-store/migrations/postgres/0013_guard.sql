-- The guard's memory. Events carry the client address only as a daily pseudonym and people
-- only as internal ids; they are kept twelve months, then purged.
CREATE TABLE security_events (
    id       BIGINT PRIMARY KEY,
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    source   TEXT,
    subject  BIGINT,
    detail   TEXT
);
CREATE INDEX security_events_at ON security_events (at);

CREATE TABLE guard_alerts (
    id               BIGINT PRIMARY KEY,
    at               BIGINT NOT NULL,
    detector         TEXT NOT NULL,
    severity         TEXT NOT NULL,
    principal        TEXT NOT NULL,
    count            BIGINT NOT NULL,
    window_seconds   BIGINT NOT NULL,
    actions          TEXT NOT NULL,
    acknowledged_at  BIGINT,
    acknowledged_by  BIGINT
);
CREATE INDEX guard_alerts_at ON guard_alerts (at);

-- Sources refused by every node until the given time.
CREATE TABLE guard_blocks (
    source      TEXT PRIMARY KEY NOT NULL,
    until       BIGINT NOT NULL,
    detector    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
