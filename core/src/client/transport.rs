//! HTTP transport: one keep-alive reqwest client (rustls), compressed
//! bodies, and the classification of answers into delivered / retry later /
//! refused. Retrying and spooling are the worker's business.

use std::io::Write;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};

use super::config::{ClientConfig, Compression};
use super::wire::BatchAnswer;
use crate::error::{Error, ErrorKind, Result};

/// What became of one POST.
#[derive(Debug)]
pub enum Outcome {
    /// 2xx. `answer` is `None` when the body was not the expected JSON (the
    /// batch was accepted all the same).
    Accepted {
        answer: Option<BatchAnswer>,
        raw: String,
    },
    /// Network error, timeout, 408, 429 or 5xx: try again later.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Any other status: the server will never take this batch.
    Refused { status: u16, answer: String },
}

#[derive(Clone, Debug)]
pub struct Transport {
    http: reqwest::Client,
    url: String,
    auth: HeaderValue,
    compression: Compression,
}

impl Transport {
    pub fn new(cfg: &ClientConfig) -> Result<Self> {
        let endpoint = cfg
            .endpoint
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::Config, "no endpoint configured"))?;
        let key = cfg.api_key.as_deref().unwrap_or("");
        Transport::build(
            endpoint,
            key,
            cfg.compression,
            cfg.request_timeout,
            cfg.connect_timeout,
        )
    }

    pub fn build(
        endpoint: &str,
        api_key: &str,
        compression: Compression,
        request_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("sealtrail-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(ErrorKind::Config, format!("HTTP client: {e}")))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {api_key}")).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "the API key contains characters not allowed in a header",
            )
        })?;
        auth.set_sensitive(true);
        Ok(Transport {
            http,
            url: format!("{}/v1/events", endpoint.trim_end_matches('/')),
            auth,
            compression,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs one batch body (uncompressed JSON) and classifies the answer.
    pub async fn send(&self, body: &[u8]) -> Outcome {
        let (payload, encoding) = match compress(self.compression, body) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    error: format!("compressing the batch failed: {e}"),
                }
            }
        };
        let mut req = self
            .http
            .post(&self.url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(enc) = encoding {
            req = req.header(CONTENT_ENCODING, enc);
        }
        let resp = match req.body(payload).send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    error: format!("POST {}: {}", self.url, describe(&e)),
                }
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) if status.is_success() => {
                // Accepted, but the answer was lost: the events are in.
                return Outcome::Accepted {
                    answer: None,
                    raw: format!("(answer unreadable: {})", describe(&e)),
                };
            }
            Err(e) => {
                return Outcome::Retry {
                    after: retry_after,
                    error: format!(
                        "POST {}: {status}, body unreadable: {}",
                        self.url,
                        describe(&e)
                    ),
                }
            }
        };
        let code = status.as_u16();
        if status.is_success() {
            let answer = serde_json::from_str::<BatchAnswer>(&text).ok();
            Outcome::Accepted { answer, raw: text }
        } else if code == 408 || code == 429 || status.is_server_error() {
            Outcome::Retry {
                after: retry_after,
                error: format!("POST {}: {status}: {}", self.url, snippet(&text)),
            }
        } else {
            Outcome::Refused {
                status: code,
                answer: text,
            }
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = when.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// Compresses a body; returns it with its `Content-Encoding`.
pub fn compress(c: Compression, body: &[u8]) -> std::io::Result<(Vec<u8>, Option<&'static str>)> {
    match c {
        Compression::None => Ok((body.to_vec(), None)),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            enc.write_all(body)?;
            Ok((enc.finish()?, Some("gzip")))
        }
        #[cfg(feature = "zstd")]
        Compression::Zstd => Ok((zstd::bulk::compress(body, 1)?, Some("zstd"))),
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd => Err(std::io::Error::other("built without zstd")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn gzip_round_trip() {
        let (z, enc) = compress(Compression::Gzip, b"{\"events\":[]}").unwrap();
        assert_eq!(enc, Some("gzip"));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&z[..]), &mut out).unwrap();
        assert_eq!(out, "{\"events\":[]}");
    }
}
