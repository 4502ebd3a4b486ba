//! The disk spool: batches the server has not acknowledged yet, in segment
//! files of frames `[len u32le][crc32 u32le][payload]`, where a payload is
//! `[event count u32le][batch body JSON]`. Appended in order, replayed in
//! order, a segment deleted once every batch in it is acknowledged. A torn
//! tail (a crash mid-write) fails its length or CRC check and is cut off.
//!
//! Layout of the directory: `LOCK` (held by one process), `seg-N.log`,
//! `cursor` (`"N OFFSET"`: where replay resumes; a lost cursor only means
//! re-sending batches the server will deduplicate), `rejected/`. Beside
//! them, not the spool's: `receipts.jsonl` (`receipts.rs`) and
//! `checkpoints.json` (`audit.rs`).

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

const HEADER: usize = 8;
/// Largest frame accepted when reading: anything larger is a torn length.
const MAX_FRAME: u32 = 256 << 20;

/// Where one spooled batch lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    pub segment: u64,
    /// Offset of the frame header in the segment.
    pub offset: u64,
    /// Payload length (after the header).
    pub len: u32,
    /// Events in the batch.
    pub count: u32,
}

/// What opening a spool found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolOpenReport {
    /// Batches and events waiting to be replayed.
    pub batches: u64,
    pub events: u64,
    /// Torn tails cut off: (segment file, bytes removed).
    pub torn: Vec<(PathBuf, u64)>,
}

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Append {
    Written,
    /// The batch would take the spool past its size cap; nothing written.
    Full,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_max: u64,
    fsync: bool,
    _lock: File,
    records: VecDeque<RecordRef>,
    /// Segment id -> bytes on disk.
    segments: BTreeMap<u64, u64>,
    active: Option<(u64, File)>,
    next_segment: u64,
    total_bytes: u64,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what} {}: {e}", path.display()))
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("seg-{id:020}.log"))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Spool {
    /// Opens (creating) the spool in `dir`, takes its lock, scans every
    /// segment, cuts torn tails and resumes after the stored cursor.
    pub fn open(dir: &Path, max_bytes: u64, fsync: bool) -> Result<(Spool, SpoolOpenReport)> {
        fs::create_dir_all(dir.join("rejected")).map_err(|e| io_err("create spool", dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("open", &lock_path, e))?;
        lock.try_lock().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "spool {} is in use by another sealtrail client; give each process its own SEALTRAIL_SPOOL_DIR",
                    dir.display()
                ),
            )
        })?;
        let cursor = fs::read_to_string(dir.join("cursor"))
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace();
                Some((
                    it.next()?.parse::<u64>().ok()?,
                    it.next()?.parse::<u64>().ok()?,
                ))
            })
            .unwrap_or((0, 0));

        let mut ids = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io_err("read", dir, e))? {
            let entry = entry.map_err(|e| io_err("read", dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_prefix("seg-")
                .and_then(|s| s.strip_suffix(".log"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();

        let mut report = SpoolOpenReport::default();
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_max: (max_bytes / 8).clamp(64 << 10, 16 << 20),
            fsync,
            _lock: lock,
            records: VecDeque::new(),
            segments: BTreeMap::new(),
            active: None,
            next_segment: ids.last().map_or(1, |l| l + 1),
            total_bytes: 0,
        };
        for id in ids {
            let path = seg_path(dir, id);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| io_err("read", &path, e))?;
            let (frames, good) = scan(&bytes, id);
            if good < bytes.len() {
                let cut = (bytes.len() - good) as u64;
                tracing::warn!(
                    target: "sealtrail::spool",
                    segment = %path.display(),
                    cut_bytes = cut,
                    "torn spool tail cut off (a crash interrupted a write); the batches before it replay"
                );
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| {
                        f.set_len(good as u64)?;
                        f.sync_all()
                    })
                    .map_err(|e| io_err("truncate", &path, e))?;
                report.torn.push((path.clone(), cut));
            }
            let live: Vec<RecordRef> = frames
                .into_iter()
                .filter(|r| (r.segment, r.offset) >= cursor)
                .collect();
            if live.is_empty() {
                let _ = fs::remove_file(&path);
                continue;
            }
            spool.segments.insert(id, good as u64);
            spool.total_bytes += good as u64;
            report.batches += live.len() as u64;
            report.events += live.iter().map(|r| r.count as u64).sum::<u64>();
            spool.records.extend(live);
        }
        sync_dir(dir);
        Ok((spool, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Batches waiting.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Events waiting.
    pub fn events(&self) -> u64 {
        self.records.iter().map(|r| r.count as u64).sum()
    }

    /// Appends one batch of `count` events, fsyncing if configured.
    pub fn append(&mut self, count: u32, body: &[u8]) -> Result<Append> {
        let len = 4 + body.len();
        let frame_len = (HEADER + len) as u64;
        if self.total_bytes + frame_len > self.max_bytes {
            return Ok(Append::Full);
        }
        if len as u64 > MAX_FRAME as u64 {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "batch too large for the spool",
            ));
        }
        let roll = match &self.active {
            Some((id, _)) => self.segments.get(id).copied().unwrap_or(0) >= self.segment_max,
            None => true,
        };
        if roll {
            let id = self.next_segment;
            self.next_segment += 1;
            let path = seg_path(&self.dir, id);
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io_err("create", &path, e))?;
            if self.fsync {
                sync_dir(&self.dir);
            }
            self.segments.insert(id, 0);
            self.active = Some((id, f));
        }
        let Some((id, file)) = self.active.as_mut() else {
            return Err(Error::new(ErrorKind::Io, "no active spool segment"));
        };
        let id = *id;
        let offset = self.segments.get(&id).copied().unwrap_or(0);
        let mut frame = Vec::with_capacity(frame_len as usize);
        frame.extend_from_slice(&(len as u32).to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&count.to_le_bytes());
        crc.update(body);
        frame.extend_from_slice(&crc.finalize().to_le_bytes());
        frame.extend_from_slice(&count.to_le_bytes());
        frame.extend_from_slice(body);
        let path = seg_path(&self.dir, id);
        let res =
            file.write_all(&frame)
                .and_then(|_| if self.fsync { file.sync_data() } else { Ok(()) });
        if let Err(e) = res {
            // A partial frame may be on disk: cut it so later frames stay
            // readable, and start a fresh segment next time.
            let _ = file.set_len(offset);
            self.active = None;
            return Err(io_err("write", &path, e));
        }
        self.segments.insert(id, offset + frame_len);
        self.total_bytes += frame_len;
        self.records.push_back(RecordRef {
            segment: id,
            offset,
            len: len as u32,
            count,
        });
        Ok(Append::Written)
    }

    /// The oldest batch not yet acknowledged.
    pub fn peek(&self) -> Option<RecordRef> {
        self.records.front().copied()
    }

    /// Reads a batch body (without the count prefix), checking its CRC.
    pub fn read(&self, r: &RecordRef) -> Result<Vec<u8>> {
        let path = seg_path(&self.dir, r.segment);
        let mut f = File::open(&path).map_err(|e| io_err("open", &path, e))?;
        f.seek(SeekFrom::Start(r.offset))
            .map_err(|e| io_err("seek", &path, e))?;
        let mut buf = vec![0u8; HEADER + r.len as usize];
        f.read_exact(&mut buf)
            .map_err(|e| io_err("read", &path, e))?;
        let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if crc32fast::hash(&buf[HEADER..]) != crc {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "spool frame at {}:{} fails its CRC",
                    path.display(),
                    r.offset
                ),
            ));
        }
        Ok(buf.split_off(HEADER + 4))
    }

    /// Marks the oldest batch delivered (or otherwise settled): advances the
    /// cursor and deletes a segment once nothing in it is left.
    pub fn ack(&mut self) {
        let Some(done) = self.records.pop_front() else {
            return;
        };
        let next = self.records.front().copied();
        if next.map(|n| n.segment) != Some(done.segment) {
            let is_active = self.active.as_ref().map(|(id, _)| *id) == Some(done.segment);
            if is_active {
                self.active = None;
            }
            if let Some(size) = self.segments.remove(&done.segment) {
                self.total_bytes = self.total_bytes.saturating_sub(size);
            }
            let path = seg_path(&self.dir, done.segment);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(target: "sealtrail::spool", segment = %path.display(), error = %e, "could not delete a delivered spool segment");
            }
        }
        let (seg, off) = match next {
            Some(n) => (n.segment, n.offset),
            None => (self.next_segment, 0),
        };
        let tmp = self.dir.join("cursor.tmp");
        let res = fs::write(&tmp, format!("{seg} {off}\n"))
            .and_then(|_| fs::rename(&tmp, self.dir.join("cursor")));
        if let Err(e) = res {
            tracing::debug!(target: "sealtrail::spool", error = %e, "could not store the spool cursor (batches may be re-sent; the server deduplicates)");
        }
    }

    /// Writes a refused batch and the server's answer to `rejected/`.
    pub fn write_rejected(&self, status: u16, answer: &str, body: &[u8]) -> Result<PathBuf> {
        write_rejected(&self.dir, status, answer, body)
    }
}

