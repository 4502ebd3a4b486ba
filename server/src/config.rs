//! Server configuration: defaults, then `SEALTRAIL_*` environment, then flags
//! (clap reads both; see `main.rs`).

use std::net::SocketAddr;

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
}
