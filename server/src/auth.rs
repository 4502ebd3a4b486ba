//! API keys and roles. A key is `st_` followed by 64 hex characters; only its
//! SHA-256 is stored. Every request names its key in `Authorization: Bearer`,
//! which fixes its organisation and role.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sealtrail_core::hash::sha256;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Agents: write events, nothing else.
    Ingest,
    /// Operators: read events, chains and verification.
    Ops,
    /// Compliance staff: read and export, including a data subject's export.
    Compliance,
    /// Administrators: keys, retention policy and legal holds, and reading.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Ops => "ops",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ingest" => Ok(Role::Ingest),
            "ops" => Ok(Role::Ops),
            "compliance" => Ok(Role::Compliance),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?}; expected ingest, ops, compliance or admin"
            )),
        }
    }
}

/// What a request may do; each endpoint asks for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    Ingest,
    Read,
    Export,
    Admin,
    /// Checkpoints and proofs: any key of the organisation.
    Proof,
}

impl Perm {
    fn allows(self, role: Role) -> bool {
        match self {
            Perm::Ingest => role == Role::Ingest,
            Perm::Read => matches!(role, Role::Ops | Role::Compliance | Role::Admin),
            Perm::Export => matches!(role, Role::Compliance | Role::Admin),
            Perm::Admin => role == Role::Admin,
            Perm::Proof => true,
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Perm::Ingest => "an ingest key",
            Perm::Read => "an ops, compliance or admin key",
            Perm::Export => "a compliance or admin key",
            Perm::Admin => "an admin key",
            Perm::Proof => "a key of the organisation",
        }
    }
}

/// The caller, from its key.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    pub key_id: Uuid,
    pub org_id: Uuid,
    pub role: Role,
    /// The key is limited to some agent ids (`keys create --agents`); ingest
    /// reads the patterns when set.
    pub scoped: bool,
}

/// Checks the agent id patterns of a new key: ingest keys only, 1 to 64
/// patterns of 1 to 256 bytes without control characters.
pub fn check_agent_patterns(role: Role, agents: &[String]) -> Result<(), String> {
    if role != Role::Ingest {
        return Err(format!(
            "only an ingest key can be limited to agents; this one's role is {role}"
        ));
    }
    if agents.is_empty() || agents.len() > 64 {
        return Err("give 1 to 64 agent id patterns (e.g. support-*)".into());
    }
    for a in agents {
        if a.is_empty() || a.len() > 256 || a.chars().any(char::is_control) {
            return Err(format!(
                "agent pattern {a:?}: 1 to 256 bytes, no control characters"
            ));
        }
    }
    Ok(())
}

/// Whether `agent` matches the glob `pattern` (`*` is any run of
/// characters, everything else itself). Linear in both lengths times the
/// number of stars, which are few in a key's patterns.
pub fn agent_matches(pattern: &str, agent: &str) -> bool {
    let (p, a) = (pattern.as_bytes(), agent.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < a.len() {
        if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && p[i] == a[j] {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

impl Auth {
    pub fn require(&self, perm: Perm) -> Result<(), ApiError> {
        if perm.allows(self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this endpoint needs {}; this key's role is {}",
                perm.describe(),
                self.role
            )))
        }
    }
}

/// A new random key and its stored hash.
pub fn generate_key() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    // Two v4 UUIDs carry 244 random bits; hash them into 256 uniform-looking ones.
    let key = format!("st_{}", sha256(&bytes).to_hex());
    let h = hash_key(&key);
    (key, h)
}

pub fn hash_key(key: &str) -> [u8; 32] {
    sha256(key.as_bytes()).0
}

pub fn key_prefix(key: &str) -> String {
    key.chars().take(11).collect()
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fail = |msg: &str| {
            Metrics::add(&state.metrics().auth_failures, 1);
            ApiError::Unauthorized(msg.to_string())
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                fail("missing Authorization header; send `Authorization: Bearer st_...`")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with("st_"))
            .ok_or_else(|| fail("Authorization must be `Bearer st_...`"))?;
        let found = crate::db::keys::lookup(state.db(), &hash_key(token)).await?;
        let auth = found.ok_or_else(|| fail("unknown or deactivated API key"))?;
        touch(state, auth.key_id).await;
        Ok(auth)
    }
}

/// Records that a key was used, at most once a minute per key and process.
async fn touch(state: &AppState, key_id: Uuid) {
    let due = match state.0.key_touched.lock() {
        Ok(mut m) => {
            let now = Instant::now();
            match m.get(&key_id) {
                Some(t) if now.duration_since(*t) < Duration::from_secs(60) => false,
                _ => {
                    m.insert(key_id, now);
                    true
                }
            }
        }
        Err(_) => false,
    };
    if due {
        if let Err(e) = crate::db::keys::touch(state.db(), key_id).await {
            tracing::warn!(target: "sealtrail::auth", error = %e, "could not record key use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::agent_matches;

    #[test]
    fn agent_globs() {
        for (p, a, want) in [
            ("support-*", "support-7", true),
            ("support-*", "support-", true),
            ("support-*", "billing-1", false),
            ("*-eu", "support-eu", true),
            ("*-eu", "support-us", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*", "", true),
        ] {
            assert_eq!(agent_matches(p, a), want, "{p} {a}");
        }
        // Repeated stars and near misses stay fast (bounded lengths).
        let a = "a".repeat(256);
        assert!(!agent_matches(&format!("{}b", "*a".repeat(100)), &a));
    }
}
