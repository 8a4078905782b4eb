-- SAT's CFDI 4.0 catalogs, shared by every tenant (no organization_id, no row-level security).
-- The service loads them from the CSVs compiled into it (`catalogs/sat/`) when they differ from
-- what is stored, and `api catalogs load DIR` loads newer CSVs; each catalog is replaced in one
-- transaction, so readers see the old rows until the new ones are committed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE sat_catalogs (
    name        text        PRIMARY KEY,
    -- The catalog publication the rows come from (catalogs/sat/VERSION).
    version     text        NOT NULL,
    sha256      bytea       NOT NULL,
    row_count   integer     NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sat_catalog_entries (
    catalog     text        NOT NULL REFERENCES sat_catalogs (name) ON DELETE CASCADE,
    key         text        NOT NULL,
    description text        NOT NULL,
    -- domain::text::fold of key and description: lower case, no accents.
    search      text        NOT NULL,
    -- The catalog's other columns, under English names.
    attributes  jsonb       NOT NULL DEFAULT '{}',
    valid_from  date,
    valid_to    date,
    -- Order in SAT's publication.
    position    integer     NOT NULL,
    PRIMARY KEY (catalog, key)
);
CREATE INDEX sat_catalog_entries_search_idx ON sat_catalog_entries USING gin (search gin_trgm_ops);

-- Catalogs are reference data: the tenant role reads them and never writes them.
REVOKE INSERT, UPDATE, DELETE ON sat_catalogs, sat_catalog_entries FROM facturacion_app;
GRANT SELECT ON sat_catalogs, sat_catalog_entries TO facturacion_app;
