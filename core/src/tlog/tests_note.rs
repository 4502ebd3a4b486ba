//! Signed notes, checkpoints and the witness: Go's note_test.go vectors, the
//! C2SP examples, and the witness's refusals.

use super::*;
use crate::hash::Hash;

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn go_sign_vector() {
    let s = Signer::parse(PETER_SKEY).unwrap();
    assert_eq!(s.to_text(), PETER_SKEY);
    assert_eq!(s.verifier().to_text(), PETER_VKEY);
    assert_eq!(
        note::sign(TEXT, &[&s]).unwrap(),
        format!("{TEXT}\n{PETER_SIG}")
    );
    assert!(note::sign("abc", &[&s]).is_err());
    assert!(note::sign(TEXT, &[]).is_err());
}

#[test]
fn go_verifier_manglings_are_refused() {
    // Go's TestNewVerifier / TestNewSigner: every proper substring and every
    // one-byte change of a key text is refused.
    for key in [PETER_VKEY, PETER_SKEY] {
        let parse = |k: &str| {
            if key == PETER_VKEY {
                Verifier::parse(k).is_ok()
            } else {
                Signer::parse(k).is_ok()
            }
        };
        assert!(parse(key));
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(!parse(s), "accepted {s:?}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(!parse(s), "accepted {s:?}");
            }
        }
    }
    // Go: wrong key length and unknown algorithm, with adjusted key hashes.
    assert!(Verifier::parse(
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    )
    .is_err());
    assert_eq!(
        Verifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::UnsupportedKeyType(0x65))
    );
}

#[test]
fn go_open_vectors() {
    let peter = Verifier::parse(PETER_VKEY).unwrap();
    let enoch = Verifier::parse(ENOCH_VKEY).unwrap();
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let n = note::open(&msg, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.text, TEXT);
    assert_eq!(n.sigs.len(), 1);
    assert_eq!(
        (n.sigs[0].name.as_str(), n.sigs[0].key_id),
        ("PeterNeumann", 0xc74f20a3)
    );
    assert_eq!(n.unverified.len(), 1);
    assert_eq!(n.unverified[0].key_id, 0xaf0cfe78);

    let n = note::open(&msg, &[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(n.sigs.len(), 2);
    assert!(n.unverified.is_empty());
    assert_eq!(note::open(&msg, &[]), Err(NoteError::Unverified));

    // Too many signatures.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert!(matches!(
        note::open(&many, std::slice::from_ref(&peter)),
        Err(NoteError::Malformed(_))
    ));
    // A known key's bad signature refuses the note.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        note::open(&bad, std::slice::from_ref(&peter)),
        Err(NoteError::InvalidSignature {
            key_id: 0xc74f20a3,
            ..
        })
    ));
    // Duplicates collapse; an unknown key's bad signature is ignored.
    let enoch_bad = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let dup = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_bad}");
    let n = note::open(&dup, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.sigs.len(), 1);
    assert_eq!(n.unverified.len(), 2);

    // Go's malformed messages.
    for m in [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ] {
        assert!(matches!(note::open(&m, std::slice::from_ref(&peter)), Err(NoteError::Malformed(_))), "{m:?}");
    }
}

#[test]
fn c2sp_signed_note_example() {
    let v =
        Verifier::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
    let msg = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let n = note::open(msg, &[v]).unwrap();
    assert_eq!(n.text, "This is an example message.\n");
}

#[test]
fn generated_keys_round_trip() {
    let s = Signer::generate("log.example/x", ALG_ED25519).unwrap();
    let s2 = Signer::parse(&s.to_text()).unwrap();
    assert_eq!(s2.verifier(), s.verifier());
    assert_eq!(
        Verifier::parse(&s.verifier().to_text()).unwrap(),
        s.verifier()
    );
    assert!(!format!("{s:?}").contains(&s.to_text()[20..]));
    assert!(Signer::generate("bad name", ALG_ED25519).is_err());
    assert!(Signer::generate("a+b", ALG_ED25519).is_err());
    assert!(Signer::generate("ok", 0x02).is_err());
}

fn log_key() -> Signer {
    Signer::from_seed("log.example.com/sealtrail/org-1", ALG_ED25519, &[7; 32]).unwrap()
}

fn witness() -> Witness {
    Witness::new(Signer::from_seed("witness.example.com/w1", ALG_COSIGNATURE_V1, &[9; 32]).unwrap())
        .unwrap()
}

