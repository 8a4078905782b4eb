-- Invoices (CFDI type I) and credit notes (type E): a draft while it can change, then a
-- stamped, immutable CFDI. The lines are kept as one JSON document with the invoice: they are
-- written and read with it, never on their own, and are frozen once it is issued.
CREATE TABLE invoices (
    id                 uuid          PRIMARY KEY,
    organization_id    uuid          NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The receiver (Receptor). A customer with invoices cannot be deleted (archive it).
    customer_id        uuid          NOT NULL REFERENCES customers (id),
    -- Comprobante/@TipoDeComprobante: I (ingreso) or E (egreso, credit note).
    document_type      text          NOT NULL CHECK (document_type IN ('I', 'E')),
    status             text          NOT NULL DEFAULT 'draft'
                       CHECK (status IN ('draft', 'stamping', 'stamp_failed', 'issued', 'cancelled')),
    -- Comprobante/@Serie and @Folio: the series chosen, its prefix and the folio taken when
    -- the invoice is issued.
    series_id          uuid          REFERENCES series (id),
    serie              text,
    folio              bigint,
    -- @Moneda (c_Moneda) and @TipoCambio.
    currency           text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    exchange_rate      numeric(24,6),
    -- @MetodoPago (PUE / PPD), @FormaPago (c_FormaPago), Receptor/@UsoCFDI, @Exportacion and
    -- @CondicionesDePago.
    payment_method     text,
    payment_form       text,
    cfdi_use           text          NOT NULL,
    export             text          NOT NULL DEFAULT '01',
    payment_terms      text,
    due_date           date,
    notes              text,
    external_id        text          CHECK (char_length(external_id) BETWEEN 1 AND 100),
    metadata           jsonb         NOT NULL DEFAULT '{}',
    -- The Conceptos as entered (product keys, quantities, prices, discounts, taxes).
    lines              jsonb         NOT NULL,
    -- CfdiRelacionados: [{"relation_type": "01", "uuids": [...]}].
    related            jsonb         NOT NULL DEFAULT '[]',
    -- InformacionGlobal of a global invoice: {"periodicity", "months", "year"}.
    global_information jsonb,
    -- SubTotal, Descuento and the tax totals as computed from the lines (decimal strings).
    totals             jsonb         NOT NULL,
    -- @Total, and what of it is still to be paid.
    total              numeric(24,6) NOT NULL CHECK (total >= 0),
    balance            numeric(24,6) NOT NULL CHECK (balance >= 0),
    payment_status     text          NOT NULL DEFAULT 'unpaid'
                       CHECK (payment_status IN ('unpaid', 'partially_paid', 'paid')),
    -- @Fecha (local time of LugarExpedicion, as an instant) and the folio fiscal, once issued.
    issued_at          timestamptz,
    uuid               uuid          UNIQUE,
    -- domain::text::fold of the customer's name and RFC, the serie-folio and the UUID, for `q`.
    search             text          NOT NULL,
    version            integer       NOT NULL DEFAULT 1,
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    -- A folio is used once in its series: the counter hands each out once, this proves it.
    UNIQUE (series_id, folio),
    CHECK (folio IS NULL OR series_id IS NOT NULL)
);
CREATE UNIQUE INDEX invoices_external_id_key ON invoices (organization_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX invoices_created_idx ON invoices (organization_id, created_at, id);
CREATE INDEX invoices_updated_idx ON invoices (organization_id, updated_at, id);
CREATE INDEX invoices_issued_idx ON invoices (organization_id, issued_at, id);
CREATE INDEX invoices_total_idx ON invoices (organization_id, total, id);
CREATE INDEX invoices_status_idx ON invoices (organization_id, status, id);
CREATE INDEX invoices_due_idx ON invoices (organization_id, due_date, id);
CREATE INDEX invoices_folio_idx ON invoices (organization_id, folio, id);
CREATE INDEX invoices_customer_idx ON invoices (organization_id, customer_id, created_at, id);
CREATE INDEX invoices_customer_fk_idx ON invoices (customer_id);
CREATE INDEX invoices_series_idx ON invoices (series_id);
CREATE INDEX invoices_search_idx ON invoices USING gin (search gin_trgm_ops);

-- The sealed and the stamped document of an invoice. The sealed XML is written when the folio
-- is taken and the seal computed, in the same transaction; the stamped XML, exactly as the PAC
-- returned it, when stamping succeeds. It is served as stored and never regenerated.
CREATE TABLE invoice_stamps (
    invoice_id         uuid          PRIMARY KEY REFERENCES invoices (id) ON DELETE CASCADE,
    organization_id    uuid          NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The CSD that sealed it (Comprobante/@NoCertificado).
    certificate_number text          NOT NULL,
    sealed_xml         bytea         NOT NULL,
    sello              text          NOT NULL,
    -- The PAC that stamped (or is to stamp) it, and its answer.
    pac                text          NOT NULL,
    xml                bytea,
    uuid               uuid          UNIQUE,
    stamped_at         timestamptz,
    attempts           integer       NOT NULL DEFAULT 0,
    last_error         text,
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now()
);

-- Cancellation requests (SAT's flow: the receiver may have to accept).
CREATE TABLE invoice_cancellations (
    invoice_id         uuid          PRIMARY KEY REFERENCES invoices (id) ON DELETE CASCADE,
    organization_id    uuid          NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- c_MotivoCancelacion, and with 01 the replacement's UUID (FolioSustitucion).
    reason             text          NOT NULL CHECK (reason IN ('01', '02', '03', '04')),
    replacement_uuid   uuid,
    status             text          NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    requested_by       uuid,
    requested_at       timestamptz   NOT NULL DEFAULT now(),
    answered_at        timestamptz
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoices', 'invoice_stamps', 'invoice_cancellations']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (organization_id = current_organization_id()) '
            'WITH CHECK (organization_id = current_organization_id())', t);
    END LOOP;
END
$$;

-- `q` of the invoice list, as for customers and products (migration 000010 says why).
CREATE FUNCTION invoice_search_ids(pattern text) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 100
    SET search_path = public, pg_temp
    AS $$ SELECT id FROM invoices
          WHERE organization_id = current_organization_id() AND search LIKE pattern $$;
REVOKE ALL ON FUNCTION invoice_search_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoice_search_ids(text) TO facturacion_app;
