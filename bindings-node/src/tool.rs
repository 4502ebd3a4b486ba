//! `Tool` (JsTool): a wrapped tool bound to a client, with what `wrapTool`
//! fixes once per tool (name, attrs, redaction override), and the events of
//! one call of it, placed by core's rules (`Event::in_context_at`,
//! `Event::after_call`; a synchronous call that has ended goes to core as an
//! `EndedCall` whose events core's worker makes). The per-call path is free functions that take the
//! tool's slot number (`toolCall`, `toolEnd`, `toolDone`): unwrapping a
//! class instance (`this`) costs napi a type-tag lookup, ~0.2 µs a call,
//! where a number is read in nanoseconds. JSON text is read in one copy.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sealtrail_core::capture::Context;
use sealtrail_core::client::record::attrs_from;
use sealtrail_core::client::{Client, EndedCall, Payload as CorePayload, RecordOptions, ToolSpec};
use sealtrail_core::event::ErrorInfo;
use sealtrail_core::{Event, EventId, EventType, Timestamp};

use crate::client::JsClient;
use crate::event::{text, ErrorInput, Payload};
use crate::payload;

/// What a wrapped tool fixes once: its client and core's `ToolSpec` (name,
/// attrs as JSON text core's worker parses for each event or the value
/// converted once, redaction override).
struct ToolState {
    client: Arc<Client>,
    spec: Arc<ToolSpec>,
}

thread_local! {
    /// The live tools of this JavaScript thread, by slot. A slot is freed
    /// when its `Tool` is collected, and the facade holds the `Tool` while
    /// it uses the slot, so a slot in use always names its own tool.
    static TOOLS: RefCell<Slab> = const { RefCell::new(Slab { tools: Vec::new(), free: Vec::new() }) };
}

struct Slab {
    tools: Vec<Option<ToolState>>,
    free: Vec<u32>,
}

/// Runs `f` with the tool in `slot`; nothing when there is none (a stale
/// slot records nothing, it never throws).
fn with_tool<R>(slot: u32, f: impl FnOnce(&ToolState) -> R) -> Option<R> {
    TOOLS
        .try_with(|t| {
            let t = t.try_borrow().ok()?;
            t.tools.get(slot as usize)?.as_ref().map(f)
        })
        .ok()
        .flatten()
}

/// A wrapped tool bound to a client. Its `slot` is what the per-call
/// functions take.
#[napi(js_name = "Tool")]
pub struct JsTool {
    slot: u32,
}

impl Drop for JsTool {
    fn drop(&mut self) {
        let _ = TOOLS.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                if let Some(s) = t.tools.get_mut(self.slot as usize) {
                    *s = None;
                    t.free.push(self.slot);
                }
            }
        });
    }
}

#[napi]
impl JsTool {
    /// `attrsJson` / `attrs` as for `record`; `redact` a per-tool override
    /// (checked here too: throws `config: …`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        client: &JsClient,
        name: String,
        attrs_json: Option<String>,
        attrs: Option<Unknown>,
        redact: Option<String>,
    ) -> Result<Self> {
        if let Some(spec) = &redact {
            crate::check_redact_override(spec.clone())?;
        }
        let attrs = match payload(attrs_json, attrs).split() {
            (_, Some(text)) => Some(CorePayload::Json(text)),
            (Some(v), None) => Some(CorePayload::Value(v)),
            (None, None) => None,
        };
        let state = ToolState {
            client: client.inner.clone(),
            spec: Arc::new(ToolSpec {
                agent_id: client.agent_id.clone(),
                name,
                attrs,
                redact: redact.map(Into::into),
            }),
        };
        let slot = TOOLS
            .with(|t| {
                let mut t = t.try_borrow_mut().ok()?;
                Some(match t.free.pop() {
                    Some(i) => {
                        t.tools[i as usize] = Some(state);
                        i
                    }
                    None => {
                        t.tools.push(Some(state));
                        u32::try_from(t.tools.len() - 1).ok()?
                    }
                })
            })
            .ok_or_else(|| Error::new(Status::GenericFailure, "internal: tool table busy"))?;
        Ok(JsTool { slot })
    }

    /// The number `toolCall`, `toolEnd` and `toolDone` take.
    #[napi(getter)]
    pub fn slot(&self) -> u32 {
        self.slot
    }
}

/// Records the `tool_call` of a call of the tool in `slot` that started
/// `elapsedMs` ago (0: now), in the context `actorId`..`parentId`. `inputsJson` is the
/// arguments' `JSON.stringify` text taken when the call started (parsed
/// on core's worker); `inputs` the arguments themselves when that text
/// could not be used. Returns the call's id, or null when the queue
/// refused it.
#[napi(
    catch_unwind,
    ts_args_type = "slot: number, actorId: string | undefined, sessionId: string | undefined, traceId: string | undefined, parentId: string | undefined, elapsedMs: number, inputsJson: string | undefined, inputs: unknown"
)]
#[allow(clippy::too_many_arguments)]
pub fn tool_call(
    slot: u32,
    actor_id: Option<String>,
    session_id: Option<String>,
    trace_id: Option<String>,
    parent_id: Option<String>,
    elapsed_ms: f64,
    inputs_json: Option<Unknown>,
    inputs: Option<Unknown>,
) -> Option<String> {
    with_tool(slot, |t| {
        let ctx = context(actor_id, session_id, trace_id, parent_id);
        let (e, opts) = t.call_event(
            &ctx,
            started(elapsed_ms),
            payload(text(inputs_json), inputs),
        );
        let id = e.id.to_string();
        t.client.record_with(e, opts).then_some(id)
    })
    .flatten()
}

