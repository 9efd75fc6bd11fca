//! Path evidence in the ledger (`path_traces`): written by the ledger
//! writer (the monitor's traces) and the agent ingest (the agents'), read
//! by the fault record.

use crate::Ledger;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{query_err, LedgerError};
use linkledger_core::path::{HopRecord, PathRecord};
use linkledger_core::time::{ledger_ts, parse_ledger_ts};

/// Appends the traceroutes taken for an outage (`outage_start` names the
/// line's, block None, or block's outage) and queues a `path_evidence`
/// notice for the line's fault (not the egress fault it may also be part
/// of): where each path stops.
pub(crate) async fn record_for_outage(
    conn: &mut AnyConnection,
    line: &str,
    block: Option<&str>,
    outage_start: Option<DateTime<Utc>>,
    origin: &str,
    paths: &[PathRecord],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for p in paths {
        insert_on(conn, line, block, outage_start, origin, p, now).await?;
    }
    let Some(start) = outage_start else {
        return Ok(());
    };
    let Some(outage): Option<i64> = sqlx::query_scalar(
        "SELECT id FROM outages WHERE line = $1 AND block IS NOT DISTINCT FROM $2 AND start_at = $3",
    )
    .bind(line)
    .bind(block)
    .bind(ledger_ts(start))
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    let traces: Vec<serde_json::Value> = paths
        .iter()
        .map(|p| {
            serde_json::json!({
                "target": p.target,
                "reached": p.reached(),
                "last_hop": p.last_hop().map(|a| a.to_string()),
            })
        })
        .collect();
    let detail = serde_json::json!({ "outage": outage, "origin": origin, "traces": traces });
    queue_notice(conn, line, outage, origin, detail, now).await
}

/// Queues the `path_evidence` notice of `origin`'s traces for an outage,
/// for the line's own fault (not the egress fault it may also be part
/// of); once per outage and origin.
async fn queue_notice(
    conn: &mut AnyConnection,
    line: &str,
    outage: i64,
    origin: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let fault: Option<i64> = sqlx::query_scalar(
        "SELECT k.fault_id FROM fault_links k JOIN faults f ON f.id = k.fault_id \
         WHERE k.kind = 'outage' AND k.ref_id = $1 AND f.line = $2 ORDER BY k.fault_id LIMIT 1",
    )
    .bind(outage)
    .bind(line)
    .fetch_optional(&mut *conn)
    .await?;
    let mut notice = super::outbox::NewNotice::about(
        super::outbox::NoticeKind::PathEvidence,
        format!("path:{outage}:{origin}"),
        Some(line.to_string()),
        now,
        detail,
    );
    notice.fault = fault;
    super::outbox::queue(conn, &notice).await.map(|_| ())
}