#[test]
fn checkpoint_round_trip_and_validation() {
    let root = record_hash(b"hello world");
    let c = Checkpoint::new("example.com/log", 123456789012, root).with_time(1733150000);
    let text = c.to_text().unwrap();
    assert_eq!(
        text,
        "example.com/log\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\ntime 1733150000\n"
    );
    assert_eq!(Checkpoint::parse(&text).unwrap(), c);
    assert_eq!(c.time(), Some(1733150000));
    let b64 = "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=";
    for bad in [
        "".to_string(),
        "o\n1\n".to_string(),
        format!("o\n01\n{b64}\n"),
        format!("o\n-1\n{b64}\n"),
        format!("o\n+1\n{b64}\n"),
        format!("o\n1\n{b64}"),
        format!("\n1\n{b64}\n"),
        format!("o\n1\n{b64}\n\n"),
        format!("o\n1\n{b64}\n\next\n"),
        format!("o\n1\n{}\n", &b64[..40]),
        "o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb1=\n".to_string(),
        format!("o\n18446744073709551616\n{b64}\n"),
        format!("o\r\n1\n{b64}\n"),
    ] {
        assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
    }
    assert!(Checkpoint::parse(&format!("o\n0\n{b64}\n")).is_ok());
    assert!(Checkpoint::new("", 1, root).to_text().is_err());
    let mut c2 = c.clone();
    c2.extensions.push(String::new());
    assert!(c2.to_text().is_err());

    assert_eq!(
        origin("log.example.com/sealtrail", "org-1").unwrap(),
        "log.example.com/sealtrail/org-1"
    );
    assert!(origin("log example", "o").is_err());
    assert!(origin("log", "a/b").is_err());
    assert!(origin("log", "").is_err());
}

#[test]
fn checkpoint_sign_and_open() {
    let key = log_key();
    let c = Checkpoint::new(key.name(), 5, record_hash(b"x")).with_time(1);
    let signed = c.sign(&key).unwrap();
    let (c2, n) = Checkpoint::open(&signed, &key.verifier(), &[]).unwrap();
    assert_eq!(c2, c);
    assert_eq!(n.sigs.len(), 1);
    // A key not named after the origin is refused.
    let other = Signer::from_seed("other", ALG_ED25519, &[7; 32]).unwrap();
    assert!(c.sign(&other).is_err());
    assert!(Checkpoint::open(&signed, &other.verifier(), &[]).is_err());
}

fn tree(n: u64) -> (MemoryTree, Vec<Hash>) {
    let mut t = MemoryTree::new();
    let mut roots = vec![t.root()];
    for i in 0..n {
        t.push(
            leaf_hash(
                "org-1",
                "agent",
                i + 1,
                &crate::hash::sha256(&i.to_be_bytes()),
            )
            .unwrap(),
        )
        .unwrap();
        roots.push(t.root());
    }
    (t, roots)
}

fn signed(size: u64, root: Hash) -> String {
    let key = log_key();
    Checkpoint::new(key.name(), size, root).sign(&key).unwrap()
}

