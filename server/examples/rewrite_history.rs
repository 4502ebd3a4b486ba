//! The demo's attacker: someone who controls the database (its superuser)
//! and holds the spec rewrites one stored event so that every chain still
//! verifies (the recompute attack), and, with `--forge-with KEYFILE` (a
//! leaked log key), signs a checkpoint over the rewritten tree and asks a
//! witness to cosign it.
//!
//!   SEALTRAIL_DATABASE_URL=postgres://superuser@… cargo run -p sealtrail-server \
//!     --example rewrite_history -- ORG AGENT SEQ [--forge-with KEYFILE --witness URL]

#[path = "../tests/common/attack.rs"]
mod attack;

use sealtrail_core::tlog::{self, AddCheckpoint, Checkpoint};
use sealtrail_server::db;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rewrite_history ORG AGENT SEQ [--forge-with KEYFILE --witness URL]";
    let (Some(org), Some(agent), Some(seq)) = (args.first(), args.get(1), args.get(2)) else {
        anyhow::bail!(usage);
    };
    let seq: u64 = seq.parse()?;
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let url = std::env::var("SEALTRAIL_DATABASE_URL")?;
    let su = db::connect(&url, None, 2).await?;
    let org_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
        .bind(org)
        .fetch_one(&su)
        .await?;
    attack::recompute(&su, org_id, agent, seq, |ev| {
        let amount = ev.inputs.as_ref().and_then(|v| v.get("amount")).is_some();
        let mut v = ev.inputs.take().unwrap_or(serde_json::json!({}));
        if amount {
            v["amount"] = serde_json::json!("4250.00");
        } else {
            v["tampered"] = serde_json::json!(true);
        }
        ev.inputs = Some(v);
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    println!("rewrote link {seq} of {agent:?} and every later link, event_ids and the chain head");

    let (Some(keyfile), Some(witness)) = (flag("--forge-with"), flag("--witness")) else {
        return Ok(());
    };
    // The tree over the rewritten links, in the log's order.
    let head = db::log::tree_head(&su, org_id).await?;
    let runs = db::log::runs(&su, org_id, head.size).await?;
    let links = db::log::stored_links(&su, org_id).await?;
    let mut tree = tlog::MemoryTree::new();
    for r in &runs {
        let (first, hashes) = &links[&r.agent_id];
        for s in r.first_seq..r.first_seq + r.count {
            let link = hashes[(s - first) as usize];
            tree.push(tlog::leaf_hash(&org_id.to_string(), &r.agent_id, s, &link)?)?;
        }
    }
    let key = sealtrail_server::witness::read_key_file(std::path::Path::new(&keyfile))?;
    let origin = tlog::origin(key.name(), &org_id.to_string())?;
    let forged = Checkpoint::new(origin.clone(), tree.size(), tree.root())
        .with_time(chrono::Utc::now().timestamp() as u64)
        .sign(&key.renamed(&origin)?)?;
    println!("signed a checkpoint of the rewritten tree with the leaked log key:");
    for l in forged.lines() {
        println!("    {l}");
    }
    // The witness is at the last checkpoint it cosigned: prove the forged
    // tree extends it (it cannot).
    let old = db::log::latest_checkpoint(&su, org_id)
        .await?
        .map_or(0, |c| c.size);
    let proof = if old == 0 || old >= tree.size() {
        vec![]
    } else {
        tlog::prove_tree(tree.size(), old, &tree).map_err(|e| anyhow::anyhow!("{e:?}"))?
    };
    let body = AddCheckpoint {
        old_size: old,
        proof,
        checkpoint: forged,
    }
    .to_body();
    let res = reqwest::Client::new()
        .post(format!("{}/add-checkpoint", witness.trim_end_matches('/')))
        .body(body)
        .send()
        .await?;
    let status = res.status();
    println!(
        "the witness answered {status}: {}",
        res.text().await?.trim()
    );
    if status.is_success() {
        anyhow::bail!("the witness cosigned a rewritten history");
    }
    Ok(())
}
