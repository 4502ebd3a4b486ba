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
        let mut e = Event::new(kind, agent_id);
        e.actor_id = ctx.actor_id.clone();
        e.session_id = ctx.session_id.clone();
        e.parent_id = ctx.parent_id.clone();
        e.trace_id = ctx.trace_id.clone();
        e.start_own_trace();
        e
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
        e.actor_id = ctx.actor_id.clone();
        e.session_id = ctx.session_id.clone();
        e.trace_id = Some(ctx.trace_id.clone().unwrap_or_else(|| call_id.to_owned()));
        e.parent_id = Some(call_id.to_owned());
        e.name = Some(name.to_owned());
        e
    }

    /// Outside any trace an event starts its own: sets `trace_id` to the
    /// event's id when it has none (call after fixing the id).
    pub fn start_own_trace(&mut self) {
        if self.trace_id.is_none() {
            self.trace_id = Some(self.id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
