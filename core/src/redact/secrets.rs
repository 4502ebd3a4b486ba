//! Credentials found by their prefix or their key: one Aho-Corasick automaton
//! over vendor prefixes (`ghp_`, `AKIA`, `sk-`, `xoxb-`, `eyJ`, `-----BEGIN`,
//! `Bearer`, ...) and over the sensitive key names, so that text holding none
//! of them is rejected by the automaton's SIMD prefilter. Each hit is then
//! confirmed by a small validator that also finds where the secret ends.
//!
//! Linear in the text: the automaton is one pass, and a validator never
//! reads the same bytes twice. Hits come in text order and the runs and
//! searches a validator starts at them move forward with them, so each read
//! site remembers the region it last read ([`Memo`]): a hit inside it
//! (`sk-sk-sk-…`, `password=password=…`, `-----BEGIN ` without an end)
//! reuses that answer. Rules of a fixed length read at most that length.

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

/// The places a validator reads a run or searches from a hit, one memo slot
/// each (see [`Memo`]).
#[derive(Clone, Copy)]
enum Site {
    Github,
    GithubPat,
    LlmKey,
    HfGroq,
    Slack,
    SlackWebhook,
    Stripe,
    Jwt1,
    Jwt2,
    Jwt3,
    PemLabel,
    Bearer,
    /// An unquoted value after a key, up to a delimiter.
    ValueWord,
    /// An unquoted header value (`Authorization:`, `Cookie:`), to the end of the line.
    ValueLine,
    /// A quoted value after a key, by its quote (`"` then `'`).
    Quoted2,
    Quoted1,
    /// Searches: `-----END `, the `-----` closing it, an escaped quote `\"`.
    PemEnd,
    PemClose,
    EscQuote,
}
const SITES: usize = Site::EscQuote as usize + 1;

/// What each read site last read during one [`Secrets::scan`]: the region
/// `[from, end)` and its answer. A run of bytes matching a predicate that
/// started at `from` and stopped at `end` stops at `end` from any start in
/// between, and so does a search for the first occurrence of a needle; a
/// quoted value scanned with backslash escapes from `from` lands on every
/// position whose previous byte is not a backslash, so a scan starting at
/// such a position ends where the first did. Since hits come in order, every
/// site reads each byte of the text at most once.
struct Memo {
    at: [(usize, usize); SITES],
    /// For searches: whether the needle was found at `end` (else not at all).
    found: [bool; SITES],
}

impl Memo {
    fn new() -> Self {
        Memo {
            at: [(usize::MAX, 0); SITES],
            found: [false; SITES],
        }
    }

    fn cached(&self, site: Site, from: usize) -> Option<usize> {
        let (f0, e0) = self.at[site as usize];
        (f0 <= from && from <= e0).then_some(e0)
    }

    /// The end of the run of bytes `ok` accepts from `from`.
    fn run(&mut self, site: Site, b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
        if let Some(e) = self.cached(site, from) {
            return e;
        }
        let e = run(b, from, ok);
        self.at[site as usize] = (from, e);
        e
    }

    /// The first `needle` at or after `from`.
    fn find(&mut self, site: Site, b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
        if let Some(e) = self.cached(site, from) {
            return self.found[site as usize].then_some(e);
        }
        let r = memchr::memmem::find(&b[from..], needle).map(|o| from + o);
        steps::add(
            Stage::Secrets,
            r.map_or(b.len(), |r| r + needle.len()) - from,
        );
        self.at[site as usize] = (from, r.unwrap_or(b.len()));
        self.found[site as usize] = r.is_some();
        r
    }

    /// The end of a value quoted by `q` whose content starts at `from`:
    /// the closing quote or end of line, stepping over backslash escapes.
    fn quoted(&mut self, b: &[u8], from: usize, q: u8) -> usize {
        let site = if q == b'"' {
            Site::Quoted2
        } else {
            Site::Quoted1
        };
        let (f0, e0) = self.at[site as usize];
        if f0 <= from && from <= e0 && (from == f0 || b[from - 1] != b'\\') {
            return e0;
        }
        let n = b.len();
        let mut e = from;
        while e < n && b[e] != q && b[e] != b'\n' {
            e += if b[e] == b'\\' { 2 } else { 1 };
        }
        let e = e.min(n);
        steps::add(Stage::Secrets, e - from);
        self.at[site as usize] = (from, e);
        e
    }
}