pub(crate) async fn insert_on(
    conn: &mut AnyConnection,
    line: &str,
    block: Option<&str>,
    outage_start: Option<DateTime<Utc>>,
    origin: &str,
    path: &PathRecord,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO path_traces (line, block, outage_id, origin, target, taken_at, reached, last_hop, hops, recorded_at) \
         VALUES ($1, $2, (SELECT id FROM outages WHERE line = $1 AND block IS NOT DISTINCT FROM $2 AND start_at = $3), $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(line)
    .bind(block)
    .bind(outage_start.map(ledger_ts))
    .bind(origin)
    .bind(&path.target)
    .bind(ledger_ts(path.taken_at))
    .bind(i64::from(path.reached()))
    .bind(path.last_hop().map(|a| a.to_string()))
    .bind(serde_json::to_string(&path.hops).expect("hops serialize"))
    .bind(ledger_ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A traceroute as the fault record shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PathView {
    pub id: i64,
    pub line: String,
    pub block: Option<String>,
    pub outage: Option<i64>,
    /// "monitor" or the agent's id.
    pub origin: String,
    pub target: String,
    pub taken_at: DateTime<Utc>,
    pub reached: bool,
    /// The last address that answered.
    pub last_hop: Option<String>,
    pub hops: Vec<HopRecord>,
}

/// The traces of an outage: the monitor's taken for it, and for a block
/// outage the agents' to that block taken from a minute before its start
/// to its end.
pub async fn of_outage(
    ledger: &Ledger,
    outage: i64,
    now: DateTime<Utc>,
) -> Result<Vec<PathView>, LedgerError> {
    let pool = ledger.pool();
    let Some(o) = sqlx::query("SELECT line, block, start_at, end_at FROM outages WHERE id = $1")
        .bind(outage)
        .fetch_optional(pool)
        .await
        .map_err(query_err("read outage"))?
    else {
        return Ok(Vec::new());
    };
    let block: Option<String> = o.get(1);
    let start = parse_ledger_ts(&o.get::<String, _>(2)).unwrap_or(now);
    let end = o
        .get::<Option<String>, _>(3)
        .as_deref()
        .and_then(parse_ledger_ts)
        .unwrap_or(now);
    let rows = sqlx::query(
        "SELECT id, line, block, outage_id, origin, target, taken_at, reached, last_hop, hops FROM path_traces \
         WHERE outage_id = $1 OR ($2 IS NOT NULL AND outage_id IS NULL AND line = $3 AND block = $2 AND taken_at >= $4 AND taken_at <= $5) \
         ORDER BY taken_at, id",
    )
    .bind(outage)
    .bind(&block)
    .bind(o.get::<String, _>(0))
    .bind(ledger_ts(start - TimeDelta::minutes(1)))
    .bind(ledger_ts(end))
    .fetch_all(pool)
    .await
    .map_err(query_err("read path evidence"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(PathView {
                id: r.get(0),
                line: r.get(1),
                block: r.get(2),
                outage: r.get(3),
                origin: r.get(4),
                target: r.get(5),
                taken_at: parse_ledger_ts(&r.get::<String, _>(6))?,
                reached: crate::sql::flag(r, 7),
                last_hop: r.get(8),
                hops: serde_json::from_str(&r.get::<String, _>(9)).ok()?,
            })
        })
        .collect())
}

/// Queues a `path_evidence` notice per agent for a block outage (id
/// `outage`, started at `start`): the paths each agent traced to that block
/// from a minute before the start. Called when the outage opens and when
/// an agent's trace arrives while it is going on (or just over); each
/// agent's notice is queued once.
pub(crate) async fn notify_block_paths(
    conn: &mut AnyConnection,
    line: &str,
    block: &str,
    outage: i64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT origin, target, reached, last_hop FROM path_traces \
         WHERE line = $1 AND block = $2 AND outage_id IS NULL AND taken_at >= $3 ORDER BY origin, taken_at, id",
    )
    .bind(line)
    .bind(block)
    .bind(ledger_ts(start - TimeDelta::minutes(1)))
    .fetch_all(&mut *conn)
    .await?;
    let mut origins: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    origins.dedup();
    for origin in origins {
        let traces: Vec<serde_json::Value> = rows
            .iter()
            .filter(|r| r.get::<String, _>(0) == origin)
            .map(|r| {
                serde_json::json!({
                    "origin": origin,
                    "target": r.get::<String, _>(1),
                    "reached": crate::sql::flag(r, 2),
                    "last_hop": r.get::<Option<String>, _>(3),
                })
            })
            .collect();
        let detail = serde_json::json!({ "outage": outage, "origin": origin, "block": block, "traces": traces });
        queue_notice(conn, line, outage, &origin, detail, now).await?;
    }
    Ok(())
}

/// An agent's trace to `block` just stored: when a block outage of it is
/// going on or ended within the minute, its notice goes out now.
pub(crate) async fn notify_if_block_down(
    conn: &mut AnyConnection,
    line: &str,
    block: &str,
    taken_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, start_at FROM outages WHERE line = $1 AND block = $2 \
         AND start_at <= $3 AND (end_at IS NULL OR end_at >= $4) ORDER BY start_at DESC LIMIT 1",
    )
    .bind(line)
    .bind(block)
    .bind(ledger_ts(taken_at + TimeDelta::minutes(1)))
    .bind(ledger_ts(taken_at - TimeDelta::minutes(1)))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(()) };
    let Some(start) = parse_ledger_ts(&r.get::<String, _>(1)) else {
        return Ok(());
    };
    notify_block_paths(conn, line, block, r.get(0), start, now).await
}
