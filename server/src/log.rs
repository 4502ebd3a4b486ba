//! The transparency log's background work: the integrator, which appends
//! committed links to each organisation's Merkle tree, and the
//! checkpointer, which signs a checkpoint when a tree grew, has the
//! witnesses cosign it, stores it and publishes it outside the database.
//!
//! Both run in every replica; per-organisation advisory locks make one of
//! each work on an organisation at a time, so the tree never forks and a
//! restart resumes from the stored tree (docs/server.md, "Transparency log").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use sealtrail_core::hash::Hash;
use sealtrail_core::tlog::{self, AddCheckpoint, Checkpoint, Signer, Verifier};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::db::log::{LogError, TreeHead};

/// Leaves one integration round takes at most per organisation.
pub const MAX_LEAVES_PER_ROUND: u64 = 100_000;

/// How the log is run (`sealtrail serve` flags and `SEALTRAIL_*`).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `SEALTRAIL_LOG_KEY_FILE`: the log's private key (its name is the log
    /// name). None: links are integrated, but no checkpoint is signed.
    pub key: Option<Signer>,
    /// `SEALTRAIL_CHECKPOINT_INTERVAL` (10 s): how often a checkpoint is
    /// signed, when the tree grew.
    pub checkpoint_interval: Duration,
    /// How often the integrator looks for new links (1 s).
    pub integrate_interval: Duration,
    /// `SEALTRAIL_CHECKPOINT_DIR`: one file per checkpoint, plus `latest`,
    /// under `<dir>/<org id>/`.
    pub checkpoint_dir: Option<PathBuf>,
    /// `SEALTRAIL_CHECKPOINT_WEBHOOK`: each checkpoint is POSTed here.
    pub webhook: Option<String>,
    /// `SEALTRAIL_WITNESSES`: witnesses' base URLs (tlog-witness
    /// `add-checkpoint`); their cosignatures are appended to the note.
    pub witnesses: Vec<String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            key: None,
            checkpoint_interval: Duration::from_secs(10),
            integrate_interval: Duration::from_secs(1),
            checkpoint_dir: None,
            webhook: None,
            witnesses: vec![],
        }
    }
}

/// The verifier of organisation `org`'s checkpoints, from the log's key:
/// the same public key, named after the organisation's origin
/// (`core::tlog::org_verifier`).
pub fn org_verifier(log_key: &Verifier, org: Uuid) -> Result<Verifier, String> {
    let origin = tlog::origin(log_key.name(), &org.to_string()).map_err(|e| e.to_string())?;
    tlog::org_verifier(log_key, &origin).map_err(|e| e.to_string())
}

/// Appends to every organisation's tree what was committed since; returns
/// the leaves added.
pub async fn integrate_all(pool: &PgPool) -> Result<u64, LogError> {
    let mut added = 0;
    for org in db::log::orgs_behind(pool).await? {
        // Until caught up (a round takes at most MAX_LEAVES_PER_ROUND).
        while let Some(r) = db::log::integrate(pool, org, MAX_LEAVES_PER_ROUND).await? {
            added += r.added;
            if r.added < MAX_LEAVES_PER_ROUND {
                break;
            }
        }
    }
    Ok(added)
}

/// A checkpoint signed now.
#[derive(Debug, Clone)]
pub struct Signed {
    pub org: Uuid,
    pub size: u64,
    pub root: Hash,
    pub note: String,
    /// Witnesses that cosigned it.
    pub cosigned_by: Vec<String>,
}

/// The checkpointer's state: an HTTP client and the size each witness last
/// cosigned for each organisation.
pub struct Checkpointer {
    pool: PgPool,
    cfg: LogConfig,
    http: reqwest::Client,
    witness_sizes: Mutex<HashMap<(usize, Uuid), u64>>,
}

impl Checkpointer {
    pub fn new(pool: PgPool, cfg: LogConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Checkpointer {
            pool,
            cfg,
            http,
            witness_sizes: Mutex::new(HashMap::new()),
        }
    }

