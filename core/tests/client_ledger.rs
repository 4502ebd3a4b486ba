//! With no endpoint, events go to a local chained ledger that verifies
//! offline, resumes its chains on reopen, catches an edited line, and
//! imports into a server.

mod common;

use std::time::Duration;

use common::*;
use sealtrail_core::client::{import, verify_ledger, Client, ClientConfig, Destination};
use sealtrail_core::BreakReason;

fn ledger_client(path: &std::path::Path) -> Client {
    let cfg = ClientConfig {
        ledger_path: path.to_path_buf(),
        linger: Duration::from_millis(10),
        ..ClientConfig::default()
    };
    Client::new(cfg).unwrap()
}

#[test]
fn ledger_default_verify_resume_tamper_import() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    assert!(matches!(c.destination(), Destination::Ledger { .. }));
    for i in 0..300 {
        c.record(event(["a", "b", "c"][i % 3], &format!("e{i}"), 200));
    }
    let r = c.shutdown(Duration::from_secs(10));
    assert!(r.complete);
    assert_eq!(r.ledger_written, 300);
    drop(c);

    // Reopen: chains resume where they stopped.
    let c = ledger_client(&path);
    for i in 300..330 {
        c.record(event("a", &format!("e{i}"), 200));
    }
    c.shutdown(Duration::from_secs(10));
    drop(c);

    let rep = verify_ledger(&path).unwrap();
    assert!(rep.ok(), "{rep:?}");
    assert_eq!(rep.lines, 330);
    let a = rep.chains.iter().find(|c| c.agent_id == "a").unwrap();
    assert_eq!((a.count, a.head_seq), (130, 130));
    assert_eq!(rep.chains.len(), 3);

    // Import into a server.
    let server = TestServer::start();
    let ir = import(&path, &server.endpoint(), KEY).unwrap();
    assert_eq!(
        (ir.events, ir.delivered, ir.rejected),
        (330, 330, 0),
        "{ir:?}"
    );
    assert_eq!(server.state.unique(), 330);
    let again = import(&path, &server.endpoint(), KEY).unwrap();
    assert_eq!(again.duplicates, 330);

    // Edit one line's event: caught at that seq, on that line.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert!(lines[10].contains("\"e10\""));
    lines[10] = lines[10].replace("\"e10\"", "\"e10-edited\"");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let rep = verify_ledger(&path).unwrap();
    assert!(!rep.ok());
    let broken: Vec<_> = rep.chains.iter().filter(|c| c.broken.is_some()).collect();
    assert_eq!(broken.len(), 1);
    let b = broken[0].broken.as_ref().unwrap();
    assert_eq!(b.reason, BreakReason::Edited);
    assert_eq!(broken[0].broken_line, Some(11));
    assert_eq!(b.seq, 4, "line 11 is the 4th event of agent b");
    assert!(
        import(&path, &server.endpoint(), KEY).is_err(),
        "a broken ledger is not imported"
    );

    // Removing a line is caught as missing.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.remove(20);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let rep = verify_ledger(&path).unwrap();
    let b = rep.chains.iter().find_map(|c| c.broken.clone()).unwrap();
    assert_eq!(b.reason, BreakReason::Missing, "{b}");
}

#[test]
fn torn_last_ledger_line_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    for i in 0..10 {
        c.record(event("a", &format!("e{i}"), 100));
    }
    c.shutdown(Duration::from_secs(5));
    drop(c);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"seq\":11,\"org_id\":\"lo");
    std::fs::write(&path, bytes).unwrap();
    let c = ledger_client(&path);
    c.record(event("a", "e10", 100));
    c.shutdown(Duration::from_secs(5));
    let rep = verify_ledger(&path).unwrap();
    assert!(rep.ok(), "{rep:?}");
    assert_eq!(rep.chains[0].head_seq, 11);
}

