"""The agent process the fault suite starts, kills and restarts: the real
Python package (target/venv) shipping to a real server.

    python fault_agent.py --count N --rate R --out DIR

Configuration comes from the SEALTRAIL_* environment (endpoint, key, agent
id, spool dir). Each `record()` that returned appends the event's id to
DIR/ids-<pid>.txt (written through to the kernel every 100 records, so a
SIGKILL of this process loses none of them); every 500 records the client's
`persisted` watermark (a record-order count: events 0..persisted are
acknowledged by the server or fsynced to the spool) is appended to
DIR/persisted-<pid>.txt. At the end: flush until everything is delivered,
then one JSON line with the metrics on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import sealtrail


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--rate", type=float, default=0, help="events/s; 0 = as fast as possible")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="e")
    ap.add_argument("--drain-timeout", type=float, default=180)
    a = ap.parse_args()

    sealtrail.init()
    pid = os.getpid()
    ids = open(os.path.join(a.out, f"ids-{pid}.txt"), "w")
    marks = open(os.path.join(a.out, f"persisted-{pid}.txt"), "w")
    pad = "x" * 200
    t0 = time.time()
    buf = []
    for i in range(a.count):
        eid = sealtrail.record("custom", name=f"{a.tag}{i}", attrs={"i": i, "pad": pad})
        if eid is None:
            print(json.dumps({"error": "record returned None", "i": i}), flush=True)
            return 1
        buf.append(eid)
        if len(buf) == 100:
            ids.write("\n".join(buf) + "\n")
            ids.flush()
            buf = []
        if i % 500 == 499:
            marks.write(f"{sealtrail.metrics()['persisted']}\n")
            marks.flush()
        if a.rate and i % 100 == 99:
            ahead = (i + 1) / a.rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    if buf:
        ids.write("\n".join(buf) + "\n")
        ids.flush()
    recorded_s = time.time() - t0

    # Drain: the queue, then the spool (replayed when the server answers).
    deadline = time.time() + a.drain_timeout
    while time.time() < deadline:
        sealtrail.flush(5)
        m = sealtrail.metrics()
        if m["queue_depth"] == 0 and m["spool_bytes"] == 0 and m["persisted"] >= m["recorded"] - m["dropped"]:
            break
        time.sleep(0.2)
    m = sealtrail.metrics()
    m.pop("python_failures", None)
    m["recorded_s"] = round(recorded_s, 2)
    m["total_s"] = round(time.time() - t0, 2)
    print(json.dumps(m), flush=True)
    sealtrail.shutdown(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
