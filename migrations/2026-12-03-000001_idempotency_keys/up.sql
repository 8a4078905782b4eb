-- Stored outcomes of POST requests sent with an Idempotency-Key header (see API.md).
-- One row per (scope, key): the scope is the tenant once tenants exist ('org:<uuid>'),
-- or the anonymous caller before that ('public').
CREATE TABLE idempotency_keys (
    scope               text        NOT NULL CHECK (char_length(scope) BETWEEN 1 AND 100),
    key                 text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of method, path with query, and body: a reused key with another request is refused.
    request_fingerprint bytea       NOT NULL CHECK (octet_length(request_fingerprint) = 32),
    -- Set while the first request runs; a row stays locked after a crash until it goes stale.
    locked_at           timestamptz,
    response_status     smallint    CHECK (response_status BETWEEN 100 AND 599),
    response_headers    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    response_body       bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key),
    -- Either still running, or finished with a stored response.
    CHECK ((locked_at IS NULL) = (response_status IS NOT NULL))
);

-- The pruning task deletes by age.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
