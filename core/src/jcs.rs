//! RFC 8785 JSON Canonicalization Scheme: object members sorted by their
//! UTF-16 code units, no whitespace, strings escaped as ECMAScript's
//! `JSON.stringify` does, numbers as IEEE-754 doubles written in ECMAScript's
//! shortest round-trip form (`1e+21`, `-0` → `0`, `1.0` → `1`).

use serde_json::{Map, Number, Value};

/// Canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

/// Canonical text of `value`.
pub fn to_string(value: &Value) -> String {
    // JCS output is built only from valid UTF-8 pieces.
    String::from_utf8(to_vec(value)).unwrap_or_default()
}

/// Appends the canonical form of `value` to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(v, out);
            }
            out.push(b']');
        }
        Value::Object(o) => write_object(o, out),
    }
}

fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Appends the canonical form of a JSON object.
pub fn write_object(o: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut members: Vec<(&String, &Value)> = o.iter().collect();
    // serde_json's map is usually already in code-point order, which equals
    // UTF-16 order unless keys hold characters above U+FFFF; check, then sort.
    if !members
        .windows(2)
        .all(|w| utf16_cmp(w[0].0, w[1].0) != std::cmp::Ordering::Greater)
    {
        members.sort_by(|a, b| utf16_cmp(a.0, b.0));
    }
    out.push(b'{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_value(v, out);
    }
    out.push(b'}');
}

/// Writes a string as ECMAScript's `JSON.stringify` does.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// 2^53: integers of smaller magnitude are exact doubles and print as digits.
const EXACT: u64 = 1 << 53;

fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        if u <= EXACT {
            out.extend_from_slice(itoa_u64(u).as_bytes());
            return;
        }
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= EXACT {
            out.extend_from_slice(i.to_string().as_bytes());
            return;
        }
    }
    // serde_json numbers are always finite.
    let f = n.as_f64().unwrap_or(0.0);
    write_f64(f, out);
}

fn itoa_u64(u: u64) -> String {
    u.to_string()
}

/// Appends an unsigned integer as RFC 8785 writes it (exact up to 2^53).
pub fn write_u64(u: u64, out: &mut Vec<u8>) {
    if u <= EXACT {
        out.extend_from_slice(itoa_u64(u).as_bytes());
    } else {
        write_f64(u as f64, out);
    }
}

/// ECMAScript Number::toString for a finite double (`-0` prints `0`).
pub fn write_f64(f: f64, out: &mut Vec<u8>) {
    if f == 0.0 {
        out.push(b'0');
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format_finite(f).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(json: &str) -> String {
        to_string(&serde_json::from_str(json).unwrap())
    }

    /// RFC 8785 section 3.2.2 (sample input and its canonical output).
    #[test]
    fn rfc8785_sample() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canon(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    /// RFC 8785 section 3.2.3: members sorted by UTF-16 code units.
    #[test]
    fn rfc8785_sorting() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        assert_eq!(
            canon(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    /// RFC 8785 Appendix B: IEEE-754 values and their ECMAScript form.
    #[test]
    fn rfc8785_numbers() {
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, want) in cases {
            let mut out = vec![];
            write_f64(f64::from_bits(*bits), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), *want, "bits {bits:#x}");
        }
    }

    #[test]
    fn numbers_from_json_text() {
        assert_eq!(canon("[1e21, -0, -0.0, 1.0, 0.1, 9007199254740993, -9007199254740993, 18446744073709551615, 100, 1e-7, 123456789012345680000]"),
            "[1e+21,0,0,1,0.1,9007199254740992,-9007199254740992,18446744073709552000,100,1e-7,123456789012345680000]");
    }

    #[test]
    fn strings_escape_like_ecmascript() {
        assert_eq!(
            canon(r#"["\u0000\u001f\u007f\u2028 é 😀 \t\"\\/"]"#),
            "[\"\\u0000\\u001f\u{7f}\u{2028} é 😀 \\t\\\"\\\\/\"]"
        );
    }
}
