#!/usr/bin/env python3
"""Generates the labelled redaction corpus, deterministically.

    python3 tests/redaction/gen_corpus.py            # writes corpus.jsonl and corpus_quick.jsonl
    python3 tests/redaction/gen_corpus.py --check    # fails if the committed files differ

Each line: {"id", "type", "country", "text", "value"}. `type` is one of email,
phone, card, ssn, iban, ip, secret, or "negative" (a hard negative: nothing in
`text` may be touched; `value` is empty). For positives `value` is the exact
substring of `text` that must be redacted (whole). Every number is valid where
the type has a checksum (Luhn + issuer range, SSN rules, IBAN mod-97), so the
corpus measures detection, not generation mistakes.
"""
import json
import random
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
rng = random.Random(20261123)


def digits(n):
    return "".join(rng.choice(string.digits) for _ in range(n))


def pick(xs):
    return rng.choice(xs)


# ---------------------------------------------------------------- email
FIRST = ["john", "jane", "maria", "hans", "pierre", "yuki", "aarav", "joao", "li", "olga", "sam", "fatima"]
LAST = ["doe", "smith", "mueller", "dupont", "tanaka", "sharma", "silva", "wang", "ivanova", "o'neil", "garcia"]
DOMAINS = [
    ("US", "example.com"), ("US", "mail.example.org"), ("UK", "example.co.uk"), ("UK", "nhs.example.uk"),
    ("DE", "beispiel.de"), ("DE", "münchen.de"), ("FR", "exemple.fr"), ("FR", "orange.example.fr"),
    ("JP", "example.co.jp"), ("JP", "例え.jp"), ("IN", "example.in"), ("IN", "mail.example.co.in"),
    ("BR", "exemplo.com.br"), ("BR", "empresa.example.br"), ("CN", "example.cn"), ("XX", "xn--bcher-kva.example"),
    ("XX", "sub.dept.example.io"), ("XX", "startup.dev"),
]


def local_part():
    f, l = pick(FIRST), pick(LAST).replace("'", "")
    return pick([
        f"{f}.{l}", f"{f}", f"{f}+{pick(['news', 'billing', 'x1'])}", f"{f}_{l}{rng.randint(1, 99)}",
        f"{f[0]}.{l}", f"{f}.{l}-{rng.randint(1, 9)}", f"{l}{rng.randint(1970, 2005)}", f"{f.upper()}.{l.upper()}",
    ])


EMAIL_CTX = [
    ("XX", "Please contact {} for details."),
    ("XX", "From: {}"),
    ("XX", "to:{}"),
    ("XX", '{{"email":"{}","role":"admin"}}'),
    ("XX", "<a href=\"mailto:{}\">mail</a>"),
    ("XX", "GET /api/users?user={}&page=2 HTTP/1.1"),
    ("XX", "Reply-To: \"Support\" <{}>"),
    ("JP", "山田さんのメールは{}です"),
    ("CN", "请发邮件到{}谢谢"),
    ("DE", "Bitte schreiben Sie an {}."),
    ("FR", "Écrivez-nous à {} !"),
    ("BR", "Envie para {}, obrigado"),
    ("XX", "user={} status=active"),
    ("XX", "cc: {}; bcc: none"),
]


def gen_email(i):
    country, dom = pick(DOMAINS)
    v = f"{local_part()}@{dom}"
    ctx_country, ctx = pick(EMAIL_CTX)
    if i % 9 == 0:
        v = v.replace("@", "%40")
        ctx = "GET /unsubscribe?email={}&lang=en HTTP/1.1"
    return country if country != "XX" else ctx_country, ctx.format(v), v


# ---------------------------------------------------------------- phone
def nanp():
    while True:
        a = f"{rng.randint(2, 9)}{digits(2)}"
        if a[1:] != "11":
            return a, f"{rng.randint(2, 9)}{digits(2)}", digits(4)


def phone_us():
    a, e, s = nanp()
    return "US", pick([
        f"+1 ({a}) {e}-{s}", f"({a}) {e}-{s}", f"{a}-{e}-{s}", f"{a}.{e}.{s}", f"+1 {a} {e} {s}",
        f"+1{a}{e}{s}", f"1-{a}-{e}-{s}", f"{a} {e} {s}", f"+1-{a}-{e}-{s}", f"({a}) {e}-{s} ext. {rng.randint(10, 999)}",
        f"{a}-{e}-{s} x{rng.randint(10, 9999)}",
    ])