    /// Signs, has cosigned, stores and publishes a checkpoint for every
    /// organisation whose tree grew since its last one.
    pub async fn checkpoint_all(&self) -> Result<Vec<Signed>, LogError> {
        let Some(key) = &self.cfg.key else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        for (org, head, _) in db::log::orgs_to_checkpoint(&self.pool).await? {
            if let Some(s) = self.checkpoint_org(key, org, &head).await? {
                out.push(s);
            }
        }
        Ok(out)
    }

    async fn checkpoint_org(
        &self,
        key: &Signer,
        org: Uuid,
        head: &TreeHead,
    ) -> Result<Option<Signed>, LogError> {
        let corrupt = |detail: String| LogError::Corrupt { org, detail };
        let mut tx = self.pool.begin().await?;
        if !db::log::lock_checkpoints(&mut tx, org).await? {
            return Ok(None);
        }
        let origin =
            tlog::origin(key.name(), &org.to_string()).map_err(|e| corrupt(e.to_string()))?;
        let signer = key.renamed(&origin).map_err(|e| corrupt(e.to_string()))?;
        let now = chrono::Utc::now();
        let cp = Checkpoint::new(origin.clone(), head.size, head.root)
            .with_time(now.timestamp().max(1) as u64);
        let mut note = cp.sign(&signer).map_err(|e| corrupt(e.to_string()))?;
        let mut cosigned_by = Vec::new();
        for (w, url) in self.cfg.witnesses.iter().enumerate() {
            match self.ask_witness(w, url, org, head, &note).await {
                Ok(lines) => {
                    note.push_str(&lines);
                    cosigned_by.push(url.clone());
                }
                Err(e) => tracing::error!(target: "sealtrail::log", witness = %url, %org,
                    size = head.size, error = %e, "the witness did not cosign"),
            }
        }
        db::log::insert_checkpoint(&mut tx, org, head.size, &head.root, &note, now).await?;
        tx.commit().await?;
        tracing::info!(target: "sealtrail::log", %org, size = head.size, root = %head.root,
            witnesses = cosigned_by.len(), "checkpoint signed");
        self.publish(org, head.size, &note).await;
        Ok(Some(Signed {
            org,
            size: head.size,
            root: head.root,
            note,
            cosigned_by,
        }))
    }

    /// tlog-witness `add-checkpoint`: the cosignature lines, or why not.
    async fn ask_witness(
        &self,
        w: usize,
        url: &str,
        org: Uuid,
        head: &TreeHead,
        note: &str,
    ) -> Result<String, String> {
        let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
        let mut old = self
            .witness_sizes
            .lock()
            .map(|m| m.get(&(w, org)).copied().unwrap_or(0))
            .unwrap_or(0);
        // At most twice: a 409 says the size the witness is at.
        for _ in 0..2 {
            let proof = if old == 0 || old >= head.size {
                vec![]
            } else {
                consistency_proof(&self.pool, org, old, head.size)
                    .await
                    .map_err(|e| e.to_string())?
            };
            let body = AddCheckpoint {
                old_size: old,
                proof,
                checkpoint: note.to_string(),
            }
            .to_body();
            let res = self
                .http
                .post(&endpoint)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("POST {endpoint}: {e}"))?;
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            match status {
                200 => {
                    if let Ok(mut m) = self.witness_sizes.lock() {
                        m.insert((w, org), head.size);
                    }
                    return Ok(text);
                }
                409 => match text.trim().parse::<u64>() {
                    Ok(at) if at != old && at <= head.size => old = at,
                    _ => return Err(format!("409 Conflict: {}", text.trim())),
                },
                _ => return Err(format!("{status}: {}", text.trim())),
            }
        }
        Err("the witness kept answering 409".into())
    }

    /// Writes the checkpoint to the configured directory and webhook; a
    /// failure is logged (the checkpoint is stored, and the next one is
    /// published again).
    async fn publish(&self, org: Uuid, size: u64, note: &str) {
        if let Some(dir) = &self.cfg.checkpoint_dir {
            if let Err(e) = write_checkpoint_file(dir, org, size, note) {
                tracing::error!(target: "sealtrail::log", dir = %dir.display(), error = %e,
                    "could not write the checkpoint file");
            }
        }
        if let Some(url) = &self.cfg.webhook {
            let r = self
                .http
                .post(url)
                .header("content-type", "text/plain; charset=utf-8")
                .header("x-sealtrail-org", org.to_string())
                .body(note.to_string())
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::error!(target: "sealtrail::log", webhook = %url,
                    status = r.status().as_u16(), "the checkpoint webhook refused"),
                Err(e) => tracing::error!(target: "sealtrail::log", webhook = %url, error = %e,
                    "the checkpoint webhook failed"),
            }
        }
    }
}

