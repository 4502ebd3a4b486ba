//! The event model: the fields an agent records, their rules, and parsing
//! with limits. The canonical bytes of an [`Event`] (see `jcs` and
//! `docs/chain-spec.md`) are what `content_hash` covers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// Largest integer every language reproduces exactly (2^53 - 1). Integer
/// fields above it would not survive RFC 8785's IEEE-754 number model.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// Default per-event size limit (canonical bytes): 256 KiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 256 * 1024;
/// Default JSON nesting depth limit.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Longest identifier (agent, actor, session, trace, parent) in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest `name` in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// Limits applied when parsing and sealing events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of one event, in bytes of JSON (input) and canonical form.
    pub max_event_bytes: usize,
    /// Maximum nesting depth of arrays and objects, the event object included.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// The kind of thing that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Request,
    ModelCall,
    ToolCall,
    ToolResult,
    Response,
    Error,
    Decision,
    Custom,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::Request,
        EventType::ModelCall,
        EventType::ToolCall,
        EventType::ToolResult,
        EventType::Response,
        EventType::Error,
        EventType::Decision,
        EventType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Request => "request",
            EventType::ModelCall => "model_call",
            EventType::ToolCall => "tool_call",
            EventType::ToolResult => "tool_result",
            EventType::Response => "response",
            EventType::Error => "error",
            EventType::Decision => "decision",
            EventType::Custom => "custom",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown event type {s:?}; expected one of request, model_call, tool_call, \
                     tool_result, response, error, decision, custom"
                ))
            })
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message()))
    }
}

/// A ULID made by the client: the idempotency key and the time order.
/// Always serialised in its canonical 26-character upper-case form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub ulid::Ulid);

static ULID_GEN: Mutex<Option<ulid::Generator>> = Mutex::new(None);

impl EventId {
    /// A new id, monotonic within this process (two ids made in the same
    /// millisecond still sort in the order they were made).
    pub fn generate() -> Self {
        Self::generate_at(std::time::SystemTime::now())
    }

    /// A new id whose time part is `at` (an event recorded after the fact
    /// with its start time): after every id made before it in the same
    /// millisecond or an earlier one. An `at` over a second earlier than the
    /// last id made gets a fresh random id of its own millisecond: the
    /// generator would keep the later time, and the server refuses an id
    /// whose time is far from its event's `ts` (a tool call that ran for
    /// minutes).
    pub fn generate_at(at: std::time::SystemTime) -> Self {
        let ms = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        if let Ok(mut guard) = ULID_GEN.lock() {
            let gen = guard.get_or_insert_with(ulid::Generator::new);
            if let Ok(id) = gen.generate_from_datetime(at) {
                // Within a second of `at` (ids made in the same millisecond,
                // or a clock that stepped back a little): keep the order.
                if u128::from(id.timestamp_ms()) <= ms + 1000 {
                    return EventId(id);
                }
            }
        }
        EventId(ulid::Ulid::from_datetime(at))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for EventId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let id = ulid::Ulid::from_string(s).map_err(|e| {
            Error::invalid(format!(
                "id {s:?} is not a ULID ({e}); use 26 Crockford base32 characters"
            ))
        })?;
        if id.to_string() != s {
            return Err(Error::invalid(format!(
                "id {s:?} must be written in canonical upper case ({id})"
            )));
        }
        Ok(EventId(id))
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message()))
    }
}

/// A UTC instant with microsecond precision, written as RFC 3339 with exactly
/// six fractional digits and `Z`: `2026-11-23T11:33:40.123456Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

/// 1970-01-01T00:00:00.000000Z .. 9999-12-31T23:59:59.999999Z
const TS_MAX_MICROS: i64 = 253_402_300_799_999_999;

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(chrono::Utc::now().timestamp_micros())
    }
    /// `at`, truncated to the microsecond (the epoch for times before it).
    pub fn at(at: std::time::SystemTime) -> Self {
        let us = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        Timestamp(
            i64::try_from(us)
                .unwrap_or(TS_MAX_MICROS)
                .min(TS_MAX_MICROS),
        )
    }
    /// From microseconds since the Unix epoch.
    pub fn from_micros(us: i64) -> Result<Self> {
        if !(0..=TS_MAX_MICROS).contains(&us) {
            return Err(Error::invalid(format!(
                "timestamp {us} µs is outside 1970-01-01..9999-12-31"
            )));
        }
        Ok(Timestamp(us))
    }
    pub fn as_micros(self) -> i64 {
        self.0
    }
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }
}

