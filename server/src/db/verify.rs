//! Verification from the database: walks a chain in seq order, rebuilds each
//! event from its stored columns, recomputes its content hash and link, and
//! names the first broken seq (core's `Verifier` decides why).

use futures_util::StreamExt;
use sealtrail_core::chain::{
    BreakReason, ChainBreak, ChainId, ChainRecord, ExpectedHead, Verified, Verifier,
};
use sealtrail_core::hash::{sha256, Hash};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::events::{hash_col, row_to_stored, ChainHead};

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
    let mut rows = sqlx::query(VERIFY_SQL)
        .bind(org_id)
        .bind(&head.agent_id)
        .bind(head.base_seq as i64)
        .fetch(pool);
    let mut n = 0u64;
    while let Some(row) = rows.next().await {
        let row = row?;
        let seq: i64 = row.try_get(1)?;
        let stored_content = hash_col(&row, 24)?;
        let prev_hash = hash_col(&row, 25)?;
        let hash = hash_col(&row, 26)?;
        let key_id: Uuid = row.try_get(27)?;
        let (content_hash, bad_detail) = match row_to_stored(&row)? {
            Ok(s) => (s.event.content_hash(), None),
            // No event can be rebuilt: a content hash nothing matches.
            Err(b) => (sha256(b.detail.as_bytes()), Some(b.detail)),
        };
        let rec = ChainRecord {
            seq: seq.max(0) as u64,
            key_id: key_id.to_string(),
            prev_hash,
            hash,
            stored_content_hash: Some(stored_content),
            content_hash,
        };
        if let Err(first) = v.push(&rec) {
            // The verifier knows only the links seen so far; a prev_hash that
            // points at a later link means reordering, not forgery.
            let prev_unknown = matches!(first.reason, BreakReason::Forged | BreakReason::Edited)
                && rec.seq <= head.head_seq;
            let brk = if prev_unknown {
                let exists = link_exists(pool, org_id, &head.agent_id, &rec.prev_hash).await?;
                match v.push_with(&rec, |_| exists) {
                    Err(b) => b,
                    Ok(()) => first,
                }
            } else {
                first
            };
            let brk = match bad_detail {
                Some(d) if brk.seq == rec.seq && brk.reason == BreakReason::Edited => {
                    ChainBreak { detail: d, ..brk }
                }
                _ => brk,
            };
            return Ok(Err(brk));
        }
        n += 1;
        if n.is_multiple_of(10_000) {
            progress(n);
        }
    }
    progress(n);
    Ok(v.finish())
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
