//! Verification from the database: walks a chain in seq order, rebuilds each
//! event from its stored columns, recomputes its content hash and link, and
//! names the first broken seq (core's `Verifier` decides why).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt;
use sealtrail_core::chain::{
    BreakReason, ChainBreak, ChainId, ChainRecord, ExpectedHead, Verified, Verifier,
};
use sealtrail_core::hash::{sha256, Hash};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use sealtrail_core::event::RawPayloads;

use super::events::{hash_col, raw_payload, row_to_event, row_to_stored, ChainHead, PAYLOAD_COLS};

/// Columns verification reads: the event columns and the chain fields.
const VERIFY_SQL: &str = "SELECT agent_id, seq, id, ts, type, actor_id, session_id, trace_id, \
    parent_id, name, prompt_hash, inputs, outputs, decision_outcome, decision_by, \
    decision_reason, error_type, error_message, error_stack, tokens, cost_usd, latency_ms, \
    pii, attrs, content_hash, prev_hash, hash, api_key_id, received_at \
    FROM audit_events WHERE org_id = $1 AND agent_id = $2 AND seq > $3 ORDER BY seq";

/// The result of verifying one chain.
pub type ChainResult = Result<Verified, ChainBreak>;

/// Verifies the chain of `head.agent_id`; `progress` is told how many events
/// were checked so far, every 10,000.
pub async fn verify_chain(
    pool: &PgPool,
    org_id: Uuid,
    head: &ChainHead,
    progress: impl FnMut(u64),
) -> Result<ChainResult, sqlx::Error> {
    let r = verify_chain_links(pool, org_id, head, progress).await?;
    let copies = copy_mismatches(pool, org_id, Some(&head.agent_id)).await?;
    Ok(with_copies(r, copies.get(&head.agent_id)))
}

async fn verify_chain_links(
    pool: &PgPool,
    org_id: Uuid,
    head: &ChainHead,
    mut progress: impl FnMut(u64),
) -> Result<ChainResult, sqlx::Error> {
    let chain = ChainId {
        org_id: org_id.to_string(),
        agent_id: head.agent_id.clone(),
    };
    let mut v = Verifier::new(
        chain,
        Some(ExpectedHead {
            seq: head.head_seq,
            hash: head.head_hash,
        }),
    )
    .with_base(head.base_seq, head.base_hash);
    let mut scan = super::long_read(pool).await?;
    let mut rows = sqlx::query(VERIFY_SQL)
        .bind(org_id)
        .bind(&head.agent_id)
        .bind(head.base_seq as i64)
        .fetch(&mut *scan);
    // Rows are read here while the previous chunk is decoded and hashed on
    // a blocking thread: reading and hashing overlap.
    let mut pending: Option<ChunkTask> = None;
    let mut n = 0u64;
    loop {
        let chunk = read_chunk(&mut rows).await?;
        let last = chunk.is_empty();
        let next = (!last).then(|| check_chunk(chunk));
        if let Some(p) = pending.take() {
            for (_, rec, bad_detail) in joined(p).await? {
                if let Err(first) = v.push(&rec) {
                    return Ok(Err(explain(
                        pool, org_id, head, &mut v, &rec, first, bad_detail,
                    )
                    .await?));
                }
                n += 1;
                if n.is_multiple_of(10_000) {
                    progress(n);
                }
            }
        }
        pending = next;
        if last {
            break;
        }
    }
    progress(n);
    Ok(v.finish())
}

const CHUNK: usize = 2048;

/// A row as read: its chain fields, and the event rebuilt from its columns
/// (or why that was impossible).
struct Decoded {
    agent_id: String,
    seq: u64,
    key_id: String,
    prev_hash: Hash,
    hash: Hash,
    stored_content: Hash,
    content: Content,
}

/// What a row's content hash is recomputed from.
enum Content {
    /// Already recomputed from the stored canonical text (the fast path).
    Hashed(Hash),
    /// The event rebuilt from its columns, or why it could not be.
    Event(Box<Result<sealtrail_core::Event, String>>),
}

