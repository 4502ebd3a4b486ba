//! The chain spec (docs/chain-spec.md): how a link hash is framed, and a
//! verifier that walks a chain and names the first broken `seq` and why.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// Domain separation tag of version 1 of the chain spec.
pub const DOMAIN_TAG: &str = "sealtrail.chain.v1";

/// Identifies one chain: one per (organisation, agent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChainId {
    pub org_id: String,
    pub agent_id: String,
}

fn frame(h: &mut Sha256, s: &[u8]) {
    // Strings are bounded far below 4 GiB by validation.
    h.update((s.len() as u32).to_be_bytes());
    h.update(s);
}

/// The hash of link `seq` of chain (`org_id`, `agent_id`):
///
/// ```text
/// SHA-256( u32be(len tag) tag
///        | u32be(len org_id) org_id
///        | u32be(len agent_id) agent_id
///        | u32be(len key_id) key_id
///        | u64be(seq)
///        | prev_hash[32]
///        | content_hash[32] )
/// ```
/// Strings are UTF-8; `seq` starts at 1; `prev_hash` of seq 1 is all zeros.
pub fn link_hash(
    org_id: &str,
    agent_id: &str,
    key_id: &str,
    seq: u64,
    prev_hash: &Hash,
    content_hash: &Hash,
) -> Hash {
    let mut h = Sha256::new();
    frame(&mut h, DOMAIN_TAG.as_bytes());
    frame(&mut h, org_id.as_bytes());
    frame(&mut h, agent_id.as_bytes());
    frame(&mut h, key_id.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(prev_hash.0);
    h.update(content_hash.0);
    Hash(h.finalize().into())
}

/// What a store keeps of one link, as the verifier needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRecord {
    pub seq: u64,
    /// Who appended the link: the server's API key id; empty in a local ledger.
    pub key_id: String,
    pub prev_hash: Hash,
    pub hash: Hash,
    /// The content hash as the store recorded it, if it keeps one.
    pub stored_content_hash: Option<Hash>,
    /// The content hash recomputed from the stored event fields.
    pub content_hash: Hash,
}

/// Why a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// A stored field no longer hashes to what was chained.
    Edited,
    /// A seq is absent: a row was deleted, or the tail was cut off.
    Missing,
    /// Links are present but out of order (seq values swapped or repeated).
    Reordered,
    /// A link that is internally consistent but does not belong where it
    /// stands (made by someone with the spec), or lies beyond the chain head.
    Forged,
}

impl BreakReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakReason::Edited => "edited",
            BreakReason::Missing => "missing",
            BreakReason::Reordered => "reordered",
            BreakReason::Forged => "forged",
        }
    }
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    pub seq: u64,
    pub reason: BreakReason,
    pub detail: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {} {}: {}", self.seq, self.reason, self.detail)
    }
}

impl std::error::Error for ChainBreak {}

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub count: u64,
    pub head_seq: u64,
    pub head_hash: Hash,
}

/// The head a store says the chain has (the server's `chain_heads` row):
/// it catches a cut-off tail and rows appended behind the writer's back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedHead {
    pub seq: u64,
    pub hash: Hash,
}

/// Walks one chain in seq order, one record at a time, in constant memory
/// but for the set of hashes seen (used to tell reordering from forgery).
#[derive(Debug)]
pub struct Verifier {
    chain: ChainId,
    next_seq: u64,
    prev: Hash,
    count: u64,
    seen: HashSet<Hash>,
    head: Option<ExpectedHead>,
}

impl Verifier {
    pub fn new(chain: ChainId, head: Option<ExpectedHead>) -> Self {
        Verifier {
            chain,
            next_seq: 1,
            prev: Hash::ZERO,
            count: 0,
            seen: HashSet::new(),
            head,
        }
    }

    /// Starts the walk after link `seq` whose hash is `hash`: for a chain
    /// whose first links were removed by retention (the store records where
    /// the remaining chain begins). `seq` 0 with `Hash::ZERO` is a whole chain.
    pub fn with_base(mut self, seq: u64, hash: Hash) -> Self {
        self.next_seq = seq + 1;
        self.prev = hash;
        self
    }

    /// What has verified so far: the links pushed without a break and the
    /// last of them (the base when none).
    pub fn progress(&self) -> Verified {
        Verified {
            count: self.count,
            head_seq: self.next_seq - 1,
            head_hash: self.prev,
        }
    }

    pub fn chain(&self) -> &ChainId {
        &self.chain
    }

    /// Checks the next record. `exists` says whether a hash is that of any
    /// link of this chain, including ones not pushed yet; it is asked only
    /// when a link does not follow its predecessor. Pass `|_| false` when
    /// nothing beyond the records seen is known.
    pub fn push_with(
        &mut self,
        r: &ChainRecord,
        exists: impl FnOnce(&Hash) -> bool,
    ) -> Result<(), ChainBreak> {
        self.push_known(r, exists, |_| false)
    }

