//! Streaming roots: the frontier (a "compact range" over `[0, size)`) keeps
//! only the hashes of the maximal complete subtrees, at most log2 n + 1 of
//! them, and yields the root at any size. A verifier walks the leaves once
//! and compares the root with every published checkpoint on the way.

use crate::hash::Hash;

use super::leaf::{empty_root, node_hash};
use super::tree::{ProofError, MAX_TREE_SIZE};

/// The maximal complete subtrees of the tree of size `size`, largest (leftmost)
/// first: one per 1 bit of `size`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Frontier::default()
    }

    /// The frontier of a tree of size `size` from its subtree hashes, left to
    /// right: the hashes stored at `tree_hash_indexes(size)`.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, ProofError> {
        if size > MAX_TREE_SIZE {
            return Err(ProofError::InvalidInput(format!(
                "tree size {size} exceeds the maximum tree size"
            )));
        }
        if hashes.len() != size.count_ones() as usize {
            return Err(ProofError::WrongHashCount {
                want: size.count_ones() as usize,
                got: hashes.len(),
            });
        }
        Ok(Frontier { size, hashes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree hashes, left to right.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf_hash: Hash) -> Result<(), ProofError> {
        self.append_with(leaf_hash, |_| {})
    }

    /// Appends a leaf hash and pushes onto `out` the hashes to store for it:
    /// the leaf hash, then each subtree it completes (what
    /// `tree::stored_hashes` returns).
    pub fn append_stored(
        &mut self,
        leaf_hash: Hash,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        self.append_with(leaf_hash, |h| out.push(h))
    }

    fn append_with(
        &mut self,
        leaf_hash: Hash,
        mut emit: impl FnMut(Hash),
    ) -> Result<(), ProofError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(ProofError::InvalidInput("the tree is full".into()));
        }
        let mut h = leaf_hash;
        emit(h);
        // Every trailing 1 bit of the old size is a complete subtree of the
        // same size as the one being built: merge.
        for _ in 0..self.size.trailing_ones() {
            // One hash per 1 bit of size, so the pop succeeds.
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            emit(h);
        }
        self.hashes.push(h);
        self.size += 1;
        Ok(())
    }

    /// The root at the current size (SHA-256("") when empty).
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
