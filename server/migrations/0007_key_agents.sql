-- An ingest key may be limited to agent ids: glob patterns where `*`
-- stands for any run of characters (`support-*`). NULL: every agent of the
-- organisation. A key held by an agent under prompt injection then cannot
-- append to another agent's chain.
ALTER TABLE api_keys ADD COLUMN agents text[]
    CHECK (agents IS NULL OR (cardinality(agents) BETWEEN 1 AND 64 AND role = 'ingest'));
