"""sealtrail: a tamper-evident audit trail for AI agents.

One import and one decorator::

    import sealtrail

    @sealtrail.tool
    def lookup_order(order_id: str) -> dict:
        return {"order_id": order_id, "status": "shipped"}

    with sealtrail.session(actor_id="user-42"):
        lookup_order("A-1001")

With no configuration the events go to a local hash-chained ledger
(``./sealtrail-ledger.jsonl``), verifiable with ``sealtrail.verify_ledger``.
Set ``SEALTRAIL_ENDPOINT`` and ``SEALTRAIL_API_KEY`` (or call
``sealtrail.init(endpoint=..., api_key=...)``) to ship them to a server.

Everything here is a thin layer over the native core (``sealtrail._native``):
values are converted to JSON in Rust on the caller's thread and enqueued;
redaction, hashing, batching, delivery and spooling run on core's worker
thread. Auditing failures never raise into the agent.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from sealtrail import _native, _state
from sealtrail._context import current as _current
from sealtrail._context import session, trace
from sealtrail._native import (
    ConfigError,
    HashMismatchError,
    InvalidEventError,
    SealtrailError,
    SealtrailIOError,
    TooLargeError,
    prompt_hash,
    to_json,
    version,
)
from sealtrail._tool import tool

__all__ = [
    "init", "tool", "session", "trace",
    "record", "record_request", "record_model_call", "record_response", "record_decision",
    "redact", "verify_ledger", "ledger_heads", "audit_receipts", "flush", "shutdown", "metrics", "prompt_hash", "to_json",
    "version", "current_context",
    "SealtrailError", "InvalidEventError", "TooLargeError", "ConfigError",
    "SealtrailIOError", "HashMismatchError",
]
__version__ = version()


def init(**options: Any) -> None:
    """Configures the process-wide client. Every option is optional; what is
    not given comes from the ``SEALTRAIL_*`` environment, then from core's
    defaults. With no endpoint at all, events go to the local ledger.

    Options (environment variable in brackets):
        endpoint [SEALTRAIL_ENDPOINT]: server URL; none means local ledger.
        api_key [SEALTRAIL_API_KEY]: ingest key for the server.
        agent_id [SEALTRAIL_AGENT_ID]: this agent's id (one hash chain each).
        ledger_path [SEALTRAIL_LEDGER_PATH]: default ``./sealtrail-ledger.jsonl``.
        spool_dir [SEALTRAIL_SPOOL_DIR]: where batches wait while the server is away.
        batch_size, linger_ms, queue_capacity, overflow ("spill" default,
        "drop_newest", "block:MS"), fsync, compression, spool_max_bytes,
        request_timeout_ms, shutdown_timeout_ms, max_event_bytes, max_depth,
        ... : every key of core's ``ClientConfig`` (``CONFIG_KEYS``), parsed
        by core from ``str(value)``; environment ``SEALTRAIL_<KEY>``.
        capture: keep events in memory (``_state.client.take_captured()``)
            instead of the pipeline: for testing an agent.
        prompt_storage: "none", "redacted" (default) or "full": what
            ``record_model_call`` keeps of the messages besides their hash.

    Raises ``ConfigError`` for an invalid option (misuse is reported; it is
    the only time sealtrail raises).

    Example::

        sealtrail.init(agent_id="support-bot", ledger_path="/var/log/agent.jsonl")
        sealtrail.init(endpoint="https://audit.example", api_key=os.environ["KEY"])
    """
    _state.init(**options)


def _client() -> Any:
    """The client, or a stand-in that records nothing when sealtrail could
    not start (already logged) or is shut down: auditing never breaks the agent."""
    c = _state.get()
    return c if c is not None else _Disabled()


class _Disabled:
    def __getattr__(self, name: str) -> Any:
        def nothing(*args: Any, **kwargs: Any) -> None:
            _state.failures["disabled"] = _state.failures.get("disabled", 0) + 1
            return None
        return nothing


def current_context() -> Dict[str, Optional[str]]:
    """The actor, session, trace and parent ids events recorded here carry."""
    a, s, t, p = _current()
    return {"actor_id": a, "session_id": s, "trace_id": t, "parent_id": p}


def record(type: str, *, name: Optional[str] = None, inputs: Any = None, outputs: Any = None,
           decision: Optional[Mapping[str, Any]] = None, error: Optional[Mapping[str, Any]] = None,
           tokens: Any = None, cost_usd: Any = None, latency_ms: Optional[int] = None,
           attrs: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Records one event of ``type`` (request, model_call, tool_call,
    tool_result, response, error, decision, custom) in the current context
    and returns its id (None when sealtrail is shut down or could not
    start: that is logged, never raised). Invalid fields raise
    ``InvalidEventError``: that is a bug in the calling code.

    Example::

        sealtrail.record("custom", name="cache-miss", attrs={"key": "orders:42"})
    """
    return _client().record(type, _current(), name=name, inputs=inputs, outputs=outputs,
                            decision=decision, error=error, tokens=tokens, cost_usd=cost_usd,
                            latency_ms=latency_ms, attrs=attrs)


