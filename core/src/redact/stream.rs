//! `sealtrail redact`: stdin to stdout, plain text or JSON Lines.

use std::io::{BufRead, Write};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{PiiReport, Redactor};

/// What a stream run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Lines read.
    pub lines: u64,
    /// JSON Lines that could not be redacted (each got an error line).
    pub errors: u64,
    /// Findings over the whole stream.
    pub report: PiiReport,
}

/// Text is redacted in chunks of whole lines of about this size; a chunk is
/// held open while it has a `-----BEGIN` without its `-----END`, so a PEM
/// block is never split (up to `MAX_CHUNK`).
const CHUNK: usize = 64 * 1024;
const MAX_CHUNK: usize = 8 * 1024 * 1024;

/// Reads `r`, writes the redacted stream to `w`.
///
/// Plain text: every line redacted, line structure kept. JSON Lines (`jsonl`):
/// each line is a JSON object whose `text` string field is redacted; every
/// other field is written back byte for byte in its original order. A line
/// that is not such an object produces `{"error":"...","line":N}` on `w` (so
/// line counts still match) and a message on stderr, and the stream goes on.
/// Blank lines are passed through.
pub fn redact_stream(
    mut r: impl BufRead,
    mut w: impl Write,
    jsonl: bool,
    redactor: &Redactor,
) -> std::io::Result<StreamSummary> {
    let mut sum = StreamSummary::default();
    let mut line = Vec::new();
    let mut chunk = String::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        sum.lines += 1;
        if jsonl {
            let (body, eol) = split_eol(&line);
            match redact_json_line(body, redactor, &mut sum.report) {
                Ok(out) => w.write_all(out.as_bytes())?,
                Err(msg) => {
                    sum.errors += 1;
                    eprintln!("sealtrail redact: line {}: {}", sum.lines, msg);
                    let err = serde_json::json!({ "error": msg, "line": sum.lines });
                    w.write_all(err.to_string().as_bytes())?;
                }
            }
            w.write_all(eol)?;
        } else {
            chunk.push_str(&String::from_utf8_lossy(&line));
            if chunk.len() >= CHUNK && (!open_pem(&chunk) || chunk.len() >= MAX_CHUNK) {
                flush_text(&mut chunk, &mut w, redactor, &mut sum.report)?;
            }
        }
    }
    if !chunk.is_empty() {
        flush_text(&mut chunk, &mut w, redactor, &mut sum.report)?;
    }
    w.flush()?;
    Ok(sum)
}

fn open_pem(s: &str) -> bool {
    match s.rfind("-----BEGIN ") {
        Some(b) => !s[b..].contains("-----END "),
        None => false,
    }
}

fn flush_text(
    chunk: &mut String,
    w: &mut impl Write,
    red: &Redactor,
    rep: &mut PiiReport,
) -> std::io::Result<()> {
    let out = red.redact_text(chunk, rep);
    w.write_all(out.as_bytes())?;
    chunk.clear();
    Ok(())
}

fn split_eol(line: &[u8]) -> (&[u8], &[u8]) {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
    }
    (&line[..end], &line[end..])
}

/// A JSON object's members in their original order, values kept raw.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some((k, raw)) = m.next_entry::<String, &'de RawValue>()? {
                    v.push((k, raw));
                }
                Ok(Members(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn redact_json_line(body: &[u8], red: &Redactor, rep: &mut PiiReport) -> Result<String, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::from_utf8_lossy(body).into_owned());
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let members: Members = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut line_rep = PiiReport::new();
    let mut out = String::with_capacity(text.len() + 16);
    let mut has_text = false;
    out.push('{');
    for (i, (k, raw)) in members.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).map_err(|e| e.to_string())?);
        out.push(':');
        if k == "text" {
            let s: String = serde_json::from_str(raw.get())
                .map_err(|_| "field \"text\" is not a string".to_string())?;
            let red_s = red.redact_text(&s, &mut line_rep);
            out.push_str(&serde_json::to_string(&red_s).map_err(|e| e.to_string())?);
            has_text = true;
        } else {
            out.push_str(raw.get());
        }
    }
    out.push('}');
    if !has_text {
        return Err("missing string field \"text\"".into());
    }
    rep.merge(&line_rep);
    Ok(out)
}
