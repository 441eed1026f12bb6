-- Each master key the data uses, by id, with a check value (an HMAC of a fixed label under a key
-- derived from it, never the key): a start with a missing, foreign or outdated key file is refused.
CREATE TABLE key_checks (
    key_id          BIGINT PRIMARY KEY,
    check_value     BYTEA NOT NULL,
    key_created_at  BIGINT NOT NULL,
    recorded_at     BIGINT NOT NULL
);
