//! The client's one typed configuration: defaults, then `SEALTRAIL_*`
//! environment variables, then explicit values. Every field is documented
//! here and only here; bindings pass their keyword arguments through
//! [`ClientConfig::set`] so that parsing lives in core.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::event::Limits;
use crate::redact::RedactConfig;

/// What a `model_call` keeps of its prompt messages besides `prompt_hash`
/// (which is always taken from the messages as given, before redaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptStorage {
    /// Only the hash.
    None,
    /// Default. The messages under `inputs.messages`, redacted like every
    /// other payload.
    #[default]
    Redacted,
    /// The messages under `inputs.messages` exactly as given: the rest of
    /// the event is still redacted.
    Full,
}

impl FromStr for PromptStorage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(PromptStorage::None),
            "redacted" => Ok(PromptStorage::Redacted),
            "full" => Ok(PromptStorage::Full),
            _ => Err(config_err(format!(
                "prompt_storage = {s:?}: expected none, redacted or full"
            ))),
        }
    }
}

/// What `record()` does when the in-memory queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Default. The worker writes batches to the disk spool instead of
    /// holding them in memory as soon as the queue passes its high-water
    /// mark or the server falls behind, so the queue rarely fills; if it
    /// fills all the same (the worker cannot even keep up with the disk),
    /// the newest event is dropped and counted. `record()` never blocks.
    Spill,
    /// Keep at most a few batches in memory; when the server falls behind
    /// the queue fills and the newest event is dropped and counted.
    /// (Batches still go to the spool while the server is unreachable.)
    DropNewest,
    /// `record()` waits up to the given time for room in the queue, then
    /// drops the event and counts it. Applies back-pressure to the agent.
    Block(Duration),
}

impl fmt::Display for OverflowPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverflowPolicy::Spill => f.write_str("spill"),
            OverflowPolicy::DropNewest => f.write_str("drop_newest"),
            OverflowPolicy::Block(d) => write!(f, "block:{}", d.as_millis()),
        }
    }
}

impl FromStr for OverflowPolicy {
    type Err = Error;
    /// `spill`, `drop_newest` (or `drop`), `block` (100 ms) or `block:MILLIS`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "spill" => Ok(OverflowPolicy::Spill),
            "drop" | "drop_newest" | "drop-newest" => Ok(OverflowPolicy::DropNewest),
            "block" => Ok(OverflowPolicy::Block(Duration::from_millis(100))),
            _ => match s.strip_prefix("block:") {
                Some(ms) => Ok(OverflowPolicy::Block(Duration::from_millis(parse_u64(
                    "overflow", ms,
                )?))),
                None => Err(config_err(format!(
                    "overflow {s:?} is not one of spill, drop_newest, block, block:MILLIS"
                ))),
            },
        }
    }
}

/// How request bodies are compressed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    /// Needs the `zstd` cargo feature (on by default).
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "identity" | "" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" if cfg!(feature = "zstd") => Ok(Compression::Zstd),
            "zstd" => Err(config_err(
                "compression zstd needs sealtrail-core built with the `zstd` feature; use gzip",
            )),
            other => Err(config_err(format!(
                "compression {other:?} is not one of none, gzip, zstd"
            ))),
        }
    }
}