/// A record ready for the verifier, with the reason the row could not be
/// rebuilt, if it could not.
type Checked = (ChainRecord, Option<String>);

/// [`Checked`] with the chain it belongs to.
type CheckedOf = (String, ChainRecord, Option<String>);

fn decode(row: &sqlx::postgres::PgRow) -> Result<Decoded, sqlx::Error> {
    let seq: i64 = row.try_get(1)?;
    let key_id: Uuid = row.try_get(27)?;
    let stored_content = hash_col(row, 24)?;
    let content = match spliced_hash(row, seq)? {
        Some(Ok(h)) if h == stored_content => Content::Hashed(h),
        // Breaks section 1 of the spec: edited, whatever it hashes to.
        Some(Err(detail)) => Content::Event(Box::new(Err(detail))),
        // Not the canonical text that was hashed (an edit, or a row stored
        // as jsonb before migration 4): parse it to tell which, and why.
        _ => Content::Event(Box::new(
            row_to_stored(row)?.map_err(|b| b.detail).and_then(|s| {
                match s.event.validate(&SECTION_1) {
                    Ok(()) => Ok(s.event),
                    Err(e) => Err(section_1(e)),
                }
            }),
        )),
    };
    Ok(Decoded {
        agent_id: row.try_get(0)?,
        seq: seq.max(0) as u64,
        key_id: key_id.to_string(),
        prev_hash: hash_col(row, 25)?,
        hash: hash_col(row, 26)?,
        stored_content,
        content,
    })
}

/// Section 1 without the receiver's size and depth limits, which are not
/// what a stored event is verified by.
const SECTION_1: sealtrail_core::Limits = sealtrail_core::Limits {
    max_event_bytes: usize::MAX,
    max_depth: usize::MAX,
};

fn section_1(e: sealtrail_core::Error) -> String {
    format!(
        "the stored event breaks section 1 of the spec: {}",
        e.message()
    )
}

/// The content hash of a row's event rebuilt with its JSON-valued members
/// spliced in as stored, without parsing them into values; `Err` when the
/// event breaks section 1 of the spec (a member's text that is not exactly
/// one JSON value, so the splice could shift text between members, or has
/// a member name twice, or a field outside its rules). `None` when the
/// columns do not make an event or a member is not `json` text.
fn spliced_hash(
    row: &sqlx::postgres::PgRow,
    seq: i64,
) -> Result<Option<Result<Hash, String>>, sqlx::Error> {
    let Ok(event) = row_to_event(row, seq, false)? else {
        return Ok(None);
    };
    let mut raw = RawPayloads::default();
    for (i, which) in PAYLOAD_COLS {
        let Some(text) = raw_payload(row, i) else {
            return Ok(None);
        };
        raw.set(which, text);
    }
    if let Err(e) = event.validate_raw(&raw) {
        return Ok(Some(Err(section_1(e))));
    }
    let mut buf = Vec::with_capacity(2048);
    event.write_canonical_raw(&raw, &mut buf);
    Ok(Some(Ok(sha256(&buf))))
}

/// Decoding and hashing one chunk of rows, on a blocking thread.
type ChunkTask = tokio::task::JoinHandle<Result<Vec<CheckedOf>, sqlx::Error>>;

/// The next rows of `rows`, at most [`CHUNK`]; empty at the end.
async fn read_chunk(
    rows: &mut (impl futures_util::Stream<Item = Result<sqlx::postgres::PgRow, sqlx::Error>> + Unpin),
) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
    let mut chunk = Vec::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        match rows.next().await {
            Some(row) => chunk.push(row?),
            None => break,
        }
    }
    Ok(chunk)
}

/// Decodes and hashes `chunk` on a blocking thread.
fn check_chunk(chunk: Vec<sqlx::postgres::PgRow>) -> ChunkTask {
    tokio::task::spawn_blocking(move || {
        let decoded = chunk.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(hash_chunk_of(decoded))
    })
}

