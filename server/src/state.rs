//! Shared state of the router: the pool, limits, metrics, and small caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sealtrail_core::Limits;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::TimeWindow;
use crate::metrics::Metrics;
use crate::search::SearchConfig;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub db: PgPool,
    pub limits: Limits,
    /// What of each event full-text search indexes.
    pub search: SearchConfig,
    pub metrics: Metrics,
    /// The times ingest takes, around each batch's arrival.
    pub window: TimeWindow,
    /// Wakes the maintenance task early (ingest met a month without its
    /// partition).
    pub maintenance: tokio::sync::Notify,
    /// The log's verifier key, when the server signs checkpoints: `POST
    /// /v1/verify` checks the stored checkpoints with it.
    pub log_key: std::sync::OnceLock<sealtrail_core::tlog::Verifier>,
    /// `/metrics` is served on its own listener (`SEALTRAIL_METRICS_LISTEN`),
    /// not on the API's.
    pub metrics_elsewhere: std::sync::atomic::AtomicBool,
    /// When each key's `last_used_at` was last written, to write it at most
    /// once a minute rather than on every request.
    pub key_touched: Mutex<HashMap<Uuid, Instant>>,
}

impl AppState {
    pub fn new(db: PgPool, limits: Limits) -> Self {
        Self::with_search(db, limits, SearchConfig::default())
    }
    pub fn with_search(db: PgPool, limits: Limits, search: SearchConfig) -> Self {
        Self::configured(db, limits, search, TimeWindow::default())
    }
    pub fn configured(
        db: PgPool,
        limits: Limits,
        search: SearchConfig,
        window: TimeWindow,
    ) -> Self {
        AppState(Arc::new(Inner {
            db,
            limits,
            search,
            metrics: Metrics::default(),
            window,
            maintenance: tokio::sync::Notify::new(),
            log_key: std::sync::OnceLock::new(),
            metrics_elsewhere: std::sync::atomic::AtomicBool::new(false),
            key_touched: Mutex::new(HashMap::new()),
        }))
    }
    pub fn db(&self) -> &PgPool {
        &self.0.db
    }
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
}
