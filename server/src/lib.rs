//! sealtrail server: chained ingest into PostgreSQL, query, verify, export,
//! keys, legal holds and retention. `http::app(state)` builds the router;
//! `db` owns every SQL statement; `error` maps failures to statuses.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod log;
pub mod maintenance;
pub mod metrics;
pub mod search;
pub mod serve;
pub mod state;
pub mod witness;

pub use error::ApiError;
pub use http::app;
pub use state::AppState;