async fn joined(task: ChunkTask) -> Result<Vec<CheckedOf>, sqlx::Error> {
    task.await
        .map_err(|e| sqlx::Error::Protocol(format!("verify worker failed: {e}")))?
}

fn hash_chunk_of(chunk: Vec<Decoded>) -> Vec<CheckedOf> {
    chunk
        .into_iter()
        .map(|d| {
            let (content_hash, bad) = match d.content {
                Content::Hashed(h) => (h, None),
                Content::Event(built) => match *built {
                    Ok(e) => (e.content_hash(), None),
                    // No event can be rebuilt: a content hash nothing matches.
                    Err(detail) => (sha256(detail.as_bytes()), Some(detail)),
                },
            };
            (
                d.agent_id,
                ChainRecord {
                    seq: d.seq,
                    key_id: d.key_id,
                    prev_hash: d.prev_hash,
                    hash: d.hash,
                    stored_content_hash: Some(d.stored_content),
                    content_hash,
                },
                bad,
            )
        })
        .collect()
}

/// The verifier knows only the links seen so far; a prev_hash that points at
/// a later link means reordering, not an edit or a forgery: ask the database.
async fn explain(
    pool: &PgPool,
    org_id: Uuid,
    head: &ChainHead,
    v: &mut Verifier,
    rec: &ChainRecord,
    first: ChainBreak,
    bad_detail: Option<String>,
) -> Result<ChainBreak, sqlx::Error> {
    let prev_unknown = matches!(first.reason, BreakReason::Forged | BreakReason::Edited)
        && rec.seq <= head.head_seq;
    let brk = if prev_unknown {
        let exists = link_exists(pool, org_id, &head.agent_id, &rec.prev_hash).await?;
        match v.push_with(rec, |_| exists) {
            Err(b) => b,
            Ok(()) => first,
        }
    } else {
        first
    };
    Ok(match bad_detail {
        Some(d) if brk.seq == rec.seq && brk.reason == BreakReason::Edited => {
            ChainBreak { detail: d, ..brk }
        }
        _ => brk,
    })
}

async fn link_exists(
    pool: &PgPool,
    org_id: Uuid,
    agent: &str,
    h: &Hash,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE org_id = $1 AND agent_id = $2 AND hash = $3)",
    )
    .bind(org_id)
    .bind(agent)
    .bind(&h.0[..])
    .fetch_one(pool)
    .await
}

/// Agents with stored events but no chain head: rows written around the server.
pub async fn headless_agents(pool: &PgPool, org_id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT e.agent_id FROM audit_events e
         WHERE e.org_id = $1 AND NOT EXISTS
           (SELECT 1 FROM chain_heads c WHERE c.org_id = e.org_id AND c.agent_id = e.agent_id)",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await
}

/// Chains verified at once by [`verify_many`].
pub const VERIFY_CONCURRENCY: usize = 4;

