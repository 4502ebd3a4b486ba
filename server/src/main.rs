//! The `sealtrail` command: server, migrations, keys, verification, export,
//! retention. Each subcommand is one enum variant.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use sealtrail_core::Limits;
use sealtrail_server::auth::Role;
use sealtrail_server::config::{
    parse_duration, DbTimeouts, ServerConfig, TimeWindow, DEFAULT_DB_ROLE, MAX_PAST_LIMIT,
};
use sealtrail_server::db;
use sealtrail_server::http::export::{failure_line, format_line, trailer, Format, CSV_HEADER};
use sealtrail_server::http::verify::{chain_line, headless_line, keys_note};
use sealtrail_server::search::SearchConfig;
use sealtrail_server::AppState;

// Ingest allocates and frees per event on every worker thread; glibc's
// allocator showed as ~4% of the server's CPU there (perf), mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sealtrail",
    version,
    about = "Tamper-evident audit trail for AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// PostgreSQL URL.
    #[arg(long, env = "SEALTRAIL_DATABASE_URL")]
    database_url: Option<String>,
    /// Role every connection switches to (SET ROLE); "" for none.
    #[arg(long, env = "SEALTRAIL_DB_ROLE", default_value = DEFAULT_DB_ROLE)]
    db_role: String,
    /// Pool size.
    #[arg(long, env = "SEALTRAIL_MAX_CONNECTIONS", default_value_t = 16)]
    max_connections: u32,
    /// Longest a database statement may run (e.g. 30s, 2m).
    #[arg(long, env = "SEALTRAIL_STATEMENT_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    statement_timeout: Duration,
    /// Longest a database statement may wait for a lock.
    #[arg(long, env = "SEALTRAIL_LOCK_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    lock_timeout: Duration,
}

impl DbArgs {
    fn url(&self) -> anyhow::Result<&str> {
        self.database_url
            .as_deref()
            .context("no database: set SEALTRAIL_DATABASE_URL or pass --database-url postgres://…")
    }

    fn timeouts(&self) -> DbTimeouts {
        DbTimeouts {
            statement: self.statement_timeout,
            lock: self.lock_timeout,
        }
    }

