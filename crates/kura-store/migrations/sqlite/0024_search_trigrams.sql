-- PostgreSQL adds trigram indexes for product search here. SQLite has no such index: its search
-- scans the products table (`kura bench-search --products 10000` times it), and the catalog
-- keeps each answer for two seconds.
SELECT 1;