/// Writes `{"status":..,"answer":..,"batch":..}` to `dir/rejected/`.
pub fn write_rejected(dir: &Path, status: u16, answer: &str, body: &[u8]) -> Result<PathBuf> {
    let rdir = dir.join("rejected");
    fs::create_dir_all(&rdir).map_err(|e| io_err("create", &rdir, e))?;
    let answer_json = match serde_json::from_str::<serde_json::Value>(answer) {
        Ok(v) => serde_json::to_string(&v).unwrap_or_default(),
        Err(_) => serde_json::to_string(answer).unwrap_or_default(),
    };
    let mut out = Vec::with_capacity(body.len() + answer_json.len() + 64);
    out.extend_from_slice(
        format!("{{\"status\":{status},\"answer\":{answer_json},\"batch\":").as_bytes(),
    );
    out.extend_from_slice(body);
    out.extend_from_slice(b"}\n");
    let path = rdir.join(format!("{}.json", crate::event::EventId::generate()));
    let mut f = File::create(&path).map_err(|e| io_err("create", &path, e))?;
    f.write_all(&out)
        .and_then(|_| f.sync_data())
        .map_err(|e| io_err("write", &path, e))?;
    Ok(path)
}

/// Frames of a segment up to the first bad one, and the good length.
fn scan(bytes: &[u8], segment: u64) -> (Vec<RecordRef>, usize) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= HEADER {
        let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        let crc = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        if !(4..=MAX_FRAME).contains(&len) || bytes.len() - pos - HEADER < len as usize {
            break;
        }
        let payload = &bytes[pos + HEADER..pos + HEADER + len as usize];
        if crc32fast::hash(payload) != crc {
            break;
        }
        let count = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        out.push(RecordRef {
            segment,
            offset: pos as u64,
            len,
            count,
        });
        pos += HEADER + len as usize;
    }
    (out, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_replay_ack_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, r) = Spool::open(dir.path(), 1 << 20, true).unwrap();
            assert_eq!(r.batches, 0);
            for i in 0..3u32 {
                assert_eq!(
                    s.append(i + 1, format!("body{i}").as_bytes()).unwrap(),
                    Append::Written
                );
            }
            let first = s.peek().unwrap();
            assert_eq!(s.read(&first).unwrap(), b"body0");
            s.ack();
        }
        // Tear the last frame: chop 3 bytes.
        let seg = seg_path(dir.path(), 1);
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let (mut s, r) = Spool::open(dir.path(), 1 << 20, true).unwrap();
        assert_eq!(r.batches, 1, "{r:?}");
        assert_eq!(r.events, 2);
        assert_eq!(r.torn.len(), 1);
        let rec = s.peek().unwrap();
        assert_eq!(s.read(&rec).unwrap(), b"body1");
        s.ack();
        assert!(s.is_empty());
        assert!(!seg.exists());
        // Appending continues in a new segment after the cut.
        s.append(1, b"x").unwrap();
        assert_eq!(s.peek().unwrap().segment, 2);
    }

    #[test]
    fn cap_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Spool::open(dir.path(), 100, false).unwrap();
        assert!(Spool::open(dir.path(), 100, false).is_err());
        assert_eq!(s.append(1, &[b'a'; 50]).unwrap(), Append::Written);
        assert_eq!(s.append(1, &[b'a'; 50]).unwrap(), Append::Full);
        assert_eq!(s.len(), 1);
    }
}
