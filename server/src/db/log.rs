//! The transparency log's SQL (migration 0006): integrating committed links
//! into each organisation's Merkle tree, reading the stored hashes a proof
//! needs, and the signed checkpoints.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sealtrail_core::hash::Hash;
use sealtrail_core::tlog::{self, Frontier};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::events::hash_col;

/// Most stored hashes in one `log_hashes` row (64 KiB): a proof slices one
/// hash out of a row without reading the rest (EXTERNAL storage).
const HASHES_PER_ROW: usize = 2048;

/// Advisory lock class of the integrator and the checkpointer (xor the
/// organisation): one of each per organisation across every replica.
const INTEGRATE_LOCK: i64 = 0x5ea1_7a11_0100_0000;
const CHECKPOINT_LOCK: i64 = 0x5ea1_7a11_0200_0000;

fn org_lock(class: i64, org: Uuid) -> i64 {
    let b = org.as_bytes();
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[8..16]);
    class ^ i64::from_be_bytes(x)
}

/// Errors of the log's database work.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Stored data that cannot be what the integrator wrote (a missing link
    /// of a chain, a hash row of the wrong length): the log stops growing
    /// for this organisation until someone looks.
    #[error("the log of organisation {org} cannot grow: {detail}")]
    Corrupt { org: Uuid, detail: String },
}

/// An organisation's integrated tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// The tree of `org` (size 0 and the empty root before its first leaf).
pub async fn tree_head(pool: &PgPool, org: Uuid) -> Result<TreeHead, sqlx::Error> {
    let row = sqlx::query("SELECT size, root FROM log_trees WHERE org_id = $1")
        .bind(org)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => TreeHead {
            size: r.try_get::<i64, _>(0)? as u64,
            root: hash_col(&r, 1)?,
        },
        None => TreeHead {
            size: 0,
            root: tlog::empty_root(),
        },
    })
}

/// Organisations with links not yet in their tree.
pub async fn orgs_behind(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT c.org_id FROM chain_heads c
         LEFT JOIN log_chain_pos p USING (org_id, agent_id)
         WHERE c.seq > coalesce(p.seq, c.base_seq)",
    )
    .fetch_all(pool)
    .await
}

/// What one integration round did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integrated {
    pub added: u64,
    pub head: TreeHead,
}

