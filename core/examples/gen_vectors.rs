//! Writes tests/vectors/chain.json to stdout:
//! `cargo run -p sealtrail-core --example gen_vectors > tests/vectors/chain.json`.
//! The inputs are fixed, so the output is the same on every run.

use sealtrail_core::chain::link_hash;
use sealtrail_core::event::{Event, Limits};
use sealtrail_core::hash::Hash;
use sealtrail_core::jcs;
use serde_json::{json, Value};

const ORG_A: &str = "0b6e4f2a-7c1d-4e8b-9a3f-5d2c8e1f0a47";
const ORG_B: &str = "f3a9c2d1-0e4b-4c7a-8b6d-2e1f9a0c3b58";
const KEY_1: &str = "6c1f0e2d-3b4a-4f5e-8d7c-9a0b1c2d3e4f";
const KEY_2: &str = "a7b8c9d0-e1f2-4a3b-9c4d-5e6f7a8b9c0d";
const KEY_3: &str = "1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a";

/// Event bodies as JSON text (numbers kept exactly as written), without
/// `id`, `ts` and `agent_id`, which the generator fills in.
fn bodies(agent: usize) -> Vec<&'static str> {
    match agent {
        0 => vec![
            r#"{"type":"request","actor_id":"user-42","session_id":"sess-001","inputs":{"text":"Where is my order? It's been 3 days 😀"}}"#,
            r#"{"type":"model_call","actor_id":"user-42","session_id":"sess-001","trace_id":"tr-1","name":"gpt-4o","prompt_hash":"3f0a4c1d9b2e8f7a6c5d4e3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39","inputs":{"params":{"temperature":0.1,"top_p":1.0,"max_tokens":512}},"tokens":{"input":1200,"output":85},"cost_usd":"0.00425","latency_ms":812}"#,
            r#"{"type":"tool_call","actor_id":"user-42","session_id":"sess-001","trace_id":"tr-1","parent_id":"span-1","name":"lookup_order","inputs":{"order_id":"ORD-2026-000123","email":"[EMAIL]"},"pii":{"email":1}}"#,
            r#"{"type":"tool_result","actor_id":"user-42","session_id":"sess-001","trace_id":"tr-1","parent_id":"span-1","name":"lookup_order","outputs":{"status":"shipped","eta_days":2,"items":[{"sku":"A-1","qty":1,"price":19.99},{"sku":"B-2","qty":2,"price":5}]},"latency_ms":37}"#,
            r#"{"type":"response","actor_id":"user-42","session_id":"sess-001","outputs":{"text":"Your order shipped; it arrives in 2 days."}}"#,
            r#"{"type":"custom","name":"numbers","attrs":{"big":1e21,"neg_zero":-0,"neg_zero_float":-0.0,"tenth":0.1,"two_53_plus_1":9007199254740993,"one_point_zero":1.0,"tiny":1e-7,"large":123456789012345680000,"neg":-3.5e-10}}"#,
            r#"{"type":"custom","name":"","attrs":{"empty_string":"","empty_object":{},"empty_array":[],"null_inside":[null,true,false]}}"#,
            r#"{"type":"request"}"#,
            r#"{"type":"error","session_id":"sess-001","name":"refund","error":{"type":"TimeoutError","message":"payments API timed out after 30s","stack":"Traceback (most recent call last):\n  File \"agent.py\", line 12, in refund\n\tTimeoutError"}}"#,
        ],
        1 => vec![
            r#"{"type":"request","actor_id":"ünïcödé-üser","inputs":{"text":"Café vs Cafe\u0301: e + COMBINING ACUTE stays as written"}}"#,
            r#"{"type":"tool_call","name":"refund","inputs":{"amount":"120.00","currency":"EUR","reason":"دفعة مكررة — duplicate payment"}}"#,
            r#"{"type":"decision","name":"refund","decision":{"outcome":"approved","by":"alice@ops","reason":"under the 200 EUR limit"}}"#,
            r#"{"type":"decision","name":"refund","decision":{"outcome":"denied","by":"policy:refund-limit"}}"#,
            r#"{"type":"decision","name":"close_account","decision":{"outcome":"escalated"}}"#,
            r#"{"type":"tool_result","name":"refund","outputs":{"ok":true,"ledger":{"entries":[{"dr":"refunds","cr":"cash","amount":"120.00"}],"meta":{"nested":{"deeper":{"deepest":["a",["b",["c",["d"]]]]}}}}},"latency_ms":0}"#,
            r#"{"type":"custom","attrs":{"control":"tab\there\nnewline \u0001 \u001f \u007f","quote":"\"\\/","unicode_keys":{"\u20ac":1,"\r":2,"\ufb33":3,"1":4,"\ud83d\ude00":5,"\u0080":6,"\u00f6":7}}}"#,
            r#"{"type":"model_call","name":"claude-sonnet","tokens":{"output":0},"cost_usd":"0","inputs":{"messages_stored":false}}"#,
            r#"{"type":"response","outputs":"a bare string output"}"#,
        ],
        _ => vec![
            r#"{"type":"request","actor_id":"مستخدم-٧","session_id":"جلسة-1","inputs":{"text":"שלום! مرحبا بالعالم — mixed RTL and LTR"}}"#,
            r#"{"type":"tool_call","name":"翻訳","inputs":{"text":"こんにちは世界","emoji":"👩‍👩‍👧‍👦🏳️‍🌈"}}"#,
            r#"{"type":"tool_result","name":"翻訳","outputs":{"text":"Hello world"},"latency_ms":9007199254740991}"#,
            r#"{"type":"response","outputs":[1,2.5,-7,1e300,5e-324]}"#,
            r#"{"type":"error","error":{"type":"ValueError","message":""}}"#,
            r#"{"type":"custom","name":"pii","pii":{"email":2,"phone":1,"card":1},"inputs":{"note":"[EMAIL] and [EMAIL] called [PHONE], paid with [CARD]"}}"#,
            r#"{"type":"model_call","name":"local-llm","prompt_hash":"0000000000000000000000000000000000000000000000000000000000000000","cost_usd":"1234.500000"}"#,
            r#"{"type":"custom","attrs":{"deep":[[[[[[[[[[{"k":"v"}]]]]]]]]]]}}"#,
            r#"{"type":"response"}"#,
        ],
    }
}

