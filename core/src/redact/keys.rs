//! Sensitive JSON keys: a key matches when its trailing words, joined and
//! lowercased, equal a configured key so normalised. `db_password`,
//! `X-Api-Key`, `accessToken` and `Set-Cookie` match; `max_tokens`,
//! `password_hint` and `secretary` do not.

pub(crate) fn normalize(k: &str) -> String {
    k.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(crate) struct SensitiveKeys {
    keys: Vec<(String, u16)>,
}

impl SensitiveKeys {
    pub(crate) fn new(keys: Vec<(String, u16)>) -> Self {
        SensitiveKeys { keys }
    }

    /// The type to report the key's value as, if the key is sensitive.
    /// Allocation-free: it runs for every key of every event.
    pub(crate) fn matches(&self, key: &str) -> Option<u16> {
        if self.keys.is_empty() || key.len() > 128 {
            return None;
        }
        // Normalised key (ASCII alphanumerics, lowercase) and the offsets in
        // it where a word starts: after a separator, or at a lower-to-upper
        // (camelCase) change.
        let mut norm = [0u8; 128];
        let mut starts = [0u8; 64];
        let (mut n, mut ns) = (0usize, 0usize);
        let mut prev: Option<u8> = None;
        for &c in key.as_bytes() {
            if c.is_ascii_alphanumeric() {
                let boundary = match prev {
                    None => true,
                    Some(p) => {
                        !p.is_ascii_alphanumeric()
                            || (p.is_ascii_lowercase() && c.is_ascii_uppercase())
                    }
                };
                if boundary && ns < starts.len() {
                    starts[ns] = n as u8;
                    ns += 1;
                }
                norm[n] = c.to_ascii_lowercase();
                n += 1;
            }
            prev = Some(c);
        }
        for &s in &starts[..ns] {
            let tail = &norm[usize::from(s)..n];
            if let Some((_, t)) = self.keys.iter().find(|(k, _)| k.as_bytes() == tail) {
                return Some(*t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SensitiveKeys {
        SensitiveKeys::new(
            [
                "password",
                "token",
                "apikey",
                "setcookie",
                "cookie",
                "secret",
                "privatekey",
            ]
            .iter()
            .map(|k| (k.to_string(), 6))
            .collect(),
        )
    }

    #[test]
    fn matches_suffix_words() {
        let k = keys();
        for yes in [
            "password",
            "PASSWORD",
            "db_password",
            "X-Api-Key",
            "apiKey",
            "api_key",
            "accessToken",
            "Set-Cookie",
            "client_secret",
            "privateKey",
            "private-key",
        ] {
            assert!(k.matches(yes).is_some(), "{yes}");
        }
        for no in [
            "max_tokens",
            "password_hint",
            "secretary",
            "tokens",
            "input_tokens",
            "name",
            "cookies_enabled",
        ] {
            assert!(k.matches(no).is_none(), "{no}");
        }
    }
}
