//! The local ledger: with no endpoint, sealed events are appended to a JSON
//! Lines file, one line per event, chained per agent with the same link
//! hash as the server (org `"local"`, empty key id):
//!
//! ```text
//! {"seq":1,"org_id":"local","key_id":"","prev_hash":"00…","hash":"…","content_hash":"…","event":{…}}
//! ```
//!
//! `event` is the event's RFC 8785 form. [`verify_ledger`] checks a file
//! offline; [`import`] ships one to a server later (the server chains the
//! events again under its own seq).

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chain::{link_hash, BreakReason, ChainBreak, ChainId, ChainRecord, Verifier};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::{sha256, Hash};

use super::config::Compression;
use super::transport::{Outcome, Transport};
use super::wire::BodyBuilder;

/// Organisation id of every chain in a local ledger.
pub const LOCAL_ORG: &str = "local";

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what} {}: {e}", path.display()))
}

#[derive(Deserialize)]
struct LineHead {
    seq: u64,
    hash: Hash,
    event: AgentOnly,
}

#[derive(Deserialize)]
struct AgentOnly {
    agent_id: String,
}

/// Chain heads by agent: (seq, link hash), shared between the ledger
/// writer and readers on other threads.
pub(crate) type SharedHeads = Arc<Mutex<HashMap<String, (u64, Hash)>>>;

/// Appends chained lines to a ledger file.
#[derive(Debug)]
pub struct LedgerWriter {
    path: PathBuf,
    file: File,
    fsync: bool,
    heads: HashMap<String, (u64, Hash)>,
    /// The heads as of the last completed append, readable from other
    /// threads (`Client::ledger_heads`).
    shared: SharedHeads,
    buf: Vec<u8>,
}

fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err("open ledger", path, e))
}

/// Opens `path` with an exclusive lock, or, when another writer holds it, a
/// sibling file named after this process.
fn open_locked(path: &Path) -> Result<(File, PathBuf)> {
    let file = open_rw(path)?;
    match file.try_lock() {
        Ok(()) => return Ok((file, path.to_path_buf())),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock ledger", path, e)),
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sealtrail-ledger".into());
    let alt = path.with_file_name(format!("{stem}.{}.jsonl", std::process::id()));
    tracing::warn!(target: "sealtrail::ledger", path = %path.display(), using = %alt.display(),
        "ledger is being written by another process; writing this process's events beside it");
    let file = open_rw(&alt)?;
    file.try_lock().map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!(
                "ledger {} is locked by another writer too: {e}",
                alt.display()
            ),
        )
    })?;
    Ok((file, alt))
}

