//! What people record: a fault's timeline (acknowledged, on site, repair
//! report received, carrier ticket, notes), reclassification, exclusions,
//! maintenance windows, withdrawals and drills. The API and the CLI both
//! come here. Each action is checked against the ledger as it stands and,
//! if accepted, written in one transaction together with its audit-log
//! row; a rejected action writes nothing.

use crate::Ledger;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

pub use super::actions::*;
use super::records::{fault_on, FaultView};
use super::{query_err, LedgerError};
use linkledger_config::Config;
use linkledger_core::time::ledger_ts;

/// How the acting person came in: `api:<token name>` or `cli:<user>`
/// (the person is the request's `by`).
#[derive(Debug, Clone)]
pub struct Actor {
    pub via: String,
}

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    NotFound(String),
    /// Refused by the state of the ledger (the contract does not allow it).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, ActionError> {
    Err(ActionError::Invalid(msg.into()))
}

fn conflict<T>(msg: impl Into<String>) -> Result<T, ActionError> {
    Err(ActionError::Conflict(msg.into()))
}

const MAX_TEXT: usize = 4000;
/// How far in the future a reported time may be (clock skew).
const SKEW: TimeDelta = TimeDelta::minutes(2);

fn text(field: &str, v: &str, required: bool) -> Result<(), ActionError> {
    if required && v.trim().is_empty() {
        return invalid(format!("{field} must not be empty"));
    }
    if v.chars().count() > MAX_TEXT {
        return invalid(format!("{field} is longer than {MAX_TEXT} characters"));
    }
    Ok(())
}

fn not_future(field: &str, t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ActionError> {
    when(field, t)?;
    if t > now + SKEW {
        return invalid(format!("{field} {} is in the future", ledger_ts(t)));
    }
    Ok(())
}

/// A time the ledger can hold: no leap second (second 60), a year from
/// 1970 to 9999.
fn when(field: &str, t: DateTime<Utc>) -> Result<(), ActionError> {
    use chrono::{Datelike, Timelike};
    if t.nanosecond() >= 1_000_000_000 {
        return invalid(format!(
            "{field}: second 60 (a leap second) is not a time the ledger records; use :59"
        ));
    }
    if !(1970..=9999).contains(&t.year()) {
        return invalid(format!(
            "{field}: the year {} is not one the ledger records (1970 to 9999)",
            t.year()
        ));
    }
    Ok(())
}

/// A range of at least one millisecond, the ledger's resolution.
fn span(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), ActionError> {
    when("start", start)?;
    when("end", end)?;
    if end < start {
        return invalid(format!(
            "the time range ends ({}) before it starts ({})",
            ledger_ts(end),
            ledger_ts(start)
        ));
    }
    if end.timestamp_millis() <= start.timestamp_millis() {
        return invalid(format!(
            "the time range from {} to {} is shorter than a millisecond, the ledger's resolution",
            ledger_ts(start),
            ledger_ts(end)
        ));
    }
    Ok(())
}

fn known_line(c: &Config, line: &str) -> Result<(), ActionError> {
    if c.lines.iter().any(|l| l.id == line) {
        return Ok(());
    }
    let ids: Vec<_> = c.lines.iter().map(|l| l.id.as_str()).collect();
    invalid(format!(
        "line {line:?} is not configured; lines are {ids:?}"
    ))
}

/// What an accepted action produced.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Fault(Box<FaultView>),
    Created { id: i64 },
}

