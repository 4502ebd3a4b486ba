//! Checksums and issuer/number-plan rules that turn digit runs into PII
//! only when they are plausible: Luhn plus issuer ranges for cards, SSA rules
//! for SSNs, ISO 13616 mod-97 for IBANs, E.164 country codes for phones.

/// Luhn over ASCII digits.
pub(crate) fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut dbl = false;
    for &c in d.iter().rev() {
        let mut v = u32::from(c - b'0');
        if dbl {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
        dbl = !dbl;
    }
    sum.is_multiple_of(10)
}

fn prefix(d: &[u8], n: usize) -> u32 {
    d[..n.min(d.len())]
        .iter()
        .fold(0, |a, &c| a * 10 + u32::from(c - b'0'))
}

const ELO: &[(u32, u32)] = &[
    (401178, 401179),
    (431274, 431274),
    (438935, 438935),
    (451416, 451416),
    (457393, 457393),
    (457631, 457632),
    (504175, 504175),
    (506699, 506778),
    (509000, 509999),
    (627780, 627780),
    (636297, 636297),
    (636368, 636368),
    (650031, 650033),
    (650035, 650051),
    (650405, 650439),
    (650485, 650538),
    (650541, 650598),
    (650700, 650718),
    (650720, 650727),
    (650901, 650978),
    (651652, 651679),
    (655000, 655019),
    (655021, 655058),
];

const VERVE: &[(u32, u32)] = &[(506099, 506198), (650002, 650027), (507865, 507964)];

/// The card scheme whose issuer range and length fit `d` (13 to 19 digits), if any.
pub(crate) fn card_issuer(d: &[u8]) -> Option<&'static str> {
    let len = d.len();
    if !(13..=19).contains(&len) {
        return None;
    }
    let (p1, p2, p3, p4, p6) = (
        prefix(d, 1),
        prefix(d, 2),
        prefix(d, 3),
        prefix(d, 4),
        prefix(d, 6),
    );
    let in6 = |t: &[(u32, u32)]| t.iter().any(|&(a, b)| (a..=b).contains(&p6));
    if p1 == 4 && matches!(len, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16 {
        return Some("mastercard");
    }
    if (p2 == 34 || p2 == 37) && len == 15 {
        return Some("amex");
    }
    if (2200..=2204).contains(&p4) && len >= 16 {
        return Some("mir");
    }
    if in6(ELO) && len == 16 {
        return Some("elo");
    }
    if in6(VERVE) && matches!(len, 16 | 18 | 19) {
        return Some("verve");
    }
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
        && len >= 16
    {
        return Some("discover");
    }
    if (3528..=3589).contains(&p4) && len >= 16 {
        return Some("jcb");
    }
    if ((300..=305).contains(&p3) || p3 == 309 || p2 == 36 || p2 == 38 || p2 == 39) && len >= 14 {
        return Some("diners");
    }
    if (p2 == 62 || p2 == 81) && len >= 16 {
        return Some("unionpay");
    }
    if (p2 == 60 || p2 == 82 || p3 == 508 || p3 == 353 || p3 == 356) && len == 16 {
        return Some("rupay");
    }
    if p4 == 9792 && len == 16 {
        return Some("troy");
    }
    if p2 == 50
        || (56..=58).contains(&p2)
        || matches!(p4, 6304 | 6759 | 6761 | 6762 | 6763)
        || p3 == 639
        || p2 == 67
    {
        return Some("maestro");
    }
    None
}

/// A payment card: Luhn-valid and inside a known issuer range.
pub(crate) fn is_card(d: &[u8]) -> bool {
    card_issuer(d).is_some() && luhn(d)
}

/// US SSN rules: area 001-899 except 666, group 01-99, serial 0001-9999,
/// and the two numbers famously printed in advertising.
pub(crate) fn is_ssn(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let area = prefix(d, 3);
    let group = prefix(&d[3..], 2);
    let serial = prefix(&d[5..], 4);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    !matches!(d, b"078051120" | b"219099999")
}

/// IBAN length per country (ISO 13616 registry).
const IBAN_LEN: &[(&[u8; 2], u8)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

pub(crate) fn iban_len(cc: &[u8]) -> Option<usize> {
    IBAN_LEN
        .iter()
        .find(|(c, _)| &c[..] == cc)
        .map(|&(_, l)| usize::from(l))
}

/// ISO 7064 mod 97-10 over an IBAN given as uppercase alphanumerics.
pub(crate) fn iban_mod97(s: &[u8]) -> bool {
    if s.len() < 5 {
        return false;
    }
    let mut r: u32 = 0;
    for &c in s[4..].iter().chain(&s[..4]) {
        match c {
            b'0'..=b'9' => r = (r * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => r = (r * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    r == 1
}

/// Length of the E.164 country code at the start of `d` (ITU zone rules),
/// plus the national significant number length range we accept for it.
pub(crate) fn country_code(d: &[u8]) -> Option<(usize, u32, std::ops::RangeInclusive<usize>)> {
    if d.is_empty() || d[0] == b'0' {
        return None;
    }
    let p1 = prefix(d, 1);
    if p1 == 1 || p1 == 7 {
        return Some((1, p1, 10..=10));
    }
    if d.len() < 2 {
        return None;
    }
    let p2 = prefix(d, 2);
    let two = matches!(p2, 20 | 27 | 30..=34 | 36 | 39 | 40 | 41 | 43..=49 | 51..=58 | 60..=66 | 81 | 82 | 84 | 86 | 90..=95 | 98);
    if two {
        let nsn = match p2 {
            44 => 9..=10,
            49 => 6..=13,
            33 => 9..=9,
            91 => 10..=10,
            81 => 9..=10,
            55 => 10..=11,
            86 => 9..=11,
            61 | 34 | 31 | 41 | 27 | 32 | 48 | 46 => 7..=10,
            39 => 6..=11,
            52 => 10..=10,
            _ => 6..=13,
        };
        return Some((2, p2, nsn));
    }
    if d.len() < 3 {
        return None;
    }
    Some((3, prefix(d, 3), 6..=12))
}

/// NANP: area code and exchange both start 2-9, area code not N11.
pub(crate) fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d[0] >= b'2' && d[3] >= b'2' && !(d[1] == b'1' && d[2] == b'1')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuers() {
        assert!(is_card(b"4111111111111111"));
        assert!(is_card(b"5555555555554444"));
        assert!(is_card(b"2221000000000009"));
        assert!(is_card(b"378282246310005"));
        assert!(is_card(b"6011111111111117"));
        assert!(is_card(b"3530111333300000"));
        assert!(is_card(b"4222222222222"));
        assert!(!is_card(b"4111111111111112"), "fails Luhn");
        // Luhn-valid but starts with 1: no issuer.
        assert!(luhn(b"1234567812345670"));
        assert!(!is_card(b"1234567812345670"));
    }

    #[test]
    fn ssn_rules() {
        assert!(is_ssn(b"123456789"));
        assert!(!is_ssn(b"000123456"));
        assert!(!is_ssn(b"666123456"));
        assert!(!is_ssn(b"912345678"));
        assert!(!is_ssn(b"123004567"));
        assert!(!is_ssn(b"123450000"));
        assert!(!is_ssn(b"078051120"));
    }

    #[test]
    fn iban_checks() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
        assert_eq!(iban_len(b"DE"), Some(22));
    }

    #[test]
    fn country_codes() {
        assert_eq!(country_code(b"14155552671").map(|c| c.0), Some(1));
        assert_eq!(country_code(b"442079460958").map(|c| c.0), Some(2));
        assert_eq!(country_code(b"353861234567").map(|c| c.0), Some(3));
    }
}