/// Appends to `org`'s tree every link committed since the last round, up to
/// `max_leaves`, chain by chain (agent id order, then seq), in one
/// transaction. None when another integrator (another replica) holds the
/// organisation; `added` 0 when there was nothing new.
pub async fn integrate(
    pool: &PgPool,
    org: Uuid,
    max_leaves: u64,
) -> Result<Option<Integrated>, LogError> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(org_lock(INTEGRATE_LOCK, org))
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let corrupt = |detail: String| LogError::Corrupt { org, detail };
    let row = sqlx::query("SELECT size, root, frontier FROM log_trees WHERE org_id = $1")
        .bind(org)
        .fetch_optional(&mut *tx)
        .await?;
    let (old_size, mut frontier, exists) = match row {
        Some(r) => {
            let size = r.try_get::<i64, _>(0)? as u64;
            let bytes: Vec<u8> = r.try_get(2)?;
            let hashes = bytes
                .chunks_exact(32)
                .map(Hash::from_slice)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| corrupt(format!("frontier: {e}")))?;
            let f = Frontier::from_hashes(size, hashes)
                .map_err(|e| corrupt(format!("frontier: {e}")))?;
            (size, f, true)
        }
        None => (0, Frontier::new(), false),
    };

    // The chains with links past their position, and how far to take each.
    let rows = sqlx::query(
        "SELECT c.agent_id, coalesce(p.seq, c.base_seq) AS done, c.seq, p.seq IS NOT NULL
         FROM chain_heads c LEFT JOIN log_chain_pos p USING (org_id, agent_id)
         WHERE c.org_id = $1 AND c.seq > coalesce(p.seq, c.base_seq)
         ORDER BY c.agent_id",
    )
    .bind(org)
    .fetch_all(&mut *tx)
    .await?;
    let (mut agents, mut los, mut his, mut known) = (vec![], vec![], vec![], vec![]);
    let mut budget = max_leaves;
    for r in &rows {
        if budget == 0 {
            break;
        }
        let (agent, lo, head, has_pos): (String, i64, i64, bool) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let take = ((head - lo) as u64).min(budget);
        budget -= take;
        agents.push(agent);
        los.push(lo);
        his.push(lo + take as i64);
        known.push(has_pos);
    }
    if agents.is_empty() {
        return Ok(Some(Integrated {
            added: 0,
            head: TreeHead {
                size: old_size,
                root: frontier.root(),
            },
        }));
    }
    let links = sqlx::query(
        "SELECT q.ord, e.seq, e.hash
         FROM unnest($2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS q(agent, lo, hi, ord)
         JOIN event_ids e ON e.org_id = $1 AND e.agent_id = q.agent AND e.seq > q.lo AND e.seq <= q.hi
         ORDER BY q.ord, e.seq",
    )
    .bind(org)
    .bind(&agents)
    .bind(&los)
    .bind(&his)
    .fetch_all(&mut *tx)
    .await?;

    let org_text = org.to_string();
    let first_stored = tlog::stored_hash_count(old_size).map_err(|e| corrupt(e.to_string()))?;
    let mut stored: Vec<Hash> = Vec::with_capacity(links.len() * 2);
    let (mut run_first_idx, mut run_agent, mut run_first_seq, mut run_count) =
        (vec![], vec![], vec![], vec![]);
    let mut i = 0;
    for (k, agent) in agents.iter().enumerate() {
        let (lo, hi) = (los[k], his[k]);
        let run_start = frontier.size();
        for want in lo + 1..=hi {
            let r = links.get(i).ok_or_else(|| {
                corrupt(format!(
                    "link {want} of agent {agent:?} is not in event_ids, though its chain head is past it"
                ))
            })?;
            let (ord, seq): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            if ord != k as i64 + 1 || seq != want {
                return Err(corrupt(format!(
                    "link {want} of agent {agent:?} is not in event_ids, though its chain head is past it"
                )));
            }
            let link = hash_col(r, 2)?;
            let leaf = tlog::leaf_hash(&org_text, agent, seq as u64, &link)
                .map_err(|e| corrupt(e.to_string()))?;
            frontier
                .append_stored(leaf, &mut stored)
                .map_err(|e| corrupt(e.to_string()))?;
            i += 1;
        }
        run_first_idx.push(run_start as i64);
        run_agent.push(agent.clone());
        run_first_seq.push(lo + 1);
        run_count.push(hi - lo);
    }
    let new_size = frontier.size();
    let root = frontier.root();

    // Stored hashes, in rows of at most HASHES_PER_ROW.
    let (mut starts, mut blobs): (Vec<i64>, Vec<Vec<u8>>) = (vec![], vec![]);
    for (c, chunk) in stored.chunks(HASHES_PER_ROW).enumerate() {
        starts.push(first_stored + (c * HASHES_PER_ROW) as i64);
        blobs.push(chunk.iter().flat_map(|h| h.0).collect());
    }
    sqlx::query(
        "INSERT INTO log_hashes (org_id, start, hashes)
         SELECT $1, s, h FROM unnest($2::bigint[], $3::bytea[]) AS t(s, h)",
    )
    .bind(org)
    .bind(&starts)
    .bind(&blobs)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO log_runs (org_id, first_idx, agent_id, first_seq, count)
         SELECT $1, i, a, s, c FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS t(i, a, s, c)",
    )
    .bind(org)
    .bind(&run_first_idx)
    .bind(&run_agent)
    .bind(&run_first_seq)
    .bind(&run_count)
    .execute(&mut *tx)
    .await?;
    // Positions: new chains inserted, known ones moved forward.
    let (new_agents, new_pos): (Vec<String>, Vec<i64>) = agents
        .iter()
        .zip(&his)
        .zip(&known)
        .filter(|(_, k)| !**k)
        .map(|((a, h), _)| (a.clone(), *h))
        .unzip();
    let (old_agents, old_pos): (Vec<String>, Vec<i64>) = agents
        .iter()
        .zip(&his)
        .zip(&known)
        .filter(|(_, k)| **k)
        .map(|((a, h), _)| (a.clone(), *h))
        .unzip();
    if !new_agents.is_empty() {
        sqlx::query(
            "INSERT INTO log_chain_pos (org_id, agent_id, seq)
             SELECT $1, a, s FROM unnest($2::text[], $3::bigint[]) AS t(a, s)",
        )
        .bind(org)
        .bind(&new_agents)
        .bind(&new_pos)
        .execute(&mut *tx)
        .await?;
    }
    if !old_agents.is_empty() {
        sqlx::query(
            "UPDATE log_chain_pos p SET seq = t.s
             FROM unnest($2::text[], $3::bigint[]) AS t(a, s)
             WHERE p.org_id = $1 AND p.agent_id = t.a",
        )
        .bind(org)
        .bind(&old_agents)
        .bind(&old_pos)
        .execute(&mut *tx)
        .await?;
    }
    let frontier_bytes: Vec<u8> = frontier.hashes().iter().flat_map(|h| h.0).collect();
    if exists {
        sqlx::query(
            "UPDATE log_trees SET size = $2, root = $3, frontier = $4, updated_at = now()
             WHERE org_id = $1",
        )
    } else {
        sqlx::query("INSERT INTO log_trees (org_id, size, root, frontier) VALUES ($1, $2, $3, $4)")
    }
    .bind(org)
    .bind(new_size as i64)
    .bind(root.0.as_slice())
    .bind(&frontier_bytes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Integrated {
        added: new_size - old_size,
        head: TreeHead {
            size: new_size,
            root,
        },
    }))
}

