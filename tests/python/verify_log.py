#!/usr/bin/env python3
"""An independent implementation of docs/chain-spec.md §7 (the transparency log:
leaves, the RFC 9162 tree and its proofs, C2SP signed notes, checkpoints and
tlog-cosignature cosignatures), in the Python standard library only — Ed25519
included, written here from RFC 8032 — sharing no code with the Rust core.

It checks:
  - its Ed25519 against the test vectors of RFC 8032 §7.1;
  - tests/vectors/log.json, the worked examples of docs/chain-spec.md §7, and that
    the document states the same values;
  - core/tests/data/tlog_merkle_probes.json, transparency-dev/merkle's
    inclusion and consistency probes (RFC 6962/9162 proofs, many invalid);
  - the cases core/examples/tlog_cases.rs writes (the file tests/tlog-go reads):
    keys, signing, notes, trees, proofs (mutated ones must fail), checkpoints
    and cosignatures; and mutations of its own, which must all be refused.

    python3 tests/python/verify_log.py [tlog-cases.json]

Without an argument it reads $CARGO_TARGET_DIR/tlog-cases.json (or
target/tlog-cases.json) when present; make it with
`cargo run -q --locked -p sealtrail-core --example tlog_cases > FILE`.
Prints failures and ends with "N passed, N failed"; exits 1 on any failure.
"""

