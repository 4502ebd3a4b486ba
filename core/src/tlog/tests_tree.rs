//! Tree tests: Go's tlog_test.go TestTree and TestSplitStoredHashIndex ported,
//! the transparency-dev/merkle 8-leaf vectors, and property tests.

use proptest::prelude::*;

use super::*;
use crate::hash::Hash;

fn b64(h: &Hash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(h.0)
}

fn hx(s: &str) -> Hash {
    s.parse().unwrap()
}

/// A reference MTH straight from RFC 9162 §2.1.1, recursive over leaf hashes.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            // k = the largest power of two smaller than n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

#[test]
fn reference_split_is_largest_power_of_two_below_n() {
    // Sanity of the test's own reference.
    let leaves: Vec<Hash> = (0..5u8).map(|i| record_hash(&[i])).collect();
    let want = node_hash(
        &node_hash(
            &node_hash(&leaves[0], &leaves[1]),
            &node_hash(&leaves[2], &leaves[3]),
        ),
        &leaves[4],
    );
    assert_eq!(mth(&leaves), want);
}

#[test]
fn go_record_hash_vector() {
    // golang.org/x/mod/sumdb/tlog note_test.go: RecordHash("hello world").
    assert_eq!(
        b64(&record_hash(b"hello world")),
        "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="
    );
}

/// transparency-dev/merkle testonly/constants.go: leaves and roots of sizes 0..=8.
fn td_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

const TD_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn transparency_dev_roots() {
    let mut t = MemoryTree::new();
    let mut f = Frontier::new();
    assert_eq!(t.root(), hx(TD_ROOTS[0]));
    assert_eq!(tree_hash(0, &t).unwrap(), hx(TD_ROOTS[0]));
    for (i, leaf) in td_leaves().iter().enumerate() {
        t.push(record_hash(leaf)).unwrap();
        f.push(record_hash(leaf)).unwrap();
        let want = hx(TD_ROOTS[i + 1]);
        assert_eq!(t.root(), want, "size {}", i + 1);
        assert_eq!(f.root(), want, "size {}", i + 1);
        for size in 1..=t.size() {
            assert_eq!(tree_hash(size, &t).unwrap(), hx(TD_ROOTS[size as usize]));
        }
    }
    // The level-1 node hashes of constants.go NodeHashes, at their stored indexes.
    let level1 = [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ];
    for (n, h) in level1.iter().enumerate() {
        let i = stored_hash_index(1, n as u64).unwrap() as usize;
        assert_eq!(t.stored()[i], hx(h));
    }
}

