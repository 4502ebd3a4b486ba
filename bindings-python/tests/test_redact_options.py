"""Per-tool redaction overrides and prompt_storage, applied by core's worker:
checked in the ledger a child process writes."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import sealtrail

from conftest import needs_core_client


def _run(tmp_path, code, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    env.update(env_extra)
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ledger = tmp_path / "sealtrail-ledger.jsonl"
    return [json.loads(line)["event"] if "event" in json.loads(line) else json.loads(line)
            for line in ledger.read_text().splitlines()]


@needs_core_client
def test_tool_redact_override_takes_effect_in_the_ledger(tmp_path):
    events = _run(tmp_path, """
        import sealtrail
        @sealtrail.tool(redact={"mode": "email=off", "extra": ["order_ref"]})
        def open_tool(to, order_ref): return "sent to " + to
        @sealtrail.tool
        def plain_tool(to): return "sent to " + to
        open_tool("keep.me@example.com", "R-991")
        plain_tool("gone@example.com")
        sealtrail.shutdown()
    """)
    call = next(e for e in events if e["type"] == "tool_call" and e["name"].endswith("open_tool"))
    assert call["inputs"]["to"] == "keep.me@example.com"
    assert call["inputs"]["order_ref"] != "R-991"
    res = next(e for e in events if e["type"] == "tool_result" and e["name"].endswith("open_tool"))
    assert res["outputs"] == "sent to keep.me@example.com"
    plain = [e for e in events if e["name"].endswith("plain_tool")]
    assert len(plain) == 2 and "gone@example.com" not in json.dumps(plain)


def test_bad_redact_override_fails_at_decoration():
    with pytest.raises(sealtrail.ConfigError):
        @sealtrail.tool(redact="email=sparkle")
        def f(x): return x


@needs_core_client
@pytest.mark.parametrize("storage,expect", [
    ("none", None), ("redacted", "mail [EMAIL]"), ("full", "mail raw@example.com"),
])
def test_prompt_storage_in_core(tmp_path, storage, expect):
    (e,) = _run(tmp_path, """
        import sealtrail
        sealtrail.record_model_call("m", [{"role": "user", "content": "mail raw@example.com"}],
                                    {"note": "cc boss@example.com"})
        sealtrail.shutdown()
    """, SEALTRAIL_PROMPT_STORAGE=storage)
    assert len(e["prompt_hash"]) == 64
    assert (e["inputs"].get("messages") or [{}])[0].get("content") == expect
    assert e["inputs"]["params"]["note"] == "cc [EMAIL]"
