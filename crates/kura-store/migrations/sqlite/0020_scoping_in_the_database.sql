-- Scoping writes an incident's people with INSERT ... SELECT inside the database.
-- Guest buyers are grouped by the email blind index of their orders: this index covers what
-- that reads (date, account, language, and the id as the rowid), so a million orders are read
-- from the index alone, in order.
DROP INDEX orders_email_bidx;
CREATE INDEX orders_email_bidx ON orders (email_bidx, created_at, customer_id, lang);
-- The people table keyed by (incident, person) alone: one tree to write per person instead of
-- three (the campaign walks the key in order and skips those no longer pending).
CREATE TABLE incident_people_keyed (
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
) WITHOUT ROWID;
INSERT INTO incident_people_keyed
    SELECT incident_id, person, customer_id, order_id, found_by, fields, reach, status, lang,
           updated_at
    FROM incident_people;
DROP TABLE incident_people;
ALTER TABLE incident_people_keyed RENAME TO incident_people;
