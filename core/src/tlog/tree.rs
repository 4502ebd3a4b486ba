//! The Merkle tree of RFC 9162 §2.1 kept as a flat array of stored hashes,
//! and its inclusion (audit path) and consistency proofs.
//!
//! A port of Go's `golang.org/x/mod/sumdb/tlog` (tlog.go): every hash of a
//! complete subtree is stored once, at a dense index (`stored_hash_index`,
//! the ordering of Crosby and Wallach §3.3), written when the subtree's last
//! leaf is appended. A root, a proof or an append reads at most O(log n)
//! stored hashes, and each operation names all the indexes it needs before
//! it reads any, so a server fetches them in one query:
//!
//! * with a synchronous store, implement [`HashReader`] and call
//!   [`tree_hash`], [`prove_record`], [`prove_tree`], [`append_leaves`];
//! * with an asynchronous one, call the `*_indexes` function, fetch those
//!   indexes in that order, and hand the hashes to the `*_from_hashes`
//!   function (pure computation).
//!
//! Sizes and leaf indexes are `u64` (as in checkpoints); storage indexes are
//! `i64` (a PostgreSQL `bigint`). Sizes up to [`MAX_TREE_SIZE`] are accepted,
//! which keeps every storage index below 2^63.
//!
//! One deliberate difference from Go: the hash of the empty tree is
//! SHA-256("") as RFC 9162 §2.1.1 defines it (Go returns 32 zero bytes).

use crate::hash::Hash;

use super::compact::Frontier;
use super::leaf::{empty_root, node_hash};

/// The largest tree size (2^61 leaves): every stored index then fits an i64.
pub const MAX_TREE_SIZE: u64 = 1 << 61;

/// Bad input to a tree function or a proof that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Sizes or indexes outside their ranges (e.g. leaf `n` ≥ tree size `t`).
    #[error("tlog: invalid input: {0}")]
    InvalidInput(String),
    /// A hash list of the wrong length was handed to a `*_from_hashes`
    /// function or returned by a reader.
    #[error("tlog: expected {want} stored hashes, got {got}")]
    WrongHashCount { want: usize, got: usize },
    /// The proof has the wrong number of hashes for the sizes given.
    #[error("tlog: proof has the wrong number of hashes")]
    WrongProofLength,
    /// The proof recomputes to a different root.
    #[error("tlog: proof does not verify")]
    Mismatch,
}

/// A failure of a function that reads stored hashes: bad input, or the reader's
/// own error.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("tlog: reading stored hashes: {0}")]
    Read(E),
}

/// Reads stored hashes by index (see [`stored_hash_index`]).
///
/// Each function of this module reads all the hashes it needs in one call,
/// with distinct indexes in the order the computation consumes them (not
/// always increasing). The result must have exactly one hash per index, in
/// the same order; a shorter or longer result is an error, not a panic.
pub trait HashReader {
    type Error;
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, Self::Error>;
}

/// An inclusion proof (RFC 9162 §2.1.3 audit path), leaf side first.
pub type RecordProof = Vec<Hash>;
/// A consistency proof (RFC 9162 §2.1.4), leaf side first.
pub type TreeProof = Vec<Hash>;

// ---------------------------------------------------------------------------
// Storage indexes

fn check_size(what: &str, n: u64) -> Result<(), ProofError> {
    if n > MAX_TREE_SIZE {
        return Err(ProofError::InvalidInput(format!(
            "{what} {n} exceeds the maximum tree size {MAX_TREE_SIZE}"
        )));
    }
    Ok(())
}

/// `stored_hash_index` without range checks: callers guarantee
/// `(n + 1) << level <= 2^62`.
fn shi(level: u32, n: u64) -> i64 {
    // Level L's n'th hash is stored right after level L+1's (2n+1)'th hash:
    // descend to level 0 (n ↦ 2n+1, `level` times), where hash n is stored at
    // n + n/2 + n/4 + … = 2n − popcount(n); then add the level back.
    let n0 = ((n + 1) << level) - 1;
    (2 * n0 - u64::from(n0.count_ones()) + u64::from(level)) as i64
}

