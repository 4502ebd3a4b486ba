//! A loopback transparency-log server built from `core::tlog`: it chains
//! ingested events per agent (spec §2, the link hash), integrates them as
//! leaves of one organisation's RFC 9162 tree when told to publish, signs
//! checkpoints with a real Ed25519 key (origin `<log-name>/<org>`), and
//! serves the proofs API the agents' audit calls. Knobs let a test delete,
//! alter, roll back or fork what it serves, or sign with the wrong key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sealtrail_core::chain::link_hash;
use sealtrail_core::tlog::{self, Checkpoint, MemoryTree, Signer, ALG_ED25519};
use sealtrail_core::{Hash, SealedEvent};
use serde::Deserialize;
use serde_json::json;

use super::loopback::Loopback;
use super::KEY;

pub const LOG_NAME: &str = "log.test/sealtrail";
pub const ORG: &str = "7d1f1f4e-1c55-4c2c-9a0e-4b7b1c1d2e3f";
const SEED: [u8; 32] = [42; 32];

/// The log's base verifier key, as `sealtrail log-key generate` prints it.
pub fn log_key() -> String {
    Signer::from_seed(LOG_NAME, ALG_ED25519, &SEED)
        .unwrap()
        .verifier()
        .to_text()
}

#[derive(Clone, Debug)]
pub struct Stored {
    pub agent: String,
    pub seq: u64,
    pub hash: Hash,
    /// Position in the tree once integrated.
    pub index: Option<u64>,
}

pub struct LogInner {
    pub events: HashMap<String, Stored>,
    /// Chain heads per agent.
    pub heads: HashMap<String, (u64, Hash)>,
    /// Leaf hashes in integration order.
    pub leaves: Vec<Hash>,
    pub tree: MemoryTree,
    /// Size of the latest published checkpoint (None: none yet).
    pub published: Option<u64>,
    pub signer: Signer,
    /// Event ids waiting for integration, in arrival order.
    pub waiting: Vec<String>,
    /// Hashes the server answers instead of the stored ones.
    pub altered: HashMap<String, Hash>,
    /// Serve every inclusion proof with its first hash changed.
    pub corrupt_proofs: bool,
}

impl LogInner {
    fn origin() -> String {
        tlog::origin(LOG_NAME, ORG).unwrap()
    }

    fn note(&self, size: u64) -> String {
        let root = tlog::tree_hash(size, &self.tree).unwrap();
        Checkpoint::new(Self::origin(), size, root)
            .with_time(1_700_000_000)
            .sign(&self.signer)
            .unwrap()
    }

    /// Integrates every waiting event and publishes a checkpoint.
    pub fn publish(&mut self) {
        for id in std::mem::take(&mut self.waiting) {
            let Some(ev) = self.events.get_mut(&id) else {
                continue;
            };
            let leaf = tlog::leaf_hash(ORG, &ev.agent, ev.seq, &ev.hash).unwrap();
            ev.index = Some(self.tree.size());
            self.tree.push(leaf).unwrap();
            self.leaves.push(leaf);
        }
        self.published = Some(self.tree.size());
    }

    /// The database and the tree restored to a backup taken at tree size
    /// `size`: later leaves and their events are gone.
    pub fn roll_back_to(&mut self, size: u64) {
        self.rebuild(self.leaves[..size as usize].to_vec());
        self.events.retain(|_, e| e.index.is_some_and(|i| i < size));
        self.published = Some(size);
    }

    /// Replaces leaf `index` (a different history of the same size).
    pub fn fork_at(&mut self, index: usize) {
        let mut leaves = self.leaves.clone();
        leaves[index] = Hash([0xEE; 32]);
        self.rebuild(leaves);
    }

    fn rebuild(&mut self, leaves: Vec<Hash>) {
        self.tree = MemoryTree::new();
        for l in &leaves {
            self.tree.push(*l).unwrap();
        }
        self.leaves = leaves;
    }

    /// Checkpoints are signed from now on by another key of the same name.
    pub fn sign_with_wrong_key(&mut self) {
        self.signer = Signer::from_seed(&Self::origin(), ALG_ED25519, &[7; 32]).unwrap();
    }
}

#[derive(Clone)]
pub struct LogShared(pub Arc<Mutex<LogInner>>);

