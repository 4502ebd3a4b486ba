//! Storing events (chained, under the chain head's row lock) and reading
//! them back (filters, cursor pages, by id, export streams).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sealtrail_core::chain::link_hash;
use sealtrail_core::event::{Decision, DecisionOutcome, ErrorInfo, Payload, PayloadSpans, Tokens};
use sealtrail_core::hash::Hash;
use sealtrail_core::wire::Receipt;
use sealtrail_core::{Event, EventId, Timestamp};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::copy::CopyBinary;
use crate::search::Words;

/// A validated event waiting to be chained, with its batch position.
pub struct NewEvent {
    pub index: usize,
    pub event: Event,
    pub content_hash: Hash,
    /// What full-text search finds it by.
    pub words: Words,
    /// Its canonical bytes (what `content_hash` covers), and where its JSON
    /// members are in them: stored as they are.
    pub canonical: Vec<u8>,
    pub spans: PayloadSpans,
}

/// What happened to one event of a batch.
pub enum Outcome {
    Stored(Receipt),
    /// The id was stored before with other content.
    IdReused {
        index: usize,
        id: EventId,
    },
}

pub fn uuid_of(id: EventId) -> Uuid {
    Uuid::from_u128(id.0 .0)
}

pub fn event_id_of(u: Uuid) -> EventId {
    EventId(ulid::Ulid(u.as_u128()))
}

struct Head {
    seq: u64,
    hash: Hash,
}

/// Stores a batch for one organisation: dedupes by id, chains each agent's
/// events after its head (rows locked in agent order, so batches never
/// deadlock or fork), and inserts all rows with one statement per table.
/// Returns one outcome per event, in input order.
pub async fn ingest(
    pool: &PgPool,
    org_id: Uuid,
    key_id: Uuid,
    events: &[NewEvent],
) -> Result<Vec<(usize, Outcome)>, sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // The first attempt does not look for stored ids: replays are rare,
        // and `event_ids`' primary key refuses one (a replay, or an id a
        // concurrent batch stored first under another agent). The retry
        // looks them up and answers them with their receipts.
        match ingest_once(pool, org_id, key_id, events, attempt > 1).await {
            Ok(Some(out)) => return Ok(out),
            Ok(None) if attempt < 5 => continue,
            Ok(None) => {
                return Err(sqlx::Error::Protocol(
                    "event ids kept colliding with concurrent batches".into(),
                ))
            }
            // Two batches holding the same ids in opposite orders wait on
            // each other's unique-key entries; PostgreSQL cancels one. It
            // retries looking the ids up, and answers duplicate_id for those
            // the other batch stored.
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("40P01") && attempt < 5 =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
    }
}

