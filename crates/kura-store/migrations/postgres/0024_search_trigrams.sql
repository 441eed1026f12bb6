-- Product search matches words anywhere in the normalised text (LIKE '%word%'). With pg_trgm,
-- trigram indexes answer those matches without reading every product. The extension is trusted
-- (PostgreSQL 13+: a database owner may create it); where it cannot be created, search keeps
-- scanning the table and the shop still starts.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available here; product search scans the products table';
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS products_search_trgm ON products USING gin (search_text gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS products_name_trgm ON products USING gin (name_text gin_trgm_ops);
    END IF;
END
$$;
