"""Shared pieces of the end-to-end suites (standard library only): a
throwaway PostgreSQL cluster the harness can stop and start, the real
`sealtrail` server as a child process, keys, HTTP calls, superuser queries
and chain verification.

Everything lives under target/e2e/<run>/ (cluster, server logs, spools);
a passing run removes it, a failing one keeps it and says where it is.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from typing import Dict, List, Optional, Tuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.path.join(ROOT, "target")
VENV_PY = os.path.join(TARGET, "venv", "bin", "python")

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def log(msg: str) -> None:
    print(msg, flush=True)


def ulid_to_uuid(s: str) -> str:
    """A ULID (26 Crockford base32 chars) as the uuid the server stores."""
    n = 0
    for ch in s.upper():
        n = n * 32 + CROCKFORD.index(ch)
    return str(uuid.UUID(int=n))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_binary() -> str:
    cargo_target = os.environ.get("CARGO_TARGET_DIR") or TARGET
    for p in (os.environ.get("SEALTRAIL_BIN"), os.path.join(cargo_target, "debug", "sealtrail"),
              os.path.join(cargo_target, "release", "sealtrail")):
        if p and os.access(p, os.X_OK):
            return p
    raise SystemExit("error: no sealtrail binary; run `cargo build -p sealtrail-server` "
                     "(or set SEALTRAIL_BIN)")


class RunDir:
    """target/e2e/<name>-XXXX: kept when the run fails."""

    def __init__(self, name: str):
        os.makedirs(os.path.join(TARGET, "e2e"), exist_ok=True)
        self.path = tempfile.mkdtemp(prefix=name + "-", dir=os.path.join(TARGET, "e2e"))
        os.chmod(self.path, 0o755)

    def sub(self, *parts: str) -> str:
        p = os.path.join(self.path, *parts)
        os.makedirs(p, exist_ok=True)
        return p


# ---------------------------------------------------------------- PostgreSQL

def _pg_bin() -> str:
    cands = []
    w = shutil.which("pg_ctl")
    if w:
        cands.append(os.path.dirname(os.path.realpath(w)))
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    cands.append("/usr/local/pgsql/bin")
    for d in cands:
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    raise SystemExit("error: PostgreSQL server binaries (initdb, pg_ctl) not found; "
                     "apt-get install postgresql")


def _as_owner(cmd: List[str]) -> List[str]:
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"] + cmd
    return cmd


class Cluster:
    """A throwaway cluster (fsync on by default: these are durability tests),
    listening on a Unix socket only, that the harness may stop and start."""

    def __init__(self, run: RunDir, fsync: bool = True):
        self.bin = _pg_bin()
        self.dir = run.sub("pg")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.fsync = "on" if fsync else "off"
        r = subprocess.run(_as_owner([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                                      "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("initdb failed:\n" + r.stdout + r.stderr)
        self.start()
        self.url = f"postgres://postgres@localhost/postgres?host={self.dir}"

    def start(self) -> None:
        opts = (f"-c listen_addresses='' -k {self.dir} -c fsync={self.fsync} "
                "-c max_connections=300 -c shared_buffers=128MB")
        subprocess.run(_as_owner([os.path.join(self.bin, "pg_ctl"), "-w", "-D", self.data, "-l",
                                  os.path.join(self.dir, "server.log"), "-o", opts, "start"]),
                       check=True, stdout=subprocess.DEVNULL)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_owner([os.path.join(self.bin, "pg_ctl"), "-w", "-D", self.data, "-m", mode, "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def psql(self, sql: str) -> str:
        """Runs SQL as the superuser; returns unaligned, tuples-only output."""
        psql = shutil.which("psql") or os.path.join(self.bin, "psql")
        r = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", self.dir, "-U", "postgres",
                            "-d", "postgres", "-c", sql], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\n  sql: {sql}")
        return r.stdout.strip()


# ---------------------------------------------------------------- the server

# Every child process the suites start, so that a failing scenario cannot
# leave one running: `kill_children()` in the suites' `finally`.
CHILDREN: List[subprocess.Popen] = []


def kill_children() -> None:
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()


class Server:
    """`sealtrail serve` as a child process on a free loopback port."""

    def __init__(self, run: RunDir, cluster: Cluster, name: str = "server", port: Optional[int] = None):
        self.bin = server_binary()
        self.cluster = cluster
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(run.path, name + ".log")
        self.proc: Optional[subprocess.Popen] = None

    def env(self) -> Dict[str, str]:
        e = dict(os.environ)
        e["SEALTRAIL_DATABASE_URL"] = self.cluster.url
        e.setdefault("SEALTRAIL_LOG", "info")
        return e

    def start(self, wait: float = 30.0) -> "Server":
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.bin, "serve", "--listen", f"127.0.0.1:{self.port}"],
                                     env=self.env(), stdout=logf, stderr=subprocess.STDOUT)
        CHILDREN.append(self.proc)
        deadline = time.time() + wait
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if http("GET", self.url + "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz in {wait} s; see {self.log_path}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metric(self, name: str) -> float:
        """One value of GET /metrics (Prometheus text), 0 when absent."""
        st, body = http("GET", self.url + "/metrics", timeout=5)
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.bin, *args], env=self.env(), capture_output=True, text=True)

    def create_key(self, org: str, role: str) -> str:
        r = self.cli("keys", "create", "--org", org, "--role", role)
        if r.returncode != 0:
            raise RuntimeError(f"keys create failed: {r.stderr}")
        return r.stdout.strip().splitlines()[-1]

    def verify(self, org: str) -> Tuple[bool, List[dict]]:
        """`sealtrail verify --org`: (every chain ok, one dict per chain)."""
        r = self.cli("verify", "--org", org)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
        chains = [x.get("line", x) for x in lines]
        return r.returncode == 0 and all(c.get("ok") for c in chains), chains


# ---------------------------------------------------------------- HTTP

def http(method: str, url: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
         key: Optional[str] = None, timeout: float = 30) -> Tuple[int, bytes]:
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def gz(b: bytes) -> bytes:
    return gzip.compress(b, 1)


# ---------------------------------------------------------------- the store

def store_counts(cluster: Cluster, org: str) -> Tuple[int, int, set]:
    """(rows, distinct ids, set of ids) stored for an organisation."""
    out = cluster.psql(
        "SELECT e.id FROM audit_events e JOIN organizations o ON o.id = e.org_id "
        f"WHERE o.name = '{org}'")
    ids = out.split("\n") if out else []
    return len(ids), len(set(ids)), set(ids)


def chain_heads(cluster: Cluster) -> List[str]:
    out = cluster.psql("SELECT org_id || '/' || agent_id || '/' || seq || '/' || encode(hash, 'hex') "
                       "FROM chain_heads ORDER BY 1")
    return out.split("\n") if out else []


def row_count(cluster: Cluster) -> int:
    return int(cluster.psql("SELECT count(*) FROM audit_events"))


def ensure_venv() -> str:
    if not os.access(VENV_PY, os.X_OK):
        raise SystemExit("error: no target/venv; run `scripts/test.sh python` first "
                         "(it builds the Python package into target/venv)")
    return VENV_PY


def fail_keep(run: RunDir, msg: str) -> None:
    print(f"FAILED: {msg}\n  logs and data kept in {run.path}", file=sys.stderr, flush=True)
