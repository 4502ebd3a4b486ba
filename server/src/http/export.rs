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

/// The last line of a complete export: JSON Lines `{"complete": true,
/// "rows": N}`; CSV a line `#complete,rows=N` (documented in
/// docs/server.md). An export without it did not finish.
pub fn trailer(format: Format, rows: u64) -> String {
    match format {
        Format::Jsonl => format!("{{\"complete\":true,\"rows\":{rows}}}\n"),
        Format::Csv => format!("#complete,rows={rows}\n"),
    }
}

/// The line an export that failed ends with (no trailer follows).
pub fn failure_line(format: Format, rows: u64) -> String {
    let why = "the export stopped: database error (logged); this file is incomplete";
    match format {
        Format::Jsonl => format!("{{\"complete\":false,\"rows\":{rows},\"error\":\"{why}\"}}\n"),
        Format::Csv => format!("#incomplete,rows={rows},error={why}\n"),
    }
}

/// Streams an export: rows, then the trailer. The first page is read
/// before the answer starts, so an error there is an HTTP error; an error
/// later ends the body with a failure line and aborts the transfer.
async fn stream_export(
    state: AppState,
    org_id: uuid::Uuid,
    filter: Filter,
    format: Format,
    filename: String,
) -> Result<Response, ApiError> {
    let (rtx, mut rrx) = mpsc::channel(256);
    let db_state = state.clone();
    let mut task =
        tokio::spawn(async move { events::export_to(db_state.db(), org_id, &filter, rtx).await });
    // The first row, or the end of an export that failed or is empty.
    let first = rrx.recv().await;
    let mut early: Option<Result<u64, sqlx::Error>> = None;
    if first.is_none() {
        let r = (&mut task)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let r = r.map_err(ApiError::Db)?;
        early = Some(Ok(r));
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    tokio::spawn(async move {
        let mut buf = String::with_capacity(64 * 1024);
        if format == Format::Csv {
            buf.push_str(CSV_HEADER);
        }
        let mut n = 0u64;
        let mut next = first;
        while let Some(r) = next {
            buf.push_str(&format_line(format, &r));
            n += 1;
            if buf.len() >= 60 * 1024
                && tx
                    .send(Ok(Bytes::from(std::mem::take(&mut buf))))
                    .await
                    .is_err()
            {
                task.abort();
                return;
            }
            next = rrx.recv().await;
        }
        let outcome = match early {
            Some(r) => r,
            None => match task.await {
                Ok(r) => r,
                Err(e) => Err(sqlx::Error::Protocol(e.to_string())),
            },
        };
        Metrics::add(&state.metrics().exported_rows, n);
        match outcome {
            Ok(_) => {
                buf.push_str(&trailer(format, n));
                let _ = tx.send(Ok(Bytes::from(buf))).await;
            }
            Err(e) => {
                tracing::error!(target: "sealtrail::export", error = %e, rows = n, "export stopped");
                buf.push_str(&failure_line(format, n));
                let _ = tx.send(Ok(Bytes::from(buf))).await;
                let _ = tx
                    .send(Err(std::io::Error::other("the export stopped")))
                    .await;
            }
        }
    });
    let ctype = match format {
        Format::Jsonl => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        super::fallible_body(rx),
    )
        .into_response())
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
    stream_export(
        state,
        auth.org_id,
        filter,
        format,
        format!("sealtrail-export.{ext}"),
    )
    .await
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
    stream_export(
        state,
        auth.org_id,
        filter,
        format,
        format!("sealtrail-subject.{ext}"),
    )
    .await
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
