//! The verifier names the first broken seq and the reason for each kind of
//! tampering: edited, missing, reordered, forged.

use sealtrail_core::chain::{
    link_hash, verify_chain, BreakReason, ChainId, ChainRecord, ExpectedHead, Verifier,
};
use sealtrail_core::event::{Event, EventType};
use sealtrail_core::hash::Hash;

const ORG: &str = "0b6e4f2a-7c1d-4e8b-9a3f-5d2c8e1f0a47";
const AGENT: &str = "agent-1";
const KEY: &str = "6c1f0e2d-3b4a-4f5e-8d7c-9a0b1c2d3e4f";

fn id() -> ChainId {
    ChainId {
        org_id: ORG.into(),
        agent_id: AGENT.into(),
    }
}

/// A well-formed chain of `n` events and the events themselves.
fn chain(n: u64) -> (Vec<Event>, Vec<ChainRecord>) {
    let mut prev = Hash::ZERO;
    let mut events = vec![];
    let mut records = vec![];
    for seq in 1..=n {
        let mut e = Event::new(EventType::ToolCall, AGENT);
        e.name = Some(format!("tool-{seq}"));
        e.inputs = Some(serde_json::json!({"n": seq}));
        let c = e.content_hash();
        let hash = link_hash(ORG, AGENT, KEY, seq, &prev, &c);
        records.push(ChainRecord {
            seq,
            key_id: KEY.into(),
            prev_hash: prev,
            hash,
            stored_content_hash: Some(c),
            content_hash: c,
        });
        events.push(e);
        prev = hash;
    }
    (events, records)
}

fn head(r: &[ChainRecord]) -> Option<ExpectedHead> {
    r.last().map(|l| ExpectedHead {
        seq: l.seq,
        hash: l.hash,
    })
}

#[test]
fn intact_chain_verifies() {
    let (_, r) = chain(10);
    let ok = verify_chain(id(), &r, head(&r)).unwrap();
    assert_eq!(ok.count, 10);
    assert_eq!(ok.head_seq, 10);
    assert_eq!(ok.head_hash, r[9].hash);
}

#[test]
fn edited_event_field() {
    let (mut events, mut r) = chain(10);
    events[4].name = Some("rm -rf".into());
    r[4].content_hash = events[4].content_hash();
    let b = verify_chain(id(), &r, head(&r)).unwrap_err();
    assert_eq!((b.seq, b.reason), (5, BreakReason::Edited), "{b}");
}

#[test]
fn edited_without_stored_content_hash() {
    let (mut events, mut r) = chain(10);
    events[6].inputs = Some(serde_json::json!({"n": 999}));
    r[6].content_hash = events[6].content_hash();
    r[6].stored_content_hash = None;
    let b = verify_chain(id(), &r, head(&r)).unwrap_err();
    assert_eq!((b.seq, b.reason), (7, BreakReason::Edited), "{b}");
}

#[test]
fn edited_link_columns() {
    for field in ["key_id", "hash", "prev_hash", "content_hash"] {
        let (_, mut r) = chain(6);
        match field {
            "key_id" => r[2].key_id = "someone-else".into(),
            "hash" => r[2].hash = Hash([7; 32]),
            "prev_hash" => r[2].prev_hash = Hash([9; 32]),
            _ => r[2].stored_content_hash = Some(Hash([1; 32])),
        }
        let b = verify_chain(id(), &r, head(&r)).unwrap_err();
        assert_eq!(b.seq, 3, "{field}: {b}");
        assert_eq!(b.reason, BreakReason::Edited, "{field}: {b}");
    }
}

#[test]
fn missing_middle_row() {
    let (_, mut r) = chain(10);
    r.remove(3);
    let b = verify_chain(id(), &r, None).unwrap_err();
    assert_eq!((b.seq, b.reason), (4, BreakReason::Missing), "{b}");
}

#[test]
fn missing_tail_caught_by_head_only() {
    let (_, r) = chain(10);
    let h = head(&r);
    let cut = &r[..7];
    // Without the head a cut tail is an intact shorter chain...
    assert!(verify_chain(id(), cut, None).is_ok());
    // ...with it, the removal is named.
    let b = verify_chain(id(), cut, h).unwrap_err();
    assert_eq!((b.seq, b.reason), (8, BreakReason::Missing), "{b}");
}

#[test]
fn reordered_rows() {
    let (_, mut r) = chain(10);
    // Swap the seq of rows 4 and 5, then read in seq order.
    r[3].seq = 5;
    r[4].seq = 4;
    r.sort_by_key(|x| x.seq);
    let b = verify_chain(id(), &r, head(&r)).unwrap_err();
    assert_eq!((b.seq, b.reason), (4, BreakReason::Reordered), "{b}");
}

#[test]
fn reordered_seen_by_streaming_verifier() {
    let (_, mut r) = chain(6);
    r[2].seq = 4;
    r[3].seq = 3;
    r.sort_by_key(|x| x.seq);
    let all: Vec<Hash> = r.iter().map(|x| x.hash).collect();
    let mut v = Verifier::new(id(), None);
    let b = r
        .iter()
        .find_map(|rec| v.push_with(rec, |h| all.contains(h)).err())
        .expect("break found");
    assert_eq!((b.seq, b.reason), (3, BreakReason::Reordered), "{b}");
}

#[test]
fn forged_row_in_place_of_another() {
    let (_, mut r) = chain(8);
    // A self-consistent link made with the spec, but not chained here.
    let mut e = Event::new(EventType::Decision, AGENT);
    e.name = Some("approve_refund".into());
    let c = e.content_hash();
    let fake_prev = Hash([3; 32]);
    r[5] = ChainRecord {
        seq: 6,
        key_id: KEY.into(),
        prev_hash: fake_prev,
        hash: link_hash(ORG, AGENT, KEY, 6, &fake_prev, &c),
        stored_content_hash: Some(c),
        content_hash: c,
    };
    let b = verify_chain(id(), &r, None).unwrap_err();
    assert_eq!((b.seq, b.reason), (6, BreakReason::Forged), "{b}");
}

#[test]
fn forged_row_appended_beyond_head() {
    let (_, mut r) = chain(5);
    let h = head(&r);
    let mut e = Event::new(EventType::Response, AGENT);
    e.name = Some("forged".into());
    let c = e.content_hash();
    let prev = r[4].hash;
    r.push(ChainRecord {
        seq: 6,
        key_id: KEY.into(),
        prev_hash: prev,
        hash: link_hash(ORG, AGENT, KEY, 6, &prev, &c),
        stored_content_hash: Some(c),
        content_hash: c,
    });
    // Internally perfect: only the recorded head exposes it.
    assert!(verify_chain(id(), &r, None).is_ok());
    let b = verify_chain(id(), &r, h).unwrap_err();
    assert_eq!((b.seq, b.reason), (6, BreakReason::Forged), "{b}");
}

#[test]
fn link_framing_is_unambiguous() {
    let c = Hash([5; 32]);
    // Moving a byte between adjacent strings changes the hash.
    assert_ne!(
        link_hash("org", "ab", "", 1, &Hash::ZERO, &c),
        link_hash("orga", "b", "", 1, &Hash::ZERO, &c)
    );
    assert_ne!(
        link_hash("o", "a", "k", 1, &Hash::ZERO, &c),
        link_hash("o", "a", "k", 2, &Hash::ZERO, &c)
    );
}