/// The storage index of the hash of the subtree at `level` (0 = leaves)
/// covering leaves `[n·2^level, (n+1)·2^level)`. Go's `StoredHashIndex`.
pub fn stored_hash_index(level: u32, n: u64) -> Result<i64, ProofError> {
    let fits = level < 62 && n < (1u64 << (62 - level));
    if !fits {
        return Err(ProofError::InvalidInput(format!(
            "stored hash index of level {level}, node {n} is out of range"
        )));
    }
    Ok(shi(level, n))
}

/// The inverse of [`stored_hash_index`]: `(level, n)`. Go's `SplitStoredHashIndex`.
pub fn split_stored_hash_index(index: i64) -> Result<(u32, u64), ProofError> {
    if !(0..(1i64 << 62)).contains(&index) {
        return Err(ProofError::InvalidInput(format!(
            "stored hash index {index} is out of range"
        )));
    }
    let index = index as u64;
    // shi(0, n) < 2n, so the leaf we want is in [index/2, index/2 + log2(index)].
    let mut n = index / 2;
    let mut index_n = shi(0, n) as u64;
    loop {
        // Leaf n adds 1 + trailing_zeros(n + 1) hashes.
        let x = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if x > index {
            break;
        }
        n += 1;
        index_n = x;
    }
    let level = (index - index_n) as u32;
    Ok((level, n >> level))
}

/// How many hashes are stored for a tree of `n` leaves. Go's `StoredHashCount`.
pub fn stored_hash_count(n: u64) -> Result<i64, ProofError> {
    check_size("tree size", n)?;
    if n == 0 {
        return Ok(0);
    }
    // Hashes up to leaf n−1, plus the subtrees that leaf completed.
    Ok(shi(0, n - 1) + 1 + i64::from((n - 1).trailing_ones()))
}

/// `k`, the largest power of two smaller than `n` (1 for n ≤ 2), and log2 k.
fn maxpow2(n: u64) -> (u64, u32) {
    if n <= 2 {
        return (1, 0);
    }
    let l = 63 - (n - 1).leading_zeros();
    (1 << l, l)
}

fn read<R: HashReader>(r: &R, indexes: &[i64]) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = r.read_hashes(indexes).map_err(TreeError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(ProofError::WrongHashCount {
            want: indexes.len(),
            got: hashes.len(),
        }
        .into());
    }
    Ok(hashes)
}

