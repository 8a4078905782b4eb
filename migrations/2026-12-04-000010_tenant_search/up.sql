-- Trigram searches of customers and products that keep to their index under row-level
-- security.
--
-- A policy makes PostgreSQL evaluate a query's own conditions only after the policy's, unless
-- their operators are LEAKPROOF, and LIKE is not: as `facturacion_app` a search of
-- `search LIKE '%…%'` cannot use the GIN trigram index and reads every row of the table
-- (tests/tests/scale.rs shows the plans). These functions run the match as the tables' owner,
-- which the policies do not bind, and pin it to the organization of the current transaction
-- themselves, so the index is used and still only the caller's tenant is seen. Outside a
-- tenant transaction current_organization_id() is NULL and they return nothing.
CREATE FUNCTION customer_search_ids(pattern text) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 100
    SET search_path = public, pg_temp
    AS $$ SELECT id FROM customers
          WHERE organization_id = current_organization_id() AND search LIKE pattern $$;

CREATE FUNCTION product_search_ids(pattern text) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 100
    SET search_path = public, pg_temp
    AS $$ SELECT id FROM products
          WHERE organization_id = current_organization_id() AND search LIKE pattern $$;

REVOKE ALL ON FUNCTION customer_search_ids(text), product_search_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_search_ids(text), product_search_ids(text) TO facturacion_app;
