//! All SQL lives here (bound parameters only): connection, migrations,
//! partitions, and one module per area.

pub mod copy;
pub mod events;
pub mod holds;
pub mod keys;
pub mod log;
pub mod verify;

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Row};

use crate::config::{DbTimeouts, TimeWindow};

/// Embedded migrations, applied in order; the checksum of an applied one
/// must not change.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "schema",
        include_str!("../../migrations/0001_schema.sql"),
    ),
    (
        2,
        "query_indexes",
        include_str!("../../migrations/0002_query_indexes.sql"),
    ),
    (
        3,
        "search_words",
        include_str!("../../migrations/0003_search_words.sql"),
    ),
    (
        4,
        "json_payloads",
        include_str!("../../migrations/0004_json_payloads.sql"),
    ),
    (
        5,
        "partitions_ahead",
        include_str!("../../migrations/0005_partitions_ahead.sql"),
    ),
    (
        6,
        "transparency_log",
        include_str!("../../migrations/0006_transparency_log.sql"),
    ),
    (
        7,
        "key_agents",
        include_str!("../../migrations/0007_key_agents.sql"),
    ),
];

/// Advisory lock key held while migrating, so two replicas never race.
const MIGRATION_LOCK: i64 = 0x5ea1_7a11_0001;

/// A pool whose connections all `SET ROLE` to `role` (when given), so the
/// server works with the restricted role's privileges only.
pub async fn connect(url: &str, role: Option<&str>, max: u32) -> Result<PgPool, sqlx::Error> {
    connect_with(url.parse()?, role, max).await
}

/// [`connect`] with parsed options.
pub async fn connect_with(
    opts: PgConnectOptions,
    role: Option<&str>,
    max: u32,
) -> Result<PgPool, sqlx::Error> {
    connect_configured(opts, role, max, DbTimeouts::default()).await
}

/// [`connect_with`] whose connections run under `timeouts`: every
/// statement the server sends is bounded, and so is every lock wait, so no
/// request (or a stalled client behind it) holds a lock or a connection
/// for long.
pub async fn connect_configured(
    opts: PgConnectOptions,
    role: Option<&str>,
    max: u32,
    timeouts: DbTimeouts,
) -> Result<PgPool, sqlx::Error> {
    let role = match role {
        Some(r) if !r.is_empty() => {
            if !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(sqlx::Error::Configuration(
                    format!("database role {r:?} must be letters, digits and _").into(),
                ));
            }
            Some(format!("SET ROLE \"{r}\""))
        }
        _ => None,
    };
    // Milliseconds, formatted from integers: nothing here comes from a request.
    let settings = format!(
        "SET statement_timeout = {}; SET lock_timeout = {}; \
         SET idle_in_transaction_session_timeout = {}",
        timeouts.statement.as_millis().max(1),
        timeouts.lock.as_millis().max(1),
        timeouts.statement.as_millis().max(1) * 2,
    );
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            let set_role = role.clone();
            let settings = settings.clone();
            Box::pin(async move {
                if let Some(sql) = set_role {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut *conn)
                        .await?;
                }
                sqlx::raw_sql(sqlx::AssertSqlSafe(settings))
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
}

/// Applies pending migrations on one connection of the owner, under an
/// advisory lock. Returns the versions applied now.
pub async fn migrate(url: &str) -> Result<Vec<i64>, sqlx::Error> {
    migrate_with(&url.parse()?).await
}

/// [`migrate`] with parsed options.
pub async fn migrate_with(opts: &PgConnectOptions) -> Result<Vec<i64>, sqlx::Error> {
    let mut conn = PgConnection::connect_with(opts).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    let result = migrate_locked(&mut conn).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    result
}

