//! What sits in the queue: an event plus the parts of it the worker, not the
//! caller, finishes. A binding that already holds JSON text (Node's
//! `JSON.stringify` output) hands it over as text, and the worker parses it
//! with the event limits, so the agent's thread never pays for parsing. A
//! payload that does not parse is dropped as invalid (counted, with
//! `last_error`), never thrown into the agent.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::config::PromptStorage;
use crate::error::Result;
use crate::event::{parse_json_limited, Event, Limits};

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
}

impl Slot {
    /// Events in the slot.
    pub fn len(&self) -> u64 {
        match self {
            Slot::One(_) => 1,
            Slot::Pair(_) => 2,
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
