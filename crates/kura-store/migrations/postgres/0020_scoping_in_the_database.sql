-- Scoping writes an incident's people with INSERT ... SELECT inside the database.
-- Guest buyers are grouped by the email blind index of their orders: this index covers what
-- that reads (date, account, language, id), so it can be read from the index alone.
DROP INDEX orders_email_bidx;
CREATE INDEX orders_email_bidx ON orders (email_bidx, created_at, customer_id, lang, id);
-- One index to write per person (the campaign walks the key in order and skips those no
-- longer pending).
DROP INDEX incident_people_status;