/// Everything the client can be told. Build with [`ClientConfig::default`]
/// (no environment), [`ClientConfig::from_env`] (defaults then environment),
/// then set fields directly or by name with [`ClientConfig::set`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `SEALTRAIL_ENDPOINT`: base URL of the sealtrail server
    /// (`https://audit.example.com`); batches go to `{endpoint}/v1/events`.
    /// Default none: events go to the local ledger file instead.
    pub endpoint: Option<String>,
    /// `SEALTRAIL_API_KEY`: sent as `Authorization: Bearer <key>`. Never logged.
    pub api_key: Option<String>,
    /// `SEALTRAIL_AGENT_ID`: the agent id bindings put on events they make.
    /// Default `"default"`.
    pub agent_id: String,
    /// `SEALTRAIL_SPOOL_DIR`: directory of the disk spool (segment files and
    /// `rejected/`), and of the kept receipts (`receipts.jsonl`) and the
    /// checkpoint saved by `audit_receipts` (`checkpoints.json`). One client
    /// process at a time per directory (locked). Default `.sealtrail/spool`
    /// under the working directory.
    pub spool_dir: PathBuf,
    /// `SEALTRAIL_SPOOL_MAX_BYTES`: cap on the spool's size on disk. A batch
    /// that would pass it is dropped, counted (`dropped`, `spool_full`) and
    /// logged. Default 1 GiB.
    pub spool_max_bytes: u64,
    /// `SEALTRAIL_LEDGER_PATH`: the local ledger file (JSON Lines) used when
    /// no endpoint is set. Default `sealtrail-ledger.jsonl`.
    pub ledger_path: PathBuf,
    /// `SEALTRAIL_BATCH_SIZE`: most events per HTTP request / spool record.
    /// Default 512.
    pub batch_size: usize,
    /// `SEALTRAIL_LINGER_MS`: how long a partial batch waits for more
    /// events before it is sent. Default 200 ms.
    pub linger: Duration,
    /// `SEALTRAIL_QUEUE_CAPACITY`: slots in the in-memory queue; a slot
    /// holds one event, or a synchronous tool call with its end (Node's
    /// wrapped tools). Default 100,000.
    pub queue_capacity: usize,
    /// `SEALTRAIL_HIGH_WATER`: fraction (0..1] of `queue_capacity` past
    /// which the worker spools instead of sending (policy `spill` only).
    /// Default 0.5.
    pub high_water: f64,
    /// `SEALTRAIL_OVERFLOW`: see [`OverflowPolicy`]. Default `spill`.
    pub overflow: OverflowPolicy,
    /// `SEALTRAIL_MAX_IN_MEMORY_BATCHES`: sealed batches held in memory
    /// waiting for the server before the worker spools (policy `spill`) or
    /// stops taking from the queue (other policies). Default 4.
    pub max_in_memory_batches: usize,
    /// `SEALTRAIL_COMPRESSION`: `none`, `gzip` or `zstd`. Default `gzip`.
    pub compression: Compression,
    /// `SEALTRAIL_FSYNC`: fsync the spool and ledger after every batch
    /// (`true`/`false`). Default true: a batch counted as spooled survives a
    /// power cut.
    pub fsync: bool,
    /// `SEALTRAIL_HMAC_KEY`: per-deployment secret for keyed hashes of
    /// redacted values (handed to the redactor). Never logged.
    pub hmac_key: Option<String>,
    /// `SEALTRAIL_REQUEST_TIMEOUT_MS`: whole-request timeout. Default 10 s.
    pub request_timeout: Duration,
    /// `SEALTRAIL_CONNECT_TIMEOUT_MS`: TCP+TLS connect timeout. Default 3 s.
    pub connect_timeout: Duration,
    /// `SEALTRAIL_BACKOFF_INITIAL_MS`: first retry delay. Default 200 ms.
    pub backoff_initial: Duration,
    /// `SEALTRAIL_BACKOFF_MAX_MS`: largest retry delay of the exponential
    /// backoff. A server's `Retry-After` is honoured as given, up to 10
    /// minutes. Default 30 s.
    pub backoff_max: Duration,
    /// `SEALTRAIL_SHUTDOWN_TIMEOUT_MS`: what `Drop` gives `shutdown`.
    /// Default 5 s.
    pub shutdown_timeout: Duration,
    /// `SEALTRAIL_MAX_EVENT_BYTES` / `SEALTRAIL_MAX_DEPTH`: event limits.
    pub limits: Limits,
    /// What the worker redacts before anything is written or sent (parsed by
    /// `RedactConfig::set`): `SEALTRAIL_REDACT_MODE` (`placeholder`,
    /// `partial`, `pseudonym`, `off`, or per type: `email=partial,card=off`),
    /// `SEALTRAIL_REDACT_IP` (`true` masks IP addresses; default off),
    /// `SEALTRAIL_REDACT_KEY` (HMAC key for pseudonyms; `hmac_key` when
    /// unset), `SEALTRAIL_REDACT_SENSITIVE_KEYS` (comma-separated JSON keys
    /// whose values are masked whole, added to the defaults),
    /// `SEALTRAIL_REDACT_RULES` (custom rules `name=regex`, one per line).
    /// Default: every type on, as placeholders.
    pub redact: RedactConfig,
    /// `SEALTRAIL_PROMPT_STORAGE`: what a `model_call` keeps of its prompt
    /// messages besides their hash: `none`, `redacted` (default) or `full`
    /// (stored unredacted; everything else in the event is still redacted).
    pub prompt_storage: PromptStorage,
    /// `SEALTRAIL_RECEIPTS_MAX`: receipts the client keeps in
    /// `<spool_dir>/receipts.jsonl` for [`audit_receipts`](super::audit_receipts)
    /// (the newest; the newest of each agent always). 0 keeps none. Default
    /// 10,000.
    pub receipts_max: usize,
    /// `SEALTRAIL_LOG_KEY`: the transparency log's verifier key
    /// (`<log-name>+<keyid>+<base64>`, as `sealtrail log-key generate`
    /// prints it), which `audit_receipts` checks checkpoints against.
    pub log_key: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            endpoint: None,
            api_key: None,
            agent_id: "default".into(),
            spool_dir: PathBuf::from(".sealtrail/spool"),
            spool_max_bytes: 1 << 30,
            ledger_path: PathBuf::from("sealtrail-ledger.jsonl"),
            batch_size: 512,
            linger: Duration::from_millis(200),
            queue_capacity: 100_000,
            high_water: 0.5,
            overflow: OverflowPolicy::Spill,
            max_in_memory_batches: 4,
            compression: Compression::Gzip,
            fsync: true,
            hmac_key: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(5),
            limits: Limits::default(),
            redact: RedactConfig::default(),
            prompt_storage: PromptStorage::Redacted,
            receipts_max: 10_000,
            log_key: None,
        }
    }
}

