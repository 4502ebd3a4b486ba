//! Organisations and API keys.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::auth::{generate_key, key_prefix, Auth, Role};

pub async fn lookup(pool: &PgPool, key_hash: &[u8; 32]) -> Result<Option<Auth>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, org_id, role, agents IS NOT NULL FROM api_keys WHERE key_hash = $1 AND active",
    )
    .bind(&key_hash[..])
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get(2)?;
    let role = role
        .parse::<Role>()
        .map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(Some(Auth {
        key_id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        role,
        scoped: row.try_get(3)?,
    }))
}

/// The agent id patterns a key is limited to (None: every agent).
pub async fn key_agents(pool: &PgPool, key_id: Uuid) -> Result<Option<Vec<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT agents FROM api_keys WHERE id = $1")
        .bind(key_id)
        .fetch_one(pool)
        .await
}

pub async fn touch(pool: &PgPool, key_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
        .bind(key_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The organisation named `name`, created if missing.
pub async fn org_by_name(pool: &PgPool, name: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query(
        "INSERT INTO organizations (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(name)
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub id: Uuid,
    pub org_id: Uuid,
    pub role: Role,
    pub name: Option<String>,
    pub prefix: String,
    /// Agent id patterns an ingest key is limited to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<String>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    #[serde(flatten)]
    pub info: KeyInfo,
    /// The key itself: shown once, never stored.
    pub key: String,
}

pub async fn create(
    pool: &PgPool,
    org_id: Uuid,
    role: Role,
    name: Option<&str>,
) -> Result<NewKey, sqlx::Error> {
    create_scoped(pool, org_id, role, name, None).await
}

/// [`create`], an ingest key limited to agent id patterns when `agents`
/// is given (checked by the caller: 1 to 64 patterns, ingest role).
pub async fn create_scoped(
    pool: &PgPool,
    org_id: Uuid,
    role: Role,
    name: Option<&str>,
    agents: Option<&[String]>,
) -> Result<NewKey, sqlx::Error> {
    let (key, hash) = generate_key();
    let id = Uuid::new_v4();
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO api_keys (id, org_id, key_hash, prefix, role, name, agents)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING created_at",
    )
    .bind(id)
    .bind(org_id)
    .bind(&hash[..])
    .bind(key_prefix(&key))
    .bind(role.as_str())
    .bind(name)
    .bind(agents)
    .fetch_one(pool)
    .await?;
    Ok(NewKey {
        info: KeyInfo {
            id,
            org_id,
            role,
            name: name.map(str::to_string),
            prefix: key_prefix(&key),
            agents: agents.map(<[String]>::to_vec),
            active: true,
            created_at,
            last_used_at: None,
        },
        key,
    })
}

pub async fn list(pool: &PgPool, org_id: Uuid) -> Result<Vec<KeyInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, org_id, role, name, prefix, active, created_at, last_used_at, agents
         FROM api_keys WHERE org_id = $1 ORDER BY created_at, id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get(2)?;
            Ok(KeyInfo {
                id: r.try_get(0)?,
                org_id: r.try_get(1)?,
                role: role
                    .parse()
                    .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
                name: r.try_get(3)?,
                prefix: r.try_get(4)?,
                agents: r.try_get(8)?,
                active: r.try_get(5)?,
                created_at: r.try_get(6)?,
                last_used_at: r.try_get(7)?,
            })
        })
        .collect()
}

/// Deactivates a key of `org_id`; false if the org has no such key.
/// What [`deactivate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deactivated {
    Done,
    NotFound,
    /// The key is the organisation's last active admin key: without it
    /// nobody could manage keys, holds or retention.
    LastAdmin,
}

pub async fn deactivate(pool: &PgPool, org_id: Uuid, id: Uuid) -> Result<Deactivated, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // The organisation's admin keys, locked: two admins removing each other
    // at once cannot leave none.
    let admins: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE org_id = $1 AND role = 'admin' AND active
         ORDER BY id FOR UPDATE",
    )
    .bind(org_id)
    .fetch_all(&mut *tx)
    .await?;
    if admins == [id] {
        return Ok(Deactivated::LastAdmin);
    }
    let r = sqlx::query("UPDATE api_keys SET active = false WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(if r.rows_affected() == 1 {
        Deactivated::Done
    } else {
        Deactivated::NotFound
    })
}
