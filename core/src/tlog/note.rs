//! Signed notes (C2SP signed-note v1.0.0, the format of Go's
//! golang.org/x/mod/sumdb/note) with Ed25519 keys, and the key texts.
//!
//! ```text
//! <text, ending in a newline>
//! <one blank line>
//! — <key name> base64(u32be key ID ‖ signature)      (one or more lines)
//! ```
//!
//! Two signature types are supported (signed-note §Signature types):
//! `0x01`, plain Ed25519 over the note text (logs sign checkpoints with it),
//! and `0x04`, tlog-cosignature's timestamped Ed25519 cosignature (witnesses;
//! see `witness.rs`). A [`Verifier`] of either type checks its own lines in
//! [`open`].

use std::collections::HashSet;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature as EdSignature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// signed-note: Ed25519 signature type byte.
pub const ALG_ED25519: u8 = 0x01;
/// signed-note / tlog-cosignature: timestamped Ed25519 cosignature type byte.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Go's note.Open refuses more than 100 signature lines; signed-note asks for
/// a limit of at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// What is wrong with a note, a key text or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note does not have the signed-note shape (the reason says where).
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name is empty or has a space, a `+` or a control character.
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    InvalidName(String),
    /// A verifier or private key text is malformed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// The key's type byte is not one this code implements.
    #[error("unsupported key type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// The key ID in a key text does not match the key.
    #[error("key ID {found:08x} does not match the key (expected {expected:08x})")]
    KeyIdMismatch { found: u32, expected: u32 },
    /// The key has the wrong type for the operation.
    #[error("key {name} has type 0x{alg:02x}, expected 0x{want:02x}")]
    WrongKeyType { name: String, alg: u8, want: u8 },
    /// Two known keys share a name and key ID.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey { name: String, key_id: u32 },
    /// A signature by a known key does not verify (signed-note: reject the note).
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    /// No signature by a known key.
    #[error("note has no verifiable signatures")]
    Unverified,
    /// The system random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// The key ID: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian
/// (signed-note §Signatures; tlog-cosignature §Format for type 0x04).
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// signed-note: key names are non-empty, without Unicode spaces or `+`. Also
/// without control characters, which no note may contain.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidName(name.to_string()))
    }
}

fn check_alg(alg: u8) -> Result<(), NoteError> {
    match alg {
        ALG_ED25519 | ALG_COSIGNATURE_V1 => Ok(()),
        other => Err(NoteError::UnsupportedKeyType(other)),
    }
}