/// The names [`ClientConfig::set`] accepts; the environment variable is
/// `SEALTRAIL_` + the upper-cased name.
pub const CONFIG_KEYS: &[&str] = &[
    "endpoint",
    "api_key",
    "agent_id",
    "spool_dir",
    "spool_max_bytes",
    "ledger_path",
    "batch_size",
    "linger_ms",
    "queue_capacity",
    "high_water",
    "overflow",
    "max_in_memory_batches",
    "compression",
    "fsync",
    "hmac_key",
    "request_timeout_ms",
    "connect_timeout_ms",
    "backoff_initial_ms",
    "backoff_max_ms",
    "shutdown_timeout_ms",
    "max_event_bytes",
    "max_depth",
    "redact_mode",
    "redact_ip",
    "redact_key",
    "redact_sensitive_keys",
    "redact_rules",
    "prompt_storage",
    "receipts_max",
    "log_key",
];

fn config_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg)
}

fn parse_u64(key: &str, v: &str) -> Result<u64> {
    v.trim()
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| config_err(format!("{key} = {v:?} is not a non-negative integer")))
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(config_err(format!("{key} = {v:?} is not true or false"))),
    }
}

fn non_empty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

impl ClientConfig {
    /// Defaults, then every `SEALTRAIL_*` variable that is set.
    pub fn from_env() -> Result<Self> {
        let mut c = ClientConfig::default();
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    /// Applies variables from `get` (for tests: a map instead of the process
    /// environment). Unknown `SEALTRAIL_*` variables are ignored.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        for key in CONFIG_KEYS {
            let var = format!("SEALTRAIL_{}", key.to_ascii_uppercase());
            if let Some(v) = get(&var) {
                self.set(key, &v)
                    .map_err(|e| config_err(format!("{var}: {}", e.message())))?;
            }
        }
        Ok(())
    }

    /// Sets one field by name (see [`CONFIG_KEYS`]) from its text form: the
    /// one parser both the environment and the bindings use.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let ms = |v: &str| parse_u64(key, v).map(Duration::from_millis);
        match key {
            "endpoint" => {
                self.endpoint = match non_empty(value) {
                    None => None,
                    Some(e) => {
                        if !(e.starts_with("http://") || e.starts_with("https://")) {
                            return Err(config_err(format!(
                                "endpoint {e:?} must start with http:// or https://"
                            )));
                        }
                        Some(e.trim_end_matches('/').to_string())
                    }
                }
            }
            "api_key" => self.api_key = non_empty(value),
            "agent_id" => {
                self.agent_id =
                    non_empty(value).ok_or_else(|| config_err("agent_id must not be empty"))?
            }
            "spool_dir" => self.spool_dir = PathBuf::from(value),
            "spool_max_bytes" => self.spool_max_bytes = parse_u64(key, value)?,
            "ledger_path" => self.ledger_path = PathBuf::from(value),
            "batch_size" => self.batch_size = parse_u64(key, value)? as usize,
            "linger_ms" => self.linger = ms(value)?,
            "queue_capacity" => self.queue_capacity = parse_u64(key, value)? as usize,
            "high_water" => {
                self.high_water = value
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| config_err(format!("high_water = {value:?} is not a number")))?
            }
            "overflow" => self.overflow = value.parse()?,
            "max_in_memory_batches" => self.max_in_memory_batches = parse_u64(key, value)? as usize,
            "compression" => self.compression = value.parse()?,
            "fsync" => self.fsync = parse_bool(key, value)?,
            "hmac_key" => self.hmac_key = non_empty(value),
            "request_timeout_ms" => self.request_timeout = ms(value)?,
            "connect_timeout_ms" => self.connect_timeout = ms(value)?,
            "backoff_initial_ms" => self.backoff_initial = ms(value)?,
            "backoff_max_ms" => self.backoff_max = ms(value)?,
            "shutdown_timeout_ms" => self.shutdown_timeout = ms(value)?,
            "max_event_bytes" => self.limits.max_event_bytes = parse_u64(key, value)? as usize,
            "max_depth" => self.limits.max_depth = parse_u64(key, value)? as usize,
            "prompt_storage" => self.prompt_storage = value.parse()?,
            "receipts_max" => self.receipts_max = parse_u64(key, value)? as usize,
            "log_key" => self.log_key = non_empty(value),
            k if k.starts_with("redact_") => self
                .redact
                .set(k, value)
                .map_err(|e| config_err(format!("{k} = {value:?}: {e}")))?,
            _ => {
                return Err(config_err(format!(
                    "unknown setting {key:?}; known: {}",
                    CONFIG_KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Checks ranges; called by `Client::new`.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.batch_size > 100_000 {
            return Err(config_err("batch_size must be between 1 and 100000"));
        }
        if self.queue_capacity == 0 {
            return Err(config_err("queue_capacity must be at least 1"));
        }
        if !(self.high_water > 0.0 && self.high_water <= 1.0) {
            return Err(config_err("high_water must be in (0, 1]"));
        }
        if self.max_in_memory_batches == 0 {
            return Err(config_err("max_in_memory_batches must be at least 1"));
        }
        if self.endpoint.is_some() && self.api_key.is_none() {
            return Err(config_err(
                "an endpoint needs an API key: set SEALTRAIL_API_KEY or api_key",
            ));
        }
        if self.compression == Compression::Zstd && !cfg!(feature = "zstd") {
            return Err(config_err("compression zstd needs the `zstd` feature"));
        }
        Ok(())
    }

    /// Queue depth past which the worker spools (policy `spill`).
    pub(crate) fn high_water_mark(&self) -> usize {
        ((self.queue_capacity as f64) * self.high_water).ceil() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_then_env_then_explicit() {
        let env: HashMap<&str, &str> = [
            ("SEALTRAIL_ENDPOINT", "http://127.0.0.1:9/"),
            ("SEALTRAIL_API_KEY", "k"),
            ("SEALTRAIL_BATCH_SIZE", "64"),
            ("SEALTRAIL_LINGER_MS", "5"),
            ("SEALTRAIL_OVERFLOW", "block:250"),
            ("SEALTRAIL_FSYNC", "false"),
            ("SEALTRAIL_COMPRESSION", "none"),
        ]
        .into_iter()
        .collect();
        let mut c = ClientConfig::default();
        assert_eq!(c.batch_size, 512);
        c.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(c.batch_size, 64);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(
            c.overflow,
            OverflowPolicy::Block(Duration::from_millis(250))
        );
        assert!(!c.fsync);
        assert_eq!(c.compression, Compression::None);
        c.set("batch_size", "8").unwrap();
        assert_eq!(c.batch_size, 8);
        c.validate().unwrap();
    }

    #[test]
    fn errors_name_the_variable() {
        let mut c = ClientConfig::default();
        let e = c
            .apply_env(|k| (k == "SEALTRAIL_QUEUE_CAPACITY").then(|| "lots".into()))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("SEALTRAIL_QUEUE_CAPACITY"), "{e}");
        assert!(c.set("colour", "red").is_err());
        assert!(c.set("endpoint", "ftp://x").is_err());
        c.set("endpoint", "http://x").unwrap();
        assert!(c.validate().unwrap_err().message().contains("API key"));
    }
}