async fn ingest_once(
    pool: &PgPool,
    org_id: Uuid,
    key_id: Uuid,
    events: &[NewEvent],
    look_up_stored: bool,
) -> Result<Option<Vec<(usize, Outcome)>>, sqlx::Error> {
    let org_text = org_id.to_string();
    let key_text = key_id.to_string();
    let agents: Vec<String> = events
        .iter()
        .map(|e| e.event.agent_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let mut tx = pool.begin().await?;
    let mut heads = lock_heads(&mut tx, org_id, &agents).await?;
    if heads.len() < agents.len() {
        let missing: Vec<&String> = agents.iter().filter(|a| !heads.contains_key(*a)).collect();
        sqlx::query(
            "INSERT INTO chain_heads (org_id, agent_id, seq, hash)
             SELECT $1, a, 0, $3 FROM unnest($2::text[]) AS a ORDER BY a
             ON CONFLICT DO NOTHING",
        )
        .bind(org_id)
        .bind(&missing)
        .bind(&Hash::ZERO.0[..])
        .execute(&mut *tx)
        .await?;
        heads = lock_heads(&mut tx, org_id, &agents).await?;
    }

    // Replays: ids this org already stored.
    let ids: Vec<Uuid> = events.iter().map(|e| uuid_of(e.event.id)).collect();
    let rows = if look_up_stored {
        sqlx::query(
            "SELECT id, seq, hash, content_hash FROM event_ids WHERE org_id = $1 AND id = ANY($2)",
        )
        .bind(org_id)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
    } else {
        Vec::new()
    };
    let mut known: HashMap<Uuid, (u64, Hash, Hash)> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let seq: i64 = r.try_get(1)?;
        known.insert(
            r.try_get(0)?,
            (seq as u64, hash_col(r, 2)?, hash_col(r, 3)?),
        );
    }

    let mut out = Vec::with_capacity(events.len());
    let mut rows = Rows::with_capacity(events.len());
    for (ne, uid) in events.iter().zip(&ids) {
        if let Some((seq, hash, content)) = known.get(uid) {
            if *content == ne.content_hash {
                out.push((
                    ne.index,
                    Outcome::Stored(Receipt {
                        id: ne.event.id,
                        seq: *seq,
                        hash: *hash,
                        duplicate: true,
                    }),
                ));
            } else {
                out.push((
                    ne.index,
                    Outcome::IdReused {
                        index: ne.index,
                        id: ne.event.id,
                    },
                ));
            }
            continue;
        }
        let head = heads
            .get_mut(&ne.event.agent_id)
            .ok_or_else(|| sqlx::Error::Protocol("chain head vanished".into()))?;
        let seq = head.seq + 1;
        let hash = link_hash(
            &org_text,
            &ne.event.agent_id,
            &key_text,
            seq,
            &head.hash,
            &ne.content_hash,
        );
        rows.push(&org_id, &key_id, ne, *uid, seq as i64, &head.hash, &hash)?;
        head.seq = seq;
        head.hash = hash;
        // A second copy of the same id later in this batch is a replay of this one.
        known.insert(*uid, (seq, hash, ne.content_hash));
        out.push((
            ne.index,
            Outcome::Stored(Receipt {
                id: ne.event.id,
                seq,
                hash,
                duplicate: false,
            }),
        ));
    }

    if rows.n > 0 {
        match rows.insert(&mut tx).await {
            Ok(()) => {}
            // One of these ids is stored (a replay, or a concurrent batch's):
            // retry, looking them up.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("event_ids_pkey") => {
                tx.rollback().await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        }

        let touched: Vec<&String> = agents.iter().filter(|a| heads[*a].seq > 0).collect();
        let seqs: Vec<i64> = touched.iter().map(|a| heads[*a].seq as i64).collect();
        let hashes: Vec<Vec<u8>> = touched.iter().map(|a| heads[*a].hash.0.to_vec()).collect();
        sqlx::query(
            "UPDATE chain_heads c SET seq = u.seq, hash = u.hash, updated_at = now()
             FROM unnest($2::text[], $3::int8[], $4::bytea[]) AS u(agent_id, seq, hash)
             WHERE c.org_id = $1 AND c.agent_id = u.agent_id AND c.seq <> u.seq",
        )
        .bind(org_id)
        .bind(&touched)
        .bind(&seqs)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(out))
}

async fn lock_heads(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    org_id: Uuid,
    agents: &[String],
) -> Result<BTreeMap<String, Head>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT agent_id, seq, hash FROM chain_heads
         WHERE org_id = $1 AND agent_id = ANY($2) ORDER BY agent_id FOR UPDATE",
    )
    .bind(org_id)
    .bind(agents)
    .fetch_all(&mut **tx)
    .await?;
    let mut m = BTreeMap::new();
    for r in &rows {
        let seq: i64 = r.try_get(1)?;
        m.insert(
            r.try_get::<String, _>(0)?,
            Head {
                seq: seq as u64,
                hash: hash_col(r, 2)?,
            },
        );
    }
    Ok(m)
}

pub fn hash_col(r: &PgRow, i: usize) -> Result<Hash, sqlx::Error> {
    let b: Vec<u8> = r.try_get(i)?;
    Hash::from_slice(&b).map_err(|e| sqlx::Error::Decode(e.to_string().into()))
}

