//! Random text made of the pieces detectors look for (digits, separators,
//! `@`, quotes, escapes, key names, secret prefixes, multi-byte characters)
//! never panics (every span falls on a character boundary), findings never
//! overlap, the report counts every finding, and text without findings comes
//! back unchanged.

use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};

const PIECES: &[&str] = &[
    "0",
    "4",
    "5",
    "9",
    "1",
    "12",
    "555",
    "4111",
    " ",
    "-",
    ".",
    "(",
    ")",
    "/",
    "+",
    "@",
    "%40",
    "%",
    ":",
    "=",
    "\"",
    "'",
    "\\",
    "\\\"",
    "\n",
    "x",
    "ext.",
    "a",
    "Z",
    "DE89",
    "GB",
    "é",
    "日本",
    "は",
    "🙂",
    "\u{a0}",
    "password",
    "Token",
    "API_KEY",
    "api-key",
    "Bearer ",
    "sk-",
    "ghp_",
    "AKIA",
    "eyJ",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "-----END ",
    "://",
    "u:p",
    "mailto:",
    "example.com",
    "xn--",
    "::",
    "fe80",
    "ssn",
    "aws_secret_access_key",
    "Cookie",
    "authorization",
];

#[test]
fn random_texts_never_panic() {
    let red = Redactor::new(RedactConfig {
        ip: true,
        ..RedactConfig::default()
    })
    .unwrap();
    let mut x: u64 = 0x243F_6A88_85A3_08D3;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let mut s = String::new();
        for _ in 0..len {
            s.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let mut rep = PiiReport::new();
        let out = red.redact_text(&s, &mut rep).into_owned();
        let found = red.find(&s);
        assert_eq!(found.len() as u64, rep.total(), "{s:?}");
        for w in found.windows(2) {
            assert!(w[0].end <= w[1].start, "overlap in {s:?}: {found:?}");
        }
        if rep.is_empty() {
            assert_eq!(out, s);
        }
        let mut v = serde_json::json!({ "k": s, s.clone(): [s.clone(), 1] });
        red.redact_value(&mut v, &mut rep);
    }
}