    async fn pool(&self) -> anyhow::Result<sqlx::PgPool> {
        db::connect_configured(
            self.url()?.parse().context("SEALTRAIL_DATABASE_URL")?,
            Some(&self.db_role),
            self.max_connections,
            self.timeouts(),
        )
        .await
        .context("connecting to PostgreSQL")
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (applies pending migrations first).
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on.
        #[arg(long, env = "SEALTRAIL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Do not apply migrations on start (the login may lack the privileges).
        #[arg(long)]
        no_migrate: bool,
        /// Largest event, bytes of canonical JSON.
        #[arg(long, env = "SEALTRAIL_MAX_EVENT_BYTES", default_value_t = sealtrail_core::event::DEFAULT_MAX_EVENT_BYTES)]
        max_event_bytes: usize,
        /// Deepest nesting of an event's JSON.
        #[arg(long, env = "SEALTRAIL_MAX_DEPTH", default_value_t = sealtrail_core::event::DEFAULT_MAX_DEPTH)]
        max_depth: usize,
        /// Distinct words of each event that full-text search indexes (name,
        /// error, decision reason, then input and output values); each costs
        /// about 1 µs of database time at ingest.
        #[arg(long, env = "SEALTRAIL_SEARCH_WORDS", default_value_t = SearchConfig::default().max_words as u16,
              value_parser = clap::value_parser!(u16).range(0..=4096))]
        search_words: u16,
        /// Oldest event time ingest takes, before the server's clock (e.g.
        /// 30d); the partitions of this whole window are kept made.
        #[arg(long, env = "SEALTRAIL_MAX_PAST", default_value = "30d", value_parser = parse_duration)]
        max_past: Duration,
        /// How far after the server's clock an event's time may be (clock
        /// skew), and how far an event id's time may be from its ts.
        #[arg(long, env = "SEALTRAIL_MAX_FUTURE", default_value = "5m", value_parser = parse_duration)]
        max_future: Duration,
        #[command(flatten)]
        log: LogArgs,
        /// A request's headers must arrive within this (idle keep-alive
        /// connections close after it too).
        #[arg(long, env = "SEALTRAIL_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
        header_timeout: Duration,
        /// A request's body must arrive within this.
        #[arg(long, env = "SEALTRAIL_BODY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
        body_timeout: Duration,
        /// Serve /metrics on this address only (not on the API's listener).
        #[arg(long, env = "SEALTRAIL_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Connections open at once (at most the open-file limit less 64).
        #[arg(long, env = "SEALTRAIL_MAX_HTTP_CONNECTIONS", default_value_t = 1024,
              value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        max_http_connections: u32,
    },
    /// Apply pending migrations (run as the database owner).
    Migrate {
        #[arg(long, env = "SEALTRAIL_DATABASE_URL")]
        database_url: String,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify chains from the database (every organisation, or one), or a
    /// local ledger file offline with --ledger.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// Verify this local ledger file instead of the database.
        #[arg(long, conflicts_with_all = ["org", "agent"])]
        ledger: Option<std::path::PathBuf>,
        /// Organisation name.
        #[arg(long)]
        org: Option<String>,
        /// Only this agent's chain (needs --org).
        #[arg(long, requires = "org")]
        agent: Option<String>,
        /// A chain head kept from before (`SEQ:HASH`, or `AGENT:SEQ:HASH`
        /// for a ledger of several agents; repeatable, with --ledger): the
        /// chain must reach that seq with that link hash, else it is
        /// reported truncated or rewritten.
        #[arg(long, requires = "ledger")]
        head: Vec<String>,
        #[command(flatten)]
        log: CheckpointArgs,
    },
    /// The log's signing key, or a witness's.
    LogKey {
        #[command(subcommand)]
        command: LogKeyCommand,
    },
    /// Run an independent witness (C2SP tlog-witness): cosigns a checkpoint
    /// of the log only when it consistently extends the last one it
    /// cosigned, and refuses (and records) one that rewrites history.
    Witness {
        /// Address to listen on.
        #[arg(
            long,
            env = "SEALTRAIL_WITNESS_LISTEN",
            default_value = "127.0.0.1:8090"
        )]
        listen: SocketAddr,
        /// The witness's private key (`sealtrail log-key generate --witness`).
        #[arg(long, env = "SEALTRAIL_WITNESS_KEY_FILE")]
        key: std::path::PathBuf,
        /// Directory of the witness's state (the last checkpoint cosigned per
        /// origin); keep it where the log's operator cannot write.
        #[arg(long, env = "SEALTRAIL_WITNESS_STATE")]
        state: std::path::PathBuf,
        /// The log's verifier key, as `sealtrail log-key generate` printed it.
        #[arg(long, env = "SEALTRAIL_LOG_KEY")]
        log_key: String,
    },
    /// Export an organisation's events (oldest first).
    Export {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "jsonl")]
        format: String,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        /// Output file; standard output when absent.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Retention: drop whole partitions past every policy and not held.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Make the monthly partitions of a range of dates. The server keeps
    /// those of its ingest window made; older ones (to import old ledgers,
    /// with the window widened by SEALTRAIL_MAX_PAST) are made here.
    Partitions {
        #[command(flatten)]
        db: DbArgs,
        /// First day (YYYY-MM-DD); its month is the first made.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day (YYYY-MM-DD); its month is the last made.
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// Ship a local ledger file to a server (verified first; importing twice
    /// stores nothing twice).
    Import {
        /// The ledger file (JSON Lines written by a client with no endpoint).
        file: std::path::PathBuf,
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long, env = "SEALTRAIL_ENDPOINT")]
        endpoint: String,
        /// An API key with the ingest role.
        #[arg(long, env = "SEALTRAIL_API_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// Redact PII and secrets: plain text on stdin, or with --jsonl the
    /// `text` field of each JSON line (every other field kept).
    Redact {
        /// Read JSON Lines and redact each line's `text` field.
        #[arg(long)]
        jsonl: bool,
        /// Modes: `placeholder` (default), `partial`, `pseudonym`, `off`, or
        /// per type, e.g. `email=partial,card=off`. Repeatable.
        #[arg(long)]
        mode: Vec<String>,
        /// Also mask IP addresses.
        #[arg(long)]
        ip: bool,
        /// Custom rule `name=regex`. Repeatable.
        #[arg(long)]
        rule: Vec<String>,
        /// HMAC key for pseudonyms.
        #[arg(long, env = "SEALTRAIL_REDACT_KEY", hide_env_values = true)]
        key: Option<String>,
    },
    /// Audit this agent's kept receipts (`<spool-dir>/receipts.jsonl`)
    /// against the server's transparency log: one JSON line per event that
    /// is not ok, then a summary. Exit 0 when all is ok (pending events
    /// included), 3 when an event or the log can no longer be proved, 1 when
    /// the audit could not be done.
    AuditReceipts {
        /// The server, e.g. https://audit.example.com.
        #[arg(long, env = "SEALTRAIL_ENDPOINT")]
        endpoint: String,
        /// An API key of the organisation (the ingest key will do).
        #[arg(long, env = "SEALTRAIL_API_KEY", hide_env_values = true)]
        api_key: String,
        /// The client's spool directory (receipts and saved checkpoints).
        #[arg(long, env = "SEALTRAIL_SPOOL_DIR", default_value = ".sealtrail/spool")]
        spool_dir: std::path::PathBuf,
        /// The log's verifier key, as `sealtrail log-key generate` printed it.
        #[arg(long, env = "SEALTRAIL_LOG_KEY")]
        log_key: String,
    },
    /// Print the version.
    Version,
}

