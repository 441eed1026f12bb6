-- Staff passkeys (WebAuthn credentials) as a second factor beside TOTP. The public key and the
-- credential id are not secrets: a stolen table lets nobody sign in without the authenticator.
CREATE TABLE staff_passkeys (
    id             INTEGER PRIMARY KEY NOT NULL,
    staff_id       INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    credential_id  BLOB NOT NULL UNIQUE,
    public_key     BLOB NOT NULL,
    algorithm      INTEGER NOT NULL,
    sign_count     INTEGER NOT NULL,
    name           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
) STRICT;
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff_id);

-- One pending WebAuthn challenge per staff session and purpose ('get' or 'create'): taken
-- (deleted) when used, so a challenge answers one ceremony only.
CREATE TABLE staff_challenges (
    session_id  INTEGER NOT NULL REFERENCES staff_sessions (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    challenge   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, purpose)
) STRICT;
