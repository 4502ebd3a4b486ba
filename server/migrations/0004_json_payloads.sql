-- The JSON-valued members of an event (inputs, outputs, tokens, pii, attrs)
-- are kept as the canonical JSON text (RFC 8785) the content hash covered,
-- in `json` columns (checked to be JSON, stored as written), not `jsonb`
-- (parsed into a binary tree, printed back in another key order):
--   * verification rebuilds the canonical bytes by splicing the stored text
--     between the other members, with no parsing or re-encoding; any other
--     text (an edit) gives other bytes and fails the content hash, and then
--     the slow path parses it to say why (docs/chain-spec.md);
--   * PostgreSQL stores json by checking it, not by building a tree, and
--     sends it back as it is: ingest and verification both spend less.
-- Rows stored before keep jsonb's text form here (not canonical); they
-- verify through the slow path. Nothing queries inside these columns.
-- Runs in one transaction and rewrites every partition under an ACCESS
-- EXCLUSIVE lock (reads wait too): schedule it with the upgrade on a large
-- database.
ALTER TABLE audit_events DROP COLUMN has_pii;
ALTER TABLE audit_events
    ALTER COLUMN inputs  TYPE json USING inputs::json,
    ALTER COLUMN outputs TYPE json USING outputs::json,
    ALTER COLUMN tokens  TYPE json USING tokens::json,
    ALTER COLUMN pii     TYPE json USING pii::json,
    ALTER COLUMN attrs   TYPE json USING attrs::json;
ALTER TABLE audit_events ADD COLUMN has_pii boolean
    GENERATED ALWAYS AS (pii IS NOT NULL AND pii::text <> '{}') STORED;
-- Dropping has_pii dropped migration 2's index that carries it: made again.
CREATE INDEX audit_events_org_ts
    ON audit_events (org_id, ts, id, type, name, has_pii, decision_outcome);
