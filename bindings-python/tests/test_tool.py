"""@sealtrail.tool in every form: events, exceptions, signatures, failures."""

import asyncio
import inspect
import typing

import pytest

import sealtrail
from sealtrail import _state


def by_type(evs, t):
    return [e for e in evs if e["type"] == t]


def test_bare_sync(events):
    @sealtrail.tool
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert add(1, b=5) == 6
    call, result = events()
    assert call["type"] == "tool_call" and call["name"].endswith("add")
    assert call["inputs"] == {"a": 1, "b": 5}
    assert result["type"] == "tool_result" and result["outputs"] == 6
    assert result["parent_id"] == call["id"]
    assert result["trace_id"] == call["trace_id"] == call["id"]
    assert isinstance(result["latency_ms"], int)
    assert call["agent_id"] == "test-agent"


def test_options(events):
    @sealtrail.tool(name="refund", side_effect=True, capture_args=False, capture_result=False,
                    redact={"extra": ["order_id"]})
    def issue_refund(order_id, amount):
        return "secret-result"

    issue_refund("A-1", 10)
    call, result = events()
    assert call["name"] == "refund"
    assert "inputs" not in call and "outputs" not in result
    assert call["attrs"] == {"side_effect": True}


def test_varargs_and_kwargs(events):
    @sealtrail.tool
    def f(a, /, b, *rest, c=1, **extra):
        return None

    f(1, 2, 3, 4, c=5, d=6)
    call, _ = events()
    assert call["inputs"] == {"a": 1, "b": 2, "rest": [3, 4], "c": 5, "d": 6}


def test_async(events):
    @sealtrail.tool
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        return url.upper()

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch("x")) == "X"
    call, result = events()
    assert call["inputs"] == {"url": "x"} and result["outputs"] == "X"


class Store:
    def __init__(self):
        self.items = {"a": 1}

    @sealtrail.tool
    def get(self, key):
        return self.items[key]

    @sealtrail.tool
    @staticmethod
    def static_inner(x):
        return x * 2

    @staticmethod
    @sealtrail.tool
    def static_outer(x):
        return x * 3

    @sealtrail.tool
    @classmethod
    def class_inner(cls, x):
        return cls.__name__ + x

    @classmethod
    @sealtrail.tool
    def class_outer(cls, x):
        return cls.__name__ + x

    @sealtrail.tool
    async def aget(self, key):
        return self.items[key]


def test_methods(events):
    s = Store()
    assert s.get("a") == 1
    assert Store.static_inner(2) == 4 and s.static_inner(2) == 4
    assert Store.static_outer(2) == 6
    assert Store.class_inner("!") == "Store!"
    assert s.class_outer("?") == "Store?"
    assert asyncio.run(s.aget("a")) == 1
    calls = by_type(events(), "tool_call")
    assert [c["name"] for c in calls] == [
        "Store.get", "Store.static_inner", "Store.static_inner", "Store.static_outer",
        "Store.class_inner", "Store.class_outer", "Store.aget",
    ]
    # self / cls are not recorded
    assert calls[0]["inputs"] == {"key": "a"}
    assert calls[4]["inputs"] == {"x": "!"}
    assert calls[1]["inputs"] == {"x": 2}


def test_signature_and_metadata_preserved():
    def original(a: int, *, b: str = "x") -> typing.List[int]:
        """Docs."""
        return [a]

    wrapped = sealtrail.tool(original)
    assert wrapped.__name__ == "original"
    assert wrapped.__doc__ == "Docs."
    assert wrapped.__wrapped__ is original
    assert inspect.signature(wrapped) == inspect.signature(original)
    assert typing.get_type_hints(wrapped) == typing.get_type_hints(original)
    assert sealtrail.tool(name="n")(original).__qualname__ == original.__qualname__

    async def coro(x: int) -> int:
        return x

    w = sealtrail.tool(coro)
    assert inspect.iscoroutinefunction(w) and inspect.signature(w) == inspect.signature(coro)
    assert inspect.signature(Store.get) == inspect.signature(Store.__dict__["get"].__wrapped__)


class MyError(Exception):
    pass


