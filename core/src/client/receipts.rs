//! The receipts the client keeps: for each event the server acknowledged,
//! `(id, agent_id, seq, hash)` as the server answered it, appended by the
//! worker to `<spool_dir>/receipts.jsonl`, one JSON object a line:
//!
//! ```text
//! {"id":"01J…","agent_id":"support-bot","seq":12,"hash":"<64 hex>","received_at":"2026-05-01T10:00:00.123456Z"}
//! ```
//!
//! They are the agent's own evidence: a server that later loses or rewrites
//! an event it acknowledged (a database rolled back to before the last
//! published checkpoint is invisible to checkpoints) is caught by
//! [`audit_receipts`](super::audit_receipts) replaying them against the
//! transparency log.
//!
//! Bounded: at most `receipts_max` lines. When an append would pass it, the
//! file is compacted (rewritten to a temporary file, fsynced, renamed) to
//! the newest three quarters of the bound, always keeping the newest receipt
//! of every agent, so compaction runs once per quarter of the bound. Appends
//! are one `write` per acknowledged batch, never fsynced: a receipt lost in
//! a power cut only means one event fewer to audit.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::event::EventId;
use crate::hash::Hash;

/// The receipt file's name in the spool directory.
pub const RECEIPTS_FILE: &str = "receipts.jsonl";

/// One kept receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptReceipt {
    pub id: EventId,
    pub agent_id: String,
    /// The event's seq in its chain, as the server answered.
    pub seq: u64,
    /// The event's link hash, as the server answered.
    pub hash: Hash,
    /// When the client received the receipt (its own clock, RFC 3339 UTC).
    pub received_at: String,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what} {}: {e}", path.display()))
}

/// The current time as the receipt file writes it.
pub(crate) fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Appends receipts to the bounded receipt file (the worker's side).
#[derive(Debug)]
pub struct ReceiptLog {
    path: PathBuf,
    file: File,
    count: usize,
    max: usize,
    buf: Vec<u8>,
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| io_err("open", path, e))
}

impl ReceiptLog {
    /// Opens (creating) `<dir>/receipts.jsonl` keeping at most `max` (≥ 1)
    /// receipts. A torn last line (a crash mid-write) is cut off.
    pub fn open(dir: &Path, max: usize) -> Result<ReceiptLog> {
        fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
        let path = dir.join(RECEIPTS_FILE);
        let mut file = open_append(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_err("read", &path, e))?;
        let good = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if good < bytes.len() {
            file.set_len(good as u64)
                .map_err(|e| io_err("truncate", &path, e))?;
        }
        let count = bytes[..good].iter().filter(|&&b| b == b'\n').count();
        Ok(ReceiptLog {
            path,
            file,
            count,
            max: max.max(1),
            buf: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines in the file now.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `receipts` (oldest first) in one write, compacting first when
    /// the file would hold more than the bound.
    pub fn append(&mut self, receipts: &[KeptReceipt]) -> Result<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        if self.count + receipts.len() > self.max {
            return self.compact(receipts);
        }
        self.buf.clear();
        for r in receipts {
            write_line(&mut self.buf, r);
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| io_err("append to", &self.path, e))?;
        self.count += receipts.len();
        Ok(())
    }

    /// Rewrites the file with the kept part of what it holds plus `incoming`.
    fn compact(&mut self, incoming: &[KeptReceipt]) -> Result<()> {
        let mut all = read_receipts(&self.path)?;
        all.extend_from_slice(incoming);
        let kept = select_newest(all, self.max - self.max / 4);
        let tmp = self.path.with_extension("jsonl.tmp");
        self.buf.clear();
        for r in &kept {
            write_line(&mut self.buf, r);
        }
        let res = File::create(&tmp)
            .and_then(|mut f| f.write_all(&self.buf).and_then(|_| f.sync_all()))
            .and_then(|_| fs::rename(&tmp, &self.path));
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("compact", &self.path, e));
        }
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = open_append(&self.path)?;
        self.count = kept.len();
        Ok(())
    }
}

fn write_line(buf: &mut Vec<u8>, r: &KeptReceipt) {
    // serde_json never fails on this struct (string keys, no maps of non-strings).
    if serde_json::to_writer(&mut *buf, r).is_ok() {
        buf.push(b'\n');
    }
}

