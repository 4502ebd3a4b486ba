//! The single byte pass for structured PII. Each 64-byte window is turned
//! into byte-class bitmaps (AVX2 or SSE2); only three kinds of position are
//! candidates: the first digit of a number that could be PII (not inside a
//! word, and 7+ digits or joined to more digits by a separator), an `@`, and
//! a word shaped like an IBAN. From there the validators decide email, URL
//! password, phone, card, SSN, IBAN and IPv4 by looking around the candidate,
//! so text without candidates costs a few instructions per 64 bytes.

use super::checks;
use super::steps::{self, Stage};
use super::{Span, T_CARD, T_EMAIL, T_IBAN, T_IP, T_PHONE, T_SECRET, T_SSN};

/// Which built-in detectors of this pass are on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanOpts {
    pub email: bool,
    pub phone: bool,
    pub card: bool,
    pub ssn: bool,
    pub iban: bool,
    pub ip: bool,
    pub secret: bool,
}

impl ScanOpts {
    fn digits_wanted(&self) -> bool {
        self.phone || self.card || self.ssn || self.iban || self.ip || self.email
    }
}

#[inline]
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Characters of a practical email local part (RFC 5322 atext minus the ones
/// that in practice delimit the address: `=`, `/`, `?`, `&`, `#`, `!`, ...).
#[inline]
fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-' | b'%' | b'\'')
}

/// Byte-class bitmaps of a 64-byte block: bit k is byte k.
#[derive(Clone, Copy, Default)]
struct Masks {
    digit: u64,
    word: u64,
    upper: u64,
    at: u64,
    /// Number-group separators: space - . ( ) /
    sep: u64,
    pct: u64,
}

fn masks_scalar(blk: &[u8]) -> Masks {
    let mut m = Masks::default();
    for (k, &c) in blk.iter().enumerate().take(64) {
        let bit = 1u64 << k;
        if c.is_ascii_digit() {
            m.digit |= bit;
        }
        if is_word(c) {
            m.word |= bit;
        }
        if c.is_ascii_uppercase() {
            m.upper |= bit;
        }
        if c == b'@' {
            m.at |= bit;
        }
        if is_sep(c) {
            m.sep |= bit;
        }
        if c == b'%' {
            m.pct |= bit;
        }
    }
    m
}

/// Masks of `b[i..i + 64]` (shorter at the end: missing bytes match nothing).
#[inline]
fn masks(b: &[u8], i: usize) -> Masks {
    if i + 64 > b.len() {
        return masks_scalar(&b[i..]);
    }
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: the four 16-byte loads stay inside b[i..i + 64], checked
        // above; SSE2 is part of the x86_64 baseline.
        unsafe {
            let flip = _mm_set1_epi8(0x80u8 as i8);
            let lt = |x: __m128i, lo: u8, n: u8| {
                let d = _mm_xor_si128(_mm_sub_epi8(x, _mm_set1_epi8(lo as i8)), flip);
                _mm_cmplt_epi8(d, _mm_set1_epi8((n ^ 0x80) as i8))
            };
            let case = _mm_set1_epi8(0x20);
            let us = _mm_set1_epi8(b'_' as i8);
            let at = _mm_set1_epi8(b'@' as i8);
            let pct = _mm_set1_epi8(b'%' as i8);
            let space = _mm_set1_epi8(b' ' as i8);
            let dash = _mm_set1_epi8(b'-' as i8);
            let slash = _mm_set1_epi8(b'/' as i8);
            let dot = _mm_set1_epi8(b'.' as i8);
            let mut m = Masks::default();
            for k in 0..4 {
                let v = _mm_loadu_si128(b.as_ptr().add(i + 16 * k) as *const __m128i);
                let digit = lt(v, b'0', 10);
                let upper = lt(v, b'A', 26);
                let alpha = lt(_mm_or_si128(v, case), b'a', 26);
                let word = _mm_or_si128(_mm_or_si128(digit, alpha), _mm_cmpeq_epi8(v, us));
                let sh = 16 * k as u32;
                m.digit |= u64::from(_mm_movemask_epi8(digit) as u16) << sh;
                m.word |= u64::from(_mm_movemask_epi8(word) as u16) << sh;
                m.upper |= u64::from(_mm_movemask_epi8(upper) as u16) << sh;
                m.at |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, at)) as u16) << sh;
                m.pct |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, pct)) as u16) << sh;
                // ( and ) are 0x28 and 0x29: one compare after clearing bit 0.
                let paren = _mm_cmpeq_epi8(
                    _mm_andnot_si128(_mm_set1_epi8(1), v),
                    _mm_set1_epi8(b'(' as i8),
                );
                let sep = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, dash)),
                    _mm_or_si128(
                        _mm_or_si128(_mm_cmpeq_epi8(v, slash), _mm_cmpeq_epi8(v, dot)),
                        paren,
                    ),
                );
                m.sep |= u64::from(_mm_movemask_epi8(sep) as u16) << sh;
            }
            m
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        masks_scalar(&b[i..i + 64])
    }
}