/// The stored hashes at `indexes` (in that order), in one statement.
pub async fn read_hashes(pool: &PgPool, org: Uuid, indexes: &[i64]) -> Result<Vec<Hash>, LogError> {
    if indexes.is_empty() {
        return Ok(vec![]);
    }
    let rows = sqlx::query(
        "SELECT q.ord, substring(h.hashes FROM ((q.i - h.start) * 32 + 1)::int FOR 32)
         FROM unnest($2::bigint[]) WITH ORDINALITY AS q(i, ord)
         CROSS JOIN LATERAL (SELECT start, hashes FROM log_hashes
                             WHERE org_id = $1 AND start <= q.i
                             ORDER BY start DESC LIMIT 1) h
         ORDER BY q.ord",
    )
    .bind(org)
    .bind(indexes)
    .fetch_all(pool)
    .await?;
    if rows.len() != indexes.len() {
        return Err(LogError::Corrupt {
            org,
            detail: format!(
                "{} of {} stored hashes asked for are missing",
                indexes.len() - rows.len(),
                indexes.len()
            ),
        });
    }
    rows.iter()
        .zip(indexes)
        .map(|(r, i)| {
            let b: Vec<u8> = r.try_get(1)?;
            Hash::from_slice(&b).map_err(|_| LogError::Corrupt {
                org,
                detail: format!("stored hash {i} is missing"),
            })
        })
        .collect()
}

/// Where an event is in the log.
#[derive(Debug, Clone)]
pub struct EventLeaf {
    pub agent_id: String,
    pub seq: u64,
    /// The link hash.
    pub hash: Hash,
    /// None until the integrator has taken it.
    pub log_index: Option<u64>,
}

/// The leaf of event `id` of `org`, if the event exists.
pub async fn event_leaf(
    pool: &PgPool,
    org: Uuid,
    id: Uuid,
) -> Result<Option<EventLeaf>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT e.agent_id, e.seq, e.hash, r.first_idx + (e.seq - r.first_seq)
         FROM event_ids e
         LEFT JOIN LATERAL (SELECT first_idx, first_seq, count FROM log_runs
                            WHERE org_id = e.org_id AND agent_id = e.agent_id AND first_seq <= e.seq
                            ORDER BY first_seq DESC LIMIT 1) r ON r.first_seq + r.count > e.seq
         WHERE e.org_id = $1 AND e.id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(EventLeaf {
            agent_id: r.try_get(0)?,
            seq: r.try_get::<i64, _>(1)? as u64,
            hash: hash_col(&r, 2)?,
            log_index: r.try_get::<Option<i64>, _>(3)?.map(|i| i as u64),
        })
    })
    .transpose()
}

