//! How an event is placed in its context (actor, session, trace, parent
//! call), the same for every binding: the bindings keep the ambient context
//! in their language's own context store and hand it over here.

use crate::event::{Event, EventType};

/// The ambient context of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub actor_id: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub parent_id: Option<String>,
}

impl Event {
    /// A new event of `kind` in `ctx`. Outside any trace an event starts its
    /// own: its trace id is its id.
    pub fn in_context(kind: EventType, agent_id: &str, ctx: &Context) -> Event {
        Event::in_context_at(kind, agent_id, ctx, std::time::SystemTime::now())
    }

    /// [`Event::in_context`] for an event that happened at `at`: a tool
    /// call recorded once it returned carries the time it started.
    pub fn in_context_at(
        kind: EventType,
        agent_id: &str,
        ctx: &Context,
        at: std::time::SystemTime,
    ) -> Event {
        let mut e = Event::new_at(kind, agent_id, at);
        e.place_in(ctx);
        e
    }

    /// Takes `ctx`'s actor, session, trace and parent, or starts its own
    /// trace outside any (the rule of [`Event::in_context`]).
    pub fn place_in(&mut self, ctx: &Context) {
        self.actor_id = ctx.actor_id.clone();
        self.session_id = ctx.session_id.clone();
        self.parent_id = ctx.parent_id.clone();
        self.trace_id = ctx.trace_id.clone();
        self.start_own_trace();
    }

    /// The `tool_result` or `error` that closes tool call `call_id`: the
    /// call's trace (the call's own id when it started one), the call as parent.
    pub fn after_call(
        kind: EventType,
        agent_id: &str,
        name: &str,
        ctx: &Context,
        call_id: &str,
    ) -> Event {
        let mut e = Event::new(kind, agent_id);
        e.place_after(name, ctx, call_id);
        e
    }

    /// The placement of [`Event::after_call`].
    pub fn place_after(&mut self, name: &str, ctx: &Context, call_id: &str) {
        self.actor_id = ctx.actor_id.clone();
        self.session_id = ctx.session_id.clone();
        self.trace_id = Some(ctx.trace_id.clone().unwrap_or_else(|| call_id.to_owned()));
        self.parent_id = Some(call_id.to_owned());
        self.name = Some(name.to_owned());
    }

    /// Outside any trace an event starts its own: sets `trace_id` to the
    /// event's id when it has none (call after fixing the id).
    pub fn start_own_trace(&mut self) {
        if self.trace_id.is_none() {
            self.trace_id = Some(self.id.to_string());
        }
    }
}

/// How the bindings turn values that JSON has no type for into JSON, so
/// that Python and Node give the same event for the same data.
pub mod values {
    /// Containers nested deeper than this become [`TOO_DEEP`].
    pub const MAX_DEPTH: usize = 48;
    /// What a container that contains itself becomes.
    pub const CYCLE: &str = "<cycle>";
    /// What a container nested past [`MAX_DEPTH`] becomes.
    pub const TOO_DEEP: &str = "<too deep>";

    /// Bytes as standard base64 with padding (RFC 4648 section 4).
    pub fn bytes(b: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            out.push(A[(n >> 18) as usize & 63] as char);
            out.push(A[(n >> 12) as usize & 63] as char);
            out.push(if c.len() > 1 {
                A[(n >> 6) as usize & 63] as char
            } else {
                '='
            });
            out.push(if c.len() > 2 {
                A[n as usize & 63] as char
            } else {
                '='
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_as_rfc4648_base64() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(values::bytes(i.as_bytes()), o);
        }
    }

    #[test]
    fn event_recorded_after_the_fact_carries_its_time() {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        let now = SystemTime::now();
        let later = Event::new(EventType::Custom, "a");
        let at = now - Duration::from_millis(1500);
        let e = Event::in_context_at(EventType::ToolCall, "a", &Context::default(), at);
        let us = at.duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
        assert_eq!(e.ts.as_micros(), us);
        assert_eq!(e.trace_id.as_deref(), Some(e.id.to_string().as_str()));
        // Its id's time part is `at` too, though a later id was made before
        // it (the server refuses an id whose time is far from ts); ids order
        // events by time, seq orders a chain.
        assert_eq!(e.id.0.timestamp_ms() as i64, us / 1000);
        assert!(e.id < later.id);
        assert_ne!(e.id, later.id);
    }

    #[test]
    fn context_rules() {
        let e = Event::in_context(EventType::ToolCall, "a", &Context::default());
        assert_eq!(e.trace_id.as_deref(), Some(e.id.to_string().as_str()));
        assert_eq!(e.parent_id, None);
        let ctx = Context {
            actor_id: Some("u".into()),
            session_id: Some("s".into()),
            trace_id: Some("t".into()),
            parent_id: Some("p".into()),
        };
        let e = Event::in_context(EventType::Request, "a", &ctx);
        assert_eq!(
            (
                e.actor_id.as_deref(),
                e.session_id.as_deref(),
                e.trace_id.as_deref(),
                e.parent_id.as_deref()
            ),
            (Some("u"), Some("s"), Some("t"), Some("p"))
        );
        let r = Event::after_call(
            EventType::ToolResult,
            "a",
            "tool",
            &Context::default(),
            "CALL",
        );
        assert_eq!(
            (r.trace_id.as_deref(), r.parent_id.as_deref()),
            (Some("CALL"), Some("CALL"))
        );
        let r = Event::after_call(EventType::Error, "a", "tool", &ctx, "CALL");
        assert_eq!(
            (
                r.trace_id.as_deref(),
                r.parent_id.as_deref(),
                r.name.as_deref()
            ),
            (Some("t"), Some("CALL"), Some("tool"))
        );
    }
}