impl Timestamp {
    /// The RFC 3339 form written into `buf` (it runs for every event
    /// canonicalised, so without chrono's formatting machinery). None
    /// outside 1970..9999, which the constructors do not produce.
    fn format(self, buf: &mut [u8; 27]) -> Option<&str> {
        if !(0..=TS_MAX_MICROS).contains(&self.0) {
            return None;
        }
        const DAY: i64 = 86_400_000_000;
        let (days, in_day) = (self.0 / DAY, self.0 % DAY);
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468;
        let (era, doe) = (z / 146_097, z % 146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let secs = in_day / 1_000_000;
        let fields = [
            (0, 4, y),
            (5, 2, m),
            (8, 2, d),
            (11, 2, secs / 3600),
            (14, 2, secs / 60 % 60),
            (17, 2, secs % 60),
            (20, 6, in_day % 1_000_000),
        ];
        *buf = *b"0000-00-00T00:00:00.000000Z";
        for (at, width, mut v) in fields {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        std::str::from_utf8(buf).ok()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format(&mut [0; 27]) {
            Some(s) => f.write_str(s),
            None => write!(f, "{}", self.to_chrono().format("%Y-%m-%dT%H:%M:%S%.6fZ")),
        }
    }
}

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "ts {s:?} must be RFC 3339 UTC with exactly six fractional digits, \
                 e.g. 2026-11-23T11:33:40.123456Z"
            ))
        };
        let b = s.as_bytes();
        if b.len() != 27 || b[26] != b'Z' || b[19] != b'.' {
            return Err(bad());
        }
        let dt = chrono::NaiveDateTime::parse_from_str(&s[..26], "%Y-%m-%dT%H:%M:%S%.6f")
            .map_err(|_| bad())?;
        let ts = Timestamp::from_micros(dt.and_utc().timestamp_micros())?;
        if ts.to_string() != s {
            return Err(bad());
        }
        Ok(ts)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message()))
    }
}

/// The outcome of a human or policy decision about a side-effecting action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    Approved,
    Denied,
    Escalated,
}

impl DecisionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionOutcome::Approved => "approved",
            DecisionOutcome::Denied => "denied",
            DecisionOutcome::Escalated => "escalated",
        }
    }
}

/// Who approved, denied or escalated what, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub outcome: DecisionOutcome,
    /// The human or policy that decided (`"alice@ops"`, `"policy:refund-limit"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A failure: exception type, message and (redacted) stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// Token counts of a model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
}

/// One audit event, as the client makes it. `None` fields are absent from
/// the canonical form. An explicit JSON `null` reads as absent, both for a
/// member of the event and for a member of `decision`, `error` and
/// `tokens` (spec section 1); inside `inputs`, `outputs` and `attrs` a
/// `null` is data and is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: EventId,
    pub ts: Timestamp,
    pub agent_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Tool or model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SHA-256 (lower-case hex) of the canonical prompt, taken before redaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// Decimal string, never a float: `"0.0123"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// PII types found by redaction and their counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<BTreeMap<String, u64>>,
    /// Free JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Map<String, Value>>,
}

impl Event {
    /// A new event of `kind` for `agent_id`, with a fresh id and the current time.
    pub fn new(kind: EventType, agent_id: impl Into<String>) -> Self {
        Self::new_at(kind, agent_id, std::time::SystemTime::now())
    }

    /// A new event that happened at `at` (earlier than now when it is
    /// recorded after the fact): `ts` is `at`, and so is the time part of
    /// its fresh id.
    pub fn new_at(kind: EventType, agent_id: impl Into<String>, at: std::time::SystemTime) -> Self {
        Self::with_id(kind, agent_id, EventId::generate_at(at), Timestamp::at(at))
    }

    /// A new event with an id and a time taken earlier (on the caller's
    /// thread, for an event the worker makes later): what [`Event::new_at`]
    /// makes when `id` and `ts` come from `EventId::generate_at(at)` and
    /// `Timestamp::at(at)`.
    pub fn with_id(
        kind: EventType,
        agent_id: impl Into<String>,
        id: EventId,
        ts: Timestamp,
    ) -> Self {
        Event {
            id,
            ts,
            agent_id: agent_id.into(),
            kind,
            actor_id: None,
            session_id: None,
            trace_id: None,
            parent_id: None,
            name: None,
            prompt_hash: None,
            inputs: None,
            outputs: None,
            decision: None,
            error: None,
            tokens: None,
            cost_usd: None,
            latency_ms: None,
            pii: None,
            attrs: None,
        }
    }

    /// Parses one event from JSON bytes, checking size, UTF-8, depth, shape
    /// and field rules, with an error that names what was wrong.
    pub fn from_slice(bytes: &[u8], limits: &Limits) -> Result<Self> {
        let value = parse_json_limited(bytes, limits)?;
        Event::from_value(value, limits)
    }

    /// Builds an event from parsed JSON and validates it.
    pub fn from_value(value: Value, limits: &Limits) -> Result<Self> {
        if !value.is_object() {
            return Err(Error::new(
                ErrorKind::MalformedJson,
                "an event must be a JSON object",
            ));
        }
        // A null optional member is absent (serde's `Option`); a null
        // required one is named here, as serde's message would not.
        if let Some(k) = ["id", "ts", "agent_id", "type"]
            .into_iter()
            .find(|k| value.get(k).is_some_and(Value::is_null))
        {
            return Err(Error::invalid(format!(
                "{k} is required and cannot be null"
            )));
        }
        let event: Event =
            serde_json::from_value(value).map_err(|e| Error::invalid(e.to_string()))?;
        event.validate(limits)?;
        Ok(event)
    }

