//! Property tests (proptest, stable Rust; a few seconds in all) over the
//! redaction engine and the canonical JSON writer and limited parser:
//! nothing panics, findings fall on character boundaries and do not overlap,
//! a text without findings comes back unchanged (borrowed), the report
//! counts every finding, and canonical JSON parses back to the same bytes.

use std::borrow::Cow;

use proptest::prelude::*;
use sealtrail_core::event::parse_json_limited;
use sealtrail_core::jcs;
use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};
use sealtrail_core::Limits;
use serde_json::Value;

/// What detectors react to, and what trips up byte-level code (multi-byte
/// characters, escapes, quotes).
const PIECES: &[&str] = &[
    "sk-",
    "AKIA",
    "ghp_",
    "xoxb-",
    "AIza",
    "eyJ",
    "hf_",
    "github_pat_",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "-----END ",
    "Bearer ",
    "password",
    "Token",
    "api_key",
    "secret_access_key",
    "Authorization",
    "cookie",
    ":",
    "=",
    "\"",
    "'",
    "\\",
    "\\\"",
    " ",
    "\n",
    "\t",
    "@",
    "%40",
    "://",
    "a",
    "Z",
    "0",
    "1",
    "4",
    "9",
    "4111",
    "555",
    "-",
    ".",
    "(",
    ")",
    "/",
    "+",
    "DE89",
    "GB82",
    "x",
    "ext",
    "ssn",
    "::",
    "fe80",
    "example.com",
    "é",
    "日本",
    "🙂",
    "\u{a0}",
    "\u{200b}",
];

fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(proptest::sample::select(PIECES), 0..48).prop_map(|v| v.concat()),
        ".{0,200}",
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(PIECES).prop_map(str::to_string),
                ".{0,4}"
            ],
            0..32
        )
        .prop_map(|v| v.concat()),
    ]
}

fn json_values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        texts().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(texts(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn redactor() -> Redactor {
    Redactor::new(RedactConfig {
        ip: true,
        ..RedactConfig::default()
    })
    .expect("config")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn redact_text_invariants(text in texts()) {
        let red = redactor();
        let found = red.find(&text);
        for f in &found {
            prop_assert!(f.start < f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "{f:?} in {text:?}");
        }
        for w in found.windows(2) {
            prop_assert!(w[0].end <= w[1].start, "overlap {found:?} in {text:?}");
        }
        let mut rep = PiiReport::new();
        let out = red.redact_text(&text, &mut rep);
        prop_assert_eq!(rep.total(), found.len() as u64);
        if found.is_empty() {
            prop_assert!(matches!(out, Cow::Borrowed(_)));
            prop_assert_eq!(out.as_ref(), text.as_str());
        } else {
            // The text between findings is kept as it was.
            let mut rest = out.as_ref();
            let mut last = 0;
            for f in &found {
                let keep = &text[last..f.start];
                prop_assert!(rest.starts_with(keep), "{text:?} -> {out:?}");
                rest = &rest[keep.len()..];
                let ph = rest.find(']').map_or(0, |i| i + 1);
                rest = &rest[ph..];
                last = f.end;
            }
            prop_assert_eq!(rest, &text[last..]);
        }
    }

    #[test]
    fn redacted_json_stays_canonical(mut v in json_values()) {
        let red = redactor();
        let mut rep = PiiReport::new();
        red.redact_value(&mut v, &mut rep);
        let bytes = jcs::to_vec(&v);
        let back = parse_json_limited(&bytes, &Limits::default());
        prop_assert!(back.is_ok(), "{back:?}");
        prop_assert_eq!(jcs::to_vec(&back.unwrap()), bytes);
    }

    #[test]
    fn canonical_json_round_trips(v in json_values()) {
        let bytes = jcs::to_vec(&v);
        let back = parse_json_limited(&bytes, &Limits::default()).expect("canonical JSON parses");
        prop_assert_eq!(jcs::to_vec(&back), bytes);
    }

    #[test]
    fn the_limited_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), text in texts()) {
        let _ = parse_json_limited(&bytes, &Limits::default());
        let quoted = serde_json::to_string(&text).unwrap();
        let v = parse_json_limited(quoted.as_bytes(), &Limits::default()).expect("a JSON string parses");
        prop_assert_eq!(v, Value::String(text));
    }
}
