//! Full-text search: which words of an event are indexed, and how a search
//! text is read, with one tokenizer for both so they always agree.
//!
//! The server computes each event's words itself and stores them as a
//! `tsvector`; PostgreSQL's `to_tsvector` cost about 60 µs per 1 KiB event
//! and the GIN index about 1 µs per distinct word, which together held ingest
//! to a third of what the rest of the schema allows (docs/server.md,
//! "Full-text search"). What is indexed is a bounded summary: the name, the
//! error type and message, the decision reason, then the string and number
//! values of `inputs` and `outputs` (not their keys), in that order, up to
//! [`SearchConfig::max_words`] distinct words.
//!
//! A word is a maximal run of letters and digits, lower-cased; anything else
//! separates words (`inv-2024-0042` is the three words `inv`, `2024`,
//! `0042` in a row, and a search for it is the phrase of those three).
//! Words longer than [`MAX_WORD_CHARS`] are not indexed.

use sealtrail_core::Event;
use serde_json::Value;

/// Longer runs (base64 blobs, long hashes beyond SHA-256 hex) are not words.
pub const MAX_WORD_CHARS: usize = 64;
/// PostgreSQL keeps positions up to 16383.
const MAX_POSITION: u16 = 16383;
/// Positions kept per word (PostgreSQL allows 256).
const MAX_POSITIONS_PER_WORD: usize = 16;
/// The summary scanned per event, in bytes of source text.
const MAX_SCAN_BYTES: usize = 8192;

/// How much of each event is indexed.
#[derive(Debug, Clone, Copy)]
pub struct SearchConfig {
    /// Distinct words indexed per event (`SEALTRAIL_SEARCH_WORDS`). Each
    /// costs about 1 µs of database time at ingest when it is rare.
    pub max_words: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { max_words: 16 }
    }
}

/// One indexed word and its positions (1-based, ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub positions: Vec<u16>,
}

/// An event's indexed words, sorted by bytes as PostgreSQL's `tsvector` keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words(pub Vec<Word>);

impl Words {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `tsvector` in PostgreSQL's binary form (`tsvectorrecv`): count,
    /// then per word its NUL-terminated text, position count and positions.
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.0.len() as i32).to_be_bytes());
        for w in &self.0 {
            out.extend_from_slice(w.text.as_bytes());
            out.push(0);
            out.extend_from_slice(&(w.positions.len() as u16).to_be_bytes());
            for p in &w.positions {
                out.extend_from_slice(&p.to_be_bytes());
            }
        }
    }

    /// The `tsvector` in text form (`'word':1,4 'other':2`), for tests and psql.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push('\'');
            s.push_str(&w.text.replace('\'', "''"));
            s.push('\'');
            for (j, p) in w.positions.iter().enumerate() {
                s.push(if j == 0 { ':' } else { ',' });
                s.push_str(&p.to_string());
            }
        }
        s
    }
}

/// Collects words in order until the cap is reached.
struct Collector {
    max_words: usize,
    words: Vec<Word>,
    /// A hash of each word, to look words up without comparing texts.
    hashes: Vec<u64>,
    position: u16,
    scanned: usize,
}

impl Collector {
    fn full(&self) -> bool {
        self.words.len() >= self.max_words || self.scanned >= MAX_SCAN_BYTES
    }

    fn text(&mut self, s: &str) {
        if self.full() {
            return;
        }
        self.scanned += s.len();
        for_each_word(s, |w| {
            if self.words.len() >= self.max_words {
                return false;
            }
            if self.position < MAX_POSITION {
                self.position += 1;
            }
            let pos = self.position;
            let h = fnv1a(w.as_bytes());
            let found = self
                .hashes
                .iter()
                .zip(self.words.iter_mut())
                .find(|(xh, x)| **xh == h && x.text == w)
                .map(|(_, x)| x);
            match found {
                Some(x) => {
                    if x.positions.len() < MAX_POSITIONS_PER_WORD
                        && x.positions.last() != Some(&pos)
                    {
                        x.positions.push(pos);
                    }
                }
                None => {
                    self.hashes.push(h);
                    self.words.push(Word {
                        text: w.to_string(),
                        positions: vec![pos],
                    })
                }
            }
            true
        });
    }

