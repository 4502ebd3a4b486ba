//! The CLI surfaces that need no database: `redact`, `verify --ledger`
//! (with kept heads) and `audit-receipts` (against core's loopback log
//! server, shared with core's tests).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use sealtrail_core::client::{Client, ClientConfig};

/// The API key core's loopback log server accepts.
const KEY: &str = "test-key";
#[path = "../../core/tests/common/loopback.rs"]
#[allow(dead_code)]
mod loopback;
#[path = "../../core/tests/common/tlog_server.rs"]
#[allow(dead_code)]
mod tlog_server;
use sealtrail_core::event::{Event, EventType};

fn sealtrail(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealtrail");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn redact_text_and_jsonl() {
    let (code, out, _) = sealtrail(
        &["redact"],
        "mail jane@example.com, card 4111 1111 1111 1111\nnothing here\n",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "mail [EMAIL], card [CARD]\nnothing here\n");

    let input = "{\"id\":1,\"text\":\"call +44 20 7946 0958\"}\n{oops\n{\"text\":\"bob@example.org\",\"k\":[1]}\n";
    let (code, out, err) = sealtrail(&["redact", "--jsonl", "--mode", "email=partial"], input);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "one line out per line in: {out}");
    assert_eq!(lines[0], "{\"id\":1,\"text\":\"call [PHONE]\"}");
    assert!(
        lines[1].contains("\"error\"") && lines[1].contains("\"line\":2"),
        "{}",
        lines[1]
    );
    assert!(err.contains("line 2"), "{err}");
    assert!(
        !lines[2].contains("bob@") && lines[2].contains("example.org"),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with("\"k\":[1]}"), "{}", lines[2]);
}

#[test]
fn verify_ledger_ok_then_edited() {
    let dir = std::env::temp_dir().join(format!("sealtrail-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.jsonl");
    let cfg = ClientConfig {
        ledger_path: path.clone(),
        agent_id: "cli-agent".into(),
        ..Default::default()
    };
    let client = Client::new(cfg).unwrap();
    for i in 0..5 {
        let mut e = Event::new(EventType::ToolCall, "cli-agent");
        e.name = Some(format!("tool-{i}"));
        e.inputs = Some(serde_json::json!({"amount": i}));
        assert!(client.record(e));
    }
    client.shutdown(Duration::from_secs(5));
    let p = path.to_str().unwrap();
    let (code, out, err) = sealtrail(&["verify", "--ledger", p], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("1 chains, 0 broken"), "{err}");

    // Edit the amount of the third event: verify names seq 3, edited.
    let text = std::fs::read_to_string(&path).unwrap();
    let edited: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                l.replace("\"amount\":2", "\"amount\":200")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, edited.join("\n") + "\n").unwrap();
    let (code, out, _) = sealtrail(&["verify", "--ledger", p], "");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("\"seq\":3") && out.contains("edited"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn verify_ledger_with_a_kept_head_catches_a_cut_tail() {
    let dir = tempfile_dir("head");
    let path = dir.join("ledger.jsonl");
    let cfg = ClientConfig {
        ledger_path: path.clone(),
        ..Default::default()
    };
    let client = Client::new(cfg).unwrap();
    for i in 0..6 {
        let mut e = Event::new(EventType::ToolCall, ["a", "b"][i % 2]);
        e.name = Some(format!("tool-{i}"));
        assert!(client.record(e));
    }
    client.flush(Duration::from_secs(5));
    let heads: Vec<String> = client
        .ledger_heads()
        .iter()
        .map(|h| h.to_string())
        .collect();
    client.shutdown(Duration::from_secs(5));
    let p = path.to_str().unwrap();
    let with_heads = |extra: &[&str]| {
        let mut args = vec!["verify", "--ledger", p];
        for h in &heads {
            args.extend(["--head", h.as_str()]);
        }
        args.extend(extra);
        sealtrail(&args, "")
    };
    let (code, out, err) = with_heads(&[]);
    assert_eq!(code, 0, "{out}{err}");

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, lines[..5].join("\n") + "\n").unwrap();
    let (code, out, err) = sealtrail(&["verify", "--ledger", p], "");
    assert_eq!(code, 0, "without a head the cut is invisible: {out}{err}");
    let (code, out, _) = with_heads(&[]);
    assert_eq!(code, 2, "{out}");
    let line = out.lines().find(|l| l.contains("truncated")).expect(&out);
    assert!(line.contains("\"agent_id\":\"b\""), "{line}");
    // A head without the agent in a ledger of two agents is a usage error.
    let bare = heads[0].split_once(':').unwrap().1;
    let (code, _, err) = sealtrail(&["verify", "--ledger", p, "--head", bare], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("name the agent"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn audit_receipts_exit_codes() {
    let server = tlog_server::LogServer::start();
    let dir = tempfile_dir("audit");
    let spool = dir.join("spool");
    let mut cfg = ClientConfig::default();
    cfg.set("endpoint", &server.endpoint()).unwrap();
    cfg.api_key = Some(KEY.into());
    cfg.spool_dir = spool.clone();
    cfg.linger = Duration::from_millis(10);
    let client = Client::new(cfg).unwrap();
    for i in 0..3 {
        let mut e = Event::new(EventType::ToolCall, "cli-agent");
        e.name = Some(format!("tool-{i}"));
        assert!(client.record(e));
    }
    assert_eq!(client.shutdown(Duration::from_secs(5)).delivered, 3);
    server.state.with(|i| i.publish());
    let key = tlog_server::log_key();
    let audit = |endpoint: &str| {
        sealtrail(
            &[
                "audit-receipts",
                "--endpoint",
                endpoint,
                "--api-key",
                KEY,
                "--spool-dir",
                spool.to_str().unwrap(),
                "--log-key",
                &key,
            ],
            "",
        )
    };
    let (code, out, err) = audit(&server.endpoint());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"proved\":3"), "{out}");

    let gone = server.state.with(|i| {
        let id = i.events.keys().next().unwrap().clone();
        i.events.remove(&id);
        id
    });
    let (code, out, err) = audit(&server.endpoint());
    assert_eq!(code, 3, "{out}{err}");
    let problem: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(problem["status"], "missing");
    assert_eq!(problem["id"], gone.as_str());
    assert!(err.contains("1 missing"), "{err}");

    let (code, _, err) = audit("http://127.0.0.1:9");
    assert_eq!(code, 1, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sealtrail-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
