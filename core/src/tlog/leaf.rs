//! Leaf bytes and the RFC 9162 §2.1.1 hashing of leaves and interior nodes.

use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// Domain separation tag of version 1 of the leaf encoding.
pub const LEAF_TAG: &str = "sealtrail.leaf.v1";

/// A leaf field does not fit its u32 length prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tlog leaf: {field} is {len} bytes, more than a u32 length prefix can frame")]
pub struct LeafError {
    pub field: &'static str,
    pub len: usize,
}

fn frame(out: &mut Vec<u8>, field: &'static str, s: &[u8]) -> Result<(), LeafError> {
    let len = u32::try_from(s.len()).map_err(|_| LeafError {
        field,
        len: s.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

/// The bytes of the leaf for link `seq` of chain (`org_id`, `agent_id`)
/// whose link hash (docs/chain-spec.md §2) is `link_hash`, framed like the
/// link hash itself:
///
/// ```text
/// u32be(len TAG) TAG | u32be(len org_id) org_id | u32be(len agent_id) agent_id
/// | u64be(seq) | link_hash[32]                      TAG = "sealtrail.leaf.v1"
/// ```
pub fn leaf_bytes(
    org_id: &str,
    agent_id: &str,
    seq: u64,
    link_hash: &Hash,
) -> Result<Vec<u8>, LeafError> {
    let mut out =
        Vec::with_capacity(4 + LEAF_TAG.len() + 8 + org_id.len() + agent_id.len() + 8 + 32);
    frame(&mut out, "tag", LEAF_TAG.as_bytes())?;
    frame(&mut out, "org_id", org_id.as_bytes())?;
    frame(&mut out, "agent_id", agent_id.as_bytes())?;
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&link_hash.0);
    Ok(out)
}

/// RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ leaf).
pub fn record_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    Hash(h.finalize().into())
}

/// The leaf hash of a chain link: `record_hash(leaf_bytes(..))`.
pub fn leaf_hash(
    org_id: &str,
    agent_id: &str,
    seq: u64,
    link_hash: &Hash,
) -> Result<Hash, LeafError> {
    Ok(record_hash(&leaf_bytes(org_id, agent_id, seq, link_hash)?))
}

/// RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

/// The root of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1;
/// also what C2SP tlog-witness requires of a size-0 checkpoint).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}