impl LedgerWriter {
    /// Opens (creating) a ledger and resumes every chain's head. A torn last
    /// line (a crash mid-write) is cut off and its length returned; any
    /// other unreadable line is an error (run `sealtrail verify --ledger`).
    ///
    /// One writer per file: the file is locked (`flock`) while open. When
    /// another process already writes it (a forked child of the writer, a
    /// second agent process with the same settings), this writer uses
    /// `<name>.<pid>.jsonl` beside it instead, so two writers never
    /// interleave half-lines or fork a chain; each file verifies on its own.
    pub fn open(path: &Path, fsync: bool) -> Result<(LedgerWriter, u64)> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
        }
        let (mut file, own) = open_locked(path)?;
        let path = own.as_path();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_err("read ledger", path, e))?;
        let good = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let torn = (bytes.len() - good) as u64;
        if torn > 0 {
            tracing::warn!(target: "sealtrail::ledger", path = %path.display(), cut_bytes = torn, "torn last ledger line cut off");
            file.set_len(good as u64)
                .and_then(|_| file.sync_all())
                .map_err(|e| io_err("truncate ledger", path, e))?;
        }
        let mut heads = HashMap::new();
        for (n, line) in bytes[..good].split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let head: LineHead = read_line_as(line).map_err(|e| {
                Error::new(
                    ErrorKind::MalformedJson,
                    format!(
                        "ledger {} line {} is unreadable ({e}); run `sealtrail verify --ledger` on it and start a new file",
                        path.display(),
                        n + 1
                    ),
                )
            })?;
            heads.insert(head.event.agent_id, (head.seq, head.hash));
        }
        Ok((
            LedgerWriter {
                path: path.to_path_buf(),
                file,
                fsync,
                shared: Arc::new(Mutex::new(heads.clone())),
                heads,
                buf: Vec::new(),
            },
            torn,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Head (seq, hash) of an agent's chain.
    pub fn head(&self, agent_id: &str) -> Option<(u64, Hash)> {
        self.heads.get(agent_id).copied()
    }

    /// Every chain's head, by agent: what to keep outside the file and give
    /// `verify_ledger_with_heads` later.
    pub fn heads(&self) -> Vec<LedgerHead> {
        heads_of(&self.heads)
    }

    /// A handle on the heads as of the last completed append, for readers
    /// on other threads.
    pub(crate) fn shared_heads(&self) -> SharedHeads {
        self.shared.clone()
    }

    /// Appends sealed events `(agent_id, canonical bytes, content hash)` as
    /// one write, then fsyncs if configured. On failure the heads are left
    /// as they were and the partial write is cut off.
    pub fn append<'a>(
        &mut self,
        events: impl IntoIterator<Item = (&'a str, &'a [u8], &'a Hash)>,
    ) -> Result<u64> {
        self.buf.clear();
        let mut new_heads: HashMap<&str, (u64, Hash)> = HashMap::new();
        let mut n = 0u64;
        for (agent, canonical, content) in events {
            let (prev_seq, prev) = new_heads
                .get(agent)
                .copied()
                .or_else(|| self.heads.get(agent).copied())
                .unwrap_or((0, Hash::ZERO));
            let seq = prev_seq + 1;
            let hash = link_hash(LOCAL_ORG, agent, "", seq, &prev, content);
            self.buf.extend_from_slice(
                format!(
                    "{{\"seq\":{seq},\"org_id\":\"{LOCAL_ORG}\",\"key_id\":\"\",\"prev_hash\":\"{prev}\",\"hash\":\"{hash}\",\"content_hash\":\"{content}\",\"event\":"
                )
                .as_bytes(),
            );
            self.buf.extend_from_slice(canonical);
            self.buf.extend_from_slice(b"}\n");
            new_heads.insert(agent, (seq, hash));
            n += 1;
        }
        if n == 0 {
            return Ok(0);
        }
        let before = self
            .file
            .metadata()
            .map_err(|e| io_err("stat ledger", &self.path, e))?
            .len();
        let res = self.file.write_all(&self.buf).and_then(|_| {
            if self.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = res {
            let _ = self.file.set_len(before);
            return Err(io_err("write ledger", &self.path, e));
        }
        let mut shared = self.shared.lock().ok();
        for (agent, head) in new_heads {
            if let Some(m) = shared.as_mut() {
                m.insert(agent.to_string(), head);
            }
            self.heads.insert(agent.to_string(), head);
        }
        Ok(n)
    }
}

/// A ledger line read as I-JSON (a member name twice is refused, as
/// everywhere an event is read), then as `T`.
fn read_line_as<T: serde::de::DeserializeOwned>(line: &[u8]) -> std::result::Result<T, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let value = crate::json::from_str(text).map_err(|e| e.to_string())?;
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Limits a stored event is not checked against: size and depth are a
/// receiver's policy, not part of what verification checks (spec §4).
const NO_LIMITS: crate::event::Limits = crate::event::Limits {
    max_event_bytes: usize::MAX,
    max_depth: usize::MAX,
};

/// One ledger line as stored: exactly these members (spec §5).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: u64,
    org_id: String,
    key_id: String,
    prev_hash: Hash,
    hash: Hash,
    content_hash: Hash,
    event: serde_json::Value,
}

/// The verdict on one chain of a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerChain {
    pub org_id: String,
    pub agent_id: String,
    /// Links that verified (up to the break, if any), and the last of them.
    pub count: u64,
    pub head_seq: u64,
    pub head_hash: Hash,
    /// The first broken link, if any.
    pub broken: Option<ChainBreak>,
    /// 1-based line number of the first broken link.
    pub broken_line: Option<u64>,
}

/// A line that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerLineError {
    pub line: u64,
    pub detail: String,
}