    fn value(&mut self, v: &Value) {
        if self.full() {
            return;
        }
        match v {
            Value::String(s) => self.text(s),
            Value::Number(n) => self.text(&n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| self.value(x)),
            Value::Object(m) => m.values().for_each(|x| self.value(x)),
            Value::Null | Value::Bool(_) => {}
        }
    }
}

fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Calls `f` with each word of `s`, lower-cased, until it returns false.
fn for_each_word(s: &str, mut f: impl FnMut(&str) -> bool) {
    let mut buf = String::new();
    let mut chars = 0usize;
    let mut flush = |buf: &mut String, chars: &mut usize| -> bool {
        let go = if !buf.is_empty() && *chars <= MAX_WORD_CHARS {
            f(buf)
        } else {
            true
        };
        buf.clear();
        *chars = 0;
        go
    };
    for c in s.chars() {
        if c.is_alphanumeric() {
            chars += 1;
            if chars <= MAX_WORD_CHARS + 1 {
                if c.is_ascii() {
                    buf.push(c.to_ascii_lowercase());
                } else {
                    buf.extend(c.to_lowercase());
                }
            }
        } else if !flush(&mut buf, &mut chars) {
            return;
        }
    }
    flush(&mut buf, &mut chars);
}

/// The words an event is found by.
pub fn event_words(e: &Event, cfg: &SearchConfig) -> Words {
    let mut c = Collector {
        max_words: cfg.max_words,
        words: Vec::new(),
        hashes: Vec::new(),
        position: 0,
        scanned: 0,
    };
    if let Some(n) = &e.name {
        c.text(n);
    }
    if let Some(err) = &e.error {
        c.text(&err.kind);
        c.text(&err.message);
    }
    if let Some(r) = e.decision.as_ref().and_then(|d| d.reason.as_ref()) {
        c.text(r);
    }
    if let Some(v) = &e.inputs {
        c.value(v);
    }
    if let Some(v) = &e.outputs {
        c.value(v);
    }
    let mut words = c.words;
    words.sort_unstable_by(|a, b| a.text.as_bytes().cmp(b.text.as_bytes()));
    Words(words)
}