impl LogShared {
    pub fn with<R>(&self, f: impl FnOnce(&mut LogInner) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
}

fn err(status: StatusCode, kind: &str) -> Response {
    (status, axum::Json(json!({"error": kind, "detail": kind}))).into_response()
}

#[derive(Deserialize)]
struct Batch {
    events: Vec<SealedEvent>,
}

async fn ingest(State(s): State<LogShared>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&h) {
        return err(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let raw = if h.get("content-encoding").and_then(|v| v.to_str().ok()) == Some("gzip") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out).unwrap();
        out
    } else {
        body.to_vec()
    };
    let batch: Batch = serde_json::from_slice(&raw).unwrap();
    let receipts = s.with(|i| {
        let mut receipts = Vec::new();
        for ev in batch.events {
            ev.check().unwrap();
            let id = ev.event.id.to_string();
            if let Some(st) = i.events.get(&id) {
                receipts.push(json!({"id": id, "seq": st.seq, "hash": st.hash, "duplicate": true}));
                continue;
            }
            let agent = ev.event.agent_id.clone();
            let (prev_seq, prev) = i.heads.get(&agent).copied().unwrap_or((0, Hash::ZERO));
            let seq = prev_seq + 1;
            let hash = link_hash(ORG, &agent, "", seq, &prev, &ev.content_hash);
            i.heads.insert(agent.clone(), (seq, hash));
            i.events.insert(
                id.clone(),
                Stored {
                    agent,
                    seq,
                    hash,
                    index: None,
                },
            );
            i.waiting.push(id.clone());
            receipts.push(json!({"id": id, "seq": seq, "hash": hash, "duplicate": false}));
        }
        receipts
    });
    axum::Json(json!({"receipts": receipts, "errors": []})).into_response()
}

#[derive(Deserialize)]
struct InclusionQ {
    event_id: String,
    tree_size: Option<u64>,
}

async fn inclusion(
    State(s): State<LogShared>,
    h: HeaderMap,
    Query(q): Query<InclusionQ>,
) -> Response {
    if !authorized(&h) {
        return err(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    s.with(|i| {
        let Some(ev) = i.events.get(&q.event_id).cloned() else {
            return err(StatusCode::NOT_FOUND, "not_found");
        };
        let published = i.published.unwrap_or(0);
        let size = q.tree_size.unwrap_or(published);
        let index = match ev.index {
            Some(x) if x < size && size <= i.tree.size() => x,
            // As the server answers (http/log.rs): 422 not_integrated.
            _ => return err(StatusCode::UNPROCESSABLE_ENTITY, "not_integrated"),
        };
        let mut proof = tlog::prove_record(size, index, &i.tree).unwrap();
        if i.corrupt_proofs {
            if let Some(h) = proof.first_mut() {
                h.0[0] ^= 1;
            }
        }
        let hash = i.altered.get(&q.event_id).copied().unwrap_or(ev.hash);
        axum::Json(json!({
            "event_id": q.event_id,
            "org_id": ORG,
            "agent_id": ev.agent,
            "seq": ev.seq,
            "hash": hash,
            "log_index": index,
            "tree_size": size,
            "leaf_hash": tlog::leaf_hash(ORG, &ev.agent, ev.seq, &hash).unwrap(),
            "proof": proof,
            "checkpoint": i.note(size),
        }))
        .into_response()
    })
}

async fn latest(State(s): State<LogShared>, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return err(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    s.with(|i| match i.published {
        None => err(StatusCode::NOT_FOUND, "not_found"),
        Some(size) => {
            let root = tlog::tree_hash(size, &i.tree).unwrap();
            axum::Json(json!({
                "org_id": ORG,
                "origin": LogInner::origin(),
                "size": size,
                "root": root,
                "signed_at": "2023-11-14T22:13:20Z",
                "note": i.note(size),
            }))
            .into_response()
        }
    })
}

#[derive(Deserialize)]
struct ConsistencyQ {
    from: u64,
    to: u64,
}

async fn consistency(
    State(s): State<LogShared>,
    h: HeaderMap,
    Query(q): Query<ConsistencyQ>,
) -> Response {
    if !authorized(&h) {
        return err(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    s.with(|i| {
        if q.from < 1 || q.from > q.to || q.to > i.tree.size() {
            return err(StatusCode::BAD_REQUEST, "bad_sizes");
        }
        let proof = tlog::prove_tree(q.to, q.from, &i.tree).unwrap();
        axum::Json(json!({"from": q.from, "to": q.to, "proof": proof, "checkpoint": i.note(q.to)}))
            .into_response()
    })
}

pub struct LogServer {
    pub addr: SocketAddr,
    pub state: LogShared,
    _server: Loopback,
}

impl LogServer {
    pub fn start() -> LogServer {
        let state = LogShared(Arc::new(Mutex::new(LogInner {
            events: HashMap::new(),
            heads: HashMap::new(),
            leaves: Vec::new(),
            tree: MemoryTree::new(),
            published: None,
            signer: Signer::from_seed(&LogInner::origin(), ALG_ED25519, &SEED).unwrap(),
            waiting: Vec::new(),
            altered: HashMap::new(),
            corrupt_proofs: false,
        })));
        let app = Router::new()
            .route("/v1/events", post(ingest))
            .route("/v1/proofs/inclusion", get(inclusion))
            .route("/v1/proofs/consistency", get(consistency))
            .route("/v1/checkpoints/latest", get(latest))
            .with_state(state.clone());
        let server = Loopback::start(0, app);
        LogServer {
            addr: server.addr,
            state,
            _server: server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}
