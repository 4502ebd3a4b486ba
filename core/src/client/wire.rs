//! The request body of `POST /v1/events` as the client builds it; the answer
//! types are the shared ones of `crate::wire`.

use crate::event::Event;
use crate::hash::{sha256, Hash};

pub use crate::wire::{EventError, IngestResponse, Receipt};

/// Builds the request body `{"events":[{"event":…,"content_hash":"…"},…]}`
/// from events already in canonical form, without re-serialising them
/// (RFC 8785 output is plain JSON).
#[derive(Debug, Default)]
pub struct BodyBuilder {
    buf: Vec<u8>,
    count: u32,
    /// Events the body is expected to hold: room for them is reserved once
    /// the first one shows their size.
    expect: usize,
}

impl BodyBuilder {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 16);
        buf.extend_from_slice(b"{\"events\":[");
        BodyBuilder {
            buf,
            count: 0,
            expect: 0,
        }
    }

    /// An empty body that will reserve room for `events` events like its
    /// first one ([`BodyBuilder::push_event`]).
    pub fn for_events(events: usize) -> Self {
        BodyBuilder {
            expect: events,
            ..Default::default()
        }
    }

    /// Appends `event` in canonical form, written straight into the body
    /// (no buffer of its own to allocate, copy and free), with the SHA-256
    /// of that form. An event whose canonical form is over `max_bytes` is
    /// taken out again and its size returned.
    pub fn push_event(&mut self, event: &Event, max_bytes: usize) -> Result<Hash, usize> {
        let mark = self.buf.len();
        if self.buf.is_empty() {
            self.buf.extend_from_slice(b"{\"events\":[");
        }
        if self.count > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(b"{\"event\":");
        let start = self.buf.len();
        event.write_canonical(&mut self.buf);
        let len = self.buf.len() - start;
        if len > max_bytes {
            self.buf.truncate(mark);
            return Err(len);
        }
        let hash = sha256(&self.buf[start..]);
        self.end_entry(&hash);
        if self.count == 1 && self.expect > 1 {
            self.buf.reserve((self.buf.len() + 16) * (self.expect - 1));
        }
        Ok(hash)
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
        self.end_entry(content_hash);
    }

    fn end_entry(&mut self, content_hash: &Hash) {
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
    use crate::event::{Event, EventType, Limits};

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
        type Body = crate::wire::IngestBatch;
        let got: Body = serde_json::from_slice(&b.finish()).unwrap();
        assert_eq!(got.events, want);
        let empty: Body = serde_json::from_slice(&BodyBuilder::default().finish()).unwrap();
        assert!(empty.events.is_empty());
    }

    #[test]
    fn events_written_in_place_equal_pushed_ones() {
        let limits = Limits::default();
        let mut pushed = BodyBuilder::with_capacity(0);
        let mut direct = BodyBuilder::for_events(4);
        let mut big = Event::new(EventType::ToolCall, "a");
        big.inputs = Some(serde_json::json!({"q": "x".repeat(2000)}));
        for i in 0..3 {
            let mut e = Event::new(EventType::ToolCall, "a");
            e.name = Some(format!("t{i}"));
            let s = e.clone().seal(&limits).unwrap();
            pushed.push(&s.event.canonical_bytes(), &s.content_hash);
            assert_eq!(direct.push_event(&e, 1000), Ok(s.content_hash));
            // Too large: refused, measured, and leaves the body as it was.
            let len = big.canonical_bytes().len();
            assert_eq!(direct.push_event(&big, 1000), Err(len));
        }
        assert_eq!(direct.count(), 3);
        assert_eq!(direct.finish(), pushed.finish());
        let mut only_big = BodyBuilder::for_events(4);
        assert!(only_big.push_event(&big, 1000).is_err());
        assert!(only_big.is_empty());
        assert_eq!(only_big.finish(), BodyBuilder::default().finish());
    }
}
