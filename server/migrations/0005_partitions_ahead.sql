-- Partitions are shared by every organisation, so nothing a request carries
-- may create or lock them (docs/server.md, "Partitions and the time window").
--
-- * Ingest no longer creates partitions: an event's ts must fall in a window
--   around its arrival (SEALTRAIL_MAX_PAST / SEALTRAIL_MAX_FUTURE), and the
--   server's maintenance task keeps the window's partitions made ahead.
-- * A partition is made as a plain table and then attached. `CREATE TABLE …
--   PARTITION OF` takes an ACCESS EXCLUSIVE lock on audit_events, so it
--   queues behind any open read (a stalled export) and every later read and
--   write of every organisation queues behind it. `ATTACH PARTITION` takes
--   SHARE UPDATE EXCLUSIVE on audit_events, which does not conflict with
--   reads or inserts. The CHECK constraint matching the bound spares the
--   validation scan, and the indexes made with the table are adopted as the
--   partitioned indexes' children instead of being built under the lock.
-- * Every statement of the function runs under lock_timeout: when something
--   still holds a conflicting lock it gives up (the caller retries later)
--   rather than wait and make others wait behind it.
-- * The default partition goes (when empty): an event routed there made its
--   month's partition impossible to create, and attaching any partition
--   scanned it under an ACCESS EXCLUSIVE lock. Without it, a row of a month
--   with no partition is refused and ingest answers 503 (retry later).

CREATE OR REPLACE FUNCTION sealtrail_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_catalog SET TimeZone = 'UTC'
SET lock_timeout = '2s' SET statement_timeout = '60s' AS $$
DECLARE
    m    date := date_trunc('month', day)::date;
    n    date := (date_trunc('month', day) + interval '1 month')::date;
    part text := format('audit_events_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    held boolean;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- One maker at a time (several replicas run the task); the lock_timeout
    -- above bounds this wait too.
    PERFORM pg_advisory_xact_lock(hashtext('sealtrail_ensure_partition'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- A database migrated while the default partition held events keeps it:
    -- a month with events there cannot get its partition.
    IF to_regclass('audit_events_default') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM audit_events_default WHERE ts >= $1 AND ts < $2)'
            INTO held USING m::timestamptz, n::timestamptz;
        IF held THEN
            RAISE WARNING 'sealtrail: events of % are in audit_events_default; partition % not created', m, part;
            RETURN false;
        END IF;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE audit_events INCLUDING ALL)', part);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L)',
                   part, part || '_bound', m::timestamptz, n::timestamptz);
    EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change()', part);
    EXECUTE format('ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, m::timestamptz, n::timestamptz);
    -- The bound now holds by the partition itself.
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_bound');
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION sealtrail_ensure_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sealtrail_ensure_partition(date) TO sealtrail_app;

-- The months that have a partition, as `year * 12 + month - 1` (the server's
-- month key), for the maintenance task and /readyz.
CREATE FUNCTION sealtrail_partition_months() RETURNS SETOF integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog SET TimeZone = 'UTC' AS $$
    SELECT (extract(year FROM lo)::int * 12 + extract(month FROM lo)::int - 1)
    FROM (SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM $r$FROM \('([^']*)'\)$r$)::timestamptz AS lo
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_events'::regclass
            AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT') b
$$;
REVOKE ALL ON FUNCTION sealtrail_partition_months() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sealtrail_partition_months() TO sealtrail_app;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_events_default) THEN
        DROP TABLE audit_events_default;
    ELSE
        RAISE WARNING 'sealtrail: audit_events_default holds events; it is kept. Move them '
                      'into monthly partitions by hand (docs/server.md, "Partitions").';
    END IF;
END
$$;