/// Checks and records an action with its audit-log row, in one transaction.
pub async fn apply(
    ledger: &Ledger,
    c: &Config,
    actor: &Actor,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Outcome, ActionError> {
    // The write lock is taken before the checks read, so the daemon's
    // writer committing in between cannot make the upgrade fail.
    let mut tx = crate::sql::begin_write_pooled(ledger)
        .await
        .map_err(query_err("begin operator action"))?;
    let done = act(&mut tx, c, &action, now).await?;
    let Audited {
        name,
        subject,
        details,
        by,
        reason,
        outcome,
    } = done;
    text("by", by, true)?;
    sqlx::query("INSERT INTO audit_log (at, actor, via, action, subject, details, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(ledger_ts(now))
        .bind(by)
        .bind(&actor.via)
        .bind(name)
        .bind(&subject)
        .bind(details.map(|v| v.to_string()).unwrap_or_default())
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(query_err("append to the audit log"))?;
    crate::chain::commit_sealed(tx)
        .await
        .map_err(query_err("commit operator action"))?;
    tracing::info!(
        action = name,
        subject,
        by,
        via = actor.via,
        "operator action recorded"
    );
    Ok(outcome)
}

/// What the audit log records of an action, and what the caller gets back.
struct Audited<'a> {
    name: &'static str,
    subject: String,
    details: serde_json::Result<serde_json::Value>,
    by: &'a str,
    reason: Option<String>,
    outcome: Outcome,
}

/// Records one action inside the caller's transaction. One arm per
/// action, each naming what the audit log keeps of it: longer than most
/// functions, read one arm at a time.
async fn act<'a>(
    tx: &mut AnyConnection,
    c: &Config,
    action: &'a Action,
    now: DateTime<Utc>,
) -> Result<Audited<'a>, ActionError> {
    let (name, subject, details, by, reason, outcome) = match action {
        Action::Fault { id, step, body } => {
            fault_step(tx, c, *id, *step, body, now).await?;
            let view = fault_on(tx, *id, &c.contract.terms, now)
                .await?
                .expect("checked");
            (
                step.as_str(),
                format!("fault/{id}"),
                serde_json::to_value(body),
                &body.by,
                body.note.clone(),
                Outcome::Fault(Box::new(view)),
            )
        }
        Action::Reclassify { id, body } => {
            reclassify(tx, c, *id, body, now).await?;
            let view = fault_on(tx, *id, &c.contract.terms, now)
                .await?
                .expect("checked");
            (
                "reclassify",
                format!("fault/{id}"),
                serde_json::to_value(body),
                &body.by,
                Some(body.reason.clone()),
                Outcome::Fault(Box::new(view)),
            )
        }
        Action::Exclude(e) => {
            let id = exclude(tx, c, e, now).await?;
            (
                "exclude",
                format!("exclusion/{id}"),
                serde_json::to_value(e),
                &e.by,
                Some(e.reason.clone()),
                Outcome::Created { id },
            )
        }
        Action::Maintenance(m) => {
            let id = maintenance(tx, c, m, now).await?;
            (
                "maintenance",
                format!("maintenance/{id}"),
                serde_json::to_value(m),
                &m.by,
                None,
                Outcome::Created { id },
            )
        }
        Action::ApproveMaintenance { id, body } => {
            let aid = approve_late(tx, *id, body, now).await?;
            (
                "approve_maintenance",
                format!("maintenance/{id}"),
                serde_json::to_value(body),
                &body.by,
                Some(body.reason.clone()),
                Outcome::Created { id: aid },
            )
        }
        Action::AgreeOutage(a) => {
            let id = agree_outage(tx, c, a, now).await?;
            (
                "agree_outage",
                format!("agreed_outage/{id}"),
                serde_json::to_value(a),
                &a.by,
                Some(a.evidence.clone()),
                Outcome::Created { id },
            )
        }
        Action::Withdraw { record, id, body } => {
            let wid = withdraw(tx, *record, *id, body, now).await?;
            (
                "withdraw",
                format!("{}/{id}", record.as_str()),
                serde_json::to_value(body),
                &body.by,
                Some(body.reason.clone()),
                Outcome::Created { id: wid },
            )
        }
        Action::Drill(d) => {
            let id = drill(tx, c, d, now).await?;
            (
                "drill",
                format!("drill/{id}"),
                serde_json::to_value(d),
                &d.by,
                None,
                Outcome::Created { id },
            )
        }
    };
    Ok(Audited {
        name,
        subject,
        details,
        by,
        reason,
        outcome,
    })
}

