//! The CLI surfaces that need no database: `redact` and `verify --ledger`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use sealtrail_core::client::{Client, ClientConfig};
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
