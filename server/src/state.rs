//! Shared state of the router: the pool, limits, metrics, and small caches.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sealtrail_core::Limits;
use sqlx::PgPool;
use uuid::Uuid;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub db: PgPool,
    pub limits: Limits,
    pub metrics: Metrics,
    /// Months (year * 12 + month - 1) whose partition is known to exist.
    pub partitions: Mutex<HashSet<i32>>,
    /// When each key's `last_used_at` was last written, to write it at most
    /// once a minute rather than on every request.
    pub key_touched: Mutex<HashMap<Uuid, Instant>>,
}

impl AppState {
    pub fn new(db: PgPool, limits: Limits) -> Self {
        AppState(Arc::new(Inner {
            db,
            limits,
            metrics: Metrics::default(),
            partitions: Mutex::new(HashSet::new()),
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
