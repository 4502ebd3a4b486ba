//! An in-memory tree: the stored hashes in a `Vec` (index = storage index),
//! for tests, benchmarks and offline verifiers that rebuild a tree.

use crate::hash::Hash;

use super::compact::Frontier;
use super::tree::{HashReader, ProofError};

/// A stored hash index the tree does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tlog: no stored hash at index {0}")]
pub struct MissingHash(pub i64);

/// A tree held in memory: every stored hash, plus the frontier for appends.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    hashes: Vec<Hash>,
    frontier: Frontier,
}

impl MemoryTree {
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// Appends a leaf hash (`record_hash` of the leaf bytes).
    pub fn push(&mut self, leaf_hash: Hash) -> Result<(), ProofError> {
        self.frontier.append_stored(leaf_hash, &mut self.hashes)
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root at the current size.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Every stored hash, by storage index.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemoryTree {
    type Error = MissingHash;
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, MissingHash> {
        self.hashes.read_hashes(indexes)
    }
}

/// A slice of stored hashes, index = storage index.
impl HashReader for [Hash] {
    type Error = MissingHash;
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.get(u))
                    .copied()
                    .ok_or(MissingHash(i))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    type Error = MissingHash;
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, MissingHash> {
        self.as_slice().read_hashes(indexes)
    }
}