/// As [`masks`], 32 bytes per instruction.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn masks_avx2(b: &[u8], i: usize) -> Masks {
    use std::arch::x86_64::*;
    if i + 64 > b.len() {
        return masks_scalar(&b[i..]);
    }
    let flip = _mm256_set1_epi8(0x80u8 as i8);
    let lt = |x: __m256i, lo: u8, n: u8| {
        let d = _mm256_xor_si256(_mm256_sub_epi8(x, _mm256_set1_epi8(lo as i8)), flip);
        _mm256_cmpgt_epi8(_mm256_set1_epi8((n ^ 0x80) as i8), d)
    };
    let eq = |x: __m256i, c: u8| _mm256_cmpeq_epi8(x, _mm256_set1_epi8(c as i8));
    let bits = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32);
    let mut m = Masks::default();
    for k in 0..2 {
        // SAFETY: i + 64 <= len, checked above.
        let v = unsafe { _mm256_loadu_si256(b.as_ptr().add(i + 32 * k) as *const __m256i) };
        let digit = lt(v, b'0', 10);
        let alpha = lt(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), b'a', 26);
        let word = _mm256_or_si256(_mm256_or_si256(digit, alpha), eq(v, b'_'));
        let paren = eq(_mm256_andnot_si256(_mm256_set1_epi8(1), v), b'(');
        let sep = _mm256_or_si256(
            _mm256_or_si256(eq(v, b' '), eq(v, b'-')),
            _mm256_or_si256(_mm256_or_si256(eq(v, b'/'), eq(v, b'.')), paren),
        );
        let sh = 32 * k as u32;
        m.digit |= bits(digit) << sh;
        m.word |= bits(word) << sh;
        m.upper |= bits(lt(v, b'A', 26)) << sh;
        m.at |= bits(eq(v, b'@')) << sh;
        m.pct |= bits(eq(v, b'%')) << sh;
        m.sep |= bits(sep) << sh;
    }
    m
}

/// What a text holds, from one cheap pass: whether any detector can fire
/// at all. Most strings of a JSON event (keys, names, enum values, prose
/// without numbers) hold no digit, no `@` and no `:`/`=`, and are then
/// passed over without running the detectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Features {
    /// An ASCII digit: every candidate of [`scan`] but `@` needs one.
    pub digit: bool,
    pub at: bool,
    /// `:` or `=`: a sensitive key in text (`password=...`, `"token": "..."`)
    /// needs one after the key, and an IPv6 address needs `:`.
    pub assign: bool,
}

/// [`Features`] of `b`, 64 bytes per step in a loop the compiler vectorises.
/// It stops as soon as a digit is seen (every detector will run) and, if
/// `want_assign`, a `:` or `=` too; `at` is then left unknown (false).
pub(crate) fn features(b: &[u8], want_assign: bool) -> Features {
    let mut f = Features::default();
    for chunk in b.chunks(64) {
        let (mut d, mut at, mut asg) = (0u8, 0u8, 0u8);
        for &c in chunk {
            d |= u8::from(c.wrapping_sub(b'0') < 10);
            at |= u8::from(c == b'@');
            asg |= u8::from(c == b':') | u8::from(c == b'=');
        }
        f.digit |= d != 0;
        f.at |= at != 0;
        f.assign |= asg != 0;
        if f.digit && (f.assign || !want_assign) {
            break;
        }
    }
    f
}

/// The pass. Candidates are computed 64 bytes at a time as bitmaps: a digit
/// that starts a number (not inside a word: hex hashes, UUID parts and
/// identifiers never reach the validators), an `@`, and the start of a word
/// shaped like an IBAN (`[A-Z]{2}[0-9]{2}`). Only those are looked at.
pub(crate) fn scan(b: &[u8], o: &ScanOpts, out: &mut Vec<Span>) {
    if !(o.digits_wanted() || o.secret) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present, checked just above.
        unsafe { scan_avx2(b, o, out) };
        return;
    }
    scan_with(b, o, out, masks);
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(b: &[u8], o: &ScanOpts, out: &mut Vec<Span>) {
    // SAFETY: this function only runs where AVX2 is present.
    scan_with(b, o, out, |b, i| unsafe { masks_avx2(b, i) });
}

