"""The binding entry points of the transparency-log work: receipts kept by
the client and ``audit_receipts``, ``ledger_heads`` and ``verify_ledger``
with kept heads. The server here is a tiny standard-library stand-in: it
acknowledges events, then has lost one (404) and not yet integrated the
other (409); it publishes no checkpoint (404), so no signing is needed.
The full audit (real proofs and signed checkpoints: ok, altered, bad
signature, rollback, fork) is tested in core (core/tests/client_audit.rs).
"""

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

import sealtrail
from sealtrail import _state

from conftest import needs_core_client

# The verifier key of a log named log.test/sealtrail (core's test seed).
LOG_KEY = "log.test/sealtrail+fb72efad+ARl/ayPhbIUyxqvIOPrNXqeJvgx2spIDNAOb+os9No1h"


class _Log:
    def __init__(self):
        self.ids = []  # event ids in arrival order
        self.seqs = {}


def _handler(log):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            receipts = []
            for e in body["events"]:
                ev = e["event"]
                seq = log.seqs.get(ev["agent_id"], 0) + 1
                log.seqs[ev["agent_id"]] = seq
                log.ids.append(ev["id"])
                h = hashlib.sha256(ev["id"].encode()).hexdigest()
                receipts.append({"id": ev["id"], "seq": seq, "hash": h, "duplicate": False})
            self._send(200, {"receipts": receipts, "errors": []})

        def do_GET(self):
            u = urlparse(self.path)
            if u.path == "/v1/proofs/inclusion":
                event_id = parse_qs(u.query)["event_id"][0]
                if event_id == log.ids[0]:
                    return self._send(404, {"error": "not_found"})
                return self._send(409, {"error": "not_integrated", "detail": "soon"})
            self._send(404, {"error": "not_found"})

    return H


@pytest.fixture
def server():
    log = _Log()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    httpd.shutdown()


@pytest.fixture
def fresh():
    yield
    _state.shutdown(2.0)
    _state._closed = False
    _state._options = {}


@needs_core_client
def test_receipts_kept_and_a_lost_event_reported_missing(server, fresh, tmp_path):
    endpoint, log = server
    spool = tmp_path / "spool"
    sealtrail.init(endpoint=endpoint, api_key="k", spool_dir=spool, compression="none",
                   linger_ms=10, agent_id="py-agent")
    sealtrail.record("custom", name="first")
    sealtrail.record("custom", name="second")
    assert sealtrail.flush(5.0)["delivered"] == 2
    assert sealtrail.metrics()["receipts_kept"] == 2
    kept = [json.loads(line) for line in (spool / "receipts.jsonl").read_text().splitlines()]
    assert [(k["agent_id"], k["seq"]) for k in kept] == [("py-agent", 1), ("py-agent", 2)]

    report = sealtrail.audit_receipts(log_key=LOG_KEY)
    assert (report["receipts"], report["proved"], report["missing"], report["pending"]) == (2, 0, 1, 1), report
    assert report["unprovable"] is True and report["ok"] is False
    missing = [p for p in report["problems"] if p["status"] == "missing"]
    assert [p["id"] for p in missing] == [log.ids[0]]
    assert report["log"] == []  # no checkpoint published


@needs_core_client
def test_audit_without_a_log_key_is_a_config_error(server, fresh, tmp_path, monkeypatch):
    monkeypatch.delenv("SEALTRAIL_LOG_KEY", raising=False)
    endpoint, _ = server
    with pytest.raises(sealtrail.ConfigError) as e:
        sealtrail.audit_receipts(endpoint=endpoint, api_key="k", spool_dir=tmp_path)
    assert "SEALTRAIL_LOG_KEY" in str(e.value)


@needs_core_client
def test_kept_ledger_heads_catch_a_cut_tail(fresh, tmp_path):
    path = tmp_path / "ledger.jsonl"
    sealtrail.init(ledger_path=path, agent_id="py-agent", linger_ms=10)
    for i in range(4):
        sealtrail.record("custom", name=f"e{i}")
    heads = sealtrail.ledger_heads()
    assert len(heads) == 1 and heads[0].startswith("py-agent:4:"), heads
    sealtrail.shutdown(5.0)
    assert sealtrail.verify_ledger(str(path), head=heads)["ok"]

    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n")
    assert sealtrail.verify_ledger(str(path))["ok"], "fine without a head"
    report = sealtrail.verify_ledger(str(path), head=heads[0])
    assert not report["ok"]
    assert report["heads"][0]["reason"] == "truncated"
    with pytest.raises(sealtrail.ConfigError):
        sealtrail.verify_ledger(str(path), head="not-a-head")
