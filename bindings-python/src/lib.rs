//! The `sealtrail._native` extension module: converts Python values and maps
//! errors; every piece of logic lives in `sealtrail-core`.

mod client;
mod convert;
mod errors;
mod event;

use pyo3::prelude::*;

/// The sealtrail version.
#[pyfunction]
fn version() -> &'static str {
    sealtrail_core::version()
}

/// The JSON that `value` becomes in an event, in RFC 8785 canonical form.
///
/// >>> to_json({"b": 1, "a": (1.5, None)})
/// '{"a":[1.5,null],"b":1}'
#[pyfunction]
fn to_json(value: &Bound<'_, PyAny>) -> String {
    sealtrail_core::jcs::to_string(&convert::to_value(value))
}

/// SHA-256 (hex) of the RFC 8785 form of `messages`, as recorded in
/// `prompt_hash`: lets you later answer "was this the prompt?".
#[pyfunction]
fn prompt_hash(messages: &Bound<'_, PyAny>) -> String {
    sealtrail_core::hash::prompt_hash(&convert::to_value(messages))
}

/// A new ULID (26 characters), monotonic within the process.
#[pyfunction]
fn new_id() -> String {
    sealtrail_core::EventId::generate().to_string()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(to_json, m)?)?;
    m.add_function(wrap_pyfunction!(prompt_hash, m)?)?;
    m.add_function(wrap_pyfunction!(new_id, m)?)?;
    errors::register(m)?;
    event::register(m)?;
    client::register(m)?;
    Ok(())
}
