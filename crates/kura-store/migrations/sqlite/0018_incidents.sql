-- Incidents the owner declared (what happened, when, what kind of data, whether the keys may
-- be exposed) and the dated entries of each one's public notice page, in Japanese and English.
-- Written by the owner for the record and the public: nobody's personal data belongs here.
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    discovered_at INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    cause TEXT NOT NULL,
    categories TEXT NOT NULL,
    keys_exposed INTEGER NOT NULL,
    attack INTEGER NOT NULL,
    declared_by INTEGER NOT NULL,
    declared_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE TABLE incident_entries (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    title_ja TEXT NOT NULL,
    body_ja TEXT NOT NULL,
    title_en TEXT NOT NULL,
    body_en TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    staff_id INTEGER NOT NULL
);
CREATE INDEX incident_entries_incident ON incident_entries (incident_id, published_at);
