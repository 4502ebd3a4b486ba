//! The `sealtrail._native` extension module: converts Python values and maps
//! errors; every piece of logic lives in `sealtrail-core`.

use pyo3::prelude::*;

/// The sealtrail version.
#[pyfunction]
fn version() -> &'static str {
    sealtrail_core::version()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
