//! PII and secret redaction, run on the agent's machine before an event is
//! canonicalised, hashed, spooled or sent.
//!
//! A [`Redactor`] is compiled once from a [`RedactConfig`] and shared (it is
//! `Send + Sync`). It finds emails, phone numbers, payment cards, US SSNs,
//! IBANs, IP addresses (off by default), credentials and custom named
//! patterns, in free text ([`Redactor::redact_text`]) and in every string of a
//! JSON value ([`Redactor::redact_value`]), where values under sensitive keys
//! are masked whole. Each call fills a [`PiiReport`] (type name -> count) that
//! becomes the event's `pii` field.
//!
//! Detection is one byte pass that classifies 64-byte windows into bitmaps
//! (AVX2 or SSE2) and stops only where a number could be PII, at `@`, and at
//! IBAN-shaped words; one Aho-Corasick pass (SIMD prefilter) over secret
//! prefixes and sensitive key names; and the custom regexes if any. Every
//! candidate is then validated (Luhn and issuer ranges, SSN rules, IBAN
//! mod-97, per-country phone plans) so that timestamps, ids, versions and
//! hashes stay untouched.
//!
//! Linear in the text (proven by `tests/redact_linear.rs`, which counts the
//! bytes each detector reads, see [`Redactor::count_steps`]): the built-in
//! detectors read at most 24 bytes per byte of input, however hostile
//! (repeated secret prefixes, key names, `@`, digit groups); custom rules
//! are fed at most [`CUSTOM_WINDOW`] bytes per match found plus about four
//! times the text (see [`custom_matches`]). So no string, whatever a tool
//! returned, holds the worker up for long.
//!
//! Not detected: email addresses with a non-ASCII local part, 9-digit SSNs
//! without separators unless the text says "SSN" or "social security" just
//! before, national phone numbers shorter than 10 digits (except with `+CC`),
//! 40-character AWS secret keys outside an `aws_secret_access_key` context.

mod checks;
mod keys;
mod render;
mod scan;
mod secrets;
mod steps;
mod stream;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

#[doc(hidden)]
pub use steps::ScanSteps;
pub use stream::{redact_stream, StreamSummary};

/// How one type of finding is written in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// `[EMAIL]`, `[CARD]`, ...
    #[default]
    Placeholder,
    /// Keeps what is safe to show: a card's last four, an email's domain, a
    /// phone's last four digits, an IBAN's country and last four, a secret's
    /// vendor prefix (`ghp_***`).
    Partial,
    /// `[EMAIL:9f2c1a03b4de]`: the first 12 hex characters of HMAC-SHA-256
    /// under the deployment key, so equal values correlate without being shown.
    Pseudonym,
    /// Not detected, not counted.
    Off,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Placeholder => "placeholder",
            Mode::Partial => "partial",
            Mode::Pseudonym => "pseudonym",
            Mode::Off => "off",
        }
    }
}

impl FromStr for Mode {
    type Err = RedactError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "placeholder" | "mask" | "on" => Ok(Mode::Placeholder),
            "partial" => Ok(Mode::Partial),
            "pseudonym" | "hmac" => Ok(Mode::Pseudonym),
            "off" | "none" => Ok(Mode::Off),
            _ => Err(RedactError::UnknownMode(s.to_string())),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiType {
    Email,
    Phone,
    Card,
    Ssn,
    Iban,
    Ip,
    /// Credentials of every kind (API keys, tokens, private keys, URL
    /// passwords, values under sensitive keys).
    Secret,
    /// A custom rule, by its configured name.
    Custom(String),
}

pub(crate) const T_EMAIL: u16 = 0;
pub(crate) const T_PHONE: u16 = 1;
pub(crate) const T_CARD: u16 = 2;
pub(crate) const T_SSN: u16 = 3;
pub(crate) const T_IBAN: u16 = 4;
pub(crate) const T_IP: u16 = 5;
pub(crate) const T_SECRET: u16 = 6;
const N_BUILTIN: usize = 7;
const BUILTIN_NAMES: [&str; N_BUILTIN] = ["email", "phone", "card", "ssn", "iban", "ip", "secret"];

impl PiiType {
    /// The name used in reports, configuration and the event's `pii` field.
    pub fn as_str(&self) -> &str {
        match self {
            PiiType::Email => "email",
            PiiType::Phone => "phone",
            PiiType::Card => "card",
            PiiType::Ssn => "ssn",
            PiiType::Iban => "iban",
            PiiType::Ip => "ip",
            PiiType::Secret => "secret",
            PiiType::Custom(n) => n,
        }
    }

