//! The agent side of the transparency log: the client keeps the server's
//! receipts, and `audit_receipts` replays them against a loopback log
//! server built from `core::tlog` (real proofs, checkpoints signed with a
//! real Ed25519 key): ok, pending, missing, altered, bad signature, a
//! rollback and a fork of the log.

mod common;

use std::path::Path;
use std::time::Duration;

use common::tlog_server::{log_key, LogServer, LOG_NAME};
use common::*;
use sealtrail_core::client::audit::CHECKPOINTS_FILE;
use sealtrail_core::client::{
    audit_receipts, read_receipts, AuditReport, AuditStatus, Client, ClientConfig,
};
use sealtrail_core::tlog::{Signer, ALG_ED25519};

fn cfg(server: &LogServer, spool: &Path) -> ClientConfig {
    let mut c = config(&server.endpoint(), spool);
    c.log_key = Some(log_key());
    c
}

/// Records `n` events alternating between agents a and b, delivered.
fn deliver(c: &ClientConfig, n: usize, tag: &str) {
    let client = Client::new(c.clone()).unwrap();
    for i in 0..n {
        client.record(event(["a", "b"][i % 2], &format!("{tag}{i}"), 100));
    }
    let r = client.shutdown(Duration::from_secs(10));
    assert_eq!(r.delivered as usize, n, "{r:?}");
    assert!(r.complete);
}

fn statuses(r: &AuditReport, s: AuditStatus) -> Vec<(String, u64)> {
    r.problems
        .iter()
        .filter(|p| p.status == s)
        .map(|p| (p.agent_id.clone(), p.seq))
        .collect()
}

#[test]
fn receipts_kept_and_audited_ok_pending_missing_altered() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(&server, dir.path());
    deliver(&c, 10, "e");

    let kept = read_receipts(&dir.path().join("receipts.jsonl")).unwrap();
    assert_eq!(kept.len(), 10);
    assert_eq!(
        kept.iter()
            .filter(|k| k.agent_id == "a")
            .map(|k| k.seq)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    server.state.with(|i| {
        for k in &kept {
            assert_eq!(i.events[&k.id.to_string()].hash, k.hash);
        }
    });

    // Nothing published yet: every event is pending, nothing is wrong.
    let r = audit_receipts(&c).unwrap();
    assert_eq!((r.receipts, r.pending, r.proved), (10, 10, 0), "{r:?}");
    assert!(r.all_ok() && r.log.is_empty());

    server.state.with(|i| i.publish());
    let r = audit_receipts(&c).unwrap();
    assert_eq!((r.proved, r.problems.len()), (10, 0), "{r:?}");
    assert_eq!(r.log[0].status, "first");
    assert!(dir.path().join(CHECKPOINTS_FILE).exists());

    deliver(&c, 4, "f");
    server.state.with(|i| i.publish());
    deliver(&c, 2, "g"); // stored, not published
                         // The server loses one event and rewrites another.
    let (gone, changed) = (kept[3].clone(), kept[6].clone());
    server.state.with(|i| {
        i.events.remove(&gone.id.to_string());
        i.altered
            .insert(changed.id.to_string(), sealtrail_core::Hash([9; 32]));
    });
    let r = audit_receipts(&c).unwrap();
    assert_eq!(r.log[0].status, "consistent", "{:?}", r.log);
    assert_eq!(r.log[0].saved_size, Some(10));
    assert_eq!(r.log[0].size, Some(14));
    assert_eq!(
        (r.receipts, r.proved, r.pending, r.missing, r.altered),
        (16, 12, 2, 1, 1),
        "{r:?}"
    );
    assert_eq!(
        statuses(&r, AuditStatus::Missing),
        [(gone.agent_id.clone(), gone.seq)]
    );
    assert_eq!(
        statuses(&r, AuditStatus::Altered),
        [(changed.agent_id.clone(), changed.seq)]
    );
    assert!(r.unprovable() && !r.all_ok());
}

#[test]
fn rollback_after_the_last_checkpoint_is_caught_by_receipts_and_before_it_by_the_checkpoint() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(&server, dir.path());
    deliver(&c, 4, "e");
    server.state.with(|i| i.publish());
    assert!(audit_receipts(&c).unwrap().all_ok());
    // Two more acknowledged, then the database is restored to the backup
    // taken at the last checkpoint: invisible to checkpoints...
    deliver(&c, 2, "f");
    server.state.with(|i| i.roll_back_to(4));
    let r = audit_receipts(&c).unwrap();
    assert_eq!(r.log[0].status, "consistent");
    // ...but not to the receipts.
    assert_eq!((r.proved, r.missing), (4, 2), "{r:?}");
    assert_eq!(
        statuses(&r, AuditStatus::Missing),
        [("a".to_string(), 3), ("b".to_string(), 3)]
    );

    // Grow, publish, audit (saved size 6), then roll back past that
    // checkpoint: the log itself is caught shrinking.
    deliver(&c, 2, "g");
    server.state.with(|i| i.publish());
    let r = audit_receipts(&c).unwrap();
    assert_eq!(
        (r.log[0].status.as_str(), r.log[0].size),
        ("consistent", Some(6))
    );
    server.state.with(|i| i.roll_back_to(5));
    let r = audit_receipts(&c).unwrap();
    assert_eq!(r.log[0].status, "rollback", "{:?}", r.log);
    assert_eq!((r.log[0].saved_size, r.log[0].size), (Some(6), Some(5)));
    assert!(r.unprovable());
    // The saved checkpoint is kept as evidence, not replaced.
    let saved = std::fs::read_to_string(dir.path().join(CHECKPOINTS_FILE)).unwrap();
    assert!(saved.contains("\"size\": 6"), "{saved}");
}

