//! Credentials found by their prefix or their key: one Aho-Corasick automaton
//! over vendor prefixes (`ghp_`, `AKIA`, `sk-`, `xoxb-`, `eyJ`, `-----BEGIN`,
//! `Bearer`, ...) and over the sensitive key names, so that text holding none
//! of them is rejected by the automaton's SIMD prefilter. Each hit is then
//! confirmed by a small validator that also finds where the secret ends.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::steps::{self, Stage};
use super::{Span, T_CARD, T_SECRET, T_SSN};

#[derive(Clone, Copy, Debug)]
enum Rule {
    AwsKeyId,
    Github,
    GithubPat,
    LlmKey,
    HuggingFace,
    Groq,
    Slack,
    SlackWebhook,
    Stripe,
    GoogleKey,
    Jwt,
    Pem,
    Bearer,
    /// A sensitive key name in text (`password=`, `"api_key": "`), by index of
    /// the type it is reported as.
    Key(u16),
}

const PREFIXES: &[(&str, Rule)] = &[
    ("AKIA", Rule::AwsKeyId),
    ("ASIA", Rule::AwsKeyId),
    ("ABIA", Rule::AwsKeyId),
    ("ACCA", Rule::AwsKeyId),
    ("ghp_", Rule::Github),
    ("gho_", Rule::Github),
    ("ghu_", Rule::Github),
    ("ghs_", Rule::Github),
    ("ghr_", Rule::Github),
    ("github_pat_", Rule::GithubPat),
    ("sk-", Rule::LlmKey),
    ("hf_", Rule::HuggingFace),
    ("gsk_", Rule::Groq),
    ("xox", Rule::Slack),
    ("xapp-", Rule::Slack),
    ("hooks.slack.com/services/", Rule::SlackWebhook),
    ("sk_live_", Rule::Stripe),
    ("sk_test_", Rule::Stripe),
    ("rk_live_", Rule::Stripe),
    ("rk_test_", Rule::Stripe),
    ("whsec_", Rule::Stripe),
    ("AIza", Rule::GoogleKey),
    ("eyJ", Rule::Jwt),
    ("-----BEGIN ", Rule::Pem),
    ("Bearer ", Rule::Bearer),
    ("bearer ", Rule::Bearer),
    ("BEARER ", Rule::Bearer),
];

/// The shortest text a prefix rule accepts: a Slack token, `xoxb-` and at
/// least 8 more (13 bytes); every other rule needs more (`Bearer ` + 8, a
/// 20-character AWS key id, a JWT's three parts, ...). Checked by
/// `prefix_rules_need_min_len` in the tests.
pub(crate) const MIN_PREFIXED_LEN: usize = 13;

/// The sensitive keys sharing one last word (the automaton's anchor): for
/// each, the words before it and the type its value is reported as.
struct Anchor {
    word: String,
    keys: Vec<(Vec<String>, u16)>,
}

