//! Core `ErrorKind` → Python exception class. `SealtrailError` is raised for
//! API misuse only; auditing failures never reach the agent.

use pyo3::prelude::*;
use sealtrail_core::{Error, ErrorKind};

pyo3::create_exception!(
    sealtrail,
    SealtrailError,
    pyo3::exceptions::PyException,
    "Base class of every sealtrail error. `kind` is the core error kind."
);
pyo3::create_exception!(
    sealtrail,
    InvalidEventError,
    SealtrailError,
    "invalid_event, invalid_utf8, malformed_json"
);
pyo3::create_exception!(
    sealtrail,
    TooLargeError,
    SealtrailError,
    "too_large, too_deep"
);
pyo3::create_exception!(sealtrail, ConfigError, SealtrailError, "config");
pyo3::create_exception!(sealtrail, SealtrailIOError, SealtrailError, "io");
pyo3::create_exception!(
    sealtrail,
    HashMismatchError,
    SealtrailError,
    "hash_mismatch"
);

/// Converts a core error into its Python exception, with `.kind` set.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.message().to_owned();
    let err = match e.kind() {
        ErrorKind::InvalidEvent | ErrorKind::InvalidUtf8 | ErrorKind::MalformedJson => {
            InvalidEventError::new_err(msg)
        }
        ErrorKind::TooLarge | ErrorKind::TooDeep => TooLargeError::new_err(msg),
        ErrorKind::Config => ConfigError::new_err(msg),
        ErrorKind::Io => SealtrailIOError::new_err(msg),
        ErrorKind::HashMismatch => HashMismatchError::new_err(msg),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("kind", e.kind().as_str());
    });
    err
}

/// `.map_err(errors::to_py)` in one word, like lancedb's `.infer_error()`.
pub trait IntoPyErr<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyErr<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SealtrailError", py.get_type::<SealtrailError>())?;
    m.add("InvalidEventError", py.get_type::<InvalidEventError>())?;
    m.add("TooLargeError", py.get_type::<TooLargeError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("SealtrailIOError", py.get_type::<SealtrailIOError>())?;
    m.add("HashMismatchError", py.get_type::<HashMismatchError>())?;
    Ok(())
}
