-- Transactional outbox: an email is written in the same transaction as the change that causes
-- it, and a background worker delivers it. A row is leased while being sent, so two workers
-- (or a restarted one) never send it at the same time.
CREATE TABLE email_outbox (
    id              uuid        PRIMARY KEY,
    organization_id uuid        REFERENCES organizations (id) ON DELETE CASCADE,
    -- What caused it ('password_reset', 'invitation', 'invoice', ...), for the timeline.
    kind            text        NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 64),
    to_address      text        NOT NULL CHECK (char_length(to_address) BETWEEN 3 AND 254),
    subject         text        NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 998),
    body_text       text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';

-- Password reset tokens: 256 random bits, stored only as SHA-256 hashes, single use, 30 minutes.
CREATE TABLE password_reset_tokens (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE UNIQUE INDEX password_reset_tokens_hash_key ON password_reset_tokens (token_hash);
