-- Invitations to join an organization: emailed token (stored hashed), role, expiry.
CREATE TABLE invitations (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    role            text        NOT NULL CHECK (role IN ('owner', 'admin', 'accountant', 'viewer')),
    token_hash      bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    invited_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_organization_idx ON invitations (organization_id, created_at, id);
