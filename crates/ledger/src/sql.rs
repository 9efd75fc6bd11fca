//! What every query shares: reading a ledger time column back, and the
//! SQL that gives a fault's current class.

use chrono::{DateTime, Utc};
use linkledger_core::time::parse_ledger_ts;
use sqlx::Row;

/// SQL giving a fault's current class (the latest class event, else the
/// class it was opened with), for a fault aliased `f`.
pub const CURRENT_CLASS: &str = "coalesce((SELECT e.class FROM fault_events e WHERE e.fault_id = f.id AND e.kind IN ('escalated', 'reclassified', 'corrected') ORDER BY e.id DESC LIMIT 1), f.class)";

/// A ledger time column (NULL or unparsable: None).
pub(crate) fn ts(row: &sqlx::any::AnyRow, i: usize) -> Option<DateTime<Utc>> {
    row.get::<Option<String>, _>(i)
        .as_deref()
        .and_then(parse_ledger_ts)
}

/// A yes/no column: SQLite gives an integer, PostgreSQL a boolean.
pub(crate) fn flag(row: &sqlx::any::AnyRow, i: usize) -> bool {
    row.try_get::<i64, _>(i)
        .map(|v| v != 0)
        .or_else(|_| row.try_get::<bool, _>(i))
        .unwrap_or(false)
}

/// Whether a connection is to PostgreSQL (else SQLite).
pub(crate) fn is_postgres(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// The key PostgreSQL's writers of the ledger serialise on: the one lock
/// every transaction that adds a chain link holds until it commits (the
/// chain triggers take it too), as SQLite's single writer lock does.
pub(crate) const WRITE_LOCK: i64 = 0x6c6e_6b6c_6467_7200;

/// Begins a transaction that reads then writes with the write lock taken
/// first, so nothing commits between its checks and its writes: SQLite's
/// `BEGIN IMMEDIATE`, PostgreSQL's transaction-scoped advisory lock.
pub(crate) async fn begin_write(
    conn: &mut sqlx::AnyConnection,
) -> Result<sqlx::Transaction<'_, sqlx::Any>, sqlx::Error> {
    use sqlx::Connection;
    if is_postgres(conn) {
        let mut tx = conn.begin().await?;
        lock_writes(&mut tx).await?;
        Ok(tx)
    } else {
        conn.begin_with("BEGIN IMMEDIATE").await
    }
}

/// [`begin_write`] on a connection taken from the pool.
pub(crate) async fn begin_write_pooled(
    ledger: &crate::Ledger,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match ledger.backend() {
        crate::Backend::Postgres => {
            let mut tx = ledger.pool().begin().await?;
            lock_writes(&mut tx).await?;
            Ok(tx)
        }
        crate::Backend::Sqlite => ledger.pool().begin_with("BEGIN IMMEDIATE").await,
    }
}

pub(crate) async fn lock_writes(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT count(*) FROM (SELECT pg_advisory_xact_lock($1)) AS l")
        .bind(WRITE_LOCK)
        .execute(conn)
        .await
        .map(|_| ())
}

/// SQL naming the storage class of a column's value as SQLite's `typeof`
/// does ('null', 'integer', 'real', 'text', 'blob'); on PostgreSQL, from
/// the column's type. `col` is a checked identifier.
pub(crate) fn type_of(postgres: bool, col: &str) -> String {
    if postgres {
        format!(
            "CASE WHEN \"{col}\" IS NULL THEN 'null' ELSE CASE pg_typeof(\"{col}\")::text \
             WHEN 'bigint' THEN 'integer' WHEN 'integer' THEN 'integer' WHEN 'double precision' THEN 'real' \
             WHEN 'bytea' THEN 'blob' ELSE 'text' END END"
        )
    } else {
        format!("typeof(\"{col}\")")
    }
}

/// The column a chain link's `record_id` names a row of: `id`, or for a
/// table keyed otherwise its row id (SQLite's `rowid`; on PostgreSQL a
/// column of that name).
pub(crate) fn row_key(table: &str) -> &'static str {
    match table {
        "fault_links" | "journal_replays" => "rowid",
        _ => "id",
    }
}
