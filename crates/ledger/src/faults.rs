//! Fault tickets opened, escalated and resolved by the ledger writer, in
//! the same transaction as the outage or degradation that caused them, so
//! a fault exists exactly when its cause does.
//!
//! - An outage on a line opens a fault of class `line_down` (general by
//!   default), or joins the line's open fault (a degradation) and
//!   escalates it when `line_down` is the higher class.
//! - A block outage (the line's public block unreachable from outside)
//!   opens a fault of class `ip_block_unreachable` (major by default), or
//!   joins and escalates the line's open fault.
//! - When every configured line is down at once, an egress fault opens
//!   (`egress_down`, major) and each line's open fault escalates to it.
//! - A degradation opens a fault of class `degradation` (general), or
//!   joins the line's open fault.
//! - A line's fault is resolved when every outage and degradation linked
//!   to it has ended, at the latest end; the egress fault when the first
//!   line comes back. Classes only go up automatically; a lower class
//!   takes an operator's reclassification with a reason.

use crate::{Ledger, LedgerError};
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use super::outbox::{self, NewNotice, NoticeKind};
use linkledger_core::fault::{FaultClass, Trigger};
use linkledger_core::time::{ledger_ts, parse_ledger_ts};

pub use linkledger_core::fault::FaultRules;

use crate::sql::CURRENT_CLASS;

async fn open_fault_of(
    conn: &mut AnyConnection,
    line: Option<&str>,
) -> Result<Option<(i64, FaultClass)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT f.id, {CURRENT_CLASS} FROM faults f WHERE f.line IS NOT DISTINCT FROM $1 AND f.resolved_at IS NULL"
    ))
    .bind(line)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| {
        let class: String = r.get(1);
        (
            r.get(0),
            FaultClass::parse(&class).unwrap_or(FaultClass::Major),
        )
    }))
}

/// Opens a fault and queues its `fault_opened` notice.
async fn insert_fault(
    conn: &mut AnyConnection,
    line: Option<&str>,
    detected: DateTime<Utc>,
    trigger: Trigger,
    class: FaultClass,
    run_id: i64,
) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar(
        "INSERT INTO faults (line, detected_at, trigger, class, run_opened) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(line)
    .bind(ledger_ts(detected))
    .bind(trigger.as_str())
    .bind(class.as_str())
    .bind(run_id)
    .fetch_one(&mut *conn)
    .await?;
    let notice = NewNotice::fault(NoticeKind::FaultOpened, id, line, class, detected, "opened")
        .with(serde_json::json!({ "trigger": trigger.as_str() }));
    outbox::queue(conn, &notice).await?;
    Ok(id)
}