/// The rows of a batch, as two binary `COPY` streams: `event_ids` (whose
/// primary key catches an id a concurrent batch stored first) and
/// `audit_events`.
struct Rows {
    n: usize,
    ids: CopyBinary,
    events: CopyBinary,
}

/// The `audit_events` columns `Rows::push` writes, in order.
const COPY_COLS: &str = "org_id, api_key_id, agent_id, seq, id, ts, type, actor_id, session_id, \
    trace_id, parent_id, name, prompt_hash, inputs, outputs, decision_outcome, decision_by, \
    decision_reason, error_type, error_message, error_stack, tokens, cost_usd, latency_ms, pii, \
    attrs, content_hash, prev_hash, hash, search";
const COPY_FIELDS: i16 = 30;
/// The `event_ids` columns, in the order `Rows::push` writes them.
const IDS_COLS: &str = "org_id, id, agent_id, seq, ts, hash, content_hash";

impl Rows {
    fn with_capacity(n: usize) -> Self {
        Rows {
            n: 0,
            ids: CopyBinary::with_capacity(n * 160),
            events: CopyBinary::with_capacity(n * 1536),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        org_id: &Uuid,
        key_id: &Uuid,
        ne: &NewEvent,
        id: Uuid,
        seq: i64,
        prev: &Hash,
        hash: &Hash,
    ) -> Result<(), sqlx::Error> {
        let e = &ne.event;
        self.n += 1;
        let c = &mut self.ids;
        c.row(7);
        c.uuid(org_id);
        c.uuid(&id);
        c.text(&e.agent_id);
        c.int8(seq);
        c.timestamptz_unix_micros(e.ts.as_micros());
        c.bytea(&hash.0);
        c.bytea(&ne.content_hash.0);

        let c = &mut self.events;
        c.row(COPY_FIELDS);
        c.uuid(org_id);
        c.uuid(key_id);
        c.text(&e.agent_id);
        c.int8(seq);
        c.uuid(&id);
        c.timestamptz_unix_micros(e.ts.as_micros());
        c.text(e.kind.as_str());
        c.opt_text(e.actor_id.as_deref());
        c.opt_text(e.session_id.as_deref());
        c.opt_text(e.trace_id.as_deref());
        c.opt_text(e.parent_id.as_deref());
        c.opt_text(e.name.as_deref());
        c.opt_text(e.prompt_hash.as_deref());
        let payload = |c: &mut CopyBinary, which: Payload| match ne.spans.get(which) {
            Some(r) => c.json(&ne.canonical[r]),
            None => c.null(),
        };
        payload(c, Payload::Inputs);
        payload(c, Payload::Outputs);
        c.opt_text(e.decision.as_ref().map(|d| d.outcome.as_str()));
        c.opt_text(e.decision.as_ref().and_then(|d| d.by.as_deref()));
        c.opt_text(e.decision.as_ref().and_then(|d| d.reason.as_deref()));
        c.opt_text(e.error.as_ref().map(|x| x.kind.as_str()));
        c.opt_text(e.error.as_ref().map(|x| x.message.as_str()));
        c.opt_text(e.error.as_ref().and_then(|x| x.stack.as_deref()));
        payload(c, Payload::Tokens);
        c.opt_text(e.cost_usd.as_deref());
        c.opt_int8(e.latency_ms.map(|v| v as i64));
        payload(c, Payload::Pii);
        payload(c, Payload::Attrs);
        c.bytea(&ne.content_hash.0);
        c.bytea(&prev.0);
        c.bytea(&hash.0);
        c.custom(|out| ne.words.write_binary(out));
        Ok(())
    }

    async fn insert(self, tx: &mut sqlx::Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for (table, cols, data) in [
            ("event_ids", IDS_COLS, self.ids),
            ("audit_events", COPY_COLS, self.events),
        ] {
            let mut copy = tx
                .copy_in_raw(&format!("COPY {table} ({cols}) FROM STDIN (FORMAT binary)"))
                .await?;
            copy.send(data.finish()).await?;
            copy.finish().await?;
        }
        Ok(())
    }
}

/// The columns read back for an event, in the order `row_to_stored` expects.
pub const SELECT_COLS: &str = "agent_id, seq, id, ts, type, actor_id, session_id, trace_id, \
    parent_id, name, prompt_hash, inputs, outputs, decision_outcome, decision_by, \
    decision_reason, error_type, error_message, error_stack, tokens, cost_usd, latency_ms, \
    pii, attrs, content_hash, prev_hash, hash, api_key_id, received_at";

/// How many columns [`SELECT_COLS`] names.
const SELECT_COLS_N: usize = 29;

/// An event as stored: the event rebuilt from its columns, and the chain fields.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub event: Event,
    pub content_hash: Hash,
    pub seq: u64,
    pub prev_hash: Hash,
    pub hash: Hash,
    pub api_key_id: Uuid,
    pub received_at: DateTime<Utc>,
}

