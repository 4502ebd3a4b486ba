//! What sits in the queue: an event plus the parts of it the worker, not the
//! caller, finishes. A binding that already holds JSON text (Node's
//! `JSON.stringify` output) hands it over as text, and the worker parses it
//! with the event limits, so the agent's thread never pays for parsing. A
//! payload that does not parse is dropped as invalid (counted, with
//! `last_error`), never thrown into the agent.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::config::PromptStorage;
use crate::capture::Context;
use crate::error::Result;
use crate::event::{parse_json_limited, ErrorInfo, Event, EventId, EventType, Limits, Timestamp};

/// Per-event extras for [`super::Client::record_with`]. Every field is
/// optional; `RecordOptions::default()` makes `record_with` the same as
/// `record`.
#[derive(Debug, Default, Clone)]
pub struct RecordOptions {
    /// `inputs` as JSON text; replaces `event.inputs`.
    pub inputs_json: Option<String>,
    /// `outputs` as JSON text; replaces `event.outputs`.
    pub outputs_json: Option<String>,
    /// `attrs` as JSON text: an object, or any other value, kept as
    /// `{"value": …}`; `null` means none.
    pub attrs_json: Option<String>,
    /// A model call's prompt messages: hashed into `prompt_hash` (unless the
    /// event has one) before anything is redacted, then kept under
    /// `inputs.messages` as the client's `prompt_storage` says.
    pub messages: Option<Payload>,
    /// Per-call redaction override (see `RedactConfig::apply_override`),
    /// layered over the client's settings. The worker compiles each
    /// distinct spec once and keeps it; a spec that does not compile drops
    /// the event (counted), never ships it under-redacted.
    pub redact: Option<Arc<str>>,
}

/// A JSON payload as the binding has it.
#[derive(Debug, Clone)]
pub enum Payload {
    Value(Value),
    /// JSON text, parsed on the worker with the event limits.
    Json(String),
}

impl Payload {
    fn into_value(self, field: &str, limits: &Limits) -> Result<Value> {
        match self {
            Payload::Value(v) => Ok(v),
            Payload::Json(t) => parse(field, &t, limits),
        }
    }
}

impl RecordOptions {
    pub fn is_empty(&self) -> bool {
        self.inputs_json.is_none()
            && self.outputs_json.is_none()
            && self.attrs_json.is_none()
            && self.messages.is_none()
            && self.redact.is_none()
    }
}

/// Puts `messages` under `inputs.messages` (inputs that are not an object
/// are kept under `inputs.value`).
pub fn store_messages(e: &mut Event, messages: Value) {
    let mut m = match e.inputs.take() {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    m.insert("messages".into(), messages);
    e.inputs = Some(Value::Object(m));
}

/// One event and what the worker finishes of it.
pub(crate) struct Queued {
    pub event: Event,
    pub opts: RecordOptions,
}

/// One queue slot: an event, or two recorded together in this order (a
/// synchronous tool call and its end), which then cost the caller one
/// allocation and one send. Metrics count events, not slots.
pub(crate) enum Slot {
    One(Box<Queued>),
    Pair(Box<[Queued; 2]>),
    /// A tool call and its end, made into events by the worker.
    Call(Box<EndedCall>),
}

impl Slot {
    /// Events in the slot.
    pub fn len(&self) -> u64 {
        match self {
            Slot::One(_) => 1,
            Slot::Pair(_) | Slot::Call(_) => 2,
        }
    }
}

/// What a wrapped tool fixes once, shared by all its calls.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub agent_id: String,
    pub name: String,
    /// `attrs` of each of its events (text is parsed by the worker for
    /// each event; a value is kept as [`attrs_from`] says).
    pub attrs: Option<Payload>,
    /// Per-tool redaction override ([`RecordOptions::redact`]).
    pub redact: Option<Arc<str>>,
}

/// A synchronous tool call that has returned or thrown, as the caller's
/// thread hands it over: the two ids and times taken then, the payloads as
/// given. Core's worker makes its `tool_call` (placed by
/// [`Event::place_in`]) and its `tool_result`, or `error` when `error` is
/// set (placed by [`Event::place_after`]): the events
/// [`Event::in_context_at`] and [`Event::after_call`] would have made on
/// the caller's thread, for a fraction of its work there.
#[derive(Debug, Clone)]
pub struct EndedCall {
    pub tool: Arc<ToolSpec>,
    /// The context the call ran in.
    pub ctx: Context,
    pub call_id: EventId,
    pub started: Timestamp,
    pub end_id: EventId,
    pub ended: Timestamp,
    pub latency_ms: Option<u64>,
    pub inputs: Option<Payload>,
    pub outputs: Option<Payload>,
    pub error: Option<ErrorInfo>,
}