    /// Built-in types, in report order.
    pub fn builtins() -> [PiiType; N_BUILTIN] {
        [
            PiiType::Email,
            PiiType::Phone,
            PiiType::Card,
            PiiType::Ssn,
            PiiType::Iban,
            PiiType::Ip,
            PiiType::Secret,
        ]
    }
}

impl fmt::Display for PiiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named regular expression added by configuration; its name is its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomRule {
    /// Lowercase `[a-z0-9_]`, not a built-in type name. Shown as `[NAME]`.
    pub name: String,
    /// Rust `regex` syntax; the whole match is redacted.
    pub pattern: String,
}

/// Sensitive keys masked whole by default (case- and separator-insensitive,
/// matched against the end of a key: `db_password`, `X-Api-Key`, `accessToken`).
pub const DEFAULT_SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "set-cookie",
    "private_key",
    "ssn",
    "card_number",
];

/// Configuration of a [`Redactor`].
#[derive(Clone, PartialEq, Eq)]
pub struct RedactConfig {
    /// Mode of every type without an override. Default: placeholder.
    pub default_mode: Mode,
    /// Per-type overrides by type name (`"email"`, `"card"`, a custom rule's name).
    pub modes: BTreeMap<String, Mode>,
    /// IP addresses are redacted only when this is on (agents' logs are full
    /// of server addresses). Default: off.
    pub ip: bool,
    /// Keys whose values are masked whole in JSON (and in `key=value` /
    /// `"key": "value"` text). Default: [`DEFAULT_SENSITIVE_KEYS`].
    pub sensitive_keys: Vec<String>,
    /// Extra named patterns.
    pub custom_rules: Vec<CustomRule>,
    /// Deployment key for pseudonyms; required if any type uses [`Mode::Pseudonym`].
    pub hmac_key: Option<Vec<u8>>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            default_mode: Mode::Placeholder,
            modes: BTreeMap::new(),
            ip: false,
            sensitive_keys: DEFAULT_SENSITIVE_KEYS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            custom_rules: Vec::new(),
            hmac_key: None,
        }
    }
}

