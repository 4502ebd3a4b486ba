"""session/trace contexts: nesting, threads, asyncio tasks."""

import asyncio
import threading

import sealtrail


def test_session_and_trace_nesting(events):
    with sealtrail.session(actor_id="alice") as s:
        assert s.session_id
        with sealtrail.trace("outer") as t1:
            sealtrail.record("custom", name="a")
            with sealtrail.trace("inner") as t2:
                sealtrail.record("custom", name="b")
        sealtrail.record("custom", name="c")
    sealtrail.record("custom", name="d")
    evs = {e["name"]: e for e in events()}
    assert evs["outer"]["id"] == t1.span_id == t1.trace_id
    assert evs["a"]["trace_id"] == t1.trace_id and evs["a"]["parent_id"] == t1.span_id
    assert evs["inner"]["parent_id"] == t1.span_id and t2.trace_id == t1.trace_id
    assert evs["b"]["parent_id"] == t2.span_id and evs["b"]["trace_id"] == t1.trace_id
    assert evs["c"]["actor_id"] == "alice" and "parent_id" not in evs["c"]
    assert evs["c"]["session_id"] == s.session_id
    assert "actor_id" not in evs["d"] and "session_id" not in evs["d"]


def test_session_inherits_and_overrides():
    with sealtrail.session(actor_id="a", session_id="s1"):
        with sealtrail.session(actor_id="b"):
            assert sealtrail.current_context()["actor_id"] == "b"
            assert sealtrail.current_context()["session_id"] == "s1"
        assert sealtrail.current_context()["actor_id"] == "a"
    assert sealtrail.current_context() == {"actor_id": None, "session_id": None,
                                           "trace_id": None, "parent_id": None}


def test_reentrant_scope_object():
    s = sealtrail.session(actor_id="x", session_id="y")
    with s:
        with s:
            pass
        assert sealtrail.current_context()["actor_id"] == "x"
    assert sealtrail.current_context()["actor_id"] is None


def test_threads_are_isolated(events):
    seen = {}
    barrier = threading.Barrier(4)

    @sealtrail.tool
    def work(n):
        return n

    def run(i):
        with sealtrail.session(actor_id=f"user-{i}", session_id=f"s-{i}"):
            barrier.wait()
            for _ in range(50):
                work(i)
                ctx = sealtrail.current_context()
                assert ctx["actor_id"] == f"user-{i}", ctx
            seen[i] = True

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4
    evs = events()
    assert len(evs) == 4 * 50 * 2
    for e in evs:
        n = e["inputs"]["n"] if e["type"] == "tool_call" else e["outputs"]
        assert e["actor_id"] == f"user-{n}" and e["session_id"] == f"s-{n}"


def test_asyncio_gather_isolated(events):
    @sealtrail.tool
    async def step(n):
        await asyncio.sleep(0.001)
        return n

    async def task(i):
        async with sealtrail.session(actor_id=f"u{i}"):
            async with sealtrail.trace(f"t{i}") as t:
                for _ in range(5):
                    await step(i)
                    assert sealtrail.current_context()["trace_id"] == t.trace_id
                return t.trace_id

    async def main():
        return await asyncio.gather(*(task(i) for i in range(5)))

    traces = asyncio.run(main())
    assert len(set(traces)) == 5
    for e in events():
        if e["type"] == "tool_call":
            i = e["inputs"]["n"]
            assert e["actor_id"] == f"u{i}" and e["trace_id"] == traces[i]