/// One run of leaves: links `first_seq ..` of `agent_id`'s chain at
/// `first_idx ..`.
#[derive(Debug, Clone)]
pub struct Run {
    pub first_idx: u64,
    pub agent_id: String,
    pub first_seq: u64,
    pub count: u64,
}

/// Every run of `org`'s log below `size`, in log order.
pub async fn runs(pool: &PgPool, org: Uuid, size: u64) -> Result<Vec<Run>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT first_idx, agent_id, first_seq, count FROM log_runs
         WHERE org_id = $1 AND first_idx < $2 ORDER BY first_idx",
    )
    .bind(org)
    .bind(size as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Run {
                first_idx: r.try_get::<i64, _>(0)? as u64,
                agent_id: r.try_get(1)?,
                first_seq: r.try_get::<i64, _>(2)? as u64,
                count: r.try_get::<i64, _>(3)? as u64,
            })
        })
        .collect()
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
    pub signed_at: DateTime<Utc>,
}

fn checkpoint_row(r: &sqlx::postgres::PgRow) -> Result<StoredCheckpoint, sqlx::Error> {
    Ok(StoredCheckpoint {
        size: r.try_get::<i64, _>(0)? as u64,
        root: hash_col(r, 1)?,
        note: r.try_get(2)?,
        signed_at: r.try_get(3)?,
    })
}

/// The newest checkpoint of `org`.
pub async fn latest_checkpoint(
    pool: &PgPool,
    org: Uuid,
) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    Ok(latest_checkpoints(pool, org, 1).await?.pop())
}

/// The checkpoint of `org` at exactly `size`.
pub async fn checkpoint_at(
    pool: &PgPool,
    org: Uuid,
    size: u64,
) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    sqlx::query(
        "SELECT size, root, note, signed_at FROM log_checkpoints WHERE org_id = $1 AND size = $2",
    )
    .bind(org)
    .bind(size as i64)
    .fetch_optional(pool)
    .await?
    .map(|r| checkpoint_row(&r))
    .transpose()
}

/// Checkpoints of `org` with a size over `since`, oldest first, at most
/// `limit`.
pub async fn checkpoints_since(
    pool: &PgPool,
    org: Uuid,
    since: u64,
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT size, root, note, signed_at FROM log_checkpoints
         WHERE org_id = $1 AND size > $2 ORDER BY size LIMIT $3",
    )
    .bind(org)
    .bind(since as i64)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(checkpoint_row).collect()
}

/// The newest `limit` checkpoints of `org`, newest first.
pub async fn latest_checkpoints(
    pool: &PgPool,
    org: Uuid,
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT size, root, note, signed_at FROM log_checkpoints
         WHERE org_id = $1 ORDER BY size DESC LIMIT $2",
    )
    .bind(org)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(checkpoint_row).collect()
}

/// Organisations whose tree grew past their newest checkpoint, with the
/// tree and the size of that checkpoint (0 for none).
pub async fn orgs_to_checkpoint(pool: &PgPool) -> Result<Vec<(Uuid, TreeHead, u64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.org_id, t.size, t.root, coalesce(c.size, 0)
         FROM log_trees t
         LEFT JOIN LATERAL (SELECT size FROM log_checkpoints
                            WHERE org_id = t.org_id ORDER BY size DESC LIMIT 1) c ON true
         WHERE t.size > coalesce(c.size, 0)",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                TreeHead {
                    size: r.try_get::<i64, _>(1)? as u64,
                    root: hash_col(r, 2)?,
                },
                r.try_get::<i64, _>(3)? as u64,
            ))
        })
        .collect()
}