impl fmt::Debug for RedactConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactConfig")
            .field("default_mode", &self.default_mode)
            .field("modes", &self.modes)
            .field("ip", &self.ip)
            .field("sensitive_keys", &self.sensitive_keys)
            .field("custom_rules", &self.custom_rules)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl RedactConfig {
    /// Applies a CLI-style mode spec: `"partial"` sets the default mode;
    /// `"email=partial"` or `"email=partial,card=off"` set overrides. Type
    /// names are checked when the [`Redactor`] is built (custom rules may be
    /// added later).
    pub fn apply_mode_spec(&mut self, spec: &str) -> Result<(), RedactError> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((ty, mode)) => {
                    let mode = mode.parse()?;
                    let ty = ty.trim().to_ascii_lowercase();
                    if ty == "ip" && mode != Mode::Off {
                        self.ip = true;
                    }
                    self.modes.insert(ty, mode);
                }
                None => self.default_mode = part.parse()?,
            }
        }
        Ok(())
    }

    /// Adds a custom rule from `name=regex` (the CLI form).
    pub fn add_rule_spec(&mut self, spec: &str) -> Result<(), RedactError> {
        let (name, pattern) = spec
            .split_once('=')
            .ok_or_else(|| RedactError::InvalidRuleName(spec.to_string()))?;
        self.custom_rules.push(CustomRule {
            name: name.trim().to_string(),
            pattern: pattern.to_string(),
        });
        Ok(())
    }

    /// Applies one setting by name, the one parser behind the environment
    /// and every binding's options: `redact_mode` (a mode spec),
    /// `redact_ip` (bool), `redact_key` (HMAC key for pseudonyms),
    /// `redact_sensitive_keys` (comma-separated, added to the list),
    /// `redact_rules` (`name=regex`, one per line).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), RedactError> {
        match key {
            "redact_mode" => self.apply_mode_spec(value)?,
            "redact_ip" => {
                self.ip = match value.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "on" | "yes" => true,
                    "0" | "false" | "off" | "no" | "" => false,
                    _ => {
                        return Err(RedactError::InvalidSetting(format!(
                            "redact_ip = {value:?} is not true or false"
                        )))
                    }
                }
            }
            "redact_key" => {
                self.hmac_key = Some(value.as_bytes().to_vec()).filter(|k| !k.is_empty())
            }
            "redact_sensitive_keys" => {
                for k in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    if !self.sensitive_keys.iter().any(|x| x == k) {
                        self.sensitive_keys.push(k.to_string());
                    }
                }
            }
            "redact_rules" => {
                for r in value.lines().map(str::trim).filter(|r| !r.is_empty()) {
                    self.add_rule_spec(r)?;
                }
            }
            _ => {
                return Err(RedactError::InvalidSetting(format!(
                    "unknown redaction setting {key:?}; known: {}",
                    REDACT_SETTINGS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Applies a per-call override (a tool's `redact=` option) on top of
    /// this configuration. `spec` is either a mode spec (`"email=off"`,
    /// also as a JSON string) or a JSON object of settings by name, with or
    /// without the `redact_` prefix (`extra`/`keys` mean `sensitive_keys`): `{"mode": "email=off,card=partial",
    /// "sensitive_keys": ["pin", "dob"], "ip": true, "rules": ["ticket=T-\\d+"]}`.
    /// Lists are joined as [`RedactConfig::set`] expects (keys by commas,
    /// rules by lines); the HMAC key cannot be overridden per call.
    pub fn apply_override(&mut self, spec: &str) -> Result<(), RedactError> {
        let bad = |m: String| RedactError::InvalidSetting(format!("redaction override: {m}"));
        let v: Value = match serde_json::from_str(spec) {
            Ok(v) => v,
            Err(_) => return self.apply_mode_spec(spec),
        };
        let obj = match v {
            Value::String(s) => return self.apply_mode_spec(&s),
            Value::Null => return Ok(()),
            Value::Object(o) => o,
            other => {
                return Err(bad(format!(
                    "expected a mode spec or an object, got {other}"
                )))
            }
        };
        for (k, v) in obj {
            let key = match k.as_str() {
                // "extra keys to mask" reads naturally at a decorator.
                "extra" | "keys" => "redact_sensitive_keys".to_string(),
                _ if k.starts_with("redact_") => k.clone(),
                _ => format!("redact_{k}"),
            };
            if key == "redact_key" {
                return Err(bad("the HMAC key is per deployment, not per call".into()));
            }
            let sep = if key == "redact_rules" { "\n" } else { "," };
            let text = match v {
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Array(items) => items
                    .iter()
                    .map(|x| match x {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(bad(format!("{k}: list items must be strings, got {other}"))),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(sep),
                other => return Err(bad(format!("{k}: unsupported value {other}"))),
            };
            self.set(&key, &text)?;
        }
        Ok(())
    }

    /// Reads `SEALTRAIL_REDACT_{MODE,IP,KEY,SENSITIVE_KEYS,RULES}` through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), RedactError> {
        for key in REDACT_SETTINGS {
            if let Some(v) = get(&format!("SEALTRAIL_{}", key.to_ascii_uppercase())) {
                self.set(key, &v)?;
            }
        }
        Ok(())
    }

    fn mode_of(&self, name: &str) -> Mode {
        if name == "ip" && !self.ip {
            return Mode::Off;
        }
        self.modes.get(name).copied().unwrap_or(self.default_mode)
    }
}

/// The setting names [`RedactConfig::set`] takes; the environment variable
/// is `SEALTRAIL_` + the upper-cased name.
pub const REDACT_SETTINGS: &[&str] = &[
    "redact_mode",
    "redact_ip",
    "redact_key",
    "redact_sensitive_keys",
    "redact_rules",
];

/// Why a [`RedactConfig`] cannot be compiled.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RedactError {
    #[error("custom redaction rule {name:?}: invalid regex: {message}")]
    InvalidRegex { name: String, message: String },
    #[error("invalid custom rule name {0:?}: use lowercase letters, digits and '_', not a built-in type name, given as name=regex")]
    InvalidRuleName(String),
    #[error("unknown PII type {0:?} in mode overrides (known: email, phone, card, ssn, iban, ip, secret, or a custom rule name)")]
    UnknownType(String),
    #[error("{0}")]
    InvalidSetting(String),
    #[error("unknown redaction mode {0:?} (use placeholder, partial, pseudonym or off)")]
    UnknownMode(String),
    #[error("mode pseudonym needs an HMAC key (RedactConfig::hmac_key or SEALTRAIL_REDACT_KEY)")]
    MissingHmacKey,
}

impl RedactError {
    pub fn kind_str(&self) -> &'static str {
        match self {
            RedactError::InvalidRegex { .. } => "invalid_regex",
            RedactError::InvalidRuleName(_) => "invalid_rule_name",
            RedactError::UnknownType(_) => "unknown_type",
            RedactError::UnknownMode(_) => "unknown_mode",
            RedactError::MissingHmacKey => "missing_hmac_key",
            RedactError::InvalidSetting(_) => "invalid_setting",
        }
    }
}

/// Counts of findings per type name, for the event's `pii` field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PiiReport {
    counts: BTreeMap<String, u64>,
}

impl PiiReport {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
    pub fn get(&self, ty: &str) -> u64 {
        self.counts.get(ty).copied().unwrap_or(0)
    }
    pub fn merge(&mut self, other: &PiiReport) {
        for (k, v) in &other.counts {
            *self.counts.entry(k.clone()).or_insert(0) += v;
        }
    }
    pub(crate) fn add(&mut self, name: &str, n: u64) {
        match self.counts.get_mut(name) {
            Some(c) => *c += n,
            None => {
                self.counts.insert(name.to_string(), n);
            }
        }
    }
}

/// One finding in a text, by byte offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub pii_type: PiiType,
    /// The detector that fired (`"card"`, `"github_token"`, `"url_password"`, ...).
    pub rule: &'static str,
}

/// Internal finding: type index into the redactor's type table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub ty: u16,
    /// For secrets: how many leading bytes (a vendor prefix) partial mode keeps.
    pub keep: u16,
    pub rule: &'static str,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize, ty: u16, rule: &'static str) -> Self {
        Span {
            start,
            end,
            ty,
            keep: 0,
            rule,
        }
    }
    pub(crate) fn secret(start: usize, end: usize, rule: &'static str, keep: usize) -> Self {
        Span {
            start,
            end,
            ty: T_SECRET,
            keep: keep as u16,
            rule,
        }
    }
}

