"""``@sealtrail.tool``: records ``tool_call`` with the arguments by parameter
name, then ``tool_result`` (result, latency) or ``error`` (type, message,
traceback) and re-raises the exception unchanged.

The wrapper does three things on the caller's thread: one ``ContextVar``
read, two native calls (which convert the values and enqueue), and a
``ContextVar`` set/reset so nested tools get this call as their parent.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from time import perf_counter_ns
from typing import Any, Callable, Dict, Optional, TypeVar, Union, overload

from sealtrail import _native, _state
from sealtrail._context import _CTX

F = TypeVar("F", bound=Callable[..., Any])

_KINDS_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _spec_for(fn: Callable[..., Any], name: Optional[str], side_effect: bool,
              capture_args: bool, capture_result: bool,
              redact: Union[str, Dict[str, Any], None]) -> _native.ToolSpec:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    names = [p.name for p in params if p.kind in _KINDS_POSITIONAL]
    varargs = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    # A method's receiver is not an argument worth auditing (and its repr
    # can be large): leave out a first parameter named self or cls.
    skip_first = bool(names) and names[0] in ("self", "cls")
    tool_name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "tool")
    return _native.ToolSpec(tool_name, names, varargs=varargs, skip_first=skip_first,
                            capture_args=capture_args, capture_result=capture_result,
                            side_effect=side_effect, redact=redact)


def _error_parts(e: BaseException) -> Any:
    t = type(e)
    mod = t.__module__
    kind = t.__qualname__ if mod in ("builtins", None) else f"{mod}.{t.__qualname__}"
    stack = "".join(traceback.format_exception(t, e, e.__traceback__))
    return kind, str(e), stack


def _wrap(fn: Callable[..., Any], spec: _native.ToolSpec) -> Callable[..., Any]:
    ctx_get, ctx_set, ctx_reset = _CTX.get, _CTX.set, _CTX.reset

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            c = _state.client or _state.get()
            if c is None:
                return await fn(*args, **kwargs)
            try:
                child = c.tool_call(spec, ctx_get(), args, kwargs)
            except Exception as e:
                _state.swallowed("tool_call", e)
                return await fn(*args, **kwargs)
            token = ctx_set(child)
            t0 = perf_counter_ns()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as e:
                dt = perf_counter_ns() - t0
                try:
                    c.tool_error(spec, child, *_error_parts(e), dt)
                except Exception as e2:
                    _state.swallowed("tool_error", e2)
                raise
            finally:
                ctx_reset(token)
            try:
                c.tool_result(spec, child, result, perf_counter_ns() - t0)
            except Exception as e:
                _state.swallowed("tool_result", e)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        c = _state.client or _state.get()
        if c is None:
            return fn(*args, **kwargs)
        try:
            child = c.tool_call(spec, ctx_get(), args, kwargs)
        except Exception as e:
            _state.swallowed("tool_call", e)
            return fn(*args, **kwargs)
        token = ctx_set(child)
        t0 = perf_counter_ns()
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            dt = perf_counter_ns() - t0
            try:
                c.tool_error(spec, child, *_error_parts(e), dt)
            except Exception as e2:
                _state.swallowed("tool_error", e2)
            raise
        finally:
            ctx_reset(token)
        try:
            c.tool_result(spec, child, result, perf_counter_ns() - t0)
        except Exception as e:
            _state.swallowed("tool_result", e)
        return result

    return wrapper


@overload
def tool(fn: F) -> F: ...
@overload
def tool(fn: None = None, *, name: Optional[str] = None, side_effect: bool = False,
         capture_args: bool = True, capture_result: bool = True,
         redact: Union[str, Dict[str, Any], None] = None) -> Callable[[F], F]: ...


def tool(fn: Any = None, *, name: Optional[str] = None, side_effect: bool = False,
         capture_args: bool = True, capture_result: bool = True,
         redact: Union[str, Dict[str, Any], None] = None) -> Any:
    """Audits every call of a tool function.

    Records ``tool_call`` (arguments by parameter name, ``self``/``cls``
    left out), then ``tool_result`` (result and ``latency_ms``) or ``error``
    (exception type, message and traceback, redacted by core before they
    leave the process). The exception propagates unchanged; the name,
    docstring, signature and type hints are kept. Works on functions, async
    functions, methods, static and class methods (either decorator order).

    Options:
        name: the recorded tool name (default: the function's qualified name).
        side_effect: marks the call as side-effecting (``attrs``), so
            investigators can find the actions that changed something; pair
            with ``sealtrail.record_decision`` for approvals.
        capture_args / capture_result: set False to record that the call
            happened without its arguments or result.
        redact: per-tool redaction override, applied by core on top of the
            client's settings: a mode spec (``"email=off"``) or settings by
            name (``{"mode": "email=partial", "extra": ["order_ref"], "ip": True}``;
            ``extra`` keys are masked whole). Checked here: a bad one raises
            ``ConfigError``.

    Example::

        @sealtrail.tool
        def lookup_order(order_id: str) -> dict: ...

        @sealtrail.tool(name="refund", side_effect=True, capture_result=False)
        async def issue_refund(order_id: str, amount: Decimal) -> None: ...

    Auditing never raises into the tool: if recording fails the call still
    runs, and the failure goes to the ``sealtrail`` logger and ``metrics()``.
    """
    def decorate(f: Any) -> Any:
        if isinstance(f, (staticmethod, classmethod)):
            return type(f)(decorate(f.__func__))
        spec = _spec_for(f, name, side_effect, capture_args, capture_result, redact)
        return _wrap(f, spec)

    if fn is None:
        return decorate
    return decorate(fn)