fn expect_count(hashes: &[Hash], want: usize) -> Result<(), ProofError> {
    if hashes.len() != want {
        return Err(ProofError::WrongHashCount {
            want,
            got: hashes.len(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Subtree hashes (RFC 9162 §2.1.1 MTH over leaves [lo, hi))

/// The stored indexes needed for the hash of leaves `[lo, hi)`: the maximal
/// complete subtrees, left to right.
fn subtree_index(mut lo: u64, hi: u64, need: &mut Vec<i64>) {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        debug_assert_eq!(lo & (k - 1), 0);
        need.push(shi(level, lo >> level));
        lo += k;
    }
}

/// The hash of leaves `[lo, hi)` from the hashes `subtree_index` named, and
/// the hashes left over.
fn subtree_hash(mut lo: u64, hi: u64, hashes: &[Hash]) -> (Hash, &[Hash]) {
    let mut num = 0;
    while lo < hi {
        let (k, _) = maxpow2(hi - lo + 1);
        num += 1;
        lo += k;
    }
    // Callers have checked the total count; the index math guarantees it.
    let mut h = hashes[num - 1];
    for left in hashes[..num - 1].iter().rev() {
        h = node_hash(left, &h);
    }
    (h, &hashes[num..])
}

/// The stored indexes [`tree_hash_from_hashes`] needs for the root of the tree
/// of size `n` (at most log2 n + 1; none for the empty tree).
pub fn tree_hash_indexes(n: u64) -> Result<Vec<i64>, ProofError> {
    check_size("tree size", n)?;
    let mut need = Vec::new();
    subtree_index(0, n, &mut need);
    Ok(need)
}

/// The root of the tree of size `n` from the hashes at [`tree_hash_indexes`].
pub fn tree_hash_from_hashes(n: u64, hashes: &[Hash]) -> Result<Hash, ProofError> {
    let want = tree_hash_indexes(n)?.len();
    expect_count(hashes, want)?;
    if n == 0 {
        return Ok(empty_root());
    }
    Ok(subtree_hash(0, n, hashes).0)
}

/// The root of the tree of size `n` (RFC 9162 §2.1.1 MTH; SHA-256("") for 0),
/// reading at most log2 n + 1 stored hashes in one call. Go's `TreeHash`.
pub fn tree_hash<R: HashReader>(n: u64, r: &R) -> Result<Hash, TreeError<R::Error>> {
    let indexes = tree_hash_indexes(n)?;
    let hashes = read(r, &indexes)?;
    Ok(tree_hash_from_hashes(n, &hashes)?)
}

// ---------------------------------------------------------------------------
// Appending

/// The result of appending leaves to a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Where `hashes[0]` is stored: `stored_hash_index(0, old size)`.
    pub first_index: i64,
    /// The new stored hashes, for indexes `first_index, first_index + 1, …`.
    pub hashes: Vec<Hash>,
    /// The new tree size.
    pub size: u64,
    /// The root at the new size.
    pub root: Hash,
}

/// The stored indexes an append to a tree of size `size` reads: its frontier,
/// the maximal complete subtrees (the same list as [`tree_hash_indexes`]).
pub fn append_indexes(size: u64) -> Result<Vec<i64>, ProofError> {
    tree_hash_indexes(size)
}

/// Appends `leaf_hashes` (leaf hashes, see [`super::record_hash`]) to the tree
/// of size `size` whose frontier hashes (at [`append_indexes`]) are
/// `frontier`. Returns every hash to store, in index order, and the new root.
pub fn append_from_hashes(
    size: u64,
    frontier: &[Hash],
    leaf_hashes: &[Hash],
) -> Result<Appended, ProofError> {
    let new_size = size
        .checked_add(leaf_hashes.len() as u64)
        .filter(|s| *s <= MAX_TREE_SIZE)
        .ok_or_else(|| {
            ProofError::InvalidInput(format!(
                "appending {} leaves to size {size} exceeds the maximum tree size",
                leaf_hashes.len()
            ))
        })?;
    let mut f = Frontier::from_hashes(size, frontier.to_vec())?;
    let first_index = shi(0, size);
    let want = (stored_hash_count(new_size)? - first_index) as usize;
    let mut hashes = Vec::with_capacity(want);
    for h in leaf_hashes {
        f.append_stored(*h, &mut hashes)?;
    }
    debug_assert_eq!(hashes.len(), want);
    Ok(Appended {
        first_index,
        hashes,
        size: new_size,
        root: f.root(),
    })
}

/// Appends `leaf_hashes` to the tree of size `size`, reading its frontier
/// (at most log2 size + 1 hashes) in one call.
pub fn append_leaves<R: HashReader>(
    size: u64,
    leaf_hashes: &[Hash],
    r: &R,
) -> Result<Appended, TreeError<R::Error>> {
    let indexes = append_indexes(size)?;
    let frontier = read(r, &indexes)?;
    Ok(append_from_hashes(size, &frontier, leaf_hashes)?)
}

/// The hashes to store when leaf `n` (0-based) with leaf hash `leaf_hash` is
/// appended, starting at `stored_hash_index(0, n)`: the leaf hash, then one
/// hash per subtree it completes. Go's `StoredHashesForRecordHash`; reads
/// at most log2 n hashes.
pub fn stored_hashes<R: HashReader>(
    n: u64,
    leaf_hash: &Hash,
    r: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if n >= MAX_TREE_SIZE {
        return Err(ProofError::InvalidInput(format!("leaf index {n} is out of range")).into());
    }
    // Each trailing 1 bit of n completes a subtree, consuming the hash of the
    // complete subtree to its left.
    let m = (n + 1).trailing_zeros();
    let indexes: Vec<i64> = (0..m).rev().map(|i| shi(i, (n >> i) - 1)).collect();
    let old = read(r, &indexes)?;
    let mut h = *leaf_hash;
    let mut out = Vec::with_capacity(m as usize + 1);
    out.push(h);
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Inclusion proofs (RFC 9162 §2.1.3)

fn check_record_inputs(t: u64, n: u64) -> Result<(), ProofError> {
    check_size("tree size", t)?;
    if n >= t {
        return Err(ProofError::InvalidInput(format!(
            "leaf {n} is not in a tree of size {t}"
        )));
    }
    Ok(())
}

fn leaf_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<i64>) {
    if lo + 1 == hi {
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

fn leaf_proof<'a>(lo: u64, hi: u64, n: u64, hashes: &'a [Hash], p: &mut Vec<Hash>) -> &'a [Hash] {
    if lo + 1 == hi {
        // The verifier knows the leaf hash.
        return hashes;
    }
    let (k, _) = maxpow2(hi - lo);
    let (th, rest) = if n < lo + k {
        let rest = leaf_proof(lo, lo + k, n, hashes, p);
        subtree_hash(lo + k, hi, rest)
    } else {
        let (th, rest) = subtree_hash(lo, lo + k, hashes);
        (th, leaf_proof(lo + k, hi, n, rest, p))
    };
    p.push(th);
    rest
}

/// The stored indexes [`record_proof_from_hashes`] needs for the inclusion
/// proof of leaf `n` in the tree of size `t`.
pub fn record_proof_indexes(t: u64, n: u64) -> Result<Vec<i64>, ProofError> {
    check_record_inputs(t, n)?;
    let mut need = Vec::new();
    leaf_proof_index(0, t, n, &mut need);
    Ok(need)
}

/// The inclusion proof of leaf `n` in the tree of size `t`, from the hashes at
/// [`record_proof_indexes`].
pub fn record_proof_from_hashes(
    t: u64,
    n: u64,
    hashes: &[Hash],
) -> Result<RecordProof, ProofError> {
    let want = record_proof_indexes(t, n)?.len();
    expect_count(hashes, want)?;
    let mut p = Vec::new();
    leaf_proof(0, t, n, hashes, &mut p);
    Ok(p)
}

/// The inclusion proof of leaf `n` (0-based) in the tree of size `t`, reading
/// its O(log t) stored hashes in one call. Go's `ProveRecord`.
pub fn prove_record<R: HashReader>(
    t: u64,
    n: u64,
    r: &R,
) -> Result<RecordProof, TreeError<R::Error>> {
    let indexes = record_proof_indexes(t, n)?;
    let hashes = read(r, &indexes)?;
    Ok(record_proof_from_hashes(t, n, &hashes)?)
}

fn run_record_proof(p: &[Hash], lo: u64, hi: u64, n: u64, leaf: &Hash) -> Result<Hash, ProofError> {
    if lo + 1 == hi {
        // No unnecessary hashes allowed.
        return if p.is_empty() {
            Ok(*leaf)
        } else {
            Err(ProofError::WrongProofLength)
        };
    }
    let Some((last, rest)) = p.split_last() else {
        return Err(ProofError::WrongProofLength);
    };
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        let th = run_record_proof(rest, lo, lo + k, n, leaf)?;
        Ok(node_hash(&th, last))
    } else {
        let th = run_record_proof(rest, lo + k, hi, n, leaf)?;
        Ok(node_hash(last, &th))
    }
}

/// Checks that `proof` proves that the tree of size `t` with root `root` has
/// leaf hash `leaf_hash` at index `n`. Go's `CheckRecord`.
pub fn check_record(
    proof: &[Hash],
    t: u64,
    root: &Hash,
    n: u64,
    leaf_hash: &Hash,
) -> Result<(), ProofError> {
    check_record_inputs(t, n)?;
    if proof.len() > 64 {
        return Err(ProofError::WrongProofLength);
    }
    if run_record_proof(proof, 0, t, n, leaf_hash)? == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

// ---------------------------------------------------------------------------
// Consistency proofs (RFC 9162 §2.1.4)

fn check_tree_inputs(t: u64, n: u64) -> Result<(), ProofError> {
    check_size("tree size", t)?;
    if n < 1 || n > t {
        return Err(ProofError::InvalidInput(format!(
            "no consistency proof from size {n} to size {t} (need 1 <= old <= new)"
        )));
    }
    Ok(())
}

fn tree_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<i64>) {
    if n == hi {
        if lo != 0 {
            subtree_index(lo, hi, need);
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

fn tree_proof<'a>(lo: u64, hi: u64, n: u64, hashes: &'a [Hash], p: &mut Vec<Hash>) -> &'a [Hash] {
    if n == hi {
        if lo == 0 {
            // Exactly the old tree: the verifier knows its hash.
            return hashes;
        }
        let (th, rest) = subtree_hash(lo, hi, hashes);
        p.push(th);
        return rest;
    }
    let (k, _) = maxpow2(hi - lo);
    let (th, rest) = if n <= lo + k {
        let rest = tree_proof(lo, lo + k, n, hashes, p);
        subtree_hash(lo + k, hi, rest)
    } else {
        let (th, rest) = subtree_hash(lo, lo + k, hashes);
        (th, tree_proof(lo + k, hi, n, rest, p))
    };
    p.push(th);
    rest
}

/// The stored indexes [`tree_proof_from_hashes`] needs for the consistency
/// proof from size `n` to size `t`.
pub fn tree_proof_indexes(t: u64, n: u64) -> Result<Vec<i64>, ProofError> {
    check_tree_inputs(t, n)?;
    let mut need = Vec::new();
    tree_proof_index(0, t, n, &mut need);
    Ok(need)
}

/// The consistency proof from size `n` to size `t`, from the hashes at
/// [`tree_proof_indexes`].
pub fn tree_proof_from_hashes(t: u64, n: u64, hashes: &[Hash]) -> Result<TreeProof, ProofError> {
    let want = tree_proof_indexes(t, n)?.len();
    expect_count(hashes, want)?;
    let mut p = Vec::new();
    tree_proof(0, t, n, hashes, &mut p);
    Ok(p)
}

/// The proof that the tree of size `t` extends the tree of size `n`
/// (1 ≤ n ≤ t; empty when n = t), reading its O(log t) stored hashes in one
/// call. Go's `ProveTree`.
pub fn prove_tree<R: HashReader>(t: u64, n: u64, r: &R) -> Result<TreeProof, TreeError<R::Error>> {
    let indexes = tree_proof_indexes(t, n)?;
    let hashes = read(r, &indexes)?;
    Ok(tree_proof_from_hashes(t, n, &hashes)?)
}

/// Returns the old and new subtree hashes implied by running the proof.
fn run_tree_proof(
    p: &[Hash],
    lo: u64,
    hi: u64,
    n: u64,
    old: &Hash,
) -> Result<(Hash, Hash), ProofError> {
    if n == hi {
        if lo == 0 {
            return if p.is_empty() {
                Ok((*old, *old))
            } else {
                Err(ProofError::WrongProofLength)
            };
        }
        return match p {
            [h] => Ok((*h, *h)),
            _ => Err(ProofError::WrongProofLength),
        };
    }
    let Some((last, rest)) = p.split_last() else {
        return Err(ProofError::WrongProofLength);
    };
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        let (oh, th) = run_tree_proof(rest, lo, lo + k, n, old)?;
        Ok((oh, node_hash(&th, last)))
    } else {
        let (oh, th) = run_tree_proof(rest, lo + k, hi, n, old)?;
        Ok((node_hash(last, &oh), node_hash(last, &th)))
    }
}

/// Checks that `proof` proves that the tree of size `t` with root `root`
/// extends the tree of size `n` with root `old_root`. Go's `CheckTree`.
pub fn check_tree(
    proof: &[Hash],
    t: u64,
    root: &Hash,
    n: u64,
    old_root: &Hash,
) -> Result<(), ProofError> {
    check_tree_inputs(t, n)?;
    if proof.len() > 128 {
        return Err(ProofError::WrongProofLength);
    }
    let (oh, th) = run_tree_proof(proof, 0, t, n, old_root)?;
    if oh == *old_root && th == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}