#[inline(always)]
fn scan_with(b: &[u8], o: &ScanOpts, out: &mut Vec<Span>, masks: impl Fn(&[u8], usize) -> Masks) {
    // Windows of 64 bytes advance by 56, so every lookahead used below
    // (at most 7 bytes) stays inside the window.
    const STEP: usize = 56;
    let n = b.len();
    steps::add(Stage::Scan, n);
    let mut i = 0;
    let mut cursor = 0;
    // The last window (all of most JSON strings) is classified from a copy
    // padded with NUL, which is in no class; validators read `b` itself.
    let mut pad = [0u8; 64];
    while i < n {
        let (src, at) = if i + 64 <= n {
            (b, i)
        } else {
            pad[..n - i].copy_from_slice(&b[i..]);
            pad[n - i..].fill(0);
            (&pad[..], 0)
        };
        let m = masks(src, at);
        let d = m.digit;
        let prev_word = u64::from(i > 0 && is_word(b[i - 1]));
        let after_word = (m.word << 1) | prev_word;
        // A number can only be PII with 7 digits in a row, or when a
        // separator joins it to more digits (`415 555`, `2026-11`, `(0)20`).
        let d2 = d & (d >> 1);
        let d4 = d2 & (d2 >> 2);
        let d7 = d4 & (d4 >> 3);
        let s = m.sep;
        let last = d & !(d >> 1);
        let joined = last & (s >> 1) & ((d >> 2) | ((s >> 2) & ((d >> 3) | ((s >> 3) & (d >> 4)))));
        // Carry the mark from a short run's last digit back to its first
        // (runs of 7 or more are in `d7` already): steps of 1, 2 and 4.
        let run = joined | ((joined >> 1) & d);
        let run = run | ((run >> 2) & d2);
        let run = run | ((run >> 4) & d4);
        let mut cand = (d & !after_word & (d7 | run)) | m.at | ((m.pct << 1) & d);
        if o.iban {
            cand |= m.upper & !after_word & (m.upper >> 1) & (d >> 2) & (d >> 3);
        }
        cand &= (1u64 << STEP) - 1;
        if cursor > i {
            cand &= u64::MAX.checked_shl((cursor - i) as u32).unwrap_or(0);
        }
        while cand != 0 {
            let p = i + cand.trailing_zeros() as usize;
            steps::add(Stage::Scan, 1);
            cursor = match b[p] {
                b'@' => on_at(b, p, o, out),
                c if c.is_ascii_digit() => on_digit(b, p, o, out),
                _ => on_iban(b, p, out),
            };
            cand &= u64::MAX.checked_shl((cursor - i) as u32).unwrap_or(0);
        }
        i = if cursor > i + STEP { cursor } else { i + STEP };
    }
}

fn on_iban(b: &[u8], p: usize, out: &mut Vec<Span>) -> usize {
    match iban(b, p) {
        Some((e, true)) => {
            out.push(Span::new(p, e, T_IBAN, "iban"));
            e
        }
        // IBAN-shaped but failing mod-97: skip it whole, its groups are not phones.
        Some((e, false)) => e,
        None => p + 1,
    }
}

/// The end of the `[0-9A-Za-z_]` run at `i` (16 bytes per step with SSE2:
/// hex hashes and identifiers are most of what a log's digits sit in).
fn skip_word(b: &[u8], i: usize) -> usize {
    let e = skip_word_inner(b, i);
    steps::add(Stage::Scan, e - i);
    e
}