/// Records the `tool_result` (or, with `error`, the `error`) that ends
/// call `callId` of the tool in `slot`, `latencyMs` after it started.
#[napi(
    catch_unwind,
    ts_args_type = "slot: number, actorId: string | undefined, sessionId: string | undefined, traceId: string | undefined, callId: string, latencyMs: number, outputsJson: string | undefined, outputs: unknown, error: ErrorInput | undefined"
)]
#[allow(clippy::too_many_arguments)]
pub fn tool_end(
    slot: u32,
    actor_id: Option<String>,
    session_id: Option<String>,
    trace_id: Option<String>,
    call_id: String,
    latency_ms: f64,
    outputs_json: Option<Unknown>,
    outputs: Option<Unknown>,
    error: Option<ErrorInput>,
) {
    with_tool(slot, |t| {
        let ctx = context(actor_id, session_id, trace_id, None);
        let (e, opts) = t.end_event(
            &ctx,
            &call_id,
            latency_ms,
            payload(text(outputs_json), outputs),
            error,
        );
        t.client.record_with(e, opts);
    });
}

/// A synchronous call of the tool in `slot` that has returned or thrown,
/// in one call: records its `tool_call` (with the time it started,
/// `elapsedMs` ago, and the arguments' text taken then) and its
/// `tool_result` or `error`. Both go to core as one queue slot. Returns
/// the call's id, or null when the queue refused them.
#[napi(
    catch_unwind,
    ts_args_type = "slot: number, actorId: string | undefined, sessionId: string | undefined, traceId: string | undefined, parentId: string | undefined, elapsedMs: number, inputsJson: string | undefined, outputsJson: string | undefined, outputs: unknown, error: ErrorInput | undefined"
)]
#[allow(clippy::too_many_arguments)]
pub fn tool_done(
    slot: u32,
    actor_id: Option<String>,
    session_id: Option<String>,
    trace_id: Option<String>,
    parent_id: Option<String>,
    elapsed_ms: f64,
    inputs_json: Option<Unknown>,
    outputs_json: Option<Unknown>,
    outputs: Option<Unknown>,
    error: Option<ErrorInput>,
) -> Option<String> {
    with_tool(slot, |t| {
        let now = SystemTime::now();
        let at = before(now, elapsed_ms);
        let call_id = EventId::generate_at(at);
        let end_id = EventId::generate_at(now);
        let (outputs, error) = match error {
            Some(e) => (None, Some(error_info(e))),
            None => (core_payload(payload(text(outputs_json), outputs)), None),
        };
        let call = EndedCall {
            tool: t.spec.clone(),
            ctx: context(actor_id, session_id, trace_id, parent_id),
            call_id,
            started: Timestamp::at(at),
            end_id,
            ended: Timestamp::at(now),
            latency_ms: latency(elapsed_ms),
            inputs: text(inputs_json).map(CorePayload::Json),
            outputs,
            error,
        };
        // The events are made by core's worker: here only the ids, the
        // times and the payloads' text, in one queue slot.
        t.client.record_call(call).then(|| call_id.to_string())
    })
    .flatten()
}

fn core_payload(p: Payload<'_>) -> Option<CorePayload> {
    match p.split() {
        (_, Some(text)) => Some(CorePayload::Json(text)),
        (Some(v), None) => Some(CorePayload::Value(v)),
        (None, None) => None,
    }
}

fn error_info(e: ErrorInput) -> ErrorInfo {
    ErrorInfo {
        kind: e.kind,
        message: e.message,
        stack: e.stack,
    }
}

fn latency(ms: f64) -> Option<u64> {
    (ms.is_finite() && ms >= 0.0).then(|| ms.round() as u64)
}

/// The context as the facade passes it.
fn context(
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
fn started(elapsed_ms: f64) -> SystemTime {
    before(SystemTime::now(), elapsed_ms)
}

/// `elapsed_ms` before `now`.
fn before(now: SystemTime, elapsed_ms: f64) -> SystemTime {
    if !(elapsed_ms.is_finite() && elapsed_ms > 0.0) {
        return now;
    }
    let ago = Duration::try_from_secs_f64(elapsed_ms / 1000.0).unwrap_or(Duration::ZERO);
    now.checked_sub(ago).unwrap_or(now)
}

impl ToolState {
    fn options(&self, e: &mut Event) -> RecordOptions {
        let s = &*self.spec;
        let mut opts = RecordOptions {
            redact: s.redact.clone(),
            ..RecordOptions::default()
        };
        match &s.attrs {
            None => {}
            Some(CorePayload::Json(t)) => opts.attrs_json = Some(t.clone()),
            Some(CorePayload::Value(v)) => e.attrs = attrs_from(v.clone()),
        }
        opts
    }

    /// The `tool_call` event, started at `at`.
    fn call_event(
        &self,
        ctx: &Context,
        at: SystemTime,
        inputs: Payload<'_>,
    ) -> (Event, RecordOptions) {
        let s = &*self.spec;
        let mut e = Event::in_context_at(EventType::ToolCall, &s.agent_id, ctx, at);
        e.name = Some(s.name.clone());
        let mut opts = self.options(&mut e);
        (e.inputs, opts.inputs_json) = inputs.split();
        (e, opts)
    }

    /// The `tool_result` (or `error`) that ends call `call_id`.
    fn end_event(
        &self,
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
        let s = &*self.spec;
        let mut e = Event::after_call(kind, &s.agent_id, &s.name, ctx, call_id);
        let mut opts = self.options(&mut e);
        if let Some(err) = error {
            e.error = Some(error_info(err));
        } else {
            (e.outputs, opts.outputs_json) = outputs.split();
        }
        e.latency_ms = latency(latency_ms);
        (e, opts)
    }
}