/// Verifies `heads` a few at a time, yielding results in the order given.
pub fn verify_many<'a>(
    pool: &'a PgPool,
    org_id: Uuid,
    heads: &'a [ChainHead],
) -> impl futures_util::Stream<Item = (&'a ChainHead, Result<ChainResult, sqlx::Error>)> + 'a {
    futures_util::stream::iter(heads)
        .map(move |h| async move { (h, verify_chain(pool, org_id, h, |_| {}).await) })
        .buffered(VERIFY_CONCURRENCY)
}

/// Where one chain's walk stands during [`verify_org`].
struct Walk {
    verifier: Verifier,
    /// SHA-256 over each accepted link's (seq, hash, content hash) in seq
    /// order, compared with the same over `event_ids`' copies.
    copies: Sha256,
    /// The API keys that appended the chain's links.
    keys: BTreeSet<String>,
    next: u64,
    /// Records read before their turn (rows are read in storage order).
    early: BTreeMap<u64, Vec<Checked>>,
    broken: Option<ChainBreak>,
}

/// The result of a whole-organisation verification.
pub struct OrgReport {
    /// Each chain with a head, by agent.
    pub chains: Vec<(ChainHead, ChainResult)>,
    /// Agents with stored events but no chain head: rows written around the server.
    pub headless: Vec<String>,
    /// How many API keys appended each chain's verified links (more than
    /// one: several agents, or a key used for another's chain).
    pub keys_used: HashMap<String, usize>,
}

const ORG_SQL: &str = "SELECT agent_id, seq, id, ts, type, actor_id, session_id, trace_id, \
    parent_id, name, prompt_hash, inputs, outputs, decision_outcome, decision_by, \
    decision_reason, error_type, error_message, error_stack, tokens, cost_usd, latency_ms, \
    pii, attrs, content_hash, prev_hash, hash, api_key_id, received_at \
    FROM audit_events WHERE org_id = $1";

/// Verifies every chain of an organisation in one pass over its rows in
/// storage order (a sequential scan, several times faster than walking each
/// chain through the index), feeding each chain's verifier in seq order and
/// holding back rows that arrive before their turn. Gives the same verdicts
/// as [`verify_chain`] on each chain.
pub async fn verify_org(
    pool: &PgPool,
    org_id: Uuid,
    mut progress: impl FnMut(u64),
) -> Result<OrgReport, sqlx::Error> {
    let heads = super::events::chains(pool, org_id, None).await?;
    let mut walks: HashMap<String, Walk> = HashMap::with_capacity(heads.len());
    for h in &heads {
        let chain = ChainId {
            org_id: org_id.to_string(),
            agent_id: h.agent_id.clone(),
        };
        let verifier = Verifier::new(
            chain,
            Some(ExpectedHead {
                seq: h.head_seq,
                hash: h.head_hash,
            }),
        )
        .with_base(h.base_seq, h.base_hash);
        walks.insert(
            h.agent_id.clone(),
            Walk {
                verifier,
                copies: Sha256::new(),
                keys: BTreeSet::new(),
                next: h.base_seq + 1,
                early: BTreeMap::new(),
                broken: None,
            },
        );
    }
    let by_agent: HashMap<&str, &ChainHead> =
        heads.iter().map(|h| (h.agent_id.as_str(), h)).collect();
    let mut headless: BTreeSet<String> = BTreeSet::new();
    let mut scan = super::long_read(pool).await?;
    let mut rows = sqlx::query(ORG_SQL).bind(org_id).fetch(&mut *scan);
    // Rows are decoded and hashed on blocking threads, two chunks at a time,
    // while the next chunk is read; chunks are applied in order.
    let mut pending: std::collections::VecDeque<ChunkTask> = std::collections::VecDeque::new();
    let mut n = 0u64;
    loop {
        let chunk = read_chunk(&mut rows).await?;
        let last = chunk.is_empty();
        if !last {
            pending.push_back(check_chunk(chunk));
        }
        while pending.len() > 2 || (last && !pending.is_empty()) {
            let Some(p) = pending.pop_front() else { break };
            let checked = joined(p).await?;
            for (agent, rec, bad) in checked {
                n += 1;
                let Some(w) = walks.get_mut(&agent) else {
                    headless.insert(agent);
                    continue;
                };
                if w.broken.is_some() {
                    continue;
                }
                if rec.seq > w.next {
                    w.early.entry(rec.seq).or_default().push((rec, bad));
                    continue;
                }
                let head = by_agent[agent.as_str()];
                advance(pool, org_id, head, w, rec, bad).await?;
                while w.broken.is_none() {
                    let Some(mut due) = w.early.remove(&w.next) else {
                        break;
                    };
                    let first = due.remove(0);
                    let rest = due;
                    advance(pool, org_id, head, w, first.0, first.1).await?;
                    for (r, b) in rest {
                        if w.broken.is_none() {
                            advance(pool, org_id, head, w, r, b).await?;
                        }
                    }
                }
            }
            progress(n);
        }
        if last {
            break;
        }
    }
    let mut chains: Vec<(ChainHead, ChainResult)> = Vec::with_capacity(heads.len());
    let mut digests: HashMap<String, Sha256> = HashMap::with_capacity(heads.len());
    let mut keys_used: HashMap<String, usize> = HashMap::with_capacity(heads.len());
    for h in heads {
        let Some(mut w) = walks.remove(&h.agent_id) else {
            continue;
        };
        // Rows still held back follow a gap: the verifier names it missing.
        let early = std::mem::take(&mut w.early);
        for (r, b) in early.into_values().flatten() {
            if w.broken.is_none() {
                advance(pool, org_id, &h, &mut w, r, b).await?;
            }
        }
        let result = match w.broken {
            Some(b) => Err(b),
            None => w.verifier.finish(),
        };
        digests.insert(h.agent_id.clone(), w.copies);
        keys_used.insert(h.agent_id.clone(), w.keys.len());
        chains.push((h, result));
    }
    // event_ids' copies, compared chain by chain through a digest (one scan
    // of the narrow table, nothing held per event); a chain whose digests
    // differ is looked at row by row to name the link.
    let mut theirs = copy_digests(pool, org_id).await?;
    let mut copies: HashMap<String, ChainBreak> = HashMap::new();
    for (h, r) in &chains {
        // No rows on either side (a chain emptied by retention) is the
        // digest of nothing.
        let ours = digests.remove(&h.agent_id).unwrap_or_default().finalize();
        let other = theirs
            .remove(&h.agent_id)
            .unwrap_or_else(|| Sha256::new().finalize());
        if r.is_ok() && ours != other {
            copies.extend(named_copy_mismatch(pool, org_id, &h.agent_id).await?);
        }
    }
    for agent in theirs.into_keys() {
        copies.extend(named_copy_mismatch(pool, org_id, &agent).await?);
    }
    let chains: Vec<(ChainHead, ChainResult)> = chains
        .into_iter()
        .map(|(h, r)| {
            let r = with_copies(r, copies.get(&h.agent_id));
            (h, r)
        })
        .collect();
    for agent in copies.keys() {
        if !chains.iter().any(|(h, _)| &h.agent_id == agent) {
            headless.insert(agent.clone());
        }
    }
    Ok(OrgReport {
        chains,
        keys_used,
        headless: headless.into_iter().collect(),
    })
}

async fn advance(
    pool: &PgPool,
    org_id: Uuid,
    head: &ChainHead,
    w: &mut Walk,
    rec: ChainRecord,
    bad: Option<String>,
) -> Result<(), sqlx::Error> {
    match w.verifier.push(&rec) {
        Ok(()) => {
            w.next = rec.seq + 1;
            if !w.keys.contains(&rec.key_id) {
                w.keys.insert(rec.key_id.clone());
            }
            copy_digest(
                &mut w.copies,
                rec.seq,
                &rec.hash,
                &rec.stored_content_hash.unwrap_or(rec.content_hash),
            );
        }
        Err(first) => {
            w.broken = Some(explain(pool, org_id, head, &mut w.verifier, &rec, first, bad).await?);
        }
    }
    Ok(())
}

/// The first link of each chain whose other stored copy (`event_ids`, which
/// answers replays and finds events by id) disagrees with the link: an
/// attacker who rewrote one copy and forgot the other.
async fn copy_mismatches(
    pool: &PgPool,
    org_id: Uuid,
    agent: Option<&str>,
) -> Result<HashMap<String, ChainBreak>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT coalesce(a.agent_id, e.agent_id), coalesce(a.seq, e.seq),
                CASE WHEN a.id IS NULL THEN 'event_ids lists event ' || e.id || ' at this seq, but no such event is stored'
                     WHEN e.id IS NULL THEN 'the event has no row in event_ids (its id index)'
                     WHEN e.agent_id <> a.agent_id OR e.seq <> a.seq
                         THEN 'event_ids places the event at agent ' || e.agent_id || ' seq ' || e.seq
                     WHEN e.hash <> a.hash THEN 'event_ids keeps another link hash for it'
                     WHEN e.content_hash <> a.content_hash THEN 'event_ids keeps another content hash for it'
                     ELSE 'event_ids keeps another ts for it' END
         FROM (SELECT id, agent_id, seq, ts, hash, content_hash FROM audit_events
               WHERE org_id = $1 AND ($2::text IS NULL OR agent_id = $2)) a
         FULL JOIN (SELECT id, agent_id, seq, ts, hash, content_hash FROM event_ids
                    WHERE org_id = $1 AND ($2::text IS NULL OR agent_id = $2)) e ON e.id = a.id
         WHERE a.id IS NULL OR e.id IS NULL OR e.agent_id <> a.agent_id OR e.seq <> a.seq
            OR e.hash <> a.hash OR e.content_hash <> a.content_hash OR e.ts <> a.ts",
    )
    .bind(org_id)
    .bind(agent)
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<String, ChainBreak> = HashMap::new();
    for r in rows {
        let (agent, seq, why): (String, i64, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let b = ChainBreak {
            seq: seq as u64,
            reason: BreakReason::Edited,
            detail: format!("the stored copies of link {seq} disagree: {why}"),
        };
        match out.get(&agent) {
            Some(old) if old.seq <= b.seq => {}
            _ => {
                out.insert(agent, b);
            }
        }
    }
    Ok(out)
}

