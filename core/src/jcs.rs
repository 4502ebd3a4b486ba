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

/// Order of two strings by their UTF-16 code units.
///
/// UTF-8 byte order is code-point order, which differs from UTF-16 order
/// only between a character in U+E000..=U+FFFF (lead byte 0xEE or 0xEF) and
/// one above U+FFFF (lead byte 0xF0..): compare bytes up to the first
/// difference, and re-encode only when that difference involves such bytes.
pub(crate) fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) if x[i] < 0xEE && y[i] < 0xEE => x[i].cmp(&y[i]),
        Some(_) => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

/// Whether `keys` are in RFC 8785 order already (ties cannot occur in a map).
pub(crate) fn is_sorted_utf16<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
    let Some(mut prev) = keys.next() else {
        return true;
    };
    for k in keys {
        if utf16_cmp(prev, k) == std::cmp::Ordering::Greater {
            return false;
        }
        prev = k;
    }
    true
}

/// Appends the canonical form of a JSON object.
pub fn write_object(o: &Map<String, Value>, out: &mut Vec<u8>) {
    // serde_json's map is usually already in code-point order, which equals
    // UTF-16 order unless keys hold characters above U+FFFF: write it as it
    // is when so, without collecting and sorting the members.
    if is_sorted_utf16(o.keys().map(String::as_str)) {
        write_members(o.iter(), out);
    } else {
        let mut members: Vec<(&String, &Value)> = o.iter().collect();
        members.sort_by(|a, b| utf16_cmp(a.0, b.0));
        write_members(members.into_iter(), out);
    }
}

fn write_members<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (k, v)) in members.enumerate() {
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
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Most strings need no escape at all: find the first byte that does,
    // eight at a time, and copy everything before it in one go.
    let clean = clean_prefix(bytes);
    if clean == bytes.len() {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.extend_from_slice(&bytes[..clean]);
    let mut start = clean;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
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

/// Length of the longest prefix of `b` with nothing to escape (no quote,
/// no backslash, no byte below 0x20): 16 bytes per step with SSE2, then 8
/// per step in a `u64`, then bytewise.
fn clean_prefix(b: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Exact per word (no false positives): a zero byte in `x ^ c` is a byte
    // equal to c; `x - 0x20..` borrows into bit 7 only below 0x20 (the
    // `!x & HI` mask removes bytes that had bit 7 set already).
    let special = |x: u64| {
        let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
        zero(x ^ (LO * b'"' as u64))
            | zero(x ^ (LO * b'\\' as u64))
            | (x.wrapping_sub(LO * 0x20) & !x & HI)
    };
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: every load is of b[i..i + 16] with i + 16 <= len; SSE2 is
        // part of the x86_64 baseline.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            // Unsigned `c < 0x20` as a signed compare after flipping bit 7.
            let flip = _mm_set1_epi8(0x80u8 as i8);
            let below = _mm_set1_epi8((0x20u8 ^ 0x80) as i8);
            while i + 16 <= b.len() {
                let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                let hit = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                    _mm_cmplt_epi8(_mm_xor_si128(v, flip), below),
                );
                let m = _mm_movemask_epi8(hit) as u32;
                if m != 0 {
                    return i + m.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        if special(u64::from_le_bytes(w)) != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0x00..=0x1f) {
        i += 1;
    }
    i
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        if u <= EXACT {
            write_digits(u, out);
            return;
        }
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= EXACT {
            if i < 0 {
                out.push(b'-');
            }
            write_digits(i.unsigned_abs(), out);
            return;
        }
    }
    // serde_json numbers are always finite.
    let f = n.as_f64().unwrap_or(0.0);
    write_f64(f, out);
}

/// Appends the decimal digits of `u`, without going through a `String`.
pub(crate) fn write_digits(mut u: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends an unsigned integer as RFC 8785 writes it (exact up to 2^53).
pub fn write_u64(u: u64, out: &mut Vec<u8>) {
    if u <= EXACT {
        write_digits(u, out);
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

    #[test]
    fn escapes_at_every_position_match_serde_json() {
        // serde_json escapes exactly as JSON.stringify does for these bytes.
        for special in [
            "\"", "\\", "\u{0}", "\u{1f}", "\n", "\u{7f}", "é", "😀", "\u{ffff}",
        ] {
            for len in 0..20 {
                for at in 0..=len {
                    let s = format!("{}{special}{}", "a".repeat(at), "b".repeat(len - at));
                    let mut out = Vec::new();
                    write_string(&s, &mut out);
                    assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn utf16_order_fast_path_agrees_with_reencoding() {
        let keys = [
            "",
            "a",
            "ab",
            "b",
            "\u{7f}",
            "\u{80}",
            "é",
            "\u{d7ff}",
            "\u{e000}",
            "\u{efff}",
            "\u{f000}",
            "\u{ffff}",
            "\u{10000}",
            "😀",
            "a😀",
            "a\u{ffff}",
            "a\u{e000}b",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    utf16_cmp(a, b),
                    a.encode_utf16().cmp(b.encode_utf16()),
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(
            canon(r#"{"\uffff":1,"😀":2,"a":3}"#),
            r#"{"a":3,"😀":2,"￿":1}"#
        );
    }

    #[test]
    fn integers_without_allocation_match_display() {
        for u in [
            0,
            1,
            9,
            10,
            99,
            100,
            12345,
            u32::MAX as u64,
            EXACT - 1,
            EXACT,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_digits(u, &mut out);
            assert_eq!(out, u.to_string().into_bytes());
        }
        assert_eq!(
            canon("[-1, -9007199254740992, 0, 42]"),
            "[-1,-9007199254740992,0,42]"
        );
    }
}