/// The transparency log of `sealtrail serve`.
#[derive(Args, Clone)]
struct LogArgs {
    /// The log's private key (`sealtrail log-key generate`); without it links
    /// are integrated but no checkpoint is signed.
    #[arg(long, env = "SEALTRAIL_LOG_KEY_FILE")]
    log_key_file: Option<std::path::PathBuf>,
    /// How often a checkpoint is signed (when the tree grew).
    #[arg(long, env = "SEALTRAIL_CHECKPOINT_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    checkpoint_interval: Duration,
    /// Write each checkpoint to DIR/<org id>/<size> and DIR/<org id>/latest.
    #[arg(long, env = "SEALTRAIL_CHECKPOINT_DIR")]
    checkpoint_dir: Option<std::path::PathBuf>,
    /// POST each checkpoint (text/plain, header X-Sealtrail-Org) here.
    #[arg(long, env = "SEALTRAIL_CHECKPOINT_WEBHOOK")]
    checkpoint_webhook: Option<String>,
    /// A witness's base URL (tlog-witness add-checkpoint). Repeatable.
    #[arg(long = "witness", env = "SEALTRAIL_WITNESSES", value_delimiter = ',')]
    witnesses: Vec<String>,
}

impl LogArgs {
    fn config(&self) -> anyhow::Result<sealtrail_server::log::LogConfig> {
        let key = match &self.log_key_file {
            Some(p) => {
                let k = sealtrail_server::witness::read_key_file(p)?;
                if k.alg() != sealtrail_core::tlog::ALG_ED25519 {
                    bail!("{} is a witness key, not a log key", p.display());
                }
                Some(k)
            }
            None => None,
        };
        Ok(sealtrail_server::log::LogConfig {
            key,
            checkpoint_interval: self.checkpoint_interval.max(Duration::from_millis(100)),
            checkpoint_dir: self.checkpoint_dir.clone(),
            webhook: self.checkpoint_webhook.clone(),
            witnesses: self.witnesses.clone(),
            ..Default::default()
        })
    }
}

