use super::*;

fn red() -> Redactor {
    Redactor::new(RedactConfig::default()).unwrap()
}

fn r(text: &str) -> String {
    let mut rep = PiiReport::new();
    red().redact_text(text, &mut rep).into_owned()
}

#[test]
fn emails() {
    assert_eq!(
        r("mail john.doe+news@mail.example.co.uk now"),
        "mail [EMAIL] now"
    );
    assert_eq!(
        r("<a href=\"mailto:jane@example.org\">"),
        "<a href=\"mailto:[EMAIL]\">"
    );
    assert_eq!(r("/api?user=bob@example.com&x=1"), "/api?user=[EMAIL]&x=1");
    assert_eq!(
        r("/api?email=bob%40example.com&x=1"),
        "/api?email=[EMAIL]&x=1"
    );
    assert_eq!(
        r("山田さんのメールはyamada@example.co.jpです"),
        "山田さんのメールは[EMAIL]です"
    );
    assert_eq!(r("hans@münchen.de."), "[EMAIL].");
    assert_eq!(r("{\"to\":\"a@b.io\"}"), "{\"to\":\"[EMAIL]\"}");
    // Not emails.
    for neg in [
        "icon@2x.png",
        "@types/node",
        "pkg@1.2.3",
        "foo@bar",
        "user@localhost",
    ] {
        assert_eq!(r(neg), neg);
    }
}

#[test]
fn phones() {
    for p in [
        "+1 (415) 555-2671",
        "(415) 555-2671",
        "415.555.2671",
        "1-800-555-0199",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "07700 900123",
        "+49 30 12345678",
        "030 12345678",
        "089/1234567",
        "+33 1 23 45 67 89",
        "01 23 45 67 89",
        "06.12.34.56.78",
        "+91 98765 43210",
        "98765 43210",
        "+81 3-1234-5678",
        "03-1234-5678",
        "090-1234-5678",
        "+55 11 91234-5678",
        "(11) 91234-5678",
        "(21) 2345-6789",
        "+33 (0)6 12 34 56 78",
        "0044 20 7946 0958",
        "+1-202-555-0143",
        "+86 138 0013 8000",
    ] {
        assert_eq!(r(&format!("call {p} now")), "call [PHONE] now", "{p}");
    }
    assert_eq!(r("tel 415-555-2671 ext. 42."), "tel [PHONE].");
    assert_eq!(r("電話は090-1234-5678です"), "電話は[PHONE]です");
    assert_eq!(r("ORD-2026 555-234-4567"), "ORD-2026 [PHONE]");
    assert_eq!(r("id:4155552671,"), "id:[PHONE],");
    // The email around a phone-looking local part wins.
    assert_eq!(r("a+14155552671@x.com"), "[EMAIL]");
}

#[test]
fn phone_negatives() {
    for neg in [
        "2026-11-23T11:38:02.123Z",
        "2026-11-23 11:38:02",
        "23.11.2026 14:30",
        "03/11/2026 1430",
        "550e8400-e29b-41d4-a716-446655440000",
        "ORD-2026-000123",
        "INV-20261123-0042",
        "192.168.100.200",
        "v10.0.19045.3693",
        "$1,299.00",
        "1767225600000",
        "1767225600",
        "took 1500ms",
        "3.14159265358979",
        "37.774929 -122.419416",
        "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "4111111111111112",
    ] {
        assert_eq!(r(neg), neg, "{neg}");
    }
}

#[test]
fn cards_ssn_iban() {
    assert_eq!(r("card 4111 1111 1111 1111 exp"), "card [CARD] exp");
    assert_eq!(r("card 4111-1111-1111-1111."), "card [CARD].");
    assert_eq!(r("amex 3782 822463 10005"), "amex [CARD]");
    assert_eq!(r("id=5555555555554444&"), "id=[CARD]&");
    assert_eq!(r("ssn 123-45-6789"), "ssn [SSN]");
    assert_eq!(r("SSN: 123456789"), "SSN: [SSN]");
    assert_eq!(r("n 123456789"), "n 123456789");
    assert_eq!(r("n 666-45-6789"), "n 666-45-6789");
    assert_eq!(r("iban DE89 3704 0044 0532 0130 00 ok"), "iban [IBAN] ok");
    assert_eq!(r("IBAN:GB82WEST12345698765432"), "IBAN:[IBAN]");
    assert_eq!(
        r("DE89 3704 0044 0532 0130 01"),
        "DE89 3704 0044 0532 0130 01"
    );
}

