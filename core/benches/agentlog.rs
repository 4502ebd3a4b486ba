//! A deterministic mixed agent-log corpus for the redaction benchmark and the
//! Presidio comparison: tool-call JSON, chat messages, stack traces, SQL,
//! URLs and log lines, full of timestamps, ids, durations, hashes and
//! addresses. With `pii_every = Some(n)` about one PII item (email, phone,
//! card, SSN, IBAN, credential) is placed per `n` bytes; with `None` there is
//! none at all. Shared by `benches/redact.rs` and `examples/redact_corpus.rs`.

#![allow(dead_code)]

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| char::from(A[self.below(A.len() as u64) as usize]))
            .collect()
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

fn luhn_card(r: &mut Rng) -> String {
    let mut d: Vec<u8> = vec![4];
    while d.len() < 15 {
        d.push(r.below(10) as u8);
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &v)| {
            let v = u32::from(v);
            if k % 2 == 0 {
                let x = v * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                v
            }
        })
        .sum();
    d.push(((10 - sum % 10) % 10) as u8);
    let s: String = d.iter().map(|&v| char::from(b'0' + v)).collect();
    format!("{} {} {} {}", &s[..4], &s[4..8], &s[8..12], &s[12..])
}

fn pii(r: &mut Rng) -> String {
    match r.below(9) {
        0 | 1 => format!(
            "{}.{}@{}",
            r.pick(&["john", "maria", "yuki", "hans", "aarav"]),
            r.pick(&["doe", "silva", "tanaka", "mueller"]),
            r.pick(&["example.com", "mail.example.co.uk", "beispiel.de"])
        ),
        2 => format!(
            "+1 ({}) {}-{}",
            200 + r.below(700),
            200 + r.below(700),
            r.digits(4)
        ),
        3 => format!("+44 20 {} {}", 7000 + r.below(999), r.digits(4)),
        4 => luhn_card(r),
        5 => format!(
            "{:03}-{:02}-{}",
            100 + r.below(500),
            10 + r.below(80),
            1000 + r.below(8999)
        ),
        6 => "DE89 3704 0044 0532 0130 00".to_string(),
        7 => format!("ghp_{}", r.alnum(36)),
        _ => format!("AKIA{}", r.alnum(16).to_ascii_uppercase()),
    }
}

fn filler(r: &mut Rng) -> String {
    r.pick(&[
        "the customer",
        "our records",
        "the support queue",
        "this account",
        "the workspace",
    ])
    .to_string()
}

fn ts(r: &mut Rng) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + r.below(12),
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000)
    )
}

fn uuid(r: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        r.hex(8),
        r.hex(4),
        r.hex(3),
        r.hex(3),
        r.hex(12)
    )
}

fn line(r: &mut Rng, slot: &str) -> String {
    match r.below(8) {
        0 => format!(
            "{{\"type\":\"tool_call\",\"id\":\"{}\",\"ts\":\"{}\",\"name\":\"crm.lookup\",\"inputs\":{{\"query\":\"find {}\",\"limit\":{},\"fields\":[\"name\",\"status\",\"updated_at\"]}},\"latency_ms\":{}}}\n",
            uuid(r), ts(r), slot, r.below(100), r.below(5000)
        ),
        1 => format!(
            "{{\"role\":\"user\",\"content\":\"Hi, can you check the order status for {} and tell me when it ships? Order ORD-2026-{} was placed on 2026-11-{:02}.\"}}\n",
            slot, r.digits(6), 1 + r.below(28)
        ),
        2 => format!(
            "{{\"role\":\"assistant\",\"content\":\"I looked up {} in our system: invoice INV-{} for ${}.{:02} is pending, version v{}.{}.{} of the sync job ran {} ms ago.\"}}\n",
            slot, r.digits(8), r.below(5000), r.below(100), r.below(5), r.below(20), r.below(100), r.below(90000)
        ),
        3 => format!(
            "Traceback (most recent call last):\n  File \"/srv/agent/tools/crm.py\", line {}, in lookup\n    raise LookupError(f\"no match for {}\")\nLookupError: no match for {} (request {})\n",
            r.below(900), "{query}", slot, uuid(r)
        ),
        4 => format!(
            "SELECT id, name, status, updated_at FROM customers WHERE org_id = {} AND note LIKE '%{}%' AND updated_at > '2026-{:02}-01' ORDER BY id LIMIT {};\n",
            r.below(100000), slot, 1 + r.below(12), r.below(500)
        ),
        5 => format!(
            "{} INFO http: GET https://api.example.com/v2/search?q={}&page={}&sort=desc status=200 bytes={} dur={}ms upstream=10.{}.{}.{}:8443\n",
            ts(r), slot.replace(' ', "+"), r.below(50), r.below(200000), r.below(3000), r.below(255), r.below(255), r.below(255)
        ),
        6 => format!(
            "{} WARN worker[{}]: retry {} of 5 for job {} ({}), backoff {}.{}s, commit {}\n",
            ts(r), r.below(64), 1 + r.below(5), uuid(r), slot, r.below(30), r.below(10), r.hex(40)
        ),
        _ => format!(
            "{{\"type\":\"tool_result\",\"trace_id\":\"{}\",\"outputs\":{{\"rows\":{},\"note\":\"matched {} at {}\",\"checksum\":\"sha256:{}\"}},\"tokens\":{{\"input\":{},\"output\":{}}}}}\n",
            r.hex(32), r.below(1000), slot, ts(r), r.hex(64), r.below(9000), r.below(2000)
        ),
    }
}

/// About `target` bytes of agent log; one PII item per `pii_every` bytes, or none.
pub fn corpus(target: usize, pii_every: Option<usize>, seed: u64) -> String {
    let mut r = Rng(seed | 1);
    let mut out = String::with_capacity(target + 1024);
    let mut items = 0usize;
    while out.len() < target {
        let due = pii_every.is_some_and(|n| out.len() / n >= items);
        let slot = if due {
            items += 1;
            pii(&mut r)
        } else {
            filler(&mut r)
        };
        out.push_str(&line(&mut r, &slot));
    }
    out
}
