//! `GET /v1/export?format=jsonl|csv` and `GET /v1/subjects/{actor_id}/export`:
//! streamed, oldest first, compliance and admin keys only.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::events::{record_json, FilterParams};
use crate::auth::{Auth, Perm};
use crate::db::events::{self, BadRow, Filter, StoredEvent};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s.unwrap_or("jsonl") {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(ApiError::BadRequest(format!(
                "format={other:?}; expected jsonl or csv"
            ))),
        }
    }
}

pub const CSV_HEADER: &str = "id,seq,ts,agent_id,type,actor_id,session_id,trace_id,parent_id,name,decision,error_type,cost_usd,latency_ms,content_hash,prev_hash,hash,event\n";

/// One CSV cell. A cell a spreadsheet would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return: text an agent's tool
/// saw can) is written with a leading `'`, which spreadsheets show as text
/// (OWASP's CSV injection advice); the JSON Lines export is exact.
fn csv_field(out: &mut String, s: &str) {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let s: std::borrow::Cow<str> = if formula {
        format!("'{s}").into()
    } else {
        s.into()
    };
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&s);
    }
}

/// One export line in `format`.
pub fn format_line(format: Format, r: &Result<StoredEvent, BadRow>) -> String {
    match (format, r) {
        (Format::Jsonl, r) => {
            let mut s = record_json(r).to_string();
            s.push('\n');
            s
        }
        (Format::Csv, Err(b)) => format!(
            ",{},,,,,,,,,,,,,,,,\"unreadable: {}\"\n",
            b.seq,
            b.detail.replace('"', "\"\"")
        ),
        (Format::Csv, Ok(s)) => {
            let e = &s.event;
            let mut out = String::with_capacity(512);
            let opt = |o: &Option<String>| o.clone().unwrap_or_default();
            let fields = [
                e.id.to_string(),
                s.seq.to_string(),
                e.ts.to_string(),
                e.agent_id.clone(),
                e.kind.as_str().to_string(),
                opt(&e.actor_id),
                opt(&e.session_id),
                opt(&e.trace_id),
                opt(&e.parent_id),
                opt(&e.name),
                e.decision
                    .as_ref()
                    .map(|d| d.outcome.as_str().to_string())
                    .unwrap_or_default(),
                e.error.as_ref().map(|x| x.kind.clone()).unwrap_or_default(),
                opt(&e.cost_usd),
                e.latency_ms.map(|v| v.to_string()).unwrap_or_default(),
                s.content_hash.to_hex(),
                s.prev_hash.to_hex(),
                s.hash.to_hex(),
                String::from_utf8_lossy(&e.canonical_bytes()).into_owned(),
            ];
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                csv_field(&mut out, f);
            }
            out.push('\n');
            out
        }
    }
}

fn stream_export(
    state: AppState,
    org_id: uuid::Uuid,
    filter: Filter,
    format: Format,
    filename: String,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let (rtx, mut rrx) = mpsc::channel(256);
    let db_state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = events::export_to(db_state.db(), org_id, &filter, rtx).await {
            tracing::error!(target: "sealtrail::export", error = %e, "export stopped");
        }
    });
    tokio::spawn(async move {
        if format == Format::Csv
            && tx
                .send(Bytes::from_static(CSV_HEADER.as_bytes()))
                .await
                .is_err()
        {
            return;
        }
        let mut buf = String::with_capacity(64 * 1024);
        let mut n = 0u64;
        while let Some(r) = rrx.recv().await {
            buf.push_str(&format_line(format, &r));
            n += 1;
            if buf.len() >= 60 * 1024
                && tx
                    .send(Bytes::from(std::mem::take(&mut buf)))
                    .await
                    .is_err()
            {
                return;
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(Bytes::from(buf)).await;
        }
        Metrics::add(&state.metrics().exported_rows, n);
    });
    let ctype = match format {
        Format::Jsonl => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    (
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        super::channel_body(rx),
    )
        .into_response()
}

pub async fn export(
    State(state): State<AppState>,
    auth: Auth,
    Query(p): Query<FilterParams>,
) -> Result<Response, ApiError> {
    auth.require(Perm::Export)?;
    let format = Format::parse(p.format.as_deref())?;
    let filter = p.filter()?;
    let ext = if format == Format::Csv {
        "csv"
    } else {
        "jsonl"
    };
    Ok(stream_export(
        state,
        auth.org_id,
        filter,
        format,
        format!("sealtrail-export.{ext}"),
    ))
}

pub async fn subject_export(
    State(state): State<AppState>,
    auth: Auth,
    Path(actor_id): Path<String>,
    Query(p): Query<FilterParams>,
) -> Result<Response, ApiError> {
    auth.require(Perm::Export)?;
    super::events::no_nul("actor_id", Some(&actor_id))?;
    let format = Format::parse(p.format.as_deref())?;
    let filter = Filter {
        actor_id: Some(actor_id),
        ..Filter::default()
    };
    let ext = if format == Format::Csv {
        "csv"
    } else {
        "jsonl"
    };
    Ok(stream_export(
        state,
        auth.org_id,
        filter,
        format,
        format!("sealtrail-subject.{ext}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("", ""),
        ] {
            let mut out = String::new();
            csv_field(&mut out, cell);
            assert_eq!(out, want, "{cell:?}");
        }
    }
}