struct TypeInfo {
    ty: PiiType,
    /// `EMAIL` for placeholders.
    label: String,
    mode: Mode,
}

/// The smallest window a custom rule is searched in, and how far before its
/// end a match must stop to be taken (see [`custom_matches`]).
const CUSTOM_WINDOW: usize = 128;
const CUSTOM_MARGIN: usize = 64;

/// The non-empty matches of a custom rule, as `find_iter` finds them, with
/// bounded work. `find_iter` is linear for most patterns, but a
/// leftmost-first alternation whose first branch can keep growing
/// (`a[a-z]*b|a` over `aaaa…`) makes each search read to the end of the
/// text: quadratic in it. Here each search is fed a window from where the
/// last match ended: a match that ends at least [`CUSTOM_MARGIN`] bytes
/// before the window's end is taken; otherwise (no match, or one that may
/// go on) the window doubles, up to the whole text. Every match of at most
/// `CUSTOM_MARGIN` bytes is found exactly as `find_iter` finds it (one that
/// started earlier would have had to run past the window), and a greedy
/// match of any length is found whole. A leftmost-first alternation whose
/// preferred branch is longer than that may take its shorter branch.
///
/// Work: at most `CUSTOM_WINDOW` bytes per match plus, between matches,
/// doubling windows that add up to under four times the distance.
fn custom_matches(re: &regex::Regex, text: &str, mut hit: impl FnMut(usize, usize)) {
    let n = text.len();
    let mut pos = 0;
    let mut w = CUSTOM_WINDOW;
    while pos <= n {
        let mut end = pos.saturating_add(w).min(n);
        while !text.is_char_boundary(end) {
            end += 1;
        }
        steps::add(steps::Stage::Custom, end - pos);
        let m = re.find_at(&text[..end], pos);
        let done = end == n;
        match m {
            Some(m) if done || m.end() + CUSTOM_MARGIN <= end => {
                if m.end() > m.start() {
                    hit(m.start(), m.end());
                    pos = m.end();
                } else {
                    // An empty match: step over one character.
                    pos = m.end() + text[m.end()..].chars().next().map_or(1, char::len_utf8);
                }
                w = CUSTOM_WINDOW;
            }
            None if done => break,
            _ => w = w.saturating_mul(2),
        }
    }
}

