-- Full-text search words are computed by the server (server/src/search.rs)
-- and written with each event, instead of by PostgreSQL's to_tsvector in a
-- generated column: to_tsvector cost about 60 µs per 1 KiB event, two thirds
-- of the whole insert (docs/server.md, "Full-text search"). Stored words of
-- existing rows are kept as they are. `search` is derived for queries only;
-- it is not part of the chain, like every other index.
ALTER TABLE audit_events ALTER COLUMN search DROP EXPRESSION;
