//! The transparency log against a real PostgreSQL: integration (two
//! replicas, no fork, no gap), proofs through the API, checkpoints, a
//! witness on loopback, and the attacks of someone who controls the
//! database (as its superuser, triggers off): the recompute attack, a cut
//! tail, a deleted chain, a rollback, and a leaked log key.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use sealtrail_core::hash::Hash;
use sealtrail_core::tlog::{self, Checkpoint, Signer, Verifier, ALG_COSIGNATURE_V1, ALG_ED25519};
use sealtrail_server::auth::Role;
use sealtrail_server::db;
use sealtrail_server::log::{self as slog, CheckpointKeys, Checkpointer, LogConfig};
use serde_json::json;
use uuid::Uuid;

struct Log {
    t: TestDb,
    app: axum::Router,
    key: Signer,
    ingest: String,
    org: Uuid,
}

impl Log {
    async fn new(witnesses: Vec<String>) -> (Log, Checkpointer) {
        let t = TestDb::new().await;
        let app = t.app();
        let ingest = t.key("acme", Role::Ingest).await;
        let org = t.org_id("acme").await;
        let key = Signer::generate("log.example", ALG_ED25519).unwrap();
        let cp = Checkpointer::new(
            t.pool.clone(),
            LogConfig {
                key: Some(key.clone()),
                witnesses,
                ..Default::default()
            },
        );
        (
            Log {
                t,
                app,
                key,
                ingest,
                org,
            },
            cp,
        )
    }

