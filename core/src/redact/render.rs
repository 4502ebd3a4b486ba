//! Writing a finding in its mode: placeholder, partial or HMAC pseudonym.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Mode, Span, T_CARD, T_EMAIL, T_IBAN, T_IP, T_PHONE, T_SECRET, T_SSN};

/// HMAC-SHA-256 keyed once; cloned per value so the key schedule is not redone.
pub(crate) struct Keyed(Hmac<Sha256>);

impl Keyed {
    pub(crate) fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length.
        Keyed(
            Hmac::<Sha256>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
        )
    }

    /// First 12 hex characters of HMAC(key, label 0x00 canonical-value).
    pub(crate) fn token(&self, label: &str, value: &str) -> String {
        let mut m = self.0.clone();
        m.update(label.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        let tag = m.finalize().into_bytes();
        hex::encode(&tag[..6])
    }
}

/// The form of a value that pseudonyms are computed over, so that one number
/// written two ways correlates.
fn canonical(ty: u16, v: &str) -> String {
    match ty {
        T_EMAIL => v.replace("%40", "@").to_lowercase(),
        T_PHONE | T_CARD | T_SSN => v.chars().filter(char::is_ascii_digit).collect(),
        T_IBAN => v
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        _ => v.to_string(),
    }
}

/// Masks every ASCII digit (or alphanumeric) but the last `keep`, keeping separators.
fn mask_tail(out: &mut String, v: &str, keep: usize, alnum: bool) {
    let is_sig = |c: char| {
        if alnum {
            c.is_ascii_alphanumeric()
        } else {
            c.is_ascii_digit()
        }
    };
    let total = v.chars().filter(|&c| is_sig(c)).count();
    let mut seen = 0;
    for c in v.chars() {
        if is_sig(c) {
            seen += 1;
            out.push(if seen + keep > total { c } else { '*' });
        } else {
            out.push(c);
        }
    }
}

pub(crate) fn render(
    out: &mut String,
    v: &str,
    s: &Span,
    mode: Mode,
    label: &str,
    hmac: Option<&Keyed>,
) {
    match mode {
        Mode::Off => out.push_str(v),
        Mode::Placeholder => placeholder(out, label),
        Mode::Pseudonym => match hmac {
            Some(k) => {
                out.push('[');
                out.push_str(label);
                out.push(':');
                out.push_str(&k.token(label, &canonical(s.ty, v)));
                out.push(']');
            }
            None => placeholder(out, label),
        },
        Mode::Partial => partial(out, v, s, label),
    }
}

fn placeholder(out: &mut String, label: &str) {
    out.push('[');
    out.push_str(label);
    out.push(']');
}

fn partial(out: &mut String, v: &str, s: &Span, label: &str) {
    match s.ty {
        T_EMAIL => {
            let at = v
                .rfind('@')
                .map(|i| (i, 1))
                .or_else(|| v.to_ascii_lowercase().rfind("%40").map(|i| (i, 3)));
            match at {
                Some((i, w)) => {
                    out.push_str("***");
                    out.push_str(&v[i..i + w]);
                    out.push_str(&v[i + w..]);
                }
                None => placeholder(out, label),
            }
        }
        T_CARD | T_PHONE | T_SSN if s.rule != "sensitive_key" => mask_tail(out, v, 4, false),
        T_IBAN => {
            if v.len() > 2 && v.is_char_boundary(2) {
                out.push_str(&v[..2]);
                mask_tail(out, &v[2..], 4, true);
            } else {
                placeholder(out, label)
            }
        }
        T_IP => {
            if s.rule == "ipv4" {
                let mut parts = v.splitn(3, '.');
                if let (Some(a), Some(b)) = (parts.next(), parts.next()) {
                    out.push_str(a);
                    out.push('.');
                    out.push_str(b);
                    out.push_str(".*.*");
                    return;
                }
            }
            placeholder(out, label)
        }
        T_SECRET if s.keep > 0 && v.is_char_boundary(s.keep as usize) => {
            out.push_str(&v[..s.keep as usize]);
            out.push_str("***");
        }
        _ => placeholder(out, label),
    }
}