/// `sealtrail verify --checkpoints`: check the stored links against the
/// checkpoints published outside the database.
#[derive(Args, Clone)]
struct CheckpointArgs {
    /// Published checkpoints: a directory of signed notes (or of one
    /// folder per organisation id, as SEALTRAIL_CHECKPOINT_DIR writes), or a
    /// URL serving one note or a /v1/checkpoints list. Needs --org and
    /// --log-key.
    #[arg(long, requires_all = ["org", "log_key"])]
    checkpoints: Option<String>,
    /// The log's verifier key (`sealtrail log-key generate` printed it).
    #[arg(long, env = "SEALTRAIL_LOG_KEY")]
    log_key: Option<String>,
    /// A witness's verifier key. Repeatable.
    #[arg(long)]
    witness_key: Vec<String>,
    /// Cosignatures of these witnesses each checkpoint must carry.
    #[arg(long, default_value_t = 0)]
    witness_threshold: usize,
    /// API key for a --checkpoints URL on a sealtrail server.
    #[arg(long, env = "SEALTRAIL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

#[derive(Subcommand)]
enum LogKeyCommand {
    /// Make a key: writes the private key to --out (mode 0600) and prints the
    /// verifier key to publish.
    Generate {
        /// Where to write the private key (refuses to overwrite).
        #[arg(long)]
        out: std::path::PathBuf,
        /// The log's name (each organisation's origin is NAME/ORG_ID), or the
        /// witness's. No spaces or '+'.
        #[arg(long, default_value = "sealtrail")]
        name: String,
        /// A witness's cosigning key (type 0x04) instead of a log key.
        #[arg(long)]
        witness: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key (and the organisation if missing); prints the key once.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: Option<String>,
        /// Limit an ingest key to these agent ids: patterns where * is any
        /// run of characters, comma separated (e.g. 'support-*').
        #[arg(long, value_delimiter = ',')]
        agents: Vec<String>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Drop the partitions that may go; say why the others stay.
    Run {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        dry_run: bool,
    },
    /// Set an organisation's retention policy in days ("none" keeps forever).
    Set {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        days: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEALTRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command))
}

async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Version => println!("sealtrail {}", sealtrail_core::version()),
        Command::Migrate { database_url } => {
            let done = db::migrate(&database_url).await.context("migrating")?;
            println!("applied migrations: {done:?}");
        }
        Command::Serve {
            db: dba,
            listen,
            no_migrate,
            max_event_bytes,
            max_depth,
            search_words,
            max_past,
            max_future,
            log,
            header_timeout,
            body_timeout,
            metrics_listen,
            max_http_connections,
        } => {
            sealtrail_server::http::ingest::BODY_TIMEOUT_MS.store(
                body_timeout.as_millis().clamp(1, u64::MAX as u128) as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            let max_http_connections = max_http_connections as usize;
            if max_past > MAX_PAST_LIMIT {
                bail!("SEALTRAIL_MAX_PAST is at most 100 years");
            }
            if max_future > Duration::from_secs(7 * 86_400) {
                bail!("SEALTRAIL_MAX_FUTURE is at most 7 days: it is for clock skew");
            }
            let cfg = ServerConfig {
                database_url: dba.url()?.to_string(),
                listen,
                db_role: Some(dba.db_role.clone()).filter(|r| !r.is_empty()),
                max_connections: dba.max_connections,
                limits: Limits {
                    max_event_bytes,
                    max_depth,
                },
                migrate: !no_migrate,
                search: SearchConfig {
                    max_words: search_words.into(),
                },
                window: TimeWindow {
                    max_past,
                    max_future,
                },
                timeouts: dba.timeouts(),
            };
            let http = sealtrail_server::serve::HttpLimits {
                header_timeout,
                max_connections: sealtrail_server::serve::fit_connections(max_http_connections),
            };
            if http.max_connections < max_http_connections {
                tracing::warn!(target: "sealtrail::http", cap = http.max_connections,
                    "SEALTRAIL_MAX_HTTP_CONNECTIONS lowered to fit the open-file limit");
            }
            serve(cfg, &dba, log.config()?, http, metrics_listen).await?;
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    db: dba,
                    org,
                    role,
                    name,
                    agents,
                },
        } => {
            let agents = (!agents.is_empty()).then_some(agents);
            if let Some(a) = &agents {
                sealtrail_server::auth::check_agent_patterns(role, a)
                    .map_err(|e| anyhow::anyhow!("--agents: {e}"))?;
            }
            if org.chars().any(char::is_control) || org.trim().is_empty() {
                bail!("--org: an organisation name is printed and logged; give one without control characters");
            }
            let pool = dba.pool().await?;
            let org_id = db::keys::org_by_name(&pool, &org).await?;
            let k =
                db::keys::create_scoped(&pool, org_id, role, name.as_deref(), agents.as_deref())
                    .await?;
            eprintln!("organisation {org} ({org_id}); key {} with role {role}. Store the key now: it is not shown again.", k.info.id);
            println!("{}", k.key);
        }
        Command::Verify {
            ledger: Some(path),
            head,
            ..
        } => {
            let heads = head
                .iter()
                .map(|h| h.parse())
                .collect::<Result<Vec<sealtrail_core::client::LedgerHead>, _>>()?;
            let report = tokio::task::spawn_blocking(move || {
                sealtrail_core::client::verify_ledger_with_heads(&path, &heads)
            })
            .await??;
            for c in &report.chains {
                println!("{}", serde_json::to_string(c)?);
            }
            for h in &report.heads {
                println!("{}", serde_json::json!({"head": h}));
            }
            for m in &report.malformed {
                println!(
                    "{}",
                    serde_json::json!({"line": m.line, "ok": false, "reason": "malformed", "detail": m.detail})
                );
            }
            let broken = report.chains.iter().filter(|c| c.broken.is_some()).count();
            eprintln!(
                "{} lines, {} chains, {broken} broken, {} malformed lines",
                report.lines,
                report.chains.len(),
                report.malformed.len()
            );
            if !report.ok() {
                std::process::exit(2);
            }
        }
        Command::Verify {
            db: dba,
            org,
            agent,
            ledger: None,
            log,
            ..
        } => verify(&dba, org, agent, log).await?,
        Command::LogKey {
            command: LogKeyCommand::Generate { out, name, witness },
        } => {
            use sealtrail_core::tlog::{Signer, ALG_COSIGNATURE_V1, ALG_ED25519};
            let alg = if witness {
                ALG_COSIGNATURE_V1
            } else {
                ALG_ED25519
            };
            let key = Signer::generate(&name, alg).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .with_context(|| format!("creating {} (it must not exist)", out.display()))?;
            writeln!(f, "{}", key.to_text())?;
            f.sync_all()?;
            eprintln!(
                "wrote the private key to {} (mode 0600; keep it out of the database and its \
                 backups). Publish the verifier key:",
                out.display()
            );
            println!("{}", key.verifier().to_text());
        }
        Command::Witness {
            listen,
            key,
            state,
            log_key,
        } => {
            let signer = sealtrail_server::witness::read_key_file(&key)?;
            let w = sealtrail_core::tlog::Witness::new(signer)
                .map_err(|e| anyhow::anyhow!("{}: {e} (make one with --witness)", key.display()))?;
            let log_key = sealtrail_core::tlog::Verifier::parse(log_key.trim())
                .map_err(|e| anyhow::anyhow!("--log-key: {e}"))?;
            let vkey = w.verifier().to_text();
            let server = sealtrail_server::witness::WitnessServer::new(w, log_key, state.clone())
                .with_context(|| format!("state directory {}", state.display()))?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(target: "sealtrail::witness", %listen, key = %vkey, "witnessing");
            sealtrail_server::serve::serve(
                listener,
                sealtrail_server::witness::router(std::sync::Arc::new(server)),
                sealtrail_server::serve::HttpLimits {
                    max_connections: sealtrail_server::serve::fit_connections(256),
                    ..Default::default()
                },
                shutdown_signal(),
            )
            .await?;
        }
        Command::Partitions { db: dba, from, to } => {
            if to < from {
                bail!("--to {to} is before --from {from}");
            }
            let months = db::months_between(from, to).len();
            if months > 1200 {
                bail!("{months} months asked for; make at most 100 years at once");
            }
            let pool = dba.pool().await?;
            let made = db::ensure_partitions(&pool, from, to).await?;
            println!(
                "{made} partition(s) made; {months} month(s) from {from} to {to} now have one"
            );
        }
        Command::AuditReceipts {
            endpoint,
            api_key,
            spool_dir,
            log_key,
        } => {
            let mut cfg = sealtrail_core::client::ClientConfig::default();
            cfg.set("endpoint", &endpoint)?;
            cfg.set("api_key", &api_key)?;
            cfg.set("log_key", &log_key)?;
            cfg.spool_dir = spool_dir;
            let r =
                tokio::task::spawn_blocking(move || sealtrail_core::client::audit_receipts(&cfg))
                    .await??;
            let mut out = std::io::stdout().lock();
            for p in &r.problems {
                writeln!(out, "{}", serde_json::to_string(p)?)?;
            }
            let summary = serde_json::json!({"summary": {
                "receipts": r.receipts, "proved": r.proved, "pending": r.pending,
                "missing": r.missing, "altered": r.altered, "proof_failed": r.proof_failed,
                "bad_checkpoint": r.bad_checkpoint, "errors": r.errors, "log": r.log,
            }});
            writeln!(out, "{summary}")?;
            out.flush()?;
            let log = r
                .log
                .iter()
                .map(|l| format!("{} {}", l.origin, l.status))
                .collect::<Vec<_>>()
                .join(", ");
            eprintln!(
                "{} receipts: {} proved, {} pending, {} missing, {} altered, {} proof failed, {} bad checkpoint, {} errors; log: {}",
                r.receipts, r.proved, r.pending, r.missing, r.altered, r.proof_failed,
                r.bad_checkpoint, r.errors, if log.is_empty() { "no checkpoint yet" } else { &log }
            );
            if r.unprovable() {
                std::process::exit(3);
            }
            if r.incomplete() {
                std::process::exit(1);
            }
        }
        Command::Import {
            file,
            endpoint,
            api_key,
        } => {
            let r = tokio::task::spawn_blocking(move || {
                sealtrail_core::client::import(&file, &endpoint, &api_key)
            })
            .await??;
            println!("{}", serde_json::to_string(&r)?);
            eprintln!(
                "imported {} events in {} batches: {} stored ({} already there), {} refused",
                r.events, r.batches, r.delivered, r.duplicates, r.rejected
            );
            if r.rejected > 0 {
                std::process::exit(2);
            }
        }
        Command::Redact {
            jsonl,
            mode,
            ip,
            rule,
            key,
        } => {
            use sealtrail_core::redact::{redact_stream, RedactConfig, Redactor};
            let mut cfg = RedactConfig::default();
            cfg.apply_env(|k| std::env::var(k).ok())?;
            for m in &mode {
                cfg.apply_mode_spec(m)?;
            }
            for r in &rule {
                cfg.add_rule_spec(r)?;
            }
            cfg.ip |= ip;
            if let Some(k) = key {
                cfg.hmac_key = Some(k.into_bytes());
            }
            let redactor = Redactor::new(cfg)?;
            let summary = tokio::task::spawn_blocking(move || {
                let stdin = std::io::stdin();
                let stdout = std::io::stdout();
                redact_stream(
                    stdin.lock(),
                    std::io::BufWriter::new(stdout.lock()),
                    jsonl,
                    &redactor,
                )
            })
            .await??;
            eprintln!(
                "{} lines, {} errors, found {:?}",
                summary.lines,
                summary.errors,
                summary.report.counts()
            );
        }
        Command::Export {
            db: dba,
            org,
            format,
            agent,
            actor,
            out,
        } => {
            let pool = dba.pool().await?;
            let format = Format::parse(Some(&format)).map_err(|e| anyhow::anyhow!("{e}"))?;
            let org_id = find_org(&pool, &org).await?;
            let filter = db::events::Filter {
                agent_id: agent,
                actor_id: actor,
                ..Default::default()
            };
            let mut w: Box<dyn Write + Send> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(&p)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            if format == Format::Csv {
                w.write_all(CSV_HEADER.as_bytes())?;
            }
            let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
            let task =
                tokio::spawn(
                    async move { db::events::export_to(&pool, org_id, &filter, tx).await },
                );
            let mut n = 0u64;
            while let Some(r) = rx.recv().await {
                w.write_all(format_line(format, &r).as_bytes())?;
                n += 1;
            }
            match task.await? {
                Ok(_) => {
                    w.write_all(trailer(format, n).as_bytes())?;
                    w.flush()?;
                    eprintln!("exported {n} events (complete)");
                }
                Err(e) => {
                    w.write_all(failure_line(format, n).as_bytes())?;
                    w.flush()?;
                    bail!("the export stopped after {n} events, incomplete: {e}");
                }
            }
        }
        Command::Retention {
            command: RetentionCommand::Run { db: dba, dry_run },
        } => {
            let pool = dba.pool().await?;
            for a in db::retention_run(&pool, dry_run).await? {
                println!("{}\t{}\t{}", a.partition, a.action, a.reason);
            }
        }
        Command::Retention {
            command: RetentionCommand::Set { db: dba, org, days },
        } => {
            let pool = dba.pool().await?;
            let org_id = find_org(&pool, &org).await?;
            let days = match days.as_str() {
                "none" | "forever" => None,
                d => Some(
                    d.parse::<i32>()
                        .ok()
                        .filter(|d| (1..=db::MAX_RETENTION_DAYS).contains(d))
                        .with_context(|| {
                            format!(
                                "--days is 1 to {} (100 years), or none",
                                db::MAX_RETENTION_DAYS
                            )
                        })?,
                ),
            };
            db::set_retention(&pool, org_id, days).await?;
            println!(
                "retention of {org}: {}",
                days.map(|d| format!("{d} days"))
                    .unwrap_or("forever".into())
            );
        }
    }
    Ok(())
}