/// What [`verify_ledger`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    pub lines: u64,
    pub chains: Vec<LedgerChain>,
    pub malformed: Vec<LedgerLineError>,
    /// The kept heads checked ([`verify_ledger_with_heads`]); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<HeadCheck>,
}

impl LedgerReport {
    /// True when every line parsed, every chain verified and every kept head
    /// was found.
    pub fn ok(&self) -> bool {
        self.malformed.is_empty()
            && self.chains.iter().all(|c| c.broken.is_none())
            && self.heads.iter().all(|h| h.ok)
    }
}

fn parse_line(text: &str) -> std::result::Result<(Line, String), String> {
    let line: Line = read_line_as(text.as_bytes())?;
    let agent = line
        .event
        .get("agent_id")
        .and_then(|a| a.as_str())
        .ok_or("event has no agent_id")?
        .to_string();
    Ok((line, agent))
}

fn for_each_line(path: &Path, mut f: impl FnMut(u64, &str)) -> Result<u64> {
    let file = File::open(path).map_err(|e| io_err("open ledger", path, e))?;
    let mut reader = BufReader::new(file);
    let mut buf = String::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let read = reader
            .read_line(&mut buf)
            .map_err(|e| io_err("read ledger", path, e))?;
        if read == 0 {
            break;
        }
        n += 1;
        let text = buf.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            f(n, text);
        }
    }
    Ok(n)
}