/// The compiled redaction engine. Build once, share (`Arc<Redactor>`).
pub struct Redactor {
    types: Vec<TypeInfo>,
    scan_opts: scan::ScanOpts,
    secrets: secrets::Secrets,
    sensitive: keys::SensitiveKeys,
    custom: Vec<(regex::Regex, u16)>,
    hmac: Option<render::Keyed>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "types",
                &self
                    .types
                    .iter()
                    .map(|t| (t.ty.as_str(), t.mode))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Redactor {
    pub fn new(cfg: RedactConfig) -> Result<Self, RedactError> {
        let mut types: Vec<TypeInfo> = PiiType::builtins()
            .into_iter()
            .map(|ty| TypeInfo {
                label: ty.as_str().to_ascii_uppercase(),
                mode: cfg.mode_of(ty.as_str()),
                ty,
            })
            .collect();
        let mut custom = Vec::new();
        for rule in &cfg.custom_rules {
            let name = rule.name.as_str();
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
                && !BUILTIN_NAMES.contains(&name)
                && !types.iter().any(|t| t.ty.as_str() == name);
            if !valid {
                return Err(RedactError::InvalidRuleName(name.to_string()));
            }
            let re = regex::Regex::new(&rule.pattern).map_err(|e| RedactError::InvalidRegex {
                name: name.to_string(),
                message: e.to_string(),
            })?;
            let idx = types.len() as u16;
            types.push(TypeInfo {
                ty: PiiType::Custom(name.to_string()),
                label: name.to_ascii_uppercase(),
                mode: cfg.mode_of(name),
            });
            if types[idx as usize].mode != Mode::Off {
                custom.push((re, idx));
            }
        }
        for name in cfg.modes.keys() {
            if !types.iter().any(|t| t.ty.as_str() == name) {
                return Err(RedactError::UnknownType(name.clone()));
            }
        }
        if types.iter().any(|t| t.mode == Mode::Pseudonym) && cfg.hmac_key.is_none() {
            return Err(RedactError::MissingHmacKey);
        }
        let on = |t: u16| types[t as usize].mode != Mode::Off;
        let scan_opts = scan::ScanOpts {
            email: on(T_EMAIL),
            phone: on(T_PHONE),
            card: on(T_CARD),
            ssn: on(T_SSN),
            iban: on(T_IBAN),
            ip: on(T_IP),
            secret: on(T_SECRET),
        };
        // A sensitive key is reported as its own type where one exists
        // (`ssn`, `card_number`), else as a secret.
        let mut key_words = Vec::new();
        let mut key_types = Vec::new();
        for k in &cfg.sensitive_keys {
            let norm = keys::normalize(k);
            let t = match norm.as_str() {
                "ssn" if on(T_SSN) => T_SSN,
                "cardnumber" if on(T_CARD) => T_CARD,
                _ if on(T_SECRET) => T_SECRET,
                _ => continue,
            };
            key_types.push((norm, t));
            key_words.push((secrets::key_words(k), t));
        }
        Ok(Redactor {
            secrets: secrets::Secrets::new(scan_opts.secret, &key_words),
            sensitive: keys::SensitiveKeys::new(key_types),
            scan_opts,
            hmac: cfg.hmac_key.as_deref().map(render::Keyed::new),
            types,
            custom,
        })
    }

    /// Every finding in `text`, non-overlapping, in order.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut spans = Vec::new();
        self.spans(text, &mut spans);
        spans
            .into_iter()
            .map(|s| Finding {
                start: s.start,
                end: s.end,
                pii_type: self.types[s.ty as usize].ty.clone(),
                rule: s.rule,
            })
            .collect()
    }