/// A stored row whose columns no longer make a valid event (an edited type,
/// a broken JSON field): verification reports the row as edited.
#[derive(Debug)]
pub struct BadRow {
    pub seq: u64,
    pub detail: String,
}

fn bad(seq: i64, what: impl std::fmt::Display) -> BadRow {
    BadRow {
        seq: seq as u64,
        detail: format!("the stored columns no longer form a valid event: {what}"),
    }
}

fn from_json<T: serde::de::DeserializeOwned>(
    v: Option<serde_json::Value>,
    seq: i64,
    f: &str,
) -> Result<Option<T>, BadRow> {
    v.map(|v| serde_json::from_value(v).map_err(|e| bad(seq, format_args!("{f}: {e}"))))
        .transpose()
}

/// Rebuilds the event and chain fields from a row selected with [`SELECT_COLS`].
pub fn row_to_stored(r: &PgRow) -> Result<Result<StoredEvent, BadRow>, sqlx::Error> {
    let seq: i64 = r.try_get(1)?;
    let content_hash = hash_col(r, 24)?;
    let prev_hash = hash_col(r, 25)?;
    let hash = hash_col(r, 26)?;
    Ok(match row_to_event(r, seq, true)? {
        Err(b) => Err(b),
        Ok(event) => Ok(StoredEvent {
            event,
            content_hash,
            seq: seq as u64,
            prev_hash,
            hash,
            api_key_id: r.try_get(27)?,
            received_at: r.try_get(28)?,
        }),
    })
}

/// Columns of [`SELECT_COLS`] holding JSON-valued members, as canonical JSON text.
pub const PAYLOAD_COLS: [(usize, Payload); 5] = [
    (23, Payload::Attrs),
    (11, Payload::Inputs),
    (12, Payload::Outputs),
    (22, Payload::Pii),
    (19, Payload::Tokens),
];

