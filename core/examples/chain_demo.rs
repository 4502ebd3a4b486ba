//! A chain built, verified, tampered with and caught, in memory: the part of
//! the demo that needs nothing but the core. `scripts/demo.sh` runs it.

use sealtrail_core::chain::{link_hash, verify_chain, ChainId, ChainRecord};
use sealtrail_core::event::{Decision, DecisionOutcome, Event, EventType};
use sealtrail_core::hash::Hash;
use serde_json::json;

fn main() {
    let org = "local";
    let agent = "support-agent";
    let mut events = vec![];
    let mut push = |kind, name: Option<&str>, f: &dyn Fn(&mut Event)| {
        let mut e = Event::new(kind, agent);
        e.actor_id = Some("user-42".into());
        e.session_id = Some("sess-001".into());
        e.name = name.map(str::to_string);
        f(&mut e);
        events.push(e);
    };
    push(EventType::Request, None, &|e| {
        e.inputs = Some(json!({"text": "Refund order ORD-2026-000123 please"}))
    });
    push(EventType::ToolCall, Some("lookup_order"), &|e| {
        e.inputs = Some(json!({"order_id": "ORD-2026-000123"}))
    });
    push(EventType::ToolResult, Some("lookup_order"), &|e| {
        e.outputs = Some(json!({"status": "delivered", "amount": "49.90"}));
        e.latency_ms = Some(12);
    });
    push(EventType::Decision, Some("refund"), &|e| {
        e.decision = Some(Decision {
            outcome: DecisionOutcome::Approved,
            by: Some("alice@ops".into()),
            reason: Some("under the 100 EUR limit".into()),
        })
    });
    push(EventType::ToolCall, Some("refund"), &|e| {
        e.inputs = Some(json!({"order_id": "ORD-2026-000123", "amount": "49.90"}))
    });
    push(EventType::Response, None, &|e| {
        e.outputs = Some(json!({"text": "Your refund of 49.90 EUR is on its way."}))
    });

    let mut prev = Hash::ZERO;
    let mut records = vec![];
    println!("seq  ts                           type         name           hash");
    for (i, e) in events.iter().enumerate() {
        let seq = i as u64 + 1;
        let c = e.content_hash();
        let hash = link_hash(org, agent, "", seq, &prev, &c);
        println!(
            "{:<4} {:<28} {:<12} {:<14} {}…",
            seq,
            e.ts.to_string(),
            e.kind.as_str(),
            e.name.as_deref().unwrap_or("-"),
            &hash.to_hex()[..16]
        );
        records.push(ChainRecord {
            seq,
            key_id: String::new(),
            prev_hash: prev,
            hash,
            stored_content_hash: Some(c),
            content_hash: c,
        });
        prev = hash;
    }
    let id = ChainId {
        org_id: org.into(),
        agent_id: agent.into(),
    };
    match verify_chain(id.clone(), &records, None) {
        Ok(v) => println!(
            "verify: ok, {} links, head {}…",
            v.count,
            &v.head_hash.to_hex()[..16]
        ),
        Err(b) => println!("verify: BROKEN {b}"),
    }
    // Someone raises the refund amount after the fact.
    events[4].inputs = Some(json!({"order_id": "ORD-2026-000123", "amount": "4990.00"}));
    records[4].content_hash = events[4].content_hash();
    println!("tamper: seq 5 amount 49.90 -> 4990.00");
    match verify_chain(id, &records, None) {
        Ok(_) => {
            println!("verify: ok (tampering NOT caught)");
            std::process::exit(1);
        }
        Err(b) => println!("verify: caught at {b}"),
    }
}