async fn fault_step(
    conn: &mut AnyConnection,
    c: &Config,
    id: i64,
    step: Step,
    body: &FaultStep,
    now: DateTime<Utc>,
) -> Result<(), ActionError> {
    let Some(f) = fault_on(conn, id, &c.contract.terms, now).await? else {
        return Err(ActionError::NotFound(format!("no fault {id}")));
    };
    let at = body.at.unwrap_or(now);
    not_future("at", at, now)?;
    text(
        "note",
        body.note.as_deref().unwrap_or(""),
        step == Step::Note,
    )?;
    let reference = body.reference.as_deref().unwrap_or("");
    text("reference", reference, step == Step::CarrierTicket)?;
    if at < f.detected_at {
        return invalid(format!(
            "at {} is before the fault was detected ({})",
            ledger_ts(at),
            ledger_ts(f.detected_at)
        ));
    }
    step_fits(&f, step, body, at)?;
    if step != Step::Reported && body.via.is_some() {
        return invalid("via belongs to a fault report (report) only");
    }
    let text = match step {
        Step::Reported => body.via.clone(),
        Step::CarrierTicket => Some(reference.to_string()),
        Step::RepairReport if !reference.is_empty() => Some(match &body.note {
            Some(n) => format!("{reference}: {n}"),
            None => reference.to_string(),
        }),
        _ => body.note.clone(),
    };
    sqlx::query("INSERT INTO fault_events (fault_id, at, recorded_at, kind, actor, text) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(ledger_ts(at))
        .bind(ledger_ts(now))
        .bind(step.as_str())
        .bind(&body.by)
        .bind(text)
        .execute(&mut *conn)
        .await
        .map_err(query_err("record fault event"))?;
    withdraw_breach_met_late(conn, c, id, step, at, now).await
}

/// Whether `step` can be recorded at `at` on the fault as it stands: each
/// step once, none after the resolution but a repair report (and that
/// only after it), a report saying how it was made.
fn step_fits(
    f: &FaultView,
    step: Step,
    body: &FaultStep,
    at: DateTime<Utc>,
) -> Result<(), ActionError> {
    let id = f.id;
    let already = |t: Option<DateTime<Utc>>, what: &str| match t {
        Some(t) => conflict(format!("fault {id} was already {what} at {}", ledger_ts(t))),
        None => Ok(()),
    };
    match step {
        Step::Acknowledged | Step::OnSite => {
            let what = if step == Step::OnSite {
                "on site"
            } else {
                "acknowledged"
            };
            already(
                if step == Step::OnSite {
                    f.on_site_at
                } else {
                    f.acknowledged_at
                },
                what,
            )?;
            if let Some(r) = f.resolved_at.filter(|r| at > *r) {
                return conflict(format!(
                    "fault {id} was resolved at {}; it cannot be {what} after that ({}); record it as a note instead",
                    ledger_ts(r),
                    ledger_ts(at)
                ));
            }
        }
        Step::RepairReport => {
            already(f.repair_report_at, "given its repair report")?;
            match f.resolved_at {
                None => return conflict(format!("fault {id} is still open; a repair report is received after the fault is resolved")),
                Some(r) if at < r => {
                    return conflict(format!(
                        "a repair report at {} would precede the fault's resolution at {}",
                        ledger_ts(at),
                        ledger_ts(r)
                    ))
                }
                _ => {}
            }
        }
        Step::Reported => {
            match body.via.as_deref() {
                Some(v) if REPORT_VIA.contains(&v) => {}
                Some(v) => {
                    return invalid(format!(
                        "via {v:?}: say how it was reported, one of {}",
                        REPORT_VIA.join(", ")
                    ))
                }
                None => {
                    return invalid(format!(
                        "via is required: how the fault was reported, one of {}",
                        REPORT_VIA.join(", ")
                    ))
                }
            }
            if let Some(t) = f.reported_at {
                return conflict(format!(
                    "fault {id} was already reported to the carrier at {} ({})",
                    ledger_ts(t),
                    f.reported_via.as_deref().unwrap_or("")
                ));
            }
        }
        Step::CarrierTicket | Step::Note => {}
    }
    Ok(())
}

/// A step recorded after its deadline had been marked breached, but which
/// happened in time (recorded late), withdraws that breach with an event
/// of its own; the breach event stays.
async fn withdraw_breach_met_late(
    conn: &mut AnyConnection,
    c: &Config,
    id: i64,
    step: Step,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ActionError> {
    use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
    let kind = match step {
        Step::Acknowledged | Step::Reported => DeadlineKind::Response,
        Step::OnSite => DeadlineKind::OnSite,
        Step::RepairReport => DeadlineKind::RepairReport,
        Step::CarrierTicket | Step::Note => return Ok(()),
    };
    let f = fault_on(conn, id, &c.contract.terms, now)
        .await?
        .expect("checked");
    let met = f
        .deadlines
        .iter()
        .any(|d| d.kind == kind && d.state == DeadlineState::Met);
    let breached = f
        .timeline
        .iter()
        .any(|e| e.kind == "deadline_breached" && e.deadline.as_deref() == Some(kind.as_str()));
    if met && breached {
        sqlx::query("INSERT INTO fault_events (fault_id, at, recorded_at, kind, deadline, text) VALUES ($1, $2, $3, 'breach_withdrawn', $4, $5)")
            .bind(id)
            .bind(ledger_ts(now))
            .bind(ledger_ts(now))
            .bind(kind.as_str())
            .bind(format!("met at {} (recorded late)", ledger_ts(at)))
            .execute(&mut *conn)
            .await
            .map_err(query_err("record breach withdrawal"))?;
    }
    Ok(())
}

async fn reclassify(
    conn: &mut AnyConnection,
    c: &Config,
    id: i64,
    body: &Reclassify,
    now: DateTime<Utc>,
) -> Result<(), ActionError> {
    text("reason", &body.reason, true)?;
    if let Some(why) = &body.correction {
        text("correction", why, true)?;
    }
    let row = sqlx::query(&format!(
        "SELECT {}, f.resolved_at, f.detected_at FROM faults f WHERE f.id = $1",
        crate::sql::CURRENT_CLASS
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(query_err("read fault"))?;
    let Some(row) = row else {
        return Err(ActionError::NotFound(format!("no fault {id}")));
    };
    let current: String = row.get(0);
    if current == body.class.as_str() {
        return conflict(format!("fault {id} is already {current}"));
    }
    let resolved: Option<String> = row.get(1);
    let detected = crate::sql::ts(&row, 2).unwrap_or(now);
    let half = linkledger_core::period::Period::half_of(detected, c.daemon.timezone);
    if resolved.is_some() && half.end <= now && body.correction.is_none() {
        return conflict(format!(
            "fault {id} is resolved and its half-year {} is over and assessed; reclassifying it would re-judge an assessed period. \
             To correct the judgement, give a correction with the reason (--correction \"why\", or \"correction\" in the request): \
             it is recorded as a correction and shown in the next assessment",
            half.label
        ));
    }
    let (kind, text) = match &body.correction {
        Some(why) => ("corrected", format!("{} (correction: {why})", body.reason)),
        None => ("reclassified", body.reason.clone()),
    };
    sqlx::query("INSERT INTO fault_events (fault_id, at, recorded_at, kind, class, actor, text) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(id)
        .bind(ledger_ts(now))
        .bind(ledger_ts(now))
        .bind(kind)
        .bind(body.class.as_str())
        .bind(&body.by)
        .bind(text)
        .execute(&mut *conn)
        .await
        .map_err(query_err("record reclassification"))?;
    let line: Option<String> = sqlx::query_scalar("SELECT line FROM faults WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(query_err("read fault"))?;
    let what = format!("reclassified:{}", ledger_ts(now));
    let notice = super::outbox::NewNotice::fault(
        super::outbox::NoticeKind::FaultReclassified,
        id,
        line.as_deref(),
        body.class,
        now,
        &what,
    )
    .with(serde_json::json!({ "from": current, "reason": body.reason, "actor": body.by }));
    super::outbox::queue(conn, &notice)
        .await
        .map_err(query_err("queue the reclassification notice"))?;
    Ok(())
}

async fn exclude(
    conn: &mut AnyConnection,
    c: &Config,
    e: &NewExclusion,
    now: DateTime<Utc>,
) -> Result<i64, ActionError> {
    if let Some(l) = &e.line {
        known_line(c, l)?;
    }
    span(e.start, e.end)?;
    text("reason", &e.reason, true)?;
    text("evidence", &e.evidence, true)?;
    text("approved_by", &e.approved_by, true)?;
    let approved_at = e.approved_at.unwrap_or(now);
    not_future("approved_at", approved_at, now)?;
    sqlx::query_scalar("INSERT INTO exclusions (line, start_at, end_at, reason, evidence, approved_by, approved_at, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
        .bind(&e.line)
        .bind(ledger_ts(e.start))
        .bind(ledger_ts(e.end))
        .bind(&e.reason)
        .bind(&e.evidence)
        .bind(&e.approved_by)
        .bind(ledger_ts(approved_at))
        .bind(&e.by)
        .bind(ledger_ts(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_err("record exclusion")(e).into())
}

async fn maintenance(
    conn: &mut AnyConnection,
    c: &Config,
    m: &NewMaintenance,
    now: DateTime<Utc>,
) -> Result<i64, ActionError> {
    known_line(c, &m.line)?;
    span(m.start, m.end)?;
    not_future("notice_at", m.notice_at, now)?;
    text("reference", &m.reference, false)?;
    if !m.consented && (m.consented_by.is_some() || m.consented_at.is_some()) {
        return invalid(
            "consented_by and consented_at belong to a window we consented to (consented: true)",
        );
    }
    let (consented_by, consented_at) = if m.consented {
        let by = m.consented_by.clone().unwrap_or_else(|| m.by.clone());
        text("consented_by", &by, true)?;
        let at = m.consented_at.unwrap_or(now);
        not_future("consented_at", at, now)?;
        (Some(by), Some(ledger_ts(at)))
    } else {
        (None, None)
    };
    if now > m.start {
        tracing::warn!(
            line = m.line,
            start = %ledger_ts(m.start),
            "maintenance window recorded after it began: never excluded, and an interruption without notice unless a manager approves it"
        );
    }
    sqlx::query_scalar("INSERT INTO maintenance (line, start_at, end_at, notice_at, consented, reference, recorded_by, recorded_at, consented_by, consented_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
        .bind(&m.line)
        .bind(ledger_ts(m.start))
        .bind(ledger_ts(m.end))
        .bind(ledger_ts(m.notice_at))
        .bind(i64::from(m.consented))
        .bind(&m.reference)
        .bind(&m.by)
        .bind(ledger_ts(now))
        .bind(consented_by)
        .bind(consented_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_err("record maintenance window")(e).into())
}

/// Records an outage both sides agree on, with its evidence.
async fn agree_outage(
    conn: &mut AnyConnection,
    c: &Config,
    a: &AgreedOutage,
    now: DateTime<Utc>,
) -> Result<i64, ActionError> {
    known_line(c, &a.line)?;
    span(a.start, a.end)?;
    not_future("end", a.end, now)?;
    text("evidence", &a.evidence, true)?;
    text("approved_by", &a.approved_by, true)?;
    sqlx::query_scalar("INSERT INTO agreed_outages (line, start_at, end_at, evidence, approved_by, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(&a.line)
        .bind(ledger_ts(a.start))
        .bind(ledger_ts(a.end))
        .bind(&a.evidence)
        .bind(&a.approved_by)
        .bind(&a.by)
        .bind(ledger_ts(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_err("record agreed outage")(e).into())
}

/// A manager approves a window recorded after it began, with a reason:
/// it is then no interruption without notice, but still never excluded.
async fn approve_late(
    conn: &mut AnyConnection,
    id: i64,
    a: &ApproveLate,
    now: DateTime<Utc>,
) -> Result<i64, ActionError> {
    text("reason", &a.reason, true)?;
    let row = sqlx::query("SELECT start_at, recorded_at FROM maintenance WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_err("read maintenance window"))?;
    let Some(row) = row else {
        return Err(ActionError::NotFound(format!("no maintenance {id}")));
    };
    let (start, recorded): (String, String) = (row.get(0), row.get(1));
    if recorded <= start {
        return conflict(format!(
            "maintenance {id} was recorded before it began ({recorded} ≤ {start}); only a window recorded late needs an approval"
        ));
    }
    let done: Option<String> = sqlx::query_scalar(
        "SELECT approved_by FROM maintenance_approvals WHERE maintenance_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(query_err("read maintenance approvals"))?;
    if let Some(by) = done {
        return conflict(format!("maintenance {id} was already approved by {by}"));
    }
    sqlx::query_scalar("INSERT INTO maintenance_approvals (maintenance_id, approved_by, reason, at) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(id)
        .bind(&a.by)
        .bind(&a.reason)
        .bind(ledger_ts(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_err("record maintenance approval")(e).into())
}

async fn withdraw(
    conn: &mut AnyConnection,
    what: Withdrawable,
    id: i64,
    w: &Withdraw,
    now: DateTime<Utc>,
) -> Result<i64, ActionError> {
    text("reason", &w.reason, true)?;
    let (record, table) = (what.as_str(), what.table());
    let exists: Option<i64> = sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_err("read record"))?;
    if exists.is_none() {
        return Err(ActionError::NotFound(format!("no {record} {id}")));
    }
    let done: Option<String> =
        sqlx::query_scalar("SELECT at FROM withdrawals WHERE record = $1 AND record_id = $2")
            .bind(record)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(query_err("read withdrawals"))?;
    if let Some(at) = done {
        return conflict(format!("{record} {id} was already withdrawn at {at}"));
    }
    sqlx::query_scalar("INSERT INTO withdrawals (record, record_id, actor, at, reason) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(record)
        .bind(id)
        .bind(&w.by)
        .bind(ledger_ts(now))
        .bind(&w.reason)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_err("record withdrawal")(e).into())
}

async fn drill(
    conn: &mut AnyConnection,
    c: &Config,
    d: &NewDrill,
    now: DateTime<Utc>,
) -> Result<i64, ActionError> {
    text("scenario", &d.scenario, true)?;
    text("result", &d.result, true)?;
    if d.participants.iter().all(|p| p.trim().is_empty()) {
        return invalid("participants must name at least one person");
    }
    let today = now.with_timezone(&c.daemon.timezone).date_naive();
    if d.held_on > today {
        return invalid(format!(
            "held_on {} is in the future; log a drill once it is held",
            d.held_on
        ));
    }
    sqlx::query_scalar("INSERT INTO drills (held_on, scenario, participants, result, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(d.held_on.to_string())
        .bind(&d.scenario)
        .bind(d.participants.join(", "))
        .bind(&d.result)
        .bind(&d.by)
        .bind(ledger_ts(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_err("record drill")(e).into())
}