/// Stores a signed checkpoint, under the organisation's checkpoint lock
/// (taken by [`lock_checkpoints`] in the same transaction).
pub async fn insert_checkpoint(
    tx: &mut sqlx::PgConnection,
    org: Uuid,
    size: u64,
    root: &Hash,
    note: &str,
    signed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO log_checkpoints (org_id, size, root, note, signed_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(size as i64)
    .bind(root.0.as_slice())
    .bind(note)
    .bind(signed_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Takes `org`'s checkpoint lock for the transaction; false when another
/// replica holds it.
pub async fn lock_checkpoints(tx: &mut sqlx::PgConnection, org: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(org_lock(CHECKPOINT_LOCK, org))
        .fetch_one(&mut *tx)
        .await
}

/// Every stored hash of `org`'s log, in index order (for verification:
/// about 64 bytes per leaf).
pub async fn all_stored_hashes(pool: &PgPool, org: Uuid) -> Result<Vec<Hash>, LogError> {
    let mut scan = super::long_read(pool).await?;
    let rows = sqlx::query("SELECT start, hashes FROM log_hashes WHERE org_id = $1 ORDER BY start")
        .bind(org)
        .fetch_all(&mut *scan)
        .await?;
    let mut out: Vec<Hash> = Vec::new();
    for r in rows {
        let start: i64 = r.try_get(0)?;
        let b: Vec<u8> = r.try_get(1)?;
        if start as usize != out.len() || !b.len().is_multiple_of(32) {
            return Err(LogError::Corrupt {
                org,
                detail: format!(
                    "stored hashes from index {start} do not follow the {} before them",
                    out.len()
                ),
            });
        }
        out.extend(b.chunks_exact(32).map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        }));
    }
    Ok(out)
}

/// The stored link hashes of each chain of `org`, by agent: `(seq of the
/// first, hashes in seq order)`; a gap ends the run read for that chain
/// (verification names the missing link).
pub async fn stored_links(
    pool: &PgPool,
    org: Uuid,
) -> Result<HashMap<String, (u64, Vec<Hash>)>, sqlx::Error> {
    use futures_util::TryStreamExt;
    let mut scan = super::long_read(pool).await?;
    let mut rows = sqlx::query(
        "SELECT agent_id, seq, hash FROM audit_events WHERE org_id = $1 ORDER BY agent_id, seq",
    )
    .bind(org)
    .fetch(&mut *scan);
    let mut out: HashMap<String, (u64, Vec<Hash>)> = HashMap::new();
    let mut current: Option<(String, u64, Vec<Hash>)> = None;
    while let Some(r) = rows.try_next().await? {
        let agent: &str = r.try_get(0)?;
        let seq = r.try_get::<i64, _>(1)? as u64;
        let hash = hash_col(&r, 2)?;
        match &mut current {
            Some((a, first, v)) if a == agent => {
                if *first + v.len() as u64 == seq {
                    v.push(hash);
                }
            }
            _ => {
                if let Some((a, f, v)) = current.take() {
                    out.insert(a, (f, v));
                }
                current = Some((agent.to_string(), seq, vec![hash]));
            }
        }
    }
    if let Some((a, f, v)) = current.take() {
        out.insert(a, (f, v));
    }
    Ok(out)
}

/// The log index of each `(agent, seq)` of `org` (None where not yet
/// integrated), in the order given: one statement for a page of events.
pub async fn log_indexes(
    pool: &PgPool,
    org: Uuid,
    links: &[(String, u64)],
) -> Result<Vec<Option<u64>>, sqlx::Error> {
    if links.is_empty() {
        return Ok(vec![]);
    }
    let agents: Vec<&str> = links.iter().map(|(a, _)| a.as_str()).collect();
    let seqs: Vec<i64> = links.iter().map(|(_, s)| *s as i64).collect();
    let rows = sqlx::query(
        "SELECT r.first_idx + (q.seq - r.first_seq)
         FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS q(agent, seq, ord)
         LEFT JOIN LATERAL (SELECT first_idx, first_seq, count FROM log_runs
                            WHERE org_id = $1 AND agent_id = q.agent AND first_seq <= q.seq
                            ORDER BY first_seq DESC LIMIT 1) r ON r.first_seq + r.count > q.seq
         ORDER BY q.ord",
    )
    .bind(org)
    .bind(&agents)
    .bind(&seqs)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<Option<i64>, _>(0)?.map(|i| i as u64)))
        .collect()
}