async fn link(
    conn: &mut AnyConnection,
    fault: i64,
    kind: &str,
    ref_id: i64,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(fault)
    .bind(kind)
    .bind(ref_id)
    .bind(ledger_ts(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends an automatic escalation when `to` is above the fault's class,
/// and queues its notice.
async fn escalate(
    conn: &mut AnyConnection,
    line: Option<&str>,
    fault: (i64, FaultClass),
    to: FaultClass,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    if to <= fault.1 {
        return Ok(());
    }
    tracing::warn!(
        fault = fault.0,
        from = fault.1.as_str(),
        to = to.as_str(),
        reason,
        "fault escalated"
    );
    sqlx::query("INSERT INTO fault_events (fault_id, at, recorded_at, kind, class, text) VALUES ($1, $2, $3, 'escalated', $4, $5)")
        .bind(fault.0)
        .bind(ledger_ts(at))
        .bind(ledger_ts(crate::clock::wall_now()))
        .bind(to.as_str())
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    // Keyed by its time too: a fault reclassified down by an operator may
    // be escalated to the same class again, and that is news again.
    let what = format!("escalated:{}:{}", to.as_str(), ledger_ts(at));
    let notice = NewNotice::fault(NoticeKind::FaultEscalated, fault.0, line, to, at, &what)
        .with(serde_json::json!({ "from": fault.1.as_str(), "reason": reason }));
    outbox::queue(conn, &notice).await?;
    Ok(())
}

/// A line's outage was just inserted with id `outage`.
pub(crate) async fn outage_opened(
    conn: &mut AnyConnection,
    rules: &FaultRules,
    line: &str,
    outage: i64,
    start: DateTime<Utc>,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    let fault = join_or_open(conn, rules, line, start, run_id, Trigger::LineDown).await?;
    link(conn, fault, "outage", outage, start).await?;
    egress_check(conn, rules, start, run_id).await
}

/// A block outage (the line's public block unreachable from outside) was
/// just inserted with id `outage`: it opens a fault of class
/// `ip_block_unreachable` (major by default) or joins the line's open one.
/// The egress is not down for it: outbound traffic still flows.
pub(crate) async fn block_outage_opened(
    conn: &mut AnyConnection,
    rules: &FaultRules,
    line: &str,
    outage: i64,
    start: DateTime<Utc>,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    let fault = join_or_open(
        conn,
        rules,
        line,
        start,
        run_id,
        Trigger::IpBlockUnreachable,
    )
    .await?;
    link(conn, fault, "outage", outage, start).await
}

/// The line's open fault, escalated to the trigger's class when that is
/// higher, or a new fault for the trigger.
async fn join_or_open(
    conn: &mut AnyConnection,
    rules: &FaultRules,
    line: &str,
    start: DateTime<Utc>,
    run_id: i64,
    trigger: Trigger,
) -> Result<i64, sqlx::Error> {
    let class = rules.classes.class_of(trigger);
    let reason = match trigger {
        Trigger::IpBlockUnreachable => "the public IP block is unreachable from outside",
        _ => "the line went down (outage)",
    };
    Ok(match open_fault_of(conn, Some(line)).await? {
        Some(f) => {
            escalate(conn, Some(line), f, class, start, reason).await?;
            f.0
        }
        None => {
            let id = insert_fault(conn, Some(line), start, trigger, class, run_id).await?;
            tracing::warn!(
                line,
                fault = id,
                class = class.as_str(),
                trigger = trigger.as_str(),
                "fault opened"
            );
            id
        }
    })
}

/// Opens the egress fault when every configured line has an open outage.
async fn egress_check(
    conn: &mut AnyConnection,
    rules: &FaultRules,
    at: DateTime<Utc>,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    if rules.lines.is_empty() {
        return Ok(());
    }
    // The lines' own outages: a block unreachable from outside leaves the
    // line's outbound traffic flowing.
    let open = sqlx::query(
        "SELECT id, line, start_at FROM outages WHERE end_at IS NULL AND block IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    let open: Vec<(i64, String, DateTime<Utc>)> = open
        .iter()
        .filter_map(|r| Some((r.get(0), r.get(1), parse_ledger_ts(&r.get::<String, _>(2))?)))
        .filter(|(_, l, _)| rules.lines.contains(l))
        .collect();
    if !rules
        .lines
        .iter()
        .all(|l| open.iter().any(|(_, o, _)| o == l))
    {
        return Ok(());
    }
    let class = rules.classes.class_of(Trigger::EgressDown);
    // The egress went down when its last line did.
    let since = open.iter().map(|o| o.2).max().unwrap_or(at);
    let egress = match open_fault_of(conn, None).await? {
        Some(f) => f.0,
        None => {
            let id = insert_fault(conn, None, since, Trigger::EgressDown, class, run_id).await?;
            tracing::error!(
                fault = id,
                lines = rules.lines.len(),
                "the whole egress is down: fault opened"
            );
            id
        }
    };
    let reason = format!("the whole egress is down (all {} lines)", rules.lines.len());
    for (outage, line, _) in &open {
        link(conn, egress, "outage", *outage, since).await?;
        if let Some(f) = open_fault_of(conn, Some(line)).await? {
            escalate(conn, Some(line), f, class, since, &reason).await?;
        }
    }
    Ok(())
}

/// A degradation was just inserted with id `degradation`.
pub(crate) async fn degradation_started(
    conn: &mut AnyConnection,
    rules: &FaultRules,
    line: &str,
    degradation: i64,
    start: DateTime<Utc>,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    let class = rules.classes.class_of(Trigger::Degradation);
    let fault = match open_fault_of(conn, Some(line)).await? {
        Some(f) => {
            escalate(conn, Some(line), f, class, start, "degradation").await?;
            f.0
        }
        None => {
            let id =
                insert_fault(conn, Some(line), start, Trigger::Degradation, class, run_id).await?;
            tracing::warn!(line, fault = id, class = class.as_str(), "fault opened");
            id
        }
    };
    link(conn, fault, "degradation", degradation, start).await
}

/// Resolves every open fault whose causes are over: a line's fault when all
/// its linked outages and degradations have ended (at the latest end), the
/// egress fault when any of its outages has (at the earliest end).
pub(crate) async fn resolve_finished(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT f.id, f.line IS NULL, \
           count(CASE WHEN coalesce(o.end_at, d.end_at) IS NULL THEN 1 END), \
           max(coalesce(o.end_at, d.end_at)), min(coalesce(o.end_at, d.end_at)), \
           f.line, f.detected_at, {CURRENT_CLASS} \
         FROM faults f JOIN fault_links k ON k.fault_id = f.id \
         LEFT JOIN outages o ON k.kind = 'outage' AND o.id = k.ref_id \
         LEFT JOIN degradations d ON k.kind = 'degradation' AND d.id = k.ref_id \
         WHERE f.resolved_at IS NULL GROUP BY f.id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let (id, egress, still_open): (i64, bool, i64) =
            (r.get(0), crate::sql::flag(&r, 1), r.get(2));
        let (latest, earliest): (Option<String>, Option<String>) = (r.get(3), r.get(4));
        let at = match (egress, still_open) {
            (false, 0) => latest,
            (true, _) => earliest,
            _ => None,
        };
        if let Some(at) = at {
            sqlx::query("UPDATE faults SET resolved_at = $1 WHERE id = $2 AND resolved_at IS NULL")
                .bind(&at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            tracing::info!(fault = id, resolved = at, "fault resolved");
            let line: Option<String> = r.get(5);
            let class = FaultClass::parse(&r.get::<String, _>(7)).unwrap_or(FaultClass::Major);
            let (Some(detected), Some(resolved)) = (
                parse_ledger_ts(&r.get::<String, _>(6)),
                parse_ledger_ts(&at),
            ) else {
                continue;
            };
            let secs = (resolved - detected).num_milliseconds() as f64 / 1000.0;
            let notice = NewNotice::fault(
                NoticeKind::FaultResolved,
                id,
                line.as_deref(),
                class,
                resolved,
                "resolved",
            )
            .with(serde_json::json!({ "duration_seconds": secs }));
            outbox::queue(conn, &notice).await?;
        }
    }
    Ok(())
}

/// Appends a `deadline_breached` event for each breached deadline of the
/// given faults not yet recorded (at the deadline's due time, with the
/// class it was judged against), and queues its notice in the same
/// transaction. Returns the breaches newly recorded.
pub async fn record_breaches(
    ledger: &Ledger,
    faults: &[super::records::FaultView],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, &'static str)>, LedgerError> {
    let pool = ledger.pool();
    use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
    let mut out = Vec::new();
    for f in faults {
        for d in f
            .deadlines
            .iter()
            .filter(|d| d.state == DeadlineState::Breached)
        {
            let Some(due) = d.due else { continue };
            // The class it was judged against (resolution), else the fault's.
            let class = d.class.unwrap_or(f.class);
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO fault_events (fault_id, at, recorded_at, kind, class, deadline, text) \
                 VALUES ($1, $2, $3, 'deadline_breached', $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(f.id)
            .bind(ledger_ts(due))
            .bind(ledger_ts(now))
            .bind(class.as_str())
            .bind(d.kind.as_str())
            .bind(format!("{} deadline passed", d.kind.as_str()))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            let kind = if d.kind == DeadlineKind::RepairReport {
                NoticeKind::RepairReportOverdue
            } else {
                NoticeKind::DeadlineBreached
            };
            let what = format!("breached:{}", d.kind.as_str());
            let notice = NewNotice::fault(kind, f.id, f.line.as_deref(), class, due, &what)
                .with(serde_json::json!({ "deadline": d.kind.as_str(), "due": ledger_ts(due) }));
            outbox::queue(&mut tx, &notice).await?;
            crate::chain::commit_sealed(tx).await?;
            tracing::warn!(
                fault = f.id,
                line = f.line.as_deref().unwrap_or(linkledger_core::EGRESS),
                class = class.as_str(),
                deadline = d.kind.as_str(),
                due = %ledger_ts(due),
                "fault deadline breached"
            );
            out.push((f.id, d.kind.as_str()));
        }
    }
    Ok(out)
}

/// Queues a `deadline_approaching` notice, once, for each pending deadline
/// due within `lead` of `now`.
pub async fn record_approaching(
    ledger: &Ledger,
    faults: &[super::records::FaultView],
    now: DateTime<Utc>,
    lead: chrono::TimeDelta,
) -> Result<(), LedgerError> {
    let pool = ledger.pool();
    use linkledger_core::fault::deadline::DeadlineState;
    for f in faults {
        for d in &f.deadlines {
            let Some(due) = d.due else { continue };
            if d.state != DeadlineState::Pending || due - lead > now || due <= now {
                continue;
            }
            // A new due time (the class changed) is worth a new warning.
            let what = format!("approaching:{}:{}", d.kind.as_str(), ledger_ts(due));
            let notice = NewNotice::fault(
                NoticeKind::DeadlineApproaching,
                f.id,
                f.line.as_deref(),
                f.class,
                now,
                &what,
            )
            .with(serde_json::json!({ "deadline": d.kind.as_str(), "due": ledger_ts(due) }));
            let mut conn = pool.acquire().await?;
            outbox::queue(&mut conn, &notice).await?;
        }
    }
    Ok(())
}
