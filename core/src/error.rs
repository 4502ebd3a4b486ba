//! The one error type of the core. Every binding maps `ErrorKind` to its own
//! error class; the server maps it to an HTTP status.

use std::fmt;

/// What went wrong, as a stable machine-readable kind (`as_str()` is part of
/// the API: Node errors carry it as `code`, the server as `error`).
/// Exhaustive on purpose: every binding maps each kind explicitly, and a new
/// kind is a compile error there until it is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The bytes are not valid UTF-8.
    InvalidUtf8,
    /// The bytes are not valid JSON, or JSON of the wrong shape.
    MalformedJson,
    /// A field is missing, unknown, or has a value outside its rules.
    InvalidEvent,
    /// The event is larger than the configured limit.
    TooLarge,
    /// The JSON nests deeper than the configured limit.
    TooDeep,
    /// A client-supplied hash does not match the recomputed one.
    HashMismatch,
    /// Configuration is invalid.
    Config,
    /// An I/O operation failed.
    Io,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::InvalidEvent => "invalid_event",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::HashMismatch => "hash_mismatch",
            ErrorKind::Config => "config",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with its kind and a message that says what was wrong and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidEvent, message)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