    /// Checks every field rule that the types alone do not.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_text("agent_id", &self.agent_id, MAX_ID_BYTES, true)?;
        for (field, v) in [
            ("actor_id", &self.actor_id),
            ("session_id", &self.session_id),
            ("trace_id", &self.trace_id),
            ("parent_id", &self.parent_id),
        ] {
            if let Some(v) = v {
                check_text(field, v, MAX_ID_BYTES, true)?;
            }
        }
        if let Some(name) = &self.name {
            check_text("name", name, MAX_NAME_BYTES, false)?;
        }
        if let Some(h) = &self.prompt_hash {
            if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(Error::invalid(
                    "prompt_hash must be 64 lower-case hex characters (SHA-256)",
                ));
            }
        }
        if let Some(c) = &self.cost_usd {
            check_decimal(c)?;
        }
        if let Some(t) = &self.tokens {
            check_tokens(t)?;
        }
        check_safe_int("latency_ms", self.latency_ms)?;
        if let Some(pii) = &self.pii {
            check_pii(pii)?;
        }
        // The event object itself is depth 1; values inside start at 2.
        for (field, v) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            if let Some(v) = v {
                check_depth(field, v, 2, limits.max_depth)?;
            }
        }
        if let Some(attrs) = &self.attrs {
            for v in attrs.values() {
                check_depth("attrs", v, 3, limits.max_depth)?;
            }
        }
        Ok(())
    }

    /// Checks section 1 of the spec for an event whose JSON-valued members
    /// are given as text (a stored row, [`Event::write_canonical_raw`]):
    /// the event's own fields, and each text being one JSON value of the
    /// member's type with no duplicate member name. Size and depth limits
    /// are a receiver's policy, not a rule a stored event is checked by.
    pub fn validate_raw(&self, raw: &RawPayloads<'_>) -> Result<()> {
        self.validate(&Limits {
            max_event_bytes: usize::MAX,
            max_depth: usize::MAX,
        })?;
        for which in Payload::ALL {
            let Some(text) = raw.get(which) else {
                continue;
            };
            let name = which.name();
            crate::json::check_str(text)
                .map_err(|e| Error::new(ErrorKind::MalformedJson, format!("{name}: {e}")))?;
            let typed = |e: serde_json::Error| Error::invalid(format!("{name}: {e}"));
            match which {
                // One JSON value (checked above) that opens with `{`.
                Payload::Attrs if !text.trim_start().starts_with('{') => {
                    return Err(Error::invalid("attrs must be a JSON object"));
                }
                Payload::Attrs => {}
                Payload::Pii => check_pii(&serde_json::from_str(text).map_err(typed)?)?,
                Payload::Tokens => check_tokens(&serde_json::from_str(text).map_err(typed)?)?,
                Payload::Inputs | Payload::Outputs => {}
            }
        }
        Ok(())
    }

    /// The event as a JSON value (absent fields left out).
    pub fn to_value(&self) -> Value {
        // Serialising these types cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// RFC 8785 canonical bytes of the event: what `content_hash` covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_canonical(&mut out);
        out
    }

    /// Appends the canonical bytes to `out`. Equal to `jcs::to_vec(&self.to_value())`
    /// but written straight from the fields, in RFC 8785 member order, without
    /// copying the payloads into an intermediate JSON value.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        self.write_canonical_with(None, out);
    }

    /// The canonical bytes with the JSON-valued members (`attrs`, `inputs`,
    /// `outputs`, `pii`, `tokens`) taken as given text instead of from the
    /// event's fields (which are ignored). Stored events keep those members
    /// as canonical JSON text, so a verifier can rebuild the canonical bytes
    /// without parsing them; text that is not exactly what was hashed gives
    /// other bytes and so another hash.
    pub fn write_canonical_raw(&self, raw: &RawPayloads<'_>, out: &mut Vec<u8>) {
        self.write_canonical_with(Some(raw), out);
    }

    /// The canonical bytes, and where in them each JSON-valued member's
    /// value is (its canonical text, as stored).
    pub fn canonical_bytes_with_spans(&self) -> (Vec<u8>, PayloadSpans) {
        let mut out = Vec::with_capacity(1024);
        let spans = self.write_canonical_with(None, &mut out);
        (out, spans)
    }

    fn write_canonical_with(
        &self,
        raw: Option<&RawPayloads<'_>>,
        out: &mut Vec<u8>,
    ) -> PayloadSpans {
        use crate::jcs::write_string as s;
        let mut spans = PayloadSpans::default();
        let mut payload = |which: Payload, name: &str, o: &mut ObjectWriter<'_>| match raw {
            Some(r) => {
                if let Some(t) = r.get(which) {
                    o.key(name).extend_from_slice(t.as_bytes());
                }
            }
            None => {
                if self.has_payload(which) {
                    let buf = o.key(name);
                    let start = buf.len();
                    self.write_payload_canonical(which, buf);
                    spans.0[which as usize] = Some(start..buf.len());
                }
            }
        };
        let mut o = ObjectWriter::new(out);
        // Members in UTF-16 (here: ASCII) order of their names.
        if let Some(x) = &self.actor_id {
            s(x, o.key("actor_id"));
        }
        s(&self.agent_id, o.key("agent_id"));
        payload(Payload::Attrs, "attrs", &mut o);
        if let Some(x) = &self.cost_usd {
            s(x, o.key("cost_usd"));
        }
        if let Some(d) = &self.decision {
            let mut w = ObjectWriter::new(o.key("decision"));
            if let Some(x) = &d.by {
                s(x, w.key("by"));
            }
            s(d.outcome.as_str(), w.key("outcome"));
            if let Some(x) = &d.reason {
                s(x, w.key("reason"));
            }
            w.end();
        }
        if let Some(e) = &self.error {
            let mut w = ObjectWriter::new(o.key("error"));
            s(&e.message, w.key("message"));
            if let Some(x) = &e.stack {
                s(x, w.key("stack"));
            }
            s(&e.kind, w.key("type"));
            w.end();
        }
        s(
            self.id.0.array_to_str(&mut [0; ulid::ULID_LEN]),
            o.key("id"),
        );
        payload(Payload::Inputs, "inputs", &mut o);
        if let Some(x) = self.latency_ms {
            crate::jcs::write_u64(x, o.key("latency_ms"));
        }
        if let Some(x) = &self.name {
            s(x, o.key("name"));
        }
        payload(Payload::Outputs, "outputs", &mut o);
        if let Some(x) = &self.parent_id {
            s(x, o.key("parent_id"));
        }
        payload(Payload::Pii, "pii", &mut o);
        if let Some(x) = &self.prompt_hash {
            s(x, o.key("prompt_hash"));
        }
        if let Some(x) = &self.session_id {
            s(x, o.key("session_id"));
        }
        payload(Payload::Tokens, "tokens", &mut o);
        if let Some(x) = &self.trace_id {
            s(x, o.key("trace_id"));
        }
        match self.ts.format(&mut [0; 27]) {
            Some(ts) => s(ts, o.key("ts")),
            None => s(&self.ts.to_string(), o.key("ts")),
        }
        s(self.kind.as_str(), o.key("type"));
        o.end();
        spans
    }

    /// SHA-256 of the canonical bytes.
    pub fn content_hash(&self) -> crate::hash::Hash {
        crate::hash::sha256(&self.canonical_bytes())
    }

    /// Canonicalises, checks the size limit and hashes: the form that is
    /// sent to the server and written to the ledger.
    pub fn seal(self, limits: &Limits) -> Result<SealedEvent> {
        let canonical = self.canonical_bytes();
        if canonical.len() > limits.max_event_bytes {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "event {} is {} bytes in canonical form, over the limit of {} bytes; \
                     record less (capture_result=False) or raise the limit",
                    self.id,
                    canonical.len(),
                    limits.max_event_bytes
                ),
            ));
        }
        let content_hash = crate::hash::sha256(&canonical);
        Ok(SealedEvent {
            event: self,
            content_hash,
        })
    }
}

