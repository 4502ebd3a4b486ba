"""Prints an organisation's stored trail as one table per session, read
through the API with an ops key (standard library only). Used by
scripts/demo.sh:

    python3 tests/e2e/trail_table.py --endpoint http://127.0.0.1:8080 --key st_...
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import urllib.request
from collections import OrderedDict


def fetch_all(endpoint: str, key: str, **filters: str) -> list:
    events, cursor = [], None
    while True:
        q = dict(filters, limit="1000")
        if cursor:
            q["cursor"] = cursor
        req = urllib.request.Request(f"{endpoint}/v1/events?{urllib.parse.urlencode(q)}",
                                     headers={"Authorization": "Bearer " + key})
        with urllib.request.urlopen(req, timeout=30) as r:
            page = json.load(r)
        # A stored event is {"event": {...}, "seq", "hash", ...}; flatten it.
        events += [dict(e.get("event") or {}, **{k: v for k, v in e.items() if k != "event"})
                   for e in page["events"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return events


def short(v, n: int) -> str:
    if v is None:
        return ""
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def summary(e: dict) -> str:
    """What the event says, from its stored (redacted) fields."""
    if e.get("decision"):
        d = e["decision"]
        s = f"{d.get('outcome')} by {d.get('by')}: {d.get('reason', '')}"
    elif e.get("error"):
        s = f"{e['error'].get('type')}: {e['error'].get('message')}"
    elif e.get("type") == "model_call":
        s = f"prompt {str(e.get('prompt_hash', ''))[:10]}… tokens {short(e.get('tokens'), 40)} ${e.get('cost_usd', '')}"
    else:
        s = short(e.get("outputs") if e.get("outputs") is not None else e.get("inputs"), 200)
    if e.get("pii"):
        s += f"  [pii {short(e['pii'], 60)}]"
    return short(s, 64)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--key", required=True, help="an ops (read) key")
    a = ap.parse_args()
    events = fetch_all(a.endpoint, a.key)
    events.sort(key=lambda e: (e.get("ts", ""), e.get("agent_id", ""), e.get("seq", 0)))
    sessions: "OrderedDict[str, list]" = OrderedDict()
    for e in events:
        sessions.setdefault(e.get("session_id") or "(no session)", []).append(e)
    cols = [("time", 15), ("agent", 14), ("type", 11), ("name", 19), ("summary (as stored)", 64),
            ("seq", 4), ("hash", 10)]
    for sid, evs in sessions.items():
        actor = next((e.get("actor_id") for e in evs if e.get("actor_id")), "")
        print(f"\n  session {sid}  actor {actor}  ({len(evs)} events)")
        print("  " + " ".join(h.ljust(w) for h, w in cols))
        print("  " + " ".join("-" * w for _, w in cols))
        for e in evs:
            row = [e.get("ts", "")[11:26], short(e.get("agent_id"), 14), e.get("type", ""),
                   short(e.get("name"), 19), summary(e), str(e.get("seq", "")), str(e.get("hash", ""))[:8] + "…"]
            print("  " + " ".join(str(v).ljust(w) for v, (_, w) in zip(row, cols)))
    print(f"\n  {len(events)} events in {len(sessions)} sessions")
    found: dict = {}
    for e in events:
        for k, n in (e.get("pii") or {}).items():
            found[k] = found.get(k, 0) + n
    if found:
        print("  redacted on the agent's machine before sending: "
              + ", ".join(f"{n} {k}" for k, n in sorted(found.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