pub(crate) struct Secrets {
    ac: Option<AhoCorasick>,
    rules: Vec<(Rule, usize)>,
    anchors: Vec<Anchor>,
    secrets_on: bool,
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Lowercase words of a key: `api_key` -> [api, key], `apiKey` -> [api, key].
pub(crate) fn key_words(key: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

impl Secrets {
    /// `keys`: every sensitive key as its words, with the type to report.
    ///
    /// The automaton is case-sensitive (its SIMD prefilter is several times
    /// faster so): key anchors are added as `word`, `WORD` and `Word`.
    pub(crate) fn new(secrets_on: bool, keys: &[(Vec<String>, u16)]) -> Self {
        let mut pats: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        if secrets_on {
            for &(p, r) in PREFIXES {
                pats.push(p.to_string());
                rules.push((r, p.len()));
            }
        }
        let mut anchors: Vec<Anchor> = Vec::new();
        for (words, t) in keys {
            let Some((last, before)) = words.split_last() else {
                continue;
            };
            match anchors.iter_mut().find(|a| &a.word == last) {
                Some(a) => a.keys.push((before.to_vec(), *t)),
                None => anchors.push(Anchor {
                    word: last.clone(),
                    keys: vec![(before.to_vec(), *t)],
                }),
            }
        }
        // Keys with fewer words before the anchor are tried last.
        for a in &mut anchors {
            a.keys.sort_by_key(|k| std::cmp::Reverse(k.0.len()));
        }
        if secrets_on && !anchors.iter().any(|a| a.word == "key") {
            // The AWS secret key is found in context (`aws_secret_access_key = ...`).
            anchors.push(Anchor {
                word: "key".into(),
                keys: Vec::new(),
            });
        }
        for (ai, a) in anchors.iter().enumerate() {
            let mut cap = a.word.clone();
            cap[..1].make_ascii_uppercase();
            let mut variants = vec![a.word.clone(), a.word.to_ascii_uppercase(), cap];
            variants.dedup();
            for v in variants {
                rules.push((Rule::Key(ai as u16), v.len()));
                pats.push(v);
            }
        }
        let ac = (!pats.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(&pats)
                .expect("literal patterns always compile")
        });
        Secrets {
            ac,
            rules,
            anchors,
            secrets_on,
        }
    }

    /// Whether [`Secrets::scan`] can find anything in a text of `len` bytes
    /// with (`assign`) or without a `:` or `=`: a key needs one after it,
    /// and no vendor-prefixed secret is shorter than [`MIN_PREFIXED_LEN`].
    pub(crate) fn may_match(&self, len: usize, assign: bool) -> bool {
        self.ac.is_some() && (assign || (self.secrets_on && len >= MIN_PREFIXED_LEN))
    }

    pub(crate) fn scan(&self, b: &[u8], out: &mut Vec<Span>) {
        let Some(ac) = &self.ac else { return };
        steps::add(Stage::Secrets, b.len());
        for m in ac.find_iter(b) {
            steps::add(Stage::Secrets, 1);
            let (rule, plen) = self.rules[m.pattern().as_usize()];
            let s = m.start();
            if let Some(span) = self.validate(b, s, plen, rule) {
                out.push(span);
            }
        }
    }

    /// A sensitive key ending with anchor `ai` at `[s, s + plen)`: the words
    /// before the anchor must precede it, each optionally followed by one
    /// separator.
    fn key(&self, b: &[u8], s: usize, plen: usize, ai: u16) -> Option<Span> {
        let a = &self.anchors[ai as usize];
        if self.secrets_on && a.word == "key" {
            if let Some(span) = aws_secret(b, s, plen) {
                return Some(span);
            }
        }
        'keys: for (before, t) in &a.keys {
            let mut k = s;
            for w in before.iter().rev() {
                if k > 0 && matches!(b[k - 1], b'_' | b'-' | b' ' | b'.') {
                    k -= 1;
                }
                if k < w.len() || !b[k - w.len()..k].eq_ignore_ascii_case(w.as_bytes()) {
                    continue 'keys;
                }
                k -= w.len();
            }
            return key_value(b, s + plen, *t);
        }
        None
    }

