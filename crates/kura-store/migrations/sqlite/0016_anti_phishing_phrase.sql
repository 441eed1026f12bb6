-- The customer's own anti-phishing phrase, shown at the top of every mail to them; sealed
-- under the customer's data key like the rest of the profile.
ALTER TABLE customers ADD COLUMN anti_phishing_phrase BLOB;
