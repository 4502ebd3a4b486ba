//! A 1 MiB JSON document with every type inside, nested, is redacted whole:
//! no original value survives, every finding is counted, the rest is kept.

use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};
use serde_json::{json, Value};

const PII: &[(&str, &str)] = &[
    ("email", "maria.silva+crm@exemplo.com.br"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "(415) 555-2671"),
    ("phone", "090-1234-5678"),
    ("card", "4111 1111 1111 1111"),
    ("card", "378282246310005"),
    ("ssn", "123-45-6789"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    ("ip", "203.0.113.77"),
    ("secret", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("secret", "AKIAIOSFODNN7EXAMPLE"),
    ("secret", "sk-proj-abcdefghijklmnopqrstuvwxyz012345"),
];

fn doc() -> (Value, usize) {
    let mut records = Vec::new();
    let mut n = 0;
    let mut size = 0;
    while size < 1 << 20 {
        let (_, v) = PII[n % PII.len()];
        let rec = json!({
            "id": format!("ORD-2026-{:06}", n),
            "ts": "2026-11-23T11:38:02.123Z",
            "note": format!("customer wrote from {v} about invoice INV-2026-{n:05}, took {}ms", n % 997),
            "nested": {"deep": [{"value": v}, {"password": format!("pw-{n}")}], "count": n},
            "tokens": {"input": 1234, "output": 56},
        });
        size += rec.to_string().len();
        records.push(rec);
        n += 1;
    }
    (
        json!({"type": "tool_result", "outputs": {"records": records}}),
        n,
    )
}

#[test]
fn one_mib_document_with_every_type() {
    let (mut v, n) = doc();
    assert!(v.to_string().len() >= 1 << 20);
    let red = Redactor::new(RedactConfig {
        ip: true,
        ..RedactConfig::default()
    })
    .unwrap();
    let mut rep = PiiReport::new();
    red.redact_value(&mut v, &mut rep);
    let out = v.to_string();
    for (_, pii) in PII {
        assert!(!out.contains(pii), "{pii} survived");
    }
    assert!(!out.contains("pw-1"), "password survived");
    // Each record holds its value twice (note + nested) and one password.
    let mut want = std::collections::BTreeMap::new();
    for k in 0..n {
        *want.entry(PII[k % PII.len()].0).or_insert(0u64) += 2;
    }
    *want.entry("secret").or_insert(0) += n as u64;
    for (ty, count) in want {
        assert_eq!(rep.get(ty), count, "count for {ty}");
    }
    // Everything that is not PII is kept.
    assert!(out.contains("ORD-2026-000001") && out.contains("2026-11-23T11:38:02.123Z"));
    assert!(out.contains("\"tokens\":{\"input\":1234,\"output\":56}"));
}