/// Verifies every chain of a ledger file offline: recomputes each event's
/// content hash from its fields and each link hash, and names the first
/// broken seq of each chain and why. `Err` only when the file cannot be read.
pub fn verify_ledger(path: &Path) -> Result<LedgerReport> {
    // Pass 1: every link hash and seq per chain, to tell a reordered link
    // (its prev_hash belongs to the chain; its seq stands elsewhere in the
    // file) from a forged or a missing one.
    #[derive(Default)]
    struct Known {
        hashes: HashSet<Hash>,
        seqs: HashSet<u64>,
    }
    let mut known: HashMap<(String, String), Known> = HashMap::new();
    for_each_line(path, |_, text| {
        if let Ok((line, agent)) = parse_line(text) {
            let k = known.entry((line.org_id.clone(), agent)).or_default();
            k.hashes.insert(line.hash);
            k.seqs.insert(line.seq);
        }
    })?;
    struct State {
        v: Option<Verifier>,
        brk: Option<(ChainBreak, u64, crate::chain::Verified)>,
        order: usize,
    }
    let mut states: HashMap<(String, String), State> = HashMap::new();
    let mut report = LedgerReport::default();
    report.lines = for_each_line(path, |n, text| {
        let (line, agent) = match parse_line(text) {
            Ok(x) => x,
            Err(detail) => {
                report.malformed.push(LedgerLineError { line: n, detail });
                return;
            }
        };
        let key = (line.org_id.clone(), agent.clone());
        let order = states.len();
        let st = states.entry(key.clone()).or_insert_with(|| State {
            v: Some(Verifier::new(
                ChainId {
                    org_id: line.org_id.clone(),
                    agent_id: agent.clone(),
                },
                None,
            )),
            brk: None,
            order,
        });
        let Some(v) = st.v.as_mut() else { return };
        // The content hash is recomputed from the event read by section 1's
        // rules (a null member is absent; an unknown member, a bad id, ts
        // or integer breaks the link). An event that breaks them gets a
        // content hash nothing matches, so the link is reported edited at
        // its seq, after the seq checks, with the rule it breaks.
        let (content_hash, bad) = match crate::event::Event::from_value(line.event, &NO_LIMITS) {
            Ok(e) => (e.content_hash(), None),
            Err(e) => {
                let detail = format!("the event breaks section 1 of the spec: {}", e.message());
                (sha256(detail.as_bytes()), Some(detail))
            }
        };
        let record = ChainRecord {
            seq: line.seq,
            key_id: line.key_id,
            prev_hash: line.prev_hash,
            hash: line.hash,
            stored_content_hash: Some(line.content_hash),
            content_hash,
        };
        let k = known.get(&key);
        let pushed = v.push_known(
            &record,
            |h| k.is_some_and(|k| k.hashes.contains(h)),
            |s| k.is_some_and(|k| k.seqs.contains(&s)),
        );
        if let Err(mut b) = pushed {
            if let Some(d) = bad.filter(|_| b.seq == record.seq && b.reason == BreakReason::Edited)
            {
                b.detail = d;
            }
            st.brk = Some((b, n, v.progress()));
            st.v = None;
        }
    })?;
    let mut chains: Vec<(usize, LedgerChain)> = Vec::new();
    for ((org_id, agent_id), st) in states {
        let mut c = LedgerChain {
            org_id,
            agent_id,
            count: 0,
            head_seq: 0,
            head_hash: Hash::ZERO,
            broken: None,
            broken_line: None,
        };
        match (st.v, st.brk) {
            (_, Some((b, line, done))) => {
                c.count = done.count;
                c.head_seq = done.head_seq;
                c.head_hash = done.head_hash;
                c.broken = Some(b);
                c.broken_line = Some(line);
            }
            (Some(v), None) => match v.finish() {
                Ok(ok) => {
                    c.count = ok.count;
                    c.head_seq = ok.head_seq;
                    c.head_hash = ok.head_hash;
                }
                Err(b) => c.broken = Some(b),
            },
            (None, None) => {}
        }
        chains.push((st.order, c));
    }
    chains.sort_by_key(|(o, _)| *o);
    report.chains = chains.into_iter().map(|(_, c)| c).collect();
    Ok(report)
}

/// What [`import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub events: u64,
    pub batches: u64,
    /// Receipts received (duplicates included).
    pub delivered: u64,
    /// Of `delivered`: events the server already had (an earlier import).
    pub duplicates: u64,
    /// Events the server refused, with its answers in `errors`.
    pub rejected: u64,
    pub errors: Vec<String>,
}

/// Options for [`import_with`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub batch_size: usize,
    pub compression: Compression,
    pub request_timeout: Duration,
    /// Attempts per batch on network errors, 408, 429 and 5xx.
    pub max_attempts: u32,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 512,
            compression: Compression::Gzip,
            request_timeout: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

/// Ships a verified ledger file to a server as batches (`sealtrail import
/// FILE --endpoint URL`). The ledger is verified first and refused if any
/// chain is broken. The server chains the events under its own seq and
/// deduplicates by id, so importing twice is harmless.
pub fn import(path: &Path, endpoint: &str, api_key: &str) -> Result<ImportReport> {
    import_with(path, endpoint, api_key, &ImportOptions::default())
}