/// The end of the run `ok` accepts from `from`, reading at most `max` bytes:
/// for rules of a fixed length, where a longer run fails anyway.
fn run_max(b: &[u8], from: usize, max: usize, ok: impl Fn(u8) -> bool) -> usize {
    let lim = b.len().min(from.saturating_add(max));
    let mut e = from.min(lim);
    while e < lim && ok(b[e]) {
        e += 1;
    }
    steps::add(Stage::Secrets, e - from.min(lim));
    e
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
        let mut memo = Memo::new();
        for m in ac.find_iter(b) {
            steps::add(Stage::Secrets, 1);
            let (rule, plen) = self.rules[m.pattern().as_usize()];
            let s = m.start();
            if let Some(span) = self.validate(&mut memo, b, s, plen, rule) {
                out.push(span);
            }
        }
    }

    /// A sensitive key ending with anchor `ai` at `[s, s + plen)`: the words
    /// before the anchor must precede it, each optionally followed by one
    /// separator.
    fn key(&self, memo: &mut Memo, b: &[u8], s: usize, plen: usize, ai: u16) -> Option<Span> {
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
            return key_value(memo, b, s + plen, *t);
        }
        None
    }

    /// Cheap checks (left boundary, prefix case) come before any run.
    fn validate(
        &self,
        memo: &mut Memo,
        b: &[u8],
        s: usize,
        plen: usize,
        rule: Rule,
    ) -> Option<Span> {
        let prefix = &b[s..s + plen];
        let left_ok = s == 0 || !is_word(b[s - 1]);
        let alnum = |c: u8| c.is_ascii_alphanumeric();
        let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        let exact = |p: &str| prefix == p.as_bytes();
        let lower = prefix.iter().all(|c| !c.is_ascii_uppercase());
        let sec = |e: usize, rule: &'static str, keep: usize| Some(Span::secret(s, e, rule, keep));
        match rule {
            Rule::AwsKeyId => {
                if !(left_ok && prefix.iter().all(u8::is_ascii_uppercase)) {
                    return None;
                }
                // 20 bytes exactly: read one more to see that the run stops.
                let e = run_max(b, s + 4, 17, |c| {
                    c.is_ascii_uppercase() || c.is_ascii_digit()
                });
                (e - s == 20 && b.get(e).is_none_or(|&c| !is_word(c)))
                    .then(|| Span::secret(s, e, "aws_access_key_id", 4))
            }
            Rule::Github => {
                if !(left_ok && lower) {
                    return None;
                }
                let e = memo.run(Site::Github, b, s + plen, alnum);
                (e - s - plen >= 30).then(|| Span::secret(s, e, "github_token", plen))
            }
            Rule::GithubPat => {
                if !(left_ok && exact("github_pat_")) {
                    return None;
                }
                let e = memo.run(Site::GithubPat, b, s + plen, |c| alnum(c) || c == b'_');
                (e - s - plen >= 22).then(|| Span::secret(s, e, "github_token", plen))
            }
            Rule::LlmKey => {
                if !(left_ok && exact("sk-")) {
                    return None;
                }
                let e = memo.run(Site::LlmKey, b, s + plen, b64url);
                (e - s - plen >= 20).then(|| Span::secret(s, e, "llm_api_key", plen))
            }
            Rule::HuggingFace | Rule::Groq => {
                if !(left_ok && lower) {
                    return None;
                }
                let e = memo.run(Site::HfGroq, b, s + plen, alnum);
                (e - s - plen >= 30).then(|| Span::secret(s, e, "llm_api_key", plen))
            }
            Rule::Slack => {
                if prefix == b"xox"
                    && !(matches!(b.get(s + 3), Some(b'b' | b'a' | b'p' | b'r' | b's' | b'e'))
                        && b.get(s + 4) == Some(&b'-'))
                {
                    return None;
                }
                if !(left_ok && lower) {
                    return None;
                }
                let e = memo.run(Site::Slack, b, s + plen, |c| alnum(c) || c == b'-');
                (e - s - plen >= 10).then(|| Span::secret(s, e, "slack_token", plen))
            }
            Rule::SlackWebhook => {
                let e = memo.run(Site::SlackWebhook, b, s + plen, |c| alnum(c) || c == b'/');
                (e - s - plen >= 20).then(|| Span::secret(s + plen, e, "slack_webhook", 0))
            }
            Rule::Stripe => {
                if !(left_ok && lower) {
                    return None;
                }
                let e = memo.run(Site::Stripe, b, s + plen, alnum);
                (e - s - plen >= 16).then(|| Span::secret(s, e, "stripe_key", plen))
            }
            Rule::GoogleKey => {
                if !(left_ok && exact("AIza")) {
                    return None;
                }
                // 39 bytes exactly: read one more to see that the run stops.
                let e = run_max(b, s + plen, 36, b64url);
                (e - s == 39).then(|| Span::secret(s, e, "google_api_key", plen))
            }
            Rule::Jwt => {
                if !left_ok || !exact("eyJ") {
                    return None;
                }
                let e1 = memo.run(Site::Jwt1, b, s + 3, b64url);
                if e1 - s < 10 || b.get(e1) != Some(&b'.') {
                    return None;
                }
                let e2 = memo.run(Site::Jwt2, b, e1 + 1, b64url);
                if e2 - e1 < 9 || b.get(e2) != Some(&b'.') {
                    return None;
                }
                let e3 = memo.run(Site::Jwt3, b, e2 + 1, b64url);
                sec(e3, "jwt", 0)
            }
            Rule::Pem => {
                if !exact("-----BEGIN ") {
                    return None;
                }
                let hdr_end = memo.run(Site::PemLabel, b, s + plen, |c| {
                    c.is_ascii_uppercase() || c == b' '
                });
                let label = &b[s + plen..hdr_end];
                if !label.ends_with(b"PRIVATE KEY") || !b[hdr_end..].starts_with(b"-----") {
                    return None;
                }
                let body = hdr_end + 5;
                let e = match memo.find(Site::PemEnd, b, body, b"-----END ") {
                    Some(end) => match memo.find(Site::PemClose, b, end + 9, b"-----") {
                        Some(c) => c + 5,
                        None => b.len(),
                    },
                    None => b.len(),
                };
                sec(e, "private_key", 0)
            }
            Rule::Bearer => {
                if !left_ok {
                    return None;
                }
                let mut i = s + plen;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                steps::add(Stage::Secrets, i - s - plen);
                let e = memo.run(Site::Bearer, b, i, |c| {
                    alnum(c) || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
                });
                (e - i >= 8).then(|| Span::secret(i, e, "bearer_token", 0))
            }
            Rule::Key(ai) => self.key(memo, b, s, plen, ai),
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
    // 40 bytes exactly: read one more to see that the run stops.
    let e = run_max(b, i, 41, key);
    (seen_assign && e - i == 40).then(|| Span::secret(i, e, "aws_secret_access_key", 0))
}

/// After a sensitive key ending at `k`: `"key": "value"`, `key=value`,
/// `key: value`, JSON inside a string (`\"key\":\"value\"`). Returns the value.
fn key_value(memo: &mut Memo, b: &[u8], k: usize, t: u16) -> Option<Span> {
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
    steps::add(Stage::Secrets, i - k);
    if i >= n || !matches!(b[i], b':' | b'=') {
        return None;
    }
    // `a == b`, `a := b` are code, not assignments of a secret.
    if b.get(i + 1) == Some(&b'=') {
        return None;
    }
    i += 1;
    let sp = i;
    while i < n && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    steps::add(Stage::Secrets, i - sp);
    let (s, e) = if b[i..].starts_with(b"\\\"") {
        let s = i + 2;
        let e = memo.find(Site::EscQuote, b, s, b"\\\"").unwrap_or(n);
        (s, e)
    } else if i < n && matches!(b[i], b'"' | b'\'') {
        let s = i + 1;
        (s, memo.quoted(b, s, b[i]))
    } else {
        let s = i;
        let to_eol = t == T_SECRET && {
            // Header-like values that contain spaces: `Authorization: Basic x`, `Cookie: a=1; b=2`.
            let key_start = k.saturating_sub(14);
            let kw = &b[key_start..k];
            ends_with_ci(kw, b"authorization") || ends_with_ci(kw, b"cookie")
        };
        let e = if to_eol {
            memo.run(Site::ValueLine, b, s, |c| c != b'\n' && c != b'\r')
        } else {
            memo.run(Site::ValueWord, b, s, |c| {
                !matches!(
                    c,
                    b'\n'
                        | b'\r'
                        | b' '
                        | b'\t'
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
                )
            })
        };
        (s, e)
    };
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
