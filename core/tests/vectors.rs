//! Every implementation of the chain spec passes tests/vectors/chain.json;
//! this is the Rust one. (The Python one is tests/python/verify_vectors.py.)

use std::collections::HashSet;

use sealtrail_core::chain::{
    link_hash, verify_chain, ChainBreak, ChainId, ChainRecord, ExpectedHead, Verified, Verifier,
};
use sealtrail_core::client::ledger::verify_ledger;
use sealtrail_core::event::{Event, Limits};
use sealtrail_core::hash::{sha256, Hash};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");
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
    assert_eq!(chains.len(), 4);
    assert!(links_total >= 28, "only {links_total} links");
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

/// The verifier's input for one stored link (spec section 4): the content
/// hash recomputed from the event read by section 1, or, when the event
/// breaks it, a hash nothing matches (the link is then reported edited).
fn record(link: &Value) -> ChainRecord {
    let content = match Event::from_value(link["event"].clone(), &Limits::default()) {
        Ok(e) => e.content_hash(),
        Err(e) => sha256(e.message().as_bytes()),
    };
    ChainRecord {
        seq: link["seq"].as_u64().expect("seq"),
        key_id: link["key_id"].as_str().expect("key_id").to_string(),
        prev_hash: h(&link["prev_hash"]),
        hash: h(&link["hash"]),
        stored_content_hash: Some(h(&link["content_hash"])),
        content_hash: content,
    }
}

/// Walks a vector chain in the order its links are listed.
fn walk(case: &Value) -> Result<Verified, ChainBreak> {
    let records: Vec<ChainRecord> = case["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(record)
        .collect();
    let head = case.get("head").map(|hd| ExpectedHead {
        seq: hd["seq"].as_u64().expect("seq"),
        hash: h(&hd["hash"]),
    });
    let chain = ChainId {
        org_id: case["org_id"].as_str().unwrap().into(),
        agent_id: case["agent_id"].as_str().unwrap().into(),
    };
    let mut v = Verifier::new(chain, head);
    if let Some(b) = case.get("base") {
        v = v.with_base(b["seq"].as_u64().unwrap(), h(&b["hash"]));
    }
    let hashes: HashSet<Hash> = records.iter().map(|r| r.hash).collect();
    let seqs: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    for r in &records {
        v.push_known(r, |x| hashes.contains(x), |s| seqs.contains(&s))?;
    }
    v.finish()
}

#[test]
fn null_members_hash_as_absent() {
    let doc = vectors();
    let chain = doc["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["agent_id"] == "null-agent")
        .expect("the null chain");
    let mut nulls = 0;
    for link in chain["links"].as_array().unwrap() {
        let event = link["event"].as_object().unwrap();
        for (k, v) in event {
            if v.is_null() {
                nulls += 1;
                assert!(!link["canonical"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("\"{k}\"")));
            }
        }
    }
    assert!(nulls >= 6, "{nulls}");
    let text: String = chain["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["canonical"].as_str().unwrap())
        .collect();
    // Nested in decision/tokens: absent too; inside free JSON: kept.
    assert!(
        text.contains(r#""decision":{"outcome":"approved"}"#),
        "{text}"
    );
    assert!(text.contains(r#""tokens":{"output":3}"#), "{text}");
    assert!(text.contains(r#""kept":null"#), "{text}");
    assert!(text.contains(r#""outputs":{"a":null}"#), "{text}");
}

#[test]
fn refused_texts_are_refused() {
    let doc = vectors();
    let cases = doc["refused"].as_array().unwrap();
    assert!(cases.len() >= 25);
    let mut duplicates = 0;
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let e = Event::from_slice(text.as_bytes(), &Limits::default())
            .expect_err(case["name"].as_str().unwrap());
        assert_eq!(e.kind().as_str(), case["kind"], "{text}: {e}");
        if e.message().contains("duplicate member name") {
            duplicates += 1;
        }
        // serde_json alone reads the duplicates, last one winning.
        if case["name"].as_str().unwrap().starts_with("duplicate") {
            assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
        }
    }
    assert_eq!(duplicates, 5);
}

#[test]
fn pruned_chain_verifies_from_its_base() {
    let doc = vectors();
    for p in doc["pruned"].as_array().unwrap() {
        let ok = walk(p).unwrap_or_else(|b| panic!("{b}"));
        assert_eq!(ok.head_seq, p["head"]["seq"].as_u64().unwrap());
        assert_eq!(ok.count, p["links"].as_array().unwrap().len() as u64);
        // The first link's prev_hash is the base hash, not zeros.
        assert_eq!(p["links"][0]["prev_hash"], p["base"]["hash"]);
        assert_eq!(
            p["links"][0]["seq"].as_u64(),
            Some(p["base"]["seq"].as_u64().unwrap() + 1)
        );
        // Without the base the chain does not verify.
        let mut whole = p.clone();
        whole.as_object_mut().unwrap().remove("base");
        assert!(walk(&whole).is_err());
    }
}

#[test]
fn broken_chains_name_seq_and_reason() {
    let doc = vectors();
    let cases = doc["broken"].as_array().unwrap();
    let mut reasons = HashSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        match (walk(case), case["expect"].as_object()) {
            (Ok(_), None) => {}
            (Err(b), Some(want)) => {
                assert_eq!(
                    (b.seq, b.reason.as_str()),
                    (
                        want["seq"].as_u64().unwrap(),
                        want["reason"].as_str().unwrap()
                    ),
                    "{name}: {b}"
                );
                reasons.insert(b.reason.as_str());
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
    assert_eq!(reasons.len(), 4, "{reasons:?}");
}

#[test]
fn ledger_files_verify_as_the_vectors_say() {
    let doc = vectors();
    for l in doc["ledgers"].as_array().unwrap() {
        let file = l["file"].as_str().unwrap();
        let report = verify_ledger(std::path::Path::new(&format!("{DIR}/{file}"))).unwrap();
        assert_eq!(report.lines, l["lines"].as_u64().unwrap(), "{file}");
        let malformed: Vec<u64> = report.malformed.iter().map(|m| m.line).collect();
        let want: Vec<u64> = l["malformed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(malformed, want, "{file}: {:?}", report.malformed);
        let chains = l["chains"].as_array().unwrap();
        assert_eq!(report.chains.len(), chains.len(), "{file}");
        for want in chains {
            let agent = want["agent_id"].as_str().unwrap();
            let got = report
                .chains
                .iter()
                .find(|c| c.agent_id == agent)
                .unwrap_or_else(|| panic!("{file}: no chain {agent}"));
            assert_eq!(got.org_id, want["org_id"].as_str().unwrap());
            assert_eq!(
                got.head_seq,
                want["head_seq"].as_u64().unwrap(),
                "{file} {agent}"
            );
            assert_eq!(got.head_hash, h(&want["head_hash"]), "{file} {agent}");
            match (&got.broken, want["broken"].as_object()) {
                (None, None) => {}
                (Some(b), Some(w)) => {
                    assert_eq!(b.seq, w["seq"].as_u64().unwrap(), "{file} {agent}: {b}");
                    assert_eq!(
                        b.reason.as_str(),
                        w["reason"].as_str().unwrap(),
                        "{file} {agent}: {b}"
                    );
                    assert_eq!(got.broken_line, w["line"].as_u64(), "{file} {agent}");
                }
                (g, w) => panic!("{file} {agent}: got {g:?}, want {w:?}"),
            }
        }
        assert_eq!(report.ok(), file == "ledger-ok.jsonl", "{file}");
    }
}
