//! Checkpoints (C2SP tlog-checkpoint v1.0.0): the note text naming a tree
//! head, and origins of sealtrail logs.
//!
//! ```text
//! <origin>
//! <size, decimal, no leading zeros>
//! <base64 root>
//! [time <unix seconds, decimal, no leading zeros>]     sealtrail's one extension line
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::hash::Hash;

use super::note::{self, is_valid_name, Note, NoteError, Signer, Verifier};

/// The prefix of sealtrail's signing-time extension line.
pub const TIME_PREFIX: &str = "time ";

/// A checkpoint body that is not valid, or a checkpoint note that does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error(transparent)]
    Note(#[from] NoteError),
}

fn malformed(s: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(s.into())
}

/// A tree head: origin, size, root, and extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines without their newline (tlog-checkpoint §Note text 4:
    /// opaque, non-empty). sealtrail writes at most one, `time <unix>`.
    pub extensions: Vec<String>,
}

/// The origin of the log of organisation `org_id` on the log `log_name`:
/// `<log-name>/<org_id>` (e.g. `log.example.com/sealtrail/<org uuid>`). The
/// origin is also the name of the log's signing key, so it must be a valid
/// key name (no spaces, no `+`, no control characters).
pub fn origin(log_name: &str, org_id: &str) -> Result<String, CheckpointError> {
    if log_name.is_empty() || org_id.is_empty() || org_id.contains('/') {
        return Err(malformed(
            "origin: log name and organisation must be non-empty, the organisation without '/'",
        ));
    }
    let o = format!("{log_name}/{org_id}");
    if !is_valid_name(&o) {
        return Err(malformed(format!("origin {o:?} is not a valid key name")));
    }
    Ok(o)
}

fn parse_decimal(s: &str) -> Option<u64> {
    // tlog-checkpoint §Note text 2: ASCII decimal, no leading zeros (but "0").
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Adds the signing-time extension line `time <unix seconds>`.
    pub fn with_time(mut self, unix_seconds: u64) -> Self {
        self.extensions.push(format!("{TIME_PREFIX}{unix_seconds}"));
        self
    }

    /// The signing time from the `time` extension line, if there is one.
    pub fn time(&self) -> Option<u64> {
        self.extensions
            .iter()
            .find_map(|l| l.strip_prefix(TIME_PREFIX).and_then(parse_decimal))
    }

    /// The note text (the checkpoint body), validated.
    pub fn to_text(&self) -> Result<String, CheckpointError> {
        let line_ok = |l: &str| !l.is_empty() && !l.chars().any(|c| c.is_control());
        if !line_ok(&self.origin) {
            return Err(malformed(
                "origin must be non-empty, without control characters",
            ));
        }
        if let Some(l) = self.extensions.iter().find(|l| !line_ok(l)) {
            return Err(malformed(format!(
                "extension line {l:?} must be non-empty, without control characters"
            )));
        }
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for l in &self.extensions {
            s.push_str(l);
            s.push('\n');
        }
        Ok(s)
    }

    /// Parses a checkpoint body (a note text): at least three non-empty
    /// lines, each ending in a newline; no empty line anywhere.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        note::check_text(text)?;
        let body = &text[..text.len() - 1];
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("fewer than three lines"));
        };
        if origin.is_empty() {
            return Err(malformed("empty origin line"));
        }
        let size = parse_decimal(size)
            .ok_or_else(|| malformed("tree size is not a decimal without leading zeros"))?;
        let root_bytes = B64
            .decode(root)
            .map_err(|_| malformed("root hash is not base64"))?;
        if root_bytes.len() != 32 || B64.encode(&root_bytes) != root {
            return Err(malformed("root hash is not the base64 of 32 bytes"));
        }
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(malformed("empty line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root: Hash::from_slice(&root_bytes).map_err(|e| malformed(e.message()))?,
            extensions,
        })
    }

    /// The signed checkpoint note. The log's key name should be the origin
    /// (tlog-checkpoint §Signatures); sealtrail requires it.
    pub fn sign(&self, log_key: &Signer) -> Result<String, CheckpointError> {
        if log_key.name() != self.origin {
            return Err(malformed(format!(
                "the log key {:?} is not named after the origin {:?}",
                log_key.name(),
                self.origin
            )));
        }
        Ok(note::sign(&self.to_text()?, &[log_key])?)
    }

    /// Opens a signed checkpoint with the log's key (named after the origin)
    /// and any other known keys (witnesses'), and parses the body.
    pub fn open(
        msg: &str,
        log_key: &Verifier,
        others: &[Verifier],
    ) -> Result<(Checkpoint, Note), CheckpointError> {
        let mut known = Vec::with_capacity(others.len() + 1);
        known.push(log_key.clone());
        known.extend_from_slice(others);
        let n = note::open(msg, &known)?;
        if !n
            .sigs
            .iter()
            .any(|s| s.name == log_key.name() && s.key_id == log_key.key_id())
        {
            return Err(NoteError::Unverified.into());
        }
        let c = Checkpoint::parse(&n.text)?;
        if c.origin != log_key.name() {
            return Err(malformed(format!(
                "origin {:?} is not the log key's name {:?}",
                c.origin,
                log_key.name()
            )));
        }
        Ok((c, n))
    }
}
