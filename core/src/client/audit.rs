//! Auditing the kept receipts against the server's transparency log.
//!
//! For each receipt in `<spool_dir>/receipts.jsonl` the server is asked for
//! the event's inclusion proof (`GET /v1/proofs/inclusion`). The proof's
//! checkpoint must be signed by the configured log key under the origin
//! `<log-name>/<org_id>` ([`crate::tlog::org_verifier`]); the leaf is
//! recomputed from the organisation, the receipt's agent and seq and the
//! **receipt's** link hash (never the server's), and must be included in
//! the checkpoint's tree. The last checkpoint accepted per origin is kept in
//! `<spool_dir>/checkpoints.json`; each audit checks the log's latest
//! checkpoint is a consistent extension of it (`GET /v1/proofs/consistency`),
//! so a log that shrank (rollback) or forked is reported even for events
//! whose receipts are gone.
//!
//! Saved-checkpoint file (the signed note is the evidence; the other
//! members are for people and are recomputed from it on load):
//!
//! ```text
//! {"<origin>": {"note": "<signed checkpoint note>", "size": 42, "root": "<hex>", "saved_at": "…Z"}}
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::hash::Hash;
use crate::tlog::{self, org_verifier, Checkpoint, Verifier};

use super::config::ClientConfig;
use super::receipts::{now_text, read_receipts, KeptReceipt, RECEIPTS_FILE};

/// The saved-checkpoint file's name in the spool directory.
pub const CHECKPOINTS_FILE: &str = "checkpoints.json";

/// What became of one receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    /// Included in a checkpoint signed by the log key, with the receipt's hash.
    Ok,
    /// Stored but not yet in a published checkpoint (409, or 422
    /// `not_integrated` as the server answers): ask again later.
    Pending,
    /// The server has no such event (404): it lost an event it acknowledged,
    /// e.g. a database rolled back to before it.
    Missing,
    /// The server's seq, agent or hash for the event differs from the receipt.
    Altered,
    /// The inclusion proof does not prove the receipt's leaf in the checkpoint.
    ProofFailed,
    /// The checkpoint is not signed by the log key, not of this log's
    /// origin, or not consistent with the log's other checkpoints.
    BadCheckpoint,
    /// The question could not be asked (network, 5xx, unreadable answer).
    Error,
}

impl AuditStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Ok => "ok",
            AuditStatus::Pending => "pending",
            AuditStatus::Missing => "missing",
            AuditStatus::Altered => "altered",
            AuditStatus::ProofFailed => "proof_failed",
            AuditStatus::BadCheckpoint => "bad_checkpoint",
            AuditStatus::Error => "error",
        }
    }

    /// The event can no longer be proved as it was acknowledged.
    pub fn unprovable(self) -> bool {
        matches!(
            self,
            AuditStatus::Missing
                | AuditStatus::Altered
                | AuditStatus::ProofFailed
                | AuditStatus::BadCheckpoint
        )
    }
}

/// One receipt that did not audit as ok.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedEvent {
    pub id: String,
    pub agent_id: String,
    pub seq: u64,
    /// The link hash the receipt holds.
    pub hash: Hash,
    pub received_at: String,
    pub status: AuditStatus,
    pub detail: String,
}

/// What the log's checkpoints showed for one origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogCheck {
    pub origin: String,
    /// `first` (nothing saved before; saved now), `consistent` (extends the
    /// saved one; saved now), `rollback` (smaller than the saved one), `fork`
    /// (same size, other root, or no valid consistency proof),
    /// `bad_checkpoint` (a checkpoint that does not verify), `error` (could
    /// not be checked).
    pub status: String,
    pub saved_size: Option<u64>,
    pub saved_root: Option<Hash>,
    pub size: Option<u64>,
    pub root: Option<Hash>,
    pub detail: String,
}

impl LogCheck {
    /// The log can no longer be proved to extend what it signed before.
    pub fn unprovable(&self) -> bool {
        matches!(self.status.as_str(), "rollback" | "fork" | "bad_checkpoint")
    }
}

