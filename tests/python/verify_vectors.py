#!/usr/bin/env python3
"""An independent implementation of docs/chain-spec.md, in the Python standard
library only (hashlib, struct, json and its own small RFC 8785 encoder and
section 1 reader: I-JSON with duplicate member names refused, null members
absent), run over tests/vectors/chain.json and the ledger files it names. It shares no code with the Rust core: passing
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


# ---- reading events (section 1) -----------------------------------------

class Refused(ValueError):
    def __init__(self, kind, detail):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise Refused("malformed_json", f"duplicate member name {k!r}")
        out[k] = v
    return out


def _no_constant(name):
    raise Refused("malformed_json", f"{name} is not JSON")


def read_json(text):
    """I-JSON: a member name twice in an object is refused, as are NaN and
    Infinity (Python's json module would take both)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise Refused("malformed_json", str(e)) from None


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TYPES = {"request", "model_call", "tool_call", "tool_result", "response", "error", "decision", "custom"}
MEMBERS = {"id", "ts", "agent_id", "type", "actor_id", "session_id", "trace_id", "parent_id", "name",
           "prompt_hash", "inputs", "outputs", "decision", "error", "tokens", "cost_usd", "latency_ms",
           "pii", "attrs"}
MAX_SAFE = 2**53 - 1


def _bad(detail):
    raise Refused("invalid_event", detail)


def _text(field, v, max_bytes, non_empty):
    if not isinstance(v, str):
        _bad(f"{field} must be a string")
    if non_empty and not v:
        _bad(f"{field} must not be empty")
    if len(v.encode("utf-8")) > max_bytes:
        _bad(f"{field} is over {max_bytes} bytes")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in v):
        _bad(f"{field} has a control character")


def _int(field, v):
    # An integer is a number written without fraction or exponent.
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SAFE:
        _bad(f"{field} must be an integer 0..2^53-1")


def _object(field, v, allowed, required=()):
    """A member object of section 1: null members are absent, as at the top."""
    if not isinstance(v, dict):
        _bad(f"{field} must be an object")
    v = {k: x for k, x in v.items() if x is not None}
    for k in v:
        if k not in allowed:
            _bad(f"unknown member {field}.{k}")
    for k in required:
        if k not in v:
            _bad(f"{field}.{k} is missing")
    return v


