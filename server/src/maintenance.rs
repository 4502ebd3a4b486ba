//! The maintenance task: keeps the monthly partitions of the ingest window
//! made ahead, so that nothing a request carries creates one.
//!
//! Each run makes the missing partitions from the oldest month ingest takes
//! (`SEALTRAIL_MAX_PAST` ago) through [`MONTHS_AHEAD`] months after this one.
//! A partition is made without a lock that stops reads or writes, and the
//! locks it does take are waited for at most 2 s (migration 0005): when a
//! run gives up, the next one comes after a short backoff. Several replicas
//! may run it at once (an advisory lock orders them).

use std::time::Duration;

use crate::db;
use crate::state::AppState;

/// Months after the current one whose partitions are kept made.
pub const MONTHS_AHEAD: u32 = 2;

/// Time between runs when all is well.
const PERIOD: Duration = Duration::from_secs(3600);

/// One run: the partitions made now.
pub async fn run_once(state: &AppState) -> Result<u32, sqlx::Error> {
    db::ensure_partitions_ahead(state.db(), &state.0.window, MONTHS_AHEAD).await
}

/// Runs until the process ends: every hour, when ingest met a month without
/// its partition ([`crate::state::Inner::maintenance`]), and again after a
/// backoff (1 s doubling to 60 s) when a run failed.
pub async fn run(state: AppState) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let next = match run_once(&state).await {
            Ok(made) => {
                if made > 0 {
                    tracing::info!(target: "sealtrail::maintenance", made, "partitions made ahead");
                }
                backoff = Duration::from_secs(1);
                PERIOD
            }
            Err(e) => {
                tracing::warn!(target: "sealtrail::maintenance", error = %e, retry_in = ?backoff,
                    "making partitions failed; retrying");
                let b = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                b
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(next) => {}
            _ = state.0.maintenance.notified() => {}
        }
    }
}
