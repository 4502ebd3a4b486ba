//! Writes tests/vectors/log.json to stdout: the worked examples of
//! docs/chain-spec.md §7 (the ones `tlog_doc_vectors` prints as text), with their
//! inputs, for independent verifiers (tests/python/verify_log.py):
//! `cargo run -p sealtrail-core --example gen_log_vectors > tests/vectors/log.json`.
//! The inputs are fixed (seeds, not generated keys), so the output is the
//! same on every run.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use sealtrail_core::hash::sha256;
use sealtrail_core::tlog::*;
use sealtrail_core::Hash;

fn hexes(p: &[Hash]) -> Value {
    Value::Array(p.iter().map(|h| json!(h.to_hex())).collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let org = "0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77";
    let agent = "agent-1";

    // §7.1: one leaf.
    let link = sha256(b"link");
    let leaf = leaf_bytes(org, agent, 1, &link)?;
    let one = json!({
        "org_id": org, "agent_id": agent, "seq": 1,
        "link_input": "link", "link_hash": link.to_hex(),
        "leaf": hex::encode(&leaf), "leaf_hash": record_hash(&leaf).to_hex(),
    });

    // §7.2: three leaves, stored hashes, every proof of the three trees.
    let mut t = MemoryTree::new();
    let mut leaves = Vec::new();
    for seq in 1..=3u64 {
        let input = format!("link {seq}");
        let l = sha256(input.as_bytes());
        let lh = leaf_hash(org, agent, seq, &l)?;
        t.push(lh)?;
        leaves.push(json!({
            "seq": seq, "link_input": input, "link_hash": l.to_hex(),
            "leaf_hash": lh.to_hex(), "root": t.root().to_hex(),
        }));
    }
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for size in 1..=3u64 {
        for index in 0..size {
            let p = prove_record(size, index, &t)?;
            inclusion.push(json!({"size": size, "index": index, "proof": hexes(&p)}));
        }
        for old in 1..=size {
            let p = prove_tree(size, old, &t)?;
            consistency.push(json!({"size": size, "old": old, "proof": hexes(&p)}));
        }
    }

    // §7.3, §7.4: the log key and the checkpoint of the three-leaf tree.
    let o = origin("log.example.com/sealtrail", org)?;
    let log_seed = [1u8; 32];
    let log = Signer::from_seed(&o, ALG_ED25519, &log_seed)?;
    let time = 1_733_150_000u64;
    let c = Checkpoint::new(&o, 3, t.root()).with_time(time);
    let text = c.to_text()?;
    let note = c.sign(&log)?;

    // §7.5: a witness cosigns it.
    let w_seed = [2u8; 32];
    let w = Signer::from_seed("witness.example.com/w1", ALG_COSIGNATURE_V1, &w_seed)?;
    let (w_name, w_skey, w_vkey) = (w.name().to_string(), w.to_text(), w.verifier().to_text());
    let ts = 1_733_150_005u64;
    let r =
        Witness::new(w)?.add_checkpoint(&LogState::empty(), &note, 0, &[], &log.verifier(), ts)?;

    let out = json!({
        "spec": "sealtrail.leaf.v1",
        "about": "The worked examples of docs/chain-spec.md §7; written by core/examples/gen_log_vectors.rs.",
        "empty_root": sha256(b"").to_hex(),
        "leaf": one,
        "tree": {
            "org_id": org, "agent_id": agent,
            "leaves": leaves,
            "stored": hexes(t.stored()),
            "inclusion": inclusion,
            "consistency": consistency,
        },
        "log_key": {
            "name": o, "seed": hex::encode(log_seed),
            "skey": log.to_text(), "vkey": log.verifier().to_text(),
        },
        "checkpoint": {
            "origin": c.origin, "size": c.size, "root": B64.encode(c.root.0),
            "time": time, "text": text, "note": note,
        },
        "witness": {
            "name": w_name, "seed": hex::encode(w_seed), "skey": w_skey, "vkey": w_vkey,
            "timestamp": ts, "message": cosigned_message(&text, ts),
            "line": r.cosignature, "note": format!("{note}{}", r.cosignature),
        },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
