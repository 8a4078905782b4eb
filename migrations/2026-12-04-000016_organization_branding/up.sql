-- The organization's branding, printed on its invoice PDFs and emails: a logo (the bytes as
-- uploaded, checked by decoding them), an accent colour and a footer line. One row per
-- organization, made by its first change and never deleted, so its version only grows (a
-- deleted and recreated row would start over and an old ETag could match again).
CREATE TABLE organization_branding (
    organization_id    uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    -- A PNG or JPEG of at most 1 MiB and 4096 x 4096 pixels, exactly as uploaded.
    logo               bytea       CHECK (octet_length(logo) BETWEEN 1 AND 1048576),
    logo_content_type  text        CHECK (logo_content_type IN ('image/png', 'image/jpeg')),
    logo_width         integer     CHECK (logo_width BETWEEN 1 AND 4096),
    logo_height        integer     CHECK (logo_height BETWEEN 1 AND 4096),
    -- "#RRGGBB", upper case.
    accent_color       text        CHECK (accent_color ~ '^#[0-9A-F]{6}$'),
    -- One line printed at the bottom of every PDF page.
    footer_text        text        CHECK (char_length(footer_text) BETWEEN 1 AND 300),
    version            integer     NOT NULL DEFAULT 1 CHECK (version >= 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- A logo comes with its media type and size, or none of them is set.
    CONSTRAINT organization_branding_logo_whole CHECK (
        (logo IS NULL) = (logo_content_type IS NULL)
        AND (logo IS NULL) = (logo_width IS NULL)
        AND (logo IS NULL) = (logo_height IS NULL))
);

ALTER TABLE organization_branding ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organization_branding
    USING (organization_id = current_organization_id())
    WITH CHECK (organization_id = current_organization_id());
-- The default privileges of 2026-12-03-000006 cover it when the same role runs the migrations;
-- granted here too so that a deployment migrating as another role still serves it.
GRANT SELECT, INSERT, UPDATE, DELETE ON organization_branding TO facturacion_app;
