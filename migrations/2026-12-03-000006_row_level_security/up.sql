-- The second wall between tenants: row-level security. Requests made for a tenant run as
-- `facturacion_app` (no BYPASSRLS, not the tables' owner) with `app.organization_id` set for
-- the transaction, so a query that forgot its organization filter still sees only that
-- tenant's rows. Work that is not done for one tenant (login by email, token lookups, the
-- email worker) runs as the connecting role, which owns the tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'facturacion_app') THEN
        CREATE ROLE facturacion_app NOLOGIN NOBYPASSRLS;
    END IF;
END
$$;
-- The service switches to it with SET ROLE, which needs membership.
GRANT facturacion_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO facturacion_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO facturacion_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO facturacion_app;

-- The tenant of the current transaction, or NULL outside one (then no tenant row matches).
CREATE FUNCTION current_organization_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.organization_id', true), '')::uuid $$;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = current_organization_id()) WITH CHECK (id = current_organization_id());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'refresh_tokens', 'security_events', 'invitations',
                             'password_reset_tokens', 'email_outbox', 'api_clients']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (organization_id = current_organization_id()) '
            'WITH CHECK (organization_id = current_organization_id())', t);
    END LOOP;
END
$$;
