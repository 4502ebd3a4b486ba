//! A witness (C2SP tlog-witness `add-checkpoint`) as a pure state machine,
//! and Ed25519 cosignatures (C2SP tlog-cosignature, `cosignature/v1`).
//!
//! The caller keeps one [`LogState`] per origin and must run
//! "read state, [`Witness::add_checkpoint`], write the new state" atomically
//! per origin (tlog-witness §add-checkpoint: otherwise two racing requests
//! can roll the state back), and persist the state before returning the
//! cosignature.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::hash::Hash;

use super::checkpoint::{Checkpoint, CheckpointError};
use super::leaf::empty_root;
use super::note::{self, NoteError, Signer, Verifier, ALG_COSIGNATURE_V1};
use super::tree::{check_tree, ProofError};

/// tlog-witness §add-checkpoint: a client sends at most 63 proof lines.
pub const MAX_PROOF_LINES: usize = 63;

/// The latest checkpoint a witness cosigned for one origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogState {
    pub size: u64,
    pub root: Hash,
}

impl LogState {
    /// The state of an origin never cosigned: size 0, the empty root.
    pub fn empty() -> Self {
        LogState {
            size: 0,
            root: empty_root(),
        }
    }
}

/// Why a witness refused a checkpoint. [`WitnessError::http_status`] is the
/// status tlog-witness prescribes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The request body or the checkpoint body is malformed (400).
    #[error("witness: bad request: {0}")]
    BadRequest(String),
    /// The checkpoint's origin is not the log key's name (404: unknown origin).
    #[error("witness: unknown origin {0:?} for this log key")]
    UnknownOrigin(String),
    /// No valid signature by the log key, or an invalid one (403).
    #[error("witness: checkpoint not signed by the log: {0}")]
    Unverified(NoteError),
    /// The client's old size is not the size the witness last cosigned (409;
    /// the response body is `stored_size` in decimal and a newline).
    #[error("witness: conflict: old size {old_size}, but the witness is at size {stored_size}")]
    Conflict { old_size: u64, stored_size: u64 },
    /// The checkpoint is smaller than the one last cosigned: a rollback, or a
    /// stale submission. Status 400 when `old_size` > `size` (tlog-witness),
    /// else 409 carrying the stored size.
    #[error("witness: rollback: checkpoint size {size} is below the cosigned size {stored_size}")]
    Rollback {
        stored_size: u64,
        old_size: u64,
        size: u64,
    },
    /// Same size as the cosigned checkpoint, different root: evidence of a
    /// split view (422). Keep the note.
    #[error("witness: split view at size {size}: root {root} differs from the cosigned root {stored_root}")]
    SplitView {
        size: u64,
        stored_root: Hash,
        root: Hash,
    },
    /// The consistency proof from the cosigned tree does not verify, or a
    /// size-0 checkpoint has a root other than the empty tree's (422).
    #[error("witness: inconsistent: {0}")]
    Inconsistent(String),
    /// The timestamp is 0 or above 2^63 − 1 (a caller bug: 500).
    #[error("witness: invalid timestamp {0}")]
    InvalidTimestamp(u64),
}

impl WitnessError {
    /// The HTTP status tlog-witness §add-checkpoint prescribes.
    pub fn http_status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) => 400,
            WitnessError::UnknownOrigin(_) => 404,
            WitnessError::Unverified(_) => 403,
            WitnessError::Conflict { .. } => 409,
            WitnessError::Rollback { old_size, size, .. } => {
                if old_size > size {
                    400
                } else {
                    409
                }
            }
            WitnessError::SplitView { .. } | WitnessError::Inconsistent(_) => 422,
            WitnessError::InvalidTimestamp(_) => 500,
        }
    }
}

/// A successful `add-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub checkpoint: Checkpoint,
    /// The state to persist for the origin (before replying).
    pub state: LogState,
    /// The cosignature line `— <witness name> base64(...)\n`: the response body.
    pub cosignature: String,
}

/// tlog-cosignature §Ed25519 signed message: `cosignature/v1`, the timestamp
/// line, then the checkpoint note text (final newline included).
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}")
}

/// A cosignature line by `witness` (a type 0x04 key) over the checkpoint note
/// text at `timestamp` (POSIX seconds, 1 ..= 2^63 − 1).
pub fn cosign(
    checkpoint_text: &str,
    witness: &Signer,
    timestamp: u64,
) -> Result<String, WitnessError> {
    if witness.alg() != ALG_COSIGNATURE_V1 {
        return Err(WitnessError::BadRequest(
            NoteError::WrongKeyType {
                name: witness.name().to_string(),
                alg: witness.alg(),
                want: ALG_COSIGNATURE_V1,
            }
            .to_string(),
        ));
    }
    // tlog-witness: the timestamp MUST NOT be zero; tlog-cosignature: ≤ 2^63 − 1.
    if timestamp == 0 || timestamp > i64::MAX as u64 {
        return Err(WitnessError::InvalidTimestamp(timestamp));
    }
    let sig = witness.sign_bytes(cosigned_message(checkpoint_text, timestamp).as_bytes());
    // timestamped_signature: u64be timestamp ‖ ed25519_signature[64].
    let mut raw = Vec::with_capacity(72);
    raw.extend_from_slice(&timestamp.to_be_bytes());
    raw.extend_from_slice(&sig);
    Ok(witness.line(&raw))
}

