"""Fork, interpreter exit, the local ledger default and verify_ledger."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import sealtrail
from sealtrail import _state

from conftest import needs_core_client


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_gets_a_working_client(events):
    @sealtrail.tool
    def f(x):
        return x

    f(1)
    parent_client = _state.client
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not touch the parent's client, must record
        try:
            os.close(r)
            f(2)
            c = _state.client
            ok = c is not None and c is not parent_client
            evs = c.take_captured() if ok else []
            os.write(w, json.dumps({"ok": ok, "n": len(evs),
                                    "x": [e.get("inputs") for e in evs]}).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    out = json.loads(data)
    assert out == {"ok": True, "n": 2, "x": [{"x": 2}, None]}
    assert _state.client is parent_client
    assert len(events()) == 2  # the parent's own events are untouched


def run_py(code, env=None, timeout=60):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e,
                          capture_output=True, text=True, timeout=timeout)


def test_exit_with_events_queued_does_not_hang():
    # Capture mode: exit runs the atexit hook and returns promptly.
    p = run_py("""
        import sealtrail
        sealtrail.init(capture=True)
        @sealtrail.tool
        def f(x): return x
        for i in range(1000): f(i)
        print("done")
    """, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "done" in p.stdout


@needs_core_client
def test_ledger_default_and_verify(tmp_path):
    # run in tmp_path so the default ./sealtrail-ledger.jsonl lands there
    code = textwrap.dedent("""
        import sealtrail
        @sealtrail.tool
        def f(x): return x
        with sealtrail.session(actor_id="u"):
            for i in range(20): f(i)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ledger = tmp_path / "sealtrail-ledger.jsonl"
    assert ledger.exists()
    lines = ledger.read_text().splitlines()
    assert len(lines) == 40  # every event queued at exit was written
    report = sealtrail.verify_ledger(str(ledger))
    assert report["ok"], report
    # tamper with one event: verification names the break
    rec = json.loads(lines[5])
    text = json.dumps(rec).replace('"u"', '"mallory"', 1)
    lines[5] = text
    ledger.write_text("\n".join(lines) + "\n")
    assert not sealtrail.verify_ledger(str(ledger))["ok"]


@needs_core_client
def test_exit_with_server_away_spools(tmp_path):
    spool = tmp_path / "spool"
    code = """
        import sealtrail
        @sealtrail.tool
        def f(x): return x
        for i in range(50): f(i)
    """
    p = run_py(code, env={"SEALTRAIL_ENDPOINT": "http://127.0.0.1:9",
                          "SEALTRAIL_API_KEY": "k", "SEALTRAIL_SPOOL_DIR": str(spool)},
               timeout=60)
    assert p.returncode == 0, p.stderr
    assert spool.exists() and any(spool.iterdir()), "queued events were neither delivered nor spooled"


def test_fork_with_the_ledger_never_interleaves_two_writers(tmp_path):
    """A forked child writes its own ledger file beside the parent's; both verify."""
    ledger = tmp_path / "ledger.jsonl"
    sealtrail.init(agent_id="fork-ledger", ledger_path=str(ledger))
    try:
        @sealtrail.tool
        def f(x):
            return x

        f(1)
        sealtrail.flush(5)
        pid = os.fork()
        if pid == 0:
            try:
                for i in range(20):
                    f(100 + i)
                sealtrail.shutdown(5)
            finally:
                os._exit(0)
        for i in range(20):
            f(200 + i)
        os.waitpid(pid, 0)
        sealtrail.flush(5)
    finally:
        sealtrail.shutdown(5)
    child_file = tmp_path / f"ledger.{pid}.jsonl"
    assert child_file.exists(), sorted(p.name for p in tmp_path.iterdir())
    parent = sealtrail.verify_ledger(str(ledger))
    child = sealtrail.verify_ledger(str(child_file))
    assert parent["ok"] and child["ok"], (parent, child)
    assert parent["lines"] == 42 and child["lines"] == 40, (parent["lines"], child["lines"])