    fn validate(&self, b: &[u8], s: usize, plen: usize, rule: Rule) -> Option<Span> {
        let prefix = &b[s..s + plen];
        let left_ok = s == 0 || !is_word(b[s - 1]);
        let alnum = |c: u8| c.is_ascii_alphanumeric();
        let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        let exact = |p: &str| prefix == p.as_bytes();
        let sec = |e: usize, rule: &'static str, keep: usize| Some(Span::secret(s, e, rule, keep));
        match rule {
            Rule::AwsKeyId => {
                let e = run(b, s + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
                (left_ok
                    && prefix.iter().all(u8::is_ascii_uppercase)
                    && e - s == 20
                    && b.get(e).is_none_or(|&c| !is_word(c)))
                .then(|| Span::secret(s, e, "aws_access_key_id", 4))
            }
            Rule::Github => {
                let e = run(b, s + plen, alnum);
                (left_ok && prefix.iter().all(|c| !c.is_ascii_uppercase()) && e - s - plen >= 30)
                    .then(|| Span::secret(s, e, "github_token", plen))
            }
            Rule::GithubPat => {
                let e = run(b, s + plen, |c| alnum(c) || c == b'_');
                (left_ok && exact("github_pat_") && e - s - plen >= 22)
                    .then(|| Span::secret(s, e, "github_token", plen))
            }
            Rule::LlmKey => {
                let e = run(b, s + plen, b64url);
                (left_ok && exact("sk-") && e - s - plen >= 20)
                    .then(|| Span::secret(s, e, "llm_api_key", plen))
            }
            Rule::HuggingFace | Rule::Groq => {
                let e = run(b, s + plen, alnum);
                let lower = prefix.iter().all(|c| !c.is_ascii_uppercase());
                (left_ok && lower && e - s - plen >= 30)
                    .then(|| Span::secret(s, e, "llm_api_key", plen))
            }
            Rule::Slack => {
                if prefix == b"xox"
                    && !(matches!(b.get(s + 3), Some(b'b' | b'a' | b'p' | b'r' | b's' | b'e'))
                        && b.get(s + 4) == Some(&b'-'))
                {
                    return None;
                }
                let e = run(b, s + plen, |c| alnum(c) || c == b'-');
                let lower = prefix.iter().all(|c| !c.is_ascii_uppercase());
                (left_ok && lower && e - s - plen >= 10)
                    .then(|| Span::secret(s, e, "slack_token", plen))
            }
            Rule::SlackWebhook => {
                let e = run(b, s + plen, |c| alnum(c) || c == b'/');
                (e - s - plen >= 20).then(|| Span::secret(s + plen, e, "slack_webhook", 0))
            }
            Rule::Stripe => {
                let e = run(b, s + plen, alnum);
                let lower = prefix.iter().all(|c| !c.is_ascii_uppercase());
                (left_ok && lower && e - s - plen >= 16)
                    .then(|| Span::secret(s, e, "stripe_key", plen))
            }
            Rule::GoogleKey => {
                let e = run(b, s + plen, b64url);
                (left_ok && exact("AIza") && e - s == 39)
                    .then(|| Span::secret(s, e, "google_api_key", plen))
            }
            Rule::Jwt => {
                if !left_ok || !exact("eyJ") {
                    return None;
                }
                let e1 = run(b, s + 3, b64url);
                if e1 - s < 10 || b.get(e1) != Some(&b'.') {
                    return None;
                }
                let e2 = run(b, e1 + 1, b64url);
                if e2 - e1 < 9 || b.get(e2) != Some(&b'.') {
                    return None;
                }
                let e3 = run(b, e2 + 1, b64url);
                sec(e3, "jwt", 0)
            }
            Rule::Pem => {
                if !exact("-----BEGIN ") {
                    return None;
                }
                let hdr_end = run(b, s + plen, |c| c.is_ascii_uppercase() || c == b' ');
                let label = &b[s + plen..hdr_end];
                if !label.ends_with(b"PRIVATE KEY") || !b[hdr_end..].starts_with(b"-----") {
                    return None;
                }
                let body = hdr_end + 5;
                let e = match memchr::memmem::find(&b[body..], b"-----END ") {
                    Some(off) => {
                        let t = body + off + 9;
                        match memchr::memmem::find(&b[t..], b"-----") {
                            Some(o2) => t + o2 + 5,
                            None => b.len(),
                        }
                    }
                    None => b.len(),
                };
                steps::add(Stage::Secrets, e - body);
                sec(e, "private_key", 0)
            }
            Rule::Bearer => {
                let mut i = s + plen;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                let e = run(b, i, |c| {
                    alnum(c) || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
                });
                (left_ok && e - i >= 8).then(|| Span::secret(i, e, "bearer_token", 0))
            }
            Rule::Key(ai) => self.key(b, s, plen, ai),
        }
        .filter(|_| self.secrets_on || matches!(rule, Rule::Key(_)))
    }
}

/// `aws_secret_access_key = <40 chars>` (any case and separators): the key
/// ends with the anchor `key` at `[s, s + plen)`.
fn aws_secret(b: &[u8], s: usize, plen: usize) -> Option<Span> {
    let before = &b[s.saturating_sub(16)..s];
    let norm: Vec<u8> = before
        .iter()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    if !norm.ends_with(b"secretaccess") && !norm.ends_with(b"secret") {
        return None;
    }
    let mut i = s + plen;
    let mut seen_assign = false;
    while i < b.len()
        && i - (s + plen) < 6
        && matches!(b[i], b' ' | b'"' | b'\'' | b':' | b'=' | b'\t' | b'\\')
    {
        seen_assign |= matches!(b[i], b':' | b'=');
        i += 1;
    }
    let key = |c: u8| c.is_ascii_alphanumeric() || c == b'/' || c == b'+' || c == b'=';
    let e = run(b, i, key);
    (seen_assign && e - i == 40).then(|| Span::secret(i, e, "aws_secret_access_key", 0))
}

/// After a sensitive key ending at `k`: `"key": "value"`, `key=value`,
/// `key: value`, JSON inside a string (`\"key\":\"value\"`). Returns the value.
fn key_value(b: &[u8], k: usize, t: u16) -> Option<Span> {
    let n = b.len();
    let mut i = k;
    // Closing quote of the key, possibly escaped.
    if i < n && b[i] == b'\\' && b.get(i + 1) == Some(&b'"') {
        i += 2;
    } else if i < n && matches!(b[i], b'"' | b'\'') {
        i += 1;
    }
    while i < n && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    if i >= n || !matches!(b[i], b':' | b'=') {
        return None;
    }
    // `a == b`, `a := b` are code, not assignments of a secret.
    if b.get(i + 1) == Some(&b'=') {
        return None;
    }
    i += 1;
    while i < n && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    let (s, e) = if b[i..].starts_with(b"\\\"") {
        let s = i + 2;
        let e = memchr::memmem::find(&b[s..], b"\\\"").map_or(n, |o| s + o);
        (s, e)
    } else if i < n && matches!(b[i], b'"' | b'\'') {
        let q = b[i];
        let s = i + 1;
        let mut e = s;
        while e < n && b[e] != q && b[e] != b'\n' {
            e += if b[e] == b'\\' { 2 } else { 1 };
        }
        (s, e.min(n))
    } else {
        let s = i;
        let mut e = s;
        let to_eol = t == T_SECRET && {
            // Header-like values that contain spaces: `Authorization: Basic x`, `Cookie: a=1; b=2`.
            let key_start = k.saturating_sub(14);
            let kw = &b[key_start..k];
            ends_with_ci(kw, b"authorization") || ends_with_ci(kw, b"cookie")
        };
        while e < n
            && b[e] != b'\n'
            && b[e] != b'\r'
            && (to_eol
                || !matches!(
                    b[e],
                    b' ' | b'\t'
                        | b'&'
                        | b','
                        | b';'
                        | b'}'
                        | b']'
                        | b')'
                        | b'"'
                        | b'\''
                        | b'<'
                        | b'\\'
                ))
        {
            e += 1;
        }
        (s, e)
    };
    steps::add(Stage::Secrets, e.min(n) - k);
    if e <= s {
        return None;
    }
    let v = &b[s..e];
    if matches!(v, b"null" | b"true" | b"false" | b"[REDACTED]") || v.starts_with(b"[SECRET") {
        return None;
    }
    let rule = match t {
        T_SSN => "ssn_key",
        T_CARD => "card_key",
        _ => "sensitive_key",
    };
    Some(Span::new(s, e, t, rule))
}

fn run(b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    let mut e = from;
    while e < b.len() && ok(b[e]) {
        e += 1;
    }
    steps::add(Stage::Secrets, e - from);
    e
}

fn ends_with_ci(h: &[u8], n: &[u8]) -> bool {
    h.len() >= n.len() && h[h.len() - n.len()..].eq_ignore_ascii_case(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_rules_need_min_len() {
        let s = Secrets::new(true, &[]);
        let found = |t: &[u8]| {
            let mut out = Vec::new();
            s.scan(t, &mut out);
            !out.is_empty()
        };
        // The bound is tight: a 13-byte Slack token is found.
        assert!(found(b"xoxb-12345678"));
        // No shorter text that starts with a prefix (and has no `:` or `=`,
        // which let key rules run whatever the length) is ever a finding.
        let alphabet = b"aAzZ09_-./+~ \"'xbB";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for &(p, _) in PREFIXES {
            for _ in 0..20_000 {
                let len = p.len() + (next() % 13) as usize;
                let mut t = p.as_bytes().to_vec();
                while t.len() < len.min(MIN_PREFIXED_LEN - 1) {
                    t.push(alphabet[(next() % alphabet.len() as u64) as usize]);
                }
                assert!(!found(&t), "{:?}", String::from_utf8_lossy(&t));
            }
        }
    }
}