async fn find_org(pool: &sqlx::PgPool, name: &str) -> anyhow::Result<uuid::Uuid> {
    let orgs = db::events::organizations(pool).await?;
    match orgs.into_iter().find(|(_, n)| n == name) {
        Some((id, _)) => Ok(id),
        None => bail!("no organisation named {name:?}"),
    }
}

async fn serve(
    cfg: ServerConfig,
    dba: &DbArgs,
    log: sealtrail_server::log::LogConfig,
    http: sealtrail_server::serve::HttpLimits,
    metrics_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    if cfg.migrate {
        let done = db::migrate(&cfg.database_url).await.context(
            "applying migrations (run `sealtrail migrate` as the owner, or pass --no-migrate)",
        )?;
        if !done.is_empty() {
            tracing::info!(target: "sealtrail::db", ?done, "migrations applied");
        }
    }
    let pool = dba.pool().await?;
    let pending = db::pending_migrations(&pool).await?;
    if !pending.is_empty() {
        bail!(
            "migrations {pending:?} are not applied; run `sealtrail migrate` as the database owner"
        );
    }
    let state = AppState::configured(pool, cfg.limits, cfg.search, cfg.window);
    // The window's partitions before the first request (a few tries: a
    // lock held elsewhere makes a try give up after 2 s), then kept made.
    let mut tries = 0;
    while let Err(e) = sealtrail_server::maintenance::run_once(&state).await {
        tries += 1;
        if tries >= 5 {
            tracing::warn!(target: "sealtrail::maintenance", error = %e,
                "could not make the window's partitions yet; serving, and retrying in the background");
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::spawn(sealtrail_server::maintenance::run(state.clone()));
    // The transparency log: integrate committed links, sign checkpoints.
    if let Some(k) = &log.key {
        let _ = state.0.log_key.set(k.verifier());
    }
    tokio::spawn(sealtrail_server::log::run_integrator(
        state.db().clone(),
        log.integrate_interval,
    ));
    tokio::spawn(sealtrail_server::log::run_checkpointer(
        sealtrail_server::log::Checkpointer::new(state.db().clone(), log),
    ));
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(target: "sealtrail::http", listen = %cfg.listen, "serving");
    if let Some(addr) = metrics_listen {
        let ml = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics listener {addr}"))?;
        let app = sealtrail_server::http::metrics_app(state.clone());
        tracing::info!(target: "sealtrail::http", listen = %addr, "metrics on their own listener");
        tokio::spawn(sealtrail_server::serve::serve(
            ml,
            app,
            sealtrail_server::serve::HttpLimits {
                max_connections: 64,
                ..http
            },
            std::future::pending(),
        ));
    }
    sealtrail_server::serve::serve(
        listener,
        sealtrail_server::app(state),
        http,
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// SIGINT or SIGTERM (what systemd and Kubernetes send): stop accepting,
/// finish the requests in flight, then exit.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!(target: "sealtrail::http", "shutting down: finishing requests in flight");
}

/// The signed notes of `--checkpoints` (a directory or a URL) for `org`.
async fn load_checkpoints(
    source: &str,
    org: uuid::Uuid,
    api_key: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let mut req = reqwest::Client::new().get(source);
        if let Some(k) = api_key {
            req = req.bearer_auth(k);
        }
        let res = req.send().await.with_context(|| format!("GET {source}"))?;
        if !res.status().is_success() {
            bail!("GET {source}: {}", res.status());
        }
        let text = res.text().await?;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            let notes: Vec<String> = match v.get("checkpoints") {
                Some(list) => list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["note"].as_str().map(str::to_string))
                    .collect(),
                None => v["note"].as_str().map(str::to_string).into_iter().collect(),
            };
            return Ok(notes);
        }
        return Ok(vec![text]);
    }
    let base = std::path::Path::new(source);
    let dir = if base.join(org.to_string()).is_dir() {
        base.join(org.to_string())
    } else {
        base.to_path_buf()
    };
    let mut notes = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    names.sort();
    for p in names {
        notes
            .push(std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?);
    }
    Ok(notes)
}

