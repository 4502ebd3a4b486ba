//! The batch wire format of `POST /v1/events` as the client writes and
//! reads it. Field names follow the server contract; the lead unifies these
//! types with the server's `wire` module at merge.

use serde::{Deserialize, Serialize};

use crate::event::EventId;
use crate::hash::Hash;

/// One receipt: the server chained event `id` as `seq` with link `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: EventId,
    pub seq: u64,
    pub hash: Hash,
    /// The server already had this id (a resend): nothing was appended.
    #[serde(default)]
    pub duplicate: bool,
}

/// One event of the batch the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    /// Position of the event in the batch.
    pub index: usize,
    #[serde(default)]
    pub id: Option<String>,
    /// The error kind (`ErrorKind::as_str`).
    pub error: String,
    #[serde(default)]
    pub detail: String,
}

/// A 2xx answer to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    #[serde(default)]
    pub errors: Vec<EventError>,
}

/// Builds the request body `{"events":[{"event":…,"content_hash":"…"},…]}`
/// from events already in canonical form, without re-serialising them
/// (RFC 8785 output is plain JSON).
#[derive(Debug, Default)]
pub struct BodyBuilder {
    buf: Vec<u8>,
    count: u32,
}

impl BodyBuilder {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 16);
        buf.extend_from_slice(b"{\"events\":[");
        BodyBuilder { buf, count: 0 }
    }

    pub fn push(&mut self, canonical_event: &[u8], content_hash: &Hash) {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(b"{\"events\":[");
        }
        if self.count > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(b"{\"event\":");
        self.buf.extend_from_slice(canonical_event);
        self.buf.extend_from_slice(b",\"content_hash\":\"");
        let mut hex = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the hash length.
        let _ = hex::encode_to_slice(content_hash.0, &mut hex);
        self.buf.extend_from_slice(&hex);
        self.buf.extend_from_slice(b"\"}");
        self.count += 1;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(b"{\"events\":[");
        }
        self.buf.extend_from_slice(b"]}");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventType, Limits, SealedEvent};

    #[test]
    fn body_parses_as_sealed_events() {
        let mut b = BodyBuilder::with_capacity(0);
        let mut want = Vec::new();
        for i in 0..3 {
            let mut e = Event::new(EventType::ToolCall, "a");
            e.name = Some(format!("t{i}"));
            let s = e.seal(&Limits::default()).unwrap();
            b.push(&s.event.canonical_bytes(), &s.content_hash);
            want.push(s);
        }
        #[derive(Deserialize)]
        struct Body {
            events: Vec<SealedEvent>,
        }
        let got: Body = serde_json::from_slice(&b.finish()).unwrap();
        assert_eq!(got.events, want);
        let empty: Body = serde_json::from_slice(&BodyBuilder::default().finish()).unwrap();
        assert!(empty.events.is_empty());
    }
}
