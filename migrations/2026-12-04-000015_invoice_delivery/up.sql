-- What happened to each invoice, for its timeline: who did what, when.
CREATE TABLE invoice_events (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invoice_id      uuid        NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    kind            text        NOT NULL CHECK (kind IN (
                        'created', 'issued', 'stamp_failed', 'send_requested', 'sent',
                        'delivery_failed', 'public_link_created', 'public_link_revoked', 'viewed',
                        'payment_received', 'payment_cancelled', 'cancellation_requested',
                        'cancelled', 'cancellation_rejected')),
    -- A user, an API client, the system (the delivery worker) or the public (a link's viewer).
    actor_type      text        NOT NULL CHECK (actor_type IN ('user', 'api_client', 'system', 'public')),
    actor_id        uuid,
    data            jsonb       NOT NULL DEFAULT '{}',
    occurred_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_events_invoice_idx ON invoice_events (organization_id, invoice_id, occurred_at, id);
CREATE INDEX invoice_events_invoice_fk_idx ON invoice_events (invoice_id);

-- Delivery and viewing of an invoice, kept apart from the invoice row: they change without the
-- invoice changing, so they neither bump its version (ETag) nor contend for its lock.
CREATE TABLE invoice_tracking (
    invoice_id      uuid        PRIMARY KEY REFERENCES invoices (id) ON DELETE CASCADE,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The state of the latest send (`not_sent`: viewed through a link shared by other means).
    delivery_status text        NOT NULL CHECK (delivery_status IN ('not_sent', 'queued', 'sent', 'failed')),
    delivery_error  text,
    -- The first successful delivery and the first view through a public link.
    sent_at         timestamptz,
    viewed_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_tracking_status_idx ON invoice_tracking (organization_id, delivery_status);
CREATE INDEX invoice_tracking_viewed_idx ON invoice_tracking (organization_id, viewed_at);

-- Links that show an invoice without logging in. Only the SHA-256 of the token is kept.
CREATE TABLE invoice_public_links (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invoice_id      uuid        NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    token_hash      bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_by_type text        NOT NULL CHECK (created_by_type IN ('user', 'api_client', 'system')),
    created_by      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    first_viewed_at timestamptz,
    last_viewed_at  timestamptz,
    views           integer     NOT NULL DEFAULT 0
);
CREATE INDEX invoice_public_links_invoice_idx ON invoice_public_links (organization_id, invoice_id, created_at, id);
CREATE INDEX invoice_public_links_invoice_fk_idx ON invoice_public_links (invoice_id);

-- Invoice emails: recipients after the first (`to_address`), copies, and the invoice whose PDF
-- and XML the worker attaches when sending.
ALTER TABLE email_outbox
    ADD COLUMN extra_to_addresses text[] NOT NULL DEFAULT '{}',
    ADD COLUMN cc_addresses text[] NOT NULL DEFAULT '{}',
    ADD COLUMN invoice_id uuid REFERENCES invoices (id) ON DELETE CASCADE;
CREATE INDEX email_outbox_invoice_idx ON email_outbox (invoice_id) WHERE invoice_id IS NOT NULL;
-- The per-organization limit on invoice emails counts the last hour's.
CREATE INDEX email_outbox_org_kind_idx ON email_outbox (organization_id, kind, created_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoice_events', 'invoice_tracking', 'invoice_public_links']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (organization_id = current_organization_id()) '
            'WITH CHECK (organization_id = current_organization_id())', t);
    END LOOP;
END
$$;
