//! `Tool` (JsTool): what `wrapTool` fixes once per tool (name, attrs,
//! redaction override), and the events of one call of it, placed by core's
//! rules (`Event::in_context_at`, `Event::after_call`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sealtrail_core::capture::Context;
use sealtrail_core::client::RecordOptions;
use sealtrail_core::event::ErrorInfo;
use sealtrail_core::{Event, EventType};
use serde_json::{Map, Value};

use crate::event::{ErrorInput, Payload};
use crate::payload;

/// Attributes as given to `wrapTool`: JSON text core's worker parses for
/// each event, or the value converted once when the text was not usable.
enum Attrs {
    None,
    Text(String),
    Value(Map<String, Value>),
}

#[napi(js_name = "Tool")]
pub struct JsTool {
    name: String,
    attrs: Attrs,
    redact: Option<Arc<str>>,
}

#[napi]
impl JsTool {
    /// `attrsJson` / `attrs` as for `record`; `redact` a per-tool override
    /// (checked here: throws `config: …`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        name: String,
        attrs_json: Option<String>,
        attrs: Option<Unknown>,
        redact: Option<String>,
    ) -> Result<Self> {
        if let Some(spec) = &redact {
            crate::check_redact_override(spec.clone())?;
        }
        let attrs = match payload(attrs_json, attrs).split() {
            (_, Some(text)) => Attrs::Text(text),
            (Some(v), None) => {
                sealtrail_core::client::record::attrs_from(v).map_or(Attrs::None, Attrs::Value)
            }
            (None, None) => Attrs::None,
        };
        Ok(JsTool {
            name,
            attrs,
            redact: redact.map(Into::into),
        })
    }
}

/// The context as the facade passes it.
pub fn context(
    actor_id: Option<String>,
    session_id: Option<String>,
    trace_id: Option<String>,
    parent_id: Option<String>,
) -> Context {
    Context {
        actor_id,
        session_id,
        trace_id,
        parent_id,
    }
}

/// When a call that started `elapsed_ms` ago (JavaScript's monotonic clock)
/// started, on the wall clock.
pub fn started(elapsed_ms: f64) -> SystemTime {
    let now = SystemTime::now();
    if !(elapsed_ms.is_finite() && elapsed_ms > 0.0) {
        return now;
    }
    let ago = Duration::try_from_secs_f64(elapsed_ms / 1000.0).unwrap_or(Duration::ZERO);
    now.checked_sub(ago).unwrap_or(now)
}

impl JsTool {
    fn options(&self, e: &mut Event) -> RecordOptions {
        let mut opts = RecordOptions {
            redact: self.redact.clone(),
            ..RecordOptions::default()
        };
        match &self.attrs {
            Attrs::None => {}
            Attrs::Text(t) => opts.attrs_json = Some(t.clone()),
            Attrs::Value(m) => e.attrs = Some(m.clone()),
        }
        opts
    }

    /// The `tool_call` event, started at `at`.
    pub fn call(
        &self,
        agent_id: &str,
        ctx: &Context,
        at: SystemTime,
        inputs: Payload<'_>,
    ) -> (Event, RecordOptions) {
        let mut e = Event::in_context_at(EventType::ToolCall, agent_id, ctx, at);
        e.name = Some(self.name.clone());
        let mut opts = self.options(&mut e);
        (e.inputs, opts.inputs_json) = inputs.split();
        (e, opts)
    }

    /// The `tool_result` (or `error`) that ends call `call_id`.
    pub fn end(
        &self,
        agent_id: &str,
        ctx: &Context,
        call_id: &str,
        latency_ms: f64,
        outputs: Payload<'_>,
        error: Option<ErrorInput>,
    ) -> (Event, RecordOptions) {
        let kind = if error.is_some() {
            EventType::Error
        } else {
            EventType::ToolResult
        };
        let mut e = Event::after_call(kind, agent_id, &self.name, ctx, call_id);
        let mut opts = self.options(&mut e);
        if let Some(err) = error {
            e.error = Some(ErrorInfo {
                kind: err.kind,
                message: err.message,
                stack: err.stack,
            });
        } else {
            (e.outputs, opts.outputs_json) = outputs.split();
        }
        e.latency_ms =
            (latency_ms.is_finite() && latency_ms >= 0.0).then(|| latency_ms.round() as u64);
        (e, opts)
    }
}
