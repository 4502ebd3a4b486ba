//! Legal holds: while active, retention keeps every partition they overlap.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    pub id: Uuid,
    pub agent_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub reason: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

const COLS: &str = "id, agent_id, from_ts, to_ts, reason, created_by, created_at, released_at";

fn from_row(r: &sqlx::postgres::PgRow) -> Result<Hold, sqlx::Error> {
    Ok(Hold {
        id: r.try_get(0)?,
        agent_id: r.try_get(1)?,
        from: r.try_get(2)?,
        to: r.try_get(3)?,
        reason: r.try_get(4)?,
        created_by: r.try_get(5)?,
        created_at: r.try_get(6)?,
        released_at: r.try_get(7)?,
    })
}

pub async fn create(
    pool: &PgPool,
    org_id: Uuid,
    agent_id: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    reason: &str,
    by: Uuid,
) -> Result<Hold, sqlx::Error> {
    let sql = format!(
        "INSERT INTO legal_holds (id, org_id, agent_id, from_ts, to_ts, reason, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(org_id)
        .bind(agent_id)
        .bind(from)
        .bind(to)
        .bind(reason)
        .bind(by)
        .fetch_one(pool)
        .await?;
    from_row(&row)
}

pub async fn list(pool: &PgPool, org_id: Uuid) -> Result<Vec<Hold>, sqlx::Error> {
    let sql = format!("SELECT {COLS} FROM legal_holds WHERE org_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Releases an active hold of `org_id`; false if there is none.
pub async fn release(pool: &PgPool, org_id: Uuid, id: Uuid, by: Uuid) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE legal_holds SET released_at = now(), released_by = $3
         WHERE org_id = $1 AND id = $2 AND released_at IS NULL",
    )
    .bind(org_id)
    .bind(id)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}
