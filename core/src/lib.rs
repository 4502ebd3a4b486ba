//! sealtrail-core: everything the agent side and the server share.

pub mod redact;

/// The crate version, shared by every binding.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
