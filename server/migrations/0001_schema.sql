-- sealtrail schema v1. Run by the database owner (`sealtrail migrate`); the
-- server itself works as the restricted role `sealtrail_app`, which may only
-- INSERT and SELECT audit events. See docs/server.md, "Roles and privileges".

-- Roles are cluster-wide while this migration runs once per database, and
-- several databases may be migrated at once (tests do): tolerate the race.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sealtrail_app') THEN
        BEGIN
            CREATE ROLE sealtrail_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

CREATE TABLE organizations (
    id             uuid PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    -- Events older than this many days may be dropped (whole partitions);
    -- NULL keeps them forever.
    retention_days integer CHECK (retention_days > 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id),
    -- SHA-256 of the whole key text; the key itself is never stored.
    key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    -- The first characters of the key, to tell keys apart in listings.
    prefix       text NOT NULL,
    role         text NOT NULL CHECK (role IN ('ingest', 'ops', 'compliance', 'admin')),
    name         text,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

-- One row per chain (org, agent): the head a verifier must reach. The row is
-- locked FOR UPDATE while a batch extends the chain, so concurrent batches and
-- server replicas serialise per chain and seq stays contiguous.
CREATE TABLE chain_heads (
    org_id     uuid NOT NULL REFERENCES organizations (id),
    agent_id   text NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 0),
    hash       bytea NOT NULL CHECK (octet_length(hash) = 32),
    -- Links up to base_seq were removed by retention; the chain continues
    -- from base_hash. 0 and all zeros while nothing was removed.
    base_seq   bigint NOT NULL DEFAULT 0,
    base_hash  bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, agent_id)
);

-- A unique constraint on a partitioned table must include the partition key
-- (ts), so "one id per org" and "one seq per chain" are kept here, in a small
-- unpartitioned table that also answers a replayed event with its receipt and
-- finds an event's ts (hence its partition) from its id.
CREATE TABLE event_ids (
    org_id   uuid NOT NULL,
    id       uuid NOT NULL,
    agent_id text NOT NULL,
    seq      bigint NOT NULL,
    ts       timestamptz NOT NULL,
    hash     bytea NOT NULL,
    -- To tell a replay (same content) from a reused id (different content).
    content_hash bytea NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, agent_id, seq)
);

CREATE TABLE legal_holds (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id),
    -- NULL: every agent of the organisation.
    agent_id    text,
    -- The held time range; NULL bounds are open.
    from_ts     timestamptz,
    to_ts       timestamptz,
    reason      text NOT NULL,
    created_by  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    released_by uuid
);
CREATE INDEX legal_holds_org ON legal_holds (org_id) WHERE released_at IS NULL;

-- The events. Each field of the canonical event has its own column so that
-- verification can rebuild the event and recompute its content hash: any
-- edited column changes the hash. JSON fields are jsonb (numbers round-trip
-- through their shortest form, which RFC 8785 uses); cost_usd is text to
-- keep the decimal exactly as the client wrote it.
CREATE TABLE audit_events (
    org_id          uuid NOT NULL,
    agent_id        text NOT NULL,
    seq             bigint NOT NULL,
    id              uuid NOT NULL,
    ts              timestamptz NOT NULL,
    type            text NOT NULL,
    actor_id        text,
    session_id      text,
    trace_id        text,
    parent_id       text,
    name            text,
    prompt_hash     text,
    inputs          jsonb,
    outputs         jsonb,
    decision_outcome text,
    decision_by     text,
    decision_reason text,
    error_type      text,
    error_message   text,
    error_stack     text,
    tokens          jsonb,
    cost_usd        text,
    latency_ms      bigint,
    pii             jsonb,
    attrs           jsonb,
    content_hash    bytea NOT NULL,
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL,
    api_key_id      uuid NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    -- Derived, for queries only (generated, so they cannot be edited apart
    -- from the columns they come from).
    has_pii         boolean GENERATED ALWAYS AS (pii IS NOT NULL AND pii <> '{}'::jsonb) STORED,
    -- Full-text search over a bounded summary: the name, error and decision
    -- texts and the first 512 characters of the (already redacted) inputs
    -- and outputs. Indexing whole payloads costs most of the ingest rate;
    -- see docs/server.md, "Full-text search".
    search          tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig,
            left(coalesce(name, '') || ' ' || coalesce(error_type, '') || ' '
                 || coalesce(error_message, '') || ' ' || coalesce(decision_reason, ''), 512)
            || ' ' || left(coalesce(inputs::text, ''), 512)
            || ' ' || left(coalesce(outputs::text, ''), 512))
    ) STORED
) PARTITION BY RANGE (ts);

