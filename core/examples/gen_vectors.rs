//! Writes the chain spec's test vectors: tests/vectors/chain.json and the
//! ledger files it names (`ledger-ok.jsonl`, `ledger-broken.jsonl`):
//! `cargo run -p sealtrail-core --example gen_vectors [DIR]` (DIR defaults
//! to the workspace's tests/vectors). The inputs are fixed, so the output is
//! the same on every run.

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
    let dir = std::env::args_os().nth(1).map_or_else(
        || std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors")),
        std::path::PathBuf::from,
    );
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
    // Chain 4: members stored as null, hashed as absent (section 1).
    {
        let (org, agent, key) = (ORG_A, "null-agent", KEY_2);
        let mut g = Gen::new(org, agent, key, 100);
        for body in [
            r#"{"type":"request","actor_id":null,"session_id":"s-1","inputs":null}"#,
            r#"{"type":"decision","name":"refund","decision":{"outcome":"approved","by":null,"reason":null},"error":null}"#,
            r#"{"type":"model_call","tokens":{"input":null,"output":3},"cost_usd":null,"latency_ms":null,"pii":null}"#,
            r#"{"type":"custom","attrs":{"kept":null,"list":[null]},"outputs":{"a":null}}"#,
        ] {
            g.push(body);
        }
        out_chains.push(g.chain_json());
    }
    let doc = json!({
        "spec": "sealtrail.chain.v1",
        "document_version": 2,
        "description": "Test vectors for docs/chain-spec.md (version 2): every link's canonical event text, content hash, prev hash and chain hash; RFC 8785 cases; event texts every reader refuses; a retention-pruned chain; broken chains with the seq and reason a verifier names; local ledger files and their verdicts.",
        "chains": out_chains,
        "jcs": jcs_cases,
        "refused": refused(),
        "pruned": [pruned()],
        "broken": broken(),
        "ledgers": ledgers(&dir),
    });
    let text = serde_json::to_string_pretty(&doc).expect("serialisable") + "\n";
    std::fs::write(dir.join("chain.json"), text).expect("write chain.json");
    eprintln!("wrote {}", dir.display());
}

/// Makes the links of one chain from event bodies (JSON text without `id`,
/// `ts` and `agent_id`, which it fills in from a counter).
struct Gen {
    org: &'static str,
    agent: &'static str,
    key: &'static str,
    n: u64,
    prev: Hash,
    links: Vec<Value>,
}

impl Gen {
    fn new(org: &'static str, agent: &'static str, key: &'static str, first: u64) -> Self {
        Gen {
            org,
            agent,
            key,
            n: first,
            prev: Hash::ZERO,
            links: vec![],
        }
    }

    /// The event value for `body`, with id, ts and agent_id filled in.
    fn event(&mut self, body: &str) -> Value {
        self.n += 1;
        let ms = 1_795_428_000_000 + self.n * 1_500;
        let id = ulid::Ulid::from_parts(ms, 0x5ea1_0000_0000_0000_0000 + self.n as u128);
        let ts = sealtrail_core::Timestamp::from_micros((ms * 1000 + self.n * 37 % 1000) as i64)
            .expect("ts");
        let mut v: Value = sealtrail_core::json::from_str(body).expect("body is JSON");
        let o = v.as_object_mut().expect("object");
        o.insert("id".into(), json!(id.to_string()));
        o.insert("ts".into(), json!(ts.to_string()));
        o.insert("agent_id".into(), json!(self.agent));
        v
    }

    /// Appends a link whose event is `body` read by section 1.
    fn push(&mut self, body: &str) -> Value {
        let v = self.event(body);
        let canonical = Event::from_value(v.clone(), &Limits::default())
            .expect("valid event")
            .canonical_bytes();
        self.push_hashed(v, Some(canonical))
    }

    /// Appends a link whose content hash is taken over `canonical`, or, when
    /// none, over the RFC 8785 form of `event` as it is (a writer that broke
    /// section 1: every hash is consistent, only the event is wrong).
    fn push_hashed(&mut self, event: Value, canonical: Option<Vec<u8>>) -> Value {
        let canonical = canonical.unwrap_or_else(|| jcs::to_vec(&event));
        let content = sealtrail_core::hash::sha256(&canonical);
        let seq = self.links.len() as u64 + 1;
        let hash = link_hash(self.org, self.agent, self.key, seq, &self.prev, &content);
        let link = json!({
            "seq": seq,
            "key_id": self.key,
            "event": event,
            "canonical": String::from_utf8(canonical).expect("utf-8"),
            "content_hash": content.to_hex(),
            "prev_hash": self.prev.to_hex(),
            "hash": hash.to_hex(),
        });
        self.links.push(link.clone());
        self.prev = hash;
        link
    }

