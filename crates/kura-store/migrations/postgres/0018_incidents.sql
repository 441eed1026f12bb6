-- Incidents the owner declared (what happened, when, what kind of data, whether the keys may
-- be exposed) and the dated entries of each one's public notice page, in Japanese and English.
-- Written by the owner for the record and the public: nobody's personal data belongs here.
CREATE TABLE incidents (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    discovered_at BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    cause TEXT NOT NULL,
    categories TEXT NOT NULL,
    keys_exposed BIGINT NOT NULL,
    attack BIGINT NOT NULL,
    declared_by BIGINT NOT NULL,
    declared_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE TABLE incident_entries (
    id BIGINT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    title_ja TEXT NOT NULL,
    body_ja TEXT NOT NULL,
    title_en TEXT NOT NULL,
    body_en TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    staff_id BIGINT NOT NULL
);
CREATE INDEX incident_entries_incident ON incident_entries (incident_id, published_at);