/// What [`audit_receipts`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Receipts audited (distinct event ids in the receipt file).
    pub receipts: u64,
    /// Receipts whose events are proved included (status `ok`).
    pub proved: u64,
    pub pending: u64,
    pub missing: u64,
    pub altered: u64,
    pub proof_failed: u64,
    pub bad_checkpoint: u64,
    pub errors: u64,
    /// Every receipt whose status is not `ok`, in receipt order.
    pub problems: Vec<AuditedEvent>,
    /// The log's latest checkpoint against the one saved before, per origin.
    pub log: Vec<LogCheck>,
    /// The receipt file read.
    pub receipts_path: PathBuf,
}

impl AuditReport {
    /// Some event or the log itself can no longer be proved.
    pub fn unprovable(&self) -> bool {
        self.problems.iter().any(|p| p.status.unprovable())
            || self.log.iter().any(LogCheck::unprovable)
    }

    /// Some question could not be asked (the audit is incomplete).
    pub fn incomplete(&self) -> bool {
        self.errors > 0 || self.log.iter().any(|l| l.status == "error")
    }

    /// Everything audited is ok (pending events aside) and complete.
    pub fn all_ok(&self) -> bool {
        !self.unprovable() && !self.incomplete()
    }

    fn count(&mut self, status: AuditStatus) {
        let c = match status {
            AuditStatus::Ok => &mut self.proved,
            AuditStatus::Pending => &mut self.pending,
            AuditStatus::Missing => &mut self.missing,
            AuditStatus::Altered => &mut self.altered,
            AuditStatus::ProofFailed => &mut self.proof_failed,
            AuditStatus::BadCheckpoint => &mut self.bad_checkpoint,
            AuditStatus::Error => &mut self.errors,
        };
        *c += 1;
    }
}

/// `GET /v1/proofs/inclusion` answer.
#[derive(Debug, Deserialize)]
struct Inclusion {
    event_id: String,
    org_id: String,
    agent_id: String,
    seq: u64,
    hash: Hash,
    log_index: u64,
    tree_size: u64,
    proof: Vec<Hash>,
    checkpoint: String,
}

/// `GET /v1/checkpoints/latest` answer (only the note is trusted).
#[derive(Debug, Deserialize)]
struct Latest {
    note: String,
}

/// `GET /v1/proofs/consistency` answer.
#[derive(Debug, Deserialize)]
struct Consistency {
    proof: Vec<Hash>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    note: String,
    size: u64,
    root: Hash,
    saved_at: String,
}

fn config_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg)
}

