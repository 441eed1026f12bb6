-- Bulk exports of personal data: asked for by one staff member, approved by another, downloaded
-- once by the one who asked. The stated reason is in the audit log (sealed), not here.
CREATE TABLE exports (
    id             BIGINT PRIMARY KEY,
    kind           TEXT NOT NULL,
    requested_by   BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    requested_at   BIGINT NOT NULL,
    approved_by    BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    approved_at    BIGINT,
    downloaded_at  BIGINT,
    row_count      BIGINT
);
CREATE INDEX exports_requested ON exports (requested_at);
