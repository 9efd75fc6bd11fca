//! Reading the ledger: outages and gaps as the CLI shows them, the
//! unobserved parts of a span, and traffic samples. The contract figures
//! for a period are in [`super::budget`].
//!
//! Charged downtime is outage time minus the unobserved time inside it: the
//! design's rule is that unobserved time is never up and never down.

use crate::Ledger;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{query_err, LedgerError};
pub use crate::observed::{away_since, unobserved_spans};
pub(crate) use crate::sql::ts;
use linkledger_core::budget::{secs, total};
use linkledger_core::time::ledger_ts;

/// An outage as the CLI and reports present it.
#[derive(Debug, Clone, Serialize)]
pub struct OutageView {
    pub id: i64,
    pub line: String,
    pub start: DateTime<Utc>,
    /// Last round with evidence before the start (the start's lower bound).
    pub start_after: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Last failed round (the end's lower bound).
    pub end_after: Option<DateTime<Utc>>,
    /// End (or now, while open) minus start.
    pub duration_s: f64,
    /// Unobserved time inside the outage.
    pub unobserved_s: f64,
    /// Observed time inside the outage excluded from the charge (force
    /// majeure, and approved maintenance where the contract excludes it).
    pub excluded_s: f64,
    /// Duration minus unobserved and excluded time: what the carrier is
    /// charged, the same figure as the budget and the reports count.
    pub charged_s: f64,
    /// The most specific cause known: the interface's own status (SNMP)
    /// when it was seen during the outage, else the cause it was declared with.
    pub cause: String,
    /// The cause the outage was declared with (from the probes, or SNMP).
    pub declared_cause: String,
    pub interval_s: f64,
    /// The public block unreachable from outside (a block outage, cause
    /// ip_block_unreachable); None: the line itself, seen from inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
}

/// A wall-clock step a run saw (see migration 0015).
#[derive(Debug, Clone, Serialize)]
pub struct ClockStepView {
    pub run_id: i64,
    pub run_time: DateTime<Utc>,
    pub wall_time: DateTime<Utc>,
    /// Wall clock minus the run's timeline, in seconds.
    pub step_s: f64,
    pub followed: bool,
}

/// A gap in observation.
#[derive(Debug, Clone, Serialize)]
pub struct GapView {
    pub line: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration_s: f64,
    pub reason: String,
}

/// Outages, oldest first; `since` keeps those still going at or after it.
/// Each is charged as the budget charges it (the terms say which
/// maintenance is excluded).
pub async fn outages(
    ledger: &Ledger,
    line: Option<&str>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    terms: &linkledger_config::Terms,
) -> Result<Vec<OutageView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT o.id, o.line, o.start_at, o.start_after, o.end_at, o.end_after, \
         coalesce((SELECT c.cause FROM outage_causes c WHERE c.outage_id = o.id ORDER BY c.seen_at, c.id LIMIT 1), o.cause), \
         o.interval_ms, o.cause, o.block FROM outages o \
         WHERE ($1 IS NULL OR o.line = $1) AND ($2 IS NULL OR o.end_at IS NULL OR o.end_at >= $2) ORDER BY o.start_at, o.id",
    )
    .bind(line)
    .bind(since.map(ledger_ts))
    .fetch_all(pool)
    .await
    .map_err(query_err("read outages"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let line: String = row.get(1);
        let start = ts(&row, 2).unwrap_or(now);
        let end = ts(&row, 4);
        let span = (start, end.unwrap_or(now).max(start));
        let records = super::budget::line_records(ledger, &line, span, terms).await?;
        let d = linkledger_core::budget::Downtime::of_line(
            &records,
            span,
            terms.approved_maintenance_counts,
        );
        let duration = span.1 - span.0;
        out.push(OutageView {
            id: row.get(0),
            line,
            start,
            start_after: ts(&row, 3),
            end,
            end_after: ts(&row, 5),
            duration_s: secs(duration),
            unobserved_s: secs(total(&d.unobserved)),
            excluded_s: secs(total(&d.excluded_force_majeure) + total(&d.excluded_maintenance)),
            charged_s: secs(total(&d.charged)),
            cause: row.get(6),
            declared_cause: row.get(8),
            interval_s: row.get::<i64, _>(7) as f64 / 1000.0,
            block: row.get(9),
        });
    }
    Ok(out)
}

