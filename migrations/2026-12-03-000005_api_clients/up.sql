-- ERP integrations: OAuth 2.0 clients (client credentials grant) of an organization.
CREATE TABLE api_clients (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- Clients act with a role like users; never owner (an integration cannot own the account).
    role            text        NOT NULL CHECK (role IN ('admin', 'accountant', 'viewer')),
    -- SHA-256 of a 256-bit random secret: a fast hash is enough for a secret nobody chose.
    secret_hash     bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_clients_organization_idx ON api_clients (organization_id, created_at, id);
