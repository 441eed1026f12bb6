-- A note on how an alert was seen to, sealed (staff may name a customer in it).
ALTER TABLE guard_alerts ADD COLUMN note BYTEA;
