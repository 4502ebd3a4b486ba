//! sealtrail-core: everything the agent side and the server share: the event
//! model, RFC 8785 canonical JSON, hashing, the chain spec and its verifier.

pub mod capture;
pub mod chain;
pub mod client;
pub mod error;
pub mod event;
pub mod hash;
pub mod jcs;
pub mod json;
pub mod wire;

pub use chain::{BreakReason, ChainBreak, ChainId, ChainRecord, Verified, Verifier};
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventId, EventType, Limits, SealedEvent, Timestamp};
pub use hash::Hash;

pub mod redact;
pub mod tlog;

/// The crate version, shared by every binding.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
