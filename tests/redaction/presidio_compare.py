#!/usr/bin/env python3
"""sealtrail's redactor next to Presidio's pattern recognizers, on the same data.

Installs nothing: run it with a Python that has `presidio-analyzer` (see
scripts/bench-redact.sh, which makes such a venv under target/). Presidio's
recognizers are called directly, without an NLP engine, so no spaCy model is
needed. sealtrail's side runs the Rust example `redact_corpus` (release build),
so no redaction logic lives here: this script only scores both tools' findings.

    python tests/redaction/presidio_compare.py [--quick] [--bin PATH]

Prints per-type recall on the labelled corpus (tests/redaction/corpus.jsonl,
or corpus_quick.jsonl with --quick), the share of hard negatives each tool
touches, and MB/s on the corpus and on a generated mixed agent log with
about one PII item per 200 bytes and with none.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPES = ["email", "phone", "card", "ssn", "iban", "ip", "secret"]
PRESIDIO_TYPE = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "card", "US_SSN": "ssn",
                 "IBAN_CODE": "iban", "IP_ADDRESS": "ip"}


def sealtrail(bin_path, *args):
    if bin_path:
        cmd = [bin_path, *args]
    else:
        cmd = ["cargo", "run", "-q", "--release", "-p", "sealtrail-core", "--example", "redact_corpus", "--", *args]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def presidio_recognizers():
    # Presidio's email recognizer asks tldextract for the public suffix list,
    # which it would download; use the snapshot the package ships instead.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer,
                                                              IpRecognizer, PhoneRecognizer, UsSsnRecognizer)
    except ImportError as e:  # pragma: no cover - environment problem
        sys.exit(f"presidio-analyzer is not importable ({e}); run scripts/bench-redact.sh or pip install presidio-analyzer")
    regions = ("US", "CA", "GB", "DE", "FR", "IN", "JP", "BR", "CN", "AU", "ES", "IT", "MX", "IE")
    return {
        "email": EmailRecognizer(),
        "phone": PhoneRecognizer(supported_regions=regions),
        "card": CreditCardRecognizer(),
        "ssn": UsSsnRecognizer(),
        "iban": IbanRecognizer(),
        "ip": IpRecognizer(),
    }


def presidio_find(recs, text, with_ip):
    found = []
    for ty, rec in recs.items():
        if ty == "ip" and not with_ip:
            continue  # sealtrail's default: IP redaction off
        for r in rec.analyze(text, rec.supported_entities, None):
            if r.score > 0:
                found.append({"start": r.start, "end": r.end, "type": PRESIDIO_TYPE.get(r.entity_type, r.entity_type)})
    return found


def score(items, found_by_id):
    stats = {t: {"items": 0, "hit": 0} for t in TYPES}
    neg = touched = 0
    for it in items:
        found = found_by_id[it["id"]]
        if it["type"] == "negative":
            neg += 1
            touched += bool(found)
            continue
        vs = it["text"].index(it["value"])
        ve = vs + len(it["value"])
        s = stats[it["type"]]
        s["items"] += 1
        s["hit"] += any(f["type"] == it["type"] and f["start"] <= vs and f["end"] >= ve for f in found)
    return stats, neg, touched


def chunks(text):
    """Whole lines, at most ~4 KiB: the same unit the Rust `speed` command uses."""
    out, cur, size = [], [], 0
    for line in text.splitlines(keepends=True):
        if size + len(line.encode()) > 4096 and cur:
            out.append("".join(cur))
            cur, size = [], 0
        cur.append(line)
        size += len(line.encode())
    if cur:
        out.append("".join(cur))
    return out


def presidio_speed(recs, texts, min_seconds=1.0):
    """(MB/s by wall clock, MB/s by CPU time)."""
    nbytes = sum(len(t.encode()) for t in texts)
    start, cpu0, rounds = time.perf_counter(), time.process_time(), 0
    while rounds == 0 or time.perf_counter() - start < min_seconds:
        for t in texts:
            presidio_find(recs, t, with_ip=False)
        rounds += 1
    total = nbytes * rounds / 1e6
    return total / (time.perf_counter() - start), total / max(time.process_time() - cpu0, 1e-9)


def fmt_speed(mbs):
    return f"{mbs:.1f}" if mbs >= 10 else f"{mbs:.3f}"


def pair(wall, cpu):
    """`wall / on-CPU`: on a shared machine the CPU-time figure is the tool's own speed."""
    return f"{fmt_speed(wall)} / {fmt_speed(cpu)}" if cpu is not None else fmt_speed(wall)



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small corpus and logs (CI)")
    ap.add_argument("--bin", help="prebuilt redact_corpus binary (default: cargo run --release)")
    args = ap.parse_args()

    corpus = ROOT / "tests/redaction" / ("corpus_quick.jsonl" if args.quick else "corpus.jsonl")
    items = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    recs = presidio_recognizers()

    st = sealtrail(args.bin, "eval", str(corpus))
    st_found = {r["id"]: r["found"] for r in st["items"]}
    t0, c0 = time.perf_counter(), time.process_time()
    pr_found = {it["id"]: presidio_find(recs, it["text"], with_ip=it["type"] == "ip") for it in items}
    pr_secs, pr_cpu = time.perf_counter() - t0, time.process_time() - c0
    corpus_bytes = sum(len(it["text"].encode()) for it in items)

    st_stats, neg, st_touched = score(items, st_found)
    pr_stats, _, pr_touched = score(items, pr_found)

    print(f"corpus: {corpus.relative_to(ROOT)} ({len(items)} items, {neg} hard negatives)\n")
    print(f"{'type':<8} {'items':>6} {'sealtrail':>10} {'presidio':>10}   (recall)")
    for t in TYPES:
        s, p = st_stats[t], pr_stats[t]
        if not s["items"]:
            continue
        pr = "n/a" if t == "secret" else f"{p['hit'] / s['items']:.4f}"
        print(f"{t:<8} {s['items']:>6} {s['hit'] / s['items']:>10.4f} {pr:>10}")
    print(f"{'negatives touched':<15} {st_touched / neg:>10.2%} {pr_touched / neg:>10.2%}   (of {neg}, lower is better)")

    logs_dir = ROOT / "target/redact-bench"
    kib = 256 if args.quick else 2048
    sealtrail(args.bin, "logs", str(logs_dir), "--kib", str(kib))
    no_phone = {k: v for k, v in recs.items() if k != "phone"}
    mb = corpus_bytes / 1e6
    print(f"\nthroughput, MB/s on one core, as wall-clock / on-CPU (load average now {os.getloadavg()[0]:.1f})")
    print(f"{'':<26} {'sealtrail':>17} {'presidio':>17} {'presidio w/o phone':>19}")
    print(f"{'labelled corpus, per item':<26} {pair(st['mb_per_s'], st.get('mb_per_s_on_cpu')):>17} "
          f"{pair(mb / pr_secs, mb / pr_cpu):>17}")
    for name, label in [("logs_pii.txt", "agent log, 1 PII / 200 B"), ("logs_clean.txt", "agent log, no PII")]:
        path = logs_dir / name
        r = sealtrail(args.bin, "speed", str(path))
        texts = chunks(path.read_text(encoding="utf-8"))
        budget = 0.5 if args.quick else 2.0
        pr = presidio_speed(recs, texts, budget)
        pr_np = presidio_speed(no_phone, texts, budget)
        print(f"{label:<26} {pair(r['mb_per_s'], r.get('mb_per_s_on_cpu')):>17} {pair(*pr):>17} {pair(*pr_np):>19}")
    print("\n(Presidio: pattern recognizers only, no NLP model; it has no recognizers for the secret types.)")


if __name__ == "__main__":
    main()
