//! The native half of the `sealtrail` npm package: converts JavaScript values
//! and maps errors; every piece of logic lives in `sealtrail-core`.

use napi_derive::napi;

/// The sealtrail version.
#[napi]
pub fn version() -> String {
    sealtrail_core::version().to_string()
}