/// Writes `{"k":v,...}` members in the order given.
/// The JSON-valued members of an event as canonical JSON text (RFC 8785),
/// for [`Event::write_canonical_raw`]. `None`: the member is absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawPayloads<'a> {
    pub attrs: Option<&'a str>,
    pub inputs: Option<&'a str>,
    pub outputs: Option<&'a str>,
    pub pii: Option<&'a str>,
    pub tokens: Option<&'a str>,
}

impl<'a> RawPayloads<'a> {
    pub fn get(&self, which: Payload) -> Option<&'a str> {
        match which {
            Payload::Attrs => self.attrs,
            Payload::Inputs => self.inputs,
            Payload::Outputs => self.outputs,
            Payload::Pii => self.pii,
            Payload::Tokens => self.tokens,
        }
    }

    pub fn set(&mut self, which: Payload, text: Option<&'a str>) {
        match which {
            Payload::Attrs => self.attrs = text,
            Payload::Inputs => self.inputs = text,
            Payload::Outputs => self.outputs = text,
            Payload::Pii => self.pii = text,
            Payload::Tokens => self.tokens = text,
        }
    }
}

/// Where each JSON-valued member's canonical text lies in an event's
/// canonical bytes ([`Event::canonical_bytes_with_spans`]); `None`: absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadSpans(pub [Option<std::ops::Range<usize>>; 5]);

impl PayloadSpans {
    pub fn get(&self, which: Payload) -> Option<std::ops::Range<usize>> {
        self.0[which as usize].clone()
    }
}

/// Which JSON-valued member of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Attrs,
    Inputs,
    Outputs,
    Pii,
    Tokens,
}

impl Payload {
    pub const ALL: [Payload; 5] = [
        Payload::Attrs,
        Payload::Inputs,
        Payload::Outputs,
        Payload::Pii,
        Payload::Tokens,
    ];

    /// The member's name in the event.
    pub fn name(self) -> &'static str {
        match self {
            Payload::Attrs => "attrs",
            Payload::Inputs => "inputs",
            Payload::Outputs => "outputs",
            Payload::Pii => "pii",
            Payload::Tokens => "tokens",
        }
    }
}

impl Event {
    /// Whether a JSON-valued member is present.
    pub fn has_payload(&self, which: Payload) -> bool {
        match which {
            Payload::Attrs => self.attrs.is_some(),
            Payload::Inputs => self.inputs.is_some(),
            Payload::Outputs => self.outputs.is_some(),
            Payload::Pii => self.pii.is_some(),
            Payload::Tokens => self.tokens.is_some(),
        }
    }

    /// Appends the canonical JSON text of one JSON-valued member (what
    /// [`Event::write_canonical`] writes after its name); false, writing
    /// nothing, when the member is absent.
    pub fn write_payload_canonical(&self, which: Payload, out: &mut Vec<u8>) -> bool {
        match which {
            Payload::Attrs => self
                .attrs
                .as_ref()
                .map(|x| crate::jcs::write_object(x, out)),
            Payload::Inputs => self
                .inputs
                .as_ref()
                .map(|x| crate::jcs::write_value(x, out)),
            Payload::Outputs => self
                .outputs
                .as_ref()
                .map(|x| crate::jcs::write_value(x, out)),
            Payload::Pii => self.pii.as_ref().map(|x| write_pii(x, out)),
            Payload::Tokens => self.tokens.as_ref().map(|x| write_tokens(x, out)),
        }
        .is_some()
    }
}

