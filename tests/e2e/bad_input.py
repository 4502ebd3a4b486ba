#!/usr/bin/env python3
"""Bad input against the running server: every case gets the right status
and an error body that says what is wrong, the server keeps serving
(/healthz after each case), and nothing stored changes except the valid
control events sent on purpose (row count and every chain head compared
before and after).

    python3 tests/e2e/bad_input.py        (after `cargo build -p sealtrail-server`)

Starts its own throwaway PostgreSQL and server under target/e2e/.
Standard library only. Prints a table: case, status, error kind, detail.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import secrets
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import harness as h  # noqa: E402
from verify_vectors import Refused, canonical_event, jcs  # noqa: E402  (the independent RFC 8785 encoder)

MiB = 1024 * 1024

# Cases whose status is right but whose body is not the JSON error of
# CONVENTIONS.md, because of a bug in another component: shown as KNOWN BUG
# (not failing the suite) until fixed; a fixed one simply passes.
# Cases that fail only because of a bug elsewhere: shown as KNOWN BUG, not
# failing the run. Empty now; keep the mechanism for the next one.
KNOWN_BUGS: dict = {}


def ulid() -> str:
    n = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(h.CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26)))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(agent: str = "bad-input-agent", **fields) -> dict:
    e = {"id": ulid(), "ts": now(), "agent_id": agent, "type": "tool_call", "name": "lookup_order",
         "inputs": {"order_id": "A-1001"}}
    e.update(fields)
    return e


def sealed(e: dict, content_hash: str = "") -> dict:
    if not content_hash:
        try:
            content_hash = hashlib.sha256(canonical_event(e)).hexdigest()
        except Refused:
            # An event the spec refuses (the point of the case): hash its
            # plain RFC 8785 form; the server refuses it before the hash.
            content_hash = hashlib.sha256(jcs(e).encode("utf-8")).hexdigest()
    return {"event": e, "content_hash": content_hash}


def batch(*items) -> bytes:
    return json.dumps({"events": list(items)}, ensure_ascii=False).encode()


class Suite:
    def __init__(self, server: h.Server, cluster: h.Cluster, keys: dict):
        self.s, self.c, self.k = server, cluster, keys
        self.rows = []
        self.failures = []
        self.control = 0  # valid events stored on purpose
        self.known = set()

    def check(self, case: str, status: int, body: bytes, want, want_kind=None, extra_ok=True):
        try:
            j = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", "replace").strip()
            j = {"error": "(not JSON)", "detail": text or "(empty body)", "_plain": True}
        kind, detail = j.get("error", ""), j.get("detail", "")
        if not kind and j.get("errors"):
            e0 = j["errors"][0]
            kind, detail = e0.get("error", ""), e0.get("detail", "")
        if not kind and "events" in j:
            kind, detail = "-", f"{len(j['events'])} events returned"
        healthy = h.http("GET", self.s.url + "/healthz", timeout=5)[0] == 200 and self.s.alive()
        wants = want if isinstance(want, tuple) else (want,)
        ok = status in wants and healthy and extra_ok and (want_kind is None or kind in (
            want_kind if isinstance(want_kind, tuple) else (want_kind,)))
        if status >= 400 and (not detail or j.get("_plain")):
            ok = False  # every error answers {"error": kind, "detail": message} (CONVENTIONS.md)
        known = next((why for prefix, why in KNOWN_BUGS.items() if case.startswith(prefix)), None)
        if known and not ok:
            self.rows.append((case, status, kind, detail, "known"))
            self.known.add(known)
            return
        self.rows.append((case, status, kind, detail, ok))
        if not ok:
            self.failures.append(f"{case}: status {status} kind {kind!r} (wanted {want} {want_kind}); "
                                 f"healthz {'ok' if healthy else 'DOWN'}")

    def post(self, body: bytes, key="ingest", headers=None):
        return h.http("POST", self.s.url + "/v1/events", body, headers=headers, key=self.k.get(key, key))


def raw_post(url: str, key: str, total: int, chunk: bytes, prefix: bytes = b"", headers: str = "") -> tuple:
    """Streams a body of `total` bytes over a plain socket; the server may
    answer and close before it is all sent. Returns (status, body)."""
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=60)
    s.sendall((f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {total}\r\n{headers}\r\n").encode())
    sent = 0
    try:
        s.sendall(prefix)
        sent = len(prefix)
        while sent < total:
            part = chunk[: total - sent]
            s.sendall(part)
            sent += len(part)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                cl = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
                if cl and len(rest) >= int(cl[0].split(b":")[1]):
                    break
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    if not data:
        return 0, b'{"error": "", "detail": "connection closed without an answer"}'
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), rest


HOSTILE_AGENT = r"""
import json, sys, time
import sealtrail