pub fn import_with(
    path: &Path,
    endpoint: &str,
    api_key: &str,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let verdict = verify_ledger(path)?;
    if !verdict.ok() {
        let why = verdict
            .malformed
            .first()
            .map(|m| format!("line {} is malformed: {}", m.line, m.detail))
            .or_else(|| {
                verdict.chains.iter().find_map(|c| {
                    c.broken
                        .as_ref()
                        .map(|b| format!("chain of agent {:?} is broken at {b}", c.agent_id))
                })
            })
            .unwrap_or_default();
        return Err(Error::new(
            ErrorKind::InvalidEvent,
            format!("refusing to import {}: {why}", path.display()),
        ));
    }
    let transport = Transport::build(
        endpoint,
        api_key,
        opts.compression,
        opts.request_timeout,
        Duration::from_secs(5),
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Io, format!("runtime: {e}")))?;
    let mut report = ImportReport::default();
    let mut batch = BodyBuilder::with_capacity(0);
    let mut failure: Option<Error> = None;
    let ship = |body: BodyBuilder, report: &mut ImportReport| -> Result<()> {
        let count = body.count() as u64;
        let bytes = body.finish();
        report.batches += 1;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match rt.block_on(transport.send(&bytes)) {
                Outcome::Accepted { answer, .. } => {
                    let (ok, dup, errs) = match answer {
                        Some(a) => (
                            a.receipts.len() as u64,
                            a.receipts.iter().filter(|r| r.duplicate).count() as u64,
                            a.errors,
                        ),
                        None => (count, 0, Vec::new()),
                    };
                    report.delivered += ok;
                    report.duplicates += dup;
                    report.rejected += errs.len() as u64;
                    for e in errs {
                        report
                            .errors
                            .push(format!("event {:?}: {}: {}", e.id, e.error, e.detail));
                    }
                    return Ok(());
                }
                Outcome::Refused { status, answer } => {
                    report.rejected += count;
                    report
                        .errors
                        .push(format!("batch refused with {status}: {answer}"));
                    return Ok(());
                }
                Outcome::Retry { after, error } => {
                    if attempt >= opts.max_attempts {
                        return Err(Error::new(
                            ErrorKind::Io,
                            format!("giving up after {attempt} attempts: {error}"),
                        ));
                    }
                    let backoff = Duration::from_millis(200u64 << attempt.min(7));
                    std::thread::sleep(after.unwrap_or(backoff).min(Duration::from_secs(60)));
                }
            }
        }
    };
    for_each_line(path, |_, text| {
        if failure.is_some() {
            return;
        }
        let Ok((line, _)) = parse_line(text) else {
            return;
        };
        // Verified above: every event reads by section 1.
        let Ok(event) = crate::event::Event::from_value(line.event, &NO_LIMITS) else {
            return;
        };
        batch.push(&event.canonical_bytes(), &line.content_hash);
        report.events += 1;
        if batch.count() as usize >= opts.batch_size.max(1) {
            let full = std::mem::replace(&mut batch, BodyBuilder::with_capacity(0));
            if let Err(e) = ship(full, &mut report) {
                failure = Some(e);
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if !batch.is_empty() {
        ship(batch, &mut report)?;
    }
    Ok(report)
}

/// A chain head kept outside the ledger (printed by the agent, mailed to an
/// auditor, stored elsewhere): the seq and link hash an agent's chain had.
/// Text form `AGENT:SEQ:HASH`, or `SEQ:HASH` for a ledger of one chain (the
/// agent id may itself contain `:`; the last two fields are split off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerHead {
    pub agent_id: Option<String>,
    pub seq: u64,
    pub hash: Hash,
}

impl FromStr for LedgerHead {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Config,
                format!("head {s:?}: {why}; expected SEQ:HASH or AGENT:SEQ:HASH"),
            )
        };
        let mut parts = s.trim().rsplitn(3, ':');
        let (Some(hash), Some(seq)) = (parts.next(), parts.next()) else {
            return Err(bad("no ':'"));
        };
        let agent_id = match parts.next() {
            Some("") => return Err(bad("empty agent id")),
            other => other.map(str::to_string),
        };
        let seq: u64 = seq.parse().map_err(|_| bad("seq is not a number"))?;
        if seq == 0 {
            return Err(bad("seq starts at 1"));
        }
        let hash = hash.parse().map_err(|_| bad("hash is not 64 hex digits"))?;
        Ok(LedgerHead {
            agent_id,
            seq,
            hash,
        })
    }
}

