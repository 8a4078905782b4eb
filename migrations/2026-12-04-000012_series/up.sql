-- Invoice series: a CFDI Serie and the counter of its Folios. Folios are gapless per series:
-- the issuing transaction takes the next one with
--   UPDATE series SET next_folio = next_folio + 1 ... RETURNING next_folio - 1
-- which holds the row's lock until it ends, so a rolled-back issue gives its folio back.
CREATE TABLE series (
    id               uuid        PRIMARY KEY,
    organization_id  uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Comprobante/@Serie: SAT's t_Serie is [^|]{1,25} with its white space collapsed; the API
    -- stores it trimmed, so what is stored is what the XML carries.
    prefix           text        NOT NULL CHECK (char_length(prefix) BETWEEN 1 AND 25
                                                 AND strpos(prefix, '|') = 0
                                                 AND prefix = btrim(prefix)),
    -- Comprobante/@TipoDeComprobante (c_TipoDeComprobante): ingreso, egreso, pago, traslado.
    document_type    text        NOT NULL CHECK (document_type IN ('I', 'E', 'P', 'T')),
    -- The Comprobante/@Folio the next document of this series gets.
    next_folio       bigint      NOT NULL DEFAULT 1 CHECK (next_folio >= 1),
    -- The series documents of this type use when they name none.
    is_default       boolean     NOT NULL DEFAULT false,
    description      text        CHECK (char_length(description) BETWEEN 1 AND 200),
    archived         boolean     NOT NULL DEFAULT false,
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT series_archived_not_default CHECK (NOT (archived AND is_default))
);
-- Also serves the list sorted by prefix.
CREATE UNIQUE INDEX series_prefix_key ON series (organization_id, prefix);
-- At most one default per organization and document type.
CREATE UNIQUE INDEX series_default_key ON series (organization_id, document_type) WHERE is_default;
CREATE INDEX series_created_idx ON series (organization_id, created_at, id);

ALTER TABLE series ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON series
    USING (organization_id = current_organization_id())
    WITH CHECK (organization_id = current_organization_id());
