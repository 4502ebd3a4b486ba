//! Writes (to stdout, as JSON) cases made by sealtrail's tlog code for an
//! independent check by Go's golang.org/x/mod/sumdb/{note,tlog}:
//! tests/tlog-go/run.sh feeds them to tests/tlog-go/main.go.
//!
//! `cargo run -p sealtrail-core --example tlog_cases > target/tlog-cases.json`

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use sealtrail_core::hash::sha256;
use sealtrail_core::tlog::{
    self, cosign, leaf_bytes, prove_record, prove_tree, record_hash, tree_hash, Checkpoint,
    LogState, MemoryTree, Signer, Witness, ALG_COSIGNATURE_V1, ALG_ED25519,
};
use sealtrail_core::Hash;

fn b64(h: &Hash) -> String {
    B64.encode(h.0)
}

fn hashes(p: &[Hash]) -> Value {
    Value::Array(p.iter().map(|h| json!(b64(h))).collect())
}

fn flip(p: &[Hash], i: usize) -> Vec<Hash> {
    let mut q = p.to_vec();
    let k = i % q.len();
    q[k].0[i % 32] ^= 1 << (i % 8);
    q
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = fastrand::Rng::with_seed(20261202);

    // Keys: fixed seeds (reproducible) and freshly generated ones.
    let mut keys = Vec::new();
    let mut signers = Vec::new();
    for i in 0..4u8 {
        let name = format!("log.example.com/sealtrail/org-{i}");
        let s = if i < 2 {
            Signer::from_seed(&name, ALG_ED25519, &[i + 1; 32])?
        } else {
            Signer::generate(&name, ALG_ED25519)?
        };
        keys.push(json!({"skey": s.to_text(), "vkey": s.verifier().to_text()}));
        signers.push(s);
    }

    // Notes: texts signed by one or two keys; opened with various key sets.
    let texts = [
        "hello\n".to_string(),
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n".to_string(),
        "multi\n\nparagraph text with a blank line\n".to_string(),
        "ünïcödé — text ✓\n".to_string(),
    ];
    let mut notes = Vec::new();
    let mut sign_cases = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let a = &signers[i % signers.len()];
        let b = &signers[(i + 1) % signers.len()];
        let one = tlog::note::sign(text, &[a])?;
        sign_cases.push(json!({"skey": a.to_text(), "text": text, "msg": one}));
        let two = tlog::note::sign(text, &[a, b])?;
        let va = a.verifier().to_text();
        let vb = b.verifier().to_text();
        notes.push(json!({"msg": one, "vkeys": [va], "valid": true, "text": text, "sigs": 1}));
        notes.push(json!({"msg": two, "vkeys": [va, vb], "valid": true, "text": text, "sigs": 2}));
        notes.push(json!({"msg": two, "vkeys": [vb], "valid": true, "text": text, "sigs": 1}));
        // Unknown key only: refused.
        notes.push(json!({"msg": one, "vkeys": [vb], "valid": false}));
        // A changed text: refused.
        let tampered = one.replacen(text.as_str(), &text.replacen('e', "E", 1), 1);
        if tampered != one {
            notes.push(json!({"msg": tampered, "vkeys": [va], "valid": false}));
        }
    }

    // A chain's links as leaves, a tree over them, roots, stored hashes, proofs.
    let org = "0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77";
    let mut trees = Vec::new();
    for (size, all_pairs) in [(70u64, true), (1000, false)] {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        let mut leaf_fields = Vec::new();
        for i in 0..size {
            let agent = format!("agent-{}", i % 3);
            let link = sha256(&i.to_be_bytes());
            let seq = i / 3 + 1;
            let leaf = leaf_bytes(org, &agent, seq, &link)?;
            leaf_fields.push(
                json!({"org_id": org, "agent_id": agent, "seq": seq, "link_hash": link.to_hex()}),
            );
            t.push(record_hash(&leaf))?;
            leaves.push(B64.encode(&leaf));
        }
        let roots: Vec<String> = (1..=size)
            .map(|s| tree_hash(s, &t).map(|h| b64(&h)))
            .collect::<Result<_, _>>()?;
        let mut incl = Vec::new();
        let mut cons = Vec::new();
        let mut pairs = Vec::new();
        if all_pairs {
            for s in 1..=size {
                for n in 0..s {
                    pairs.push((s, n));
                }
            }
        } else {
            for _ in 0..300 {
                let s = rng.u64(1..=size);
                pairs.push((s, rng.u64(0..s)));
            }
        }
        for (s, n) in pairs {
            let p = prove_record(s, n, &t)?;
            incl.push(json!({"size": s, "index": n, "proof": hashes(&p), "valid": true}));
            if !p.is_empty() && rng.u8(..) < 40 {
                let q = flip(&p, rng.usize(..));
                incl.push(json!({"size": s, "index": n, "proof": hashes(&q), "valid": false}));
            }
            let m = n + 1;
            let p = prove_tree(s, m, &t)?;
            cons.push(json!({"size": s, "old": m, "proof": hashes(&p), "valid": true}));
            if !p.is_empty() && rng.u8(..) < 40 {
                let q = flip(&p, rng.usize(..));
                cons.push(json!({"size": s, "old": m, "proof": hashes(&q), "valid": false}));
            }
        }
        trees.push(json!({
            "leaves": leaves,
            "leaf_fields": leaf_fields,
            "roots": roots,
            "stored": hashes(t.stored()),
            "inclusion": incl,
            "consistency": cons,
        }));
    }

    // Checkpoints, signed by the log, cosigned by two witnesses.
    let log = &signers[0];
    let witnesses = [
        Witness::new(Signer::from_seed(
            "witness.example.com/w1",
            ALG_COSIGNATURE_V1,
            &[42; 32],
        )?)?,
        Witness::new(Signer::generate(
            "witness.example.com/w2",
            ALG_COSIGNATURE_V1,
        )?)?,
    ];
    let mut t = MemoryTree::new();
    let mut states = [LogState::empty(), LogState::empty()];
    let mut checkpoints = Vec::new();
    let mut cosignatures = Vec::new();
    let mut now = 1_733_150_000u64;
    for step in [3u64, 1, 7, 16, 33] {
        let old = t.size();
        for i in 0..step {
            t.push(record_hash(&(old + i).to_be_bytes()))?;
        }
        now += 61;
        let c = Checkpoint::new(log.name(), t.size(), t.root()).with_time(now);
        let note = c.sign(log)?;
        let mut full = note.clone();
        let mut wkeys = Vec::new();
        for (w, st) in witnesses.iter().zip(states.iter_mut()) {
            let proof = if st.size == 0 {
                vec![]
            } else {
                prove_tree(t.size(), st.size, &t)?
            };
            let r = w.add_checkpoint(st, &note, st.size, &proof, &log.verifier(), now)?;
            *st = r.state;
            full.push_str(&r.cosignature);
            wkeys.push(json!(w.verifier().to_text()));
            let text = c.to_text()?;
            cosignatures.push(json!({"vkey": w.verifier().to_text(), "text": text, "line": r.cosignature, "timestamp": now, "valid": true}));
            // The same line over another text, and a line with another timestamp, fail.
            let other = Checkpoint::new(log.name(), t.size() + 1, t.root()).to_text()?;
            cosignatures.push(json!({"vkey": w.verifier().to_text(), "text": other, "line": r.cosignature, "timestamp": now, "valid": false}));
        }
        // A cosignature made directly, at an unusual timestamp.
        let line = cosign(
            &c.to_text()?,
            &Signer::from_seed("witness.example.com/w1", ALG_COSIGNATURE_V1, &[42; 32])?,
            i64::MAX as u64,
        )?;
        cosignatures.push(json!({"vkey": witnesses[0].verifier().to_text(), "text": c.to_text()?, "line": line, "timestamp": i64::MAX, "valid": true}));
        checkpoints.push(json!({
            "note": full,
            "log_vkey": log.verifier().to_text(),
            "witness_vkeys": wkeys,
            "origin": c.origin,
            "size": c.size,
            "root": b64(&c.root),
            "time": now,
        }));
    }

    let out = json!({
        "keys": keys,
        "sign": sign_cases,
        "notes": notes,
        "trees": trees,
        "checkpoints": checkpoints,
        "cosignatures": cosignatures,
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