/// The event of a row selected with [`SELECT_COLS`]; without `payloads`, its
/// JSON-valued members are left out (see [`raw_payload`]).
pub fn row_to_event(
    r: &PgRow,
    seq: i64,
    payloads: bool,
) -> Result<Result<Event, BadRow>, sqlx::Error> {
    let id: Uuid = r.try_get(2)?;
    let ts: DateTime<Utc> = r.try_get(3)?;
    let kind: String = r.try_get(4)?;
    let outcome: Option<String> = r.try_get(13)?;
    let error_type: Option<String> = r.try_get(16)?;
    let latency: Option<i64> = r.try_get(21)?;
    Ok((|| -> Result<Event, BadRow> {
        let ts = Timestamp::from_micros(ts.timestamp_micros()).map_err(|e| bad(seq, e))?;
        let kind = kind.parse().map_err(|e| bad(seq, e))?;
        let decision = match outcome {
            None => None,
            Some(o) => Some(Decision {
                outcome: serde_json::from_value::<DecisionOutcome>(serde_json::Value::String(o))
                    .map_err(|e| bad(seq, format_args!("decision_outcome: {e}")))?,
                by: r.try_get(14).map_err(|e| bad(seq, e))?,
                reason: r.try_get(15).map_err(|e| bad(seq, e))?,
            }),
        };
        let error = match error_type {
            None => None,
            Some(kind) => Some(ErrorInfo {
                kind,
                message: r
                    .try_get::<Option<String>, _>(17)
                    .map_err(|e| bad(seq, e))?
                    .ok_or_else(|| bad(seq, "error_message is missing"))?,
                stack: r.try_get(18).map_err(|e| bad(seq, e))?,
            }),
        };
        let g =
            |i: usize| -> Result<Option<String>, BadRow> { r.try_get(i).map_err(|e| bad(seq, e)) };
        let j = |i: usize| -> Result<Option<serde_json::Value>, BadRow> {
            if !payloads {
                return Ok(None);
            }
            r.try_get(i).map_err(|e| bad(seq, e))
        };
        Ok(Event {
            id: event_id_of(id),
            ts,
            agent_id: r.try_get(0).map_err(|e| bad(seq, e))?,
            kind,
            actor_id: g(5)?,
            session_id: g(6)?,
            trace_id: g(7)?,
            parent_id: g(8)?,
            name: g(9)?,
            prompt_hash: g(10)?,
            inputs: j(11)?,
            outputs: j(12)?,
            decision,
            error,
            tokens: from_json::<Tokens>(j(19)?, seq, "tokens")?,
            cost_usd: g(20)?,
            latency_ms: match latency {
                Some(v) if v < 0 => return Err(bad(seq, "latency_ms is negative")),
                v => v.map(|v| v as u64),
            },
            pii: from_json(j(22)?, seq, "pii")?,
            attrs: from_json(j(23)?, seq, "attrs")?,
        })
    })())
}

/// The stored text of a JSON-valued column (`json`, as written: canonical
/// JSON), without parsing it: `Some(None)` for NULL, `None` when the column
/// is not `json` text.
pub fn raw_payload(r: &PgRow, i: usize) -> Option<Option<&str>> {
    use sqlx::{TypeInfo, ValueRef};
    let v = r.try_get_raw(i).ok()?;
    if v.is_null() {
        return Some(None);
    }
    if v.type_info().name() != "JSON" {
        return None;
    }
    std::str::from_utf8(v.as_bytes().ok()?).ok().map(Some)
}

/// Filters of `GET /v1/events` and the exports.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub agent_id: Option<String>,
    pub actor_id: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub decision: Option<String>,
    pub has_pii: Option<bool>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub q: Option<String>,
}

/// A page position: the (ts, id) of the last event of the previous page.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pub ts: DateTime<Utc>,
    pub id: Uuid,
}

fn push_filters(qb: &mut QueryBuilder<Postgres>, org_id: Uuid, f: &Filter) {
    push_filters_but_q(qb, org_id, f);
    if let Some(q) = &f.q {
        push_search(qb, q);
    }
}

fn push_search(qb: &mut QueryBuilder<Postgres>, q: &str) {
    qb.push(" AND search @@ websearch_to_tsquery('simple', ")
        .push_bind(q.to_string())
        .push(")");
}