    /// [`push_with`](Self::push_with), also told which seqs the chain
    /// holds anywhere (`seq_exists`): a record whose seq is past the expected
    /// one is then **reordered** when the expected seq stands elsewhere (a
    /// ledger's lines out of order) and **missing** only when no link has
    /// it. A store that hands records over sorted by seq needs no such
    /// knowledge: there, a skipped seq is absent.
    pub fn push_known(
        &mut self,
        r: &ChainRecord,
        exists: impl FnOnce(&Hash) -> bool,
        seq_exists: impl FnOnce(u64) -> bool,
    ) -> Result<(), ChainBreak> {
        let s = self.next_seq;
        let brk = |seq, reason, detail: String| ChainBreak {
            seq,
            reason,
            detail,
        };
        if let Some(head) = self.head {
            if r.seq > head.seq && r.seq >= s {
                return Err(brk(
                    r.seq.max(s),
                    BreakReason::Forged,
                    format!(
                        "link beyond the recorded chain head (seq {}): appended outside the server",
                        head.seq
                    ),
                ));
            }
        }
        if r.seq > s {
            if seq_exists(s) {
                return Err(brk(
                    s,
                    BreakReason::Reordered,
                    format!(
                        "seq {} stands where seq {s} belongs; seq {s} comes later",
                        r.seq
                    ),
                ));
            }
            return Err(brk(
                s,
                BreakReason::Missing,
                if r.seq == s + 1 {
                    format!("seq {s} is absent (next stored is {})", r.seq)
                } else {
                    format!("seq {s}..{} are absent", r.seq - 1)
                },
            ));
        }
        if r.seq < s {
            // Named by the seq that repeats, so the verdict's seq does not
            // depend on which of two links with one seq a store gives first.
            return Err(brk(
                r.seq,
                BreakReason::Reordered,
                format!(
                    "seq {} appears again where seq {s} belongs (a seq repeats)",
                    r.seq
                ),
            ));
        }
        if let Some(stored) = r.stored_content_hash {
            if stored != r.content_hash {
                return Err(brk(
                    s,
                    BreakReason::Edited,
                    format!(
                        "stored fields hash to {} but {} was chained",
                        r.content_hash, stored
                    ),
                ));
            }
        }
        let own = link_hash(
            &self.chain.org_id,
            &self.chain.agent_id,
            &r.key_id,
            r.seq,
            &r.prev_hash,
            &r.content_hash,
        );
        let consistent = own == r.hash;
        if r.prev_hash != self.prev {
            let (reason, why) = if self.seen.contains(&r.prev_hash) || exists(&r.prev_hash) {
                (
                    BreakReason::Reordered,
                    "prev_hash is the hash of another link of this chain, not of its predecessor",
                )
            } else if consistent {
                (
                    BreakReason::Forged,
                    "the link hashes correctly but its prev_hash belongs to no link of this chain",
                )
            } else {
                (
                    BreakReason::Edited,
                    "prev_hash does not match the predecessor and the link does not hash to its stored hash",
                )
            };
            return Err(brk(s, reason, why.to_string()));
        }
        if !consistent {
            return Err(brk(
                s,
                BreakReason::Edited,
                format!(
                    "the stored fields hash to link {own} but the stored hash is {}",
                    r.hash
                ),
            ));
        }
        self.seen.insert(r.hash);
        self.prev = r.hash;
        self.next_seq = s + 1;
        self.count += 1;
        Ok(())
    }

    /// [`push_with`](Self::push_with) with nothing known beyond the records seen.
    pub fn push(&mut self, r: &ChainRecord) -> Result<(), ChainBreak> {
        self.push_with(r, |_| false)
    }

    /// Ends the walk, checking the recorded head if there is one.
    pub fn finish(self) -> Result<Verified, ChainBreak> {
        let last = self.next_seq - 1;
        if let Some(head) = self.head {
            if last < head.seq {
                return Err(ChainBreak {
                    seq: last + 1,
                    reason: BreakReason::Missing,
                    detail: format!(
                        "the chain ends at seq {last} but its recorded head is seq {}: the tail was removed",
                        head.seq
                    ),
                });
            }
            if head.hash != self.prev {
                return Err(ChainBreak {
                    seq: head.seq,
                    reason: BreakReason::Edited,
                    detail: format!(
                        "the last link hashes to {} but the recorded head is {}",
                        self.prev, head.hash
                    ),
                });
            }
        }
        Ok(Verified {
            count: self.count,
            head_seq: last,
            head_hash: self.prev,
        })
    }
}

/// Verifies a whole chain held in memory, records in the order stored (seq
/// order for a database; line order for a ledger file, see the spec's §5).
pub fn verify_chain(
    chain: ChainId,
    records: &[ChainRecord],
    head: Option<ExpectedHead>,
) -> Result<Verified, ChainBreak> {
    let all: HashSet<Hash> = records.iter().map(|r| r.hash).collect();
    let seqs: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    let mut v = Verifier::new(chain, head);
    for r in records {
        v.push_known(r, |h| all.contains(h), |s| seqs.contains(&s))?;
    }
    v.finish()
}
