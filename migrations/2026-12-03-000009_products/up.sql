-- Products and services an organization sells: what a CFDI Concepto is made from.
CREATE TABLE products (
    id               uuid          PRIMARY KEY,
    organization_id  uuid          NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             text          NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- Concepto/@Descripcion when set (else the name).
    description      text          CHECK (char_length(description) BETWEEN 1 AND 1000),
    -- Concepto/@NoIdentificacion.
    sku              text          CHECK (char_length(sku) BETWEEN 1 AND 100),
    -- Concepto/@ClaveProdServ (c_ClaveProdServ) and @ClaveUnidad (c_ClaveUnidad).
    product_key      text          NOT NULL CHECK (product_key ~ '^[0-9]{8}$'),
    unit_key         text          NOT NULL CHECK (char_length(unit_key) BETWEEN 1 AND 3),
    -- Concepto/@Unidad.
    unit_name        text          CHECK (char_length(unit_name) BETWEEN 1 AND 20),
    -- Concepto/@ValorUnitario, exact, up to 6 decimals.
    unit_price       numeric(24,6) NOT NULL CHECK (unit_price >= 0),
    -- c_Moneda of unit_price.
    currency         text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Concepto/@ObjetoImp (c_ObjetoImp) and the concept's taxes:
    -- [{"tax": "002", "factor": "Tasa", "rate": "0.160000", "withholding": false}, ...]
    tax_object       text          NOT NULL CHECK (tax_object ~ '^[0-9]{2}$'),
    taxes            jsonb         NOT NULL DEFAULT '[]',
    external_id      text          CHECK (char_length(external_id) BETWEEN 1 AND 100),
    metadata         jsonb         NOT NULL DEFAULT '{}',
    archived         boolean       NOT NULL DEFAULT false,
    -- domain::text::fold of name, SKU and description, for `q`.
    search           text          NOT NULL,
    version          integer       NOT NULL DEFAULT 1,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_external_id_key ON products (organization_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX products_name_idx ON products (organization_id, name, id);
CREATE INDEX products_created_idx ON products (organization_id, created_at, id);
CREATE INDEX products_updated_idx ON products (organization_id, updated_at, id);
CREATE INDEX products_sku_idx ON products (organization_id, sku);
CREATE INDEX products_search_idx ON products USING gin (search gin_trgm_ops);

ALTER TABLE products ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON products
    USING (organization_id = current_organization_id())
    WITH CHECK (organization_id = current_organization_id());
