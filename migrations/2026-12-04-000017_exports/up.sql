-- Bulk exports for accountants: a ZIP of the XML (and PDF) of every document issued in a date
-- range, built in the background and kept in the database in 1 MiB chunks, so it is written
-- and downloaded as a stream, backed up with everything else, and seen by every replica.
CREATE TABLE exports (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status          text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'ready', 'failed')),
    -- Documents issued from `date_from` through `date_to`, local dates of the issuer.
    date_from       date        NOT NULL,
    date_to         date        NOT NULL CHECK (date_to >= date_from),
    document_types  text[]      NOT NULL,
    include_pdf     boolean     NOT NULL,
    created_by      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- A worker holds the job until then; a job whose worker died is taken again after it.
    leased_until    timestamptz,
    finished_at     timestamptz,
    document_count  integer     NOT NULL DEFAULT 0,
    size_bytes      bigint      NOT NULL DEFAULT 0,
    error           text
);
CREATE INDEX exports_org_idx ON exports (organization_id, created_at, id);
CREATE INDEX exports_due_idx ON exports (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE export_chunks (
    export_id       uuid        NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq             integer     NOT NULL,
    data            bytea       NOT NULL,
    PRIMARY KEY (export_id, seq)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['exports', 'export_chunks']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (organization_id = current_organization_id()) '
            'WITH CHECK (organization_id = current_organization_id())', t);
    END LOOP;
END
$$;
