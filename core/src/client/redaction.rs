//! The redaction the worker applies to every event before it is validated,
//! hashed, spooled, written or sent: the core engine over every free-form
//! field. Identifiers (`agent_id`, `actor_id`, `session_id`, …) and `name`
//! are kept as given: they are how a trail is searched and exported, so they
//! should be pseudonymous ids, not personal data.

use std::sync::Arc;

use serde_json::Value;

use super::{ClientConfig, EventRedactor};
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::redact::{PiiReport, Redactor};

/// Builds the redactor a client's configuration asks for.
pub fn redactor_for(cfg: &ClientConfig) -> Result<Arc<Redactor>> {
    let mut rc = cfg.redact.clone();
    if rc.hmac_key.is_none() {
        rc.hmac_key = cfg.hmac_key.as_ref().map(|k| k.as_bytes().to_vec());
    }
    Redactor::new(rc)
        .map(Arc::new)
        .map_err(|e| Error::new(ErrorKind::Config, format!("redaction settings: {e}")))
}

fn text(r: &Redactor, s: &mut String, report: &mut PiiReport) {
    if let std::borrow::Cow::Owned(new) = r.redact_text(s, report) {
        *s = new;
    }
}

impl EventRedactor for Redactor {
    fn redact_text(&self, text: &str, report: &mut PiiReport) -> String {
        Redactor::redact_text(self, text, report).into_owned()
    }

    fn redact(&self, e: &mut Event) {
        let mut report = PiiReport::new();
        if let Some(v) = e.inputs.as_mut() {
            self.redact_value(v, &mut report);
        }
        if let Some(v) = e.outputs.as_mut() {
            self.redact_value(v, &mut report);
        }
        if let Some(attrs) = e.attrs.as_mut() {
            // As an object, so that sensitive keys at its top level count too.
            let mut v = Value::Object(std::mem::take(attrs));
            self.redact_value(&mut v, &mut report);
            if let Value::Object(m) = v {
                *attrs = m;
            }
        }
        if let Some(err) = e.error.as_mut() {
            text(self, &mut err.message, &mut report);
            if let Some(stack) = err.stack.as_mut() {
                text(self, stack, &mut report);
            }
        }
        if let Some(reason) = e.decision.as_mut().and_then(|d| d.reason.as_mut()) {
            text(self, reason, &mut report);
        }
        if !report.is_empty() {
            let pii = e.pii.get_or_insert_with(Default::default);
            for (k, n) in report.counts() {
                *pii.entry(k.clone()).or_insert(0) += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Decision, DecisionOutcome, ErrorInfo, EventType};

    #[test]
    fn every_free_form_field_is_redacted_and_counted() {
        let r = redactor_for(&ClientConfig::default()).unwrap();
        let mut e = Event::new(EventType::ToolCall, "agent");
        e.actor_id = Some("user-7".into());
        e.inputs = Some(serde_json::json!({"to": "jane.doe@example.com", "password": "hunter2"}));
        e.outputs = Some(serde_json::json!(["card 4111 1111 1111 1111"]));
        e.attrs = Some(
            serde_json::json!({"token": "abc", "note": "call +1 415 555 2671"})
                .as_object()
                .unwrap()
                .clone(),
        );
        e.error = Some(ErrorInfo {
            kind: "E".into(),
            message: "failed for jane.doe@example.com".into(),
            stack: Some("at send(jane.doe@example.com)".into()),
        });
        e.decision = Some(Decision {
            outcome: DecisionOutcome::Denied,
            by: Some("ops".into()),
            reason: Some("card 4111-1111-1111-1111 is blocked".into()),
        });
        r.redact(&mut e);
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        for secret in ["jane.doe", "hunter2", "4111", "555 2671", "\"abc\""] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        let pii = e.pii.unwrap();
        assert_eq!(pii.get("email"), Some(&3), "{pii:?}");
        assert_eq!(pii.get("card"), Some(&2), "{pii:?}");
        assert_eq!(pii.get("phone"), Some(&1), "{pii:?}");
        assert_eq!(e.actor_id.as_deref(), Some("user-7"));
    }

    #[test]
    fn settings_by_name() {
        let mut cfg = ClientConfig::default();
        cfg.set("redact_mode", "email=partial").unwrap();
        let r = redactor_for(&cfg).unwrap();
        let mut e = Event::new(EventType::ToolCall, "agent");
        e.inputs = Some(serde_json::json!("write to jane@example.com"));
        r.redact(&mut e);
        let s = e.inputs.unwrap().to_string();
        assert!(!s.contains("jane@"), "{s}");
        assert!(s.contains("example.com"), "{s}");
        // Pseudonyms without a key are refused with a clear error.
        let mut cfg = ClientConfig::default();
        cfg.set("redact_mode", "pseudonym").unwrap();
        let err = redactor_for(&cfg).unwrap_err();
        assert!(err.message().contains("HMAC"), "{err}");
        cfg.set("hmac_key", "k").unwrap();
        redactor_for(&cfg).unwrap();
        assert!(cfg.set("redact_mode", "sparkle").is_err());
    }
}