    fn spans(&self, text: &str, out: &mut Vec<Span>) {
        let b = text.as_bytes();
        // One cheap pass first: most strings of an event can hold nothing,
        // and the detectors' fixed cost per string is what dominates then.
        let secrets_regardless = self.secrets.may_match(b.len(), false);
        let f = scan::features(b, self.scan_opts.ip || !secrets_regardless);
        if secrets_regardless || self.secrets.may_match(b.len(), f.assign) {
            self.secrets.scan(b, out);
        }
        if f.digit || f.at {
            scan::scan(b, &self.scan_opts, out);
        }
        if self.scan_opts.ip && f.digit && f.assign {
            scan::scan_ipv6(b, out);
        }
        for (re, t) in &self.custom {
            custom_matches(re, text, |s, e| out.push(Span::new(s, e, *t, "custom")));
        }
        if out.len() > 1 {
            // Earlier start first; at equal starts the longer span wins. The
            // detectors emit in order mostly, so this is close to linear.
            out.sort_by(|a, c| a.start.cmp(&c.start).then(c.end.cmp(&a.end)));
            let mut w = 0;
            for r in 0..out.len() {
                if w == 0 || out[r].start >= out[w - 1].end {
                    out[w] = out[r];
                    w += 1;
                }
            }
            out.truncate(w);
        }
    }

    /// The work one [`Redactor::find`] of `text` does, by stage: the bytes
    /// its detectors read. For the linearity tests (`tests/redact_linear.rs`).
    #[doc(hidden)]
    pub fn count_steps(&self, text: &str) -> ScanSteps {
        steps::take();
        let mut spans = Vec::new();
        self.spans(text, &mut spans);
        steps::take().into()
    }

    /// Redacts `text`; borrows it back unchanged when nothing was found.
    pub fn redact_text<'a>(&self, text: &'a str, report: &mut PiiReport) -> Cow<'a, str> {
        let mut spans = Vec::new();
        self.spans(text, &mut spans);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 16 * spans.len());
        let mut last = 0;
        for s in &spans {
            out.push_str(&text[last..s.start]);
            let info = &self.types[s.ty as usize];
            render::render(
                &mut out,
                &text[s.start..s.end],
                s,
                info.mode,
                &info.label,
                self.hmac.as_ref(),
            );
            report.add(info.ty.as_str(), 1);
            last = s.end;
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// Redacts every string in `value` recursively (object keys too); values
    /// under sensitive keys are replaced whole, whatever their JSON type;
    /// integers that are valid card numbers are replaced as cards.
    pub fn redact_value(&self, value: &mut Value, report: &mut PiiReport) {
        match value {
            Value::String(s) => {
                if let Cow::Owned(r) = self.redact_text(s, report) {
                    *s = r;
                }
            }
            Value::Array(a) => {
                for v in a {
                    self.redact_value(v, report);
                }
            }
            Value::Object(map) => {
                let mut renamed: Vec<(String, String)> = Vec::new();
                for (k, v) in map.iter_mut() {
                    if let Some(t) = self.sensitive.matches(k) {
                        if !(v.is_null() || v.as_str() == Some("")) {
                            let raw = match &mut *v {
                                Value::String(s) => std::mem::take(s),
                                other => other.to_string(),
                            };
                            let info = &self.types[t as usize];
                            let mut out = String::new();
                            let span = Span::new(0, raw.len(), t, "sensitive_key");
                            render::render(
                                &mut out,
                                &raw,
                                &span,
                                info.mode,
                                &info.label,
                                self.hmac.as_ref(),
                            );
                            report.add(info.ty.as_str(), 1);
                            *v = Value::String(out);
                        }
                    } else {
                        self.redact_value(v, report);
                    }
                    if let Cow::Owned(nk) = self.redact_text(k, report) {
                        renamed.push((k.clone(), nk));
                    }
                }
                for (old, new) in renamed {
                    if let Some(v) = map.remove(&old) {
                        map.insert(new, v);
                    }
                }
            }
            Value::Number(n) => {
                // A card number has 13 to 19 digits: smaller integers (all
                // counts, ids and sizes) are passed without formatting them.
                if self.scan_opts.card && n.as_u64().is_some_and(|u| u >= 1_000_000_000_000) {
                    let digits = n.to_string();
                    if checks::is_card(digits.as_bytes()) {
                        let info = &self.types[T_CARD as usize];
                        let mut out = String::new();
                        let span = Span::new(0, digits.len(), T_CARD, "card");
                        render::render(
                            &mut out,
                            &digits,
                            &span,
                            info.mode,
                            &info.label,
                            self.hmac.as_ref(),
                        );
                        report.add("card", 1);
                        *value = Value::String(out);
                    }
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