/// A local fault: our own side of a line did not answer (firewall, CPE,
/// the monitor's link). Never charged; the line is unobserved meanwhile.
#[derive(Debug, Clone, Serialize)]
pub struct LocalFaultView {
    pub id: i64,
    pub line: String,
    pub start: DateTime<Utc>,
    /// Last round with evidence before the start (the start's lower bound).
    pub start_after: Option<DateTime<Utc>>,
    /// None while it lasts.
    pub end: Option<DateTime<Utc>>,
    pub end_after: Option<DateTime<Utc>>,
    /// End (or now, while open) minus start: coverage lost, not charged.
    pub duration_s: f64,
}

/// Local faults overlapping `[since, until)` (either open), oldest first.
pub async fn local_faults(
    ledger: &Ledger,
    line: Option<&str>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<LocalFaultView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT id, line, start_at, start_after, end_at, end_after FROM local_faults \
         WHERE ($1 IS NULL OR line = $1) AND ($2 IS NULL OR end_at IS NULL OR end_at >= $2) \
         AND ($3 IS NULL OR start_at < $3) ORDER BY start_at, id",
    )
    .bind(line)
    .bind(since.map(ledger_ts))
    .bind(until.map(ledger_ts))
    .fetch_all(pool)
    .await
    .map_err(query_err("read local faults"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let start = ts(row, 2).unwrap_or(now);
            let end = ts(row, 4);
            LocalFaultView {
                id: row.get(0),
                line: row.get(1),
                start,
                start_after: ts(row, 3),
                end,
                end_after: ts(row, 5),
                duration_s: secs(end.unwrap_or(now).max(start) - start),
            }
        })
        .collect())
}

/// The cause an outage was declared with (None: no such outage).
pub async fn outage_cause(ledger: &Ledger, id: i64) -> Result<Option<String>, LedgerError> {
    let pool = ledger.pool();
    sqlx::query_scalar("SELECT cause FROM outages WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(query_err("read an outage's cause"))
}

/// The degradations still open, as (line, kind).
pub async fn open_degradations(ledger: &Ledger) -> Result<Vec<(String, String)>, LedgerError> {
    let pool = ledger.pool();
    let rows =
        sqlx::query("SELECT line, kind FROM degradations WHERE end_at IS NULL ORDER BY line, kind")
            .fetch_all(pool)
            .await
            .map_err(query_err("read open degradations"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Every gap in observation, oldest first.
pub async fn gaps(ledger: &Ledger) -> Result<Vec<GapView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query("SELECT line, start_at, end_at, reason FROM gaps ORDER BY start_at, id")
        .fetch_all(pool)
        .await
        .map_err(query_err("read gaps"))?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let (start, end) = (ts(row, 1)?, ts(row, 2)?);
            Some(GapView {
                line: row.get(0),
                start,
                end,
                duration_s: secs(end - start),
                reason: row.get(3),
            })
        })
        .collect())
}

/// The wall-clock steps the runs saw, oldest first.
pub async fn clock_steps(ledger: &Ledger) -> Result<Vec<ClockStepView>, LedgerError> {
    let rows = sqlx::query(
        "SELECT run_id, run_time, wall_time, step_ms, followed FROM clock_steps ORDER BY id",
    )
    .fetch_all(ledger.pool())
    .await
    .map_err(query_err("read clock steps"))?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(ClockStepView {
                run_id: row.get(0),
                run_time: ts(row, 1)?,
                wall_time: ts(row, 2)?,
                step_s: row.get::<i64, _>(3) as f64 / 1000.0,
                followed: crate::sql::flag(row, 4),
            })
        })
        .collect())
}

