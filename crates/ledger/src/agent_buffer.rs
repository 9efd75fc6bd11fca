//! The agent's buffer: a small SQLite file holding every round until the
//! central has acknowledged it, in sequence order. Bounded by age: rounds
//! older than `buffer_max_age` are dropped oldest first, counted and
//! logged. Sequence numbers are never reused (AUTOINCREMENT), and a fresh
//! buffer resumes after the last round the central holds.

use crate::LedgerError;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use linkledger_core::batch::Round;
use linkledger_core::time::ledger_ts;

pub struct Buffer {
    pool: SqlitePool,
}

impl Buffer {
    pub async fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .expect("static URL")
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS rounds (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, body TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// Makes the next sequence number follow `last` (what the central holds).
    pub async fn resume_after(&self, last: i64) -> Result<(), LedgerError> {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'rounds'")
                .fetch_optional(&self.pool)
                .await?;
        match current {
            Some(c) if c >= last => {}
            Some(_) => {
                sqlx::query("UPDATE sqlite_sequence SET seq = $1 WHERE name = 'rounds'")
                    .bind(last)
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ('rounds', $1)")
                    .bind(last)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Appends a round (its `seq` is assigned here) and returns its seq.
    pub async fn push(&self, mut round: Round) -> Result<i64, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let seq: i64 =
            sqlx::query_scalar("INSERT INTO rounds (at, body) VALUES ($1, '') RETURNING seq")
                .bind(ledger_ts(round.at))
                .fetch_one(&mut *tx)
                .await?;
        round.seq = seq;
        sqlx::query("UPDATE rounds SET body = $1 WHERE seq = $2")
            .bind(serde_json::to_string(&round).expect("a round serializes"))
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The oldest `limit` rounds not yet acknowledged.
    pub async fn pending(&self, limit: usize) -> Result<Vec<Round>, LedgerError> {
        let rows = sqlx::query("SELECT body FROM rounds ORDER BY seq LIMIT $1")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.get::<String, _>(0)).ok())
            .collect())
    }

    pub async fn backlog(&self) -> Result<u64, LedgerError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rounds")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The central holds every round up to `seq`.
    pub async fn ack(&self, seq: i64) -> Result<(), LedgerError> {
        sqlx::query("DELETE FROM rounds WHERE seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops rounds taken before `before`; returns how many, and adds them
    /// to the dropped total kept in the file.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM rounds WHERE at < $1")
            .bind(ledger_ts(before))
            .execute(&mut *tx)
            .await?;
        let n = done.rows_affected();
        if n > 0 {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('dropped_total', $1) \
                 ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
            )
            .bind(n as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    pub async fn dropped_total(&self) -> Result<u64, LedgerError> {
        let v: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'dropped_total'")
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// The targets last received from the central, so a restart while the
    /// central is unreachable keeps probing.
    pub async fn remember(&self, key: &str, value: &str) -> Result<(), LedgerError> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn recall(&self, key: &str) -> Result<Option<String>, LedgerError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(LedgerError::from)
    }
}