#[test]
fn a_fork_of_the_log_is_reported() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(&server, dir.path());
    deliver(&c, 5, "e");
    server.state.with(|i| i.publish());
    assert!(audit_receipts(&c).unwrap().all_ok());

    // Same size, another history.
    server.state.with(|i| i.fork_at(1));
    let r = audit_receipts(&c).unwrap();
    assert_eq!(r.log[0].status, "fork", "{:?}", r.log);
    assert!(r.unprovable());

    // A larger tree that does not extend the saved one.
    deliver(&c, 3, "f");
    server.state.with(|i| i.publish());
    let r = audit_receipts(&c).unwrap();
    assert_eq!(r.log[0].status, "fork", "{:?}", r.log);
    assert_eq!((r.log[0].saved_size, r.log[0].size), (Some(5), Some(8)));
}

#[test]
fn checkpoints_signed_by_another_key_or_log_are_refused() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(&server, dir.path());
    deliver(&c, 3, "e");
    server.state.with(|i| {
        i.publish();
        i.sign_with_wrong_key();
    });
    let r = audit_receipts(&c).unwrap();
    assert_eq!(r.log[0].status, "bad_checkpoint", "{:?}", r.log);
    assert_eq!((r.bad_checkpoint, r.proved), (3, 0), "{r:?}");
    assert!(
        r.problems[0].detail.contains("signature"),
        "{}",
        r.problems[0].detail
    );
    assert!(
        !dir.path().join(CHECKPOINTS_FILE).exists(),
        "a bad checkpoint is never saved"
    );

    // The right key of another log name: the origin is not ours.
    let mut other = c.clone();
    other.log_key = Some(
        Signer::from_seed("log.other", ALG_ED25519, &[42; 32])
            .unwrap()
            .verifier()
            .to_text(),
    );
    let r = audit_receipts(&other).unwrap();
    assert_eq!(r.bad_checkpoint, 3);
    assert!(
        r.problems[0].detail.contains("log.other"),
        "{}",
        r.problems[0].detail
    );
    assert!(LOG_NAME != "log.other");
}

#[test]
fn a_proof_that_does_not_reach_the_root_fails() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(&server, dir.path());
    deliver(&c, 4, "e");
    server.state.with(|i| {
        i.publish();
        i.corrupt_proofs = true;
    });
    let r = audit_receipts(&c).unwrap();
    assert_eq!((r.proof_failed, r.proved), (4, 0), "{r:?}");
    assert_eq!(r.log[0].status, "first", "the checkpoint itself is fine");
}

#[test]
fn audit_needs_a_log_key_and_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("http://127.0.0.1:9", dir.path());
    let e = audit_receipts(&c).unwrap_err();
    assert!(e.message().contains("SEALTRAIL_LOG_KEY"), "{e}");
    c.log_key = Some("not a key".into());
    assert!(audit_receipts(&c)
        .unwrap_err()
        .message()
        .contains("SEALTRAIL_LOG_KEY"));
    c.log_key = Some(log_key());
    c.endpoint = None;
    assert!(audit_receipts(&c)
        .unwrap_err()
        .message()
        .contains("SEALTRAIL_ENDPOINT"));
}

#[test]
fn receipts_of_batches_replayed_from_the_spool_keep_their_agents() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&format!("http://127.0.0.1:{port}"), dir.path());
    let client = Client::new(c.clone()).unwrap();
    for i in 0..6 {
        client.record(event(["x", "y", "z"][i % 3], &format!("e{i}"), 100));
    }
    let r = client.shutdown(Duration::from_secs(2));
    assert_eq!(r.spooled, 6, "{r:?}");
    drop(client);
    let _server = TestServer::start_on(port, Shared::default());
    let client = Client::new(c).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client
        .metrics()
        .delivered
        == 6));
    client.shutdown(Duration::from_secs(5));
    assert_eq!(client.metrics().receipts_kept, 6);
    let kept = read_receipts(&dir.path().join("receipts.jsonl")).unwrap();
    let mut agents: Vec<&str> = kept.iter().map(|k| k.agent_id.as_str()).collect();
    agents.sort();
    assert_eq!(agents, ["x", "x", "y", "y", "z", "z"]);
}

#[test]
fn receipts_max_zero_keeps_none() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&server, dir.path());
    c.receipts_max = 0;
    deliver(&c, 3, "e");
    assert!(!dir.path().join("receipts.jsonl").exists());
}

#[test]
fn answers_fetched_concurrently_stay_with_their_receipts() {
    let server = LogServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(&server, dir.path());
    deliver(&c, 300, "e");
    server.state.with(|i| i.publish());
    let kept = read_receipts(&dir.path().join("receipts.jsonl")).unwrap();
    let (gone, changed) = (kept[279].clone(), kept[3].clone());
    server.state.with(|i| {
        i.events.remove(&gone.id.to_string());
        i.altered
            .insert(changed.id.to_string(), sealtrail_core::Hash([1; 32]));
    });
    let r = audit_receipts(&c).unwrap();
    assert_eq!(
        (r.receipts, r.proved, r.missing, r.altered),
        (300, 298, 1, 1)
    );
    let ids: Vec<(&str, AuditStatus)> = r
        .problems
        .iter()
        .map(|p| (p.id.as_str(), p.status))
        .collect();
    assert_eq!(
        ids,
        [
            (changed.id.to_string().as_str(), AuditStatus::Altered),
            (gone.id.to_string().as_str(), AuditStatus::Missing)
        ]
    );
}