fn skip_word_inner(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: loads stay inside `b` (i + 16 <= len); SSE2 is baseline on x86_64.
        unsafe {
            let flip = _mm_set1_epi8(0x80u8 as i8);
            let lt = |x: __m128i, lo: u8, n: u8| {
                let d = _mm_xor_si128(_mm_sub_epi8(x, _mm_set1_epi8(lo as i8)), flip);
                _mm_cmplt_epi8(d, _mm_set1_epi8((n ^ 0x80) as i8))
            };
            let case = _mm_set1_epi8(0x20);
            let us = _mm_set1_epi8(b'_' as i8);
            while i + 16 <= b.len() {
                let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                let word = _mm_or_si128(
                    _mm_or_si128(lt(v, b'0', 10), lt(_mm_or_si128(v, case), b'a', 26)),
                    _mm_cmpeq_epi8(v, us),
                );
                let non_word = !(_mm_movemask_epi8(word) as u32) & 0xFFFF;
                if non_word != 0 {
                    return i + non_word.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i < b.len() && is_word(b[i]) {
        i += 1;
    }
    i
}

fn on_digit(b: &[u8], p: usize, o: &ScanOpts, out: &mut Vec<Span>) -> usize {
    let prev = if p > 0 { b[p - 1] } else { b' ' };
    if is_word(prev) {
        return skip_word(b, p);
    }
    if prev == b'%' && b[p] == b'4' && b.get(p + 1) == Some(&b'0') && o.email {
        if let Some((s, e)) = email(b, p - 1, 3) {
            out.push(Span::new(s, e, T_EMAIL, "email_urlencoded"));
            return e;
        }
        return p + 2;
    }
    if !(o.phone || o.card || o.ssn || o.ip) {
        return skip_word(b, p);
    }
    // Glued to an identifier (`ORD-2026-000123`, `v1.2.3`, `path/123`): not PII.
    let glued = matches!(prev, b'-' | b'.' | b'/') && p >= 2 && b[p - 2].is_ascii_alphanumeric();
    number(b, p, o, out, glued)
}

fn on_at(b: &[u8], at: usize, o: &ScanOpts, out: &mut Vec<Span>) -> usize {
    if o.secret {
        if let Some((s, e)) = url_password(b, at) {
            out.push(Span::new(s, e, T_SECRET, "url_password"));
            return at + 1;
        }
    }
    if o.email {
        if let Some((s, e)) = email(b, at, 1) {
            out.push(Span::new(s, e, T_EMAIL, "email"));
            return e;
        }
    }
    at + 1
}

/// `scheme://user:password@host`: the password part.
fn url_password(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let lo = at.saturating_sub(256);
    let mut k = at;
    let mut colon = None;
    while k > lo {
        steps::add(Stage::Scan, 1);
        let c = b[k - 1];
        if c == b'/' {
            if k >= 3 && b[k - 2] == b'/' && b[k - 3] == b':' {
                let c = colon?;
                return (c + 1 < at).then_some((c + 1, at));
            }
            return None;
        }
        if c == b':' {
            colon = Some(k - 1);
        }
        if c.is_ascii_whitespace()
            || matches!(
                c,
                b'"' | b'\'' | b'<' | b'>' | b'?' | b'#' | b'@' | b'`' | b'\\'
            )
        {
            return None;
        }
        k -= 1;
    }
    None
}

const EXT_DENY: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"css", b"js", b"mjs", b"ts", b"map",
    b"json", b"txt", b"log", b"py", b"rs", b"go", b"java", b"html", b"htm", b"xml", b"yaml",
    b"yml", b"toml", b"lock", b"md", b"bmp", b"tiff", b"woff", b"woff2", b"ttf", b"pdf", b"zip",
    b"gz",
];

/// An email whose `@` (or `%40`, `at_len` 3) is at `at`: (start, end).
pub(crate) fn email(b: &[u8], at: usize, at_len: usize) -> Option<(usize, usize)> {
    // Local part, leftwards.
    let lo = at.saturating_sub(64);
    let mut s = at;
    while s > lo && is_local(b[s - 1]) {
        s -= 1;
    }
    steps::add(Stage::Scan, at - s);
    while s < at && matches!(b[s], b'.' | b'-' | b'+' | b'\'') {
        s += 1;
    }
    if s == at || b[at - 1] == b'.' {
        return None;
    }
    let end = domain(b, at + at_len)?;
    Some((s, end))
}

/// Parses a domain from `ds`; returns its end. Labels may be internationalised;
/// the last label must be an ASCII TLD (text glued after it, as in Japanese
/// sentences, is left out) or an all-non-ASCII label followed by a boundary.
fn domain(b: &[u8], ds: usize) -> Option<usize> {
    let n = b.len();
    let mut labels: [(usize, usize, bool); 16] = [(0, 0, false); 16];
    let mut nl = 0;
    let mut i = ds;
    loop {
        let ls = i;
        let mut non_ascii = false;
        while i < n {
            let c = b[i];
            if c.is_ascii_alphanumeric() || c == b'-' {
                i += 1;
            } else if c >= 0x80 {
                match decode(b, i) {
                    Some((ch, w)) if ch.is_alphanumeric() => {
                        non_ascii = true;
                        i += w;
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        steps::add(Stage::Scan, i - ls + 1);
        if i == ls || i - ls > 63 * 4 {
            break;
        }
        labels[nl] = (ls, i, non_ascii);
        nl += 1;
        if nl == labels.len() {
            break;
        }
        if i + 1 < n && b[i] == b'.' && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] >= 0x80) {
            i += 1;
        } else {
            break;
        }
    }
    while nl >= 2 {
        let (ls, le, non_ascii) = labels[nl - 1];
        let lab = &b[ls..le];
        let end = if non_ascii {
            let ascii_run = lab.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            if ascii_run >= 2 {
                Some(ls + ascii_run)
            } else if ascii_run == 0
                && lab.iter().all(|&c| c >= 0x80)
                && b.get(le).is_none_or(|&c| c < 0x80 && !is_word(c))
            {
                Some(le)
            } else {
                None
            }
        } else {
            Some(le)
        };
        if let Some(e) = end {
            let tld = &b[ls..e];
            let ok_ascii = tld.iter().all(|c| c.is_ascii_alphabetic())
                && (2..=63).contains(&tld.len())
                && !EXT_DENY.iter().any(|x| x.eq_ignore_ascii_case(tld));
            let punycode = tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--");
            let ok = ok_ascii || punycode || tld.iter().all(|&c| c >= 0x80);
            let labels_ok = labels[..nl - 1]
                .iter()
                .all(|&(s, e, _)| b[s] != b'-' && b[e - 1] != b'-');
            if ok && labels_ok {
                return Some(e);
            }
        }
        nl -= 1;
    }
    None
}

fn decode(b: &[u8], i: usize) -> Option<(char, usize)> {
    let w = match b[i] {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(i..i + w)?).ok()?;
    s.chars().next().map(|c| (c, w))
}

/// An IBAN starting at `s` (two uppercase letters, then digits), compact or in
/// groups of four separated by single spaces, of its country's length: its
/// end and whether mod-97 holds.
fn iban(b: &[u8], s: usize) -> Option<(usize, bool)> {
    let want = checks::iban_len(&b[s..s + 2])?;
    let mut buf = [0u8; 34];
    let mut k = 0;
    let mut i = s;
    while k < want && i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            buf[k] = c;
            k += 1;
            i += 1;
        } else if c == b' '
            && k % 4 == 0
            && k > 0
            && i + 1 < b.len()
            && b[i + 1].is_ascii_alphanumeric()
        {
            i += 1;
        } else {
            break;
        }
    }
    steps::add(Stage::Scan, i - s);
    if k != want || b.get(i).is_some_and(|&c| is_word(c)) {
        return None;
    }
    Some((i, checks::iban_mod97(&buf[..k])))
}

const MAX_GROUPS: usize = 12;

#[inline]
fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

#[derive(Clone, Copy, Default)]
struct Group {
    s: usize,
    e: usize,
}

/// A run of digit groups joined by short separators, starting at digit `p`.
fn number(b: &[u8], p: usize, o: &ScanOpts, out: &mut Vec<Span>, glued: bool) -> usize {
    let n = b.len();
    // The bitmap filter in `scan` only lets through runs of 7+ digits or
    // runs a separator joins to more digits.
    if glued {
        // `ORD-2026-000123`, `v1.2.3`: step over this run only; the next run
        // is glued the same way, and a number after a space is looked at.
        let mut q = p;
        while q < n && b[q].is_ascii_digit() {
            q += 1;
        }
        steps::add(Stage::Scan, q - p);
        return q;
    }
    let mut g = [Group::default(); MAX_GROUPS];
    let mut ng = 0;
    let mut total = 0;
    let mut i = p;
    loop {
        let s = i;
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        g[ng] = Group { s, e: i };
        ng += 1;
        total += i - s;
        if ng == MAX_GROUPS {
            break;
        }
        let mut j = i;
        let mut spaces = 0;
        while j < n && j - i < 3 && is_sep(b[j]) {
            spaces += usize::from(b[j] == b' ');
            j += 1;
        }
        if j > i && spaces <= 2 && j < n && b[j].is_ascii_digit() {
            i = j;
        } else {
            break;
        }
    }
    let end = g[ng - 1].e;
    // The groups read, and the candidate sub-runs tried below (at most
    // MAX_GROUPS squared).
    steps::add(Stage::Scan, end - p + ng * ng);
    // A last group glued to a word (`2026-11-23T`, `12.5ms`) cannot end a
    // number unless it is a phone extension (`x12`, `ext`, `#`).
    let last_usable = b
        .get(end)
        .is_none_or(|&c| !is_word(c) || matches!(c, b'x' | b'X' | b'e' | b'E'));
    let usable = if last_usable {
        total
    } else {
        total - (end - g[ng - 1].s)
    };
    if usable < 7 && !o.ip {
        return skip_word(b, end);
    }
    let plus = p > 0 && b[p - 1] == b'+' && (p < 2 || !is_word(b[p - 2]));
    let mut gi = 0;
    while gi < ng {
        let start_ok = gi == 0
            || b[g[gi - 1].e..g[gi].s]
                .iter()
                .any(|&c| c == b' ' || c == b'(');
        if !start_ok {
            gi += 1;
            continue;
        }
        if let Some(last) = ipv4(b, &g[..ng], gi) {
            if o.ip {
                out.push(Span::new(g[gi].s, g[last].e, T_IP, "ipv4"));
            }
            gi = last + 1;
            continue;
        }
        let mut hit = None;
        let mut digits = [0u8; 24];
        for gj in (gi..ng).rev() {
            let cnt: usize = g[gi..=gj].iter().map(|x| x.e - x.s).sum();
            if cnt < 7 {
                break;
            }
            if cnt > 20 {
                continue;
            }
            let mut ext_end = None;
            if gj == ng - 1 && b.get(g[gj].e).is_some_and(|&c| is_word(c)) {
                match extension(b, g[gj].e) {
                    Some(e) => ext_end = Some(e),
                    None => continue,
                }
            }
            let mut k = 0;
            for x in &g[gi..=gj] {
                digits[k..k + x.e - x.s].copy_from_slice(&b[x.s..x.e]);
                k += x.e - x.s;
            }
            let d = &digits[..k];
            let c = Cand {
                b,
                g: &g[gi..=gj],
                d,
                intl: plus && gi == 0,
                left_group: if gi > 0 && &b[g[gi - 1].e..g[gi].s] == b" " {
                    g[gi - 1].e - g[gi - 1].s
                } else {
                    0
                },
            };
            if ext_end.is_none() && o.card && c.card() {
                hit = Some((gj, g[gi].s, g[gj].e, T_CARD, "card"));
                break;
            }
            if ext_end.is_none() && o.ssn && c.ssn() {
                hit = Some((gj, g[gi].s, g[gj].e, T_SSN, "ssn"));
                break;
            }
            if o.phone && c.phone() {
                // The `+` of an international number, or an opening parenthesis.
                let opened = g[gi].s > 0 && b[g[gi].s - 1] == b'(';
                let s = if c.intl || opened {
                    g[gi].s - 1
                } else {
                    g[gi].s
                };
                let e = ext_end.or_else(|| extension(b, g[gj].e)).unwrap_or(g[gj].e);
                hit = Some((gj, s, e, T_PHONE, "phone"));
                break;
            }
        }
        match hit {
            Some((gj, s, e, t, rule)) => {
                out.push(Span::new(s, e, t, rule));
                if gj == ng - 1 {
                    return e.max(end);
                }
                gi = gj + 1;
            }
            None => gi += 1,
        }
    }
    skip_word(b, end)
}

/// Phone extension right after `e`: ` ext. 123`, `x123`, `#123`.
fn extension(b: &[u8], e: usize) -> Option<usize> {
    let mut i = e;
    while i < b.len() && i - e < 2 && b[i] == b' ' {
        i += 1;
    }
    let rest = &b[i..];
    let kw = [&b"extension"[..], b"ext.", b"ext", b"x", b"#"]
        .into_iter()
        .find(|k| rest.len() >= k.len() && rest[..k.len()].eq_ignore_ascii_case(k))?;
    i += kw.len();
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let ds = i;
    while i < b.len() && b[i].is_ascii_digit() && i - ds < 6 {
        i += 1;
    }
    steps::add(Stage::Scan, i - e);
    (i > ds && b.get(i).is_none_or(|&c| !is_word(c))).then_some(i)
}

/// Four dot-separated groups of at most 255 from group `gi`: the index of the last.
fn ipv4(b: &[u8], g: &[Group], gi: usize) -> Option<usize> {
    if gi + 4 > g.len() {
        return None;
    }
    for k in gi..gi + 4 {
        let x = g[k];
        let len = x.e - x.s;
        if len == 0 || len > 3 || (len > 1 && b[x.s] == b'0') {
            return None;
        }
        let v = b[x.s..x.e]
            .iter()
            .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
        if v > 255 {
            return None;
        }
        if k > gi && &b[g[k - 1].e..x.s] != b"." {
            return None;
        }
    }
    if gi + 4 < g.len() && &b[g[gi + 3].e..g[gi + 4].s] == b"." {
        return None;
    }
    Some(gi + 3)
}

struct Cand<'a> {
    b: &'a [u8],
    g: &'a [Group],
    d: &'a [u8],
    intl: bool,
    /// Digits in the group just before this candidate when only a space
    /// separates them (0 otherwise).
    left_group: usize,
}

impl Cand<'_> {
    fn sep(&self, k: usize) -> &[u8] {
        &self.b[self.g[k - 1].e..self.g[k].s]
    }
    fn len(&self, k: usize) -> usize {
        self.g[k].e - self.g[k].s
    }
    fn lens_are(&self, want: &[usize]) -> bool {
        self.g.len() == want.len() && (0..want.len()).all(|k| self.len(k) == want[k])
    }
    fn seps_uniform(&self, allowed: &[&[u8]]) -> bool {
        let first = if self.g.len() > 1 {
            self.sep(1)
        } else {
            return true;
        };
        allowed.contains(&first) && (2..self.g.len()).all(|k| self.sep(k) == first)
    }

    fn card(&self) -> bool {
        if !(13..=19).contains(&self.d.len()) {
            return false;
        }
        let m = self.g.len();
        let grouping = m == 1
            || ((3..=5).contains(&m)
                && self.seps_uniform(&[b" ", b"-"])
                && (0..m)
                    .all(|k| (3..=6).contains(&self.len(k)) || (k == m - 1 && self.len(k) >= 1)));
        grouping && checks::is_card(self.d)
    }

    fn ssn(&self) -> bool {
        if self.d.len() != 9 || !checks::is_ssn(self.d) {
            return false;
        }
        if self.lens_are(&[3, 2, 4]) && self.seps_uniform(&[b"-", b" "]) {
            return true;
        }
        // A bare nine-digit number is an SSN only when the text says so.
        if self.g.len() == 1 {
            let s = self.g[0].s;
            let ctx = &self.b[s.saturating_sub(32)..s];
            return contains_ci(ctx, b"ssn") || contains_ci(ctx, b"social security");
        }
        false
    }

    fn val(&self, k: usize) -> u32 {
        self.b[self.g[k].s..self.g[k].e].iter().fold(0, |a, &c| {
            a.saturating_mul(10).saturating_add(u32::from(c - b'0'))
        })
    }

    /// `23.11.2026`, `11/23/26`, `2026-11-23` (with plausible day, month, year).
    fn looks_like_date(&self) -> bool {
        let m = self.g.len();
        if m < 3 {
            return false;
        }
        let s1 = self.sep(1);
        if s1 != self.sep(2) || !matches!(s1, b"." | b"-" | b"/") {
            return false;
        }
        let (a, b2, c) = (self.len(0), self.len(1), self.len(2));
        let (v0, v1, v2) = (self.val(0), self.val(1), self.val(2));
        let year4 = |v: u32| (1900..=2199).contains(&v);
        let dm =
            |x: u32, y: u32| (1..=31).contains(&x) && (1..=31).contains(&y) && (x <= 12 || y <= 12);
        (a <= 2 && b2 <= 2 && dm(v0, v1) && ((c == 4 && year4(v2)) || (c == 2 && m == 3)))
            || (a == 4 && year4(v0) && b2 <= 2 && c <= 2 && dm(v1, v2))
    }

    fn phone(&self) -> bool {
        let d = self.d;
        let m = self.g.len();
        // `0044 20 7946 0958`: the 00 international prefix instead of `+`.
        let dial00 =
            !self.intl && m > 1 && d.len() > 3 && d[0] == b'0' && d[1] == b'0' && d[2] != b'0';
        if self.intl || dial00 {
            if m > 8 {
                return false;
            }
            let skip = if dial00 { 2 } else { 0 };
            let d = &d[skip..];
            let Some((cc_len, cc, nsn_range)) = checks::country_code(d) else {
                return false;
            };
            if m > 1 && self.len(0) < cc_len + skip || (dial00 && self.len(0) != cc_len + 2) {
                return false;
            }
            let mut nsn = &d[cc_len..];
            // "+44 (0)20 ...": a written trunk zero is not part of the number.
            if m > 2 && self.len(0) == cc_len + skip && self.len(1) == 1 && d[cc_len] == b'0' {
                nsn = &nsn[1..];
            }
            if nsn.is_empty() {
                return false;
            }
            if cc == 1 {
                return checks::nanp(nsn);
            }
            // Italy keeps its leading zero after the country code.
            return nsn_range.contains(&nsn.len()) && (nsn[0] != b'0' || cc == 39);
        }
        if m > 6 || self.looks_like_date() {
            return false;
        }
        if m > 1 && (1..m).any(|k| self.len(k) < 2) {
            return false;
        }
        // The tail of a longer space-grouped number (`4302 0304 0006 7379`) is not a phone.
        if self.left_group >= 2 {
            return false;
        }
        let len = d.len();
        // US/CA: NXX NXX XXXX, optionally with a leading 1.
        let nanp_shape = self.lens_are(&[3, 3, 4])
            || self.lens_are(&[1, 3, 3, 4])
            || (m == 1 && (len == 10 || len == 11));
        if nanp_shape {
            let core = if len == 11 && d[0] == b'1' {
                &d[1..]
            } else {
                d
            };
            if checks::nanp(core) {
                return true;
            }
        }
        if m > 1 && self.len(0) < 2 {
            return false;
        }
        // Trunk-prefix national numbers: UK, DE, FR, JP, IN, BR written with a leading 0.
        if d[0] == b'0'
            && d[1] != b'0'
            && (10..=12).contains(&len)
            && (m == 1 || (2..=6).contains(&self.len(0)))
        {
            if m == 1 {
                return true;
            }
            // FR writes pairs; everyone else an area code then one to three groups.
            return (m <= 4 && self.len(m - 1) >= 3) || self.lens_are(&[2, 2, 2, 2, 2]);
        }
        // IN mobile without the trunk prefix: 98765 43210, 9876543210.
        if len == 10 && d[0] >= b'6' && (m == 1 || self.lens_are(&[5, 5])) {
            return true;
        }
        // BR: (11) 91234-5678, (21) 2345-6789.
        if (len == 10 || len == 11)
            && m == 3
            && self.len(0) == 2
            && d[0] != b'0'
            && d[1] != b'0'
            && (self.lens_are(&[2, 4, 4]) || (self.lens_are(&[2, 5, 4]) && d[2] == b'9'))
            && self.sep(2) == b"-"
        {
            return true;
        }
        // CN mobile: 138 1234 5678.
        len == 11
            && d[0] == b'1'
            && (b'3'..=b'9').contains(&d[1])
            && (m == 1 || self.lens_are(&[3, 4, 4]))
    }
}