impl std::fmt::Display for LedgerHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.agent_id {
            Some(a) => write!(f, "{a}:{}:{}", self.seq, self.hash),
            None => write!(f, "{}:{}", self.seq, self.hash),
        }
    }
}

pub(crate) fn heads_of(m: &HashMap<String, (u64, Hash)>) -> Vec<LedgerHead> {
    let mut v: Vec<LedgerHead> = m
        .iter()
        .map(|(a, (seq, hash))| LedgerHead {
            agent_id: Some(a.clone()),
            seq: *seq,
            hash: *hash,
        })
        .collect();
    v.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    v
}

/// The verdict on one kept head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadCheck {
    pub agent_id: String,
    pub seq: u64,
    pub hash: Hash,
    /// The chain has a link at `seq` whose hash is `hash`.
    pub ok: bool,
    /// `truncated` (the chain ends before `seq`: its tail was cut off) or
    /// `rewritten` (the link at `seq` has another hash).
    pub reason: Option<String>,
    pub detail: String,
}

/// [`verify_ledger`], and for each kept head, that the agent's chain
/// reaches at least that seq and that the link there has that hash: a
/// ledger whose tail was cut off (and perhaps written again) verifies on its
/// own, but not against a head kept before. A head without an agent needs a
/// ledger of one chain. `Err` when the file cannot be read, or a head names
/// no agent and the ledger has several chains.
pub fn verify_ledger_with_heads(path: &Path, heads: &[LedgerHead]) -> Result<LedgerReport> {
    let mut report = verify_ledger(path)?;
    if heads.is_empty() {
        return Ok(report);
    }
    let mut agents: Vec<String> = Vec::with_capacity(heads.len());
    for h in heads {
        agents.push(match &h.agent_id {
            Some(a) => a.clone(),
            None => match report.chains.as_slice() {
                [] => String::new(),
                [one] => one.agent_id.clone(),
                many => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{} has {} chains: name the agent of head {h} (AGENT:SEQ:HASH)",
                            path.display(),
                            many.len()
                        ),
                    ))
                }
            },
        });
    }
    // The link hash at each head's seq, and the last seq of each agent.
    let mut found: HashMap<(String, u64), Hash> = HashMap::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    let wanted: HashSet<(&str, u64)> = agents
        .iter()
        .zip(heads)
        .map(|(a, h)| (a.as_str(), h.seq))
        .collect();
    for_each_line(path, |_, text| {
        let Ok((line, agent)) = parse_line(text) else {
            return;
        };
        let l = last.entry(agent.clone()).or_default();
        *l = (*l).max(line.seq);
        if wanted.contains(&(agent.as_str(), line.seq)) {
            found.entry((agent, line.seq)).or_insert(line.hash);
        }
    })?;
    for (agent, h) in agents.into_iter().zip(heads) {
        let end = last.get(&agent).copied().unwrap_or(0);
        let (ok, reason, detail) = match found.get(&(agent.clone(), h.seq)) {
            None => (
                false,
                Some("truncated"),
                format!(
                    "the chain of agent {agent:?} ends at seq {end}, before the kept head seq {}: its tail was removed",
                    h.seq
                ),
            ),
            Some(x) if *x != h.hash => (
                false,
                Some("rewritten"),
                format!(
                    "the link at seq {} hashes to {x}, not the kept head {}: the chain was rewritten",
                    h.seq, h.hash
                ),
            ),
            Some(_) => (
                true,
                None,
                format!("the chain reaches seq {} with the kept hash (it ends at seq {end})", h.seq),
            ),
        };
        report.heads.push(HeadCheck {
            agent_id: agent,
            seq: h.seq,
            hash: h.hash,
            ok,
            reason: reason.map(str::to_string),
            detail,
        });
    }
    Ok(report)
}