/// A chain's result with its copies' first disagreement, whichever seq
/// comes first.
fn with_copies(r: ChainResult, copy: Option<&ChainBreak>) -> ChainResult {
    match (r, copy) {
        (r, None) => r,
        (Err(b), Some(c)) if b.seq <= c.seq => Err(b),
        (_, Some(c)) => Err(c.clone()),
    }
}

fn copy_digest(d: &mut Sha256, seq: u64, hash: &Hash, content_hash: &Hash) {
    d.update(seq.to_be_bytes());
    d.update(hash.0);
    d.update(content_hash.0);
}

/// Per agent, the digest of `event_ids`' copies of the links in seq order.
async fn copy_digests(
    pool: &PgPool,
    org_id: Uuid,
) -> Result<HashMap<String, sha2::digest::Output<Sha256>>, sqlx::Error> {
    let mut scan = super::long_read(pool).await?;
    let mut rows = sqlx::query(
        "SELECT agent_id, seq, hash, content_hash FROM event_ids
         WHERE org_id = $1 ORDER BY agent_id, seq",
    )
    .bind(org_id)
    .fetch(&mut *scan);
    let mut out = HashMap::new();
    let mut cur: Option<(String, Sha256)> = None;
    while let Some(r) = rows.next().await {
        let r = r?;
        let agent: &str = r.try_get(0)?;
        let seq: i64 = r.try_get(1)?;
        if cur.as_ref().is_none_or(|(a, _)| a != agent) {
            if let Some((a, d)) = cur.take() {
                out.insert(a, d.finalize());
            }
            cur = Some((agent.to_string(), Sha256::new()));
        }
        if let Some((_, d)) = cur.as_mut() {
            copy_digest(d, seq as u64, &hash_col(&r, 2)?, &hash_col(&r, 3)?);
        }
    }
    if let Some((a, d)) = cur.take() {
        out.insert(a, d.finalize());
    }
    Ok(out)
}

/// The first disagreement of `agent`'s copies, named; a generic one when
/// the row comparison finds none (the digests differed all the same).
async fn named_copy_mismatch(
    pool: &PgPool,
    org_id: Uuid,
    agent: &str,
) -> Result<HashMap<String, ChainBreak>, sqlx::Error> {
    let mut found = copy_mismatches(pool, org_id, Some(agent)).await?;
    if found.is_empty() {
        found.insert(
            agent.to_string(),
            ChainBreak {
                seq: 1,
                reason: BreakReason::Edited,
                detail: "event_ids' copies of this chain's links differ from the links".into(),
            },
        );
    }
    Ok(found)
}