/// Rewrites a search text (`websearch_to_tsquery` syntax: words, `"a
/// phrase"`, `-word`, `or`) so that PostgreSQL's parser sees only words the
/// tokenizer above makes: each space-separated term is split the same way,
/// and a term that splits into several words becomes the phrase of them.
/// Returns `None` when no word is left to search for.
pub fn websearch_text(q: &str) -> Option<String> {
    fn split(term: &str) -> Vec<String> {
        let mut words = Vec::new();
        for_each_word(term, |w| {
            words.push(w.to_string());
            true
        });
        words
    }
    fn piece(negated: bool, words: &[String]) -> String {
        let sign = if negated { "-" } else { "" };
        match words {
            [one] => format!("{sign}{one}"),
            _ => format!("{sign}\"{}\"", words.join(" ")),
        }
    }
    let mut pieces: Vec<String> = Vec::new();
    // Inside quotes: whether the phrase is negated, and its words so far.
    let mut phrase: Option<(bool, Vec<String>)> = None;
    let mut term = String::new();
    let end_term =
        |term: &mut String, phrase: &mut Option<(bool, Vec<String>)>, pieces: &mut Vec<String>| {
            match phrase {
                Some((_, words)) => words.extend(split(term)),
                None => {
                    let words = split(term);
                    if !words.is_empty() {
                        pieces.push(piece(term.starts_with('-'), &words));
                    }
                }
            }
            term.clear();
        };
    for c in q.chars() {
        if c == '"' {
            if phrase.is_some() {
                end_term(&mut term, &mut phrase, &mut pieces);
                if let Some((negated, words)) = phrase.take() {
                    if !words.is_empty() {
                        pieces.push(piece(negated, &words));
                    }
                }
            } else {
                let negated = term == "-";
                if negated {
                    term.clear();
                }
                end_term(&mut term, &mut phrase, &mut pieces);
                phrase = Some((negated, Vec::new()));
            }
        } else if c.is_whitespace() {
            end_term(&mut term, &mut phrase, &mut pieces);
        } else {
            term.push(c);
        }
    }
    end_term(&mut term, &mut phrase, &mut pieces);
    if let Some((negated, words)) = phrase {
        if !words.is_empty() {
            pieces.push(piece(negated, &words));
        }
    }
    (!pieces.is_empty()).then(|| pieces.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::event::{Decision, DecisionOutcome, ErrorInfo, EventType};
    use serde_json::json;

    fn words(e: &Event, max: usize) -> Vec<String> {
        event_words(e, &SearchConfig { max_words: max })
            .0
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn summary_order_and_cap() {
        let mut e = Event::new(EventType::ToolCall, "a");
        e.name = Some("Search_Invoices".into());
        e.inputs = Some(json!({"customer": "ACME Corp", "ref": 12345, "nested": [{"x": "Zeta"}]}));
        e.outputs = Some(json!({"ok": true, "note": "done"}));
        assert_eq!(
            words(&e, 100),
            ["12345", "acme", "corp", "done", "invoices", "search", "zeta"]
        );
        // The cap keeps the first words in summary order (name, then inputs, then outputs).
        assert_eq!(words(&e, 3), ["acme", "invoices", "search"]);
        // Keys are not indexed.
        assert!(!words(&e, 100).contains(&"customer".to_string()));
    }

    #[test]
    fn errors_and_decisions_come_before_payloads() {
        let mut e = Event::new(EventType::Error, "a");
        e.inputs = Some(json!("payload words"));
        e.error = Some(ErrorInfo {
            kind: "TimeoutError".into(),
            message: "upstream timed out".into(),
            stack: None,
        });
        assert_eq!(words(&e, 3), ["timed", "timeouterror", "upstream"]);
        let mut d = Event::new(EventType::Decision, "a");
        d.decision = Some(Decision {
            outcome: DecisionOutcome::Denied,
            by: None,
            reason: Some("Over the limit".into()),
        });
        assert_eq!(words(&d, 10), ["limit", "over", "the"]);
    }

    #[test]
    fn positions_and_binary_form() {
        let mut e = Event::new(EventType::ToolCall, "a");
        e.name = Some("b a b".into());
        let w = event_words(&e, &SearchConfig::default());
        assert_eq!(w.to_text(), "'a':2 'b':1,3");
        let mut bin = Vec::new();
        w.write_binary(&mut bin);
        assert_eq!(
            bin,
            [0, 0, 0, 2, b'a', 0, 0, 1, 0, 2, b'b', 0, 0, 2, 0, 1, 0, 3]
        );
    }

    #[test]
    fn words_are_alphanumeric_runs_lowercased() {
        let mut got = Vec::new();
        for_each_word("INV-2024-0042 naïve Ünïcode x_y 日本語 a.b", |w| {
            got.push(w.to_string());
            true
        });
        assert_eq!(
            got,
            [
                "inv",
                "2024",
                "0042",
                "naïve",
                "ünïcode",
                "x",
                "y",
                "日本語",
                "a",
                "b"
            ]
        );
        let long = "z".repeat(MAX_WORD_CHARS + 1);
        let mut got = Vec::new();
        for_each_word(&format!("ok {long} fine"), |w| {
            got.push(w.to_string());
            true
        });
        assert_eq!(got, ["ok", "fine"]);
    }

    #[test]
    fn search_text_is_rewritten_to_the_same_words() {
        assert_eq!(websearch_text("refund").as_deref(), Some("refund"));
        assert_eq!(
            websearch_text("INV-2024-0042").as_deref(),
            Some("\"inv 2024 0042\"")
        );
        assert_eq!(
            websearch_text("timeout -retry or \"Card Declined\"").as_deref(),
            Some("timeout -retry or \"card declined\"")
        );
        assert_eq!(websearch_text("a@b.com").as_deref(), Some("\"a b com\""));
        assert_eq!(websearch_text("  -- !! "), None);
        assert_eq!(
            websearch_text("\"unclosed phrase").as_deref(),
            Some("\"unclosed phrase\"")
        );
        assert_eq!(
            websearch_text("-\"Card Declined\" ok").as_deref(),
            Some("-\"card declined\" ok")
        );
        assert_eq!(websearch_text("\"one\"").as_deref(), Some("one"));
    }
}
