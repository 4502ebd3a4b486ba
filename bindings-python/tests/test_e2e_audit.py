"""The receipts audit end to end against a real sealtrail server with its
transparency log on (a log key, a checkpoint every second): the events an
agent delivered are proved included in a signed checkpoint, the next audit
finds the log consistent with the saved checkpoint, and a receipt for an
event the server does not have is reported missing (exit 3 from the CLI).

Runs when a built `sealtrail` binary (SEALTRAIL_BIN or on PATH) and
DATABASE_URL (a throwaway PostgreSQL, as scripts/test.sh starts) are
available; otherwise it skips, saying which.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

import sealtrail
from sealtrail import _state

from conftest import needs_core_client

BIN = os.environ.get("SEALTRAIL_BIN") or shutil.which("sealtrail")
DB = os.environ.get("DATABASE_URL")

if not (BIN and DB):
    pytest.skip("needs a built `sealtrail` binary (SEALTRAIL_BIN or PATH) and DATABASE_URL",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def log_server(tmp_path):
    """(url, ingest key, log verifier key) of a server signing checkpoints."""
    env = dict(os.environ, SEALTRAIL_DATABASE_URL=DB, SEALTRAIL_LOG="warn")
    subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    org = f"py-audit-{os.getpid()}-{time.time_ns()}"
    ingest = subprocess.run([BIN, "keys", "create", "--org", org, "--role", "ingest"], env=env,
                            check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    key_file = tmp_path / "log.key"
    vkey = subprocess.run([BIN, "log-key", "generate", "--out", str(key_file), "--name", "e2e-log"],
                          env=env, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()
    url = f"http://127.0.0.1:{_free_port()}"
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [BIN, "serve", "--listen", url[len("http://"):]],
        env=dict(env, SEALTRAIL_LOG_KEY_FILE=str(key_file), SEALTRAIL_CHECKPOINT_INTERVAL="1s"),
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
        yield url, ingest, vkey
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        _state.shutdown(2.0)
        _state._closed = False
        _state._options = {}


@needs_core_client
def test_audit_against_the_real_log(tmp_path, log_server):
    url, ingest, vkey = log_server
    spool = tmp_path / "spool"
    sealtrail.init(endpoint=url, api_key=ingest, spool_dir=spool, agent_id="audited-agent",
                   linger_ms=10)
    for i in range(5):
        sealtrail.record("custom", name=f"step-{i}")
    assert sealtrail.flush(30.0)["delivered"] == 5

    deadline = time.time() + 60
    while True:
        report = sealtrail.audit_receipts(log_key=vkey)
        if report["proved"] == 5 or time.time() > deadline:
            break
        assert report["pending"] + report["proved"] == 5, report
        time.sleep(0.5)
    assert report["ok"], report
    assert report["proved"] == 5, report
    assert report["log"][0]["status"] in ("first", "consistent"), report["log"]
    assert report["log"][0]["origin"].startswith("e2e-log/"), report["log"]
    assert (spool / "checkpoints.json").exists()
    again = sealtrail.audit_receipts(log_key=vkey)
    assert again["log"][0]["status"] == "consistent", again["log"]

    # A receipt of an event the server does not have: what a database
    # restored to before it would look like.
    kept = [json.loads(l) for l in (spool / "receipts.jsonl").read_text().splitlines()]
    lost = dict(kept[-1], id=sealtrail._native.new_id(), seq=kept[-1]["seq"] + 1)
    with open(spool / "receipts.jsonl", "a") as f:
        f.write(json.dumps(lost) + "\n")
    report = sealtrail.audit_receipts(log_key=vkey)
    assert (report["proved"], report["missing"]) == (5, 1), report
    assert report["problems"][0]["id"] == lost["id"]

    p = subprocess.run([BIN, "audit-receipts", "--endpoint", url, "--api-key", ingest,
                        "--spool-dir", str(spool), "--log-key", vkey],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stdout + p.stderr
    assert json.loads(p.stdout.splitlines()[0])["status"] == "missing"
