//! The native half of the `sealtrail` npm package (`native.js`, private
//! behind the `index.js` facade): converts JavaScript values and maps
//! errors; every piece of logic lives in `sealtrail-core`.
// napi exports are reached from JavaScript only; the unit-test build sees
// some of them as unused.
#![cfg_attr(test, allow(dead_code))]

mod client;
mod convert;
mod event;
mod tool;

use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;

// Every event is allocated on the JavaScript thread and freed on core's
// worker: glibc's malloc then contends for its arena lock (futex wakes and
// page faults on the caller's thread, ~0.9 µs per wrapped call measured);
// mimalloc frees across threads without a lock. local-dynamic TLS because
// the addon is dlopen'ed.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use event::{DecisionInput, ErrorInput, EventExtra, TokensInput};

/// Core errors reach JavaScript as `Error("<kind>: <message>")`; the facade
/// moves the kind into `error.code`.
pub(crate) fn to_napi(e: sealtrail_core::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, e.to_string())
}

pub(crate) fn payload<'a>(json: Option<String>, value: Option<Unknown<'a>>) -> event::Payload<'a> {
    event::Payload { json, value }
}

/// The sealtrail version.
#[napi]
pub fn version() -> String {
    sealtrail_core::version().to_string()
}

/// RFC 8785 canonical JSON of any JavaScript value, converted by the rules of
/// the package: what an event's `inputs` would hold before redaction.
#[napi(catch_unwind)]
pub fn canonical_json(value: Unknown) -> String {
    let v = value.value();
    // SAFETY: the handles belong to this call.
    let json = unsafe { convert::to_json(v.env, v.value) }.unwrap_or(serde_json::Value::Null);
    sealtrail_core::jcs::to_string(&json)
}

/// SHA-256 (hex) of the RFC 8785 form of a prompt (the messages array).
#[napi(catch_unwind)]
pub fn prompt_hash(messages: Unknown) -> String {
    let v = value_of(messages);
    sealtrail_core::hash::prompt_hash(&v)
}

/// A fresh event id (ULID), monotonic within the process.
#[napi(catch_unwind)]
pub fn new_id() -> String {
    sealtrail_core::EventId::generate().to_string()
}

fn value_of(u: Unknown) -> serde_json::Value {
    let v = u.value();
    // SAFETY: the handles belong to this call.
    unsafe { convert::to_json(v.env, v.value) }.unwrap_or(serde_json::Value::Null)
}

/// The sealed form of one event, as core makes it for the wire and the ledger.
#[napi(object)]
pub struct Sealed {
    /// RFC 8785 canonical JSON of the event.
    pub canonical: String,
    /// SHA-256 (hex) of `canonical`.
    pub content_hash: String,
}

/// Builds, validates and seals one event without recording it: the
/// cross-language check (Python's `seal_event`) compares this output.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn seal_event(
    agent_id: String,
    kind: String,
    name: Option<String>,
    trace_id: Option<String>,
    parent_id: Option<String>,
    actor_id: Option<String>,
    session_id: Option<String>,
    inputs: Option<Unknown>,
    outputs: Option<Unknown>,
    attrs: Option<Unknown>,
    messages: Option<Unknown>,
    extra: Option<EventExtra>,
) -> Result<Sealed> {
    let head = event::Head {
        kind,
        name,
        trace_id,
        parent_id,
        actor_id,
        session_id,
        latency_ms: None,
    };
    let limits = sealtrail_core::Limits::default();
    let e = event::build(
        &agent_id,
        head,
        payload(None, inputs),
        payload(None, outputs),
        payload(None, attrs),
        payload(None, messages),
        extra,
        false,
    )
    .map_err(to_napi)?;
    // The finished event core's worker would hash (prompt_storage default).
    let e = sealtrail_core::client::record::finish_unredacted(
        e.0,
        e.1,
        &limits,
        sealtrail_core::client::PromptStorage::None,
    )
    .map_err(to_napi)?;
    e.validate(&limits).map_err(to_napi)?;
    let sealed = e.seal(&limits).map_err(to_napi)?;
    Ok(Sealed {
        canonical: String::from_utf8(sealed.event.canonical_bytes()).unwrap_or_default(),
        content_hash: sealed.content_hash.to_hex(),
    })
}

/// Redacts a value with core's redactor (default rules) and returns
/// `{ value, pii }`: the redacted JSON and the counts of what was found.
#[napi(
    catch_unwind,
    ts_return_type = "{ value: unknown; pii: Record<string, number> }"
)]
pub fn redact(json: Option<String>, value: Option<Unknown>) -> Result<serde_json::Value> {
    use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};
    use std::sync::OnceLock;
    static REDACTOR: OnceLock<std::result::Result<Redactor, String>> = OnceLock::new();
    let r = REDACTOR
        .get_or_init(|| Redactor::new(RedactConfig::default()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| napi::Error::new(Status::GenericFailure, format!("config: {e}")))?;
    let mut v = payload(json, value)
        .into_value()
        .unwrap_or(serde_json::Value::Null);
    let mut report = PiiReport::new();
    r.redact_value(&mut v, &mut report);
    Ok(serde_json::json!({ "value": v, "pii": report.counts() }))
}

/// Checks a per-tool redaction override (`wrapTool(…, { redact })`) when the
/// tool is wrapped, so a typo shows there rather than as dropped events.
#[napi(catch_unwind)]
pub fn check_redact_override(spec: String) -> Result<()> {
    sealtrail_core::redact::RedactConfig::default()
        .apply_override(&spec)
        .map_err(|e| {
            to_napi(sealtrail_core::Error::new(
                sealtrail_core::ErrorKind::Config,
                e.to_string(),
            ))
        })
}
