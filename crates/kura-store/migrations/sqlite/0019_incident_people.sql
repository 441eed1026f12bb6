-- The people an incident touched, as scoping found them, and where the notice to each stands.
-- A person is an account ("c:" and its id) or a guest buyer ("g:" and the blind index of the
-- order's email, in hex): nothing here names anyone without the keys.
ALTER TABLE incidents ADD COLUMN campaign_started_at INTEGER;
ALTER TABLE incidents ADD COLUMN people INTEGER NOT NULL DEFAULT 0;
CREATE TABLE incident_people (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    person TEXT NOT NULL,
    customer_id INTEGER,
    order_id INTEGER,
    found_by TEXT NOT NULL,
    fields TEXT NOT NULL,
    reach TEXT NOT NULL,
    status TEXT NOT NULL,
    lang TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, person)
);
CREATE INDEX incident_people_status ON incident_people (incident_id, status, person);
