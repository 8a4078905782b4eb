-- Organizations (the CFDI emisor), their users, sessions, and the security log.

CREATE TABLE organizations (
    id          uuid        PRIMARY KEY,
    legal_name  text        NOT NULL CHECK (char_length(legal_name) BETWEEN 1 AND 254),
    -- RFC of the emisor (CFDI Emisor/@Rfc); one organization per RFC.
    rfc         text        NOT NULL CHECK (rfc ~ '^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}$'),
    -- c_RegimenFiscal (CFDI Emisor/@RegimenFiscal).
    tax_regime  text        NOT NULL CHECK (tax_regime ~ '^[0-9]{3}$'),
    -- c_CodigoPostal of the place of issue (CFDI @LugarExpedicion).
    postal_code text        NOT NULL CHECK (postal_code ~ '^[0-9]{5}$'),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organizations_rfc_key ON organizations (rfc);

CREATE TABLE users (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- Stored as given; compared case-insensitively (unique index on lower(email)).
    email           text        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    -- Argon2id in PHC string format.
    password_hash   text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('owner', 'admin', 'accountant', 'viewer')),
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_organization_idx ON users (organization_id, created_at, id);

-- Opaque refresh tokens, stored only as SHA-256 hashes. Each login starts a family; each
-- refresh rotates the token within its family. Presenting a rotated token again means it was
-- stolen (or replayed): the whole family is revoked.
CREATE TABLE refresh_tokens (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id       uuid        NOT NULL,
    token_hash      bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    rotated_at      timestamptz,
    revoked_at      timestamptz
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Failed logins per account and per client address, for exponential back-off.
CREATE TABLE login_throttle (
    key           text        PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 300),
    failures      integer     NOT NULL DEFAULT 0,
    last_failure  timestamptz NOT NULL DEFAULT now(),
    blocked_until timestamptz
);

CREATE TABLE security_events (
    id              uuid        PRIMARY KEY,
    organization_id uuid        REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid        REFERENCES users (id) ON DELETE SET NULL,
    kind            text        NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 64),
    client_address  text,
    details         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_organization_idx ON security_events (organization_id, created_at, id);