fn push_filters_but_q(qb: &mut QueryBuilder<Postgres>, org_id: Uuid, f: &Filter) {
    qb.push(" WHERE org_id = ").push_bind(org_id);
    let eq = |qb: &mut QueryBuilder<Postgres>, col: &str, v: &Option<String>| {
        if let Some(v) = v {
            qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
        }
    };
    eq(qb, "agent_id", &f.agent_id);
    eq(qb, "actor_id", &f.actor_id);
    eq(qb, "session_id", &f.session_id);
    eq(qb, "trace_id", &f.trace_id);
    eq(qb, "type", &f.kind);
    eq(qb, "name", &f.name);
    eq(qb, "decision_outcome", &f.decision);
    if let Some(p) = f.has_pii {
        qb.push(" AND has_pii = ").push_bind(p);
    }
    if let Some(t) = f.from {
        qb.push(" AND ts >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        qb.push(" AND ts < ").push_bind(t);
    }
}

/// Rows strictly after the cursor in (ts, id) descending order. The plain
/// `ts <=` is implied by the row comparison, but only it lets PostgreSQL
/// skip the partitions newer than the cursor (it cannot prune on a row
/// comparison).
fn push_cursor(qb: &mut QueryBuilder<Postgres>, cursor: Option<Cursor>) {
    if let Some(c) = cursor {
        qb.push(" AND ts <= ")
            .push_bind(c.ts)
            .push(" AND (ts, id) < (")
            .push_bind(c.ts)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
}

/// A search first looks for its page among this many of the newest rows
/// (that pass the other filters) per row asked for.
const SEARCH_WINDOW_PER_ROW: i64 = 5;

/// Below this many full-text matches, a page is read through the GIN index
/// and sorted; above it, by walking the time index and filtering.
const RARE_TERM_MATCHES: i64 = 1000;

/// One page, newest first, after `cursor`.
///
/// Without a search, one statement walks the best (…, ts, id) index
/// backwards and stops after `limit` rows.
///
/// A search (`q`) has no index that is both ordered by time and knows the
/// term, and PostgreSQL cannot estimate how many rows a `tsquery` matches (a
/// token missing from the column statistics is guessed at ~0.5% of rows), so
/// its own choice is 1 s for a rare token. Three steps, each stopping as soon
/// as it can answer:
///
/// 1. the newest `SEARCH_WINDOW_PER_ROW × limit` candidate rows, filtered by
///    the term: a common word fills its page here (~1 ms);
/// 2. the matches through the GIN index alone, at most `RARE_TERM_MATCHES`,
///    sorted: if there are fewer than that, they are all of them and the
///    page is exact (a rare token: tens of matches);
/// 3. otherwise walk the time index and filter (a term common overall but
///    rare among the newest rows; this is the slow case).
pub async fn query(
    pool: &PgPool,
    org_id: Uuid,
    f: &Filter,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Result<StoredEvent, BadRow>>, sqlx::Error> {
    let mut page = QueryBuilder::new(format!("SELECT {SELECT_COLS} FROM audit_events"));
    push_filters(&mut page, org_id, f);
    push_cursor(&mut page, cursor);
    page.push(" ORDER BY ts DESC, id DESC LIMIT ")
        .push_bind(limit);
    let Some(q) = &f.q else {
        let rows = page.build().fetch_all(pool).await?;
        return rows.iter().map(row_to_stored).collect();
    };

    // 1. The newest rows. The inner LIMIT keeps the term's filter out of the
    //    index walk, so the plan does not depend on the term's estimate.
    let mut newest = QueryBuilder::new(format!(
        "SELECT {SELECT_COLS} FROM (SELECT {SELECT_COLS}, search FROM audit_events"
    ));
    push_filters_but_q(&mut newest, org_id, f);
    push_cursor(&mut newest, cursor);
    newest
        .push(" ORDER BY ts DESC, id DESC LIMIT ")
        .push_bind(limit.saturating_mul(SEARCH_WINDOW_PER_ROW))
        .push(") AS w WHERE true");
    push_search(&mut newest, q);
    newest
        .push(" ORDER BY ts DESC, id DESC LIMIT ")
        .push_bind(limit);
    let rows = newest.build().fetch_all(pool).await?;
    if rows.len() as i64 >= limit {
        return rows.iter().map(row_to_stored).collect();
    }

    // 2. Every match through the GIN index (bitmap scans only), up to the cap.
    let mut tx = pool.begin().await?;
    sqlx::raw_sql("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await?;
    let mut rare = QueryBuilder::new(format!(
        "SELECT {SELECT_COLS}, count(*) OVER () FROM (SELECT {SELECT_COLS} FROM audit_events"
    ));
    push_filters(&mut rare, org_id, f);
    push_cursor(&mut rare, cursor);
    rare.push(" LIMIT ")
        .push_bind(RARE_TERM_MATCHES)
        .push(") AS m ORDER BY ts DESC, id DESC LIMIT ")
        .push_bind(limit);
    let rows = rare.build().fetch_all(&mut *tx).await?;
    let matches: i64 = match rows.first() {
        Some(r) => r.try_get(SELECT_COLS_N)?,
        None => 0,
    };
    if matches < RARE_TERM_MATCHES {
        tx.commit().await?;
        return rows.iter().map(row_to_stored).collect();
    }

    // 3. Many matches, few of them recent.
    sqlx::raw_sql("RESET enable_indexscan; RESET enable_seqscan")
        .execute(&mut *tx)
        .await?;
    let rows = page.build().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    rows.iter().map(row_to_stored).collect()
}

/// One event by id (found through `event_ids`, whose ts prunes partitions).
pub async fn by_id(
    pool: &PgPool,
    org_id: Uuid,
    id: EventId,
) -> Result<Option<Result<StoredEvent, BadRow>>, sqlx::Error> {
    let sql = format!(
        "SELECT {SELECT_COLS} FROM audit_events
         WHERE org_id = $1 AND id = $2
           AND ts = (SELECT ts FROM event_ids WHERE org_id = $1 AND id = $2)"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(uuid_of(id))
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(row_to_stored).transpose()
}

/// Sends all matching events, oldest first, into `tx` (for exports);
/// stops early when the receiver is gone.
pub async fn export_to(
    pool: &PgPool,
    org_id: Uuid,
    f: &Filter,
    tx: tokio::sync::mpsc::Sender<Result<StoredEvent, BadRow>>,
) -> Result<u64, sqlx::Error> {
    // In pages of EXPORT_PAGE rows after the last (ts, id): each statement
    // is short (under the statement timeout however large the export), and
    // no pooled connection is held while a slow reader drains the channel.
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    let mut n = 0;
    loop {
        let mut qb = QueryBuilder::new(format!("SELECT {SELECT_COLS} FROM audit_events"));
        push_filters(&mut qb, org_id, f);
        if let Some((ts, id)) = after {
            qb.push(" AND ts >= ")
                .push_bind(ts)
                .push(" AND (ts, id) > (")
                .push_bind(ts)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        qb.push(" ORDER BY ts, id LIMIT ").push_bind(EXPORT_PAGE);
        let rows = qb.build().fetch_all(pool).await?;
        let full = rows.len() as i64 == EXPORT_PAGE;
        for row in &rows {
            after = Some((row.try_get("ts")?, row.try_get("id")?));
            if tx.send(row_to_stored(row)?).await.is_err() {
                return Ok(n);
            }
            n += 1;
        }
        if !full {
            return Ok(n);
        }
    }
}

/// Rows an export reads per statement.
const EXPORT_PAGE: i64 = 2_000;

#[derive(Debug, Clone, Serialize)]
pub struct ChainHead {
    pub agent_id: String,
    pub head_seq: u64,
    pub head_hash: Hash,
    pub base_seq: u64,
    pub base_hash: Hash,
    pub updated_at: DateTime<Utc>,
}

/// Every chain of an organisation, by agent.
pub async fn chains(
    pool: &PgPool,
    org_id: Uuid,
    agent: Option<&str>,
) -> Result<Vec<ChainHead>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT agent_id, seq, hash, base_seq, base_hash, updated_at FROM chain_heads
         WHERE org_id = $1 AND ($2::text IS NULL OR agent_id = $2) ORDER BY agent_id",
    )
    .bind(org_id)
    .bind(agent)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get(1)?;
            let base: i64 = r.try_get(3)?;
            Ok(ChainHead {
                agent_id: r.try_get(0)?,
                head_seq: seq as u64,
                head_hash: hash_col(r, 2)?,
                base_seq: base as u64,
                base_hash: hash_col(r, 4)?,
                updated_at: r.try_get(5)?,
            })
        })
        .collect()
}

/// Organisations (id, name), for the CLI's whole-database verify.
pub async fn organizations(pool: &PgPool) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, name FROM organizations ORDER BY name")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_cols_n_counts_select_cols() {
        assert_eq!(SELECT_COLS.split(',').count(), SELECT_COLS_N);
    }
}
