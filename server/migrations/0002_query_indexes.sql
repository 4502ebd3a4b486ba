-- sealtrail schema v2: the two indexes that walk an organisation's or an
-- agent's events newest first also carry the columns that listings filter on
-- most, as trailing key columns. A filter on a key column is checked on the
-- index entry, so rows that fail it are never fetched from the heap: a page
-- of `agent_id + type=model_call` (20% of an agent's events) read ~600 heap
-- pages through (org_id, agent_id, ts, id) and reads ~100 now; `name=` (one
-- tool of 40) read ~750 through (org_id, ts, id) and reads ~150. Ordering is
-- unchanged: after the equality columns the index is still ordered by
-- (ts, id). This replaces two indexes rather than adding any, so ingest
-- writes the same number of index entries (only slightly wider ones).
-- See docs/server.md, "Query plans".
--
-- Runs in one transaction: DROP INDEX locks audit_events and every partition
-- (ACCESS EXCLUSIVE, so reads wait too) until CREATE INDEX has built each
-- partition's index, about 5 s per million events on the 2-core development
-- machine. Schedule it with the upgrade on a large database.

DROP INDEX audit_events_org_ts;
CREATE INDEX audit_events_org_ts
    ON audit_events (org_id, ts, id, type, name, has_pii, decision_outcome);

DROP INDEX audit_events_agent_ts;
CREATE INDEX audit_events_agent_ts
    ON audit_events (org_id, agent_id, ts, id, type, name);
