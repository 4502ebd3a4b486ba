//! The per-organisation verifier key of a sealtrail log. One Ed25519 key
//! signs every organisation's checkpoints, each under the key name = the
//! checkpoint's origin `<log-name>/<org_id>` (so the key ID differs per
//! organisation). `sealtrail log-key generate` prints the base verifier key
//! `<log-name>+<keyid>+<base64>`; this is the one place that turns it into
//! the verifier of one organisation's checkpoints.

use super::checkpoint::CheckpointError;
use super::note::{Verifier, ALG_ED25519};

/// The verifier of the checkpoints with origin `origin`, derived from the
/// log's base key `base` (named `<log-name>`): the same public key under the
/// name `origin`, key ID recomputed. Refuses an origin that is not
/// `<log-name>/<org>` with a non-empty `<org>` without `/`, and a base key
/// that is not plain Ed25519.
pub fn org_verifier(base: &Verifier, origin: &str) -> Result<Verifier, CheckpointError> {
    if base.alg() != ALG_ED25519 {
        return Err(CheckpointError::Malformed(format!(
            "the log key {} is not an Ed25519 (0x01) key",
            base.name()
        )));
    }
    let org = origin
        .strip_prefix(base.name())
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|org| !org.is_empty() && !org.contains('/'))
        .ok_or_else(|| {
            CheckpointError::Malformed(format!(
                "origin {origin:?} is not {}/<organisation>: not a checkpoint of this log",
                base.name()
            ))
        })?;
    debug_assert!(!org.is_empty());
    Ok(Verifier::new(origin, ALG_ED25519, &base.public_key())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;
    use crate::tlog::{origin, Checkpoint, Signer};

    #[test]
    fn derives_the_key_that_signs_an_org_checkpoint() {
        let seed = [7u8; 32];
        let base = Signer::from_seed("log.example/sealtrail", ALG_ED25519, &seed)
            .unwrap()
            .verifier();
        let org = "0b0e5c7a-3d2f-4a8e-9a51-6f3c2b1d0e9f";
        let o = origin("log.example/sealtrail", org).unwrap();
        let signer = Signer::from_seed(&o, ALG_ED25519, &seed).unwrap();
        let note = Checkpoint::new(&o, 3, Hash([1; 32])).sign(&signer).unwrap();

        let v = org_verifier(&base, &o).unwrap();
        assert_eq!(v.name(), o);
        assert_ne!(
            v.key_id(),
            base.key_id(),
            "key id is recomputed for the name"
        );
        let (c, _) = Checkpoint::open(&note, &v, &[]).unwrap();
        assert_eq!(c.size, 3);

        // The base key itself does not open it (wrong name and key id).
        assert!(Checkpoint::open(&note, &base, &[]).is_err());
        // Another key of the same name does not either.
        let other = Signer::from_seed("log.example/sealtrail", ALG_ED25519, &[8u8; 32])
            .unwrap()
            .verifier();
        assert!(Checkpoint::open(&note, &org_verifier(&other, &o).unwrap(), &[]).is_err());
    }

    #[test]
    fn refuses_origins_of_another_log() {
        let base = Signer::from_seed("log.example", ALG_ED25519, &[1u8; 32])
            .unwrap()
            .verifier();
        for bad in [
            "log.example",
            "log.example/",
            "log.examplex/org",
            "other/org",
            "log.example/a/b",
            "log.example/a b",
        ] {
            assert!(org_verifier(&base, bad).is_err(), "{bad:?}");
        }
        assert!(org_verifier(&base, "log.example/org-1").is_ok());
    }
}