def phone_ca():
    a = pick(["416", "604", "514", "403", "613"])
    e, s = f"{rng.randint(2, 9)}{digits(2)}", digits(4)
    return "CA", pick([f"+1 {a}-{e}-{s}", f"({a}) {e}-{s}", f"{a}.{e}.{s}"])


def phone_uk():
    return "UK", pick([
        f"+44 20 {rng.randint(7000, 8999)} {digits(4)}", f"020 {rng.randint(7000, 8999)} {digits(4)}",
        f"+44 7{digits(3)} {digits(6)}", f"07{digits(3)} {digits(6)}", f"+44 (0)161 {digits(3)} {digits(4)}",
        f"0161 {digits(3)} {digits(4)}", f"01632 {digits(6)}", f"+447{digits(9)}", f"+44 113 {digits(3)} {digits(4)}",
        f"0044 20 {rng.randint(7000, 8999)} {digits(4)}",
    ])


def phone_de():
    return "DE", pick([
        f"+49 30 {digits(8)}", f"030 {digits(8)}", f"+49 151 {digits(8)}", f"0151 {digits(8)}",
        f"089/{digits(7)}", f"+49 (0)89 {digits(7)}", f"06221 {digits(6)}", f"+49-40-{digits(7)}", f"0171-{digits(7)}",
    ])


def phone_fr():
    p = lambda: digits(2)  # noqa: E731
    d = rng.randint(1, 7)
    return "FR", pick([
        f"+33 {d} {p()} {p()} {p()} {p()}", f"0{d} {p()} {p()} {p()} {p()}", f"0{d}.{p()}.{p()}.{p()}.{p()}",
        f"+33 6 {p()} {p()} {p()} {p()}", f"0{d}{digits(8)}", f"0{d}-{p()}-{p()}-{p()}-{p()}", f"+33{d}{digits(8)}",
        f"+33 (0)6 {p()} {p()} {p()} {p()}", f"0033 {d} {p()} {p()} {p()} {p()}",
    ])


def phone_in():
    m = f"{rng.randint(6, 9)}{digits(4)}"
    n = digits(5)
    return "IN", pick([
        f"+91 {m} {n}", f"+91-{m}-{n}", f"0{m} {n}", f"{m} {n}", f"{m}{n}", f"+91{m}{n}",
        f"011 {rng.randint(2, 6)}{digits(3)} {digits(4)}", f"+91 22 {rng.randint(2, 6)}{digits(3)} {digits(4)}",
    ])


def phone_jp():
    return "JP", pick([
        f"+81 3-{digits(4)}-{digits(4)}", f"03-{digits(4)}-{digits(4)}", f"090-{digits(4)}-{digits(4)}",
        f"+81 90-{digits(4)}-{digits(4)}", f"0120-{digits(3)}-{digits(3)}", f"06-{rng.randint(6000, 6999)}-{digits(4)}",
        f"080{digits(8)}", f"+81-80-{digits(4)}-{digits(4)}",
    ])


def phone_br():
    a = f"{rng.randint(1, 9)}{rng.randint(1, 9)}"
    return "BR", pick([
        f"+55 {a} 9{digits(4)}-{digits(4)}", f"({a}) 9{digits(4)}-{digits(4)}", f"({a}) {rng.randint(2, 5)}{digits(3)}-{digits(4)}",
        f"+55 ({a}) {rng.randint(2, 5)}{digits(3)}-{digits(4)}", f"{a} 9{digits(4)}-{digits(4)}", f"+55{a}9{digits(8)}",
    ])


def phone_other():
    return pick([
        ("CN", f"+86 13{rng.randint(0, 9)} {digits(4)} {digits(4)}"), ("CN", f"13{rng.randint(0, 9)}{digits(8)}"),
        ("AU", f"+61 2 {digits(4)} {digits(4)}"), ("ES", f"+34 6{digits(2)} {digits(3)} {digits(3)}"),
        ("IT", f"+39 06 {digits(8)}"), ("MX", f"+52 55 {digits(4)} {digits(4)}"), ("IE", f"+353 86 {digits(3)} {digits(4)}"),
    ])