    fn chain_json(&self) -> Value {
        json!({"org_id": self.org, "agent_id": self.agent, "links": self.links})
    }

    fn head(&self) -> Value {
        let l = self.links.last().expect("links");
        json!({"seq": l["seq"], "hash": l["hash"]})
    }
}

/// Eight plain links of one agent, for the pruned and broken cases.
fn plain(agent: &'static str, first: u64) -> Gen {
    let mut g = Gen::new(ORG_A, agent, KEY_1, first);
    for i in 1..=8 {
        g.push(&format!(
            r#"{{"type":"tool_call","name":"tool-{i}","inputs":{{"n":{i}}},"latency_ms":{i}}}"#
        ));
    }
    g
}

/// Event texts that every reader refuses (client, ingest, ledger reader,
/// verifier), with the error kind core gives.
fn refused() -> Vec<Value> {
    let base =
        r#""id":"01M83XJ9PXBTGG000000000001","ts":"2026-11-23T10:00:01.501037Z","agent_id":"a""#;
    let cases: &[(&str, &str, &str)] = &[
        (
            "duplicate top-level member",
            r#""type":"decision","type":"custom""#,
            "malformed_json",
        ),
        (
            "duplicate member spelt with an escape",
            r#""type":"custom","type":"custom""#,
            "malformed_json",
        ),
        (
            "duplicate member inside decision",
            r#""type":"decision","decision":{"outcome":"denied","outcome":"approved"}"#,
            "malformed_json",
        ),
        (
            "duplicate member inside inputs",
            r#""type":"tool_call","inputs":{"q":1,"q":2}"#,
            "malformed_json",
        ),
        (
            "duplicate member deep inside attrs",
            r#""type":"custom","attrs":{"a":[{"b":{"c":1,"c":1}}]}"#,
            "malformed_json",
        ),
        (
            "not JSON: NaN",
            r#""type":"custom","latency_ms":NaN"#,
            "malformed_json",
        ),
        (
            "unknown member",
            r#""type":"custom","colour":"red""#,
            "invalid_event",
        ),
        (
            "unknown member inside decision",
            r#""type":"decision","decision":{"outcome":"denied","who":"x"}"#,
            "invalid_event",
        ),
        ("unknown event type", r#""type":"launch""#, "invalid_event"),
        ("required member null", r#""type":null"#, "invalid_event"),
        (
            "negative integer",
            r#""type":"custom","latency_ms":-1"#,
            "invalid_event",
        ),
        (
            "fractional integer",
            r#""type":"custom","latency_ms":1.5"#,
            "invalid_event",
        ),
        (
            "integer written with a fraction",
            r#""type":"custom","latency_ms":2.0"#,
            "invalid_event",
        ),
        (
            "integer above 2^53-1",
            r#""type":"model_call","tokens":{"input":9007199254740992}"#,
            "invalid_event",
        ),
        (
            "pii count null",
            r#""type":"custom","pii":{"email":null}"#,
            "invalid_event",
        ),
        (
            "cost_usd as a number",
            r#""type":"model_call","cost_usd":0.5"#,
            "invalid_event",
        ),
        (
            "cost_usd with an exponent",
            r#""type":"model_call","cost_usd":"1e3""#,
            "invalid_event",
        ),
        (
            "attrs not an object",
            r#""type":"custom","attrs":[1]"#,
            "invalid_event",
        ),
        (
            "actor_id empty",
            r#""type":"custom","actor_id":"""#,
            "invalid_event",
        ),
        (
            "session_id with a control character",
            r#""type":"custom","session_id":"ab""#,
            "invalid_event",
        ),
        (
            "prompt_hash upper case",
            r#""type":"model_call","prompt_hash":"3F0A4C1D9B2E8F7A6C5D4E3B2A1F0E9D8C7B6A5F4E3D2C1B0A9F8E7D6C5B4A39""#,
            "invalid_event",
        ),
    ];
    let mut out: Vec<Value> = cases
        .iter()
        .map(|(name, members, kind)| {
            json!({"name": name, "text": format!("{{{base},{members}}}"), "kind": kind})
        })
        .collect();
    let whole: &[(&str, &str, &str)] = &[
        (
            "id in lower case",
            r#"{"id":"01m83xj9pxbtgg000000000001","ts":"2026-11-23T10:00:01.501037Z","agent_id":"a","type":"custom"}"#,
            "invalid_event",
        ),
        (
            "id not a ULID",
            r#"{"id":"01M83XJ9PXBTGG00000000000U","ts":"2026-11-23T10:00:01.501037Z","agent_id":"a","type":"custom"}"#,
            "invalid_event",
        ),
        (
            "id beyond 128 bits",
            r#"{"id":"81M83XJ9PXBTGG000000000001","ts":"2026-11-23T10:00:01.501037Z","agent_id":"a","type":"custom"}"#,
            "invalid_event",
        ),
        (
            "ts without six fractional digits",
            r#"{"id":"01M83XJ9PXBTGG000000000001","ts":"2026-11-23T10:00:01Z","agent_id":"a","type":"custom"}"#,
            "invalid_event",
        ),
        (
            "ts with an offset",
            r#"{"id":"01M83XJ9PXBTGG000000000001","ts":"2026-11-23T10:00:01.501037+00:00","agent_id":"a","type":"custom"}"#,
            "invalid_event",
        ),
        (
            "ts not a date",
            r#"{"id":"01M83XJ9PXBTGG000000000001","ts":"2026-02-30T10:00:01.501037Z","agent_id":"a","type":"custom"}"#,
            "invalid_event",
        ),
        ("not an object", r#"["type","custom"]"#, "malformed_json"),
    ];
    out.extend(
        whole
            .iter()
            .map(|(name, text, kind)| json!({"name": name, "text": text, "kind": kind})),
    );
    for case in &out {
        let text = case["text"].as_str().expect("text");
        let err = Event::from_slice(text.as_bytes(), &Limits::default())
            .expect_err("a refused case is refused");
        assert_eq!(err.kind().as_str(), case["kind"], "{text}: {err}");
    }
    out
}

/// A chain whose first three links were removed by retention: it resumes
/// from a base (seq, hash) that the store keeps.
fn pruned() -> Value {
    let g = plain("pruned-agent", 200);
    // Rebuilt under ORG_B so the vector is not a slice of another one.
    let bodies: Vec<Value> = g.links.iter().map(|l| l["event"].clone()).collect();
    let mut g2 = Gen::new(ORG_B, "pruned-agent", KEY_3, 0);
    for e in bodies {
        let c = Event::from_value(e.clone(), &Limits::default())
            .expect("valid")
            .canonical_bytes();
        g2.push_hashed(e, Some(c));
    }
    let base = &g2.links[2];
    json!({
        "org_id": g2.org,
        "agent_id": g2.agent,
        "base": {"seq": base["seq"], "hash": base["hash"]},
        "head": g2.head(),
        "links": g2.links[3..],
    })
}

fn case(name: &str, g: &Gen, links: Vec<Value>, seq: u64, reason: &str) -> Value {
    json!({
        "name": name,
        "org_id": g.org,
        "agent_id": g.agent,
        "links": links,
        "expect": {"seq": seq, "reason": reason},
    })
}

fn set(link: &mut Value, member: &str, v: Value) {
    link.as_object_mut().expect("link")[member] = v;
}

/// Re-hashes `links[i..]` after an edit at `i`, as someone with the spec would.
fn rechain(g: &Gen, links: &mut [Value], i: usize) {
    let h = |v: &Value| -> Hash { v.as_str().expect("hex").parse().expect("hash") };
    let mut prev = h(&links[i]["prev_hash"]);
    for l in links[i..].iter_mut() {
        let seq = l["seq"].as_u64().expect("seq");
        let content = h(&l["content_hash"]);
        let hash = link_hash(
            g.org,
            g.agent,
            l["key_id"].as_str().expect("key"),
            seq,
            &prev,
            &content,
        );
        set(l, "prev_hash", json!(prev.to_hex()));
        set(l, "hash", json!(hash.to_hex()));
        prev = hash;
    }
}

/// Broken chains: each reason, with the seq a verifier names. Links are
/// listed in the order a verifier walks them (seq order for a database).
fn broken() -> Vec<Value> {
    let g = plain("tamper-agent", 300);
    let links = || g.links.clone();
    let mut out = vec![];

    let mut l = links();
    l[2]["event"]["name"] = json!("rm -rf");
    out.push(case("event member edited", &g, l, 3, "edited"));

    let mut l = links();
    set(&mut l[2], "content_hash", json!(Hash([1; 32]).to_hex()));
    out.push(case("content_hash edited", &g, l, 3, "edited"));

    let mut l = links();
    set(&mut l[3], "key_id", json!(KEY_2));
    out.push(case("key_id edited", &g, l, 4, "edited"));

    let mut l = links();
    set(&mut l[3], "hash", json!(Hash([7; 32]).to_hex()));
    out.push(case("hash edited", &g, l, 4, "edited"));

    let mut l = links();
    set(&mut l[3], "prev_hash", json!(Hash([9; 32]).to_hex()));
    out.push(case("prev_hash edited", &g, l, 4, "edited"));

    // Null stored where the hashed event had the member: not an edit...
    let mut l = links();
    l[4]["event"]["actor_id"] = Value::Null;
    let mut c = case("member stored as null, hashed as absent", &g, l, 0, "");
    c["expect"] = json!(null);
    out.push(c);
    // ...but a value where it had none is.
    let mut l = links();
    l[4]["event"]["actor_id"] = json!("mallory");
    out.push(case("member added", &g, l, 5, "edited"));

    let mut l = links();
    l.remove(4);
    out.push(case("middle link removed", &g, l, 5, "missing"));

    let mut l = links();
    l.truncate(6);
    let mut c = case("tail removed, seen against the head", &g, l, 7, "missing");
    c["head"] = g.head();
    out.push(c);

    let mut l = links();
    set(&mut l[5], "seq", json!(7));
    set(&mut l[6], "seq", json!(6));
    l.swap(5, 6);
    out.push(case(
        "two seqs swapped (walked in seq order)",
        &g,
        l,
        6,
        "reordered",
    ));

    let mut l = links();
    l.swap(5, 6);
    out.push(case(
        "two links out of seq order (a ledger's lines)",
        &g,
        l,
        6,
        "reordered",
    ));

    let mut l = links();
    let copy = l[3].clone();
    l.insert(4, copy);
    out.push(case(
        "a seq repeats: named by the seq that repeats",
        &g,
        l,
        4,
        "reordered",
    ));

    // A forger's link with the repeated seq first, a valid one second: the
    // forger's link hashes correctly, so the genuine one is the repeat.
    let mut l = links();
    let mut forged = l[3].clone();
    forged["event"]["name"] = json!("forged");
    let ev = Event::from_value(forged["event"].clone(), &Limits::default()).expect("valid");
    set(
        &mut forged,
        "content_hash",
        json!(ev.content_hash().to_hex()),
    );
    set(
        &mut forged,
        "canonical",
        json!(String::from_utf8(ev.canonical_bytes()).expect("utf-8")),
    );
    l.insert(3, forged);
    rechain(&g, &mut l[..4], 3);
    out.push(case(
        "a seq repeats, the forged copy first",
        &g,
        l,
        4,
        "reordered",
    ));

    let mut l = links();
    let fake_prev = Hash([3; 32]);
    let ev = Event::from_value(l[5]["event"].clone(), &Limits::default()).expect("valid");
    let c = ev.content_hash();
    set(&mut l[5], "prev_hash", json!(fake_prev.to_hex()));
    set(
        &mut l[5],
        "hash",
        json!(link_hash(g.org, g.agent, KEY_1, 6, &fake_prev, &c).to_hex()),
    );
    out.push(case(
        "consistent link that follows no link of the chain",
        &g,
        l,
        6,
        "forged",
    ));

    let mut g9 = plain("tamper-agent", 300);
    let head = g9.head();
    g9.push(r#"{"type":"response","name":"appended"}"#);
    let mut c = case("link beyond the head", &g9, g9.links.clone(), 9, "forged");
    c["head"] = head;
    out.push(c);

    let l = links();
    let mut c = case("head hash differs from the last link", &g, l, 8, "edited");
    c["head"] = json!({"seq": 8, "hash": Hash([5; 32]).to_hex()});
    out.push(c);

    // Section 1: a link whose hashes are all consistent but whose event
    // breaks a rule (the writer hashed the raw JSON): edited at its seq.
    for (name, member, value) in [
        ("unknown member", "colour", json!("red")),
        (
            "id not a canonical ULID",
            "id",
            json!("01m83xj9pxbtgg000000000001"),
        ),
        (
            "ts without fractional digits",
            "ts",
            json!("2026-11-23T10:00:01Z"),
        ),
        ("negative integer", "latency_ms", json!(-1)),
        ("fractional integer", "latency_ms", json!(1.5)),
        (
            "integer above 2^53-1",
            "latency_ms",
            json!(9_007_199_254_740_992u64),
        ),
    ] {
        let mut l = links();
        l[4]["event"][member] = value;
        let raw = jcs::to_vec(&l[4]["event"]);
        set(
            &mut l[4],
            "content_hash",
            json!(sealtrail_core::hash::sha256(&raw).to_hex()),
        );
        set(
            &mut l[4],
            "canonical",
            json!(String::from_utf8(raw).expect("utf-8")),
        );
        rechain(&g, &mut l, 4);
        out.push(case(
            &format!("section 1 broken: {name}"),
            &g,
            l,
            5,
            "edited",
        ));
    }

    // Retention: the chain resumes from its base; a wrong base is caught.
    let p = pruned();
    out.push(json!({
        "name": "pruned chain with a wrong base hash",
        "org_id": p["org_id"], "agent_id": p["agent_id"],
        "base": {"seq": 3, "hash": Hash([4; 32]).to_hex()},
        "links": p["links"],
        "expect": {"seq": 4, "reason": "forged"},
    }));
    for c in &mut out {
        // Only the verifier's inputs: the canonical text is for chains.
        for l in c["links"].as_array_mut().expect("links") {
            l.as_object_mut().expect("link").remove("canonical");
        }
    }
    out
}

/// One ledger line as the client writes it (spec section 5).
fn ledger_line(l: &Value, event_text: &str) -> String {
    format!(
        "{{\"seq\":{},\"org_id\":\"local\",\"key_id\":\"\",\"prev_hash\":\"{}\",\"hash\":\"{}\",\"content_hash\":\"{}\",\"event\":{}}}\n",
        l["seq"],
        l["prev_hash"].as_str().expect("hex"),
        l["hash"].as_str().expect("hex"),
        l["content_hash"].as_str().expect("hex"),
        event_text
    )
}

fn local(agent: &'static str, first: u64, bodies: &[&str]) -> Gen {
    let mut g = Gen::new("local", agent, "", first);
    for b in bodies {
        g.push(b);
    }
    g
}

/// Two ledger files and the verdict on each.
// The lines are pushed one group per agent, each group with its comment.
#[allow(clippy::vec_init_then_push)]
fn ledgers(dir: &std::path::Path) -> Vec<Value> {
    let canon = |l: &Value| l["canonical"].as_str().expect("canonical").to_string();
    let a = local(
        "agent-a",
        400,
        &[
            r#"{"type":"request","inputs":{"text":"hi"}}"#,
            r#"{"type":"tool_call","name":"search"}"#,
            r#"{"type":"response","outputs":"bye"}"#,
        ],
    );
    let b = local(
        "agent-b",
        410,
        &[
            r#"{"type":"request","actor_id":"u-1"}"#,
            r#"{"type":"response"}"#,
        ],
    );
    // Interleaved; agent-b's second line stored with a null member.
    let mut ok = String::new();
    ok += &ledger_line(&a.links[0], &canon(&a.links[0]));
    ok += &ledger_line(&b.links[0], &canon(&b.links[0]));
    ok += &ledger_line(&a.links[1], &canon(&a.links[1]));
    let mut with_null = b.links[1]["event"].clone();
    with_null["actor_id"] = Value::Null;
    ok += &ledger_line(
        &b.links[1],
        &serde_json::to_string(&with_null).expect("json"),
    );
    ok += &ledger_line(&a.links[2], &canon(&a.links[2]));
    std::fs::write(dir.join("ledger-ok.jsonl"), ok).expect("write");

    let chain = |g: &Gen, broken: Value| {
        let done = match broken["seq"].as_u64() {
            Some(s) if s > 1 => &g.links[s as usize - 2],
            Some(_) => &Value::Null,
            None => g.links.last().expect("links"),
        };
        json!({
            "org_id": "local", "agent_id": g.agent,
            "head_seq": done.get("seq").cloned().unwrap_or(json!(0)),
            "head_hash": done.get("hash").cloned().unwrap_or(json!(Hash::ZERO.to_hex())),
            "broken": broken,
        })
    };
    let ok_verdict = json!({
        "file": "ledger-ok.jsonl", "lines": 5, "malformed": [],
        "chains": [chain(&a, Value::Null), chain(&b, Value::Null)],
    });

    // Broken: an edit, lines out of order, a section 1 break, a repeat,
    // and two unreadable lines.
    let bodies = [
        r#"{"type":"request"}"#,
        r#"{"type":"tool_call","name":"t"}"#,
        r#"{"type":"response"}"#,
    ];
    let c = local("agent-c", 420, &bodies);
    let d = local("agent-d", 430, &bodies);
    let e = local("agent-e", 440, &bodies);
    let f = local("agent-f", 450, &bodies);
    let h = local("agent-g", 460, &bodies);
    let mut lines: Vec<String> = vec![];
    // agent-c: seq 2's event edited.
    lines.push(ledger_line(&c.links[0], &canon(&c.links[0])));
    lines.push(ledger_line(
        &c.links[1],
        &canon(&c.links[1]).replace("\"t\"", "\"u\""),
    ));
    // agent-d: seq 3 written before seq 2.
    lines.push(ledger_line(&d.links[0], &canon(&d.links[0])));
    lines.push(ledger_line(&d.links[2], &canon(&d.links[2])));
    lines.push(ledger_line(&d.links[1], &canon(&d.links[1])));
    // agent-e: seq 2 repeats (a copied line).
    lines.push(ledger_line(&e.links[0], &canon(&e.links[0])));
    lines.push(ledger_line(&e.links[1], &canon(&e.links[1])));
    lines.push(ledger_line(&e.links[1], &canon(&e.links[1])));
    // agent-f: seq 2's event has an unknown member, hashed as it stands.
    let mut bad = f.links[1]["event"].clone();
    bad["colour"] = json!("red");
    let mut g = Gen::new("local", "agent-f", "", 0);
    g.push_hashed(
        f.links[0]["event"].clone(),
        Some(canon(&f.links[0]).into_bytes()),
    );
    let l2 = g.push_hashed(bad, None);
    lines.push(ledger_line(&g.links[0], &canon(&g.links[0])));
    lines.push(ledger_line(&l2, &canon(&l2)));
    // agent-g: seq 2's line names a member twice (not I-JSON) and seq 3's
    // line has a member the ledger format does not define: both unreadable.
    lines.push(ledger_line(&h.links[0], &canon(&h.links[0])));
    lines.push(ledger_line(
        &h.links[1],
        &canon(&h.links[1]).replace("\"type\"", "\"type\":\"custom\",\"type\""),
    ));
    lines.push(
        ledger_line(&h.links[2], &canon(&h.links[2])).replace("{\"seq\"", "{\"note\":1,\"seq\""),
    );
    std::fs::write(dir.join("ledger-broken.jsonl"), lines.concat()).expect("write");
    let brk =
        |seq: u64, reason: &str, line: u64| json!({"seq": seq, "reason": reason, "line": line});
    let broken_verdict = json!({
        "file": "ledger-broken.jsonl", "lines": lines.len(), "malformed": [12, 13],
        "chains": [
            chain(&c, brk(2, "edited", 2)),
            chain(&d, brk(2, "reordered", 4)),
            chain(&e, brk(2, "reordered", 8)),
            chain(&g, brk(2, "edited", 10)),
            chain(&h, Value::Null),
        ],
    });
    // agent-g verifies as far as its readable lines go: seq 1.
    let mut broken_verdict = broken_verdict;
    broken_verdict["chains"][4]["head_seq"] = json!(1);
    broken_verdict["chains"][4]["head_hash"] = h.links[0]["hash"].clone();
    // agent-e's repeat comes after seq 2 verified.
    broken_verdict["chains"][2]["head_seq"] = json!(2);
    broken_verdict["chains"][2]["head_hash"] = e.links[1]["hash"].clone();
    vec![ok_verdict, broken_verdict]
}
