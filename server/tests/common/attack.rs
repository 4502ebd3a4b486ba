//! The recompute attack of docs/chain-spec.md, as anyone who controls the
//! database and holds the spec can run it: change one stored event, then
//! recompute its content hash, every later link of its chain, both copies in
//! `event_ids` and the chain head, so that every chain still verifies. The
//! tests run it against the log; `cargo run -p sealtrail-server --example
//! rewrite_history` runs it for the demo.

use sealtrail_core::chain::link_hash;
use sealtrail_core::event::{Event, EventId, Payload};
use sealtrail_core::hash::Hash;
use sealtrail_server::db;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// Applies `edit` to link `k` of `agent`'s chain of `org` and recomputes
/// everything after it, as the database superuser with triggers off.
pub async fn recompute(
    su: &PgPool,
    org: Uuid,
    agent: &str,
    k: u64,
    edit: impl FnOnce(&mut Event),
) -> Result<(), String> {
    recompute_copies(su, org, agent, k, edit, true).await
}

/// [`recompute`], and `event_ids`' copies of the links too unless
/// `copies` is false (an attacker who forgot them).
pub async fn recompute_copies(
    su: &PgPool,
    org: Uuid,
    agent: &str,
    k: u64,
    edit: impl FnOnce(&mut Event),
    copies: bool,
) -> Result<(), String> {
    let err = |e: sqlx::Error| e.to_string();
    let rows = sqlx::query(
        "SELECT seq, id, api_key_id, content_hash, hash FROM audit_events
         WHERE org_id = $1 AND agent_id = $2 ORDER BY seq",
    )
    .bind(org)
    .bind(agent)
    .fetch_all(su)
    .await
    .map_err(err)?;
    let mut tx = su.begin().await.map_err(err)?;
    sqlx::raw_sql("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    let mut prev = Hash::ZERO;
    let mut edit = Some(edit);
    let org_text = org.to_string();
    for r in &rows {
        let seq = r.get::<i64, _>(0) as u64;
        let id: Uuid = r.get(1);
        let key_id: Uuid = r.get(2);
        let stored =
            |i: usize| Hash::from_slice(&r.get::<Vec<u8>, _>(i)).map_err(|e| e.to_string());
        let mut content = stored(3)?;
        if seq < k {
            prev = stored(4)?;
            continue;
        }
        if seq == k {
            let eid = EventId(ulid::Ulid(id.as_u128()));
            let mut ev = db::events::by_id(su, org, eid)
                .await
                .map_err(err)?
                .ok_or("no such event")?
                .map_err(|b| b.detail)?
                .event;
            if let Some(f) = edit.take() {
                f(&mut ev);
            }
            content = ev.content_hash();
            let mut text = Vec::new();
            let inputs = ev
                .write_payload_canonical(Payload::Inputs, &mut text)
                .then(|| String::from_utf8_lossy(&text).into_owned());
            sqlx::query(
                "UPDATE audit_events SET inputs = $3::json, content_hash = $4
                 WHERE org_id = $1 AND id = $2",
            )
            .bind(org)
            .bind(id)
            .bind(inputs)
            .bind(content.0.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        let link = link_hash(&org_text, agent, &key_id.to_string(), seq, &prev, &content);
        sqlx::query(
            "UPDATE audit_events SET prev_hash = $3, hash = $4 WHERE org_id = $1 AND id = $2",
        )
        .bind(org)
        .bind(id)
        .bind(prev.0.as_slice())
        .bind(link.0.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if copies {
            sqlx::query(
                "UPDATE event_ids SET hash = $3, content_hash = $4 WHERE org_id = $1 AND id = $2",
            )
            .bind(org)
            .bind(id)
            .bind(link.0.as_slice())
            .bind(content.0.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        prev = link;
    }
    sqlx::query("UPDATE chain_heads SET hash = $3 WHERE org_id = $1 AND agent_id = $2")
        .bind(org)
        .bind(agent)
        .bind(prev.0.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)
}
