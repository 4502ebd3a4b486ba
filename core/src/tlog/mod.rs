//! The transparency log layer (docs/chain-spec.md §7): per organisation, an
//! append-only RFC 9162 Merkle tree whose leaves are chain links, stored as
//! Go sumdb/tlog-style hash arrays; signed notes (C2SP signed-note) with
//! Ed25519; checkpoints (C2SP tlog-checkpoint); and a witness that cosigns
//! only consistent extensions (C2SP tlog-witness, tlog-cosignature).
//! Pure code: no I/O, no clock (callers pass the time).

pub mod checkpoint;
pub mod compact;
pub mod leaf;
pub mod memory;
pub mod note;
pub mod org;
pub mod tree;
pub mod witness;

pub use checkpoint::{origin, Checkpoint, CheckpointError};
pub use compact::Frontier;
pub use leaf::{empty_root, leaf_bytes, leaf_hash, node_hash, record_hash, LeafError, LEAF_TAG};
pub use memory::{MemoryTree, MissingHash};
pub use note::{Note, NoteError, Signature, Signer, Verifier, ALG_COSIGNATURE_V1, ALG_ED25519};
pub use org::org_verifier;
pub use tree::{
    append_from_hashes, append_indexes, append_leaves, check_record, check_tree, prove_record,
    prove_tree, record_proof_from_hashes, record_proof_indexes, split_stored_hash_index,
    stored_hash_count, stored_hash_index, stored_hashes, tree_hash, tree_hash_from_hashes,
    tree_hash_indexes, tree_proof_from_hashes, tree_proof_indexes, Appended, HashReader,
    ProofError, RecordProof, TreeError, TreeProof, MAX_TREE_SIZE,
};
pub use witness::{
    cosign, cosigned_message, verify_cosignature, AddCheckpoint, Cosigned, LogState, Witness,
    WitnessError,
};

#[cfg(test)]
mod tests_note;
#[cfg(test)]
mod tests_tree;