def record_request(text: Any, *, name: Optional[str] = None,
                   attrs: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Records the user's request (``request``). ``text`` may be any value.

    Example::

        sealtrail.record_request("Where is my order A-1001?")
    """
    return record("request", name=name, inputs=text, attrs=attrs)


def record_model_call(model: str, messages: Sequence[Any], params: Optional[Mapping[str, Any]] = None,
                      tokens: Any = None, cost_usd: Any = None, *,
                      outputs: Any = None, latency_ms: Optional[int] = None,
                      attrs: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Records a model call (``model_call``): ``prompt_hash`` is the SHA-256
    of the RFC 8785 form of ``messages`` taken before redaction; what is
    kept of the messages follows ``init(prompt_storage=...)``.
    ``tokens`` is ``{"input": n, "output": m}`` or ``(n, m)``; ``cost_usd`` a
    ``Decimal``, ``str`` or number (stored as a decimal string).

    Example::

        sealtrail.record_model_call("gpt-4o", messages, {"temperature": 0},
                                    tokens=(812, 64), cost_usd=Decimal("0.0031"))
    """
    return _client().model_call(_current(), model, messages, params=params, tokens=tokens,
                                cost_usd=cost_usd, outputs=outputs, latency_ms=latency_ms,
                                attrs=attrs)


def record_response(text: Any, *, name: Optional[str] = None,
                    attrs: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Records the agent's answer to the user (``response``).

    Example::

        sealtrail.record_response("Your order shipped on Monday.")
    """
    return record("response", name=name, outputs=text, attrs=attrs)


def record_decision(outcome: str, *, action: Optional[str] = None, by: Optional[str] = None,
                    reason: Optional[str] = None, inputs: Any = None,
                    attrs: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Records who approved, denied or escalated a side-effecting action
    (``decision``). ``outcome`` is ``"approved"``, ``"denied"`` or
    ``"escalated"``; ``action`` names the tool it is about.

    Example::

        sealtrail.record_decision("approved", action="issue_refund",
                                  by="alice@support", reason="under limit")
    """
    d: Dict[str, Any] = {"outcome": outcome}
    if by is not None:
        d["by"] = by
    if reason is not None:
        d["reason"] = reason
    return record("decision", name=action, decision=d, inputs=inputs, attrs=attrs)


def redact(text: str) -> str:
    """``text`` as core's redactor would store it (same rules as events).

    Example::

        sealtrail.redact("mail bob@example.com")   # 'mail [EMAIL]'
    """
    c = _state.get()
    if c is None:
        raise SealtrailError("sealtrail could not start or is shut down; see the 'sealtrail' log")
    return c.redact(text)


def verify_ledger(path: Optional[str] = None,
                  head: Union[str, Sequence[str], None] = None) -> Dict[str, Any]:
    """Verifies a local ledger file's hash chains; returns a report with
    ``ok`` and, when broken, the first broken ``seq`` and why.

    ``head``: chain heads kept from before (``ledger_heads()``), each
    ``"AGENT:SEQ:HASH"`` (or ``"SEQ:HASH"`` for a ledger of one agent). Each
    chain must still reach that seq with that link hash; ``report["heads"]``
    says which did not and why (``truncated``: its tail was cut off;
    ``rewritten``: another link stands there). Raises ``ConfigError`` for a
    malformed head.

    Example::

        heads = sealtrail.ledger_heads()          # keep these elsewhere
        ...
        report = sealtrail.verify_ledger("sealtrail-ledger.jsonl", head=heads)
        assert report["ok"], report
    """
    return _native.verify_ledger(path, head)


def ledger_heads() -> List[str]:
    """The head of every chain of the local ledger this process writes, as
    ``"AGENT:SEQ:HASH"``, after what is queued is written (flushes first).
    Keep them where the ledger's owner cannot edit them (a log shipped
    elsewhere, a message to the auditor) and pass them to
    ``verify_ledger(head=...)``. Empty when events go to a server (its
    receipts, ``audit_receipts()``, play that part).
    """
    c = _state.get()
    if c is None:
        return []
    c.flush(5.0)
    return list(c.ledger_heads())


def audit_receipts(**options: Any) -> Dict[str, Any]:
    """Checks that the server can still prove every event it acknowledged
    to this agent: each receipt kept in ``<spool_dir>/receipts.jsonl`` is
    looked up in the server's transparency log, its inclusion proof checked
    against a checkpoint signed by the log key (``log_key`` /
    ``SEALTRAIL_LOG_KEY``), and the log's latest checkpoint checked to
    extend the one saved by the previous audit. Blocks while it asks the
    server (the GIL is released); run it outside the agent's hot path.

    Options: as ``init()`` (``endpoint``, ``api_key``, ``spool_dir``,
    ``log_key``, ...); by default those given to ``init()``, then the
    environment.

    Returns a dict: counts ``receipts``, ``proved``, ``pending`` (not yet in a
    checkpoint), ``missing`` (the server lost it), ``altered``,
    ``proof_failed``, ``bad_checkpoint``, ``errors``; ``problems`` (each
    event that is not ok, with ``status`` and ``detail``); ``log`` (per
    origin: ``first``, ``consistent``, ``rollback``, ``fork``,
    ``bad_checkpoint`` or ``error``); ``unprovable`` (some event or the log
    can no longer be proved) and ``ok`` (nothing wrong, nothing unasked).
    Raises ``ConfigError`` without an endpoint, API key or log key and
    ``SealtrailIOError`` when the server cannot be asked at all.

    Example::

        report = sealtrail.audit_receipts(log_key=os.environ["LOG_KEY"])
        for p in report["problems"]:
            print(p["status"], p["id"], p["detail"])
    """
    merged = {k: v for k, v in _state._options.items() if k != "capture"}
    merged.update(options)
    return _native.audit_receipts(**merged)


def flush(timeout: float = 5.0) -> Dict[str, int]:
    """Waits up to ``timeout`` seconds until what is queued is delivered or
    spooled (the GIL is released meanwhile); returns core's report
    ``{"complete", "delivered", "spooled", "dropped", "rejected",
    "ledger_written", "queued"}``. Never raises for delivery failures.
    """
    c = _state.get()
    if c is None:
        return {"delivered": 0, "spooled": 0, "dropped": 0}
    return c.flush(timeout)


def shutdown(timeout: float = 5.0) -> Dict[str, int]:
    """Flushes and stops the client (also done at interpreter exit). Events
    recorded afterwards are ignored until ``init()`` is called again."""
    return _state.shutdown(timeout)


def metrics() -> Dict[str, Any]:
    """Counters of core's pipeline (queued, delivered, spooled, dropped, ...)
    plus failures swallowed in the Python layer (``python_failures``)."""
    c = _state.client
    m: Dict[str, Any] = dict(c.metrics()) if c is not None else {}
    m["python_failures"] = dict(_state.failures)
    return m
