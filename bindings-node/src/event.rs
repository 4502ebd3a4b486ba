//! JavaScript arguments → a core [`Event`]. Field rules, ids, timestamps and
//! the prompt hash all come from core; this module only moves values.

use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;
use sealtrail_core::client::record::attrs_from;
use sealtrail_core::client::{Payload as RecordPayload, RecordOptions};
use sealtrail_core::event::{Decision, ErrorInfo, Tokens};
use sealtrail_core::{Event, EventId, EventType, Timestamp};
use serde_json::Value;

use crate::convert;

/// A failure: the thrown value's class name, message and stack (the stack is
/// redacted by core before it is stored).
#[napi(object)]
pub struct ErrorInput {
    #[napi(js_name = "type")]
    pub kind: String,
    pub message: String,
    pub stack: Option<String>,
}

#[napi(object)]
pub struct DecisionInput {
    /// `"approved"`, `"denied"` or `"escalated"`.
    pub outcome: String,
    pub by: Option<String>,
    pub reason: Option<String>,
}

#[napi(object)]
pub struct TokensInput {
    pub input: Option<f64>,
    pub output: Option<f64>,
}

/// The rarer fields of an event, in one object so the common path stays
/// positional.
#[napi(object)]
pub struct EventExtra {
    /// A fixed ULID (tests, replays); core makes one when absent.
    pub id: Option<String>,
    /// A fixed timestamp, RFC 3339 with six fractional digits; now when absent.
    pub ts: Option<String>,
    /// Overrides the client's agent id for this event.
    pub agent_id: Option<String>,
    pub decision: Option<DecisionInput>,
    pub error: Option<ErrorInput>,
    pub tokens: Option<TokensInput>,
    /// Decimal string such as `"0.0123"`.
    pub cost_usd: Option<String>,
    pub latency_ms: Option<f64>,
}

/// One JSON-ish argument as the facade passes it: `JSON.stringify`'s output
/// when it succeeded and lost nothing (the facade checks), else the value
/// itself for the native walker.
pub struct Payload<'a> {
    pub json: Option<String>,
    pub value: Option<Unknown<'a>>,
}

/// `JSON.stringify` text passed as a raw value: read in one copy when it
/// is ASCII (napi-rs's `String` measures it first). Anything but a string
/// is none.
pub fn text(v: Option<Unknown<'_>>) -> Option<String> {
    // No `typeof` first: napi answers `string_expected` for anything else.
    let raw = v?.value();
    // SAFETY: the handles belong to the napi call that is running now.
    unsafe { convert::string(raw.env, raw.value) }
}

impl Payload<'_> {
    /// The value now: parsed text, or the native walker's conversion.
    pub fn into_value(self) -> Option<Value> {
        match self.split() {
            (_, Some(text)) => serde_json::from_str(&text).ok(),
            (v, None) => v,
        }
    }

    /// `JSON.stringify` text is passed through untouched (core's worker
    /// parses it); a value without text is converted by the walker here.
    pub fn split(self) -> (Option<Value>, Option<String>) {
        if let Some(s) = self.json {
            return (None, Some(s));
        }
        let Some(u) = self.value else {
            return (None, None);
        };
        let raw = u.value();
        // SAFETY: the handles belong to the napi call that is running now.
        (unsafe { convert::to_json(raw.env, raw.value) }, None)
    }
}

fn bad(msg: impl Into<String>) -> sealtrail_core::Error {
    sealtrail_core::Error::new(sealtrail_core::ErrorKind::InvalidEvent, msg)
}

fn count(field: &str, v: Option<f64>) -> sealtrail_core::Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f.round() as u64)),
        Some(f) => Err(bad(format!(
            "{field} must be a non-negative number, got {f}"
        ))),
    }
}

/// The positional head of every event.
pub struct Head {
    pub kind: String,
    pub name: Option<String>,
    pub trace_id: Option<String>,
    pub parent_id: Option<String>,
    pub actor_id: Option<String>,
    pub session_id: Option<String>,
    /// Positional because `tool_result` always has it: reading a one-field
    /// object across napi costs about a microsecond.
    pub latency_ms: Option<f64>,
}

/// Builds the event (`messages` travels in the options, for core). With `defer`, payloads
/// that arrived as trustworthy JSON text stay text in the returned options,
/// for core's worker to parse; without it everything is parsed now.
#[allow(clippy::too_many_arguments)]
pub fn build(
    default_agent: &str,
    head: Head,
    inputs: Payload<'_>,
    outputs: Payload<'_>,
    attrs: Payload<'_>,
    messages: Payload<'_>,
    extra: Option<EventExtra>,
    defer: bool,
) -> sealtrail_core::Result<(Event, RecordOptions)> {
    let kind: EventType = head.kind.parse()?;
    let mut e = Event::new(kind, default_agent);
    e.name = head.name;
    e.trace_id = head.trace_id;
    e.parent_id = head.parent_id;
    e.actor_id = head.actor_id;
    e.session_id = head.session_id;
    e.latency_ms = count("latency_ms", head.latency_ms)?;
    let mut opts = RecordOptions::default();
    if defer {
        (e.inputs, opts.inputs_json) = inputs.split();
        (e.outputs, opts.outputs_json) = outputs.split();
        let (a, text) = attrs.split();
        e.attrs = a.and_then(attrs_from);
        opts.attrs_json = text;
    } else {
        e.inputs = inputs.into_value();
        e.outputs = outputs.into_value();
        e.attrs = attrs.into_value().and_then(attrs_from);
    }
    // The prompt goes to core as it came: the worker hashes it before
    // redaction and stores it as the client's `prompt_storage` says.
    opts.messages = match messages.split() {
        (_, Some(text)) => Some(RecordPayload::Json(text)),
        (Some(v), None) => Some(RecordPayload::Value(v)),
        (None, None) => None,
    };
    if let Some(x) = extra {
        if let Some(id) = x.id {
            e.id = id.parse::<EventId>()?;
        }
        if let Some(ts) = x.ts {
            e.ts = ts.parse::<Timestamp>()?;
        }
        if let Some(a) = x.agent_id {
            e.agent_id = a;
        }
        if let Some(d) = x.decision {
            let outcome =
                serde_json::from_value(Value::String(d.outcome.clone())).map_err(|_| {
                    bad(format!(
                        "decision outcome {:?} must be approved, denied or escalated",
                        d.outcome
                    ))
                })?;
            e.decision = Some(Decision {
                outcome,
                by: d.by,
                reason: d.reason,
            });
        }
        if let Some(err) = x.error {
            e.error = Some(ErrorInfo {
                kind: err.kind,
                message: err.message,
                stack: err.stack,
            });
        }
        if let Some(t) = x.tokens {
            e.tokens = Some(Tokens {
                input: count("tokens.input", t.input)?,
                output: count("tokens.output", t.output)?,
            });
        }
        e.cost_usd = x.cost_usd;
        if x.latency_ms.is_some() {
            e.latency_ms = count("latency_ms", x.latency_ms)?;
        }
    }
    // Outside any trace an event starts its own (core's rule).
    e.start_own_trace();
    Ok((e, opts))
}