/// `<dir>/<org>/<size>` and `<dir>/<org>/latest`, each written to a
/// temporary file and renamed, so a reader never sees half a note.
pub fn write_checkpoint_file(dir: &Path, org: Uuid, size: u64, note: &str) -> std::io::Result<()> {
    let d = dir.join(org.to_string());
    std::fs::create_dir_all(&d)?;
    for name in [size.to_string(), "latest".to_string()] {
        let tmp = d.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, note)?;
        std::fs::rename(&tmp, d.join(&name))?;
    }
    Ok(())
}

/// The consistency proof between sizes `old` < `new` of `org`'s tree.
pub async fn consistency_proof(
    pool: &PgPool,
    org: Uuid,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, LogError> {
    let corrupt = |e: tlog::ProofError| LogError::Corrupt {
        org,
        detail: e.to_string(),
    };
    let idx = tlog::tree_proof_indexes(new, old).map_err(corrupt)?;
    let hashes = db::log::read_hashes(pool, org, &idx).await?;
    tlog::tree_proof_from_hashes(new, old, &hashes).map_err(corrupt)
}

/// The inclusion proof of leaf `index` in `org`'s tree of `size`.
pub async fn inclusion_proof(
    pool: &PgPool,
    org: Uuid,
    size: u64,
    index: u64,
) -> Result<Vec<Hash>, LogError> {
    let corrupt = |e: tlog::ProofError| LogError::Corrupt {
        org,
        detail: e.to_string(),
    };
    let idx = tlog::record_proof_indexes(size, index).map_err(corrupt)?;
    let hashes = db::log::read_hashes(pool, org, &idx).await?;
    tlog::record_proof_from_hashes(size, index, &hashes).map_err(corrupt)
}

/// Runs the integrator until the process ends.
pub async fn run_integrator(pool: PgPool, every: Duration) {
    loop {
        match integrate_all(&pool).await {
            Ok(n) if n > 0 => {
                tracing::debug!(target: "sealtrail::log", leaves = n, "integrated")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(target: "sealtrail::log", error = %e, "integration failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Runs the checkpointer until the process ends.
pub async fn run_checkpointer(cp: Checkpointer) {
    if cp.cfg.key.is_none() {
        tracing::warn!(target: "sealtrail::log",
            "no log key (SEALTRAIL_LOG_KEY_FILE): links are integrated into the log, but no \
             checkpoint is signed, so nothing binds whoever controls the database; make one with \
             `sealtrail log-key generate --out FILE`");
        return;
    }
    loop {
        tokio::time::sleep(cp.cfg.checkpoint_interval).await;
        if let Err(e) = cp.checkpoint_all().await {
            tracing::error!(target: "sealtrail::log", error = %e, "checkpointing failed");
        }
    }
}

/// The keys a published checkpoint is checked with.
#[derive(Debug, Clone)]
pub struct CheckpointKeys {
    /// The log's verifier key (`sealtrail log-key generate` prints it).
    pub log_key: Verifier,
    /// Witnesses' cosignature keys.
    pub witness_keys: Vec<Verifier>,
    /// How many of them must have cosigned each checkpoint.
    pub threshold: usize,
}

/// One way the log no longer holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogProblem {
    /// `bad_signature`, `not_witnessed`, `checkpoint_broken`,
    /// `leaf_differs`, `missing_link`, `log_truncated`.
    pub kind: &'static str,
    /// The checkpoint's tree size, when about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The leaf's log index, when about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub detail: String,
}

/// What checking an organisation's stored links against its published
/// checkpoints found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LogReport {
    /// Leaves recomputed from the stored links.
    pub leaves: u64,
    /// Checkpoints given, and those whose root the recomputed tree has.
    pub checkpoints: usize,
    pub checkpoints_ok: usize,
    /// Leaves of events removed by retention (taken as integrated).
    pub pruned: u64,
    pub problems: Vec<LogProblem>,
}

impl LogReport {
    /// Whether history no longer matches what was published.
    pub fn rewritten(&self) -> bool {
        !self.problems.is_empty()
    }
    /// The first checkpoint that no longer holds.
    pub fn first_broken_checkpoint(&self) -> Option<&LogProblem> {
        self.problems
            .iter()
            .filter(|p| matches!(p.kind, "checkpoint_broken" | "log_truncated"))
            .filter(|p| p.size.is_some())
            .min_by_key(|p| p.size)
    }
}

fn problem(kind: &'static str, detail: String) -> LogProblem {
    LogProblem {
        kind,
        size: None,
        leaf: None,
        agent_id: None,
        seq: None,
        detail,
    }
}

/// Recomputes `org`'s tree from the stored links and checks every published
/// checkpoint in `notes` (signed-note texts): the log's signature, the
/// witnesses' cosignatures (at least `threshold`), and that the recomputed
/// tree has the checkpoint's root at its size. Also names the first leaf
/// that differs from the one integrated. Reads nothing it trusts from the
/// database but the links' positions (`log_runs`), which the roots check.
pub async fn verify_log(
    pool: &PgPool,
    org: Uuid,
    notes: &[String],
    keys: &CheckpointKeys,
    mut progress: impl FnMut(u64, u64),
) -> Result<LogReport, LogError> {
    let mut report = LogReport {
        checkpoints: notes.len(),
        ..Default::default()
    };
    let org_key =
        org_verifier(&keys.log_key, org).map_err(|detail| LogError::Corrupt { org, detail })?;
    // Signatures first: a checkpoint that is not the log's says nothing.
    let mut cps: Vec<Checkpoint> = Vec::new();
    for (i, n) in notes.iter().enumerate() {
        let (cp, opened) = match Checkpoint::open(n, &org_key, &[]) {
            Ok(x) => x,
            Err(e) => {
                report.problems.push(problem(
                    "bad_signature",
                    format!(
                        "checkpoint {} is not signed by the log key {} for this organisation: {e}",
                        i + 1,
                        org_key.name()
                    ),
                ));
                continue;
            }
        };
        if keys.threshold > 0 {
            let sigs = tlog::note::parse(n).map(|(_, s)| s).unwrap_or_default();
            let cosigned = keys
                .witness_keys
                .iter()
                .filter(|w| {
                    sigs.iter().any(|s| {
                        s.name == w.name()
                            && s.key_id == w.key_id()
                            && tlog::verify_cosignature(&opened.text, &s.to_line(), w).is_ok()
                    })
                })
                .count();
            if cosigned < keys.threshold {
                let mut p = problem(
                    "not_witnessed",
                    format!(
                        "checkpoint of size {} has {cosigned} valid witness cosignature(s), fewer \
                         than the threshold {}",
                        cp.size, keys.threshold
                    ),
                );
                p.size = Some(cp.size);
                report.problems.push(p);
            }
        }
        cps.push(cp);
    }
    cps.sort_by_key(|c| c.size);
    cps.dedup_by(|a, b| a.size == b.size && a.root == b.root);
    // The same checkpoint twice (a `latest` file beside its own) counts once.
    report.checkpoints -= notes.len()
        - report
            .problems
            .iter()
            .filter(|p| p.kind == "bad_signature")
            .count()
        - cps.len();
    let Some(max) = cps.last().map(|c| c.size) else {
        return Ok(report);
    };
    for w in cps.windows(2) {
        if w[0].size == w[1].size {
            let mut p = problem(
                "checkpoint_broken",
                format!(
                    "two checkpoints of size {} with different roots: the log forked",
                    w[0].size
                ),
            );
            p.size = Some(w[0].size);
            report.problems.push(p);
        }
    }

    let stored = db::log::all_stored_hashes(pool, org).await?;
    let links = db::log::stored_links(pool, org).await?;
    let bases: HashMap<String, u64> = db::events::chains(pool, org, None)
        .await?
        .into_iter()
        .map(|c| (c.agent_id, c.base_seq))
        .collect();
    let runs = db::log::runs(pool, org, max).await?;
    let org_text = org.to_string();
    let mut frontier = tlog::Frontier::new();
    let mut next_cp = 0;
    let mut first_leaf_reported = false;
    'runs: for run in &runs {
        if run.first_idx != frontier.size() {
            let mut p = problem(
                "log_truncated",
                format!(
                    "the stored log has no leaf {} (its runs jump to {})",
                    frontier.size(),
                    run.first_idx
                ),
            );
            p.leaf = Some(frontier.size());
            report.problems.push(p);
            break;
        }
        let chain = links.get(&run.agent_id);
        for k in 0..run.count {
            let idx = run.first_idx + k;
            if idx >= max {
                break 'runs;
            }
            let seq = run.first_seq + k;
            let stored_leaf = tlog::stored_hash_index(0, idx)
                .ok()
                .and_then(|i| stored.get(i as usize).copied());
            let link = chain.and_then(|(first, v)| {
                seq.checked_sub(*first)
                    .and_then(|o| v.get(o as usize).copied())
            });
            let leaf = match link {
                Some(l) => tlog::leaf_hash(&org_text, &run.agent_id, seq, &l).map_err(|e| {
                    LogError::Corrupt {
                        org,
                        detail: e.to_string(),
                    }
                })?,
                None if bases.get(&run.agent_id).is_some_and(|b| seq <= *b)
                    && stored_leaf.is_some() =>
                {
                    // Removed by retention: the leaf stays in the log.
                    report.pruned += 1;
                    stored_leaf.unwrap_or_default()
                }
                None => {
                    if !first_leaf_reported {
                        first_leaf_reported = true;
                        let mut p = problem(
                            "missing_link",
                            format!(
                                "leaf {idx} is link {seq} of agent {:?}, which is no longer stored",
                                run.agent_id
                            ),
                        );
                        p.leaf = Some(idx);
                        p.agent_id = Some(run.agent_id.clone());
                        p.seq = Some(seq);
                        report.problems.push(p);
                    }
                    // Stand in what was integrated, if anything, so later
                    // checkpoints are still checked.
                    stored_leaf.unwrap_or_default()
                }
            };
            if !first_leaf_reported && stored_leaf.is_some_and(|s| s != leaf) {
                first_leaf_reported = true;
                let mut p = problem(
                    "leaf_differs",
                    format!(
                        "leaf {idx} (link {seq} of agent {:?}) differs from the leaf integrated: \
                         the link was rewritten after it entered the log",
                        run.agent_id
                    ),
                );
                p.leaf = Some(idx);
                p.agent_id = Some(run.agent_id.clone());
                p.seq = Some(seq);
                report.problems.push(p);
            }
            frontier.push(leaf).map_err(|e| LogError::Corrupt {
                org,
                detail: e.to_string(),
            })?;
            report.leaves += 1;
            while next_cp < cps.len() && cps[next_cp].size == frontier.size() {
                check_root(&mut report, &cps[next_cp], &frontier.root());
                next_cp += 1;
            }
            if report.leaves.is_multiple_of(65_536) {
                progress(report.leaves, max);
            }
        }
    }
    progress(report.leaves, max);
    for cp in &cps[next_cp..] {
        let mut p = problem(
            "log_truncated",
            format!(
                "a checkpoint of size {} was published, but the stored log has {} leaves: \
                 history was cut or rolled back",
                cp.size,
                frontier.size()
            ),
        );
        p.size = Some(cp.size);
        report.problems.push(p);
    }
    Ok(report)
}

fn check_root(report: &mut LogReport, cp: &Checkpoint, root: &Hash) {
    if *root == cp.root {
        report.checkpoints_ok += 1;
    } else {
        let mut p = problem(
            "checkpoint_broken",
            format!(
                "the stored links make root {root} at size {}, but the checkpoint published \
                 {}: history was rewritten",
                cp.size, cp.root
            ),
        );
        p.size = Some(cp.size);
        report.problems.push(p);
    }
}