impl EndedCall {
    /// The call's two events, in order.
    pub(crate) fn into_events(self) -> [Queued; 2] {
        let t = &*self.tool;
        let call_id = self.call_id.to_string();
        let mut call = Queued::new(Event::with_id(
            EventType::ToolCall,
            t.agent_id.as_str(),
            self.call_id,
            self.started,
        ));
        call.event.place_in(&self.ctx);
        call.event.name = Some(t.name.clone());
        call.set_payloads(t, self.inputs, None);
        let kind = if self.error.is_some() {
            EventType::Error
        } else {
            EventType::ToolResult
        };
        let mut end = Queued::new(Event::with_id(
            kind,
            t.agent_id.as_str(),
            self.end_id,
            self.ended,
        ));
        let ctx = Context {
            parent_id: None,
            ..self.ctx
        };
        end.event.place_after(&t.name, &ctx, &call_id);
        end.event.latency_ms = self.latency_ms;
        if self.error.is_some() {
            end.event.error = self.error;
            end.set_payloads(t, None, None);
        } else {
            end.set_payloads(t, None, self.outputs);
        }
        [call, end]
    }
}

impl Queued {
    fn new(event: Event) -> Queued {
        Queued {
            event,
            opts: RecordOptions::default(),
        }
    }

    /// A tool's attrs and override, and the payloads given.
    fn set_payloads(&mut self, t: &ToolSpec, inputs: Option<Payload>, outputs: Option<Payload>) {
        let (e, o) = (&mut self.event, &mut self.opts);
        o.redact = t.redact.clone();
        match &t.attrs {
            None => {}
            Some(Payload::Json(text)) => o.attrs_json = Some(text.clone()),
            Some(Payload::Value(v)) => e.attrs = attrs_from(v.clone()),
        }
        match inputs {
            None => {}
            Some(Payload::Json(text)) => o.inputs_json = Some(text),
            Some(Payload::Value(v)) => e.inputs = Some(v),
        }
        match outputs {
            None => {}
            Some(Payload::Json(text)) => o.outputs_json = Some(text),
            Some(Payload::Value(v)) => e.outputs = Some(v),
        }
    }
}

fn parse(field: &str, text: &str, limits: &Limits) -> Result<Value> {
    parse_json_limited(text.as_bytes(), limits)
        .map_err(|e| crate::Error::new(e.kind(), format!("{field}: {}", e.message())))
}

/// `attrs` from any JSON value: an object as is, `null` as none, anything
/// else under `"value"` (the rule both bindings follow).
pub fn attrs_from(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Null => None,
        Value::Object(m) => Some(m),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            Some(m)
        }
    }
}

impl Queued {
    /// Parses the deferred payloads into the event and hashes the prompt
    /// (on the worker, before redaction). Returns the messages still to be
    /// stored after redaction (`prompt_storage = full`).
    pub fn resolve(&mut self, limits: &Limits, storage: PromptStorage) -> Result<Option<Value>> {
        let o = &mut self.opts;
        let e = &mut self.event;
        if let Some(t) = o.inputs_json.take() {
            e.inputs = Some(parse("inputs", &t, limits)?);
        }
        if let Some(t) = o.outputs_json.take() {
            e.outputs = Some(parse("outputs", &t, limits)?);
        }
        if let Some(t) = o.attrs_json.take() {
            e.attrs = attrs_from(parse("attrs", &t, limits)?);
        }
        let Some(m) = o.messages.take() else {
            return Ok(None);
        };
        let m = m.into_value("messages", limits)?;
        if e.prompt_hash.is_none() {
            e.prompt_hash = Some(crate::hash::prompt_hash(&m));
        }
        Ok(match storage {
            PromptStorage::None => None,
            PromptStorage::Redacted => {
                store_messages(e, m);
                None
            }
            PromptStorage::Full => Some(m),
        })
    }
}