def _ts(v):
    if not isinstance(v, str) or len(v) != 27 or v[10] != "T" or v[19] != "." or v[26] != "Z":
        _bad("ts must be RFC 3339 UTC with six fractional digits")
    import datetime
    try:
        t = datetime.datetime.strptime(v[:26], "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        _bad("ts is not a date")
    if t.year < 1970 or t.strftime("%Y-%m-%dT%H:%M:%S.%f") != v[:26]:
        _bad("ts is outside the rules")


def _decimal(v):
    if not isinstance(v, str):
        _bad("cost_usd must be a string")
    whole, dot, frac = v.partition(".")
    if (not whole or len(whole) > 18 or not whole.isascii() or not whole.isdigit()
            or (len(whole) > 1 and whole[0] == "0")
            or (dot and (not frac or len(frac) > 18 or not frac.isascii() or not frac.isdigit()))):
        _bad("cost_usd must be a non-negative decimal string")


def read_event(value):
    """Section 1: checks every rule and returns the event with null members
    left out (at the top and in decision, error and tokens; inside inputs,
    outputs and attrs a null is data)."""
    if not isinstance(value, dict):
        raise Refused("malformed_json", "an event must be a JSON object")
    for k in ("id", "ts", "agent_id", "type"):
        if value.get(k, 0) is None:
            _bad(f"{k} is required and cannot be null")
    e = {k: v for k, v in value.items() if v is not None}
    for k in e:
        if k not in MEMBERS:
            _bad(f"unknown member {k}")
    for k in ("id", "ts", "agent_id", "type"):
        if k not in e:
            _bad(f"{k} is missing")
    i = e["id"]
    if not isinstance(i, str) or len(i) != 26 or any(c not in CROCKFORD for c in i) or i[0] > "7":
        _bad("id must be a ULID in canonical upper case")
    _ts(e["ts"])
    _text("agent_id", e["agent_id"], 256, True)
    if e["type"] not in TYPES:
        _bad("unknown event type")
    for k in ("actor_id", "session_id", "trace_id", "parent_id"):
        if k in e:
            _text(k, e[k], 256, True)
    if "name" in e:
        _text("name", e["name"], 1024, False)
    if "prompt_hash" in e:
        h = e["prompt_hash"]
        if not isinstance(h, str) or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
            _bad("prompt_hash must be 64 lower-case hex")
    if "decision" in e:
        d = e["decision"] = _object("decision", e["decision"], {"outcome", "by", "reason"}, ("outcome",))
        if d["outcome"] not in ("approved", "denied", "escalated"):
            _bad("decision.outcome")
        for k in ("by", "reason"):
            if k in d and not isinstance(d[k], str):
                _bad(f"decision.{k} must be a string")
    if "error" in e:
        r = e["error"] = _object("error", e["error"], {"type", "message", "stack"}, ("type", "message"))
        if not all(isinstance(x, str) for x in r.values()):
            _bad("error members must be strings")
    if "tokens" in e:
        t = e["tokens"] = _object("tokens", e["tokens"], {"input", "output"})
        for k, x in t.items():
            _int(f"tokens.{k}", x)
    if "cost_usd" in e:
        _decimal(e["cost_usd"])
    if "latency_ms" in e:
        _int("latency_ms", e["latency_ms"])
    if "pii" in e:
        if not isinstance(e["pii"], dict):
            _bad("pii must be an object")
        for k, x in e["pii"].items():
            _text("pii key", k, 1024, True)
            _int("pii count", x)
    if "attrs" in e and not isinstance(e["attrs"], dict):
        _bad("attrs must be an object")
    return e


def canonical_event(event):
    """The canonical bytes of an event read by section 1 (null = absent)."""
    return jcs(read_event(event)).encode("utf-8")


def content_of(event):
    """The content hash a verifier recomputes: for an event that breaks
    section 1, a hash nothing matches (the link is then edited)."""
    try:
        return hashlib.sha256(canonical_event(event)).digest()
    except Refused as e:
        return hashlib.sha256(b"breaks section 1: " + str(e).encode()).digest()


# ---- the chain ------------------------------------------------------------

def frame(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def link_hash(org, agent, key, seq, prev, content):
    msg = frame("sealtrail.chain.v1") + frame(org) + frame(agent) + frame(key)
    msg += struct.pack(">Q", seq) + prev + content
    return hashlib.sha256(msg).digest()


def verify_chain(org, agent, links, base=None, head=None):
    """Returns (ok, seq, reason) for links in the order stored (section 4).
    On success seq is the last verified seq; `verified` counts links."""
    all_hashes = {bytes.fromhex(l["hash"]) for l in links}
    all_seqs = {l["seq"] for l in links}
    expected_seq, expected_prev = 1, ZERO
    if base:
        expected_seq, expected_prev = base["seq"] + 1, bytes.fromhex(base["hash"])
    for l in links:
        seq = l["seq"]
        if head and seq > head["seq"] and seq >= expected_seq:
            return False, seq, "forged"
        if seq > expected_seq:
            return False, expected_seq, "reordered" if expected_seq in all_seqs else "missing"
        if seq < expected_seq:
            return False, seq, "reordered"  # named by the seq that repeats
        content = content_of(l["event"])
        if bytes.fromhex(l["content_hash"]) != content:
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
    last = expected_seq - 1
    if head:
        if last < head["seq"]:
            return False, last + 1, "missing"
        if bytes.fromhex(head["hash"]) != expected_prev:
            return False, head["seq"], "edited"
    return True, last, "ok"


LINE_MEMBERS = {"seq", "org_id", "key_id", "prev_hash", "hash", "content_hash", "event"}


def verify_ledger(path):
    """Section 5: returns (malformed line numbers, {agent: (ok, seq, reason,
    line, head_seq, head_hash)}) for a ledger file."""
    malformed, chains = [], {}
    for n, raw in enumerate(Path(path).read_bytes().split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            line = read_json(raw.decode("utf-8"))
            if not isinstance(line, dict) or set(line) != LINE_MEMBERS:
                raise Refused("malformed_json", "a ledger line has exactly the members of section 5")
            seq = line["seq"]
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
                raise Refused("malformed_json", "seq")
            agent = line["event"]["agent_id"]
            if not isinstance(agent, str):
                raise Refused("malformed_json", "agent_id")
            for k in ("prev_hash", "hash", "content_hash"):
                bytes.fromhex(line[k])
        except (Refused, UnicodeDecodeError, ValueError, TypeError, KeyError):
            malformed.append(n)
            continue
        line["line"] = n
        chains.setdefault((line["org_id"], agent), []).append(line)
    verdicts = {}
    for (org, agent), links in chains.items():
        ok, seq, reason = verify_chain(org, agent, links)
        if ok:
            verdicts[agent] = (True, None, None, None, seq, links[-1]["hash"])
            continue
        # The links before the break verified; the break's line is the
        # first link at which the walk fails.
        done = 0
        for i in range(len(links)):
            if verify_chain(org, agent, links[: i + 1])[0]:
                done = i + 1
            else:
                break
        head_seq = links[done - 1]["seq"] if done else 0
        head_hash = links[done - 1]["hash"] if done else ZERO.hex()
        verdicts[agent] = (False, seq, reason, links[done]["line"], head_seq, head_hash)
    return malformed, verdicts


# ---- the run --------------------------------------------------------------

def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "vectors" / "chain.json"
    doc = read_json(path.read_text(encoding="utf-8"))
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
        if len(links) < 8:
            continue
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
        repeated = copy.deepcopy(links)
        repeated.insert(3, copy.deepcopy(links[2]))
        check(f"{agent} repeat named by its seq", verify_chain(org, agent, repeated)[1:] == (3, "reordered"))

    # Section 1: texts every reader refuses.
    for case in doc["refused"]:
        try:
            read_event(read_json(case["text"]))
            check(f"refused {case['name']}", False, "accepted")
        except Refused as e:
            check(f"refused {case['name']}", e.kind == case["kind"], f"{e.kind} != {case['kind']}: {e}")
    dups = [c for c in doc["refused"] if c["name"].startswith("duplicate")]
    check("duplicate cases present", len(dups) >= 5)

    # Retention: a pruned chain verifies from its base, and not without it.
    for p in doc["pruned"]:
        ok, seq, reason = verify_chain(p["org_id"], p["agent_id"], p["links"], p["base"], p["head"])
        check(f"pruned {p['agent_id']} verifies", ok and seq == p["head"]["seq"], f"{seq} {reason}")
        check(f"pruned {p['agent_id']} needs its base",
              not verify_chain(p["org_id"], p["agent_id"], p["links"], None, p["head"])[0])

    # Broken chains: the seq and reason named.
    for c in doc["broken"]:
        got = verify_chain(c["org_id"], c["agent_id"], c["links"], c.get("base"), c.get("head"))
        want = c["expect"]
        if want is None:
            check(f"broken[{c['name']}]", got[0], f"{got}")
        else:
            check(f"broken[{c['name']}]", got[1:] == (want["seq"], want["reason"]),
                  f"{got} != {want}")

    # Local ledger files.
    for l in doc["ledgers"]:
        malformed, verdicts = verify_ledger(path.parent / l["file"])
        check(f"ledger {l['file']} malformed lines", malformed == l["malformed"], f"{malformed}")
        check(f"ledger {l['file']} chains", len(verdicts) == len(l["chains"]))
        for w in l["chains"]:
            ok, seq, reason, line, head_seq, head_hash = verdicts.get(w["agent_id"], (None,) * 6)
            b = w["broken"]
            want = (b is None, b and b["seq"], b and b["reason"], b and b["line"], w["head_seq"], w["head_hash"])
            check(f"ledger {l['file']} {w['agent_id']}", (ok, seq, reason, line, head_seq, head_hash) == want,
                  f"{(ok, seq, reason, line, head_seq, head_hash)} != {want}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