PHONE_GEN = [phone_us, phone_ca, phone_uk, phone_de, phone_fr, phone_in, phone_jp, phone_br, phone_other]
PHONE_CTX = {
    "US": ["Call me at {} tomorrow.", "phone: {}", "Tel {}", '{{"phone":"{}"}}', "cell={}&verified=1"],
    "CA": ["Reach the desk at {}.", "tel:{}"],
    "UK": ["Ring {} after 5pm.", "Mobile: {}", '{{"contact":{{"tel":"{}"}}}}'],
    "DE": ["Telefon: {} (Büro)", "Rufen Sie {} an.", "Tel.:{}"],
    "FR": ["Appelez le {} avant 18h.", "Tél : {}", "portable {}"],
    "IN": ["WhatsApp me on {} please", "Mob: {}", "contact={}"],
    "JP": ["電話は{}です", "お問い合わせ：{}まで", "TEL {}"],
    "BR": ["Ligue para {} hoje.", "Celular: {}", "whats {}"],
    "CN": ["请拨打{}联系", "手机:{}"],
}


def gen_phone(i):
    country, v = PHONE_GEN[i % len(PHONE_GEN)]()
    ctx = pick(PHONE_CTX.get(country, ["Call {} now.", "phone={}"]))
    return country, ctx.format(v), v


# ---------------------------------------------------------------- card
def luhn_complete(prefix, length):
    body = prefix + digits(length - len(prefix) - 1)
    total = 0
    for k, c in enumerate(reversed(body)):
        v = int(c)
        if k % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return body + str((10 - total % 10) % 10)


ISSUERS = [
    ("visa", ["4"], [16, 16, 13, 19]), ("mastercard", ["51", "53", "55", "2221", "2500", "2720"], [16]),
    ("amex", ["34", "37"], [15]), ("discover", ["6011", "644", "65", "622126"], [16, 19]),
    ("jcb", ["3528", "3589"], [16]), ("diners", ["300", "305", "36", "38"], [14]),
    ("unionpay", ["62", "81"], [16, 19]), ("maestro", ["6304", "6759", "5018"], [16, 19]),
    ("mir", ["2200", "2204"], [16]), ("rupay", ["60", "508", "82"], [16]), ("elo", ["509000", "636368", "650031"], [16]),
    ("troy", ["9792"], [16]), ("verve", ["506099", "507865"], [16, 19]),
]
CARD_COUNTRY = {"visa": "US", "mastercard": "UK", "amex": "US", "discover": "US", "jcb": "JP", "diners": "US",
                "unionpay": "CN", "maestro": "DE", "mir": "RU", "rupay": "IN", "elo": "BR", "troy": "TR", "verve": "NG"}
CARD_CTX = ["Paid with card {} exp 12/27.", "card={}&cvv=***", '{{"card":"{}","amount":"12.50"}}', "Karte {} belastet",
            "carte bancaire {} refusée", "カード番号{}で決済", "cartão {} aprovado", "pan:{}", "charge {} ok"]


def fmt_card(n):
    if len(n) == 15 and n[:2] in ("34", "37"):
        return pick([n, f"{n[:4]} {n[4:10]} {n[10:]}", f"{n[:4]}-{n[4:10]}-{n[10:]}"])
    groups = [n[k:k + 4] for k in range(0, len(n), 4)]
    if len(n) == 14:
        groups = [n[:4], n[4:10], n[10:]]
    return pick([n, " ".join(groups), "-".join(groups)])


def gen_card(i):
    name, prefixes, lens = ISSUERS[i % len(ISSUERS)]
    v = fmt_card(luhn_complete(pick(prefixes), pick(lens)))
    return CARD_COUNTRY[name], pick(CARD_CTX).format(v), v


# ---------------------------------------------------------------- ssn
def gen_ssn(i):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    g, s = rng.randint(1, 99), rng.randint(1, 9999)
    a, g, s = f"{area:03d}", f"{g:02d}", f"{s:04d}"
    v, ctx = pick([
        (f"{a}-{g}-{s}", "SSN {} on file."), (f"{a}-{g}-{s}", "applicant ssn={}"), (f"{a} {g} {s}", "Social Security No. {}"),
        (f"{a}{g}{s}", "SSN: {}"), (f"{a}{g}{s}", "social security number {}"), (f"{a}-{g}-{s}", "verify {} with the IRS"),
    ])
    return "US", ctx.format(v), v