@sealtrail.tool
def browse(url):
    # Text a web page can plant: a secret prefix repeated over 120 KB.
    return {"text": "sk-" * 40_000}

@sealtrail.tool
def lookup(i):
    return {"ok": i}

t0 = time.time()
browse("https://example.com/planted")
for i in range(50):
    lookup(i)
report = sealtrail.shutdown(5.0)
print(json.dumps(dict(report, seconds=round(time.time() - t0, 3))), flush=True)
"""


def hostile_tool_output(t: "Suite", server: h.Server, cluster: h.Cluster, key: str, run: h.RunDir) -> None:
    """A 120 KB tool output of `sk-sk-sk-...` and 50 tool calls after it:
    `shutdown(5)` reports complete and all 102 events are stored (the output
    redacted). Redaction used to be quadratic there, and the calls after it
    were lost."""
    import subprocess
    agent = "hostile-output-agent"
    env = dict(os.environ, SEALTRAIL_ENDPOINT=server.url, SEALTRAIL_API_KEY=key,
               SEALTRAIL_AGENT_ID=agent, SEALTRAIL_SPOOL_DIR=run.sub("hostile-spool"))
    case = "120 KB of 'sk-' repeated, then 50 tool calls (Python package)"
    try:
        p = subprocess.run([h.ensure_venv(), "-c", HOSTILE_AGENT], env=env, capture_output=True,
                           text=True, timeout=120)
        lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
        report = json.loads(lines[-1]) if lines else {}
    except (subprocess.TimeoutExpired, ValueError) as e:
        report, p = {}, None
        t.failures.append(f"{case}: {e}")
    stored = cluster.psql(f"SELECT count(*) FROM audit_events WHERE agent_id = '{agent}'")
    leaked = cluster.psql(f"SELECT count(*) FROM audit_events WHERE agent_id = '{agent}' "
                          "AND outputs::text LIKE '%sk-sk-sk-%'")
    ok = (report.get("complete") is True and report.get("delivered") == 102 and stored == "102"
          and leaked == "0")
    detail = (f"shutdown(5): {report or (p.stderr[-300:] if p else 'no report')}; "
              f"stored {stored}, unredacted {leaked}")
    t.rows.append((case, 0, "-", detail, ok))
    if not ok:
        t.failures.append(f"{case}: {detail}")


def main() -> int:
    run = h.RunDir("bad-input")
    cluster = h.Cluster(run, fsync=False)
    server = h.Server(run, cluster)
    ok = False
    try:
        server.start()
        keys = {
            "ingest": server.create_key("acme", "ingest"),
            "ops": server.create_key("acme", "ops"),
            "other_ingest": server.create_key("globex", "ingest"),
            "other_ops": server.create_key("globex", "ops"),
            "admin": server.create_key("acme", "admin"),
        }
        t = Suite(server, cluster, keys)
        url = server.url

        # Control: a valid batch so chains exist, and the other org's own event.
        first = event()
        st, body = t.post(batch(sealed(first), sealed(event())))
        t.control += 2
        t.check("control: 2 valid events", st, body, 200)
        st, body = t.post(batch(sealed(event(agent="globex-agent"))), key="other_ingest")
        t.control += 1
        t.check("control: other org, 1 valid event", st, body, 200)

        rows0, heads0 = h.row_count(cluster), h.chain_heads(cluster)

        # --- malformed bodies
        st, b = t.post(b'{"events": [')
        t.check("malformed JSON: unterminated array", st, b, 400, "bad_request")
        st, b = t.post(b"this is not json")
        t.check("malformed JSON: not JSON at all", st, b, 400, "bad_request")
        st, b = t.post(b'{"events": [{"event": {"id": "x",}, "content_hash": "00"}]}')
        t.check("malformed JSON: inside one event", st, b, 422, "malformed_json")
        st, b = t.post(b'{"evnts": []}')
        t.check("batch: unknown top-level field", st, b, 400, "bad_request")
        st, b = t.post(b"")
        t.check("batch: empty body", st, b, 400, "bad_request")

        good = h.gz(batch(sealed(event()), sealed(event())))
        st, b = t.post(good[: len(good) // 2], headers={"Content-Encoding": "gzip"})
        t.check("truncated gzip", st, b, 400, "bad_request")
        st, b = t.post(b"\x1f\x8b\x08\x00garbage-not-deflate", headers={"Content-Encoding": "gzip"})
        t.check("corrupt gzip header", st, b, 400, "bad_request")
        st, b = t.post(b'{"events": []}', headers={"Content-Encoding": "br"})
        t.check("unsupported Content-Encoding: br", st, b, (400, 415), ("bad_request", "unsupported_media_type", ""))

        # --- size
        st, b = raw_post(url + "/v1/events", keys["ingest"], 100 * MiB, b" " * MiB, prefix=b'{"events": [')
        t.check("100 MiB body", st, b, 413, "too_large")
        bomb = h.gz(b'{"events": [' + b" " * (100 * MiB) + b"]}")
        st, b = t.post(bomb, headers={"Content-Encoding": "gzip"})
        t.check(f"gzip bomb: {len(bomb) // 1024} KiB -> 100 MiB", st, b, 413, "too_large")
        big = event(inputs={"blob": "x" * (300 * 1024)})
        st, b = t.post(batch(sealed(big)))
        t.check("one event of 300 KiB (limit 256 KiB)", st, b, 422, "too_large")
        st, b = t.post(json.dumps({"events": [1] * 10_001}).encode())
        t.check("10,001 events in one batch", st, b, 413, "too_large")

        # --- structure
        deep = "[" * 10_000 + "]" * 10_000
        st, b = t.post(b'{"events": [{"event": {"id": "%s", "ts": "%s", "agent_id": "a", "type": "custom", '
                       b'"inputs": %s}, "content_hash": "%s"}]}' % (ulid().encode(), now().encode(), deep.encode(),
                                                                   b"0" * 64))
        t.check("event nested 10,000 deep", st, b, 422, "too_deep")
        st, b = t.post(b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")
        t.check("batch element nested 100,000 deep", st, b, 422, ("too_deep", "malformed_json"))
        st, b = t.post(b'{"events": [{"event": ' + b'{"a":' * 40_000 + b"1" + b"}" * 40_000 + b"}]}")
        t.check("event object nested 40,000 deep (under the size limit)", st, b, 422, ("too_deep", "malformed_json"))
        e = event()
        raw = batch(sealed(e)).replace(b"A-1001", b"A-\xff\xfe01")
        st, b = t.post(raw)
        t.check("invalid UTF-8 in a string", st, b, 422, "invalid_utf8")
        st, b = t.post(batch(sealed(event(ts=12345))))
        t.check("wrong type: ts is a number", st, b, 422, "invalid_event")
        st, b = t.post(batch(sealed(event(type="teleport"))))
        t.check("wrong type: unknown event type", st, b, 422, "invalid_event")
        st, b = t.post(batch(sealed(event(latency_ms="fast"))))
        t.check("wrong type: latency_ms is a string", st, b, 422, "invalid_event")
        st, b = t.post(batch(sealed(event(cost_usd=0.1))))
        t.check("wrong type: cost_usd is a float", st, b, 422, "invalid_event")
        st, b = t.post(batch(sealed(event(id="not-a-ulid"))))
        t.check("wrong type: id is not a ULID", st, b, 422, "invalid_event")
        st, b = t.post(json.dumps({"events": [["event"]]}).encode())
        t.check("wrong type: event is an array", st, b, 422, ("malformed_json", "invalid_event"))
        st, b = t.post(batch(sealed(event(colour="blue"))))
        t.check("unknown field in an event", st, b, 422, "invalid_event")
        st, b = t.post(batch(dict(sealed(event()), signature="x")))
        t.check("unknown field beside event", st, b, 422, "invalid_event")

        # --- integrity
        e = event()
        forged = hashlib.sha256(canonical_event(dict(e, inputs={"order_id": "A-9999"}))).hexdigest()
        st, b = t.post(batch(sealed(e, forged)))
        t.check("forged content_hash", st, b, 422, "hash_mismatch")
        st, b = t.post(batch(sealed(event(), "zz" * 32)))
        t.check("content_hash not hex", st, b, 422, ("invalid_event", "hash_mismatch", "malformed_json"))
        e2 = event()
        st, b = t.post(batch(sealed(e2), sealed(event(), forged)))
        t.control += 1
        t.check("1 valid + 1 forged: valid stored", st, b, 207, "hash_mismatch")
        dup = dict(first, inputs={"order_id": "A-1002"})
        st, b = t.post(batch(sealed(dup)))
        t.check("reused id, different content", st, b, 422, "duplicate_id")
        st, b = t.post(batch(sealed(first)))
        rc = json.loads(b).get("receipts", [{}])
        t.check("replayed event: original receipt", st, b, 200, None,
                extra_ok=bool(rc) and rc[0].get("duplicate") is True and rc[0].get("seq") == 1)

        # --- time: nothing a request carries may make a partition
        parts = lambda: t.c.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass")
        before = parts()
        def at(ts: str, ms: int) -> dict:
            n = (ms << 80) | secrets.randbits(80)
            return event(id="".join(h.CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26))), ts=ts)
        flood = [sealed(at(f"{1971 + i // 12:04d}-{1 + i % 12:02d}-15T00:00:00.000000Z",
                           int(datetime.datetime(1971 + i // 12, 1 + i % 12, 15,
                                                 tzinfo=datetime.timezone.utc).timestamp() * 1000)))
                 for i in range(0, 12 * 40, 7)]
        st, b = t.post(batch(*flood))
        t.check(f"partition flood: {len(flood)} events in distinct months", st, b, 422, "out_of_window",
                extra_ok=parts() == before)
        st, b = t.post(batch(sealed(at("9999-12-31T23:59:59.000000Z", 253402300799000))))
        t.check("ts in 9999", st, b, 422, "out_of_window", extra_ok=parts() == before)
        skewed = event()
        skewed["id"] = at(now(), int(time.time() * 1000) - 3_600_000)["id"]
        st, b = t.post(batch(sealed(skewed)))
        t.check("id's time an hour before ts", st, b, 422, "invalid_event")

        # --- keys and orgs
        st, b = t.post(batch(sealed(event())), key="st_not_a_key")
        t.check("unknown key", st, b, 401, "unauthorized")
        st, b = h.http("POST", url + "/v1/events", batch(sealed(event())))
        t.check("no key", st, b, 401, "unauthorized")
        st, b = h.http("GET", url + "/v1/events", key=keys["ingest"])
        t.check("ingest key reading events", st, b, 403, "forbidden")
        st, b = h.http("GET", url + f"/v1/events/{first['id']}", key=keys["other_ops"])
        t.check("other org's key: event by id", st, b, 404, "not_found")
        st, b = h.http("GET", url + "/v1/chains/bad-input-agent/verify", key=keys["other_ops"])
        t.check("other org's key: verify our agent", st, b, 404, "not_found")
        st, b = h.http("GET", url + "/v1/events?agent_id=bad-input-agent", key=keys["other_ops"])
        t.check("other org's key: list our agent", st, b, 200, None,
                extra_ok=st == 200 and json.loads(b)["events"] == [])
        st, b = h.http("GET", url + "/v1/export", key=keys["other_ops"])
        t.check("other org's ops key: export", st, b, 403, "forbidden")

        # --- SQL meta-characters in every filter
        evil = "x' OR '1'='1'; DROP TABLE audit_events; --"
        typed = {"type", "decision", "has_pii", "from", "to", "limit", "cursor"}
        for f in ["agent_id", "actor_id", "session_id", "trace_id", "type", "name", "decision", "has_pii",
                  "from", "to", "q", "limit", "cursor"]:
            for v in (evil, "%' UNION SELECT * FROM api_keys --", "\\'; SELECT pg_sleep(5); --"):
                t0 = time.time()
                st, b = h.http("GET", url + "/v1/events?" + urllib.parse.urlencode({f: v}), key=keys["ops"])
                slow = time.time() - t0 > 4
                if f in typed:
                    t.check(f"SQL meta-chars in {f}= ({v[:14]}…)", st, b, 400, "bad_request", extra_ok=not slow)
                else:
                    n = len(json.loads(b).get("events", [])) if st == 200 else -1
                    t.check(f"SQL meta-chars in {f}= ({v[:14]}…)", st, b, 200, None, extra_ok=n == 0 and not slow)
        st, b = h.http("GET", url + "/v1/events?" + urllib.parse.urlencode({"colour": evil}), key=keys["ops"])
        t.check("unknown filter", st, b, 400, ("bad_request", ""))
        st, b = h.http("GET", url + "/v1/events?agent_id=a%00b", key=keys["ops"])
        t.check("NUL in a filter", st, b, 400, "bad_request")
        st, b = h.http("GET", url + "/v1/chains/a%00b/verify", key=keys["ops"])
        t.check("NUL in a path", st, b, 400, "bad_request")
        st, b = h.http("GET", url + "/v1/events?cursor=-210866803200000001_01JD0000000000000000000000",
                       key=keys["ops"])
        t.check("cursor before 4713 BC", st, b, 400, "bad_request")

        # --- admin bodies and values
        gz = gzip.compress(b'{"role":"ops","name":"' + b"a" * (64 * MiB) + b'"}', 9)
        st, b = h.http("POST", url + "/v1/keys", gz, headers={"Content-Encoding": "gzip"}, key=keys["admin"])
        t.check(f"admin body: {len(gz) // 1024} KiB gzip -> 64 MiB key name", st, b, 413, "too_large")
        st, b = h.http("POST", url + "/v1/legal-holds", json.dumps({"reason": "r" * 10_000}).encode(),
                       key=keys["admin"])
        t.check("legal hold reason of 10 KB", st, b, 400, "bad_request")
        st, b = raw_post(url + "/v1/legal-holds", keys["admin"], 64 * MiB, b"r" * MiB, prefix=b'{"reason": "')
        t.check("legal hold body of 64 MiB", st, b, 413, "too_large")
        st, b = h.http("PUT", url + "/v1/retention", b'{"days": 3000000}', key=keys["admin"])
        t.check("retention of 3,000,000 days", st, b, 400, "bad_request")
        st, b = h.http("POST", url + "/v1/keys", json.dumps({"role": "ops", "name": "x\n0 broken chain(s)"}).encode(),
                       key=keys["admin"])
        t.check("key name with a newline", st, b, 400, "bad_request")

        # --- nothing stored changed except the control events
        rows1, heads1 = h.row_count(cluster), h.chain_heads(cluster)
        changed = [x for x in heads1 if x not in heads0]
        still_ok, chains = server.verify("acme")
        store_ok = rows1 == rows0 + 1 and len(changed) == 1 and still_ok
        t.rows.append(("store: rows and chain heads", 0, "-",
                       f"rows {rows0} -> {rows1} (+1 control event), {len(changed)} chain head moved, "
                       f"verify {'ok' if still_ok else 'BROKEN'}", store_ok))
        if not store_ok:
            t.failures.append(f"store changed: rows {rows0}->{rows1}, heads changed {changed}, chains {chains}")
        tables = cluster.psql("SELECT count(*) FROM pg_tables WHERE tablename IN ('audit_events', 'api_keys')")
        if tables != "2":
            t.failures.append("a table is gone")

        # --- hostile tool output through the real Python package (after the
        # store check: these 102 events are stored on purpose, in their own chain)
        hostile_tool_output(t, server, cluster, keys["ingest"], run)

        w = max(len(r[0]) for r in t.rows)
        print(f"\n{'case'.ljust(w)}  status  {'error kind'.ljust(15)}  detail")
        print(f"{'-' * w}  ------  {'-' * 15}  {'-' * 60}")
        for case, st, kind, detail, good_ in t.rows:
            d = " ".join(str(detail).split())
            d = d if len(d) <= 100 else d[:99] + "…"
            mark = "" if good_ is True else ("   <-- KNOWN BUG" if good_ == "known" else "   <-- FAIL")
            print(f"{case.ljust(w)}  {str(st).rjust(6)}  {str(kind).ljust(15)}  {d}{mark}")
        n_known = sum(1 for r in t.rows if r[4] == "known")
        print(f"\n{len(t.rows) - len(t.failures) - n_known}/{len(t.rows)} cases as expected, {n_known} known bugs, "
              f"{len(t.failures)} failures; server alive: {server.alive()}")
        for k in sorted(t.known):
            print("KNOWN BUG:", k)
        for f in t.failures:
            print("FAIL:", f)
        ok = not t.failures
        return 0 if ok else 1
    finally:
        h.kill_children()
        cluster.stop("immediate")
        if ok:
            import shutil
            shutil.rmtree(run.path, ignore_errors=True)
        else:
            h.fail_keep(run, "bad-input suite")


if __name__ == "__main__":
    sys.exit(main())