#[test]
fn deferred_json_is_parsed_on_the_worker_and_bad_text_is_counted() {
    use sealtrail_core::client::RecordOptions;
    use sealtrail_core::{Event, EventType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    let ok = RecordOptions {
        inputs_json: Some(r#"[{"to":"jane.doe@example.com","n":1}]"#.into()),
        outputs_json: Some("\"done\"".into()),
        attrs_json: Some(r#"{"k":"v"}"#.into()),
        ..Default::default()
    };
    assert!(c.record_with(Event::new(EventType::ToolCall, "a"), ok));
    let bad = RecordOptions {
        inputs_json: Some("[1,".into()),
        ..Default::default()
    };
    // Queued (no parsing on the caller's thread), refused by the worker.
    assert!(c.record_with(Event::new(EventType::ToolCall, "a"), bad));
    let r = c.shutdown(Duration::from_secs(10));
    assert_eq!(r.ledger_written, 1);
    let m = c.metrics();
    assert_eq!((m.invalid, m.dropped), (1, 1));
    assert!(m.last_error.unwrap().contains("inputs:"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""n":1"#), "{text}");
    assert!(text.contains(r#""k":"v""#), "{text}");
    assert!(!text.contains("jane.doe"), "redacted after parsing: {text}");
    assert!(verify_ledger(&path).unwrap().ok());
}

#[test]
fn per_call_redaction_overrides_and_full_prompt_storage() {
    use sealtrail_core::client::{Payload, PromptStorage, RecordOptions};
    use sealtrail_core::{Event, EventType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let cfg = ClientConfig {
        ledger_path: path.clone(),
        linger: Duration::from_millis(10),
        prompt_storage: PromptStorage::Full,
        ..ClientConfig::default()
    };
    let c = Client::new(cfg).unwrap();
    let spec: std::sync::Arc<str> = r#"{"mode":"email=off","sensitive_keys":["pin"]}"#.into();
    for i in 0..3 {
        let mut e = Event::new(EventType::ToolCall, "a");
        e.name = Some(format!("t{i}"));
        let opts = RecordOptions {
            inputs_json: Some(r#"{"to":"keep.me@example.com","pin":"1234"}"#.into()),
            redact: Some(spec.clone()),
            ..Default::default()
        };
        c.record_with(e, opts);
    }
    // Without the override: the default rules.
    let mut plain = Event::new(EventType::ToolCall, "a");
    plain.inputs = Some(serde_json::json!({"to": "gone@example.com", "pin": "5678"}));
    c.record(plain);
    // A bad override drops the event, counted.
    c.record_with(
        Event::new(EventType::ToolCall, "a"),
        RecordOptions {
            redact: Some("email=sparkle".into()),
            ..Default::default()
        },
    );
    // full: the prompt is stored as given, the rest still redacted.
    let mut mc = Event::new(EventType::ModelCall, "a");
    mc.inputs = Some(serde_json::json!({"params": {"note": "cc boss@example.com"}}));
    let msgs = serde_json::json!([{"role": "user", "content": "mail raw@example.com"}]);
    c.record_with(
        mc,
        RecordOptions {
            messages: Some(Payload::Value(msgs.clone())),
            ..Default::default()
        },
    );
    c.shutdown(Duration::from_secs(10));
    let m = c.metrics();
    assert_eq!((m.ledger_written, m.invalid), (5, 1), "{m:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("keep.me@example.com").count(), 3, "{text}");
    // "pin" is masked only where the override adds it (asserted on the
    // field: hashes and ids are random hex, which may hold "1234").
    let pins: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["event"]["inputs"]["pin"].as_str().map(str::to_string))
        .collect();
    assert_eq!(pins.len(), 4, "{text}");
    assert!(!pins.iter().any(|p| p.contains("1234")), "{pins:?}");
    assert_eq!(pins.iter().filter(|p| *p == "5678").count(), 1, "{pins:?}");
    assert!(!text.contains("gone@example.com"), "{text}");
    assert!(text.contains("raw@example.com"), "{text}");
    assert!(!text.contains("boss@example.com"), "{text}");
    assert!(text.contains(&sealtrail_core::hash::prompt_hash(&msgs)));
    assert!(verify_ledger(&path).unwrap().ok());
}

#[test]
fn a_second_writer_never_shares_the_ledger_file() {
    use sealtrail_core::client::ledger::LedgerWriter;
    use sealtrail_core::event::{Event, EventType, Limits};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let (mut a, _) = LedgerWriter::open(&path, false).unwrap();
    // Another open of the same file (as a forked child or a second process
    // would do) is given a file of its own instead of interleaving.
    let (mut b, _) = LedgerWriter::open(&path, false).unwrap();
    assert_eq!(a.path(), path.as_path());
    assert_ne!(b.path(), a.path());
    assert!(b
        .path()
        .to_string_lossy()
        .ends_with(&format!(".{}.jsonl", std::process::id())));
    for w in [&mut a, &mut b] {
        let sealed: Vec<_> = (0..3)
            .map(|i| {
                let mut e = Event::new(EventType::Custom, "agent");
                e.name = Some(format!("n{i}"));
                e.seal(&Limits::default()).unwrap()
            })
            .collect();
        let canon: Vec<Vec<u8>> = sealed.iter().map(|s| s.event.canonical_bytes()).collect();
        w.append(
            sealed
                .iter()
                .zip(&canon)
                .map(|(s, c)| ("agent", c.as_slice(), &s.content_hash)),
        )
        .unwrap();
    }
    let (pa, pb) = (a.path().to_path_buf(), b.path().to_path_buf());
    drop((a, b));
    for p in [pa, pb] {
        let r = verify_ledger(&p).unwrap();
        assert!(r.ok(), "{p:?}: {r:?}");
        assert_eq!(r.chains[0].count, 3);
    }
    // Once the first writer is gone, the file is free again.
    let (c, _) = LedgerWriter::open(&path, false).unwrap();
    assert_eq!(c.path(), path.as_path());
}

#[test]
fn a_pair_is_one_slot_of_two_events_in_order_each_checked() {
    use sealtrail_core::client::RecordOptions;
    use sealtrail_core::{Event, EventType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let cfg = ClientConfig {
        ledger_path: path.clone(),
        linger: Duration::from_millis(10),
        queue_capacity: 1,
        ..ClientConfig::default()
    };
    let c = Client::new(cfg).unwrap();
    let call = Event::new(EventType::ToolCall, "a");
    let mut end = Event::new(EventType::ToolResult, "a");
    end.parent_id = Some(call.id.to_string());
    let ids = (call.id.to_string(), end.id.to_string());
    let json = |t: &str| RecordOptions {
        inputs_json: Some(t.into()),
        ..Default::default()
    };
    assert!(c.record_pair((call, json("[1]")), (end, json("2"))));
    // A pair whose end does not parse: the call is kept, the end counted.
    let call2 = Event::new(EventType::ToolCall, "a");
    let id2 = call2.id.to_string();
    let bad = (Event::new(EventType::ToolResult, "a"), json("[1,"));
    let mut refused = 0;
    while !c.record_pair((call2.clone(), json("[3]")), bad.clone()) {
        // One slot: wait until the worker took the first pair.
        std::thread::sleep(Duration::from_millis(1));
        refused += 1;
    }
    let r = c.shutdown(Duration::from_secs(10));
    assert_eq!(r.ledger_written, 3);
    let m = c.metrics();
    assert_eq!(m.recorded, 4, "{m:?}");
    assert_eq!((m.invalid, m.queue_depth), (1, 0), "{m:?}");
    // Refused pairs count both events as dropped (queue full).
    assert_eq!(m.dropped_queue_full, 2 * refused, "{m:?}");
    assert_eq!(m.dropped, 2 * refused + 1, "{m:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = |id: &str| text.find(id).unwrap();
    assert!(at(&ids.0) < at(&ids.1) && at(&ids.1) < at(&id2), "{text}");
    assert!(verify_ledger(&path).unwrap().ok());
}

#[test]
fn queue_depth_counts_events_not_slots() {
    use sealtrail_core::client::RecordOptions;
    use sealtrail_core::{Event, EventType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    let one = || {
        (
            Event::new(EventType::ToolCall, "a"),
            RecordOptions::default(),
        )
    };
    for _ in 0..2000 {
        c.record_pair(one(), one());
    }
    let m = c.metrics();
    assert_eq!(m.recorded, 4000);
    // Whatever the worker has not taken yet, counted in events.
    assert_eq!(m.queue_depth % 2, 0, "{m:?}");
    assert!(m.queue_depth <= 4000);
    let r = c.flush(Duration::from_secs(10));
    assert!(r.complete);
    assert_eq!((r.ledger_written, r.queued), (4000, 0));
}

#[test]
fn an_ended_call_is_written_as_its_call_then_its_result() {
    use sealtrail_core::capture::Context;
    use sealtrail_core::client::{EndedCall, Payload, ToolSpec};
    use sealtrail_core::{EventId, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    let tool = std::sync::Arc::new(ToolSpec {
        agent_id: "a".into(),
        name: "lookup".into(),
        attrs: None,
        redact: None,
    });
    let t0 = std::time::SystemTime::now();
    let (call_id, end_id) = (EventId::generate_at(t0), EventId::generate());
    assert!(c.record_call(EndedCall {
        tool,
        ctx: Context::default(),
        call_id,
        started: Timestamp::at(t0),
        end_id,
        ended: Timestamp::now(),
        latency_ms: Some(0),
        inputs: Some(Payload::Json(r#"["mail jane.doe@example.com"]"#.into())),
        outputs: Some(Payload::Json("3".into())),
        error: None,
    }));
    let r = c.shutdown(Duration::from_secs(10));
    assert_eq!((r.ledger_written, c.metrics().recorded), (2, 2));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ev = |i: usize| lines[i].get("event").unwrap_or(&lines[i]).clone();
    assert_eq!(ev(0)["type"], "tool_call");
    assert_eq!(ev(0)["id"], call_id.to_string());
    assert_eq!(ev(0)["trace_id"], call_id.to_string());
    assert_eq!(ev(1)["type"], "tool_result");
    assert_eq!(ev(1)["parent_id"], call_id.to_string());
    assert_eq!(ev(1)["outputs"], 3);
    assert!(!text.contains("jane.doe"), "redacted: {text}");
    assert!(verify_ledger(&path).unwrap().ok());
}

#[test]
fn kept_heads_catch_a_ledger_cut_short_or_rewritten() {
    use sealtrail_core::client::{verify_ledger_with_heads, LedgerHead};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    for i in 0..10 {
        c.record(event(["a", "b:x"][i % 2], &format!("e{i}"), 100));
    }
    assert!(c.flush(Duration::from_secs(10)).complete);
    let heads = c.ledger_heads();
    c.shutdown(Duration::from_secs(10));
    drop(c);
    let texts: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    assert_eq!(texts.len(), 2);
    assert!(
        texts[0].starts_with("a:5:") && texts[1].starts_with("b:x:5:"),
        "{texts:?}"
    );
    let parsed: Vec<LedgerHead> = texts.iter().map(|t| t.parse().unwrap()).collect();
    assert_eq!(
        parsed, heads,
        "text form round-trips, agent with ':' included"
    );
    let rep = verify_ledger_with_heads(&path, &parsed).unwrap();
    assert!(rep.ok(), "{rep:?}");
    assert!(rep.heads.iter().all(|h| h.ok));

    // Cut the last two lines (one link of each agent): the file still
    // verifies on its own, not against the kept heads.
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, lines[..8].join("\n") + "\n").unwrap();
    assert!(verify_ledger(&path).unwrap().ok(), "fine without a head");
    let rep = verify_ledger_with_heads(&path, &heads).unwrap();
    assert!(!rep.ok());
    let reasons: Vec<_> = rep.heads.iter().map(|h| h.reason.as_deref()).collect();
    assert_eq!(reasons, [Some("truncated"), Some("truncated")], "{rep:?}");
    assert!(
        rep.heads[0].detail.contains("ends at seq 4"),
        "{}",
        rep.heads[0].detail
    );

    // Written on past the cut: the chain is long enough again, but the link
    // at the head's seq is another one.
    let c = ledger_client(&path);
    c.record(event("a", "replacement", 100));
    c.shutdown(Duration::from_secs(10));
    drop(c);
    assert!(verify_ledger(&path).unwrap().ok());
    let rep = verify_ledger_with_heads(&path, &heads).unwrap();
    assert_eq!(rep.heads[0].reason.as_deref(), Some("rewritten"), "{rep:?}");
    assert_eq!(rep.heads[1].reason.as_deref(), Some("truncated"));

    // A head without an agent needs a ledger of one chain.
    let one: LedgerHead = format!("4:{}", heads[0].hash).parse().unwrap();
    assert!(verify_ledger_with_heads(&path, &[one]).is_err());
    for bad in [
        "",
        "5",
        "a:0:00",
        "x:5:zz",
        &format!(":5:{}", heads[0].hash),
    ] {
        assert!(bad.parse::<LedgerHead>().is_err(), "{bad:?}");
    }
}

#[test]
fn a_head_without_agent_for_a_single_chain_ledger() {
    use sealtrail_core::client::{verify_ledger_with_heads, LedgerHead};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let c = ledger_client(&path);
    for i in 0..3 {
        c.record(event("solo", &format!("e{i}"), 100));
    }
    c.flush(Duration::from_secs(10));
    let h = c.ledger_heads().remove(0);
    c.shutdown(Duration::from_secs(10));
    let head: LedgerHead = format!("{}:{}", h.seq, h.hash).parse().unwrap();
    assert!(verify_ledger_with_heads(&path, std::slice::from_ref(&head))
        .unwrap()
        .ok());
    std::fs::write(&path, "").unwrap();
    let rep = verify_ledger_with_heads(&path, &[head]).unwrap();
    assert_eq!(rep.heads[0].reason.as_deref(), Some("truncated"), "{rep:?}");
    assert!(!rep.ok(), "an emptied ledger does not pass its kept head");
}