async fn verify(
    dba: &DbArgs,
    org: Option<String>,
    agent: Option<String>,
    log: CheckpointArgs,
) -> anyhow::Result<()> {
    let pool = dba.pool().await?;
    let orgs = match &org {
        Some(name) => vec![(find_org(&pool, name).await?, name.clone())],
        None => db::events::organizations(&pool).await?,
    };
    let started = Instant::now();
    let (mut total, mut broken) = (0u64, 0u64);
    for (org_id, name) in orgs {
        let mut keys_used = std::collections::HashMap::new();
        let results: Vec<(String, db::verify::ChainResult)> = if let Some(agent) = &agent {
            let heads = db::events::chains(&pool, org_id, Some(agent)).await?;
            let Some(head) = heads.first() else {
                bail!("no chain for agent {agent:?} in {name}");
            };
            let r = db::verify::verify_chain(&pool, org_id, head, |n| {
                eprint!(
                    "\r{name}/{agent}: {n}/{} events   ",
                    head.head_seq - head.base_seq
                );
            })
            .await?;
            vec![(head.agent_id.clone(), r)]
        } else {
            // One pass over the organisation's rows in storage order.
            let report = db::verify::verify_org(&pool, org_id, |n| {
                let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprint!("\r{name}: {n} events read ({rate:.0} events/s)   ");
            })
            .await?;
            for a in &report.headless {
                broken += 1;
                println!(
                    "{}",
                    serde_json::json!({"org": name, "line": headless_line(a)})
                );
            }
            keys_used = report.keys_used;
            report
                .chains
                .into_iter()
                .map(|(h, r)| (h.agent_id, r))
                .collect()
        };
        eprintln!();
        for (agent_id, r) in results {
            match &r {
                Ok(v) => total += v.count,
                Err(_) => broken += 1,
            }
            let mut line = chain_line(&agent_id, &r);
            keys_note(&mut line, keys_used.get(&agent_id).copied());
            println!("{}", serde_json::json!({"org": name, "line": line}));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "verified {total} events in {secs:.2} s ({:.0} events/s); {broken} broken chain(s)",
        total as f64 / secs.max(1e-9)
    );
    let mut rewritten = false;
    if let (Some(source), Some(name)) = (&log.checkpoints, &org) {
        let org_id = find_org(&pool, name).await?;
        let parse = |k: &str, what: &str| {
            sealtrail_core::tlog::Verifier::parse(k.trim())
                .map_err(|e| anyhow::anyhow!("{what} {k:?}: {e}"))
        };
        let keys = sealtrail_server::log::CheckpointKeys {
            log_key: parse(log.log_key.as_deref().unwrap_or_default(), "--log-key")?,
            witness_keys: log
                .witness_key
                .iter()
                .map(|k| parse(k, "--witness-key"))
                .collect::<anyhow::Result<_>>()?,
            threshold: log.witness_threshold,
        };
        if keys.threshold > keys.witness_keys.len() {
            bail!(
                "--witness-threshold {} is more than the --witness-key given",
                keys.threshold
            );
        }
        let notes = load_checkpoints(source, org_id, log.api_key.as_deref()).await?;
        if notes.is_empty() {
            bail!("no checkpoint in {source}");
        }
        let started = Instant::now();
        let report = sealtrail_server::log::verify_log(&pool, org_id, &notes, &keys, |n, of| {
            let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r{name}: log {n}/{of} leaves ({rate:.0}/s)   ");
        })
        .await?;
        eprintln!();
        let secs = started.elapsed().as_secs_f64();
        for p in &report.problems {
            println!("{}", serde_json::json!({"org": name, "log": p}));
        }
        eprintln!(
            "log: {} leaves recomputed in {secs:.2} s ({:.0} leaves/s), {} of {} checkpoint(s) \
             hold{}",
            report.leaves,
            report.leaves as f64 / secs.max(1e-9),
            report.checkpoints_ok,
            report.checkpoints,
            if report.pruned > 0 {
                format!(", {} leaves of events removed by retention", report.pruned)
            } else {
                String::new()
            }
        );
        if let Some(p) = report.first_broken_checkpoint() {
            eprintln!("HISTORY REWRITTEN: {}", p.detail);
        }
        rewritten = report.rewritten();
    }
    if rewritten {
        std::process::exit(3);
    }
    if broken > 0 {
        std::process::exit(2);
    }
    Ok(())
}
