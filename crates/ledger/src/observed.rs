//! Unobserved time: the daemon's gaps, a line's own, and the time since
//! the daemon was last seen alive. It is never charged as downtime.

use crate::Ledger;
use chrono::{DateTime, TimeDelta, Utc};
use linkledger_core::budget::{merge, Span};
use linkledger_core::time::ledger_ts;
use sqlx::{AnyPool, Row};

use crate::sql::ts;
use crate::{query_err, LedgerError};

/// The unobserved parts of `span` for a line (daemon gaps and the line's
/// own), merged so that nothing is counted twice.
pub async fn unobserved_spans(
    ledger: &Ledger,
    line: &str,
    span: Span,
) -> Result<Vec<Span>, LedgerError> {
    let pool = ledger.pool();
    let away = away_since(ledger).await?;
    unobserved_spans_given(pool, line, span, away).await
}

/// [`unobserved_spans`] with the daemon's absence ([`away_since`]) already
/// read, for callers that ask about many spans.
async fn unobserved_spans_given(
    pool: &AnyPool,
    line: &str,
    span: Span,
    away: Option<DateTime<Utc>>,
) -> Result<Vec<Span>, LedgerError> {
    let rows = sqlx::query(
        "SELECT start_at, end_at FROM gaps WHERE (line IS NULL OR line = $1) AND end_at > $2 AND start_at < $3 ORDER BY start_at",
    )
    .bind(line)
    .bind(ledger_ts(span.0))
    .bind(ledger_ts(span.1))
    .fetch_all(pool)
    .await
    .map_err(query_err("read gaps"))?;
    let mut spans: Vec<Span> = rows
        .iter()
        .filter_map(|r| {
            let (a, b) = (ts(r, 0)?.max(span.0), ts(r, 1)?.min(span.1));
            (a < b).then_some((a, b))
        })
        .collect();
    // The time since the daemon was last seen is unobserved too, although
    // its gap row is written only when the daemon starts again.
    if let Some(away) = away {
        let a = away.max(span.0);
        if a < span.1 {
            spans.push((a, span.1));
        }
    }
    Ok(merge(spans))
}

/// When the latest run stopped, or was last seen alive if its heartbeat is
/// stale (killed, or a machine that went down); None while it is running.
pub async fn away_since(ledger: &Ledger) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let pool = ledger.pool();
    let row = sqlx::query(
        "SELECT heartbeat_at, stopped_at, interval_ms FROM runs ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(query_err("read latest run"))?;
    let Some(row) = row else { return Ok(None) };
    let Some(heartbeat) = ts(&row, 0) else {
        return Ok(None);
    };
    let stopped = row.get::<Option<String>, _>(1).is_some();
    let stale_after = TimeDelta::milliseconds(3 * row.get::<i64, _>(2)) + TimeDelta::seconds(2);
    Ok((stopped || crate::clock::wall_now() - heartbeat > stale_after).then_some(heartbeat))
}
