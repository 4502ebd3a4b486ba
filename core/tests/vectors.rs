//! Every implementation of the chain spec passes tests/vectors/chain.json;
//! this is the Rust one. (The Python one is tests/python/verify_vectors.py.)

use sealtrail_core::chain::{link_hash, verify_chain, ChainId, ChainRecord};
use sealtrail_core::event::{Event, Limits};
use sealtrail_core::hash::{sha256, Hash};
use serde_json::Value;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/chain.json");

fn vectors() -> Value {
    serde_json::from_str(&std::fs::read_to_string(PATH).expect("vectors file")).expect("JSON")
}

fn h(v: &Value) -> Hash {
    v.as_str().expect("hex string").parse().expect("hash")
}

#[test]
fn chain_vectors_reproduce() {
    let doc = vectors();
    assert_eq!(doc["spec"], "sealtrail.chain.v1");
    let chains = doc["chains"].as_array().expect("chains");
    let mut links_total = 0;
    for chain in chains {
        let org = chain["org_id"].as_str().unwrap();
        let agent = chain["agent_id"].as_str().unwrap();
        let mut prev = Hash::ZERO;
        let mut records = vec![];
        for (i, link) in chain["links"].as_array().unwrap().iter().enumerate() {
            let event = Event::from_value(link["event"].clone(), &Limits::default())
                .unwrap_or_else(|e| panic!("{agent} link {i}: {e}"));
            let canonical = event.canonical_bytes();
            assert_eq!(
                std::str::from_utf8(&canonical).unwrap(),
                link["canonical"].as_str().unwrap(),
                "{agent} link {i}: canonical text"
            );
            let content = sha256(&canonical);
            assert_eq!(content, h(&link["content_hash"]), "{agent} link {i}");
            let seq = link["seq"].as_u64().unwrap();
            assert_eq!(seq, i as u64 + 1);
            assert_eq!(h(&link["prev_hash"]), prev, "{agent} link {i}: prev");
            let key = link["key_id"].as_str().unwrap();
            let hash = link_hash(org, agent, key, seq, &prev, &content);
            assert_eq!(hash, h(&link["hash"]), "{agent} link {i}: hash");
            records.push(ChainRecord {
                seq,
                key_id: key.to_string(),
                prev_hash: prev,
                hash,
                stored_content_hash: Some(content),
                content_hash: content,
            });
            prev = hash;
            links_total += 1;
        }
        let chain_id = ChainId {
            org_id: org.into(),
            agent_id: agent.into(),
        };
        let ok = verify_chain(chain_id, &records, None).expect("chain verifies");
        assert_eq!(ok.count, records.len() as u64);
        assert_eq!(ok.head_hash, prev);
    }
    assert_eq!(chains.len(), 3);
    assert!(links_total >= 24, "only {links_total} links");
}

#[test]
fn jcs_vectors_reproduce() {
    let doc = vectors();
    for case in doc["jcs"].as_array().unwrap() {
        let input: Value = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
        assert_eq!(
            sealtrail_core::jcs::to_string(&input),
            case["canonical"].as_str().unwrap()
        );
    }
}

#[test]
fn vectors_cover_what_the_spec_promises() {
    let doc = vectors();
    let all: String = doc["chains"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["links"].as_array().unwrap().iter())
        .map(|l| l["canonical"].as_str().unwrap().to_string())
        .collect();
    for needle in [
        "Cafe\u{301}",
        "😀",
        "مرحبا",
        "\"big\":1e+21",
        "\"two_53_plus_1\":9007199254740992",
        "\"neg_zero\":0",
        "\"tenth\":0.1",
        "\"empty_string\":\"\"",
        "\"name\":\"\"",
    ] {
        assert!(all.contains(needle), "vectors lack {needle:?}");
    }
    // Some links carry only the required fields.
    assert!(all.contains("\"type\":\"request\"}"));
}