#[test]
fn transparency_dev_proof_vectors() {
    // cmd/proofgen inclusion vectors for the 8-leaf tree (leaf index 0-based).
    let mut t = MemoryTree::new();
    for leaf in td_leaves() {
        t.push(record_hash(&leaf)).unwrap();
    }
    let p = prove_record(8, 0, &t).unwrap();
    assert_eq!(
        p,
        vec![
            hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            hx("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hx("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ]
    );
    let p = prove_record(8, 5, &t).unwrap();
    assert_eq!(
        p,
        vec![
            hx("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            hx("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            hx("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    // Consistency 1 -> 8 (testdata/consistency/1/happy-path.json).
    let p = prove_tree(8, 1, &t).unwrap();
    assert_eq!(
        p.iter().map(b64).collect::<Vec<_>>(),
        [
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="
        ]
    );
    // Consistency 6 -> 8 from RFC 6962's worked example shape: three hashes.
    let p = prove_tree(8, 6, &t).unwrap();
    assert_eq!(
        p,
        vec![
            hx("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            hx("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            hx("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    check_tree(&p, 8, &t.root(), 6, &hx(TD_ROOTS[6])).unwrap();
}

#[test]
fn split_stored_hash_index_inverts() {
    // Go's TestSplitStoredHashIndex.
    for l in 0..10u32 {
        for n in 0..100u64 {
            let x = stored_hash_index(l, n).unwrap();
            assert_eq!(split_stored_hash_index(x).unwrap(), (l, n), "index {x}");
        }
    }
    // And every index up to a bound names exactly one node.
    for x in 0..2000i64 {
        let (l, n) = split_stored_hash_index(x).unwrap();
        assert_eq!(stored_hash_index(l, n).unwrap(), x);
    }
    assert!(split_stored_hash_index(-1).is_err());
    assert!(stored_hash_index(62, 1).is_err());
    assert!(stored_hash_index(0, 1 << 62).is_err());
    // The largest tree's indexes are representable.
    let last = stored_hash_count(MAX_TREE_SIZE).unwrap();
    assert!(last > 0);
}

#[test]
fn go_test_tree_port() {
    // Go's TestTree: append leaves one by one via stored_hashes, then prove and
    // check every record and every tree pair, and reject every corrupted hash.
    const N: u64 = 100;
    let mut storage: Vec<Hash> = Vec::new();
    let mut trees = vec![empty_root()];
    let mut leafhashes = Vec::new();
    for i in 0..N {
        let data = format!("leaf {i}");
        let lh = record_hash(data.as_bytes());
        leafhashes.push(lh);
        let hashes = stored_hashes(i, &lh, &storage).unwrap();
        assert_eq!(stored_hash_index(0, i).unwrap() as usize, storage.len());
        storage.extend(hashes);
        assert_eq!(stored_hash_count(i + 1).unwrap() as usize, storage.len());
        let th = tree_hash(i + 1, &storage).unwrap();
        assert_eq!(th, mth(&leafhashes));
        trees.push(th);

        for j in 0..=i {
            let mut p = prove_record(i + 1, j, &storage).unwrap();
            check_record(&p, i + 1, &th, j, &leafhashes[j as usize]).unwrap();
            for k in 0..p.len() {
                p[k].0[0] ^= 1;
                assert!(check_record(&p, i + 1, &th, j, &leafhashes[j as usize]).is_err());
                p[k].0[0] ^= 1;
            }
        }
        for j in 1..=i + 1 {
            let mut p = prove_tree(i + 1, j, &storage).unwrap();
            check_tree(&p, i + 1, &th, j, &trees[j as usize]).unwrap();
            for k in 0..p.len() {
                p[k].0[0] ^= 1;
                assert!(check_tree(&p, i + 1, &th, j, &trees[j as usize]).is_err());
                p[k].0[0] ^= 1;
            }
        }
    }
    // Batch appends agree with one-by-one appends, for every split point.
    for start in 0..N {
        for k in [0u64, 1, 2, 3, 7, 20] {
            let end = (start + k).min(N);
            let base = &storage[..stored_hash_count(start).unwrap() as usize];
            let a = append_leaves(
                start,
                &leafhashes[start as usize..end as usize],
                &base.to_vec(),
            )
            .unwrap();
            assert_eq!(a.first_index, base.len() as i64);
            assert_eq!(
                a.hashes,
                storage[base.len()..stored_hash_count(end).unwrap() as usize].to_vec()
            );
            assert_eq!(a.size, end);
            assert_eq!(a.root, trees[end as usize]);
        }
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let mut t = MemoryTree::new();
    for i in 0..10u8 {
        t.push(record_hash(&[i])).unwrap();
    }
    let root = t.root();
    let lh = record_hash(&[0]);
    assert!(matches!(
        prove_record(10, 10, &t),
        Err(TreeError::Proof(ProofError::InvalidInput(_)))
    ));
    assert!(matches!(prove_record(0, 0, &t), Err(TreeError::Proof(_))));
    assert!(matches!(
        prove_record(11, 0, &t),
        Err(TreeError::Read(MissingHash(_)))
    ));
    assert!(prove_tree(10, 0, &t).is_err());
    assert!(prove_tree(10, 11, &t).is_err());
    assert!(tree_hash(u64::MAX, &t).is_err());
    assert!(check_record(&[], 10, &root, 0, &lh).is_err());
    assert!(check_record(&vec![lh; 1000], 10, &root, 0, &lh).is_err());
    assert!(check_record(&[], u64::MAX, &root, 0, &lh).is_err());
    assert!(check_record(&[], 5, &root, 7, &lh).is_err());
    assert!(check_tree(&[], 10, &root, 0, &root).is_err());
    assert!(check_tree(&[lh], 10, &root, 10, &root).is_err());
    check_tree(&[], 10, &root, 10, &root).unwrap();
    assert!(check_tree(&vec![lh; 1000], 10, &root, 3, &root).is_err());
    assert!(tree_hash_from_hashes(10, &[lh]).is_err());
    assert!(record_proof_from_hashes(10, 3, &[]).is_err());
    assert!(tree_proof_from_hashes(10, 3, &[]).is_err());
    assert!(append_from_hashes(3, &[lh], &[lh]).is_err());
    assert!(append_from_hashes(MAX_TREE_SIZE, &[lh], &[lh]).is_err());
    // A reader that returns too few hashes.
    struct Short;
    impl HashReader for Short {
        type Error = std::convert::Infallible;
        fn read_hashes(&self, _: &[i64]) -> Result<Vec<Hash>, Self::Error> {
            Ok(vec![])
        }
    }
    assert!(matches!(
        prove_record(10, 3, &Short),
        Err(TreeError::Proof(ProofError::WrongHashCount { .. }))
    ));
}

fn tree_of(n: u64) -> (MemoryTree, Vec<Hash>) {
    let mut t = MemoryTree::new();
    let mut roots = vec![empty_root()];
    for i in 0..n {
        t.push(record_hash(&i.to_be_bytes())).unwrap();
        roots.push(t.root());
    }
    (t, roots)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_inclusion_proof_verifies_and_any_flipped_bit_fails(
        size in 1u64..600, leaf_sel in any::<u64>(), bit in any::<u16>()
    ) {
        let (t, _) = tree_of(size);
        let n = leaf_sel % size;
        let lh = record_hash(&n.to_be_bytes());
        let root = t.root();
        let p = prove_record(size, n, &t).unwrap();
        prop_assert!(check_record(&p, size, &root, n, &lh).is_ok());
        // Flip one bit anywhere in proof ‖ root ‖ leaf hash.
        let total = (p.len() + 2) * 256;
        let b = bit as usize % total;
        let (mut p2, mut root2, mut lh2) = (p.clone(), root, lh);
        let h = match b / 256 {
            i if i < p.len() => &mut p2[i],
            i if i == p.len() => &mut root2,
            _ => &mut lh2,
        };
        h.0[(b % 256) / 8] ^= 1 << (b % 8);
        prop_assert!(check_record(&p2, size, &root2, n, &lh2).is_err());
        // The wrong index fails too (unless the tree has one leaf).
        if size > 1 {
            prop_assert!(check_record(&p, size, &root, (n + 1) % size, &lh).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_any_flipped_bit_fails(
        size in 1u64..600, old_sel in any::<u64>(), bit in any::<u16>()
    ) {
        let (t, roots) = tree_of(size);
        let old = 1 + old_sel % size;
        let p = prove_tree(size, old, &t).unwrap();
        let (root, old_root) = (roots[size as usize], roots[old as usize]);
        prop_assert!(check_tree(&p, size, &root, old, &old_root).is_ok());
        let total = (p.len() + 2) * 256;
        let b = bit as usize % total;
        let (mut p2, mut r2, mut o2) = (p.clone(), root, old_root);
        let h = match b / 256 {
            i if i < p.len() => &mut p2[i],
            i if i == p.len() => &mut r2,
            _ => &mut o2,
        };
        h.0[(b % 256) / 8] ^= 1 << (b % 8);
        prop_assert!(check_tree(&p2, size, &r2, old, &o2).is_err());
        // Dropping or adding a hash fails.
        if !p.is_empty() {
            prop_assert!(check_tree(&p[..p.len() - 1], size, &root, old, &old_root).is_err());
        }
        let mut longer = p.clone();
        longer.push(root);
        prop_assert!(check_tree(&longer, size, &root, old, &old_root).is_err());
    }

    #[test]
    fn proofs_read_few_hashes(size in 1u64..(1u64 << 40), sel in any::<u64>()) {
        let n = sel % size;
        // O(log n): at most one complete subtree per level on the path, plus
        // one incomplete side whose frontier has up to log2 n + 1 entries.
        let lg = 64 - size.leading_zeros() as usize;
        prop_assert!(record_proof_indexes(size, n).unwrap().len() <= 2 * lg);
        prop_assert!(tree_proof_indexes(size, 1 + n).unwrap().len() <= 3 * lg);
        prop_assert!(tree_hash_indexes(size).unwrap().len() <= lg);
    }

    #[test]
    fn frontier_from_stored_hashes_continues(size in 0u64..300, extra in 0u64..40) {
        let (t, _) = tree_of(size + extra);
        let idx = tree_hash_indexes(size).unwrap();
        let mut f = Frontier::from_hashes(size, t.read_hashes(&idx).unwrap()).unwrap();
        for i in size..size + extra {
            f.push(record_hash(&i.to_be_bytes())).unwrap();
        }
        prop_assert_eq!(f.root(), t.root());
    }
}