async fn migrate_locked(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS sealtrail_migrations (
            version bigint PRIMARY KEY, name text NOT NULL, checksum bytea NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query("SELECT version, checksum FROM sealtrail_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let applied: Vec<(i64, Vec<u8>)> = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let mut done = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        let sum = sealtrail_core::hash::sha256(sql.as_bytes()).0.to_vec();
        if let Some((_, old)) = applied.iter().find(|(v, _)| v == version) {
            if *old != sum {
                return Err(sqlx::Error::Protocol(format!(
                    "migration {version} ({name}) was changed after it was applied"
                )));
            }
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO sealtrail_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(*name)
        .bind(&sum)
        .execute(&mut *tx)
        .await?;
        sqlx::raw_sql("GRANT SELECT ON sealtrail_migrations TO sealtrail_app")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done.push(*version);
    }
    Ok(done)
}

/// The versions of migrations this binary knows but the database lacks.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let applied: Vec<i64> = match sqlx::query_scalar("SELECT version FROM sealtrail_migrations")
        .fetch_all(pool)
        .await
    {
        Ok(v) => v,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => vec![],
        Err(e) => return Err(e),
    };
    Ok(MIGRATIONS
        .iter()
        .map(|m| m.0)
        .filter(|v| !applied.contains(v))
        .collect())
}

/// A read-only transaction for one long scan (verifying a whole
/// organisation, recomputing its log) without the pool's statement timeout:
/// such a scan takes as long as the data does. Every other statement keeps
/// its timeout.
pub async fn long_read(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql("SET LOCAL statement_timeout = 0; SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// `year * 12 + month0`, the key of a month.
pub fn month_key(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

/// Makes sure the partition of the month holding `day` exists (made as a
/// table, then attached: no lock that stops reads or writes, and a bounded
/// wait for the locks it takes; see migration 0005). True when made now.
pub async fn ensure_partition(pool: &PgPool, day: NaiveDate) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT sealtrail_ensure_partition($1)")
        .bind(day)
        .fetch_one(pool)
        .await
}

/// The months (see [`month_key`]) that have a partition.
pub async fn partition_months(pool: &PgPool) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT * FROM sealtrail_partition_months()")
        .fetch_all(pool)
        .await
}

/// Statements waiting more than a second for a lock in this database.
pub async fn lock_waits(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND waitstart < now() - interval '1 second'
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
}

/// The first day of each month from `from`'s through `to`'s.
pub fn months_between(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = from.with_day(1).unwrap_or(from);
    while d <= to {
        out.push(d);
        match d.checked_add_months(chrono::Months::new(1)) {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// Makes the partitions of every month from `from` through `to` that are
/// missing. Returns how many were made.
pub async fn ensure_partitions(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u32, sqlx::Error> {
    let have = partition_months(pool).await?;
    let mut made = 0;
    for d in months_between(from, to) {
        if !have.contains(&month_key(d)) && ensure_partition(pool, d).await? {
            made += 1;
        }
    }
    Ok(made)
}

/// The maintenance task's work: the partitions of the whole ingest window,
/// and of `ahead` months after this one.
pub async fn ensure_partitions_ahead(
    pool: &PgPool,
    window: &TimeWindow,
    ahead: u32,
) -> Result<u32, sqlx::Error> {
    let now = chrono::Utc::now();
    let past = chrono::Duration::from_std(window.max_past).unwrap_or(chrono::Duration::MAX);
    let from = now
        .checked_sub_signed(past)
        .map_or(
            NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
            |t| t.date_naive(),
        )
        .max(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
    let today = now.date_naive();
    let to = today
        .checked_add_months(chrono::Months::new(ahead))
        .unwrap_or(today);
    ensure_partitions(pool, from, to).await
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RetentionAction {
    pub partition: String,
    pub action: String,
    pub reason: String,
}

/// Drops the partitions past every organisation's policy and not held.
pub async fn retention_run(
    pool: &PgPool,
    dry_run: bool,
) -> Result<Vec<RetentionAction>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT partition_name, action, reason FROM sealtrail_retention_run($1)")
            .bind(dry_run)
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(RetentionAction {
                partition: r.try_get(0)?,
                action: r.try_get(1)?,
                reason: r.try_get(2)?,
            })
        })
        .collect()
}

/// Longest retention policy: 100 years (`timestamp - interval` stays in
/// range for every partition).
pub const MAX_RETENTION_DAYS: i32 = 36_500;

/// Sets an organisation's retention policy (days; None keeps forever).
pub async fn set_retention(
    pool: &PgPool,
    org: uuid::Uuid,
    days: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET retention_days = $2 WHERE id = $1")
        .bind(org)
        .bind(days)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn get_retention(pool: &PgPool, org: uuid::Uuid) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT retention_days FROM organizations WHERE id = $1")
        .bind(org)
        .fetch_one(pool)
        .await
}