#[test]
fn secrets() {
    let cases = [
        ("key AKIAIOSFODNN7EXAMPLE here", "key [SECRET] here"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [SECRET]",
        ),
        (
            "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "token [SECRET]",
        ),
        (
            "OPENAI sk-proj-abcdefghijklmnopqrstuvwx1234",
            "OPENAI [SECRET]",
        ),
        ("xoxb-1234567890-abcdefghijkl", "[SECRET]"),
        ("sk_live_abcdefghijklmnop1234", "[SECRET]"),
        ("AIzaSyA-abcdefghijklmnopqrstuvwxyz12345", "[SECRET]"),
        (
            "Authorization: Bearer abc.def-ghi_jkl",
            "Authorization: [SECRET]",
        ),
        (
            "curl -H 'Bearer abcdefgh12345'",
            "curl -H 'Bearer [SECRET]'",
        ),
        (
            "postgres://admin:hunter2@db.internal:5432/app",
            "postgres://admin:[SECRET]@db.internal:5432/app",
        ),
        ("password=hunter2&user=bob", "password=[SECRET]&user=bob"),
        ("{\"api_key\": \"abc123\"}", "{\"api_key\": \"[SECRET]\"}"),
        (
            "{\\\"password\\\":\\\"s3cr3t\\\"}",
            "{\\\"password\\\":\\\"[SECRET]\\\"}",
        ),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "[SECRET]",
        ),
    ];
    for (i, o) in cases {
        assert_eq!(r(i), o, "{i}");
    }
    let pem = "k=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\nnext";
    assert_eq!(r(pem), "k=[SECRET]\nnext");
    for neg in [
        "task-manager",
        "max_tokens=5",
        "the tokens: many",
        "sk-learn",
        "if a == b",
    ] {
        assert_eq!(r(neg), neg);
    }
}

#[test]
fn modes() {
    let mut cfg = RedactConfig::default();
    cfg.apply_mode_spec("partial").unwrap();
    let red = Redactor::new(cfg).unwrap();
    let mut rep = PiiReport::new();
    let out = red.redact_text("jo@example.com 4111 1111 1111 1111 ghp_abcdefghijklmnopqrstuvwxyz0123456789 DE89370400440532013000", &mut rep);
    assert_eq!(
        out,
        "***@example.com **** **** **** 1111 ghp_*** DE****************3000"
    );

    let mut cfg = RedactConfig::default();
    cfg.apply_mode_spec("email=pseudonym,card=off").unwrap();
    assert_eq!(
        Redactor::new(cfg.clone()).unwrap_err(),
        RedactError::MissingHmacKey
    );
    cfg.hmac_key = Some(b"k".to_vec());
    let red = Redactor::new(cfg).unwrap();
    let mut rep = PiiReport::new();
    let a = red
        .redact_text("Jo@Example.com 4111111111111111", &mut rep)
        .into_owned();
    let b = red.redact_text("jo@example.com", &mut rep).into_owned();
    assert!(
        a.starts_with("[EMAIL:") && a.ends_with("] 4111111111111111"),
        "{a}"
    );
    assert_eq!(&a[..20], &b[..20]);
    assert_eq!(rep.get("email"), 2);
    assert_eq!(rep.get("card"), 0);
}

#[test]
fn ip_off_by_default_on_by_flag() {
    assert_eq!(
        r("from 10.0.0.12 and fe80::1ff:fe23:4567:890a"),
        "from 10.0.0.12 and fe80::1ff:fe23:4567:890a"
    );
    let cfg = RedactConfig {
        ip: true,
        ..RedactConfig::default()
    };
    let red = Redactor::new(cfg).unwrap();
    let mut rep = PiiReport::new();
    assert_eq!(
        red.redact_text(
            "from 10.0.0.12, fe80::1ff:fe23:4567:890a and 2001:db8::1. at 12:34:56 std::io",
            &mut rep
        ),
        "from [IP], [IP] and [IP]. at 12:34:56 std::io"
    );
    assert_eq!(rep.get("ip"), 3);
}

#[test]
fn custom_rules_and_errors() {
    let mut cfg = RedactConfig::default();
    cfg.add_rule_spec("employee_id=EMP-\\d{6}").unwrap();
    let red = Redactor::new(cfg).unwrap();
    let mut rep = PiiReport::new();
    assert_eq!(
        red.redact_text("by EMP-123456.", &mut rep),
        "by [EMPLOYEE_ID]."
    );
    assert_eq!(rep.get("employee_id"), 1);

    let mut cfg = RedactConfig::default();
    cfg.add_rule_spec("bad=(").unwrap();
    assert!(matches!(
        Redactor::new(cfg),
        Err(RedactError::InvalidRegex { .. })
    ));
    let mut cfg = RedactConfig::default();
    cfg.add_rule_spec("email=x").unwrap();
    assert!(matches!(
        Redactor::new(cfg),
        Err(RedactError::InvalidRuleName(_))
    ));
    let mut cfg = RedactConfig::default();
    cfg.apply_mode_spec("emial=off").unwrap();
    assert!(matches!(
        Redactor::new(cfg),
        Err(RedactError::UnknownType(_))
    ));
    assert!("bogus".parse::<Mode>().is_err());
}