def test_exception_reraised_unchanged_and_recorded(events):
    err = MyError("card 4111 1111 1111 1111 declined")

    @sealtrail.tool
    def fail(x):
        raise err

    with pytest.raises(MyError) as info:
        fail(1)
    assert info.value is err
    assert info.value.__traceback__ is not None
    call, error = events()
    assert error["type"] == "error" and error["parent_id"] == call["id"]
    assert error["error"]["type"] == f"{__name__}.MyError"
    assert error["error"]["message"] == str(err)
    assert "Traceback" in error["error"]["stack"] and "fail" in error["error"]["stack"]
    assert "outputs" not in error


def test_builtin_exception_and_async_exception(events):
    @sealtrail.tool
    async def boom():
        raise KeyError("k")

    with pytest.raises(KeyError):
        asyncio.run(boom())
    _, error = events()
    assert error["error"]["type"] == "KeyError"


def test_nested_tools_parent_chain(events):
    @sealtrail.tool
    def inner():
        return 1

    @sealtrail.tool
    def outer():
        return inner() + 1

    with sealtrail.session(actor_id="u", session_id="s"):
        outer()
    evs = events()
    oc, ic, ir, orr = evs
    assert [e["type"] for e in evs] == ["tool_call", "tool_call", "tool_result", "tool_result"]
    assert ic["parent_id"] == oc["id"] and ic["trace_id"] == oc["id"]
    assert ir["parent_id"] == ic["id"] and orr["parent_id"] == oc["id"]
    assert all(e["actor_id"] == "u" and e["session_id"] == "s" for e in evs)
    # the context is restored after the call
    assert sealtrail.current_context()["parent_id"] is None


def test_auditing_failure_never_raises(events, monkeypatch, caplog):
    class Broken:
        def tool_call(self, *a):
            raise RuntimeError("pipeline down")

    @sealtrail.tool
    def f(x):
        return x + 1

    monkeypatch.setattr(_state, "client", Broken())
    assert f(1) == 2
    assert f(2) == 3
    assert _state.failures.get("tool_call", 0) >= 2
    assert any("pipeline down" in r.getMessage() for r in caplog.records)


def test_result_failure_never_raises(events, monkeypatch):
    real = _state.client

    class HalfBroken:
        def tool_call(self, *a):
            return real.tool_call(*a)

        def tool_result(self, *a):
            raise RuntimeError("x")

        def tool_error(self, *a):
            raise RuntimeError("y")

    monkeypatch.setattr(_state, "client", HalfBroken())

    @sealtrail.tool
    def ok():
        return 1

    @sealtrail.tool
    def bad():
        raise ValueError("v")

    assert ok() == 1
    with pytest.raises(ValueError):
        bad()


def test_unconvertible_args_do_not_raise(events):
    class Odd:
        def __repr__(self):
            raise RuntimeError("no repr")

    @sealtrail.tool
    def f(x, y):
        return x

    o = Odd()
    assert f(o, {1, 2}) is o
    call, result = events()
    assert call["inputs"] == {"x": "<unrepresentable Odd>", "y": [1, 2]}


def test_plain_arguments_take_the_json_text_path_and_equal_the_general_one(events):
    """Plain built-in arguments are written as JSON text for core to parse;
    anything else goes through the general converter. Both give the same inputs."""
    import decimal

    @sealtrail.tool
    def f(a, b, *rest, **kw):
        return None

    nested = {"s": 'quote " backslash \\ tab \t é 😀', "l": [1, -2, 3.5, -0.0, 1e21, None, True],
              "t": (1, "x"), "d": {"k": [{"deep": [[]]}]}}
    f("text", nested, 7, "extra", big=2**60, flag=False, nan=float("nan"), dec=decimal.Decimal("1.50"))
    f("text", nested, 7, "extra", flag=False)
    call_general, _, call_plain, _ = events()
    want = {"a": "text", "b": {"s": 'quote " backslash \\ tab \t é 😀',
                                "l": [1, -2, 3.5, 0, 1e21, None, True], "t": [1, "x"],
                                "d": {"k": [{"deep": [[]]}]}},
            "rest": [7, "extra"], "flag": False}
    assert call_plain["inputs"] == want, call_plain["inputs"]
    general = dict(call_general["inputs"])
    assert general.pop("big") == str(2**60) and general.pop("nan") == "NaN" and general.pop("dec") == "1.50"
    assert general == want
