-- The guard's memory. Events carry the client address only as a daily pseudonym and people
-- only as internal ids; they are kept twelve months, then purged.
CREATE TABLE security_events (
    id       INTEGER PRIMARY KEY NOT NULL,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    source   TEXT,
    subject  INTEGER,
    detail   TEXT
) STRICT;
CREATE INDEX security_events_at ON security_events (at);

CREATE TABLE guard_alerts (
    id               INTEGER PRIMARY KEY NOT NULL,
    at               INTEGER NOT NULL,
    detector         TEXT NOT NULL,
    severity         TEXT NOT NULL,
    principal        TEXT NOT NULL,
    count            INTEGER NOT NULL,
    window_seconds   INTEGER NOT NULL,
    actions          TEXT NOT NULL,
    acknowledged_at  INTEGER,
    acknowledged_by  INTEGER
) STRICT;
CREATE INDEX guard_alerts_at ON guard_alerts (at);

-- Sources refused by every node until the given time.
CREATE TABLE guard_blocks (
    source      TEXT PRIMARY KEY NOT NULL,
    until       INTEGER NOT NULL,
    detector    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
