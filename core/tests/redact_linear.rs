//! Redaction is linear in its input, proven by counting (habit 16): every
//! detector is fed its own prefixes, key names and separators repeated at
//! 4, 16, 64 and 256 KiB, and the bytes its validators read
//! (`Redactor::count_steps`) must grow like the input, not like its square,
//! and stay under a documented number of steps per byte.
//!
//! Before the fix, `sk-` repeated read 44.8 M bytes at 16 KiB and 11.5 G
//! at 256 KiB (256 times more for 16 times the input); now 0.10 M and
//! 1.66 M. The figures of every unit, before and after, are in the commit
//! that made the detectors linear.

use proptest::prelude::*;
use sealtrail_core::redact::{CustomRule, RedactConfig, Redactor, ScanSteps};

/// The documented bound: the built-in detectors read at most this many
/// bytes per byte of input (plus a constant), whatever the text.
const MAX_STEPS_PER_BYTE: u64 = 24;
/// Custom rules are fed at most 128 bytes per match (`CUSTOM_WINDOW` in
/// `redact/mod.rs`) plus a few times the text; the redactor has two rules.
const MAX_CUSTOM_STEPS_PER_BYTE: u64 = 2 * 128;

const SIZES: [usize; 4] = [4 << 10, 16 << 10, 64 << 10, 256 << 10];

/// Units that are, or start, what a detector looks for; each is repeated.
const UNITS: &[&str] = &[
    // Secret prefixes (secrets.rs), bare, glued to a word byte, to a separator.
    "sk-",
    "sk-a",
    "sk-proj-",
    "AKIA",
    "AKIA1",
    "ASIA",
    "ghp_",
    "ghpa",
    "github_pat_",
    "hf_",
    "gsk_",
    "xoxb-",
    "xoxb-1",
    "xapp-",
    "hooks.slack.com/services/",
    "sk_live_",
    "whsec_",
    "AIza",
    "AIzaA",
    "eyJ",
    "eyJaaaaaaaaaa.",
    "eyJaaaaaaaaaa.aaaaaaaaaa",
    "-----BEGIN ",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\n-----END ",
    "Bearer ",
    "Bearer a",
    // Sensitive keys in text (the key-name automaton and key_value).
    "password:",
    "password=",
    "password: ",
    "\"password\":",
    "\"password\": \"",
    "\"password\": \"\\\"",
    "'password': '",
    "password=\\\"",
    "\\\"password\\\":\\\"",
    "Authorization: ",
    "cookie=",
    "api_key=",
    "aws_secret_access_key=",
    "secret_key=",
    "key=",
    // Emails, URL passwords (scan.rs, at `@` and `%40`).
    "a@",
    "@a",
    "a@a.",
    "a.a@a.a",
    "%40",
    "a%40a.",
    "://u:p@",
    "a:b@",
    // Digit runs with separators: phones, cards, SSNs, IPv4.
    "1-",
    "1 ",
    "1.",
    "12 ",
    "(1)",
    "+1 ",
    "4111 ",
    "4111-",
    "4111111111111111 ",
    "123-45-6789 ",
    "ssn 1",
    "1234567 x",
    "1234567 ext ",
    "1.1.1.1.",
    // IBAN-shaped words.
    "DE89",
    "DE89 ",
    "GB82WEST",
    // IPv6 (IP redaction on).
    ":",
    "1:",
    "::",
    "a:.",
    "fe80::1:",
    // Custom rules (see `redactor`).
    "T-",
    "T-1",
];

fn redactor() -> Redactor {
    Redactor::new(RedactConfig {
        ip: true,
        custom_rules: vec![
            CustomRule {
                name: "ticket".into(),
                pattern: r"T-\d+".into(),
            },
            // Leftmost-first with a longer first branch: each match at `a`
            // makes a plain find_iter look to the end of the text for the `b`.
            CustomRule {
                name: "lookahead".into(),
                pattern: r"a[a-z:]*b|a".into(),
            },
        ],
        ..RedactConfig::default()
    })
    .expect("config")
}

fn repeated(unit: &str, size: usize) -> String {
    let mut s = unit.repeat(size / unit.len() + 1);
    let mut cut = size;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

fn steps_at(red: &Redactor, unit: &str, sizes: &[usize]) -> Vec<ScanSteps> {
    sizes
        .iter()
        .map(|&n| red.count_steps(&repeated(unit, n)))
        .collect()
}

/// Why `st` (steps at `sizes`) is not linear, if it is not: over the bound
/// per byte at some size, or growing from one size to the next by more
/// than the input did plus a quarter (a constant overhead shrinks as the
/// input grows; quadratic work grows by the square).
fn not_linear(unit: &str, sizes: &[usize], st: &[ScanSteps]) -> Option<String> {
    for (k, (&n, s)) in sizes.iter().zip(st).enumerate() {
        if s.total() - s.custom > MAX_STEPS_PER_BYTE * n as u64 + 4096
            || s.custom > MAX_CUSTOM_STEPS_PER_BYTE * n as u64 + 4096
        {
            return Some(format!(
                "{unit:?} at {n} bytes: {s:?} is over {MAX_STEPS_PER_BYTE} steps per byte \
                 ({MAX_CUSTOM_STEPS_PER_BYTE} for custom rules)"
            ));
        }
        if k > 0 {
            let growth = n as f64 / sizes[k - 1] as f64;
            let (a, b) = (st[k - 1].total().max(1), s.total());
            if b as f64 > growth * 1.25 * a as f64 + 1024.0 {
                return Some(format!(
                    "{unit:?}: {a} steps at {} bytes, {b} at {n} ({st:?})",
                    sizes[k - 1]
                ));
            }
        }
    }
    None
}

#[test]
fn every_detector_is_linear_on_its_own_prefixes() {
    let red = redactor();
    let mut table = String::new();
    let mut failures = Vec::new();
    for unit in UNITS {
        let st = steps_at(&red, unit, &SIZES);
        table.push_str(&format!(
            "{:<44} {:>10} {:>10} {:>10} {:>10}\n",
            format!("{unit:?}"),
            st[0].total(),
            st[1].total(),
            st[2].total(),
            st[3].total()
        ));
        failures.extend(not_linear(unit, &SIZES, &st));
    }
    // `cargo test --test redact_linear -- --nocapture` shows the figures.
    println!("steps at 4 / 16 / 64 / 256 KiB\n{table}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Pieces detectors react to; a unit is one to four of them, repeated.
const PIECES: &[&str] = &[
    "sk-",
    "AKIA",
    "ghp_",
    "xoxb-",
    "AIza",
    "eyJ",
    ".",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "-----END ",
    "Bearer ",
    "password",
    "token",
    "key",
    "secret_",
    "Authorization",
    ":",
    "=",
    "\"",
    "'",
    "\\",
    "\\\"",
    " ",
    "\n",
    "@",
    "%40",
    "a",
    "Z",
    "1",
    "4111",
    "-",
    "(",
    ")",
    "/",
    "+",
    "DE89",
    "x",
    "ext",
    "::",
    "T-",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any short mix of those pieces, repeated, is linear too.
    #[test]
    fn repeated_mixes_of_detector_pieces_are_linear(idx in proptest::collection::vec(0..PIECES.len(), 1..5)) {
        let red = redactor();
        let unit: String = idx.iter().map(|&i| PIECES[i]).collect();
        let sizes = [8 << 10, 32 << 10, 128 << 10];
        let st = steps_at(&red, &unit, &sizes);
        let why = not_linear(&unit, &sizes, &st);
        prop_assert!(why.is_none(), "{}", why.unwrap_or_default());
    }
}