fn contains_ci(h: &[u8], n: &[u8]) -> bool {
    steps::add(Stage::Scan, h.len());
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// IPv6 addresses (only when IP redaction is on): candidates around each `:`
/// made of hex digits, colons and dots, parsed by the standard library.
pub(crate) fn scan_ipv6(b: &[u8], out: &mut Vec<Span>) {
    steps::add(Stage::Ipv6, b.len());
    let is_v6 = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut from = 0;
    while let Some(off) = memchr::memchr(b':', &b[from..]) {
        let c = from + off;
        let mut s = c;
        while s > 0 && is_v6(b[s - 1]) {
            s -= 1;
        }
        let mut e = c;
        while e < b.len() && is_v6(b[e]) {
            e += 1;
        }
        steps::add(Stage::Ipv6, 1 + (e - s));
        // Trailing dots or colons belong to the sentence, not the address.
        while e > c + 1 && matches!(b[e - 1], b'.') {
            e -= 1;
        }
        let boundary = (s == 0 || !is_word(b[s - 1])) && b.get(e).is_none_or(|&x| !is_word(x));
        let cand = &b[s..e];
        let colons = cand.iter().filter(|&&x| x == b':').count();
        if boundary && colons >= 2 && cand.iter().any(|x| x.is_ascii_digit()) {
            if let Ok(txt) = std::str::from_utf8(cand) {
                if txt.parse::<std::net::Ipv6Addr>().is_ok() {
                    out.push(Span::new(s, e, T_IP, "ipv6"));
                }
            }
        }
        from = e.max(c + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_masks_match_scalar() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = vec![0u8; 4096];
        for c in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly the interesting ASCII range, sometimes any byte.
            *c = if x.is_multiple_of(5) {
                x as u8
            } else {
                b" -./()%@_09AZaz:x"[(x % 17) as usize]
            };
        }
        for i in (0..buf.len() - 64).step_by(7) {
            let (a, s) = (masks(&buf, i), masks_scalar(&buf[i..i + 64]));
            let key = |m: Masks| (m.digit, m.word, m.upper, m.at, m.sep, m.pct);
            assert_eq!(key(a), key(s), "sse2 at {i}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 checked just above.
                let v = unsafe { masks_avx2(&buf, i) };
                assert_eq!(key(v), key(s), "avx2 at {i}");
            }
        }
    }

    #[test]
    fn findings_do_not_depend_on_block_alignment() {
        let body =
            "call +44 20 7946 0958, iban DE89 3704 0044 0532 0130 00, mail x.y@example.com, \
                    card 4111 1111 1111 1111, ssn 123-45-6789, id=5555555555554444;";
        let o = ScanOpts {
            email: true,
            phone: true,
            card: true,
            ssn: true,
            iban: true,
            ip: false,
            secret: true,
        };
        let mut base = Vec::new();
        scan(body.as_bytes(), &o, &mut base);
        assert_eq!(base.len(), 6);
        for pad in 0..140 {
            let text = format!("{}{body}", " ".repeat(pad));
            let mut got = Vec::new();
            scan(text.as_bytes(), &o, &mut got);
            let got: Vec<_> = got
                .iter()
                .map(|s| (s.start - pad, s.end - pad, s.ty))
                .collect();
            let want: Vec<_> = base.iter().map(|s| (s.start, s.end, s.ty)).collect();
            assert_eq!(got, want, "pad {pad}");
        }
    }
}