fn write_pii(p: &BTreeMap<String, u64>, out: &mut Vec<u8>) {
    if crate::jcs::is_sorted_utf16(p.keys().map(String::as_str)) {
        let mut w = ObjectWriter::new(out);
        for (k, n) in p {
            w.member(k);
            crate::jcs::write_u64(*n, w.out);
        }
        w.end();
    } else {
        let m: Map<String, Value> = p
            .iter()
            .map(|(k, n)| (k.clone(), Value::from(*n)))
            .collect();
        crate::jcs::write_object(&m, out);
    }
}

fn write_tokens(t: &Tokens, out: &mut Vec<u8>) {
    let mut w = ObjectWriter::new(out);
    if let Some(x) = t.input {
        crate::jcs::write_u64(x, w.key("input"));
    }
    if let Some(x) = t.output {
        crate::jcs::write_u64(x, w.key("output"));
    }
    w.end();
}

struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }
    /// Writes the member name (a plain ASCII literal) and returns the buffer
    /// for its value.
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }
    /// Writes a member name that may need escaping; the value follows in `out`.
    fn member(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        crate::jcs::write_string(name, self.out);
        self.out.push(b':');
    }
    fn end(self) {
        self.out.push(b'}');
    }
}

/// An event with the SHA-256 of its canonical form, as sent in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedEvent {
    pub event: Event,
    pub content_hash: crate::hash::Hash,
}

impl SealedEvent {
    /// Recomputes the content hash and refuses a mismatch.
    pub fn check(&self) -> Result<()> {
        let actual = self.event.content_hash();
        if actual != self.content_hash {
            return Err(Error::new(
                ErrorKind::HashMismatch,
                format!(
                    "content_hash of event {} is {} but its canonical form hashes to {}; \
                     compute it over the RFC 8785 form described in docs/chain-spec.md",
                    self.event.id, self.content_hash, actual
                ),
            ));
        }
        Ok(())
    }
}