fn parse_hex8(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// A public key that checks note signatures: Ed25519 (`0x01`) or an Ed25519
/// cosigner (`0x04`).
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    alg: u8,
    key: VerifyingKey,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Verifier {
    /// Parses a verifier key text `<name>+<8 hex key ID>+<base64(type ‖ key)>`
    /// (signed-note §Verifier keys), checking the key ID.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hash16), Some(key64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey("expected name+keyid+key"));
        };
        check_name(name)?;
        let found =
            parse_hex8(hash16).ok_or(NoteError::MalformedKey("key ID is not 8 hex digits"))?;
        let key = B64
            .decode(key64)
            .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let (&alg, public) = key
            .split_first()
            .ok_or(NoteError::MalformedKey("empty key"))?;
        let expected = key_id(name, alg, public);
        if found != expected {
            return Err(NoteError::KeyIdMismatch { found, expected });
        }
        Self::new(name, alg, public)
    }

    /// A verifier for `name` with type `alg` and a 32-byte Ed25519 public key.
    pub fn new(name: &str, alg: u8, public_key: &[u8]) -> Result<Self, NoteError> {
        check_name(name)?;
        check_alg(alg)?;
        let bytes: [u8; 32] = public_key
            .try_into()
            .map_err(|_| NoteError::MalformedKey("an Ed25519 public key has 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        Ok(Verifier {
            name: name.to_string(),
            key_id: key_id(name, alg, &bytes),
            alg,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// The signature type byte (`ALG_ED25519` or `ALG_COSIGNATURE_V1`).
    pub fn alg(&self) -> u8 {
        self.alg
    }
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The verifier key text.
    pub fn to_text(&self) -> String {
        let mut key = vec![self.alg];
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(key))
    }

    /// Checks the raw signature bytes (after the 4-byte key ID) of a line of
    /// this key over note `text`. For a cosigner key, returns the timestamp.
    pub(crate) fn verify_raw(&self, text: &str, sig: &[u8]) -> Option<Option<u64>> {
        match self.alg {
            ALG_ED25519 => {
                let sig = EdSignature::from_slice(sig).ok()?;
                ed25519_verify(&self.key, text.as_bytes(), &sig).then_some(None)
            }
            ALG_COSIGNATURE_V1 => {
                // tlog-cosignature: timestamped_signature = u64be timestamp ‖ sig[64].
                if sig.len() != 8 + 64 {
                    return None;
                }
                let ts = u64::from_be_bytes(sig[..8].try_into().ok()?);
                if ts > i64::MAX as u64 {
                    return None;
                }
                let sig = EdSignature::from_slice(&sig[8..]).ok()?;
                let msg = super::witness::cosigned_message(text, ts);
                ed25519_verify(&self.key, msg.as_bytes(), &sig).then_some(Some(ts))
            }
            _ => None,
        }
    }
}

/// Ed25519 verification as Go's crypto/ed25519 does it (cofactorless, S
/// canonical), which is what dalek's `verify` implements.
fn ed25519_verify(key: &VerifyingKey, msg: &[u8], sig: &EdSignature) -> bool {
    use ed25519_dalek::Verifier as _;
    key.verify(msg, sig).is_ok()
}

/// A private key that signs notes (type `0x01`) or cosigns checkpoints
/// (type `0x04`).
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    alg: u8,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        write!(
            f,
            "Signer({}+{:08x}, type 0x{:02x})",
            self.name, self.key_id, self.alg
        )
    }
}

impl Signer {
    /// The same private key under another name (its key ID follows the
    /// name): one log key signs each organisation's checkpoints under the
    /// name of that organisation's origin.
    pub fn renamed(&self, name: &str) -> Result<Self, NoteError> {
        Self::from_seed(name, self.alg, &self.key.to_bytes())
    }

    /// A signer from a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, alg: u8, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        check_alg(alg)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Signer {
            name: name.to_string(),
            key_id: key_id(name, alg, key.verifying_key().as_bytes()),
            alg,
            key,
        })
    }

    /// A new random key from the operating system's generator.
    pub fn generate(name: &str, alg: u8) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Random(e.to_string()))?;
        Self::from_seed(name, alg, &seed)
    }

    /// Parses Go's private key text `PRIVATE+KEY+<name>+<8 hex key ID>+
    /// base64(type ‖ 32-byte seed)`, checking the key ID against the public key.
    pub fn parse(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey(
                "expected PRIVATE+KEY+name+keyid+key",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash16), Some(key64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey(
                "expected PRIVATE+KEY+name+keyid+key",
            ));
        };
        check_name(name)?;
        let found =
            parse_hex8(hash16).ok_or(NoteError::MalformedKey("key ID is not 8 hex digits"))?;
        let key = B64
            .decode(key64)
            .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let (&alg, seed) = key
            .split_first()
            .ok_or(NoteError::MalformedKey("empty key"))?;
        check_alg(alg)?;
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::MalformedKey("an Ed25519 seed has 32 bytes"))?;
        let s = Self::from_seed(name, alg, seed)?;
        if s.key_id != found {
            return Err(NoteError::KeyIdMismatch {
                found,
                expected: s.key_id,
            });
        }
        Ok(s)
    }

    /// The private key text (secret: store it like a password).
    pub fn to_text(&self) -> String {
        let mut key = vec![self.alg];
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(key)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            alg: self.alg,
            key: self.key.verifying_key(),
        }
    }

    pub(crate) fn sign_bytes(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// A signature line `— <name> base64(key ID ‖ raw)\n`.
    pub(crate) fn line(&self, raw: &[u8]) -> String {
        let mut b = self.key_id.to_be_bytes().to_vec();
        b.extend_from_slice(raw);
        format!("— {} {}\n", self.name, B64.encode(b))
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub key_id: u32,
    /// base64(key ID ‖ signature), as on the line.
    pub base64: String,
}

impl Signature {
    /// The line as it appears in a note, newline included.
    pub fn to_line(&self) -> String {
        format!("— {} {}\n", self.name, self.base64)
    }
}

/// An opened note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, final newline included.
    pub text: String,
    /// Signatures by known keys, each verified.
    pub sigs: Vec<Signature>,
    /// Signatures by unknown keys, not checked.
    pub unverified: Vec<Signature>,
}