/// A line's 5-minute traffic samples starting in `[from, to)`, oldest first.
pub async fn traffic_samples(
    ledger: &Ledger,
    line: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<linkledger_core::traffic::TrafficSample>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT start_at, seconds_covered, avg_in_bps, avg_out_bps, max_in_bps, max_out_bps, in_errors, out_errors, \
         in_discards, out_discards FROM traffic_samples WHERE line = $1 AND start_at >= $2 AND start_at < $3 ORDER BY start_at",
    )
    .bind(line)
    .bind(ledger_ts(from))
    .bind(ledger_ts(to))
    .fetch_all(pool)
    .await
    .map_err(query_err("read traffic samples"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(linkledger_core::traffic::TrafficSample {
                line: line.to_string(),
                start: ts(r, 0)?,
                seconds: r.get(1),
                avg_in_bps: r.get(2),
                avg_out_bps: r.get(3),
                max_in_bps: r.get(4),
                max_out_bps: r.get(5),
                errors: [6, 7, 8, 9].map(|i| r.get::<i64, _>(i).max(0) as u64),
            })
        })
        .collect())
}

/// An outage of a line as a period's listing shows it.
#[derive(Debug, Clone)]
pub struct OutageTouching {
    pub id: i64,
    /// None only where the ledger's time is unreadable (left out).
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The first cause seen (the outage's own where none was recorded).
    pub cause: String,
    /// The fault the outage is linked to, if any.
    pub fault: Option<i64>,
}

/// A line's outages (its block outages included) that touch `p`, oldest
/// first, with their first cause and fault.
pub async fn outages_touching(
    ledger: &Ledger,
    line: &str,
    p: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<OutageTouching>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT o.id, o.start_at, o.end_at, \
         coalesce((SELECT c.cause FROM outage_causes c WHERE c.outage_id = o.id ORDER BY c.seen_at, c.id LIMIT 1), o.cause), \
         (SELECT l.fault_id FROM fault_links l WHERE l.kind = 'outage' AND l.ref_id = o.id ORDER BY l.fault_id LIMIT 1) \
         FROM outages o WHERE o.line = $1 AND o.start_at < $2 AND (o.end_at IS NULL OR o.end_at > $3) ORDER BY o.start_at, o.id",
    )
    .bind(line)
    .bind(ledger_ts(p.1))
    .bind(ledger_ts(p.0))
    .fetch_all(pool)
    .await
    .map_err(query_err("read outages"))?;
    Ok(rows
        .iter()
        .map(|r| OutageTouching {
            id: r.get(0),
            start: ts(r, 1),
            end: ts(r, 2),
            cause: r.get(3),
            fault: r.get(4),
        })
        .collect())
}

/// How many outages a line has had (block outages included), for the
/// metrics' running count at start.
pub async fn outage_count(ledger: &Ledger, line: &str) -> Result<i64, LedgerError> {
    let pool = ledger.pool();
    sqlx::query_scalar("SELECT count(*) FROM outages WHERE line = $1")
        .bind(line)
        .fetch_one(pool)
        .await
        .map_err(query_err("count outages"))
}

/// Echoes the ledger holds for each of a line's targets in each minute
/// from `since` on: (tier, target, minute) → sent. A standby taking over
/// leaves out as many of its own rounds in those minutes, which the
/// leader had already counted.
pub async fn minute_counts(
    ledger: &Ledger,
    line: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<std::collections::HashMap<(String, String, String), i64>, LedgerError> {
    let rows = sqlx::query(
        "SELECT tier, target, minute, sent FROM probe_minutes WHERE line = $1 AND minute >= $2",
    )
    .bind(line)
    .bind(linkledger_core::time::ledger_ts(
        linkledger_core::rollup::minute_of(since),
    ))
    .fetch_all(ledger.pool())
    .await
    .map_err(query_err("read the minutes' echo counts"))?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get::<i64, _>(3)))
        .collect())
}
