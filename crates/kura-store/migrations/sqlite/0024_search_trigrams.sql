-- PostgreSQL adds trigram indexes for product search here. SQLite has none to add: a shop on
-- SQLite searches its products in memory-sized tables, and the answers are cached (Catalog).
SELECT 1;
