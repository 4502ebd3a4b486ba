"""Ambient context: who (actor, session) and where (trace, parent) events
belong. One ``ContextVar`` holds an immutable tuple
``(actor_id, session_id, trace_id, parent_id)``, so threads and asyncio tasks
each see their own, and a hot path reads it with one ``.get()``.
"""

from __future__ import annotations

import contextvars
from typing import Any, List, Optional, Tuple

from sealtrail import _native

Ctx = Tuple[Optional[str], Optional[str], Optional[str], Optional[str]]

_CTX: contextvars.ContextVar[Optional[Ctx]] = contextvars.ContextVar("sealtrail_ctx", default=None)
_EMPTY: Ctx = (None, None, None, None)


def current() -> Ctx:
    """The context events recorded here would carry."""
    return _CTX.get() or _EMPTY


class _Scope:
    """Sets the context on enter and restores it on exit; sync and async;
    re-entrant (each enter keeps its own token)."""

    def __init__(self) -> None:
        self._tokens: List[contextvars.Token] = []

    def _enter_ctx(self, cur: Ctx) -> Ctx:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._tokens.append(_CTX.set(self._enter_ctx(current())))
        return self

    def __exit__(self, *exc: Any) -> None:
        _CTX.reset(self._tokens.pop())

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)


class session(_Scope):
    """Attributes the events inside to a user and a session.

    Example::

        with sealtrail.session(actor_id="user-42", session_id="chat-7"):
            lookup_order("A-1001")        # tool_call/tool_result carry both ids

        async with sealtrail.session(actor_id="user-42"):   # session id generated
            await agent.run(message)

    ``actor_id`` left out keeps the enclosing one; ``session_id`` left out
    keeps the enclosing one or, if there is none, starts a new one.
    """

    def __init__(self, actor_id: Optional[str] = None, session_id: Optional[str] = None) -> None:
        super().__init__()
        self.actor_id = actor_id
        self.session_id = session_id

    def _enter_ctx(self, cur: Ctx) -> Ctx:
        actor = self.actor_id if self.actor_id is not None else cur[0]
        sess = self.session_id if self.session_id is not None else (cur[1] or _native.new_id())
        self.session_id = sess
        return (actor, sess, cur[2], cur[3])


class trace(_Scope):
    """Groups the events inside under one trace.

    On enter it records a ``custom`` event named ``name`` (attrs
    ``{"sealtrail.trace": "start"}``); events inside get its trace id and
    have it as ``parent_id``. Outside any trace it starts a new trace (the
    trace id is that event's id); inside one it nests.

    Example::

        with sealtrail.trace("handle-ticket") as t:
            classify(ticket)
            print(t.trace_id, t.span_id)
    """

    def __init__(self, name: str, attrs: Optional[dict] = None) -> None:
        super().__init__()
        self.name = name
        self.attrs = attrs
        self.trace_id: Optional[str] = None
        self.span_id: Optional[str] = None

    def _enter_ctx(self, cur: Ctx) -> Ctx:
        from sealtrail import _state

        attrs = {"sealtrail.trace": "start"}
        if self.attrs:
            attrs.update(self.attrs)
        span = _state.record_quiet("custom", cur, name=self.name, attrs=attrs)
        if span is None:  # auditing unavailable: keep a consistent context anyway
            span = _native.new_id()
        self.span_id = span
        self.trace_id = cur[2] or span
        return (cur[0], cur[1], self.trace_id, span)