# ---------------------------------------------------------------- iban
def mod97(s):
    r = 0
    for c in s:
        r = (r * 10 + int(c)) % 97 if c.isdigit() else (r * 100 + (ord(c) - 55)) % 97
    return r


IBAN_BBAN = {
    "DE": lambda: digits(18), "GB": lambda: pick(["WEST", "NWBK", "BARC"]) + digits(14), "FR": lambda: digits(23),
    "ES": lambda: digits(20), "IT": lambda: pick(string.ascii_uppercase) + digits(22), "NL": lambda: pick(["ABNA", "INGB"]) + digits(10),
    "BE": lambda: digits(12), "CH": lambda: digits(17), "PL": lambda: digits(24),
    "BR": lambda: digits(23) + "C" + "1", "PT": lambda: digits(21), "AT": lambda: digits(16),
}


def gen_iban(i):
    cc = list(IBAN_BBAN)[i % len(IBAN_BBAN)]
    bban = IBAN_BBAN[cc]()
    check = 98 - mod97(bban + cc + "00")
    iban = f"{cc}{check:02d}{bban}"
    v = pick([iban, " ".join(iban[k:k + 4] for k in range(0, len(iban), 4))])
    ctx = pick(["IBAN: {}", "Überweisung an {} bis Freitag", "virement vers {} effectué", "iban={}&bic=DEUTDEFF",
                '{{"iban":"{}"}}', "Bank account {} (primary)"])
    return cc, ctx.format(v), v


# ---------------------------------------------------------------- ip (evaluated with IP redaction on)
def gen_ip(i):
    if i % 3 == 0:
        v = pick([f"2001:db8::{rng.randint(1, 9999):x}", f"fe80::{digits(3)}:{rng.randint(4096, 65535):x}:{digits(4)}:{rng.randint(4096, 65535):x}",
                  f"2001:0db8:85a3:0000:0000:8a2e:0370:{rng.randint(4096, 65535):x}"])
    else:
        v = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    ctx = pick(["client {} connected", "X-Forwarded-For: {}", "ip={}&port=443", "from [{}]:22", '{{"remote_addr":"{}"}}'])
    return "XX", ctx.format(v), v


# ---------------------------------------------------------------- secrets
def rs(n, alphabet=string.ascii_letters + string.digits):
    return "".join(rng.choice(alphabet) for _ in range(n))


def gen_secret(i):
    up = string.ascii_uppercase + string.digits
    b64u = string.ascii_letters + string.digits + "_-"
    kinds = [
        lambda: (f"AKIA{rs(16, up)}", "aws_access_key_id={}"),
        lambda: (f"ASIA{rs(16, up)}", "export AWS_ACCESS_KEY_ID={}"),
        lambda: (rs(40, string.ascii_letters + string.digits + "/+"), "aws_secret_access_key = {}"),
        lambda: (rs(40, string.ascii_letters + string.digits + "/+"), '{{"AWS_SECRET_ACCESS_KEY": "{}"}}'),
        lambda: (f"ghp_{rs(36)}", "git clone https://x:{}@github.com/org/repo"),
        lambda: (f"ghp_{rs(36)}", "GITHUB_TOKEN={}"),
        lambda: (f"github_pat_{rs(22)}_{rs(59)}", "using {} for the API"),
        lambda: (f"sk-proj-{rs(48, b64u)}", "OPENAI_API_KEY={}"),
        lambda: (f"sk-ant-api03-{rs(90, b64u)}", "client = Anthropic(api_key=\"{}\")"),
        lambda: (f"sk-{rs(48)}", "openai.api_key = '{}'"),
        lambda: (f"xoxb-{digits(11)}-{digits(12)}-{rs(24)}", "slack token {} rotated"),
        lambda: (f"sk_live_{rs(24)}", "stripe.api_key = \"{}\""),
        lambda: (f"rk_test_{rs(24)}", "restricted key {}"),
        lambda: (f"AIza{rs(35, b64u)}", "https://maps.googleapis.com/maps/api/geocode/json?key={}"),
        lambda: ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + rs(40, b64u) + "." + rs(43, b64u), "jwt={}"),
        lambda: (rs(32, b64u), "Authorization: Bearer {}"),
        lambda: (rs(16), "postgres://app:{}@db.internal:5432/prod"),
        lambda: (rs(12), "password={}&user=bob"),
        lambda: (rs(14), '{{"password": "{}", "user": "bob"}}'),
        lambda: (rs(20), "api_key: {}"),
        lambda: ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(rs(64, string.ascii_letters + string.digits + "+/") for _ in range(4))
                 + "\n-----END RSA PRIVATE KEY-----", "key file:\n{}\nend"),
        lambda: ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + rs(70, string.ascii_letters + string.digits + "+/")
                 + "\n-----END OPENSSH PRIVATE KEY-----", "{}"),
    ]
    v, ctx = kinds[i % len(kinds)]()
    return "XX", ctx.format(v), v