-- An event whose month has no partition yet still lands somewhere; the server
-- creates the month's partition before inserting, so this stays empty.
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

-- Indexes follow the queries (all cursor-paginated on (ts, id) descending).
CREATE UNIQUE INDEX audit_events_chain ON audit_events (org_id, agent_id, seq, ts);
CREATE INDEX audit_events_org_ts ON audit_events (org_id, ts, id);
CREATE INDEX audit_events_agent_ts ON audit_events (org_id, agent_id, ts, id);
CREATE INDEX audit_events_actor_ts ON audit_events (org_id, actor_id, ts, id) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_session ON audit_events (org_id, session_id, ts, id) WHERE session_id IS NOT NULL;
CREATE INDEX audit_events_trace ON audit_events (org_id, trace_id, ts, id) WHERE trace_id IS NOT NULL;
CREATE INDEX audit_events_type_ts ON audit_events (org_id, type, ts, id);
CREATE INDEX audit_events_denied ON audit_events (org_id, ts, id) WHERE decision_outcome = 'denied';
CREATE INDEX audit_events_errors ON audit_events (org_id, ts, id) WHERE type = 'error';
CREATE INDEX audit_events_search ON audit_events USING gin (search)
    WITH (fastupdate = on, gin_pending_list_limit = 16384);

-- Append-only, enforced by PostgreSQL: the server's role holds no UPDATE or
-- DELETE grant, and these triggers refuse even the owner.
CREATE FUNCTION sealtrail_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sealtrail: % on % refused: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();

-- A chain head only moves forward.
CREATE FUNCTION sealtrail_chain_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'sealtrail: % on chain_heads refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.org_id <> OLD.org_id OR NEW.agent_id <> OLD.agent_id OR NEW.seq < OLD.seq
       OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash) OR NEW.base_seq < OLD.base_seq THEN
        RAISE EXCEPTION 'sealtrail: a chain head only moves forward'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER chain_heads_forward BEFORE UPDATE OR DELETE ON chain_heads
    FOR EACH ROW EXECUTE FUNCTION sealtrail_chain_head_forward();
CREATE TRIGGER chain_heads_no_truncate BEFORE TRUNCATE ON chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();

-- Creates the partition of the month holding `day` (UTC) if it is missing.
-- SECURITY DEFINER: the server's role may create partitions but owns none.
CREATE FUNCTION sealtrail_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog SET TimeZone = 'UTC' AS $$
DECLARE
    m    date := date_trunc('month', day)::date;
    n    date := (date_trunc('month', day) + interval '1 month')::date;
    part text := format('audit_events_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sealtrail_ensure_partition'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM audit_events_default WHERE ts >= m AND ts < n) THEN
        RAISE WARNING 'sealtrail: events of % are in audit_events_default; partition % not created', m, part;
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                   part, m::timestamptz, n::timestamptz);
    EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change()', part);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION sealtrail_ensure_partition(date) FROM PUBLIC;

-- Partitions for this month and the next two, made now; the server's
-- maintenance task keeps making them ahead.
SELECT sealtrail_ensure_partition((now() + make_interval(months => k))::date)
FROM generate_series(0, 2) AS k;

