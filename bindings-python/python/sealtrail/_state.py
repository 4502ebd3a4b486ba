"""The process-wide client: made by ``init()`` or lazily from the environment
on first use, re-made in a forked child, shut down at interpreter exit.

Auditing failures never raise into the agent: they are logged on the
``sealtrail`` logger (once per kind of failure, then counted) and show in
``metrics()``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any, Dict, Optional

from sealtrail import _native

log = logging.getLogger("sealtrail")

#: The live native client, or None before first use / after shutdown.
client: Optional[_native.Client] = None
_options: Dict[str, Any] = {}
_lock = threading.Lock()
_closed = False
#: Failures swallowed on the agent's behalf, by kind (also in ``metrics()``).
failures: Dict[str, int] = {}

#: Seconds the exit hook waits for queued events to be delivered or spooled.
EXIT_TIMEOUT = 5.0


def init(**options: Any) -> _native.Client:
    """Makes (or re-makes) the process-wide client; see ``sealtrail.init``."""
    global client, _options, _closed
    with _lock:
        new = _native.Client(**options)
        old, client, _options, _closed = client, new, dict(options), False
    if old is not None:
        try:
            old.shutdown(EXIT_TIMEOUT)
        except Exception as e:  # never fail init because the old one failed
            swallowed("shutdown", e)
    return new


def get() -> Optional[_native.Client]:
    """The client, made from the environment on first use. None when it
    could not be made (logged) or after ``shutdown()``."""
    c = client
    if c is not None:
        return c
    if _closed:
        return None
    try:
        with _lock:
            if client is None and not _closed:
                _make(_options)
            return client
    except Exception as e:
        swallowed("init", e)
        return None


def _make(options: Dict[str, Any]) -> None:
    global client
    client = _native.Client(**options)


def swallowed(kind: str, exc: BaseException) -> None:
    """Records an auditing failure without raising it into the agent."""
    n = failures.get(kind, 0) + 1
    failures[kind] = n
    if n == 1:
        log.warning("sealtrail: %s failed (%s: %s); the agent continues, further "
                    "failures of this kind are counted in sealtrail.metrics()",
                    kind, type(exc).__name__, exc)
    else:
        log.debug("sealtrail: %s failed again: %s", kind, exc)


def record_quiet(kind: str, ctx: Any, **fields: Any) -> Optional[str]:
    """``record`` that swallows failures: for events the library makes itself."""
    c = get()
    if c is None:
        return None
    try:
        return c.record(kind, ctx, **fields)
    except Exception as e:
        swallowed("record", e)
        return None


def shutdown(timeout: float) -> Dict[str, int]:
    global client, _closed
    with _lock:
        c, client, _closed = client, None, True
    if c is None:
        return {"delivered": 0, "spooled": 0, "dropped": 0}
    return c.shutdown(timeout)


def _at_exit() -> None:
    try:
        c = client
        if c is not None:
            report = shutdown(EXIT_TIMEOUT)
            if report.get("dropped"):
                log.warning("sealtrail: %d events dropped at exit", report["dropped"])
    except Exception as e:  # never turn exit into a traceback
        swallowed("exit", e)


def _after_fork_child() -> None:
    """In a forked child the worker thread does not exist: abandon the
    parent's client (without joining) and make a fresh one on first use,
    with the same options."""
    global client, _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    c, client = client, None
    if c is not None:
        try:
            c._abandon()
        except Exception as e:
            swallowed("fork", e)


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