/// Signs `text` (which must end in a newline) with each signer (type 0x01),
/// returning the signed note.
pub fn sign(text: &str, signers: &[&Signer]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::Malformed("a note needs at least one signature"));
    }
    let mut out = String::with_capacity(text.len() + 1 + signers.len() * 110);
    out.push_str(text);
    out.push('\n');
    for s in signers {
        if s.alg != ALG_ED25519 {
            return Err(NoteError::WrongKeyType {
                name: s.name.clone(),
                alg: s.alg,
                want: ALG_ED25519,
            });
        }
        out.push_str(&s.line(&s.sign_bytes(text.as_bytes())));
    }
    Ok(out)
}

/// signed-note §Format: a text ends in a newline and has no control
/// characters other than newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end in a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character in text"));
    }
    Ok(())
}

/// Splits a signed note into its text and signature lines without checking
/// any signature. Follows Go's note.Open: the text ends at the last blank line.
pub fn parse(msg: &str) -> Result<(&str, Vec<Signature>), NoteError> {
    // signed-note §Format: no control characters but newline. (Valid UTF-8 is
    // guaranteed by &str.)
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character in note"));
    }
    let split = msg
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature lines must end in a newline",
        ));
    }
    let mut out = Vec::new();
    for line in sigs[..sigs.len() - 1].split('\n') {
        if out.len() == MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let line = line.strip_prefix("— ").ok_or(NoteError::Malformed(
            "a signature line starts with an em dash and a space",
        ))?;
        let (name, b64) = line.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line is '— name signature'",
        ))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if !is_valid_name(name) || raw.len() < 5 {
            return Err(NoteError::Malformed("bad signature line"));
        }
        out.push(Signature {
            name: name.to_string(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            base64: b64.to_string(),
        });
    }
    Ok((text, out))
}

/// Opens a signed note with a set of known keys (signed-note §Signatures):
/// signatures by unknown keys (name and key ID not both matching a known key)
/// are ignored and listed as unverified; a known key's signature must verify,
/// else the whole note is refused; at least one must verify.
pub fn open(msg: &str, known: &[Verifier]) -> Result<Note, NoteError> {
    let (text, sigs) = parse(msg)?;
    let mut note = Note {
        text: text.to_string(),
        sigs: Vec::new(),
        unverified: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut seen_unverified = HashSet::new();
    for sig in sigs {
        let mut matching = known
            .iter()
            .filter(|v| v.name == sig.name && v.key_id == sig.key_id);
        let Some(v) = matching.next() else {
            if seen_unverified.insert(sig.to_line()) {
                note.unverified.push(sig);
            }
            continue;
        };
        if matching.any(|w| w != v) {
            return Err(NoteError::AmbiguousKey {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        if !seen.insert((sig.name.clone(), sig.key_id)) {
            continue;
        }
        // parse() checked the base64 and the length.
        let raw = B64.decode(&sig.base64).unwrap_or_default();
        if v.verify_raw(text, raw.get(4..).unwrap_or_default())
            .is_none()
        {
            return Err(NoteError::InvalidSignature {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        note.sigs.push(sig);
    }
    if note.sigs.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok(note)
}
