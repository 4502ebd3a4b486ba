-- The transparency log (docs/chain-spec.md, "The log"): per organisation an
-- append-only RFC 9162 Merkle tree whose leaves are the organisation's chain
-- links, with signed checkpoints published outside the database. Chains
-- alone bind nobody who controls the database (anyone can recompute a
-- link); a checkpoint held elsewhere does.
--
-- The tree is stored as Go sumdb/tlog's "stored hashes": hash index i in
-- one append-only sequence per organisation (each leaf hash, then each
-- subtree hash it completes). An integration round appends a contiguous run
-- of them as one row of concatenated 32-byte hashes, so the log adds about
-- one row per thousand events, and a proof reads its O(log n) hashes in one
-- statement. Retention removes events, never these: every proof and old
-- checkpoint stays checkable after a partition is dropped.

-- The integrated tree of each organisation: its size, root, and the compact
-- range (right frontier: one hash per 1 bit of size) the next round extends.
CREATE TABLE log_trees (
    org_id     uuid PRIMARY KEY REFERENCES organizations (id),
    size       bigint NOT NULL CHECK (size >= 0),
    root       bytea NOT NULL CHECK (octet_length(root) = 32),
    frontier   bytea NOT NULL CHECK (octet_length(frontier) % 32 = 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Stored hashes from index `start` on, 32 bytes each. EXTERNAL storage (no
-- compression: hashes do not compress) lets substring() read one hash of a
-- long value without reading the rest.
CREATE TABLE log_hashes (
    org_id uuid NOT NULL,
    start  bigint NOT NULL CHECK (start >= 0),
    hashes bytea NOT NULL CHECK (octet_length(hashes) > 0 AND octet_length(hashes) % 32 = 0),
    PRIMARY KEY (org_id, start)
);
ALTER TABLE log_hashes ALTER COLUMN hashes SET STORAGE EXTERNAL;

-- Which links the leaves are: leaves first_idx .. first_idx + count - 1 are
-- links first_seq .. first_seq + count - 1 of agent_id's chain. A round
-- takes every link committed since the last one, chain by chain.
CREATE TABLE log_runs (
    org_id    uuid NOT NULL,
    first_idx bigint NOT NULL CHECK (first_idx >= 0),
    agent_id  text NOT NULL,
    first_seq bigint NOT NULL CHECK (first_seq >= 1),
    count     bigint NOT NULL CHECK (count > 0),
    PRIMARY KEY (org_id, first_idx)
);
CREATE INDEX log_runs_chain ON log_runs (org_id, agent_id, first_seq);

-- The last seq of each chain that is in the tree.
CREATE TABLE log_chain_pos (
    org_id   uuid NOT NULL,
    agent_id text NOT NULL,
    seq      bigint NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (org_id, agent_id)
);

-- Signed checkpoints, with the witnesses' cosignatures, as published.
CREATE TABLE log_checkpoints (
    org_id    uuid NOT NULL REFERENCES organizations (id),
    size      bigint NOT NULL CHECK (size > 0),
    root      bytea NOT NULL CHECK (octet_length(root) = 32),
    note      text NOT NULL,
    signed_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, size)
);

-- Append-only, by PostgreSQL itself.
CREATE TRIGGER log_hashes_append_only BEFORE UPDATE OR DELETE ON log_hashes
    FOR EACH ROW EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER log_hashes_no_truncate BEFORE TRUNCATE ON log_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER log_runs_append_only BEFORE UPDATE OR DELETE ON log_runs
    FOR EACH ROW EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER log_runs_no_truncate BEFORE TRUNCATE ON log_runs
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE ON log_checkpoints
    FOR EACH ROW EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();

-- The tree and the chain positions only grow.
CREATE FUNCTION sealtrail_log_tree_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'sealtrail: % on log_trees refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.org_id <> OLD.org_id OR NEW.size < OLD.size
       OR (NEW.size = OLD.size AND NEW.root <> OLD.root) THEN
        RAISE EXCEPTION 'sealtrail: a log tree only grows'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION sealtrail_log_pos_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'sealtrail: % on log_chain_pos refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.org_id <> OLD.org_id OR NEW.agent_id <> OLD.agent_id OR NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'sealtrail: a chain''s log position only moves forward'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER log_trees_forward BEFORE UPDATE OR DELETE ON log_trees
    FOR EACH ROW EXECUTE FUNCTION sealtrail_log_tree_forward();
CREATE TRIGGER log_trees_no_truncate BEFORE TRUNCATE ON log_trees
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();
CREATE TRIGGER log_chain_pos_forward BEFORE UPDATE OR DELETE ON log_chain_pos
    FOR EACH ROW EXECUTE FUNCTION sealtrail_log_pos_forward();
CREATE TRIGGER log_chain_pos_no_truncate BEFORE TRUNCATE ON log_chain_pos
    FOR EACH STATEMENT EXECUTE FUNCTION sealtrail_refuse_change();

GRANT SELECT, INSERT ON log_hashes, log_runs, log_checkpoints TO sealtrail_app;
GRANT SELECT, INSERT ON log_trees, log_chain_pos TO sealtrail_app;
GRANT UPDATE (size, root, frontier, updated_at) ON log_trees TO sealtrail_app;
GRANT UPDATE (seq) ON log_chain_pos TO sealtrail_app;
