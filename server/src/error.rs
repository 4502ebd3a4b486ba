//! `ApiError`: every failure a handler can return, its status, and a JSON
//! body `{"error": kind, "detail": message}` that tells the caller what to
//! fix. Database details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{detail}")]
    Unprocessable { kind: &'static str, detail: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    /// The request's body did not arrive in time (408).
    #[error("{0}")]
    Timeout(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a database error is the server being busy, not broken: the client
/// should retry (503 with `Retry-After`).
fn busy_reason(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::PoolTimedOut => Some("every database connection is busy"),
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("57014") => Some("a database statement ran past its timeout"),
            Some("55P03") => Some("a database lock was not granted in time"),
            Some("53300") => Some("the database has no free connection"),
            // No partition for a row's month: the maintenance task makes it.
            Some("23514") if d.message().starts_with("no partition of relation") => {
                Some("the partition for an event's month is not made yet")
            }
            _ => None,
        },
        _ => None,
    }
}

impl ApiError {
    /// Whether this is a database error of a month without a partition.
    pub fn is_missing_partition(&self) -> bool {
        matches!(self, ApiError::Db(sqlx::Error::Database(d))
            if d.code().as_deref() == Some("23514") && d.message().starts_with("no partition of relation"))
    }

    pub fn status(&self) -> StatusCode {
        if let ApiError::Db(e) = self {
            if busy_reason(e).is_some() {
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Db(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn kind(&self) -> &'static str {
        if let ApiError::Db(e) = self {
            if busy_reason(e).is_some() {
                return "unavailable";
            }
        }
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Unprocessable { kind, .. } => kind,
            ApiError::Conflict(_) => "conflict",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Timeout(_) => "timeout",
            ApiError::Db(_) | ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = match &self {
            ApiError::Db(e) if busy_reason(e).is_some() => {
                tracing::warn!(target: "sealtrail::db", error = %e, "busy");
                format!(
                    "{}; retry after a few seconds",
                    busy_reason(e).unwrap_or("the database is busy")
                )
            }
            ApiError::Db(e) => {
                tracing::error!(target: "sealtrail::db", error = %e, "database error");
                "the server could not complete the request; it has been logged".to_string()
            }
            ApiError::Internal(e) => {
                tracing::error!(target: "sealtrail::http", error = %e, "internal error");
                "the server could not complete the request; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({ "error": self.kind(), "detail": detail });
        let status = self.status();
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        res
    }
}
