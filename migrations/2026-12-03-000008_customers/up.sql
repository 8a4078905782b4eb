-- Customers (the CFDI Receptor of an organization's invoices) and their contacts.

CREATE TABLE customers (
    id                    uuid        PRIMARY KEY,
    organization_id       uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Receptor/@Nombre, exactly as registered with SAT.
    legal_name            text        NOT NULL CHECK (char_length(legal_name) BETWEEN 1 AND 254),
    -- Receptor/@Rfc (or a generic RFC).
    rfc                   text        NOT NULL CHECK (rfc ~ '^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}$'),
    -- Receptor/@RegimenFiscalReceptor (c_RegimenFiscal).
    tax_regime            text        NOT NULL CHECK (tax_regime ~ '^[0-9]{3}$'),
    -- Receptor/@DomicilioFiscalReceptor (c_CodigoPostal).
    tax_postal_code       text        NOT NULL CHECK (tax_postal_code ~ '^[0-9]{5}$'),
    -- Default Receptor/@UsoCFDI (c_UsoCFDI) for new invoices.
    cfdi_use              text        CHECK (cfdi_use ~ '^[A-Z0-9]{3}$'),
    -- Receptor/@ResidenciaFiscal (c_Pais) and Receptor/@NumRegIdTrib, for foreign customers.
    tax_residence_country text        CHECK (tax_residence_country ~ '^[A-Z]{3}$'),
    foreign_tax_id        text        CHECK (char_length(foreign_tax_id) BETWEEN 1 AND 40),
    emails                text[]      NOT NULL DEFAULT '{}',
    phone                 text        CHECK (char_length(phone) BETWEEN 1 AND 40),
    address               jsonb       NOT NULL DEFAULT '{}',
    payment_terms_days    integer     NOT NULL DEFAULT 0 CHECK (payment_terms_days BETWEEN 0 AND 365),
    notes                 text        CHECK (char_length(notes) <= 5000),
    external_id           text        CHECK (char_length(external_id) BETWEEN 1 AND 100),
    metadata              jsonb       NOT NULL DEFAULT '{}',
    archived              boolean     NOT NULL DEFAULT false,
    -- domain::text::fold of name, RFC and emails, for `q`.
    search                text        NOT NULL,
    version               integer     NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_external_id_key ON customers (organization_id, external_id)
    WHERE external_id IS NOT NULL;
-- One index per sort of the list, for keyset pages within an organization.
CREATE INDEX customers_name_idx ON customers (organization_id, legal_name, id);
CREATE INDEX customers_created_idx ON customers (organization_id, created_at, id);
CREATE INDEX customers_updated_idx ON customers (organization_id, updated_at, id);
CREATE INDEX customers_rfc_idx ON customers (organization_id, rfc);
CREATE INDEX customers_search_idx ON customers USING gin (search gin_trgm_ops);

CREATE TABLE customer_contacts (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    customer_id     uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name            text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email           text        CHECK (char_length(email) BETWEEN 3 AND 254),
    phone           text        CHECK (char_length(phone) BETWEEN 1 AND 40),
    -- What the person does for the customer: billing, purchasing, payments...
    role            text        CHECK (char_length(role) BETWEEN 1 AND 100),
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_contacts_customer_idx ON customer_contacts (customer_id, created_at, id);

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customers
    USING (organization_id = current_organization_id())
    WITH CHECK (organization_id = current_organization_id());
ALTER TABLE customer_contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customer_contacts
    USING (organization_id = current_organization_id())
    WITH CHECK (organization_id = current_organization_id());