/// Checks a cosignature line (newline optional) by the witness key `witness`
/// (type 0x04) over the checkpoint note text; returns its timestamp.
pub fn verify_cosignature(
    checkpoint_text: &str,
    line: &str,
    witness: &Verifier,
) -> Result<u64, NoteError> {
    if witness.alg() != ALG_COSIGNATURE_V1 {
        return Err(NoteError::WrongKeyType {
            name: witness.name().to_string(),
            alg: witness.alg(),
            want: ALG_COSIGNATURE_V1,
        });
    }
    let line = line.strip_suffix('\n').unwrap_or(line);
    let msg = format!("{checkpoint_text}\n{line}\n");
    let (text, sigs) = note::parse(&msg)?;
    let [sig] = sigs.as_slice() else {
        return Err(NoteError::Malformed("expected one cosignature line"));
    };
    if sig.name != witness.name() || sig.key_id != witness.key_id() {
        return Err(NoteError::Unverified);
    }
    let raw = B64
        .decode(&sig.base64)
        .map_err(|_| NoteError::Malformed("signature is not base64"))?;
    match witness.verify_raw(text, &raw[4..]) {
        Some(Some(ts)) => Ok(ts),
        _ => Err(NoteError::InvalidSignature {
            name: sig.name.clone(),
            key_id: sig.key_id,
        }),
    }
}

/// A parsed `add-checkpoint` request body (tlog-witness §add-checkpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// Parses `old <size>\n`, up to 63 base64 proof lines, an empty line,
    /// then the signed checkpoint.
    pub fn parse(body: &str) -> Result<Self, WitnessError> {
        let bad = |s: &str| WitnessError::BadRequest(s.to_string());
        let (first, mut rest) = body
            .split_once('\n')
            .ok_or_else(|| bad("no old size line"))?;
        let old = first
            .strip_prefix("old ")
            .ok_or_else(|| bad("first line is not 'old <size>'"))?;
        if old.is_empty()
            || !old.bytes().all(|b| b.is_ascii_digit())
            || (old.len() > 1 && old.starts_with('0'))
        {
            return Err(bad("old size is not a decimal without leading zeros"));
        }
        let old_size = old.parse().map_err(|_| bad("old size out of range"))?;
        let mut proof = Vec::new();
        loop {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| bad("no empty line before the checkpoint"))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let h = B64
                .decode(line)
                .map_err(|_| bad("proof line is not base64"))?;
            proof.push(Hash::from_slice(&h).map_err(|_| bad("proof line is not a 32-byte hash"))?);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_string(),
        })
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&B64.encode(h.0));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }
}

/// A witness: its cosigning key (type 0x04).
#[derive(Debug, Clone)]
pub struct Witness {
    key: Signer,
}

impl Witness {
    pub fn new(key: Signer) -> Result<Self, NoteError> {
        if key.alg() != ALG_COSIGNATURE_V1 {
            return Err(NoteError::WrongKeyType {
                name: key.name().to_string(),
                alg: key.alg(),
                want: ALG_COSIGNATURE_V1,
            });
        }
        Ok(Witness { key })
    }

    pub fn verifier(&self) -> Verifier {
        self.key.verifier()
    }

    /// tlog-witness §add-checkpoint. `stored` is the state for the origin the
    /// caller trusts `log_key` for (`LogState::empty()` if never cosigned);
    /// the checkpoint's origin must be `log_key`'s name. On success, returns
    /// the cosignature line and the state to persist.
    pub fn add_checkpoint(
        &self,
        stored: &LogState,
        note_text: &str,
        old_size: u64,
        proof: &[Hash],
        log_key: &Verifier,
        now_unix: u64,
    ) -> Result<Cosigned, WitnessError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(WitnessError::BadRequest(
                "more than 63 consistency proof lines".into(),
            ));
        }
        // Verify against the log key only, ignoring other signatures.
        let n = note::open(note_text, std::slice::from_ref(log_key)).map_err(|e| match e {
            NoteError::Malformed(m) => WitnessError::BadRequest(format!("malformed note: {m}")),
            e => WitnessError::Unverified(e),
        })?;
        let c = Checkpoint::parse(&n.text).map_err(|e| match e {
            CheckpointError::Malformed(m) => WitnessError::BadRequest(m),
            CheckpointError::Note(e) => WitnessError::BadRequest(e.to_string()),
        })?;
        if c.origin != log_key.name() {
            return Err(WitnessError::UnknownOrigin(c.origin));
        }
        if c.size < stored.size {
            return Err(WitnessError::Rollback {
                stored_size: stored.size,
                old_size,
                size: c.size,
            });
        }
        if old_size > c.size {
            return Err(WitnessError::BadRequest(format!(
                "old size {old_size} is above the checkpoint size {}",
                c.size
            )));
        }
        if old_size != stored.size {
            return Err(WitnessError::Conflict {
                old_size,
                stored_size: stored.size,
            });
        }
        if c.size == 0 && c.root != empty_root() {
            return Err(WitnessError::Inconsistent(
                "a size-0 checkpoint must have the empty tree's root".into(),
            ));
        }
        if c.size == stored.size && c.root != stored.root {
            return Err(WitnessError::SplitView {
                size: c.size,
                stored_root: stored.root,
                root: c.root,
            });
        }
        if old_size == 0 {
            if !proof.is_empty() {
                return Err(WitnessError::Inconsistent(
                    "the proof from size 0 must be empty".into(),
                ));
            }
        } else {
            check_tree(proof, c.size, &c.root, old_size, &stored.root).map_err(
                |e: ProofError| {
                    WitnessError::Inconsistent(format!(
                        "consistency proof from size {old_size} to {}: {e}",
                        c.size
                    ))
                },
            )?;
        }
        let cosignature = cosign(&n.text, &self.key, now_unix)?;
        Ok(Cosigned {
            state: LogState {
                size: c.size,
                root: c.root,
            },
            checkpoint: c,
            cosignature,
        })
    }
}