fn check_text(field: &str, v: &str, max: usize, non_empty: bool) -> Result<()> {
    if non_empty && v.is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if v.len() > max {
        return Err(Error::invalid(format!(
            "{field} is {} bytes, over the limit of {max}",
            v.len()
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

fn check_tokens(t: &Tokens) -> Result<()> {
    check_safe_int("tokens.input", t.input)?;
    check_safe_int("tokens.output", t.output)
}

fn check_pii(pii: &BTreeMap<String, u64>) -> Result<()> {
    for (k, v) in pii {
        check_text("pii key", k, MAX_NAME_BYTES, true)?;
        check_safe_int("pii count", Some(*v))?;
    }
    Ok(())
}

fn check_safe_int(field: &str, v: Option<u64>) -> Result<()> {
    match v {
        Some(n) if n > MAX_SAFE_INTEGER => Err(Error::invalid(format!(
            "{field} = {n} is above 2^53-1, which JSON numbers cannot carry exactly"
        ))),
        _ => Ok(()),
    }
}

/// A non-negative decimal with no exponent, no sign, no leading zeros:
/// `0`, `12`, `0.0012`. Trailing zeros are kept as written.
fn check_decimal(s: &str) -> Result<()> {
    let bad = || {
        Error::invalid(format!(
            "cost_usd {s:?} must be a non-negative decimal string such as \"0.0123\" \
             (no sign, exponent or leading zeros; never a float)"
        ))
    };
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int.is_empty()
        || int.len() > 18
        || !int.bytes().all(|b| b.is_ascii_digit())
        || (int.len() > 1 && int.starts_with('0'))
    {
        return Err(bad());
    }
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 18 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_depth(field: &str, v: &Value, depth: usize, max: usize) -> Result<()> {
    match v {
        Value::Array(a) => {
            if depth > max {
                return Err(too_deep(field, max));
            }
            a.iter()
                .try_for_each(|x| check_depth(field, x, depth + 1, max))
        }
        Value::Object(o) => {
            if depth > max {
                return Err(too_deep(field, max));
            }
            o.values()
                .try_for_each(|x| check_depth(field, x, depth + 1, max))
        }
        _ => Ok(()),
    }
}

fn too_deep(field: &str, max: usize) -> Error {
    Error::new(
        ErrorKind::TooDeep,
        format!("{field} nests deeper than {max} levels; flatten it or raise the depth limit"),
    )
}

/// Parses JSON bytes after checking size, UTF-8 and nesting depth, so that
/// hostile input is refused before the parser recurses into it. A member
/// name that appears twice in an object is refused (I-JSON, which RFC 8785
/// requires), never resolved by the last one winning.
pub fn parse_json_limited(bytes: &[u8], limits: &Limits) -> Result<Value> {
    if bytes.len() > limits.max_event_bytes {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "event is {} bytes, over the limit of {} bytes",
                bytes.len(),
                limits.max_event_bytes
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUtf8,
            format!(
                "invalid UTF-8 at byte {}; send text as UTF-8",
                e.valid_up_to()
            ),
        )
    })?;
    let depth = json_depth(text.as_bytes());
    if depth > limits.max_depth {
        return Err(too_deep("event", limits.max_depth));
    }
    crate::json::from_str(text)
        .map_err(|e| Error::new(ErrorKind::MalformedJson, format!("malformed JSON: {e}")))
}

/// Maximum nesting depth of JSON text, without parsing it (strings skipped).
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => match string_end(bytes, i) {
                Some(end) => {
                    i = end;
                    continue;
                }
                // Unterminated: the parser refuses it.
                None => return max,
            },
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// `b[i]` is the `"` opening a JSON string: the index just past its closing
/// quote, or `None` when it is not closed. Jumps between quotes and
/// backslashes with `memchr`, as most of an event's bytes are inside strings.
pub fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'"' {
            return Some(k + 1);
        }
        j = k + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> String {
        r#"{"id":"01JD0000000000000000000000","ts":"2026-11-23T11:33:40.123456Z","agent_id":"a","type":"request"}"#.to_string()
    }

    #[test]
    fn parses_minimal_and_round_trips() {
        let e = Event::from_slice(minimal().as_bytes(), &Limits::default()).unwrap();
        assert_eq!(e.kind, EventType::Request);
        assert_eq!(e.ts.to_string(), "2026-11-23T11:33:40.123456Z");
        assert_eq!(
            String::from_utf8(e.canonical_bytes()).unwrap(),
            r#"{"agent_id":"a","id":"01JD0000000000000000000000","ts":"2026-11-23T11:33:40.123456Z","type":"request"}"#
        );
    }

    #[test]
    fn raw_payloads_give_the_same_canonical_bytes() {
        let mut e = Event::from_slice(minimal().as_bytes(), &Limits::default()).unwrap();
        e.inputs = Some(
            serde_json::json!({"b": [1, 2.5, "é"], "a": {"z": null, "\u{e9}x": true, "\u{1F600}": 1}}),
        );
        e.outputs = Some(serde_json::json!("plain"));
        e.attrs = Some(serde_json::from_str(r#"{"k": 1e21, "b": "x"}"#).unwrap());
        e.pii = Some([("phone".to_string(), 2), ("email".to_string(), 1)].into());
        e.tokens = Some(Tokens {
            input: Some(3),
            output: None,
        });
        e.latency_ms = Some(7);
        let text = |w: Payload| {
            let mut out = Vec::new();
            e.write_payload_canonical(w, &mut out)
                .then(|| String::from_utf8(out).unwrap())
        };
        let (attrs, inputs, outputs, pii, tokens) = (
            text(Payload::Attrs),
            text(Payload::Inputs),
            text(Payload::Outputs),
            text(Payload::Pii),
            text(Payload::Tokens),
        );
        assert_eq!(pii.as_deref(), Some(r#"{"email":1,"phone":2}"#));
        assert_eq!(tokens.as_deref(), Some(r#"{"input":3}"#));
        let raw = RawPayloads {
            attrs: attrs.as_deref(),
            inputs: inputs.as_deref(),
            outputs: outputs.as_deref(),
            pii: pii.as_deref(),
            tokens: tokens.as_deref(),
        };
        let mut spliced = Vec::new();
        e.write_canonical_raw(&raw, &mut spliced);
        assert_eq!(spliced, e.canonical_bytes());
        // The spans point at the same texts inside the canonical bytes.
        let (bytes, spans) = e.canonical_bytes_with_spans();
        assert_eq!(bytes, spliced);
        for w in [
            Payload::Attrs,
            Payload::Inputs,
            Payload::Outputs,
            Payload::Pii,
            Payload::Tokens,
        ] {
            let at = spans
                .get(w)
                .map(|r| std::str::from_utf8(&bytes[r]).unwrap());
            assert_eq!(at, raw.get(w), "{w:?}");
        }
        // Other text for a member gives other bytes.
        let mut other = Vec::new();
        e.write_canonical_raw(
            &RawPayloads {
                outputs: Some("\"plain \""),
                ..raw
            },
            &mut other,
        );
        assert_ne!(other, e.canonical_bytes());
        // Absent members stay absent.
        let mut bare = Vec::new();
        e.write_canonical_raw(&RawPayloads::default(), &mut bare);
        assert!(!String::from_utf8(bare).unwrap().contains("inputs"));
        let none = Event::from_slice(minimal().as_bytes(), &Limits::default()).unwrap();
        assert!(!none.write_payload_canonical(Payload::Inputs, &mut Vec::new()));
    }

    fn err_of(json: &str) -> Error {
        Event::from_slice(json.as_bytes(), &Limits::default()).unwrap_err()
    }

    #[test]
    fn clear_errors() {
        let e = err_of(
            r#"{"id":"01JD0000000000000000000000","ts":"2026-11-23T11:33:40.123456Z","type":"request"}"#,
        );
        assert!(e.message().contains("agent_id"), "{e}");
        let e = err_of(&minimal().replace("request", "launch"));
        assert!(e.message().contains("unknown event type"), "{e}");
        let e = err_of(&minimal().replace("\"type\"", "\"colour\":1,\"type\""));
        assert!(e.message().contains("unknown field"), "{e}");
        let e = err_of(&minimal().replace(".123456Z", "Z"));
        assert!(e.message().contains("six fractional digits"), "{e}");
        let e = err_of(&minimal().replace(".123456Z", ".123456+01:00"));
        assert!(e.message().contains("RFC 3339"), "{e}");
        let e = err_of(&minimal().replace("01JD", "01jd"));
        assert!(e.message().contains("upper case"), "{e}");
        let e = err_of(&minimal().replace("}", ",\"cost_usd\":0.5}"));
        assert_eq!(e.kind(), ErrorKind::InvalidEvent);
        for bad in ["-1", "01", "1.", ".5", "1e3", "+1", ""] {
            let e = err_of(&minimal().replace("}", &format!(",\"cost_usd\":\"{bad}\"}}")));
            assert!(e.message().contains("decimal"), "{bad}: {e}");
        }
        let e = err_of(&minimal().replace("}", ",\"latency_ms\":9007199254740993}"));
        assert!(e.message().contains("2^53"), "{e}");
        let e = err_of("[1,2]");
        assert_eq!(e.kind(), ErrorKind::MalformedJson);
        let e = err_of("{\"id\":");
        assert_eq!(e.kind(), ErrorKind::MalformedJson);
    }

    #[test]
    fn null_members_are_absent_outside_free_json() {
        let bare = Event::from_slice(minimal().as_bytes(), &Limits::default()).unwrap();
        for member in [
            "actor_id",
            "inputs",
            "decision",
            "attrs",
            "pii",
            "latency_ms",
        ] {
            let with_null = minimal().replace("}", &format!(",\"{member}\":null}}"));
            let e = Event::from_slice(with_null.as_bytes(), &Limits::default()).unwrap();
            assert_eq!(e.canonical_bytes(), bare.canonical_bytes(), "{member}");
        }
        let nested = minimal().replace(
            "}",
            r#","decision":{"outcome":"approved","by":null},"tokens":{"input":null,"output":3},"attrs":{"k":null}}"#,
        );
        let e = Event::from_slice(nested.as_bytes(), &Limits::default()).unwrap();
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert!(
            text.contains(r#""decision":{"outcome":"approved"}"#),
            "{text}"
        );
        assert!(text.contains(r#""tokens":{"output":3}"#), "{text}");
        // Inside free JSON a null is a value.
        assert!(text.contains(r#""attrs":{"k":null}"#), "{text}");
        // A required member cannot be null, nor a pii count.
        let e = err_of(&minimal().replace("\"a\"", "null"));
        assert!(e.message().contains("agent_id"), "{e}");
        let e = err_of(&minimal().replace("}", r#","pii":{"email":null}}"#));
        assert_eq!(e.kind(), ErrorKind::InvalidEvent, "{e}");
    }

    #[test]
    fn duplicate_member_names_refused() {
        for (from, to) in [
            (
                "\"type\":\"request\"",
                "\"type\":\"decision\",\"type\":\"request\"",
            ),
            ("}", r#","inputs":{"q":1,"q":2}}"#),
            (
                "}",
                r#","decision":{"outcome":"denied","outcome":"approved"}}"#,
            ),
        ] {
            let e = err_of(&minimal().replacen(from, to, 1));
            assert_eq!(e.kind(), ErrorKind::MalformedJson, "{to}: {e}");
            assert!(e.message().contains("duplicate member name"), "{to}: {e}");
        }
    }

    #[test]
    fn raw_payloads_validated_as_section_1() {
        let e = Event::from_slice(minimal().as_bytes(), &Limits::default()).unwrap();
        let ok = RawPayloads {
            attrs: Some(r#"{"a":null}"#),
            inputs: Some("[1,2]"),
            pii: Some(r#"{"email":2}"#),
            tokens: Some(r#"{"input":1}"#),
            ..RawPayloads::default()
        };
        e.validate_raw(&ok).unwrap();
        for bad in [
            RawPayloads {
                inputs: Some(r#"{"a":1,"a":1}"#),
                ..ok
            },
            RawPayloads {
                inputs: Some("[1] [2]"),
                ..ok
            },
            RawPayloads {
                attrs: Some("[1]"),
                ..ok
            },
            RawPayloads {
                pii: Some(r#"{"email":-1}"#),
                ..ok
            },
            RawPayloads {
                pii: Some(r#"{"email":1.5}"#),
                ..ok
            },
            RawPayloads {
                tokens: Some(r#"{"input":9007199254740992}"#),
                ..ok
            },
            RawPayloads {
                tokens: Some(r#"{"inputs":1}"#),
                ..ok
            },
        ] {
            assert!(e.validate_raw(&bad).is_err(), "{bad:?}");
        }
        let mut unruly = e.clone();
        unruly.agent_id = "tab\there".into();
        assert!(unruly.validate_raw(&ok).is_err());
    }

    #[test]
    fn invalid_utf8_named() {
        let mut b = minimal().into_bytes();
        b[45] = 0xff;
        let e = Event::from_slice(&b, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
        assert!(e.message().contains("byte 45"), "{e}");
    }

    #[test]
    fn size_and_depth_limits() {
        let limits = Limits {
            max_event_bytes: 200,
            max_depth: 4,
        };
        let big = minimal().replace("}", &format!(",\"name\":\"{}\"}}", "x".repeat(300)));
        assert_eq!(
            Event::from_slice(big.as_bytes(), &limits)
                .unwrap_err()
                .kind(),
            ErrorKind::TooLarge
        );
        let deep = minimal().replace("}", ",\"inputs\":{\"a\":[[[1]]]}}");
        assert_eq!(
            Event::from_slice(deep.as_bytes(), &limits)
                .unwrap_err()
                .kind(),
            ErrorKind::TooDeep
        );
        let ok = minimal().replace("}", ",\"inputs\":{\"a\":[[1]]}}");
        Event::from_slice(ok.as_bytes(), &limits).unwrap();
        // A hostile 10,000-deep document is refused before parsing.
        let hostile = "[".repeat(10_000);
        assert_eq!(
            Event::from_slice(hostile.as_bytes(), &Limits::default())
                .unwrap_err()
                .kind(),
            ErrorKind::TooDeep
        );
    }

    #[test]
    fn seal_checks_size_and_hash() {
        let mut e = Event::new(EventType::ToolCall, "agent-1");
        e.inputs = Some(serde_json::json!({"q": "x".repeat(1000)}));
        let limits = Limits {
            max_event_bytes: 500,
            max_depth: 64,
        };
        assert_eq!(
            e.clone().seal(&limits).unwrap_err().kind(),
            ErrorKind::TooLarge
        );
        let mut sealed = e.seal(&Limits::default()).unwrap();
        sealed.check().unwrap();
        sealed.event.name = Some("edited".into());
        assert_eq!(sealed.check().unwrap_err().kind(), ErrorKind::HashMismatch);
    }

    #[test]
    fn direct_canonical_form_equals_the_generic_one() {
        let mut e = Event::new(EventType::ModelCall, "agent-ü");
        let generic = |e: &Event| crate::jcs::to_vec(&e.to_value());
        assert_eq!(e.canonical_bytes(), generic(&e));
        e.actor_id = Some("a\"\\\u{1}".into());
        e.session_id = Some("s".into());
        e.trace_id = Some("t".into());
        e.parent_id = Some("p".into());
        e.name = Some("n😀".into());
        e.prompt_hash = Some("ab".repeat(32));
        e.inputs = Some(
            serde_json::json!({"b": [1, 2.5, -0.0, 1e21], "a": null, "\u{1F600}": 1, "\u{FB33}": 2}),
        );
        e.outputs = Some(serde_json::json!("x"));
        e.decision = Some(Decision {
            outcome: DecisionOutcome::Denied,
            by: Some("b".into()),
            reason: Some("r".into()),
        });
        e.error = Some(ErrorInfo {
            kind: "E".into(),
            message: "m".into(),
            stack: Some("s".into()),
        });
        e.tokens = Some(Tokens {
            input: Some(1),
            output: Some(MAX_SAFE_INTEGER),
        });
        e.cost_usd = Some("0.10".into());
        e.latency_ms = Some(7);
        e.pii = Some(
            [("email".to_string(), 2u64), ("card".to_string(), 1)]
                .into_iter()
                .collect(),
        );
        e.attrs = Some(
            serde_json::json!({"z": {"y": 1}, "a": []})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(e.canonical_bytes(), generic(&e));
        e.decision = Some(Decision {
            outcome: DecisionOutcome::Approved,
            by: None,
            reason: None,
        });
        e.error = Some(ErrorInfo {
            kind: "E".into(),
            message: "".into(),
            stack: None,
        });
        e.tokens = Some(Tokens::default());
        assert_eq!(e.canonical_bytes(), generic(&e));
        // pii keys out of UTF-16 order in the BTreeMap, and needing escapes.
        e.pii = Some(
            [("\u{ffff}", 1u64), ("😀", 2), ("a\"b", 3)]
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect(),
        );
        assert_eq!(e.canonical_bytes(), generic(&e));
    }

    #[test]
    fn timestamps_format_as_chrono_does() {
        let chrono_fmt = |t: Timestamp| t.to_chrono().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let mut samples = vec![0, 1, 999_999, 1_000_000, 86_399_999_999, 86_400_000_000];
        samples.extend([951_782_400_000_000, 4_107_542_400_000_000, TS_MAX_MICROS]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push((x % (TS_MAX_MICROS as u64 + 1)) as i64);
        }
        for us in samples {
            let t = Timestamp::from_micros(us).unwrap();
            assert_eq!(t.to_string(), chrono_fmt(t), "{us}");
            assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }
        assert_eq!(Timestamp(-1).to_string(), chrono_fmt(Timestamp(-1)));
    }

    #[test]
    fn ids_are_monotonic() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert!(a < b);
    }

    #[test]
    fn an_id_made_after_the_fact_carries_its_own_time() {
        let now = std::time::SystemTime::now();
        let later = EventId::generate_at(now);
        let earlier = now - std::time::Duration::from_secs(3600);
        let id = EventId::generate_at(earlier);
        let want = earlier
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert_eq!(id.0.timestamp_ms(), want);
        assert!(id < later);
    }

    #[test]
    fn depth_and_string_ends_skip_string_contents() {
        assert_eq!(json_depth(br#"{"a":[1,{"b":"]]}}[[{{"}]}"#), 3);
        assert_eq!(json_depth(br#"["\"", "\\", "[", {"x\"[":["{"]}]"#), 3);
        assert_eq!(json_depth(br#"{"a":"unterminated [[[["#), 1);
        assert_eq!(json_depth(br#"{"a":"ends in a backslash \"#), 1);
        assert_eq!(json_depth(b"[[[]]]"), 3);
        assert_eq!(string_end(br#""abc" x"#, 0), Some(5));
        assert_eq!(string_end(br#"x "a\"b" y"#, 2), Some(8));
        assert_eq!(string_end(br#""a\\" y"#, 0), Some(5));
        assert_eq!(string_end(br#""a\"#, 0), None);
        assert_eq!(string_end(br#""abc"#, 0), None);
    }
}
