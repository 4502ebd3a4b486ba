#!/usr/bin/env python3
"""An independent implementation of docs/chain-spec.md, in the Python standard
library only (hashlib, struct, json and its own small RFC 8785 encoder), run
over tests/vectors/chain.json. It shares no code with the Rust core: passing
proves that the spec alone is enough to verify a sealtrail chain.

    python3 tests/python/verify_vectors.py [path/to/chain.json]

Prints one line per check and ends with "N passed, N failed".
"""

import hashlib
import json
import math
import struct
import sys
from pathlib import Path

TAG = b"sealtrail.chain.v1"
ZERO = bytes(32)


# ---- RFC 8785 -------------------------------------------------------------

def jcs_number(x):
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        if abs(x) <= 2**53:
            return str(x)
        x = float(x)  # RFC 8785: every number is an IEEE-754 double
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN and Infinity are not JSON")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))  # shortest round-trip digits, as ECMAScript uses
    mant, _, exp = r.partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    n = len(whole) + (int(exp) if exp else 0)
    while digits.startswith("0"):
        digits = digits[1:]
        n -= 1
    digits = digits.rstrip("0")
    k = len(digits)
    # ECMAScript Number::toString, step by step.
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        es = ("+" if e >= 0 else "-") + str(abs(e))
        s = digits + "e" + es if k == 1 else digits[0] + "." + digits[1:] + "e" + es
    return sign + s


ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def jcs_string(s):
    out = ['"']
    for ch in s:
        if ch in ESCAPES:
            out.append(ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return jcs_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code units
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


# ---- the chain ------------------------------------------------------------

def canonical_event(event):
    """Absent and null members are the same: null members are left out."""
    return jcs({k: v for k, v in event.items() if v is not None}).encode("utf-8")


def frame(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def link_hash(org, agent, key, seq, prev, content):
    msg = frame("sealtrail.chain.v1") + frame(org) + frame(agent) + frame(key)
    msg += struct.pack(">Q", seq) + prev + content
    return hashlib.sha256(msg).digest()


def verify_chain(org, agent, links):
    """Returns (ok, seq, reason) for links in seq order (spec section 4)."""
    all_hashes = {bytes.fromhex(l["hash"]) for l in links}
    expected_seq, expected_prev = 1, ZERO
    for l in links:
        seq = l["seq"]
        if seq > expected_seq:
            return False, expected_seq, "missing"
        if seq < expected_seq:
            return False, expected_seq, "reordered"
        content = hashlib.sha256(canonical_event(l["event"])).digest()
        if "content_hash" in l and bytes.fromhex(l["content_hash"]) != content:
            return False, seq, "edited"
        prev, stored = bytes.fromhex(l["prev_hash"]), bytes.fromhex(l["hash"])
        own = link_hash(org, agent, l["key_id"], seq, prev, content)
        if prev != expected_prev:
            if prev in all_hashes:
                return False, seq, "reordered"
            return False, seq, "forged" if own == stored else "edited"
        if own != stored:
            return False, seq, "edited"
        expected_seq, expected_prev = seq + 1, stored
    return True, expected_seq - 1, "ok"


# ---- the run --------------------------------------------------------------

def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "vectors" / "chain.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    passed = failed = 0

    def check(name, cond, detail=""):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name} {detail}")

    check("spec", doc["spec"] == "sealtrail.chain.v1")
    for case in doc["jcs"]:
        got = jcs(json.loads(case["input"]))
        check("jcs", got == case["canonical"], f"{got!r} != {case['canonical']!r}")

    for chain in doc["chains"]:
        org, agent, links = chain["org_id"], chain["agent_id"], chain["links"]
        prev = ZERO
        for l in links:
            where = f"{agent} seq {l['seq']}"
            canonical = canonical_event(l["event"])
            check(f"{where} canonical", canonical.decode("utf-8") == l["canonical"],
                  f"\n  got  {canonical.decode()}\n  want {l['canonical']}")
            content = hashlib.sha256(canonical).digest()
            check(f"{where} content_hash", content.hex() == l["content_hash"])
            check(f"{where} prev_hash", prev.hex() == l["prev_hash"])
            h = link_hash(org, agent, l["key_id"], l["seq"], prev, content)
            check(f"{where} hash", h.hex() == l["hash"])
            prev = h
        ok, seq, reason = verify_chain(org, agent, links)
        check(f"{agent} verifies", ok, f"seq {seq} {reason}")
        print(f"chain {agent}: {len(links)} links, head {prev.hex()[:16]}… {'ok' if ok else reason}")

        # Tampering is caught, with the first broken seq and the reason.
        import copy
        edited = copy.deepcopy(links)
        edited[2]["event"]["type"] = "custom" if edited[2]["event"]["type"] != "custom" else "request"
        check(f"{agent} edit caught", verify_chain(org, agent, edited)[1:] == (3, "edited"))
        missing = copy.deepcopy(links)
        del missing[4]
        check(f"{agent} deletion caught", verify_chain(org, agent, missing)[1:] == (5, "missing"))
        swapped = copy.deepcopy(links)
        swapped[5]["seq"], swapped[6]["seq"] = 7, 6
        swapped.sort(key=lambda l: l["seq"])
        check(f"{agent} reorder caught", verify_chain(org, agent, swapped)[1:] == (6, "reordered"))
        forged = copy.deepcopy(links)
        fake_prev = bytes([7]) * 32
        ev = dict(forged[3]["event"], name="forged")
        c = hashlib.sha256(canonical_event(ev)).digest()
        forged[3] = dict(forged[3], event=ev, content_hash=c.hex(), prev_hash=fake_prev.hex(),
                         hash=link_hash(org, agent, forged[3]["key_id"], 4, fake_prev, c).hex())
        check(f"{agent} forgery caught", verify_chain(org, agent, forged)[1:] == (4, "forged"))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