#[test]
fn witness_cosigns_consistent_extensions_only() {
    let w = witness();
    let lk = log_key().verifier();
    let (t, roots) = tree(20);
    let now = 1_733_150_000;

    // First contact: old size 0, empty proof.
    let c = w
        .add_checkpoint(&LogState::empty(), &signed(5, roots[5]), 0, &[], &lk, now)
        .unwrap();
    assert_eq!(
        c.state,
        LogState {
            size: 5,
            root: roots[5]
        }
    );
    let text = c.checkpoint.to_text().unwrap();
    assert_eq!(
        verify_cosignature(&text, &c.cosignature, &w.verifier()).unwrap(),
        now
    );
    // The cosignature is a signed-note line: the checkpoint with both lines opens.
    let both = format!("{}{}", signed(5, roots[5]), c.cosignature);
    let n = note::open(&both, &[lk.clone(), w.verifier()]).unwrap();
    assert_eq!(n.sigs.len(), 2);
    // A tampered cosignature or another text fails.
    assert!(verify_cosignature(&text.replace('5', "6"), &c.cosignature, &w.verifier()).is_err());
    assert!(verify_cosignature(&text, &c.cosignature, &lk).is_err());

    // Extend 5 -> 12 with a proof.
    let p = prove_tree(12, 5, &t).unwrap();
    let st = c.state;
    let c = w
        .add_checkpoint(&st, &signed(12, roots[12]), 5, &p, &lk, now + 1)
        .unwrap();
    assert_eq!(c.state.size, 12);
    let st = c.state;

    // Same size, same root: cosigned again. Same size, other root: split view.
    w.add_checkpoint(&st, &signed(12, roots[12]), 12, &[], &lk, now + 2)
        .unwrap();
    let e = w
        .add_checkpoint(&st, &signed(12, roots[11]), 12, &[], &lk, now)
        .unwrap_err();
    assert!(matches!(e, WitnessError::SplitView { size: 12, .. }), "{e}");
    assert_eq!(e.http_status(), 422);

    // Stale old size: conflict carrying the stored size.
    let p = prove_tree(15, 5, &t).unwrap();
    let e = w
        .add_checkpoint(&st, &signed(15, roots[15]), 5, &p, &lk, now)
        .unwrap_err();
    assert_eq!(
        e,
        WitnessError::Conflict {
            old_size: 5,
            stored_size: 12
        }
    );
    assert_eq!(e.http_status(), 409);

    // Smaller checkpoint: rollback.
    let e = w
        .add_checkpoint(&st, &signed(8, roots[8]), 12, &[], &lk, now)
        .unwrap_err();
    assert!(matches!(
        e,
        WitnessError::Rollback {
            stored_size: 12,
            size: 8,
            ..
        }
    ));
    assert_eq!(e.http_status(), 400);
    let e = w
        .add_checkpoint(&st, &signed(8, roots[8]), 5, &[], &lk, now)
        .unwrap_err();
    assert_eq!(e.http_status(), 409);

    // A proof that does not verify, or one for another tree: inconsistent.
    let mut p = prove_tree(15, 12, &t).unwrap();
    p[0].0[3] ^= 0x10;
    let e = w
        .add_checkpoint(&st, &signed(15, roots[15]), 12, &p, &lk, now)
        .unwrap_err();
    assert!(matches!(e, WitnessError::Inconsistent(_)), "{e}");
    let (_, other_roots) = {
        let mut t2 = MemoryTree::new();
        let mut r = vec![t2.root()];
        for i in 0..15u64 {
            t2.push(record_hash(&i.to_le_bytes())).unwrap();
            r.push(t2.root());
        }
        (t2, r)
    };
    let p = prove_tree(15, 12, &t).unwrap();
    let e = w
        .add_checkpoint(&st, &signed(15, other_roots[15]), 12, &p, &lk, now)
        .unwrap_err();
    assert!(matches!(e, WitnessError::Inconsistent(_)));
    // Old size above the checkpoint size; a non-empty proof from 0.
    let e = w
        .add_checkpoint(&LogState::empty(), &signed(5, roots[5]), 6, &[], &lk, now)
        .unwrap_err();
    assert_eq!(e.http_status(), 400);
    let e = w
        .add_checkpoint(
            &LogState::empty(),
            &signed(5, roots[5]),
            0,
            &[roots[1]],
            &lk,
            now,
        )
        .unwrap_err();
    assert_eq!(e.http_status(), 422);
    // Size 0 must carry the empty root.
    let e = w
        .add_checkpoint(&LogState::empty(), &signed(0, roots[1]), 0, &[], &lk, now)
        .unwrap_err();
    assert_eq!(e.http_status(), 422);
    w.add_checkpoint(&LogState::empty(), &signed(0, roots[0]), 0, &[], &lk, now)
        .unwrap();

    // Signatures: another log key (403), an origin not the key's (404).
    let other =
        Signer::from_seed("log.example.com/sealtrail/org-1", ALG_ED25519, &[8; 32]).unwrap();
    let forged = Checkpoint::new(other.name(), 5, roots[5])
        .sign(&other)
        .unwrap();
    let e = w
        .add_checkpoint(&LogState::empty(), &forged, 0, &[], &lk, now)
        .unwrap_err();
    assert_eq!(e.http_status(), 403);
    let other_origin =
        Signer::from_seed("log.example.com/sealtrail/org-2", ALG_ED25519, &[7; 32]).unwrap();
    let text = Checkpoint::new(lk.name(), 5, roots[5]).to_text().unwrap();
    let n = note::sign(&text.replace("org-1", "org-2"), &[&log_key()]).unwrap();
    let e = w
        .add_checkpoint(&LogState::empty(), &n, 0, &[], &lk, now)
        .unwrap_err();
    assert!(matches!(e, WitnessError::UnknownOrigin(_)), "{e}");
    let _ = other_origin;
    // Timestamps must be non-zero.
    let e = w
        .add_checkpoint(&LogState::empty(), &signed(5, roots[5]), 0, &[], &lk, 0)
        .unwrap_err();
    assert_eq!(e, WitnessError::InvalidTimestamp(0));
}

