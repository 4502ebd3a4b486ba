#!/usr/bin/env python3
"""The fault suite: the real server (target/debug/sealtrail), the real
client (the Python package in target/venv, driven as separate agent
processes by tests/e2e/fault_agent.py) and a throwaway PostgreSQL with
fsync on. One line per scenario: events sent, stored, duplicated, lost,
chains verified. Every scenario must end with zero lost, zero duplicated
and every chain verifying.

    python3 tests/e2e/fault_suite.py                 quick sizes (CI)
    python3 tests/e2e/fault_suite.py --full          100,000-event ingest, 10 s / 30 s outages
    python3 tests/e2e/fault_suite.py server_kill ... only these scenarios

Definitions. sent: events whose record() returned (ids written by the
agent); for an agent that is SIGKILLed, the events below its last
`persisted` watermark (acknowledged or fsynced to the spool: the client's
guarantee; events still in its memory die with the process, by design) plus
everything the restarted agent records. stored: distinct ids in
audit_events for the scenario's organisation. duplicated: stored rows
minus distinct ids. lost: sent ids not stored.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import List, Optional

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_agent.py")


# ---------------------------------------------------------------- 503 proxy

class Proxy:
    """A tiny HTTP/1.1 proxy in front of the real server that can be told to
    answer 503 to everything for a while."""

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.fail = threading.Event()
        self.answered_503 = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if proxy.fail.is_set():
                    proxy.answered_503 += 1
                    out = b'{"error":"unavailable","detail":"proxy: the server is away for a while"}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=60)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                try:
                    c.request(self.command, self.path, body=body, headers=hdrs)
                    r = c.getresponse()
                    data = r.read()
                    status, rh = r.status, r.getheaders()
                except OSError:
                    status, rh, data = 502, [("Content-Type", "application/json")], b'{"error":"bad_gateway"}'
                finally:
                    c.close()
                self.send_response(status)
                for k, v in rh:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = _relay

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


# ---------------------------------------------------------------- agents

class Agent:
    def __init__(self, ctx: "Ctx", name: str, endpoint: str, key: str, agent_id: str, spool: Optional[str] = None):
        self.ctx = ctx
        self.out = ctx.run.sub(name)
        self.spool = spool or ctx.run.sub(name, "spool")
        self.log = os.path.join(self.out, "agent.log")
        self.env = dict(os.environ, SEALTRAIL_ENDPOINT=endpoint, SEALTRAIL_API_KEY=key,
                        SEALTRAIL_AGENT_ID=agent_id, SEALTRAIL_SPOOL_DIR=self.spool,
                        SEALTRAIL_BACKOFF_MAX_MS="2000", SEALTRAIL_BATCH_SIZE="512")
        self.proc: Optional[subprocess.Popen] = None

    def start(self, count: int, rate: float, tag: str = "e") -> "Agent":
        self.proc = subprocess.Popen([h.ensure_venv(), AGENT, "--count", str(count), "--rate", str(rate),
                                      "--out", self.out, "--tag", tag],
                                     env=self.env, stdout=subprocess.PIPE, stderr=open(self.log, "ab"), text=True)
        h.CHILDREN.append(self.proc)
        return self

    def wait(self, timeout: float = 600) -> dict:
        out, _ = self.proc.communicate(timeout=timeout)
        lines = [x for x in out.splitlines() if x.startswith("{")]
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"agent exited {self.proc.returncode}: {out[-500:]}; see {self.log}")
        return json.loads(lines[-1])

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def _files(self, prefix: str) -> List[str]:
        return sorted((os.path.join(self.out, f) for f in os.listdir(self.out) if f.startswith(prefix)),
                      key=os.path.getmtime)

    def ids_of(self, pid: int) -> List[str]:
        p = os.path.join(self.out, f"ids-{pid}.txt")
        with open(p) as f:
            return [x for x in f.read().split("\n") if len(x) == 26]

    def last_mark(self, pid: int) -> int:
        with open(os.path.join(self.out, f"persisted-{pid}.txt")) as f:
            marks = [int(x) for x in f.read().split() if x.strip()]
        return marks[-1] if marks else 0

    def recorded(self) -> int:
        p = os.path.join(self.out, f"ids-{self.proc.pid}.txt")
        try:
            return os.path.getsize(p) // 27
        except OSError:
            return 0


class Ctx:
    def __init__(self, run: h.RunDir, cluster: h.Cluster, full: bool):
        self.run, self.cluster, self.full = run, cluster, full
        self.n = 100_000 if full else 20_000


def stored_count(ctx: Ctx, org: str) -> int:
    return int(ctx.cluster.psql("SELECT count(*) FROM event_ids e JOIN organizations o ON o.id = e.org_id "
                                f"WHERE o.name = '{org}'"))


def wait_until(pred, timeout: float, what: str, step: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


def outcome(ctx: Ctx, server: h.Server, org: str, sent_ids: List[str], notes: str) -> dict:
    rows, distinct, stored = h.store_counts(ctx.cluster, org)
    sent = {h.ulid_to_uuid(x) for x in sent_ids}
    lost = len(sent - stored)
    verified, chains = server.verify(org)
    heads_ok = all(c.get("ok") for c in chains)
    return {"sent": len(sent), "stored": distinct, "duplicated": rows - distinct, "lost": lost,
            "chains": f"{sum(1 for c in chains if c.get('ok'))}/{len(chains)}",
            "ok": lost == 0 and rows == distinct and verified and heads_ok and len(sent) > 0,
            "notes": notes}


# ---------------------------------------------------------------- scenarios

def sc_server_kill(ctx: Ctx) -> dict:
    """The server SIGKILLed in the middle of the ingest, restarted on the same port."""
    server = h.Server(ctx.run, ctx.cluster, "server-kill").start()
    org = "fault-server-kill"
    key = server.create_key(org, "ingest")
    n = ctx.n
    agent = Agent(ctx, "server-kill-agent", server.url, key, "kill-agent").start(n, rate=n / 8)
    wait_until(lambda: stored_count(ctx, org) >= n * 0.3, 120, "30% stored")
    at = stored_count(ctx, org)
    server.kill(signal.SIGKILL)
    time.sleep(2)
    server.start()
    m = agent.wait()
    r = outcome(ctx, server, org, agent.ids_of(agent.proc.pid),
                f"killed at {at} stored; retries {m['retries']}, spooled {m['spooled']}, replayed {m['replayed']}")
    server.kill(signal.SIGTERM)
    return r


def sc_pg_stop(ctx: Ctx) -> dict:
    """PostgreSQL stopped during the ingest, started again after an outage."""
    outage = 10 if ctx.full else 5
    server = h.Server(ctx.run, ctx.cluster, "pg-stop").start()
    org = "fault-pg-stop"
    key = server.create_key(org, "ingest")
    n = ctx.n
    agent = Agent(ctx, "pg-stop-agent", server.url, key, "pg-agent").start(n, rate=n / 8)
    wait_until(lambda: stored_count(ctx, org) >= n * 0.3, 120, "30% stored")
    at = stored_count(ctx, org)
    ctx.cluster.stop("fast")
    t0 = time.time()
    time.sleep(outage)
    ctx.cluster.start()
    down = time.time() - t0
    m = agent.wait()
    alive = server.alive()
    r = outcome(ctx, server, org, agent.ids_of(agent.proc.pid),
                f"PostgreSQL down {down:.0f} s at {at} stored; server survived: {alive}; "
                f"retries {m['retries']}, spooled {m['spooled']}")
    r["ok"] = r["ok"] and alive
    server.kill(signal.SIGTERM)
    return r


def sc_agent_kill(ctx: Ctx) -> dict:
    """The agent SIGKILLed mid-burst, restarted with the same spool. The
    server is made unreachable (503 from the proxy) part-way through the
    burst, so that the agent dies with batches in its spool: the restart
    must replay them."""
    server = h.Server(ctx.run, ctx.cluster, "agent-kill").start()
    proxy = Proxy(server.port)
    org = "fault-agent-kill"
    key = server.create_key(org, "ingest")
    n = ctx.n
    a1 = Agent(ctx, "agent-kill-agent", proxy.url, key, "crash-agent").start(n, rate=n / 6)
    wait_until(lambda: a1.recorded() >= n * 0.25, 120, "a quarter of the burst recorded")
    proxy.fail.set()
    wait_until(lambda: a1.recorded() >= n * 0.6, 120, "60% of the burst recorded")
    a1.kill()
    proxy.fail.clear()
    pid1 = a1.proc.pid
    ids1 = a1.ids_of(pid1)
    mark = a1.last_mark(pid1)
    before = stored_count(ctx, org)
    # The same spool directory: the restarted agent replays what was fsynced.
    a2 = Agent(ctx, "agent-kill-agent", proxy.url, key, "crash-agent", spool=a1.spool).start(n // 10, 0, tag="r")
    m = a2.wait()
    ids2 = a2.ids_of(a2.proc.pid)
    _, _, stored = h.store_counts(ctx.cluster, org)
    beyond = sum(1 for x in ids1[mark:] if h.ulid_to_uuid(x) in stored)
    r = outcome(ctx, server, org, ids1[:mark] + ids2,
                f"killed after {len(ids1)} recorded ({before} stored), watermark {mark}; restart replayed "
                f"{m['replayed']} from the spool, recorded {len(ids2)} more; {beyond} of the "
                f"{len(ids1) - mark} past the watermark also arrived")
    r["ok"] = r["ok"] and m["replayed"] > 0
    proxy.close()
    server.kill(signal.SIGTERM)
    return r


def sc_503(ctx: Ctx) -> dict:
    """Every request answered 503 for a while (a proxy in front of the real server)."""
    outage = 30 if ctx.full else 8
    server = h.Server(ctx.run, ctx.cluster, "unavailable").start()
    proxy = Proxy(server.port)
    org = "fault-503"
    key = server.create_key(org, "ingest")
    n = ctx.n
    agent = Agent(ctx, "503-agent", proxy.url, key, "busy-agent").start(n, rate=n / 8)
    wait_until(lambda: stored_count(ctx, org) >= n * 0.2, 120, "20% stored")
    proxy.fail.set()
    time.sleep(outage)
    proxy.fail.clear()
    m = agent.wait()
    r = outcome(ctx, server, org, agent.ids_of(agent.proc.pid),
                f"503 for {outage} s ({proxy.answered_503} answers); retries {m['retries']}, "
                f"spooled {m['spooled']}, replayed {m['replayed']}")
    proxy.close()
    server.kill(signal.SIGTERM)
    return r


def sc_two_servers(ctx: Ctx) -> dict:
    """Two server processes on one database, batches for the same agents at once."""
    s1 = h.Server(ctx.run, ctx.cluster, "twin-1").start()
    s2 = h.Server(ctx.run, ctx.cluster, "twin-2").start()
    org = "fault-two-servers"
    key = s1.create_key(org, "ingest")
    n = ctx.n // 2
    agents = []
    for i, (srv, aid) in enumerate([(s1, "twin-a"), (s2, "twin-a"), (s1, "twin-b"), (s2, "twin-b")]):
        tag = "s1-" if srv is s1 else "s2-"
        agents.append(Agent(ctx, f"twin-agent-{i}", srv.url, key, aid).start(n // 2, rate=n / 6, tag=tag))
    ms = [a.wait() for a in agents]
    ids = [x for a in agents for x in a.ids_of(a.proc.pid)]
    per_server = [int(s.metric("sealtrail_events_stored_total")) for s in (s1, s2)]
    # In seq order, how often does a chain switch from one server's batches
    # to the other's: more than once means they really interleaved.
    switches = {}
    for aid in ("twin-a", "twin-b"):
        names = ctx.cluster.psql("SELECT left(e.name, 3) FROM audit_events e JOIN organizations o ON o.id = e.org_id "
                                 f"WHERE o.name = '{org}' AND e.agent_id = '{aid}' ORDER BY e.seq").split("\n")
        switches[aid] = sum(1 for x, y in zip(names, names[1:]) if x != y)
    seq = ctx.cluster.psql("SELECT string_agg(agent_id || ' seq ' || seq, ', ' ORDER BY agent_id) FROM chain_heads c "
                           f"JOIN organizations o ON o.id = c.org_id WHERE o.name = '{org}'")
    r = outcome(ctx, s1, org, ids, f"4 agents (2 chains) over 2 servers: stored {per_server[0]} + {per_server[1]}; "
                f"chains switch server {switches['twin-a']} and {switches['twin-b']} times; heads {seq}; "
                f"retries {sum(m['retries'] for m in ms)}")
    r["ok"] = r["ok"] and min(per_server) > 0 and min(switches.values()) > 1
    s1.kill(signal.SIGTERM)
    s2.kill(signal.SIGTERM)
    return r


SCENARIOS = [
    ("server_kill", "server SIGKILLed mid-ingest, restarted", sc_server_kill),
    ("pg_stop", "PostgreSQL stopped during ingest, started", sc_pg_stop),
    ("agent_kill", "agent SIGKILLed mid-burst, same spool", sc_agent_kill),
    ("unavailable", "server answering 503", sc_503),
    ("two_servers", "two servers, one database, same agents", sc_two_servers),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", default=os.environ.get("SEALTRAIL_TEST_FULL") == "1")
    ap.add_argument("only", nargs="*", help=", ".join(s[0] for s in SCENARIOS))
    a = ap.parse_args()
    h.ensure_venv()
    h.server_binary()
    run = h.RunDir("fault")
    cluster = h.Cluster(run, fsync=True)
    ctx = Ctx(run, cluster, a.full)
    # Migrate once as the owner; every server then starts on a migrated database.
    mig = subprocess.run([h.server_binary(), "migrate", "--database-url", cluster.url], capture_output=True, text=True)
    if mig.returncode != 0:
        raise SystemExit("migrate failed: " + mig.stderr)
    print(f"fault suite ({'full' if a.full else 'quick'}: {ctx.n} events per ingest; fsync on; "
          f"data in {run.path})", flush=True)
    hdr = f"{'scenario':<44} {'sent':>7} {'stored':>7} {'dup':>4} {'lost':>5} {'chains ok':>9}  result"
    print(hdr + "\n" + "-" * len(hdr), flush=True)
    failed = 0
    try:
        for key, label, fn in SCENARIOS:
            if a.only and key not in a.only:
                continue
            t0 = time.time()
            try:
                r = fn(ctx)
            except Exception as e:  # a scenario that cannot finish is a failure, the others still run
                h.kill_children()
                r = {"sent": 0, "stored": 0, "duplicated": 0, "lost": 0, "chains": "-", "ok": False,
                     "notes": f"{type(e).__name__}: {e}"}
            failed += not r["ok"]
            print(f"{label:<44} {r['sent']:>7} {r['stored']:>7} {r['duplicated']:>4} {r['lost']:>5} "
                  f"{r['chains']:>9}  {'PASS' if r['ok'] else 'FAIL'} ({time.time() - t0:.0f} s)", flush=True)
            print(f"    {r['notes']}", flush=True)
    finally:
        h.kill_children()
        cluster.stop("fast")
    if failed:
        h.fail_keep(run, f"{failed} scenario(s)")
        return 1
    shutil.rmtree(run.path, ignore_errors=True)
    print("every scenario: zero lost, zero duplicated, every chain verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
