"""Python half of the cross-language check: prints one JSON line per case,
{case, canonical, content_hash}, for the same vectors as node_side.mjs.

Uses ``sealtrail._native.seal_event`` when the binding has it (the agreed
name: core builds, validates, canonicalises and hashes, as Node's
``sealEvent``). Otherwise it records through an in-memory capture client,
pins ``id``/``ts``/``trace_id`` to the vector's values and canonicalises the
captured event with the binding's ``to_json`` (core's RFC 8785).

    python tests/cross_language/python_side.py [vectors.json]
"""

import base64
import hashlib
import json
import os
import sys

from sealtrail import _native


def revive(v):
    if isinstance(v, list):
        return [revive(x) for x in v]
    if isinstance(v, dict):
        if "$bytes" in v:
            return base64.b64decode(v["$bytes"])
        if "$bigint" in v:
            return int(v["$bigint"])
        if "$set" in v:
            return set(revive(x) for x in v["$set"])
        if "$map" in v:
            return {revive(k): revive(x) for k, x in v["$map"]}
        return {k: revive(x) for k, x in v.items()}
    return v


def fields(c):
    f = {}
    for k in ("name", "decision", "error", "tokens", "cost_usd", "latency_ms"):
        if k in c:
            f[k] = c[k]
    for k in ("inputs", "outputs", "attrs"):
        if k in c:
            f[k] = revive(c[k])
    return f


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "vectors.json")
    with open(path, encoding="utf-8") as fh:
        vectors = json.load(fh)
    agent = vectors["agent_id"]
    seal = getattr(_native, "seal_event", None)
    client = None if seal else _native.Client(capture=True, agent_id=agent)
    for c in vectors["cases"]:
        if seal:
            canonical, content_hash = seal(agent, c["type"], id=c["id"], ts=c["ts"], **fields(c))
        else:
            client.record(c["type"], None, **fields(c))
            (event,) = client.take_captured()
            event["id"], event["ts"], event["trace_id"] = c["id"], c["ts"], c["id"]
            canonical = _native.to_json(event)
            content_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        print(json.dumps({"case": c["case"], "canonical": canonical, "content_hash": content_hash}))


if __name__ == "__main__":
    main()
