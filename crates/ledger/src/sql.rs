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
