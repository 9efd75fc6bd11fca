//! The ledger: an SQLite file that can stand as evidence.
//!
//! Opened in WAL mode with `synchronous=FULL`; the schema lives in
//! `migrations/` and is applied at start-up. Writes go through one writer
//! task ([`write`]) that retries until the database accepts them; reads
//! ([`read`]) work beside a running daemon.

pub mod actions;
pub mod agent_buffer;
pub mod budget;
pub mod clock;
pub mod day_rollups;
pub mod evidence;
pub mod faults;
pub mod observed;
pub mod operator;
pub mod outbox;
pub mod paths;
pub mod read;
pub mod records;
pub mod run;
pub mod sql;
pub mod terms;
pub mod vantage;
pub mod write;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot open the ledger {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot apply the ledger schema to {path}: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("no ledger at {path}: the daemon creates it on its first start (linkledger run)")]
    Missing { path: String },
    #[error("ledger {operation} failed: {source}")]
    Query {
        operation: &'static str,
        source: sqlx::Error,
    },
}

pub fn query_err(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LedgerError {
    move |source| LedgerError::Query { operation, source }
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite:")
        .expect("static URL")
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
}

/// Opens (creating if needed) the ledger for the daemon and applies the schema.
pub async fn open(path: &Path) -> Result<SqlitePool, LedgerError> {
    let p = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LedgerError::Open {
            path: p.clone(),
            source: sqlx::Error::Io(e),
        })?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options(path).create_if_missing(true))
        .await
        .map_err(|source| LedgerError::Open {
            path: p.clone(),
            source,
        })?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(|source| LedgerError::Migrate { path: p, source })?;
    Ok(pool)
}

/// Opens an existing ledger for an operator's writes (the CLI): never
/// creates one, applies the schema if it is behind.
pub async fn open_existing(path: &Path) -> Result<SqlitePool, LedgerError> {
    if !path.exists() {
        return Err(LedgerError::Missing {
            path: path.display().to_string(),
        });
    }
    open(path).await
}

/// Opens an existing ledger for reading (the CLI's `outages`, `gaps`).
pub async fn open_for_reading(path: &Path) -> Result<SqlitePool, LedgerError> {
    let p = path.display().to_string();
    if !path.exists() {
        return Err(LedgerError::Missing { path: p });
    }
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options(path).read_only(true))
        .await
        .map_err(|source| LedgerError::Open { path: p, source })
}
