-- Bulk exports of personal data: asked for by one staff member, approved by another, downloaded
-- once by the one who asked. The stated reason is in the audit log (sealed), not here.
CREATE TABLE exports (
    id             INTEGER PRIMARY KEY NOT NULL,
    kind           TEXT NOT NULL,
    requested_by   INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    requested_at   INTEGER NOT NULL,
    approved_by    INTEGER REFERENCES staff (id) ON DELETE SET NULL,
    approved_at    INTEGER,
    downloaded_at  INTEGER,
    row_count      INTEGER
) STRICT;
CREATE INDEX exports_requested ON exports (requested_at);
