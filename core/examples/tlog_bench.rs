//! Transparency-log figures: proof generation + check at 1,000,000 leaves
//! with the in-memory reader, and the streaming root recomputation rate.
//!
//! `cargo run --release -p sealtrail-core --example tlog_bench [leaves]`

use std::hint::black_box;
use std::time::Instant;

use sealtrail_core::hash::sha256;
use sealtrail_core::tlog::{
    append_leaves, check_record, check_tree, leaf_hash, prove_record, prove_tree, tree_hash,
    Frontier, MemoryTree,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let org = "0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77";
    let link = |i: u64| sha256(&i.to_le_bytes());

    // Build: leaf bytes -> leaf hash -> stored hashes.
    let t0 = Instant::now();
    let mut tree = MemoryTree::new();
    for i in 0..n {
        tree.push(leaf_hash(org, "agent", i + 1, &link(i))?)?;
    }
    let build = t0.elapsed();
    println!(
        "build {n} leaves (leaf hash + stored hashes): {:.2} s, {:.0} leaves/s, {} stored hashes",
        build.as_secs_f64(),
        n as f64 / build.as_secs_f64(),
        tree.stored().len()
    );

    // Proofs: random (size, index) pairs over the whole range.
    let mut rng = fastrand::Rng::with_seed(7);
    let roots: Vec<_> = (0..2000).map(|_| rng.u64(1..=n)).collect();
    let heads: Vec<_> = roots
        .iter()
        .map(|&s| (s, tree_hash(s, &tree).unwrap()))
        .collect();
    let iters = 20_000;
    let t0 = Instant::now();
    for k in 0..iters {
        let (s, root) = heads[k % heads.len()];
        let i = rng.u64(0..s);
        let p = prove_record(s, i, &tree)?;
        check_record(&p, s, &root, i, &leaf_hash(org, "agent", i + 1, &link(i))?)?;
        black_box(p);
    }
    let incl = t0.elapsed().as_secs_f64() * 1e6 / iters as f64;
    let t0 = Instant::now();
    for k in 0..iters {
        let (s, root) = heads[k % heads.len()];
        let (m, old_root) = heads[(k * 7 + 1) % heads.len()];
        let (old, old_root, new, root) = if m <= s {
            (m, old_root, s, root)
        } else {
            (s, root, m, old_root)
        };
        let p = prove_tree(new, old, &tree)?;
        check_tree(&p, new, &root, old, &old_root)?;
        black_box(p);
    }
    let cons = t0.elapsed().as_secs_f64() * 1e6 / iters as f64;
    let t0 = Instant::now();
    for k in 0..iters {
        black_box(tree_hash(heads[k % heads.len()].0, &tree)?);
    }
    let th = t0.elapsed().as_secs_f64() * 1e6 / iters as f64;
    println!("at {n} leaves: inclusion proof + check {incl:.1} µs, consistency proof + check {cons:.1} µs, tree_hash {th:.1} µs");

    // Batch append of 1,000 leaves onto the full tree (reads the frontier once).
    let batch: Vec<_> = (n..n + 1000)
        .map(|i| leaf_hash(org, "agent", i + 1, &link(i)).unwrap())
        .collect();
    let t0 = Instant::now();
    let mut a = append_leaves(n, &batch, &tree)?;
    for _ in 1..100 {
        a = black_box(append_leaves(n, &batch, &tree)?);
    }
    println!(
        "append_leaves: 1000 leaves onto {n} in {:.0} µs ({} new stored hashes)",
        t0.elapsed().as_secs_f64() * 1e6 / 100.0,
        a.hashes.len()
    );

    // Streaming verification: leaf bytes -> leaf hash -> frontier, comparing the
    // root with a checkpoint every 1,000 leaves.
    let mut checkpoints: Vec<_> = (1..=n / 1000).map(|k| k * 1000).collect();
    checkpoints.push(n);
    let want: Vec<_> = checkpoints
        .iter()
        .map(|&s| tree_hash(s, &tree).unwrap())
        .collect();
    let t0 = Instant::now();
    let mut f = Frontier::new();
    let mut next = 0;
    for i in 0..n {
        f.push(leaf_hash(org, "agent", i + 1, &link(i))?)?;
        while next < checkpoints.len() && checkpoints[next] == f.size() {
            assert_eq!(f.root(), want[next]);
            next += 1;
        }
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "streaming root recomputation: {n} leaves in {s:.2} s = {:.0} leaves/s (checked {} checkpoint roots)",
        n as f64 / s,
        next
    );
    // Without the leaf framing (leaf hashes given): the tree part alone.
    let leaves: Vec<_> = (0..n).map(|i| sha256(&i.to_le_bytes())).collect();
    let t0 = Instant::now();
    let mut f = Frontier::new();
    for h in &leaves {
        f.push(*h)?;
    }
    black_box(f.root());
    let s = t0.elapsed().as_secs_f64();
    println!(
        "frontier alone (leaf hashes given): {:.0} leaves/s",
        n as f64 / s
    );
    Ok(())
}
