//! `sealtrail witness`: an independent witness (C2SP tlog-witness). It
//! keeps, per origin, the size and root it last cosigned, in a state
//! directory of its own, and cosigns a checkpoint only when a consistency
//! proof shows it extends that tree. A checkpoint that conflicts with one it
//! cosigned (a rewrite, a rollback, a split view) is refused, logged, and
//! appended to `refused.log` in the state directory, with the note, as
//! evidence.
//!
//! Run it where the log's operator has no access: its state is what makes
//! a rewrite of history visible.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sealtrail_core::hash::Hash;
use sealtrail_core::tlog::{self, AddCheckpoint, LogState, Verifier, Witness, WitnessError};
use tokio::sync::Mutex;

/// A witness of one log (every organisation's origin under its name).
pub struct WitnessServer {
    witness: Witness,
    /// The log's verifier key; an origin `<its name>/<org>` is checked with
    /// the same public key under the origin's name.
    log_key: Verifier,
    state_dir: PathBuf,
    /// One add-checkpoint at a time: read state, check, write state.
    lock: Mutex<()>,
}

impl WitnessServer {
    pub fn new(witness: Witness, log_key: Verifier, state_dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&state_dir)?;
        Ok(WitnessServer {
            witness,
            log_key,
            state_dir,
            lock: Mutex::new(()),
        })
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        // Origins are key names (no spaces or '+'); '/' becomes '_'.
        let file: String = origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.state_dir.join(format!("{file}.state"))
    }

    fn load(&self, origin: &str) -> Result<LogState, String> {
        let p = self.state_path(origin);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogState::empty()),
            Err(e) => return Err(format!("reading {}: {e}", p.display())),
        };
        let mut it = text.lines();
        let (Some(o), Some(size), Some(root)) = (it.next(), it.next(), it.next()) else {
            return Err(format!("{} is not a witness state file", p.display()));
        };
        if o != origin {
            return Err(format!("{} names origin {o:?}", p.display()));
        }
        Ok(LogState {
            size: size
                .parse()
                .map_err(|_| format!("{}: bad size", p.display()))?,
            root: root
                .parse::<Hash>()
                .map_err(|_| format!("{}: bad root", p.display()))?,
        })
    }

    /// Written to a temporary file, synced, renamed, and the directory
    /// synced: the state is durable before the cosignature is sent.
    fn store(&self, origin: &str, s: &LogState) -> std::io::Result<()> {
        let p = self.state_path(origin);
        let tmp = p.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{origin}\n{}\n{}", s.size, s.root)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p)?;
        std::fs::File::open(&self.state_dir)?.sync_all()
    }

    fn report_refusal(&self, origin: &str, e: &WitnessError, note: &str) {
        tracing::error!(target: "sealtrail::witness", %origin, error = %e,
            "REFUSED a checkpoint that conflicts with one this witness cosigned: the log's history \
             may have been rewritten");
        let line = serde_json::json!({
            "time": chrono::Utc::now(),
            "origin": origin,
            "error": e.to_string(),
            "note": note,
        });
        let path = self.state_dir.join("refused.log");
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(err) = r {
            tracing::error!(target: "sealtrail::witness", path = %path.display(), error = %err,
                "could not record the refusal");
        }
    }

    /// tlog-witness `add-checkpoint`: the status and body to answer.
    pub async fn add_checkpoint(&self, body: &str) -> (StatusCode, String, &'static str) {
        let text = "text/plain; charset=utf-8";
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n"), text),
        };
        // The origin is the first line of the note.
        let origin = req
            .checkpoint
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let key = match tlog::org_verifier(&self.log_key, &origin) {
            Ok(k) => k,
            Err(e) => {
                return (
                    StatusCode::NOT_FOUND,
                    format!(
                        "unknown origin {origin:?}: this witness knows the log {:?} ({e})\n",
                        self.log_key.name()
                    ),
                    text,
                )
            }
        };
        let _guard = self.lock.lock().await;
        let stored = match self.load(&origin) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(target: "sealtrail::witness", error = %e, "state unreadable");
                return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), text);
            }
        };
        let now = chrono::Utc::now().timestamp().max(1) as u64;
        match self.witness.add_checkpoint(
            &stored,
            &req.checkpoint,
            req.old_size,
            &req.proof,
            &key,
            now,
        ) {
            Ok(c) => {
                if let Err(e) = self.store(&origin, &c.state) {
                    tracing::error!(target: "sealtrail::witness", error = %e, "could not save state");
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "could not save the witness state\n".into(),
                        text,
                    );
                }
                tracing::info!(target: "sealtrail::witness", %origin, size = c.state.size, "cosigned");
                (StatusCode::OK, c.cosignature, text)
            }
            Err(e) => {
                let status =
                    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                if matches!(
                    e,
                    WitnessError::SplitView { .. }
                        | WitnessError::Inconsistent(_)
                        | WitnessError::Rollback { .. }
                ) {
                    self.report_refusal(&origin, &e, &req.checkpoint);
                }
                match e {
                    WitnessError::Conflict { stored_size, .. }
                    | WitnessError::Rollback { stored_size, .. }
                        if status == StatusCode::CONFLICT =>
                    {
                        (status, format!("{stored_size}\n"), "text/x.tlog.size")
                    }
                    e => (status, format!("{e}\n"), text),
                }
            }
        }
    }
}

async fn add_checkpoint(State(w): State<Arc<WitnessServer>>, body: Bytes) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not UTF-8\n").into_response();
    };
    let (status, body, ctype) = w.add_checkpoint(body).await;
    (status, [(header::CONTENT_TYPE, ctype)], body).into_response()
}

async fn key(State(w): State<Arc<WitnessServer>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", w.witness.verifier().to_text()),
    )
        .into_response()
}

/// The witness's router: `POST /add-checkpoint`, and `GET /` with its
/// verifier key.
pub fn router(w: Arc<WitnessServer>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/", get(key))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(w)
}

/// Reads a private key file written by `sealtrail log-key generate`.
pub fn read_key_file(path: &Path) -> anyhow::Result<tlog::Signer> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    tlog::Signer::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("{}: not a sealtrail key file: {e}", path.display()))
}