    async fn send(&self, agent: &str, n: usize) {
        let events: Vec<_> = (0..n).map(|i| event(agent, i)).collect();
        let r = ingest(&self.app, &self.ingest, events).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    /// Integrates and signs a checkpoint; returns its note.
    async fn checkpoint(&self, cp: &Checkpointer) -> String {
        slog::integrate_all(&self.t.pool).await.unwrap();
        let signed = cp.checkpoint_all().await.unwrap();
        assert_eq!(signed.len(), 1, "one organisation grew");
        signed[0].note.clone()
    }

    fn keys(&self) -> CheckpointKeys {
        CheckpointKeys {
            log_key: self.key.verifier(),
            witness_keys: vec![],
            threshold: 0,
        }
    }

    async fn verify_log(&self, notes: &[String], keys: &CheckpointKeys) -> slog::LogReport {
        slog::verify_log(&self.t.pool, self.org, notes, keys, |_, _| {})
            .await
            .unwrap()
    }

    async fn chains_ok(&self) -> bool {
        let r = db::verify::verify_org(&self.t.pool, self.org, |_| {})
            .await
            .unwrap();
        r.headless.is_empty() && r.chains.iter().all(|(_, c)| c.is_ok())
    }

    /// Runs `sql` as the superuser with triggers off.
    async fn tamper(&self, sql: &str) {
        let mut tx = self.t.su.begin().await.unwrap();
        sqlx::raw_sql("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        tx.commit().await.unwrap();
    }

    /// The recompute attack (tests/common/attack.rs).
    async fn recompute_attack(&self, agent: &str, k: u64) {
        attack::recompute(&self.t.su, self.org, agent, k, |ev| {
            ev.inputs = Some(json!({"amount": 1_000_000, "to": "attacker"}));
        })
        .await
        .unwrap();
    }
}

fn kinds(r: &slog::LogReport) -> Vec<&'static str> {
    r.problems.iter().map(|p| p.kind).collect()
}

#[tokio::test]
async fn proofs_through_the_api_verify_against_signed_checkpoints() {
    let (l, cp) = Log::new(vec![]).await;
    l.send("a", 7).await;
    l.send("b", 5).await;
    let first = l.checkpoint(&cp).await;
    l.send("a", 9).await;
    let second = l.checkpoint(&cp).await;
    let vkey = slog::org_verifier(&l.key.verifier(), l.org).unwrap();
    let (c1, _) = Checkpoint::open(&first, &vkey, &[]).unwrap();
    let (c2, _) = Checkpoint::open(&second, &vkey, &[]).unwrap();
    assert_eq!((c1.size, c2.size), (12, 21));
    assert_eq!(c1.origin, format!("log.example/{}", l.org));

    // Every event's inclusion proof, through the router, with an ops key and
    // with the agent's own ingest key.
    let ops = l.t.key("acme", Role::Ops).await;
    let list = get(&l.app, "/v1/events?limit=100", &ops).await.json();
    let mut seen = std::collections::HashSet::new();
    for e in list["events"].as_array().unwrap() {
        let id = e["event"]["id"].as_str().unwrap();
        let key = if seen.len() % 2 == 0 { &ops } else { &l.ingest };
        let r = get(&l.app, &format!("/v1/proofs/inclusion?event_id={id}"), key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let p = r.json();
        assert_eq!(p["tree_size"], 21);
        assert_eq!(p["checkpoint"], second);
        let proof: Vec<Hash> = serde_json::from_value(p["proof"].clone()).unwrap();
        let link: Hash = serde_json::from_value(p["hash"].clone()).unwrap();
        let leaf = tlog::leaf_hash(
            &l.org.to_string(),
            p["agent_id"].as_str().unwrap(),
            p["seq"].as_u64().unwrap(),
            &link,
        )
        .unwrap();
        let index = p["log_index"].as_u64().unwrap();
        tlog::check_record(&proof, 21, &c2.root, index, &leaf).unwrap();
        // Query results carry the same log index, and so does the event by id.
        assert_eq!(e["log_index"].as_u64(), Some(index));
        let one = get(&l.app, &format!("/v1/events/{id}"), &ops).await.json();
        assert_eq!(one["log_index"].as_u64(), Some(index));
        // A wrong index or a wrong leaf fails.
        assert!(tlog::check_record(&proof, 21, &c2.root, (index + 1) % 21, &leaf).is_err());
        assert!(seen.insert(index), "two events at log index {index}");
        // Against the older checkpoint when it held the event.
        let r = get(
            &l.app,
            &format!("/v1/proofs/inclusion?event_id={id}&tree_size=12"),
            &ops,
        )
        .await;
        if index < 12 {
            let proof: Vec<Hash> = serde_json::from_value(r.json()["proof"].clone()).unwrap();
            tlog::check_record(&proof, 12, &c1.root, index, &leaf).unwrap();
        } else {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert_eq!(r.json()["error"], "not_integrated");
        }
    }
    assert_eq!(seen.len(), 21);

    // Consistency 12 -> 21.
    let r = get(&l.app, "/v1/proofs/consistency?from=12", &ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let proof: Vec<Hash> = serde_json::from_value(r.json()["proof"].clone()).unwrap();
    tlog::check_tree(&proof, 21, &c2.root, 12, &c1.root).unwrap();
    assert!(tlog::check_tree(&proof, 21, &c2.root, 12, &c2.root).is_err());

    // Checkpoints listed since a size, oldest first; the latest one.
    let r = get(&l.app, "/v1/checkpoints?since=0", &l.ingest)
        .await
        .json();
    let sizes: Vec<u64> = r["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![12, 21]);
    let r = get(&l.app, "/v1/checkpoints/latest", &ops).await.json();
    assert_eq!(r["note"], second);

    // Another organisation sees none of it.
    let other = l.t.key("other", Role::Ops).await;
    let id = list["events"][0]["event"]["id"].as_str().unwrap();
    let r = get(
        &l.app,
        &format!("/v1/proofs/inclusion?event_id={id}"),
        &other,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&l.app, "/v1/checkpoints/latest", &other).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Plain and log verification agree that all is well.
    assert!(l.chains_ok().await);
    let rep = l.verify_log(&[first, second], &l.keys()).await;
    assert!(!rep.rewritten(), "{:?}", rep.problems);
    assert_eq!((rep.leaves, rep.checkpoints_ok), (21, 2));
}

/// Two replicas integrate at once while agents write, and one restarts
/// (drops its connections) midway: one tree, every link exactly once, no
/// gap, and its root is the root of the links recomputed from scratch.
#[tokio::test]
async fn two_integrators_make_one_tree() {
    let (l, _) = Log::new(vec![]).await;
    let url = std::env::var("DATABASE_URL").unwrap();
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let opts = opts.database(&l.t.name);
    let replica = db::connect_with(opts.clone(), Some("sealtrail_app"), 4)
        .await
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for pool in [l.t.pool.clone(), replica.clone()] {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                slog::integrate_all(&pool).await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for round in 0..12 {
        for agent in ["a", "b", "c"] {
            l.send(agent, 5 + round).await;
        }
        if round == 6 {
            // A replica restarts: its connections go, mid-round or not.
            replica.close().await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        // The closed replica's task may fail on its closed pool; the other
        // finishes.
        let _ = t.await;
    }
    slog::integrate_all(&l.t.pool).await.unwrap();
    let head = db::log::tree_head(&l.t.pool, l.org).await.unwrap();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&l.t.su)
        .await
        .unwrap();
    assert_eq!(head.size, total as u64);
    let runs = db::log::runs(&l.t.pool, l.org, head.size).await.unwrap();
    let mut next = 0;
    let mut per_chain: std::collections::HashMap<String, u64> = Default::default();
    let mut tree = tlog::MemoryTree::new();
    let links = db::log::stored_links(&l.t.pool, l.org).await.unwrap();
    for r in &runs {
        assert_eq!(r.first_idx, next, "a gap or an overlap in the log");
        next += r.count;
        let done = per_chain.entry(r.agent_id.clone()).or_insert(0);
        assert_eq!(r.first_seq, *done + 1, "chain {} out of order", r.agent_id);
        *done += r.count;
        let (first, hashes) = &links[&r.agent_id];
        for s in r.first_seq..r.first_seq + r.count {
            let link = hashes[(s - first) as usize];
            tree.push(tlog::leaf_hash(&l.org.to_string(), &r.agent_id, s, &link).unwrap())
                .unwrap();
        }
    }
    assert_eq!(next, head.size);
    assert_eq!(tree.root(), head.root);
}

#[tokio::test]
async fn the_recompute_attack_passes_chains_and_fails_the_log() {
    let (l, cp) = Log::new(vec![]).await;
    l.send("victim", 10).await;
    l.send("bystander", 4).await;
    let first = l.checkpoint(&cp).await;
    l.send("victim", 3).await;
    let second = l.checkpoint(&cp).await;

    l.recompute_attack("victim", 4).await;
    // Chains alone cannot tell (docs/chain-spec.md §3 says so).
    assert!(
        l.chains_ok().await,
        "the recompute attack left a chain broken"
    );
    let rep = l
        .verify_log(&[first.clone(), second.clone()], &l.keys())
        .await;
    assert!(rep.rewritten());
    let broken = rep.first_broken_checkpoint().unwrap();
    assert_eq!(broken.kind, "checkpoint_broken");
    assert_eq!(broken.size, Some(14), "{:?}", rep.problems);
    let leaf = rep
        .problems
        .iter()
        .find(|p| p.kind == "leaf_differs")
        .unwrap();
    assert_eq!(
        (leaf.agent_id.as_deref(), leaf.seq),
        (Some("victim"), Some(4))
    );
    // The leaf index is where link 4 of the victim was integrated.
    let runs = db::log::runs(&l.t.pool, l.org, 100).await.unwrap();
    let run = runs.iter().find(|r| r.agent_id == "victim").unwrap();
    assert_eq!(leaf.leaf, Some(run.first_idx + 3));
    assert_eq!(rep.checkpoints_ok, 0);
}

/// The attacker rewrites the links but forgets event_ids' copies: plain
/// verification names the first link whose copies disagree.
#[tokio::test]
async fn plain_verification_checks_every_stored_copy_of_a_link() {
    let (l, _) = Log::new(vec![]).await;
    l.send("victim", 6).await;
    attack::recompute_copies(
        &l.t.su,
        l.org,
        "victim",
        3,
        |ev| ev.inputs = Some(json!({"amount": 7})),
        false,
    )
    .await
    .unwrap();
    let report = db::verify::verify_org(&l.t.pool, l.org, |_| {})
        .await
        .unwrap();
    let b = report.chains[0].1.as_ref().unwrap_err();
    assert_eq!((b.seq, b.reason.as_str()), (3, "edited"));
    assert!(
        b.detail.contains("event_ids keeps another link hash"),
        "{}",
        b.detail
    );
    let heads = db::events::chains(&l.t.pool, l.org, Some("victim"))
        .await
        .unwrap();
    let one = db::verify::verify_chain(&l.t.pool, l.org, &heads[0], |_| {})
        .await
        .unwrap();
    assert_eq!(one.unwrap_err().seq, 3);
    // A row of event_ids with no event behind it is named too.
    l.tamper(
        "DELETE FROM audit_events WHERE agent_id = 'victim' AND seq = 6;
              UPDATE chain_heads SET seq = 5, hash = (SELECT hash FROM audit_events WHERE seq = 5)",
    )
    .await;
    let report = db::verify::verify_org(&l.t.pool, l.org, |_| {})
        .await
        .unwrap();
    assert_eq!(report.chains[0].1.as_ref().unwrap_err().seq, 3);
}

#[tokio::test]
async fn a_cut_tail_a_deleted_chain_and_a_rollback_are_caught() {
    // Cut the tail of a chain together with its head.
    let (l, cp) = Log::new(vec![]).await;
    l.send("victim", 8).await;
    let note = l.checkpoint(&cp).await;
    l.tamper(&format!(
        "DELETE FROM audit_events WHERE agent_id = 'victim' AND seq > 5;
         DELETE FROM event_ids WHERE agent_id = 'victim' AND seq > 5;
         UPDATE chain_heads SET seq = 5, hash = (SELECT hash FROM audit_events
             WHERE agent_id = 'victim' AND seq = 5) WHERE org_id = '{}'",
        l.org
    ))
    .await;
    assert!(l.chains_ok().await);
    let rep = l.verify_log(&[note], &l.keys()).await;
    assert!(kinds(&rep).contains(&"missing_link"), "{:?}", rep.problems);
    assert!(rep.rewritten());
    let p = rep
        .problems
        .iter()
        .find(|p| p.kind == "missing_link")
        .unwrap();
    assert_eq!(p.seq, Some(6));

    // Delete a whole chain, and its rows in the log too.
    let (l, cp) = Log::new(vec![]).await;
    l.send("keep", 3).await;
    l.send("gone", 4).await;
    let note = l.checkpoint(&cp).await;
    l.tamper(&format!(
        "DELETE FROM audit_events WHERE agent_id = 'gone';
         DELETE FROM event_ids WHERE agent_id = 'gone';
         DELETE FROM chain_heads WHERE agent_id = 'gone';
         DELETE FROM log_runs WHERE agent_id = 'gone';
         DELETE FROM log_chain_pos WHERE agent_id = 'gone';
         UPDATE log_trees SET size = 3 WHERE org_id = '{}'",
        l.org
    ))
    .await;
    assert!(l.chains_ok().await);
    let rep = l.verify_log(&[note], &l.keys()).await;
    assert!(rep.rewritten(), "{:?}", rep.problems);
    assert_eq!(rep.first_broken_checkpoint().unwrap().size, Some(7));

    // Roll the database back to before the last checkpoint (what restoring
    // an older dump does): events, heads and the log all go back together.
    let (l, cp) = Log::new(vec![]).await;
    l.send("a", 5).await;
    let old = l.checkpoint(&cp).await;
    l.send("a", 5).await;
    let new = l.checkpoint(&cp).await;
    l.tamper(&format!(
        "DELETE FROM audit_events WHERE seq > 5; DELETE FROM event_ids WHERE seq > 5;
         UPDATE chain_heads SET seq = 5, hash = (SELECT hash FROM audit_events WHERE seq = 5);
         DELETE FROM log_runs WHERE first_idx >= 5; UPDATE log_chain_pos SET seq = 5;
         DELETE FROM log_hashes WHERE start >= {};
         DELETE FROM log_checkpoints WHERE size > 5;
         UPDATE log_trees SET size = 5 WHERE org_id = '{}'",
        tlog::stored_hash_count(5).unwrap(),
        l.org
    ))
    .await;
    assert!(l.chains_ok().await);
    // The server's own copies agree with the rolled-back database...
    let stored: Vec<String> = db::log::checkpoints_since(&l.t.pool, l.org, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.note)
        .collect();
    assert!(!l.verify_log(&stored, &l.keys()).await.rewritten());
    // ...the published checkpoint does not.
    let rep = l.verify_log(&[old, new], &l.keys()).await;
    let p = rep.first_broken_checkpoint().unwrap();
    assert_eq!((p.kind, p.size), ("log_truncated", Some(10)));
    assert_eq!(rep.checkpoints_ok, 1);
}

async fn start_witness(log_key: Verifier) -> (String, Verifier, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let wkey = Signer::generate("witness.example", ALG_COSIGNATURE_V1).unwrap();
    let verifier = wkey.verifier();
    let server = sealtrail_server::witness::WitnessServer::new(
        tlog::Witness::new(wkey).unwrap(),
        log_key,
        dir.path.clone(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            sealtrail_server::witness::router(Arc::new(server)),
        )
        .await
        .unwrap();
    });
    (format!("http://{addr}"), verifier, dir)
}

/// The log key leaks: the attacker rewrites an event and signs a checkpoint
/// over the rewritten tree. The witness refuses to cosign it (and records
/// why), and verification that wants one witness's cosignature fails.
#[tokio::test]
async fn a_leaked_log_key_is_stopped_by_the_witness() {
    let key = Signer::generate("log.example", ALG_ED25519).unwrap();
    let (wurl, wkey, wdir) = start_witness(key.verifier()).await;
    let t = TestDb::new().await;
    let app = t.app();
    let ingest_key = t.key("acme", Role::Ingest).await;
    let org = t.org_id("acme").await;
    let cp = Checkpointer::new(
        t.pool.clone(),
        LogConfig {
            key: Some(key.clone()),
            witnesses: vec![wurl.clone()],
            ..Default::default()
        },
    );
    let l = Log {
        t,
        app,
        key: key.clone(),
        ingest: ingest_key,
        org,
    };
    l.send("victim", 6).await;
    let first = l.checkpoint(&cp).await;
    l.send("victim", 2).await;
    let second = l.checkpoint(&cp).await;
    // Both cosigned: the second with a consistency proof from the first.
    let keys = CheckpointKeys {
        log_key: key.verifier(),
        witness_keys: vec![wkey.clone()],
        threshold: 1,
    };
    let rep = l.verify_log(&[first.clone(), second.clone()], &keys).await;
    assert!(!rep.rewritten(), "{:?}", rep.problems);
    assert!(second.contains("— witness.example "), "{second}");

    // The attack, then a checkpoint over the rewritten tree signed with the
    // leaked key: recompute the tree as the integrator would.
    l.recompute_attack("victim", 2).await;
    let links = db::log::stored_links(&l.t.pool, org).await.unwrap();
    let mut tree = tlog::MemoryTree::new();
    let (first_seq, hashes) = &links["victim"];
    for (i, h) in hashes.iter().enumerate() {
        tree.push(tlog::leaf_hash(&org.to_string(), "victim", first_seq + i as u64, h).unwrap())
            .unwrap();
    }
    let origin = format!("log.example/{org}");
    let forged = Checkpoint::new(origin.clone(), tree.size(), tree.root())
        .with_time(chrono::Utc::now().timestamp() as u64)
        .sign(&key.renamed(&origin).unwrap())
        .unwrap();
    // The witness was at size 8 with the true root: same size, other root.
    let body = tlog::AddCheckpoint {
        old_size: 8,
        proof: vec![],
        checkpoint: forged.clone(),
    }
    .to_body();
    let res = reqwest::Client::new()
        .post(format!("{wurl}/add-checkpoint"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422, "{}", res.text().await.unwrap());
    let refused = std::fs::read_to_string(wdir.path.join("refused.log")).unwrap();
    assert!(refused.contains("split view"), "{refused}");

    // Without a witness the forged checkpoint's root holds (the key
    // leaked); only the stored leaves, which the attacker could rewrite
    // too, still differ...
    let rep = l.verify_log(std::slice::from_ref(&forged), &l.keys()).await;
    assert_eq!(rep.checkpoints_ok, 1);
    assert_eq!(kinds(&rep), vec!["leaf_differs"]);
    // ...with a witness threshold it does not, and the published true
    // checkpoints name the rewrite.
    let rep = l.verify_log(&[forged], &keys).await;
    assert_eq!(kinds(&rep), vec!["not_witnessed", "leaf_differs"]);
    let rep = l.verify_log(&[first, second], &keys).await;
    assert!(
        kinds(&rep).contains(&"checkpoint_broken"),
        "{:?}",
        rep.problems
    );
}

/// Retention removes events, not the log: after a partition is dropped the
/// remaining events still prove inclusion and every checkpoint verifies.
#[tokio::test]
async fn proofs_and_checkpoints_survive_retention() {
    let (l, cp) = Log::new(vec![]).await;
    let app = l.t.app_with_window(wide_window());
    let july_2017 = 1_500_000_000_000_000;
    l.t.partitions(july_2017, july_2017).await;
    let old: Vec<_> = (0..4)
        .map(|i| at(event("r", i), july_2017 + i as i64))
        .collect();
    let r = ingest(&app, &l.ingest, old).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let first = l.checkpoint(&cp).await;
    l.send("r", 3).await;
    let second = l.checkpoint(&cp).await;
    db::set_retention(&l.t.pool, l.org, Some(365))
        .await
        .unwrap();
    let acts = db::retention_run(&l.t.pool, false).await.unwrap();
    assert!(
        acts.iter()
            .any(|a| a.partition == "audit_events_y2017m07" && a.action == "dropped"),
        "{acts:?}"
    );
    assert!(l.chains_ok().await);
    let rep = l.verify_log(&[first, second.clone()], &l.keys()).await;
    assert!(!rep.rewritten(), "{:?}", rep.problems);
    assert_eq!((rep.pruned, rep.leaves, rep.checkpoints_ok), (4, 7, 2));
    // A remaining event's proof.
    let ops = l.t.key("acme", Role::Ops).await;
    let list = get(&l.app, "/v1/events?limit=10", &ops).await.json();
    let id = list["events"][0]["event"]["id"].as_str().unwrap();
    let r = get(&l.app, &format!("/v1/proofs/inclusion?event_id={id}"), &ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let vkey = slog::org_verifier(&l.key.verifier(), l.org).unwrap();
    let (c, _) = Checkpoint::open(&second, &vkey, &[]).unwrap();
    let p = r.json();
    let proof: Vec<Hash> = serde_json::from_value(p["proof"].clone()).unwrap();
    assert_eq!(p["tree_size"].as_u64(), Some(c.size));
    let link: Hash = serde_json::from_value(p["hash"].clone()).unwrap();
    let leaf = tlog::leaf_hash(&l.org.to_string(), "r", p["seq"].as_u64().unwrap(), &link).unwrap();
    let index = p["log_index"].as_u64().unwrap();
    tlog::check_record(&proof, c.size, &c.root, index, &leaf).unwrap();
}

/// A temporary directory removed on drop (no extra dependency).
mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Dir {
            let path =
                std::env::temp_dir().join(format!("sealtrail-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
