//! Prints the worked examples of docs/chain-spec.md §7 (fixed keys and inputs).
use sealtrail_core::hash::sha256;
use sealtrail_core::tlog::*;
use sealtrail_core::Hash;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let org = "0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77";
    let link = sha256(b"link");
    let leaf = leaf_bytes(org, "agent-1", 1, &link)?;
    println!("link_hash {}", link.to_hex());
    println!("leaf {}", hex::encode(&leaf));
    println!("leaf_hash {}", record_hash(&leaf).to_hex());
    let mut t = MemoryTree::new();
    for seq in 1..=3u64 {
        let l = sha256(format!("link {seq}").as_bytes());
        let lh = leaf_hash(org, "agent-1", seq, &l)?;
        t.push(lh)?;
        println!(
            "seq {seq} link {} leafhash {} root {}",
            l.to_hex(),
            lh.to_hex(),
            t.root().to_hex()
        );
    }
    println!(
        "stored {:?}",
        t.stored().iter().map(Hash::to_hex).collect::<Vec<_>>()
    );
    println!(
        "proof leaf 0 in 3 {:?}",
        prove_record(3, 0, &t)?
            .iter()
            .map(Hash::to_hex)
            .collect::<Vec<_>>()
    );
    println!(
        "consistency 2->3 {:?}",
        prove_tree(3, 2, &t)?
            .iter()
            .map(Hash::to_hex)
            .collect::<Vec<_>>()
    );
    let o = origin("log.example.com/sealtrail", org)?;
    let log = Signer::from_seed(&o, ALG_ED25519, &[1; 32])?;
    println!(
        "log skey {}\nlog vkey {}",
        log.to_text(),
        log.verifier().to_text()
    );
    let c = Checkpoint::new(&o, 3, t.root()).with_time(1733150000);
    let note = c.sign(&log)?;
    println!("note:\n{note}");
    let w = Signer::from_seed("witness.example.com/w1", ALG_COSIGNATURE_V1, &[2; 32])?;
    println!(
        "witness skey {}\nwitness vkey {}",
        w.to_text(),
        w.verifier().to_text()
    );
    let wit = Witness::new(w)?;
    let r = wit.add_checkpoint(
        &LogState::empty(),
        &note,
        0,
        &[],
        &log.verifier(),
        1733150005,
    )?;
    println!(
        "cosigned message:\n{}",
        cosigned_message(&c.to_text()?, 1733150005)
    );
    println!("full:\n{note}{}", r.cosignature);
    Ok(())
}