/// Audits every kept receipt of the client configured by `cfg` (its
/// `endpoint`, `api_key`, `log_key` and `spool_dir`) against the server's
/// transparency log, and checks the log's latest checkpoint extends the one
/// saved by the previous audit (then saves it). Blocks while it asks the
/// server (one request per receipt); call it off the agent's hot path.
///
/// `Err` only for what stops the audit as a whole: no endpoint, API key or
/// log key, an unreadable receipt file, or a latest checkpoint the server
/// cannot give (network, 5xx). Everything about events is in the report.
pub fn audit_receipts(cfg: &ClientConfig) -> Result<AuditReport> {
    let endpoint = cfg
        .endpoint
        .as_deref()
        .ok_or_else(|| config_err("audit_receipts needs the server: set SEALTRAIL_ENDPOINT"))?;
    let api_key = cfg
        .api_key
        .as_deref()
        .ok_or_else(|| config_err("audit_receipts needs an API key: set SEALTRAIL_API_KEY"))?;
    let key_text = cfg.log_key.as_deref().ok_or_else(|| {
        config_err(
            "audit_receipts needs the log's verifier key: set SEALTRAIL_LOG_KEY to what `sealtrail log-key generate` printed",
        )
    })?;
    let base = Verifier::parse(key_text.trim())
        .map_err(|e| config_err(format!("SEALTRAIL_LOG_KEY: {e}")))?;
    if base.alg() != tlog::ALG_ED25519 {
        return Err(config_err(
            "SEALTRAIL_LOG_KEY is not an Ed25519 (type 0x01) verifier key",
        ));
    }
    let receipts_path = cfg.spool_dir.join(RECEIPTS_FILE);
    let receipts = read_receipts(&receipts_path)?;
    let http = reqwest::Client::builder()
        .timeout(cfg.request_timeout)
        .connect_timeout(cfg.connect_timeout)
        .user_agent(concat!("sealtrail-core/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| config_err(format!("HTTP client: {e}")))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Io, format!("runtime: {e}")))?;
    let mut a = Auditor {
        http,
        base: endpoint.trim_end_matches('/').to_string(),
        auth: format!("Bearer {api_key}"),
        log_key: base,
        opened: HashMap::new(),
        consistent: HashMap::new(),
        latest: None,
    };
    let saved_path = cfg.spool_dir.join(CHECKPOINTS_FILE);
    let mut report = AuditReport {
        receipts_path,
        ..AuditReport::default()
    };
    rt.block_on(a.run(&receipts, &saved_path, &mut report))?;
    Ok(report)
}

struct Auditor {
    http: reqwest::Client,
    base: String,
    auth: String,
    log_key: Verifier,
    /// Notes already opened: text -> checkpoint or why not.
    opened: HashMap<String, std::result::Result<Checkpoint, String>>,
    /// (size, root) of checkpoints checked against the latest.
    consistent: HashMap<(u64, Hash), std::result::Result<(), String>>,
    latest: Option<Checkpoint>,
}

enum Got {
    Status(u16, String),
    Failed(String),
}

/// Inclusion requests in flight at once, and receipts fetched before they
/// are checked (bounds the answers held in memory).
const CONCURRENCY: usize = 8;
const CHUNK: usize = 256;

async fn get_url(http: &reqwest::Client, auth: &str, url: String) -> Got {
    let resp = match http
        .get(&url)
        .header(reqwest::header::AUTHORIZATION, auth)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Got::Failed(format!("GET {url}: {e}")),
    };
    let status = resp.status().as_u16();
    match resp.text().await {
        Ok(t) => Got::Status(status, t),
        Err(e) => Got::Failed(format!("GET {url}: {status}, body unreadable: {e}")),
    }
}

impl Auditor {
    async fn get(&self, path: &str) -> Got {
        get_url(&self.http, &self.auth, format!("{}{path}", self.base)).await
    }

    /// GETs `paths`, at most [`CONCURRENCY`] at a time; answers in order.
    async fn get_all(&self, paths: Vec<String>) -> Vec<Got> {
        let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        let n = paths.len();
        for (i, path) in paths.into_iter().enumerate() {
            let (http, auth, url) = (
                self.http.clone(),
                self.auth.clone(),
                format!("{}{path}", self.base),
            );
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, get_url(&http, &auth, url).await)
            });
        }
        let mut out: Vec<Option<Got>> = (0..n).map(|_| None).collect();
        while let Some(res) = set.join_next().await {
            if let Ok((i, got)) = res {
                out[i] = Some(got);
            }
        }
        out.into_iter()
            .map(|g| g.unwrap_or_else(|| Got::Failed("request task failed".into())))
            .collect()
    }

    /// Opens a signed checkpoint of this log (any organisation's origin).
    fn open(&mut self, note: &str) -> std::result::Result<Checkpoint, String> {
        if let Some(r) = self.opened.get(note) {
            return r.clone();
        }
        let r = open_checkpoint(&self.log_key, note);
        self.opened.insert(note.to_string(), r.clone());
        r
    }

    async fn run(
        &mut self,
        receipts: &[KeptReceipt],
        saved_path: &Path,
        report: &mut AuditReport,
    ) -> Result<()> {
        self.check_latest(saved_path, report).await?;
        let size_q = self
            .latest
            .as_ref()
            .map(|c| format!("&tree_size={}", c.size))
            .unwrap_or_default();
        for chunk in receipts.chunks(CHUNK) {
            let paths = chunk.iter().map(|r| inclusion_path(r, &size_q)).collect();
            let answers = self.get_all(paths).await;
            for (r, got) in chunk.iter().zip(answers) {
                self.record(r, got, &size_q, report).await;
            }
        }
        Ok(())
    }

    async fn record(&mut self, r: &KeptReceipt, got: Got, size_q: &str, report: &mut AuditReport) {
        report.receipts += 1;
        // A 404 against the checkpoint of a given size may mean "no such
        // checkpoint" rather than "no such event": ask once without it.
        let (got, size_q) = match got {
            Got::Status(404, _) if !size_q.is_empty() => {
                (self.get(&inclusion_path(r, "")).await, "")
            }
            g => (g, size_q),
        };
        let (status, detail) = self.audit_one(r, got, size_q).await;
        report.count(status);
        if status != AuditStatus::Ok {
            report.problems.push(AuditedEvent {
                id: r.id.to_string(),
                agent_id: r.agent_id.clone(),
                seq: r.seq,
                hash: r.hash,
                received_at: r.received_at.clone(),
                status,
                detail,
            });
        }
    }

    /// Fetches and verifies the latest checkpoint, checks it extends the
    /// saved one of its origin, and saves it when it does.
    async fn check_latest(&mut self, saved_path: &Path, report: &mut AuditReport) -> Result<()> {
        let note = match self.get("/v1/checkpoints/latest").await {
            Got::Status(200, body) => match serde_json::from_str::<Latest>(&body) {
                Ok(l) => l.note,
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("GET /v1/checkpoints/latest: unreadable answer: {e}"),
                    ))
                }
            },
            // No checkpoint published yet: every event is pending or missing.
            Got::Status(404, _) => return Ok(()),
            Got::Status(status, body) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "GET /v1/checkpoints/latest: {status}: {}",
                        body.chars().take(200).collect::<String>()
                    ),
                ))
            }
            Got::Failed(e) => return Err(Error::new(ErrorKind::Io, e)),
        };
        let latest = match self.open(&note) {
            Ok(c) => c,
            Err(e) => {
                report.log.push(LogCheck {
                    origin: Checkpoint::parse(note_text(&note))
                        .map(|c| c.origin)
                        .unwrap_or_default(),
                    status: "bad_checkpoint".into(),
                    saved_size: None,
                    saved_root: None,
                    size: None,
                    root: None,
                    detail: format!("the latest checkpoint does not verify: {e}"),
                });
                return Ok(());
            }
        };
        let mut saved = load_saved(saved_path);
        let mut check = LogCheck {
            origin: latest.origin.clone(),
            status: String::new(),
            saved_size: None,
            saved_root: None,
            size: Some(latest.size),
            root: Some(latest.root),
            detail: String::new(),
        };
        let before = match saved.get(&latest.origin).map(|s| self.open(&s.note)) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                check.status = "bad_checkpoint".into();
                check.detail = format!(
                    "the checkpoint saved in {} does not verify with the log key ({e}); it was kept, not replaced",
                    saved_path.display()
                );
                report.log.push(check);
                self.latest = Some(latest);
                return Ok(());
            }
        };
        let verdict = match &before {
            None => Ok("first"),
            Some(old) => {
                check.saved_size = Some(old.size);
                check.saved_root = Some(old.root);
                self.extends(old, &latest).await
            }
        };
        match verdict {
            Ok(status) => {
                check.status = status.into();
                saved.insert(
                    latest.origin.clone(),
                    Saved {
                        note: note.clone(),
                        size: latest.size,
                        root: latest.root,
                        saved_at: now_text(),
                    },
                );
                if let Err(e) = store_saved(saved_path, &saved) {
                    check.status = "error".into();
                    check.detail = format!("checkpoint verified but not saved: {e}");
                }
            }
            Err((status, detail)) => {
                check.status = status.into();
                check.detail = detail;
            }
        }
        report.log.push(check);
        self.latest = Some(latest);
        Ok(())
    }

    /// Whether `new` extends `old` (same origin): Ok("consistent"), or the
    /// problem's status and detail.
    async fn extends(
        &self,
        old: &Checkpoint,
        new: &Checkpoint,
    ) -> std::result::Result<&'static str, (&'static str, String)> {
        if old.size > new.size {
            return Err((
                "rollback",
                format!(
                    "the log signed size {} before and now says size {}: it was rolled back",
                    old.size, new.size
                ),
            ));
        }
        if old.size == new.size || old.size == 0 {
            return if old.size == 0 || old.root == new.root {
                Ok("consistent")
            } else {
                Err((
                    "fork",
                    format!(
                        "two different roots signed for size {}: {} before, {} now",
                        old.size, old.root, new.root
                    ),
                ))
            };
        }
        let path = format!("/v1/proofs/consistency?from={}&to={}", old.size, new.size);
        let proof = match self.get(&path).await {
            Got::Status(200, body) => match serde_json::from_str::<Consistency>(&body) {
                Ok(c) => c.proof,
                Err(e) => return Err(("error", format!("GET {path}: unreadable answer: {e}"))),
            },
            Got::Status(status, body) => {
                return Err((
                    "error",
                    format!(
                        "GET {path}: {status}: {}",
                        body.chars().take(200).collect::<String>()
                    ),
                ))
            }
            Got::Failed(e) => return Err(("error", e)),
        };
        tlog::check_tree(&proof, new.size, &new.root, old.size, &old.root)
            .map(|()| "consistent")
            .map_err(|e| {
                (
                    "fork",
                    format!(
                        "size {} (root {}) is not an extension of the saved size {} (root {}): {e}",
                        new.size, new.root, old.size, old.root
                    ),
                )
            })
    }

    /// A checkpoint a proof came with must be consistent with the latest one.
    async fn consistent_with_latest(&mut self, c: &Checkpoint) -> std::result::Result<(), String> {
        let Some(latest) = self.latest.clone() else {
            return Ok(());
        };
        if c.origin != latest.origin {
            return Ok(());
        }
        let key = (c.size, c.root);
        if let Some(r) = self.consistent.get(&key) {
            return r.clone();
        }
        let (old, new) = if c.size <= latest.size {
            (c, &latest)
        } else {
            (&latest, c)
        };
        let r = self
            .extends(old, new)
            .await
            .map(|_| ())
            .map_err(|(s, d)| format!("{s}: {d}"));
        self.consistent.insert(key, r.clone());
        r
    }

    async fn audit_one(
        &mut self,
        r: &KeptReceipt,
        got: Got,
        size_q: &str,
    ) -> (AuditStatus, String) {
        let path = inclusion_path(r, size_q);
        let body = match got {
            Got::Status(200, body) => body,
            Got::Status(404, body) => {
                return (
                    AuditStatus::Missing,
                    format!(
                    "the server has no event {} (it acknowledged it as seq {} of agent {:?}): {}",
                    r.id,
                    r.seq,
                    r.agent_id,
                    body.chars().take(200).collect::<String>()
                ),
                )
            }
            Got::Status(409, body) => return pending(&body),
            Got::Status(422, body) if error_kind(&body).as_deref() == Some("not_integrated") => {
                return pending(&body)
            }
            Got::Status(status, body) => {
                return (
                    AuditStatus::Error,
                    format!(
                        "GET {path}: {status}: {}",
                        body.chars().take(200).collect::<String>()
                    ),
                )
            }
            Got::Failed(e) => return (AuditStatus::Error, e),
        };
        let inc: Inclusion = match serde_json::from_str(&body) {
            Ok(i) => i,
            Err(e) => {
                return (
                    AuditStatus::Error,
                    format!("GET {path}: unreadable answer: {e}"),
                )
            }
        };
        let mut changed = Vec::new();
        if inc.event_id != r.id.to_string() {
            changed.push(format!("event_id {:?}", inc.event_id));
        }
        if inc.agent_id != r.agent_id {
            changed.push(format!("agent_id {:?}", inc.agent_id));
        }
        if inc.seq != r.seq {
            changed.push(format!("seq {} (receipt: {})", inc.seq, r.seq));
        }
        if inc.hash != r.hash {
            changed.push(format!("hash {} (receipt: {})", inc.hash, r.hash));
        }
        if !changed.is_empty() {
            return (
                AuditStatus::Altered,
                format!("the server now says {}", changed.join(", ")),
            );
        }
        let c = match self.open(&inc.checkpoint) {
            Ok(c) => c,
            Err(e) => return (AuditStatus::BadCheckpoint, e),
        };
        let want_origin = format!("{}/{}", self.log_key.name(), inc.org_id);
        if c.origin != want_origin {
            return (
                AuditStatus::BadCheckpoint,
                format!(
                    "checkpoint origin {:?} is not {want_origin:?} (organisation {})",
                    c.origin, inc.org_id
                ),
            );
        }
        if let Err(e) = self.consistent_with_latest(&c).await {
            return (
                AuditStatus::BadCheckpoint,
                format!("the proof's checkpoint (size {}) {e}", c.size),
            );
        }
        if inc.tree_size != c.size {
            return (
                AuditStatus::ProofFailed,
                format!(
                    "tree_size {} but the checkpoint has size {}",
                    inc.tree_size, c.size
                ),
            );
        }
        let leaf = match tlog::leaf_hash(&inc.org_id, &r.agent_id, r.seq, &r.hash) {
            Ok(l) => l,
            Err(e) => return (AuditStatus::ProofFailed, e.to_string()),
        };
        match tlog::check_record(&inc.proof, c.size, &c.root, inc.log_index, &leaf) {
            Ok(()) => (AuditStatus::Ok, String::new()),
            Err(e) => (
                AuditStatus::ProofFailed,
                format!(
                    "leaf {} of the receipt is not at index {} of the tree of size {}: {e}",
                    leaf, inc.log_index, c.size
                ),
            ),
        }
    }
}

