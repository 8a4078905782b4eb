DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['organizations', 'users', 'refresh_tokens', 'security_events', 'invitations',
                             'password_reset_tokens', 'email_outbox', 'api_clients']
    LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON %I', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
DROP FUNCTION current_organization_id();
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM facturacion_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM facturacion_app;
REVOKE USAGE ON SCHEMA public FROM facturacion_app;
