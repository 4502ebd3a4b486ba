//! Server configuration: defaults, then `SEALTRAIL_*` environment, then flags
//! (clap reads both; see `main.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use sealtrail_core::Limits;

use crate::search::SearchConfig;

/// The role the server works as when `SEALTRAIL_DB_ROLE` is not set.
pub const DEFAULT_DB_ROLE: &str = "sealtrail_app";

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `SEALTRAIL_DATABASE_URL`: where PostgreSQL is.
    pub database_url: String,
    /// `SEALTRAIL_LISTEN` / `--listen`: address to serve on (127.0.0.1:8080).
    pub listen: SocketAddr,
    /// `SEALTRAIL_DB_ROLE`: every pooled connection runs `SET ROLE` to it, so
    /// the server holds only INSERT and SELECT on events even when its login
    /// is the owner. Empty: no `SET ROLE` (the login is already restricted).
    pub db_role: Option<String>,
    /// `SEALTRAIL_MAX_CONNECTIONS`: pool size (default 16).
    pub max_connections: u32,
    /// Per-event size and depth limits.
    pub limits: Limits,
    /// `--no-migrate` clears it: apply pending migrations on start.
    pub migrate: bool,
    /// `SEALTRAIL_SEARCH_WORDS`: what of each event full-text search indexes.
    pub search: SearchConfig,
    /// `SEALTRAIL_MAX_PAST` / `SEALTRAIL_MAX_FUTURE`: the times ingest takes.
    pub window: TimeWindow,
    /// `SEALTRAIL_STATEMENT_TIMEOUT` / `SEALTRAIL_LOCK_TIMEOUT`.
    pub timeouts: DbTimeouts,
}

/// The window around a batch's arrival that each event's `ts` must fall in.
///
/// Partitions are shared by every organisation, and nothing a request
/// carries may create them: the maintenance task keeps the partitions of
/// this window made ahead, and ingest refuses an event outside it (a
/// per-event 422 `out_of_window` that says the window). An event's id (a
/// ULID) carries a time too, which must agree with `ts` within
/// `max_future`. Late data: an agent's spool replayed after days offline is
/// taken while its events are younger than `max_past`; older ones are
/// refused, and the client keeps them in its spool's `rejected/` folder,
/// from where `sealtrail import` ships them once an operator has widened
/// the window (docs/server.md, "Partitions and the time window").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// `SEALTRAIL_MAX_PAST` (default 30 days): the oldest `ts` taken.
    pub max_past: Duration,
    /// `SEALTRAIL_MAX_FUTURE` (default 5 minutes): how far ahead of the
    /// server's clock a `ts` may be (clock skew), and how far an id's time
    /// may be from its `ts`.
    pub max_future: Duration,
}

/// The longest `SEALTRAIL_MAX_PAST`: partitions for the whole window are
/// kept made, one per month.
pub const MAX_PAST_LIMIT: Duration = Duration::from_secs(100 * 366 * 86_400);

impl Default for TimeWindow {
    fn default() -> Self {
        TimeWindow {
            max_past: Duration::from_secs(30 * 86_400),
            max_future: Duration::from_secs(5 * 60),
        }
    }
}

impl TimeWindow {
    /// The window in microseconds around `now_us`: `(oldest, newest)`.
    pub fn bounds_micros(&self, now_us: i64) -> (i64, i64) {
        let past = i64::try_from(self.max_past.as_micros()).unwrap_or(i64::MAX);
        let future = i64::try_from(self.max_future.as_micros()).unwrap_or(i64::MAX);
        (now_us.saturating_sub(past), now_us.saturating_add(future))
    }

    /// The skew allowed between an id's time and `ts`, in milliseconds.
    pub fn skew_millis(&self) -> u64 {
        u64::try_from(self.max_future.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Timeouts every pooled connection runs under (`SET` after connecting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTimeouts {
    /// `SEALTRAIL_STATEMENT_TIMEOUT` (default 30 s): the longest statement.
    /// Reads are cut into chunks well under it; a query that runs past it is
    /// cancelled by PostgreSQL and the request fails with 503.
    pub statement: Duration,
    /// `SEALTRAIL_LOCK_TIMEOUT` (default 5 s): the longest wait for a lock
    /// (a chain head another batch holds).
    pub lock: Duration,
}

impl Default for DbTimeouts {
    fn default() -> Self {
        DbTimeouts {
            statement: Duration::from_secs(30),
            lock: Duration::from_secs(5),
        }
    }
}

/// Parses a duration as written in configuration: `30d`, `5m`, `90s`,
/// `1h 30m` (humantime), or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); write e.g. 30d, 12h, 5m or 90s"))
}