/// Keeps the newest `target` receipts, plus the newest receipt of every
/// agent (so the kept set can pass `target` by the number of agents whose
/// newest receipt is older than the rest), in their original order.
/// Receipts are newest last. A repeated id keeps its newest line only.
pub fn select_newest(receipts: Vec<KeptReceipt>, target: usize) -> Vec<KeptReceipt> {
    let mut agents: HashSet<&str> = HashSet::new();
    let mut ids: HashSet<EventId> = HashSet::new();
    let mut keep = vec![false; receipts.len()];
    let mut kept = 0usize;
    for (i, r) in receipts.iter().enumerate().rev() {
        if !ids.insert(r.id) {
            continue;
        }
        let newest_of_agent = agents.insert(r.agent_id.as_str());
        if newest_of_agent || kept < target {
            keep[i] = true;
            kept += 1;
        }
    }
    receipts
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

/// Reads a receipt file, oldest first. Unreadable lines (a torn last line
/// while the worker writes) are skipped; a repeated id keeps its last line.
/// A missing file is an empty list.
pub fn read_receipts(path: &Path) -> Result<Vec<KeptReceipt>> {
    let text = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", path, e)),
    };
    let mut out: Vec<KeptReceipt> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    // Last line of an id wins.
    let mut seen = HashSet::new();
    let mut keep: Vec<bool> = out.iter().rev().map(|r| seen.insert(r.id)).collect();
    keep.reverse();
    let mut k = keep.into_iter();
    out.retain(|_| k.next().unwrap_or(false));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(agent: &str, seq: u64) -> KeptReceipt {
        KeptReceipt {
            id: EventId::generate(),
            agent_id: agent.into(),
            seq,
            hash: Hash([seq as u8; 32]),
            received_at: now_text(),
        }
    }

    #[test]
    fn bounded_with_rare_compaction_and_every_agents_newest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ReceiptLog::open(dir.path(), 100).unwrap();
        // Agent "rare" speaks once, first; then agent "busy" floods.
        let first = r("rare", 1);
        log.append(std::slice::from_ref(&first)).unwrap();
        let mut compactions = 0;
        let mut last_len = log.len();
        let mut all = vec![first.clone()];
        for seq in 1..=1000u64 {
            let batch = [r("busy", seq)];
            all.push(batch[0].clone());
            log.append(&batch).unwrap();
            assert!(log.len() <= 100, "bound held: {}", log.len());
            if log.len() < last_len {
                compactions += 1;
            }
            last_len = log.len();
        }
        // 1000 receipts into a bound of 100 compacting to 75: one compaction
        // per 25 appends.
        assert!((35..=45).contains(&compactions), "{compactions}");
        let kept = read_receipts(log.path()).unwrap();
        assert_eq!(kept.len(), log.len());
        assert_eq!(kept[0], first, "the rare agent's only receipt survives");
        let newest = kept.last().unwrap();
        assert_eq!((newest.agent_id.as_str(), newest.seq), ("busy", 1000));
        // What is kept is the newest, in order.
        let seqs: Vec<u64> = kept[1..].iter().map(|k| k.seq).collect();
        let want: Vec<u64> = ((1000 - seqs.len() as u64 + 1)..=1000).collect();
        assert_eq!(seqs, want);
        // Reopen: the count resumes from the file.
        drop(log);
        let log = ReceiptLog::open(dir.path(), 100).unwrap();
        assert_eq!(log.len(), kept.len());
        assert!(!dir.path().join("receipts.jsonl.tmp").exists());
    }

    #[test]
    fn a_batch_larger_than_the_bound_keeps_its_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ReceiptLog::open(dir.path(), 8).unwrap();
        let batch: Vec<KeptReceipt> = (1..=20).map(|s| r("a", s)).collect();
        log.append(&batch).unwrap();
        let kept = read_receipts(log.path()).unwrap();
        assert_eq!(
            kept.iter().map(|k| k.seq).collect::<Vec<_>>(),
            (15..=20).collect::<Vec<_>>()
        );
    }

    #[test]
    fn torn_tail_cut_and_repeated_ids_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ReceiptLog::open(dir.path(), 10).unwrap();
        let a = r("a", 1);
        log.append(&[a.clone(), a.clone(), r("a", 2)]).unwrap();
        drop(log);
        let path = dir.path().join(RECEIPTS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"id\":\"01J").unwrap();
        drop(f);
        assert_eq!(read_receipts(&path).unwrap().len(), 2);
        let log = ReceiptLog::open(dir.path(), 10).unwrap();
        assert_eq!(log.len(), 3);
        assert!(fs::read(&path).unwrap().ends_with(b"\n"));
    }

    #[test]
    fn select_newest_more_agents_than_target() {
        let rs: Vec<KeptReceipt> = ["a", "b", "c", "a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, a)| r(a, i as u64))
            .collect();
        let kept = select_newest(rs, 1);
        assert_eq!(kept.iter().map(|k| k.seq).collect::<Vec<_>>(), [3, 4, 5]);
    }
}