/// The server's error kind (`{"error": kind, ...}`), if the body has one.
fn error_kind(body: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()?
        .get("error")?
        .as_str()
        .map(str::to_string)
}

fn pending(body: &str) -> (AuditStatus, String) {
    (
        AuditStatus::Pending,
        format!(
            "stored, not yet in a published checkpoint: {}",
            body.chars().take(200).collect::<String>()
        ),
    )
}

fn inclusion_path(r: &KeptReceipt, size_q: &str) -> String {
    format!("/v1/proofs/inclusion?event_id={}{size_q}", r.id)
}

/// The text part of a signed note (for reading the origin before the key
/// that opens it is known).
fn note_text(note: &str) -> &str {
    tlog::note::parse(note).map(|(t, _)| t).unwrap_or("")
}

/// Opens a checkpoint of the log whose base verifier key is `base`: the
/// origin is read first, the organisation's key derived from it
/// ([`org_verifier`]), then the signature checked.
pub fn open_checkpoint(base: &Verifier, note: &str) -> std::result::Result<Checkpoint, String> {
    let (text, _) = tlog::note::parse(note).map_err(|e| e.to_string())?;
    let origin = Checkpoint::parse(text).map_err(|e| e.to_string())?.origin;
    let v = org_verifier(base, &origin).map_err(|e| e.to_string())?;
    Checkpoint::open(note, &v, &[])
        .map(|(c, _)| c)
        .map_err(|e| format!("checkpoint of {origin:?}: {e}"))
}

fn load_saved(path: &Path) -> BTreeMap<String, Saved> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn store_saved(path: &Path, saved: &BTreeMap<String, Saved>) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