import base64
import binascii
import hashlib
import json
import os
import re
import struct
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# ---- Ed25519 (RFC 8032 §5.1) ------------------------------------------------
# Verification as §5.1.7 (the cofactorless equation, as Go's crypto/ed25519),
# plus key derivation and signing (§5.1.5, §5.1.6) to check key texts and
# signed notes byte for byte. Not constant time: for verifying only.

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)  # extended coordinates (X, Y, Z, T)
IDENTITY = (0, 1, 1, 0)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, p):
    q = IDENTITY
    while s:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _encode(p):
    zi = pow(p[2], P - 2, P)
    x, y = p[0] * zi % P, p[1] * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _decode(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def _h_mod_l(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % L


def _expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    return a, h[32:]


def ed25519_public(seed):
    return _encode(_mul(_expand(seed)[0], G))


def ed25519_sign(seed, msg):
    a, prefix = _expand(seed)
    pub = _encode(_mul(a, G))
    r = _h_mod_l(prefix, msg)
    big_r = _encode(_mul(r, G))
    s = (r + _h_mod_l(big_r, pub, msg) * a) % L
    return big_r + s.to_bytes(32, "little")


def ed25519_verify(pub, msg, sig):
    if len(pub) != 32 or len(sig) != 64:
        return False
    a, r = _decode(pub), _decode(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = _h_mod_l(sig[:32], pub, msg)
    # [S]B = R + [k]A, compared as encodings (canonical, so as points).
    return _encode(_mul(s, G)) == _encode(_add(r, _mul(k, a)))


RFC8032_TESTS = [  # RFC 8032 §7.1, TEST 1, 2 and 3: (seed, public, message, signature)
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


# ---- leaves and the tree (§7.1, §7.2; RFC 9162 §2.1) -------------------------

LEAF_TAG = "sealtrail.leaf.v1"


def sha256(b):
    return hashlib.sha256(b).digest()


def frame(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def leaf_bytes(org_id, agent_id, seq, link_hash):
    assert len(link_hash) == 32
    return frame(LEAF_TAG) + frame(org_id) + frame(agent_id) + struct.pack(">Q", seq) + link_hash


def leaf_hash(leaf):
    return sha256(b"\x00" + leaf)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split_point(n):
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """RFC 9162 §2.1.1 MTH over a list of leaf hashes, memoised on ranges."""

    def __init__(self, leaf_hashes):
        self.h = leaf_hashes
        self.memo = {}

    def mth(self, lo, hi):
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n == 1:
            return self.h[lo]
        key = (lo, hi)
        if key not in self.memo:
            k = split_point(n)
            self.memo[key] = node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
        return self.memo[key]

    def root(self, n):
        return self.mth(0, n)

    def path(self, m, lo, hi):
        """RFC 9162 §2.1.3.1 PATH(m, D[lo:hi])."""
        n = hi - lo
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def proof(self, m, n):
        """RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true)."""
        def sub(m, lo, hi, b):
            n = hi - lo
            if m == n:
                return [] if b else [self.mth(lo, hi)]
            k = split_point(n)
            if m <= k:
                return sub(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
            return sub(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]
        return sub(m, 0, n, True)


def stored_hash_index(level, n):
    """§7.2: the dense index of the hash at `level` covering leaves [n·2^level, (n+1)·2^level)."""
    m = ((n + 1) << level) - 1
    return 2 * m - bin(m).count("1") + level


def verify_inclusion(index, size, leaf_h, proof, root):
    """RFC 9162 §2.1.3.2. Hashes are 32 bytes; the root is compared as bytes."""
    if index >= size or len(leaf_h) != 32 or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old, size, old_root, root, proof):
    """RFC 9162 §2.1.4.2, defined (docs/chain-spec.md §7 §7.2) for 1 <= old <= size;
    equal sizes take an empty proof and equal roots. (A witness's first
    checkpoint, from size 0, takes no proof: that is tlog-witness's rule, not a
    consistency proof.)"""
    if not 1 <= old <= size or any(len(p) != 32 for p in proof):
        return False
    if old == size:
        return not proof and old_root == root
    if not proof or len(old_root) != 32:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # old is an exact power of 2
        path.insert(0, old_root)
    fn, sn = old - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == root and sn == 0


# ---- signed notes and keys (§7.4; C2SP signed-note) ---------------------------

ALG_ED25519, ALG_COSIGNATURE_V1 = 0x01, 0x04
MAX_TIMESTAMP = 2**63 - 1


class NoteError(Exception):
    pass


def b64decode_strict(s):
    """Standard base64 with padding; refuses anything that does not re-encode to itself."""
    try:
        b = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise NoteError(f"bad base64: {e}") from None
    if base64.b64encode(b).decode("ascii") != s:
        raise NoteError("non-canonical base64")
    return b


def valid_name(name):
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) \
        and not any(ord(c) < 0x20 for c in name)


def key_id(name, alg, public):
    return struct.unpack(">I", sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public)[:4])[0]


def _key_fields(parts):
    name, hex_id, blob = parts
    if not valid_name(name):
        raise NoteError(f"bad key name {name!r}")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError(f"bad key ID {hex_id!r}")
    raw = b64decode_strict(blob)
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise NoteError("not an Ed25519 (0x01) or cosignature (0x04) key")
    return name, int(hex_id, 16), raw[0], raw[1:]


class Verifier:
    """A verifier key text: <name>+<8 hex key ID>+<base64(type || public key)>."""

    def __init__(self, text):
        parts = text.split("+", 2)  # base64 may hold "+"; name and key ID do not
        if len(parts) != 3:
            raise NoteError("a verifier key has three +-separated fields")
        self.name, self.id, self.alg, self.public = _key_fields(parts)
        if key_id(self.name, self.alg, self.public) != self.id:
            raise NoteError("key ID does not match name and key")
        if _decode(self.public) is None:
            raise NoteError("not an Ed25519 public key")
        self.last_timestamp = None

    def verify(self, text, sig):
        if self.alg == ALG_ED25519:
            return ed25519_verify(self.public, text, sig)
        # tlog-cosignature v1: u64be timestamp || Ed25519 signature over the cosigned message.
        if len(sig) != 8 + 64:
            return False
        (t,) = struct.unpack(">Q", sig[:8])
        if t > MAX_TIMESTAMP:
            return False
        if not ed25519_verify(self.public, cosigned_message(text, t), sig[8:]):
            return False
        self.last_timestamp = t
        return True


class Signer:
    """A private key text: PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || seed)>."""

    def __init__(self, text):
        parts = text.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a private key is PRIVATE+KEY+<name>+<id>+<key>")
        self.name, self.id, self.alg, self.seed = _key_fields(parts[2:])
        self.public = ed25519_public(self.seed)
        if key_id(self.name, self.alg, self.public) != self.id:
            raise NoteError("key ID does not match name and key")

    def verifier_text(self):
        blob = base64.b64encode(bytes([self.alg]) + self.public).decode("ascii")
        return f"{self.name}+{self.id:08x}+{blob}"

    def sign_note(self, text):
        assert self.alg == ALG_ED25519
        sig = struct.pack(">I", self.id) + ed25519_sign(self.seed, text.encode("utf-8"))
        return f"{text}\n\u2014 {self.name} {base64.b64encode(sig).decode('ascii')}\n"


def cosigned_message(checkpoint_text, timestamp):
    if isinstance(checkpoint_text, str):
        checkpoint_text = checkpoint_text.encode("utf-8")
    return b"cosignature/v1\ntime %d\n" % timestamp + checkpoint_text


def open_note(msg, verifiers):
    """Returns (text, [(verifier, signature bytes)] of the known keys' valid
    signatures). Raises NoteError when the note is malformed, a known key's
    signature fails, or no known key signed it."""
    if not msg.endswith("\n"):
        raise NoteError("a note ends in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in msg):
        raise NoteError("control character")
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("no blank line before the signatures")
    text, block = msg[: split + 1], msg[split + 2:]
    if not block:
        raise NoteError("no signature lines")
    known = {(v.name, v.id): v for v in verifiers}
    verified = []
    for line in block[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise NoteError(f"not a signature line: {line!r}")
        fields = line[2:].split(" ")
        if len(fields) != 2 or not valid_name(fields[0]):
            raise NoteError(f"malformed signature line: {line!r}")
        name, raw = fields[0], b64decode_strict(fields[1])
        if len(raw) < 5:
            raise NoteError("signature too short")
        (kid,) = struct.unpack(">I", raw[:4])
        v = known.get((name, kid))
        if v is None:
            continue  # unknown key: ignored
        if not v.verify(text.encode("utf-8"), raw[4:]):
            raise NoteError(f"signature of {name} fails")
        verified.append((v, raw[4:]))
    if not verified:
        raise NoteError("no signature by a known key")
    return text, verified


# ---- checkpoints (§7.3; C2SP tlog-checkpoint) ---------------------------------

def parse_decimal(s, limit):
    if not re.fullmatch(r"0|[1-9][0-9]*", s) or int(s) > limit:
        raise NoteError(f"bad decimal {s!r}")
    return int(s)


def parse_checkpoint(text):
    """Returns (origin, size, root bytes, [extension lines])."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint ends in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("control character")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("fewer than three lines")
    if any(not l for l in lines):
        raise NoteError("empty line")
    origin, size, root = lines[0], parse_decimal(lines[1], 2**64 - 1), b64decode_strict(lines[2])
    if len(root) != 32:
        raise NoteError("root is not 32 bytes")
    return origin, size, root, lines[3:]


def checkpoint_time(extensions):
    """The value of the `time N` extension line, or None."""
    for l in extensions:
        if l.startswith("time "):
            return parse_decimal(l[5:], 2**64 - 1)
    return None


# ---- the run ------------------------------------------------------------------

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        if failed <= 40:
            print(f"FAIL {name} {detail}".rstrip())


def refused(fn, *args):
    try:
        fn(*args)
    except NoteError:
        return True
    return False


def hx(h):
    return h.hex()


def b64(b):
    return base64.b64encode(b).decode("ascii")


def flip_bit(b, i):
    a = bytearray(b)
    a[i % len(a)] ^= 1 << (i % 8)
    return bytes(a)


SINCE = [0, 0]  # the counts at the end of the last section printed


def section(title):
    if [passed, failed] != SINCE:
        print(f"{title}: {passed - SINCE[0]} passed, {failed - SINCE[1]} failed")
    SINCE[:] = [passed, failed]


def check_ed25519():
    for i, (seed, pub, msg, sig) in enumerate(RFC8032_TESTS, 1):
        seed, pub, msg, sig = (bytes.fromhex(x) for x in (seed, pub, msg, sig))
        check(f"RFC 8032 test {i} public key", ed25519_public(seed) == pub)
        check(f"RFC 8032 test {i} signature", ed25519_sign(seed, msg) == sig)
        check(f"RFC 8032 test {i} verifies", ed25519_verify(pub, msg, sig))
        check(f"RFC 8032 test {i} other message refused", not ed25519_verify(pub, msg + b"x", sig))
        check(f"RFC 8032 test {i} flipped R refused", not ed25519_verify(pub, msg, flip_bit(sig, 3)))
        check(f"RFC 8032 test {i} flipped S refused", not ed25519_verify(pub, msg, flip_bit(sig, 40)))
        s = int.from_bytes(sig[32:], "little") + L  # S + L: same point, refused (S < L)
        check(f"RFC 8032 test {i} S+L refused", s >= 2**256 or not ed25519_verify(pub, msg, sig[:32] + s.to_bytes(32, "little")))


def check_doc_vectors(path, doc_path):
    v = json.loads(path.read_text(encoding="utf-8"))
    doc = doc_path.read_text(encoding="utf-8")
    flat = re.sub(r"\s+", "", doc)

    def stated(what, value):
        check(f"docs/chain-spec.md §7 states {what}", value in doc or value in flat, value)

    check("log.json spec", v["spec"] == LEAF_TAG)
    check("empty root", hx(sha256(b"")) == v["empty_root"])

    one = v["leaf"]
    link = sha256(one["link_input"].encode())
    check("worked leaf link hash", hx(link) == one["link_hash"])
    leaf = leaf_bytes(one["org_id"], one["agent_id"], one["seq"], link)
    check("worked leaf bytes", hx(leaf) == one["leaf"], f"\n  got  {hx(leaf)}\n  want {one['leaf']}")
    check("worked leaf hash", hx(leaf_hash(leaf)) == one["leaf_hash"])
    stated("the leaf bytes", hx(leaf))
    stated("the leaf hash", hx(leaf_hash(leaf)))

    t = v["tree"]
    hashes = []
    for l in t["leaves"]:
        link = sha256(l["link_input"].encode())
        check(f"tree seq {l['seq']} link hash", hx(link) == l["link_hash"])
        h = leaf_hash(leaf_bytes(t["org_id"], t["agent_id"], l["seq"], link))
        check(f"tree seq {l['seq']} leaf hash", hx(h) == l["leaf_hash"])
        hashes.append(h)
        root = Tree(hashes).root(len(hashes))
        check(f"tree seq {l['seq']} root", hx(root) == l["root"])
        stated(f"leaf hash {l['seq']}", hx(h))
        stated(f"root after seq {l['seq']}", hx(root))
    tree = Tree(hashes)
    check_stored(tree, len(hashes), [bytes.fromhex(x) for x in t["stored"]], "worked tree")
    for p in t["inclusion"]:
        proof = [bytes.fromhex(x) for x in p["proof"]]
        where = f"worked inclusion {p['index']} in {p['size']}"
        check(where + " = PATH", proof == tree.path(p["index"], 0, p["size"]))
        check(where + " verifies", verify_inclusion(p["index"], p["size"], hashes[p["index"]], proof, tree.root(p["size"])))
    for p in t["consistency"]:
        proof = [bytes.fromhex(x) for x in p["proof"]]
        where = f"worked consistency {p['old']} -> {p['size']}"
        check(where + " = PROOF", proof == tree.proof(p["old"], p["size"]))
        check(where + " verifies", verify_consistency(p["old"], p["size"], tree.root(p["old"]), tree.root(p["size"]), proof))

    lk = v["log_key"]
    s = Signer(lk["skey"])
    check("log key from its seed", s.seed == bytes.fromhex(lk["seed"]) and s.name == lk["name"])
    check("log vkey from its skey", s.verifier_text() == lk["vkey"])
    stated("the log vkey", lk["vkey"])
    lv = Verifier(lk["vkey"])

    c = v["checkpoint"]
    text = f"{c['origin']}\n{c['size']}\n{c['root']}\ntime {c['time']}\n"
    check("checkpoint text", text == c["text"])
    check("checkpoint root is the tree's", b64decode_strict(c["root"]) == tree.root(c["size"]))
    check("checkpoint parses", parse_checkpoint(text) == (c["origin"], c["size"], tree.root(c["size"]), [f"time {c['time']}"]))
    check("checkpoint note signed here", s.sign_note(text) == c["note"])
    body, sigs = open_note(c["note"], [lv])
    check("checkpoint note opens", body == text and len(sigs) == 1)
    stated("the checkpoint note", c["note"])

    w = v["witness"]
    ws = Signer(w["skey"])
    check("witness key from its seed", ws.seed == bytes.fromhex(w["seed"]) and ws.name == w["name"])
    check("witness vkey from its skey", ws.verifier_text() == w["vkey"] and ws.alg == ALG_COSIGNATURE_V1)
    stated("the witness vkey", w["vkey"])
    msg = cosigned_message(text, w["timestamp"])
    check("cosigned message", msg.decode() == w["message"])
    stated("the cosigned message", w["message"])
    line = "\u2014 {} {}\n".format(ws.name, b64(struct.pack(">IQ", ws.id, w["timestamp"]) + ed25519_sign(ws.seed, msg)))
    check("cosignature line signed here", line == w["line"])
    stated("the cosignature line", w["line"].rstrip("\n"))
    wv = Verifier(w["vkey"])
    body, sigs = open_note(w["note"], [lv, wv])
    check("cosigned note opens with both keys", body == text and len(sigs) == 2 and wv.last_timestamp == w["timestamp"])
    check("cosigned note opens with the witness key alone", len(open_note(w["note"], [wv])[1]) == 1)


def check_stored(tree, n, stored, where):
    """§7.2: every complete subtree's hash sits at stored_hash_index(level, i)."""
    want = []
    for level in range(n.bit_length()):
        for i in range(n >> level):
            want.append((stored_hash_index(level, i), tree.mth(i << level, (i + 1) << level)))
    want.sort()
    ok = [i for i, _ in want] == list(range(len(stored))) and all(stored[i] == h for i, h in want)
    check(f"{where}: {len(stored)} stored hashes at their indexes", ok)


def check_probes(path):
    data = json.loads(path.read_text(encoding="utf-8"))

    def raw(s):
        return base64.b64decode(s) if s is not None else b""

    for p in data["inclusion"]:
        proof = [raw(x) for x in p["proof"] or []]
        ok = verify_inclusion(p["leafIdx"], p["treeSize"], raw(p["leafHash"]), proof, raw(p["root"]))
        check(f"probe {p['file']}", ok != p["wantErr"], f"({p['desc']}: verified={ok})")
    for p in data["consistency"]:
        proof = [raw(x) for x in p["proof"] or []]
        ok = verify_consistency(p["size1"], p["size2"], raw(p["root1"]), raw(p["root2"]), proof)
        check(f"probe {p['file']}", ok != p["wantErr"], f"({p['desc']}: verified={ok})")


def check_cases(path):
    c = json.loads(path.read_text(encoding="utf-8"))

    for k in c["keys"]:
        s, v = Signer(k["skey"]), Verifier(k["vkey"])
        check(f"key {v.name}", s.verifier_text() == k["vkey"] and (s.name, s.id, s.public) == (v.name, v.id, v.public))
    for sc in c["sign"]:
        check("note signed here equals", Signer(sc["skey"]).sign_note(sc["text"]) == sc["msg"], repr(sc["msg"]))
    for i, n in enumerate(c["notes"]):
        vs = [Verifier(k) for k in n["vkeys"]]
        try:
            text, sigs = open_note(n["msg"], vs)
            ok, detail = n["valid"] and text == n["text"] and len(sigs) == n["sigs"], f"{len(sigs)} signatures"
        except NoteError as e:
            ok, detail = not n["valid"], str(e)
        check(f"note {i} (valid={n['valid']})", ok, detail)
    section("cases: keys, signing, notes")

    for ti, t in enumerate(c["trees"]):
        leaves = [base64.b64decode(x) for x in t["leaves"]]
        for i, (leaf, f) in enumerate(zip(leaves, t["leaf_fields"])):
            check(f"tree {ti} leaf {i} bytes", leaf == leaf_bytes(f["org_id"], f["agent_id"], f["seq"], bytes.fromhex(f["link_hash"])))
        check(f"tree {ti} leaf count", len(leaves) == len(t["leaf_fields"]) == len(t["roots"]))
        tree = Tree([leaf_hash(l) for l in leaves])
        for s, r in enumerate(t["roots"], 1):
            check(f"tree {ti} root {s}", tree.root(s) == base64.b64decode(r))
        check_stored(tree, len(leaves), [base64.b64decode(x) for x in t["stored"]], f"tree {ti}")
        for p in t["inclusion"]:
            proof = [base64.b64decode(x) for x in p["proof"]]
            s, i = p["size"], p["index"]
            ok = verify_inclusion(i, s, tree.h[i], proof, tree.root(s))
            check(f"tree {ti} inclusion {i} in {s} (valid={p['valid']})", ok == p["valid"])
            if p["valid"]:
                check(f"tree {ti} inclusion {i} in {s} = PATH", proof == tree.path(i, 0, s))
                # Not for another leaf, index or size.
                check(f"tree {ti} inclusion {i} in {s}: other leaf refused",
                      s == 1 or not verify_inclusion(i, s, tree.h[(i + 1) % s], proof, tree.root(s)))
                check(f"tree {ti} inclusion {i} in {s}: index out of range refused",
                      not verify_inclusion(s, s, tree.h[i], proof, tree.root(s)))
                check(f"tree {ti} inclusion {i} in {s}: extra hash refused",
                      not verify_inclusion(i, s, tree.h[i], proof + [tree.h[0]], tree.root(s)))
        for p in t["consistency"]:
            proof = [base64.b64decode(x) for x in p["proof"]]
            s, m = p["size"], p["old"]
            ok = verify_consistency(m, s, tree.root(m), tree.root(s), proof)
            check(f"tree {ti} consistency {m} -> {s} (valid={p['valid']})", ok == p["valid"])
            if p["valid"]:
                check(f"tree {ti} consistency {m} -> {s} = PROOF", proof == tree.proof(m, s))
                check(f"tree {ti} consistency {m} -> {s}: other old root refused",
                      not verify_consistency(m, s, flip_bit(tree.root(m), m), tree.root(s), proof))
                if proof:
                    check(f"tree {ti} consistency {m} -> {s}: truncated proof refused",
                          not verify_consistency(m, s, tree.root(m), tree.root(s), proof[:-1]))
        section(f"cases: tree {ti} ({len(leaves)} leaves, {len(t['inclusion'])} inclusion, "
                f"{len(t['consistency'])} consistency proofs)")

    for i, cp in enumerate(c["checkpoints"]):
        lv = Verifier(cp["log_vkey"])
        wvs = [Verifier(k) for k in cp["witness_vkeys"]]
        check(f"checkpoint {i} key types", lv.alg == ALG_ED25519 and all(w.alg == ALG_COSIGNATURE_V1 for w in wvs))
        try:
            text, sigs = open_note(cp["note"], [lv] + wvs)
        except NoteError as e:
            check(f"checkpoint {i} opens", False, str(e))
            continue
        check(f"checkpoint {i} signatures", len(sigs) == 1 + len(wvs) and sigs[0][0] is lv and lv.name == cp["origin"])
        origin, size, root, ext = parse_checkpoint(text)
        check(f"checkpoint {i} body", (origin, size, b64(root), checkpoint_time(ext)) ==
              (cp["origin"], cp["size"], cp["root"], cp["time"]))
        for w in wvs:
            check(f"checkpoint {i} cosignature time", w.last_timestamp == cp["time"])
        # tlog_cases.rs grows this tree with leaves u64be(0), u64be(1), ...
        grown = Tree([leaf_hash(struct.pack(">Q", j)) for j in range(size)])
        check(f"checkpoint {i} root is the tree of leaves u64be(0..{size})", root == grown.root(size))
        # Mutations: every signature line with one bit flipped, and a changed body.
        lines = cp["note"].split("\n")
        for j, line in enumerate(lines):
            if line.startswith("\u2014 "):
                name, sig = line[2:].split(" ")
                raw = base64.b64decode(sig)
                for bit in (40, 8 * (len(raw) - 1)):
                    bad = "\n".join(lines[:j] + [f"\u2014 {name} {b64(flip_bit(raw, bit))}"] + lines[j + 1:])
                    check(f"checkpoint {i} line {j} bit {bit} flipped refused", refused(open_note, bad, [lv] + wvs))
        bad = cp["note"].replace(f"\n{cp['size']}\n", f"\n{cp['size'] + 1}\n", 1)
        check(f"checkpoint {i} other size refused", refused(open_note, bad, [lv] + wvs))
        check(f"checkpoint {i} witnesses alone accept", len(open_note(cp["note"], wvs)[1]) == len(wvs))
    for i, cs in enumerate(c["cosignatures"]):
        v = Verifier(cs["vkey"])
        try:
            open_note(cs["text"] + "\n" + cs["line"], [v])
            ok, detail = cs["valid"] and v.last_timestamp == cs["timestamp"], f"time {v.last_timestamp}"
        except NoteError as e:
            ok, detail = not cs["valid"], str(e)
        check(f"cosignature {i} (valid={cs['valid']})", ok, detail)
    section("cases: checkpoints, cosignatures")


def check_own_mutations():
    """Notes, keys and checkpoints the spec refuses, made here from a fixed key."""
    s = Signer("PRIVATE+KEY+example.com/log+{:08x}+{}".format(
        key_id("example.com/log", 1, ed25519_public(bytes(range(32)))), b64(b"\x01" + bytes(range(32)))))
    v = Verifier(s.verifier_text())
    other = Signer("PRIVATE+KEY+example.com/other+{:08x}+{}".format(
        key_id("example.com/other", 1, ed25519_public(bytes(32))), b64(b"\x01" + bytes(32))))
    root = b64(sha256(b"root"))
    text = f"example.com/log\n5\n{root}\ntime 1733150000\nother extension\n"
    note = s.sign_note(text)
    check("own: note opens", open_note(note, [v])[0] == text)
    check("own: extension lines kept", parse_checkpoint(text)[3] == ["time 1733150000", "other extension"])
    two = note + other.sign_note(text).split("\n\n")[1]
    check("own: unknown second signature ignored", len(open_note(two, [v])[1]) == 1)
    sig_b64 = note.rstrip("\n").split(" ")[-1]
    bad_sig = note.replace(sig_b64, b64(flip_bit(base64.b64decode(sig_b64), 100)))
    for what, msg in [
        ("no final newline", note[:-1]),
        ("no blank line", note.replace("\n\n", "\n")),
        ("no signature", text + "\n"),
        ("control character", note.replace("example.com/log\n5", "example.com/log\t\n5", 1)),
        ("hyphen for em dash", note.replace("\u2014", "-")),
        ("signature changed", bad_sig),
        ("text changed", note.replace("time 1733150000", "time 1733150001")),
        ("unknown key only", other.sign_note(text)),
        ("same name, other key ID", note.replace(sig_b64, b64(b"\0\0\0\0" + base64.b64decode(sig_b64)[4:]))),
    ]:
        check(f"own: note refused: {what}", refused(open_note, msg, [v]))
    # Known key with a failing signature refuses the note even beside a good one.
    good_other = other.sign_note(text).split("\n\n")[1]
    check("own: a known key's bad signature refuses", refused(open_note, bad_sig + good_other,
                                                            [v, Verifier(other.verifier_text())]))
    for what, t in [
        ("two lines", f"example.com/log\n5\n"),
        ("empty line", f"example.com/log\n5\n{root}\n\ntime 1\n"),
        ("no final newline", f"example.com/log\n5\n{root}"),
        ("sign", f"example.com/log\n+5\n{root}\n"),
        ("negative", f"example.com/log\n-5\n{root}\n"),
        ("leading zero", f"example.com/log\n05\n{root}\n"),
        ("2^64", f"example.com/log\n{2**64}\n{root}\n"),
        ("root of 31 bytes", f"example.com/log\n5\n{b64(bytes(31))}\n"),
        ("root without padding", f"example.com/log\n5\n{root.rstrip('=')}\n"),
        ("non-canonical root", f"example.com/log\n5\n{'A' * 42}B=\n"),  # nonzero padding bits
        ("url-safe base64", f"example.com/log\n5\n{b64(bytes([0xfb] * 32)).replace('+', '-').replace('/', '_')}\n"),
        ("control character", f"example.com/log\n5\n{root}\ntime\t1\n"),
    ]:
        check(f"own: checkpoint refused: {what}", refused(parse_checkpoint, t), repr(t))
    check("own: checkpoint size 2^64-1", parse_checkpoint(f"o\n{2**64 - 1}\n{root}\n")[1] == 2**64 - 1)
    check("own: checkpoint size 0", parse_checkpoint(f"o\n0\n{root}\n")[1] == 0)
    vk = s.verifier_text()
    name, kid, blob = vk.split("+", 2)
    for what, t in [
        ("key ID", f"{name}+{(int(kid, 16) ^ 1):08x}+{blob}"),
        ("not hex", f"{name}+{kid[:7]}g+{blob}"),
        ("seven hex digits", f"{name}+{kid[1:]}+{blob}"),
        ("type 0x02", f"{name}+{kid}+{b64(bytes([2]) + base64.b64decode(blob)[1:])}"),
        ("short key", f"{name}+{kid}+{b64(base64.b64decode(blob)[:32])}"),
        ("space in name", f"example.com/ log+{kid}+{blob}"),
        ("four fields", f"{name}+{kid}+{blob}+x"),
    ]:
        check(f"own: verifier key refused: {what}", refused(Verifier, t), t)
    # Cosignatures: timestamp above 2^63-1, and a type 0x04 key used as 0x01.
    wseed = bytes([9] * 32)
    wpub = ed25519_public(wseed)
    wname = "witness.example.com/own"
    wv = Verifier(f"{wname}+{key_id(wname, 4, wpub):08x}+{b64(bytes([4]) + wpub)}")
    for t, ok in [(0, True), (1, True), (MAX_TIMESTAMP, True), (MAX_TIMESTAMP + 1, False), (2**64 - 1, False)]:
        sig = struct.pack(">IQ", wv.id, t) + ed25519_sign(wseed, cosigned_message(text, t))
        cos = f"\u2014 {wname} {b64(sig)}\n"
        check(f"own: cosignature at {t} {'accepted' if ok else 'refused'}",
              refused(open_note, note + cos, [wv]) != ok)
    sig = struct.pack(">I", wv.id) + ed25519_sign(wseed, text.encode())
    check("own: a plain signature under a cosignature key refused",
          refused(open_note, note + f"\u2014 {wname} {b64(sig)}\n", [wv]))
    wrong_id = key_id(wname, 1, wpub)
    sig = struct.pack(">IQ", wrong_id, 5) + ed25519_sign(wseed, cosigned_message(text, 5))
    check("own: cosignature under a type 0x01 key ID ignored",
          refused(open_note, note + f"\u2014 {wname} {b64(sig)}\n", [wv]))


def main():
    args = sys.argv[1:]
    if len(args) > 1 or args and args[0].startswith("-"):
        print(__doc__)
        return 2
    cases = Path(args[0]) if args else Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "tlog-cases.json"
    def run(title, fn, *args):
        try:
            fn(*args)
        except Exception:  # a malformed input or a bug: one failure, go on
            traceback.print_exc()
            check(f"{title}: ran to the end", False)
        section(title)

    run("Ed25519, RFC 8032 §7.1", check_ed25519)
    run("tests/vectors/log.json and docs/chain-spec.md §7", check_doc_vectors,
        ROOT / "tests" / "vectors" / "log.json", ROOT / "docs" / "chain-spec.md")
    run("transparency-dev/merkle probes", check_probes, ROOT / "core" / "tests" / "data" / "tlog_merkle_probes.json")
    run("notes, keys, checkpoints, cosignatures the spec refuses", check_own_mutations)
    if cases.exists():
        run(f"cases ({cases})", check_cases, cases)
    elif args:
        check(f"cases file {cases}", False, "not found")
    else:
        print(f"cases: skipped ({cases} not found; make it with the tlog_cases example)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