/// The event as the worker would see it before redaction, with the prompt
/// stored as `storage` says: for bindings that keep events in memory
/// (test capture) instead of recording them.
pub fn finish_unredacted(
    event: Event,
    opts: RecordOptions,
    limits: &Limits,
    storage: PromptStorage,
) -> Result<Event> {
    let mut q = Queued { event, opts };
    if let Some(m) = q.resolve(limits, storage)? {
        store_messages(&mut q.event, m);
    }
    Ok(q.event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    #[test]
    fn resolves_text_payloads_and_refuses_bad_ones() {
        let limits = Limits::default();
        let mut q = Queued {
            event: Event::new(EventType::ToolCall, "a"),
            opts: RecordOptions {
                inputs_json: Some(r#"[{"q":1}]"#.into()),
                outputs_json: Some("42".into()),
                attrs_json: Some("\"x\"".into()),
                ..Default::default()
            },
        };
        q.resolve(&limits, PromptStorage::Redacted).unwrap();
        assert_eq!(q.event.inputs, Some(serde_json::json!([{"q": 1}])));
        assert_eq!(q.event.outputs, Some(serde_json::json!(42)));
        assert_eq!(
            q.event.attrs.map(Value::Object),
            Some(serde_json::json!({"value": "x"}))
        );
        let mut bad = Queued {
            event: Event::new(EventType::ToolCall, "a"),
            opts: RecordOptions {
                inputs_json: Some("{nope".into()),
                ..Default::default()
            },
        };
        let e = bad.resolve(&limits, PromptStorage::Redacted).unwrap_err();
        assert!(e.message().starts_with("inputs:"), "{e}");
        let deep = "[".repeat(500) + &"]".repeat(500);
        let mut deep = Queued {
            event: Event::new(EventType::ToolCall, "a"),
            opts: RecordOptions {
                outputs_json: Some(deep),
                ..Default::default()
            },
        };
        assert!(deep.resolve(&limits, PromptStorage::Redacted).is_err());
    }

    /// The worker's events for an ended call are the ones the caller's
    /// thread would have made with `in_context_at` and `after_call`.
    #[test]
    fn an_ended_call_makes_the_events_placed_as_on_the_callers_thread() {
        let limits = Limits::default();
        let t0 = std::time::SystemTime::now() - std::time::Duration::from_millis(7);
        let t1 = std::time::SystemTime::now();
        for (ctx, error) in [
            (Context::default(), None),
            (
                Context {
                    actor_id: Some("u1".into()),
                    session_id: Some("s1".into()),
                    trace_id: Some("01HZZZZZZZZZZZZZZZZZZZZZZZ".into()),
                    parent_id: Some("01HYYYYYYYYYYYYYYYYYYYYYYY".into()),
                },
                Some(ErrorInfo {
                    kind: "TypeError".into(),
                    message: "boom".into(),
                    stack: None,
                }),
            ),
        ] {
            for attrs in [
                None,
                Some(Payload::Json(r#"{"k":1}"#.into())),
                Some(Payload::Value(serde_json::json!("v"))),
            ] {
                let tool = Arc::new(ToolSpec {
                    agent_id: "ag".into(),
                    name: "lookup".into(),
                    attrs: attrs.clone(),
                    redact: Some("email=off".into()),
                });
                let (call_id, end_id) = (EventId::generate_at(t0), EventId::generate_at(t1));
                let ended = EndedCall {
                    tool: tool.clone(),
                    ctx: ctx.clone(),
                    call_id,
                    started: Timestamp::at(t0),
                    end_id,
                    ended: Timestamp::at(t1),
                    latency_ms: Some(7),
                    inputs: Some(Payload::Json("[1,2]".into())),
                    outputs: Some(Payload::Value(serde_json::json!({"r": 3}))),
                    error: error.clone(),
                };
                let [mut a, mut b] = ended.into_events();
                assert_eq!(a.opts.redact.as_deref(), Some("email=off"));
                assert_eq!(b.opts.redact.as_deref(), Some("email=off"));
                a.resolve(&limits, PromptStorage::Redacted).unwrap();
                b.resolve(&limits, PromptStorage::Redacted).unwrap();

                let mut want_a = Event::in_context_at(EventType::ToolCall, "ag", &ctx, t0);
                want_a.id = call_id;
                if ctx.trace_id.is_none() {
                    want_a.trace_id = Some(call_id.to_string());
                }
                want_a.name = Some("lookup".into());
                want_a.inputs = Some(serde_json::json!([1, 2]));
                let kind = if error.is_some() {
                    EventType::Error
                } else {
                    EventType::ToolResult
                };
                let end_ctx = Context {
                    parent_id: None,
                    ..ctx.clone()
                };
                let mut want_b =
                    Event::after_call(kind, "ag", "lookup", &end_ctx, &call_id.to_string());
                (want_b.id, want_b.ts) = (end_id, Timestamp::at(t1));
                want_b.latency_ms = Some(7);
                match &error {
                    Some(e) => want_b.error = Some(e.clone()),
                    None => want_b.outputs = Some(serde_json::json!({"r": 3})),
                }
                let want_attrs = match &attrs {
                    None => None,
                    Some(Payload::Json(_)) => attrs_from(serde_json::json!({"k": 1})),
                    Some(Payload::Value(v)) => attrs_from(v.clone()),
                };
                want_a.attrs = want_attrs.clone();
                want_b.attrs = want_attrs;
                assert_eq!(a.event, want_a);
                assert_eq!(b.event, want_b);
            }
        }
    }

    #[test]
    fn prompt_is_hashed_then_stored_as_configured() {
        let limits = Limits::default();
        let msgs = serde_json::json!([{"role": "user", "content": "hi"}]);
        let q = |storage| {
            let mut e = Event::new(EventType::ModelCall, "a");
            e.inputs = Some(serde_json::json!({"params": {"t": 0}}));
            let mut q = Queued {
                event: e,
                opts: RecordOptions {
                    messages: Some(Payload::Json(msgs.to_string())),
                    ..Default::default()
                },
            };
            let later = q.resolve(&limits, storage).unwrap();
            assert_eq!(
                q.event.prompt_hash.as_deref(),
                Some(crate::hash::prompt_hash(&msgs).as_str())
            );
            (q.event.inputs.unwrap(), later)
        };
        let (i, later) = q(PromptStorage::None);
        assert_eq!((i, later), (serde_json::json!({"params": {"t": 0}}), None));
        let (i, later) = q(PromptStorage::Redacted);
        assert_eq!(i["messages"], msgs);
        assert!(later.is_none());
        let (i, later) = q(PromptStorage::Full);
        assert!(i.get("messages").is_none());
        assert_eq!(later, Some(msgs.clone()));
    }
}