# ---------------------------------------------------------------- hard negatives
def hexs(n):
    return rs(n, "0123456789abcdef")


def bad_luhn16():
    while True:
        n = "4" + digits(15)
        total = 0
        for k, c in enumerate(reversed(n)):
            v = int(c) * (2 if k % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10:
            return n


def luhn_no_issuer():
    return luhn_complete(pick(["1", "7", "0", "99", "88"]), 16)


NEG = [
    # timestamps
    lambda: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{digits(3)}Z INFO started",
    lambda: f"ts=2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{digits(1)}{digits(1)}:{digits(1)}1,{digits(3)} level=warn",
    lambda: f"Date: Mon, {rng.randint(1, 28)} Nov 2026 {rng.randint(10, 23)}:{digits(1)}0:0{digits(1)} +0000",
    lambda: f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2026 {rng.randint(10, 23)}:{rng.randint(10, 59)}",
    lambda: f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/2026 {rng.randint(1, 12)}:{rng.randint(10, 59)} PM",
    lambda: f"am {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026 um {rng.randint(10, 23)}:{rng.randint(10, 59)} Uhr",
    lambda: f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026 {rng.randint(1000, 2359)}",
    lambda: f"2026年{rng.randint(1, 12)}月{rng.randint(1, 28)}日 {rng.randint(10, 23)}時{rng.randint(10, 59)}分に完了",
    lambda: f"20261123T{rng.randint(100000, 235959)}Z",
    lambda: f"2026-11-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}+05:30",
    lambda: f"created_at={rng.randint(1700000000, 1799999999)}",
    lambda: f"epoch_ms {rng.randint(1700000000000, 1799999999999)}",
    lambda: f'{{"ts":{rng.randint(1700000000000, 1799999999999)},"ok":true}}',
    # ids
    lambda: f"request {hexs(8)}-{hexs(4)}-4{hexs(3)}-a{hexs(3)}-{hexs(12)} done",
    lambda: f"trace_id={digits(8)}-{digits(4)}-{digits(4)}-{digits(4)}-{digits(12)}",
    lambda: f"ORD-2026-{digits(6)} shipped",
    lambda: f"Invoice INV-{rng.randint(2020, 2026)}-{digits(2)}-{digits(5)} paid",
    lambda: f"ticket JIRA-{rng.randint(100, 99999)} and #{digits(6)}",
    lambda: f"PO-{rng.randint(4500000000, 4599999999)} approved",
    lambda: f"order #{rng.randint(10000000, 99999999)} placed",
    lambda: f"SKU-{digits(5)}-BLK qty 3",
    lambda: f"ISBN 978-{rng.randint(0, 9)}-{digits(2)}-{digits(6)}-{rng.randint(0, 9)}",
    # addresses and versions
    lambda: f"connect to {rng.randint(10, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:{rng.randint(1024, 65535)}",
    lambda: f"upstream {rng.randint(100, 223)}.{rng.randint(100, 255)}.{rng.randint(100, 255)}.{rng.randint(100, 254)} timed out",
    lambda: f"v{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}",
    lambda: f"Python {rng.randint(2, 3)}.{rng.randint(0, 13)}.{rng.randint(0, 20)} on linux",
    lambda: f"build 10.0.{rng.randint(10000, 29999)}.{rng.randint(1000, 9999)}",
    lambda: f"rustc 1.{rng.randint(60, 99)}.0 ({hexs(9)} 2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)})",
    # cards that are not
    lambda: f"ref {bad_luhn16()}",
    lambda: (lambda n: f"number {' '.join(n[k:k + 4] for k in range(0, 16, 4))}")(bad_luhn16()),
    lambda: f"id {luhn_no_issuer()}",
    # money, durations, hashes, codes, coordinates
    lambda: f"total ${rng.randint(1, 99)},{digits(3)}.{digits(2)}",
    lambda: f"price €{rng.randint(1, 999)}.{digits(2)} / ¥{rng.randint(1, 99)},{digits(3)}",
    lambda: f"amount USD {rng.randint(1000, 9999999)}.{digits(2)}",
    lambda: f"took {rng.randint(1, 99999)}ms (p99 {rng.randint(1, 999)}.{digits(1)}s)",
    lambda: f"elapsed {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{digits(3)}",
    lambda: f"duration PT{rng.randint(1, 9)}H{rng.randint(1, 59)}M",
    lambda: f"commit {hexs(40)}",
    lambda: f"merged {hexs(7)} into main",
    lambda: f"sha256:{hexs(64)}",
    lambda: f"at 0x{hexs(12)} in libfoo.so",
    lambda: f"loc {rng.uniform(-90, 90):.6f}, {rng.uniform(-180, 180):.6f}",
    lambda: f"{rng.uniform(-90, 90):.7f} {rng.uniform(-180, 180):.7f}",
    lambda: f"pi={rng.uniform(1, 9):.12f}",
    lambda: f"  File \"/app/agent/tools.py\", line {rng.randint(1, 9999)}, in run",
    lambda: f"src/main.rs:{rng.randint(1, 9999)}:{rng.randint(1, 99)}",
    lambda: f"SELECT * FROM orders WHERE customer_id = {rng.randint(1000000, 9999999)} LIMIT {rng.randint(1, 500)}",
    lambda: f"rows={rng.randint(1, 99999999)} bytes={rng.randint(1, 999999999)}",
    lambda: f"mac {':'.join(hexs(2) for _ in range(6))}",
    lambda: f"pid {rng.randint(1, 4194304)} exited with status {rng.randint(0, 255)}",
    lambda: f"max_tokens={rng.randint(16, 8192)} temperature=0.{rng.randint(0, 9)}",
    lambda: f'{{"usage":{{"input_tokens":{rng.randint(1, 99999)},"output_tokens":{rng.randint(1, 9999)}}}}}',
    lambda: "password reset requested for the account",
    lambda: f"icon@{rng.randint(2, 3)}x.png loaded",
    lambda: f"npm i left-pad@{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
    lambda: "@tool decorated function; see @types/node",
    lambda: "task-manager sk-learn scikit",
    lambda: f"EAN {rng.choice(['0', '3', '5', '7'])}{digits(12)}",
    lambda: f"zip {digits(5)}-{digits(4)} and {digits(5)}",
    lambda: f"ratio {rng.randint(1, 9)}:{rng.randint(1, 9)} and 1/{rng.randint(2, 99)}",
    lambda: f"{rng.randint(1, 9)}.{rng.randint(0, 9)}% of {rng.randint(1000, 99999)} requests",
    lambda: f"batch {digits(3)} {digits(3)} {digits(3)} cells",
    lambda: f"localhost:{rng.randint(1024, 65535)}/health",
]


def main():
    items = []
    plan = [("email", gen_email, 260), ("phone", gen_phone, 450), ("card", gen_card, 260), ("ssn", gen_ssn, 80),
            ("iban", gen_iban, 96), ("ip", gen_ip, 60), ("secret", gen_secret, 176)]
    for ty, gen, n in plan:
        for i in range(n):
            country, text, value = gen(i)
            assert value in text, (ty, text, value)
            items.append({"id": f"{ty}-{i:04d}", "type": ty, "country": country, "text": text, "value": value})
    for i in range(520):
        items.append({"id": f"neg-{i:04d}", "type": "negative", "country": "XX", "text": NEG[i % len(NEG)](), "value": ""})
    full = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items)
    quick = "".join(json.dumps(it, ensure_ascii=False) + "\n" for k, it in enumerate(items) if k % 5 == 0)
    outs = {HERE / "corpus.jsonl": full, HERE / "corpus_quick.jsonl": quick}
    if "--check" in sys.argv:
        bad = [p.name for p, s in outs.items() if not p.exists() or p.read_text(encoding="utf-8") != s]
        if bad:
            sys.exit(f"stale generated corpus: {bad}; rerun tests/redaction/gen_corpus.py")
        print("corpus up to date")
        return
    for p, s in outs.items():
        p.write_text(s, encoding="utf-8")
    print(f"wrote {len(items)} items ({sum(1 for it in items if it['type'] == 'negative')} hard negatives)")


if __name__ == "__main__":
    main()