#[test]
fn add_checkpoint_body_round_trip() {
    let (t, roots) = tree(9);
    let req = AddCheckpoint {
        old_size: 3,
        proof: prove_tree(9, 3, &t).unwrap(),
        checkpoint: signed(9, roots[9]),
    };
    let body = req.to_body();
    assert!(body.starts_with("old 3\n"));
    assert_eq!(AddCheckpoint::parse(&body).unwrap(), req);
    for bad in [
        "",
        "old 03\n\nx",
        "old 3\nnot base64!\n\nx",
        "old 3\nAAAA\n\nx",
        "new 3\n\nx",
        "old 3\n",
    ] {
        assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
    }
    let long = format!(
        "old 1\n{}\nx",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n".repeat(64)
    );
    assert!(AddCheckpoint::parse(&long).is_err());
}

#[test]
fn leaf_bytes_framing() {
    let h = Hash([0xab; 32]);
    let b = leaf_bytes("org", "agent-1", 7, &h).unwrap();
    let mut want = Vec::new();
    want.extend_from_slice(&17u32.to_be_bytes());
    want.extend_from_slice(b"sealtrail.leaf.v1");
    want.extend_from_slice(&3u32.to_be_bytes());
    want.extend_from_slice(b"org");
    want.extend_from_slice(&7u32.to_be_bytes());
    want.extend_from_slice(b"agent-1");
    want.extend_from_slice(&7u64.to_be_bytes());
    want.extend_from_slice(&[0xab; 32]);
    assert_eq!(b, want);
    assert_eq!(
        leaf_hash("org", "agent-1", 7, &h).unwrap(),
        record_hash(&want)
    );
    // Framing: moving a byte between org and agent changes the leaf.
    assert_ne!(leaf_bytes("orga", "gent-1", 7, &h).unwrap(), b);
}

#[test]
fn docs_log_layer_vectors() {
    // The worked examples of docs/chain-spec.md §7 (core/examples/tlog_doc_vectors.rs).
    let org = "0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77";
    let leaf = leaf_bytes(org, "agent-1", 1, &crate::hash::sha256(b"link")).unwrap();
    assert_eq!(hex::encode(&leaf), "000000117365616c747261696c2e6c6561662e76310000002430623965376335322d353263312d346433382d396331662d346133663264316530613737000000076167656e742d310000000000000001b1b1bdb480c61d075300d9bff7d9cb69cf31695ea048e478facadf426e8d0fb0");
    assert_eq!(
        record_hash(&leaf).to_hex(),
        "831106f4347c5620bb7d9044acd3330d4c35e9cff027a23292cf91e5f0339d86"
    );
    let mut t = MemoryTree::new();
    for seq in 1..=3u64 {
        let l = crate::hash::sha256(format!("link {seq}").as_bytes());
        t.push(leaf_hash(org, "agent-1", seq, &l).unwrap()).unwrap();
    }
    assert_eq!(
        t.root().to_hex(),
        "ab424815c27d0c3c2de797bc429b19f13382abd39d8b239656177535606d8495"
    );
    let o = origin("log.example.com/sealtrail", org).unwrap();
    let log = Signer::from_seed(&o, ALG_ED25519, &[1; 32]).unwrap();
    assert_eq!(log.verifier().to_text(), "log.example.com/sealtrail/0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77+88a9b715+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c");
    let note = Checkpoint::new(&o, 3, t.root())
        .with_time(1733150000)
        .sign(&log)
        .unwrap();
    assert!(note.ends_with("— log.example.com/sealtrail/0b9e7c52-52c1-4d38-9c1f-4a3f2d1e0a77 iKm3FZzA/1Wan0wvyJH9xVoiUgGQFYwFiTBAhWo8BsB/mRZYCamilsEK9C9o3tUKo2lbbt1WKIkXQ8RDgD+2dXEksw4=\n"));
    let w = Witness::new(
        Signer::from_seed("witness.example.com/w1", ALG_COSIGNATURE_V1, &[2; 32]).unwrap(),
    )
    .unwrap();
    assert_eq!(
        w.verifier().to_text(),
        "witness.example.com/w1+745fb5e8+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
    );
    let r = w
        .add_checkpoint(
            &LogState::empty(),
            &note,
            0,
            &[],
            &log.verifier(),
            1733150005,
        )
        .unwrap();
    assert_eq!(r.cosignature, "— witness.example.com/w1 dF+16AAAAABnTcU1K+XIQA4mXApKi+v5bfjGUxImo4uLofLcia7hTesALcQNiU6yjR1GJZlyDG5gMU7xtUQRzUxyi8xZL3ycGjGZCA==\n");
}