#[test]
fn json_values() {
    let mut v = serde_json::json!({
        "user": {"email": "a@example.com", "Password": {"nested": 1}, "max_tokens": 5},
        "headers": {"Authorization": "Bearer xyz", "X-Api-Key": "k"},
        "cc": 4111111111111111u64,
        "list": ["call +44 20 7946 0958", 3, null],
        "bob@example.com": true,
        "password": null
    });
    let mut rep = PiiReport::new();
    red().redact_value(&mut v, &mut rep);
    assert_eq!(
        v,
        serde_json::json!({
            "user": {"email": "[EMAIL]", "Password": "[SECRET]", "max_tokens": 5},
            "headers": {"Authorization": "[SECRET]", "X-Api-Key": "[SECRET]"},
            "cc": "[CARD]",
            "list": ["call [PHONE]", 3, null],
            "[EMAIL]": true,
            "password": null
        })
    );
    assert_eq!(rep.counts().get("secret"), Some(&3));
    assert_eq!(rep.get("email"), 2);
}

#[test]
fn no_pii_borrows() {
    let mut rep = PiiReport::new();
    let t = "2026-11-23T11:38:02Z INFO request id=7f3a took 12ms";
    assert!(matches!(red().redact_text(t, &mut rep), Cow::Borrowed(_)));
    assert!(rep.is_empty());
}

#[test]
fn stream_jsonl_keeps_fields_and_reports_bad_lines() {
    let input = "{\"id\":1,\"text\":\"mail a@b.com\",\"meta\":{\"z\":1, \"a\":[1.50]}}\nnot json\n\n{\"id\":2}\n{\"text\":\"ok\"}\n";
    let mut out = Vec::new();
    let sum = redact_stream(input.as_bytes(), &mut out, true, &red()).unwrap();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0],
        "{\"id\":1,\"text\":\"mail [EMAIL]\",\"meta\":{\"z\":1, \"a\":[1.50]}}"
    );
    assert!(
        lines[1].starts_with("{\"error\":\"invalid JSON"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "");
    assert!(lines[3].contains("missing string field"));
    assert_eq!(lines[4], "{\"text\":\"ok\"}");
    assert_eq!(sum.lines, 5);
    assert_eq!(sum.errors, 2);
    assert_eq!(sum.report.get("email"), 1);
}

#[test]
fn stream_text_keeps_pem_whole() {
    let mut input = String::new();
    for i in 0..3000 {
        input.push_str(&format!(
            "line {i} with some padding text to fill the chunk\n"
        ));
    }
    input.push_str("-----BEGIN PRIVATE KEY-----\n");
    for _ in 0..2000 {
        input.push_str("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n");
    }
    input.push_str("-----END PRIVATE KEY-----\nmail x@y.org\n");
    let mut out = Vec::new();
    let sum = redact_stream(input.as_bytes(), &mut out, false, &red()).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains("MIIEvQ"));
    assert!(out.ends_with("[SECRET]\nmail [EMAIL]\n"));
    assert_eq!(sum.report.get("secret"), 1);
}

#[test]
fn redactor_is_send_sync() {
    fn assert_ss<T: Send + Sync>() {}
    assert_ss::<Redactor>();
}

#[test]
fn config_from_env() {
    let env: std::collections::HashMap<&str, &str> = [
        ("SEALTRAIL_REDACT_MODE", "partial,email=pseudonym"),
        ("SEALTRAIL_REDACT_IP", "on"),
        ("SEALTRAIL_REDACT_KEY", "k1"),
        ("SEALTRAIL_REDACT_SENSITIVE_KEYS", "pin, otp"),
        ("SEALTRAIL_REDACT_RULES", "ticket=TCK-\\d+\n"),
    ]
    .into_iter()
    .collect();
    let mut cfg = RedactConfig::default();
    cfg.apply_env(|k| env.get(k).map(|v| v.to_string()))
        .unwrap();
    assert_eq!(cfg.default_mode, Mode::Partial);
    assert_eq!(cfg.modes.get("email"), Some(&Mode::Pseudonym));
    assert!(cfg.ip);
    assert_eq!(cfg.hmac_key.as_deref(), Some(&b"k1"[..]));
    assert!(cfg.sensitive_keys.iter().any(|k| k == "otp"));
    assert!(
        !format!("{cfg:?}").contains("k1"),
        "the key is never printed"
    );
    let red = Redactor::new(cfg).unwrap();
    let mut v = serde_json::json!({"pin": "1234", "note": "TCK-99 from 10.1.2.3"});
    let mut rep = PiiReport::new();
    red.redact_value(&mut v, &mut rep);
    assert_eq!(
        v,
        serde_json::json!({"pin": "[SECRET]", "note": "[TICKET] from 10.1.*.*"})
    );
}
