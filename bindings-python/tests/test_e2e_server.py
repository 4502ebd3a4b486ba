"""End to end into a real sealtrail server, verify passing.

Runs when either
  * SEALTRAIL_TEST_SERVER_URL and SEALTRAIL_TEST_API_KEY point at a running
    server (an ingest key; SEALTRAIL_TEST_ADMIN_KEY, when set, is used to
    verify), or
  * a built `sealtrail` binary (SEALTRAIL_BIN or on PATH) and DATABASE_URL
    (a throwaway PostgreSQL) are available: the test starts the server.
Otherwise it skips, saying which.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request

import socket
import time

import pytest

from conftest import needs_core_client

URL = os.environ.get("SEALTRAIL_TEST_SERVER_URL")
KEY = os.environ.get("SEALTRAIL_TEST_API_KEY")
BIN = os.environ.get("SEALTRAIL_BIN") or shutil.which("sealtrail")
DB = os.environ.get("DATABASE_URL")

if not (URL and KEY) and not (BIN and DB):
    pytest.skip(
        "no server to test against: set SEALTRAIL_TEST_SERVER_URL + SEALTRAIL_TEST_API_KEY, "
        "or provide a built `sealtrail` binary (SEALTRAIL_BIN or PATH) and DATABASE_URL",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, key: str) -> bytes:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


@pytest.fixture
def server(tmp_path):
    """(url, ingest key, read key): the given server, or one started from
    the binary on DATABASE_URL (migrated, a fresh organisation, its keys)."""
    if URL and KEY:
        yield URL, KEY, os.environ.get("SEALTRAIL_TEST_ADMIN_KEY")
        return
    env = dict(os.environ, SEALTRAIL_DATABASE_URL=DB, SEALTRAIL_LOG="warn")
    subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    org = f"py-e2e-{os.getpid()}-{time.time_ns()}"

    def key(role: str) -> str:
        p = subprocess.run([BIN, "keys", "create", "--org", org, "--role", role], env=env,
                           check=True, capture_output=True, text=True, timeout=60)
        return p.stdout.strip()

    ingest, ops = key("ingest"), key("ops")
    url = f"http://127.0.0.1:{_free_port()}"
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([BIN, "serve", "--listen", url[len("http://"):]], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/readyz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("server did not start: " + (tmp_path / "server.log").read_text())
                time.sleep(0.1)
        yield url, ingest, ops
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@needs_core_client
def test_events_reach_server_and_verify(tmp_path, server):
    url, ingest, reader = server
    agent = f"py-e2e-{os.getpid()}"
    code = textwrap.dedent(f"""
        import sealtrail
        sealtrail.init(endpoint={url!r}, api_key={ingest!r}, agent_id={agent!r},
                       spool_dir={str(tmp_path / 'spool')!r})
        @sealtrail.tool
        def f(x, email): return x
        with sealtrail.session(actor_id="u"):
            for i in range(10): f(i, "jane.doe@example.com")
        r = sealtrail.flush(30)
        assert r["delivered"] == 20, r
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    if not reader:
        return
    lines = [json.loads(l) for l in _get(f"{url}/v1/chains/{agent}/verify", reader).splitlines() if l.strip()]
    chain = next(l for l in lines if l.get("agent_id") == agent)
    assert chain["ok"] is True and chain["count"] == 20, lines
    stored = json.loads(_get(f"{url}/v1/events?agent_id={agent}&limit=100", reader))
    text = json.dumps(stored)
    assert "jane.doe@example.com" not in text, "redacted before it left the agent"
    assert "[EMAIL]" in text