-- Retention: drops whole monthly partitions, never rows. A partition is
-- dropped only when every organisation with events in it has a retention
-- policy that the partition's whole month is past, no active legal hold of
-- any of those organisations overlaps the month, and the dropped links are a
-- prefix of every chain in it (so the chain can continue from a recorded
-- base). Returns one row per partition considered.
CREATE FUNCTION sealtrail_retention_run(dry_run boolean DEFAULT false)
RETURNS TABLE (partition_name text, action text, reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog SET TimeZone = 'UTC' AS $$
DECLARE
    p        record;
    lo       timestamptz;
    hi       timestamptz;
    why      text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('sealtrail_retention'));
    FOR p IN
        SELECT c.oid::regclass AS rel, c.relname::text AS name,
               pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'audit_events'::regclass AND c.relname <> 'audit_events_default'
        ORDER BY c.relname
    LOOP
        lo := substring(p.bound FROM $r$FROM \('([^']*)'\)$r$)::timestamptz;
        hi := substring(p.bound FROM $r$TO \('([^']*)'\)$r$)::timestamptz;
        why := NULL;
        EXECUTE format($q$
            WITH orgs AS (SELECT DISTINCT org_id FROM %s)
            SELECT CASE
                WHEN EXISTS (SELECT 1 FROM orgs o JOIN organizations g ON g.id = o.org_id
                             WHERE g.retention_days IS NULL)
                    THEN 'an organisation with events in it has no retention policy'
                WHEN EXISTS (SELECT 1 FROM orgs o JOIN organizations g ON g.id = o.org_id
                             WHERE $1 > now() - make_interval(days => g.retention_days))
                    THEN 'inside the retention policy'
                WHEN EXISTS (SELECT 1 FROM orgs o JOIN legal_holds h ON h.org_id = o.org_id
                             WHERE h.released_at IS NULL
                               AND (h.from_ts IS NULL OR h.from_ts < $1)
                               AND (h.to_ts IS NULL OR h.to_ts >= $2))
                    THEN 'under legal hold'
                WHEN EXISTS (
                    SELECT 1 FROM (SELECT org_id, agent_id, max(seq) AS top, count(*) AS n
                                   FROM %s GROUP BY org_id, agent_id) s
                    JOIN chain_heads c USING (org_id, agent_id)
                    WHERE s.top - c.base_seq <> s.n)
                    THEN 'later links of a chain are in an earlier partition; drop that one first'
                WHEN NOT EXISTS (SELECT 1 FROM orgs) AND $1 > now() - interval '1 year'
                    THEN 'empty but recent'
            END$q$, p.rel, p.rel)
        INTO why USING hi, lo;
        IF why IS NOT NULL THEN
            partition_name := p.name; action := 'kept'; reason := why;
            RETURN NEXT;
            CONTINUE;
        END IF;
        partition_name := p.name; action := CASE WHEN dry_run THEN 'would_drop' ELSE 'dropped' END;
        reason := format('past retention (%s .. %s)', lo, hi);
        IF NOT dry_run THEN
            EXECUTE format($q$
                UPDATE chain_heads c SET base_seq = s.top, base_hash = s.hash
                FROM (SELECT DISTINCT ON (org_id, agent_id) org_id, agent_id, seq AS top, hash
                      FROM %s ORDER BY org_id, agent_id, seq DESC) s
                WHERE c.org_id = s.org_id AND c.agent_id = s.agent_id$q$, p.rel);
            EXECUTE format('DELETE FROM event_ids e USING %s p WHERE e.org_id = p.org_id AND e.id = p.id', p.rel);
            EXECUTE format('ALTER TABLE audit_events DETACH PARTITION %s', p.rel);
            EXECUTE format('DROP TABLE %s', p.rel);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION sealtrail_retention_run(boolean) FROM PUBLIC;

-- What the server's role may do.
GRANT USAGE ON SCHEMA public TO sealtrail_app;
GRANT SELECT, INSERT ON audit_events, event_ids TO sealtrail_app;
GRANT SELECT, INSERT ON chain_heads TO sealtrail_app;
GRANT UPDATE (seq, hash, updated_at) ON chain_heads TO sealtrail_app;
GRANT SELECT, INSERT ON organizations TO sealtrail_app;
GRANT UPDATE (retention_days) ON organizations TO sealtrail_app;
GRANT SELECT, INSERT ON api_keys TO sealtrail_app;
GRANT UPDATE (active, last_used_at) ON api_keys TO sealtrail_app;
GRANT SELECT, INSERT ON legal_holds TO sealtrail_app;
GRANT UPDATE (released_at, released_by) ON legal_holds TO sealtrail_app;
GRANT EXECUTE ON FUNCTION sealtrail_ensure_partition(date) TO sealtrail_app;
GRANT EXECUTE ON FUNCTION sealtrail_retention_run(boolean) TO sealtrail_app;
