"""Python value → JSON conversion in Rust (sealtrail._native.to_json)."""

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import pathlib
import uuid

import pydantic

from sealtrail import to_json


def j(v):
    return json.loads(to_json(v))


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    label: str


class User(pydantic.BaseModel):
    name: str
    born: datetime.date


def test_builtins():
    assert j(None) is None
    assert j(True) is True
    assert j(3) == 3
    assert j(-2.5) == -2.5
    assert j("é✓") == "é✓"
    assert j({"a": [1, (2, 3)]}) == {"a": [1, [2, 3]]}


def test_canonical_output_sorted():
    assert to_json({"b": 1, "a": (1.5, None)}) == '{"a":[1.5,null],"b":1}'


def test_big_ints_are_exact_strings():
    assert j(2**53 - 1) == 2**53 - 1
    assert j(2**53) == str(2**53)
    assert j(-(2**70)) == str(-(2**70))


def test_non_finite_floats():
    assert j([float("nan"), float("inf"), float("-inf")]) == ["NaN", "Infinity", "-Infinity"]


def test_dates_decimal_uuid_bytes():
    assert j(datetime.datetime(2024, 1, 2, 3, 4, 5, 6)) == "2024-01-02T03:04:05.000006"
    tz = datetime.timezone.utc
    assert j(datetime.datetime(2024, 1, 2, tzinfo=tz)) == "2024-01-02T00:00:00+00:00"
    assert j(datetime.date(2024, 1, 2)) == "2024-01-02"
    assert j(datetime.time(1, 2)) == "01:02:00"
    assert j(datetime.timedelta(seconds=1.5)) == 1.5
    assert j(decimal.Decimal("0.10")) == "0.10"
    assert j(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert j(b"hi") == "aGk="
    assert j(bytearray(b"foo")) == "Zm9v"
    assert j(memoryview(b"fo")) == "Zm8="


def test_enums_dataclasses_pydantic():
    assert j(Color.RED) == "red"
    assert j(Level.HIGH) == 3
    assert j(Point(1, "a")) == {"x": 1, "label": "a"}
    assert j(User(name="bob", born=datetime.date(2000, 1, 1))) == {"name": "bob", "born": "2000-01-01"}


def test_sets_sorted_and_containers():
    assert j({3, 1, 2}) == [1, 2, 3]
    assert j(frozenset({"b", "a"})) == ["a", "b"]
    assert j(collections.deque([1, 2])) == [1, 2]
    assert j(collections.OrderedDict(a=1)) == {"a": 1}
    assert j(pathlib.PurePosixPath("/tmp/x")) == "/tmp/x"


def test_non_string_keys():
    assert j({1: "a", None: "b", (1, 2): "c"}) == {"1": "a", "null": "b", "[1,2]": "c"}


def test_cycles_and_depth_never_raise():
    a = [1]
    a.append(a)
    assert j(a) == [1, "<cycle>"]
    d = {}
    d["self"] = d
    assert j(d) == {"self": "<cycle>"}
    deep = []
    for _ in range(1000):
        deep = [deep]
    out = to_json(deep)
    assert "<too deep>" in out
    # the same object twice (not a cycle) is converted twice
    x = [1]
    assert j([x, x]) == [[1], [1]]


def test_unknown_falls_back_to_truncated_repr():
    class Big:
        def __repr__(self):
            return "x" * 10_000

    out = j(Big())
    assert out.startswith("xxx") and len(out) <= 501

    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert j(Broken()) == "<unrepresentable Broken>"


def test_failing_model_dump_falls_back():
    class Weird(pydantic.BaseModel):
        x: int

        def model_dump(self, **kw):
            raise ValueError("boom")

    assert "Weird" in j(Weird(x=1)) or "x=1" in j(Weird(x=1))


def test_lone_surrogates_do_not_raise():
    assert isinstance(j("a\ud800b"), str)