fn main() {
    let chains = [
        (ORG_A, "support-agent", [KEY_1, KEY_1, KEY_1]),
        (ORG_A, "billing-agent", [KEY_1, KEY_2, KEY_2]),
        (ORG_B, "وكيل-الدعم", [KEY_3, KEY_3, KEY_3]),
    ];
    let base_ms: u64 = 1_795_428_000_000; // 2026-11-23T10:00:00Z
    let limits = Limits::default();
    let mut out_chains = vec![];
    let mut n = 0u64;
    for (ci, (org, agent, keys)) in chains.iter().enumerate() {
        let mut prev = Hash::ZERO;
        let mut links = vec![];
        for (i, body) in bodies(ci).into_iter().enumerate() {
            n += 1;
            let ms = base_ms + n * 1_500 + (n % 7);
            let micros = ms * 1000 + (n * 37 % 1000);
            let id = ulid::Ulid::from_parts(ms, 0x5ea1_0000_0000_0000_0000 + n as u128);
            let mut v: Value = serde_json::from_str(body).expect("body is JSON");
            let obj = v.as_object_mut().expect("body is an object");
            obj.insert("id".into(), json!(id.to_string()));
            let ts = sealtrail_core::Timestamp::from_micros(micros as i64).expect("ts");
            obj.insert("ts".into(), json!(ts.to_string()));
            obj.insert("agent_id".into(), json!(agent));
            let event = Event::from_value(v.clone(), &limits).expect("valid event");
            let canonical = event.canonical_bytes();
            let content_hash = sealtrail_core::hash::sha256(&canonical);
            let seq = i as u64 + 1;
            let key = keys[i * keys.len() / 9];
            let hash = link_hash(org, agent, key, seq, &prev, &content_hash);
            links.push(json!({
                "seq": seq,
                "key_id": key,
                "event": v,
                "canonical": String::from_utf8(canonical).expect("utf-8"),
                "content_hash": content_hash.to_hex(),
                "prev_hash": prev.to_hex(),
                "hash": hash.to_hex(),
            }));
            prev = hash;
        }
        out_chains.push(json!({"org_id": org, "agent_id": agent, "links": links}));
    }
    let jcs_inputs = [
        r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#,
        r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        r#"[1e21,-0,-0.0,1.0,0.1,9007199254740993,-9007199254740993,100,1e-7,1e-6,123e-9,0.000001,1e300,5e-324,1.7976931348623157e308]"#,
        r#"{"b":[],"a":{},"c":"","d":{"z":1,"y":{"x":[{"w":null}]}}}"#,
    ];
    let jcs_cases: Vec<Value> = jcs_inputs
        .iter()
        .map(|input| {
            let v: Value = serde_json::from_str(input).expect("JSON");
            json!({"input": input, "canonical": jcs::to_string(&v)})
        })
        .collect();
    let doc = json!({
        "spec": "sealtrail.chain.v1",
        "description": "Test vectors for docs/chain-spec.md: every link's canonical event text, content hash, prev hash and chain hash, and RFC 8785 cases.",
        "chains": out_chains,
        "jcs": jcs_cases,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("serialisable")
    );
}
