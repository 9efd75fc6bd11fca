//! Reading the contract records: faults with their deadlines and timeline,
//! exclusions, drills and the audit log.

use crate::Ledger;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::terms::TermsHistory;
use super::{query_err, LedgerError};
use crate::sql::ts;
use crate::sql::CURRENT_CLASS;
use linkledger_config::Terms;
use linkledger_core::fault::deadline::{deadlines, Deadline, FaultFacts};
use linkledger_core::fault::FaultClass;
use linkledger_core::time::ledger_ts;

/// One entry of a fault's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct FaultEventView {
    pub at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// detected | escalated | reclassified | acknowledged | on_site |
    /// repair_report | carrier_ticket | note | deadline_breached | resolved
    /// | reported (申告) | corrected (a reclassification as a correction)
    pub kind: String,
    pub class: Option<String>,
    pub deadline: Option<String>,
    /// The person who recorded it; None: linkledger itself.
    pub actor: Option<String>,
    pub text: Option<String>,
}

/// A fault ticket as the API, the CLI and reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct FaultView {
    pub id: i64,
    /// The line, or None for the whole egress.
    pub line: Option<String>,
    pub trigger: String,
    /// The current class (after escalations and reclassifications).
    pub class: FaultClass,
    pub opened_class: FaultClass,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub open: bool,
    pub duration_s: f64,
    /// The fault report to the carrier (申告), and how it was made.
    pub reported_at: Option<DateTime<Utc>>,
    pub reported_via: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub on_site_at: Option<DateTime<Utc>>,
    pub repair_report_at: Option<DateTime<Utc>>,
    pub carrier_ticket: Option<String>,
    /// Judged by the terms in force when it was detected.
    pub deadlines: [Deadline; 4],
    /// Reclassifications made as corrections, oldest first.
    pub corrections: Vec<Correction>,
    pub outages: Vec<i64>,
    pub degradations: Vec<i64>,
    pub timeline: Vec<FaultEventView>,
    /// What the deadlines were judged from, to judge them again as known
    /// at an earlier time (an assessment made before a correction).
    #[serde(skip)]
    pub facts: FaultFacts,
    #[serde(skip)]
    pub terms: Terms,
}

/// A reclassification recorded as a correction of a past judgement.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    pub recorded_at: DateTime<Utc>,
    pub from: FaultClass,
    pub to: FaultClass,
    pub by: Option<String>,
    pub reason: Option<String>,
}

impl FaultView {
    /// The deadlines as they stood with what was recorded by `cutoff`:
    /// corrections recorded later are left out.
    pub fn deadlines_known_at(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> [Deadline; 4] {
        let mut facts = self.facts.clone();
        facts.corrected = self
            .corrections
            .iter()
            .rev()
            .find(|c| c.recorded_at <= cutoff)
            .map(|c| c.to);
        deadlines(&facts, &self.terms, now)
    }
}

/// Which faults to list.
#[derive(Debug, Clone, Default)]
pub struct FaultFilter {
    pub line: Option<String>,
    pub class: Option<FaultClass>,
    /// Some(true): open only; Some(false): resolved only.
    pub open: Option<bool>,
    /// Faults still going at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// Faults whose deadlines may still be pending: open ones, and those
/// resolved within the repair-report window (its report can still come).
pub async fn recent_faults(
    ledger: &Ledger,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<Vec<FaultView>, LedgerError> {
    let horizon = TimeDelta::from_std(terms.repair_report).unwrap_or(TimeDelta::MAX);
    let since = now
        .checked_sub_signed(horizon)
        .and_then(|t| t.checked_sub_signed(TimeDelta::hours(1)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let filter = FaultFilter {
        since: Some(since),
        ..Default::default()
    };
    faults(ledger, &filter, terms, now).await
}

/// Faults still running: open, or with a deadline other than the repair
/// report pending.
pub async fn running_faults(
    ledger: &Ledger,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<Vec<FaultView>, LedgerError> {
    let mut list = recent_faults(ledger, terms, now).await?;
    use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
    // A repair report's window moves with a followed step (see
    // `FaultFacts::stepped_since_resolved`): it does not hold one back.
    list.retain(|f| {
        f.open
            || f.deadlines
                .iter()
                .any(|d| d.state == DeadlineState::Pending && d.kind != DeadlineKind::RepairReport)
    });
    Ok(list)
}

/// Faults matching the filter, oldest first, each with its timeline.
pub async fn faults(
    ledger: &Ledger,
    filter: &FaultFilter,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<Vec<FaultView>, LedgerError> {
    let pool = ledger.pool();
    let mut conn = pool.acquire().await.map_err(query_err("read faults"))?;
    let history = TermsHistory::load(&mut conn, terms).await?;
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT f.id FROM faults f WHERE ($1 IS NULL OR f.line = $1 OR ($1 = 'egress' AND f.line IS NULL)) \
         AND ($2 IS NULL OR {CURRENT_CLASS} = $2) AND ($3 IS NULL OR (f.resolved_at IS NULL) = $3) \
         AND ($4 IS NULL OR f.resolved_at IS NULL OR f.resolved_at >= $4) ORDER BY f.detected_at, f.id"
    ))
    .bind(&filter.line)
    .bind(filter.class.map(FaultClass::as_str))
    .bind(filter.open)
    .bind(filter.since.map(ledger_ts))
    .fetch_all(&mut *conn)
    .await
    .map_err(query_err("read faults"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(f) = fault_judged(&mut conn, id, &history, now).await? {
            out.push(f);
        }
    }
    Ok(out)
}

/// One fault with its timeline, if it exists.
pub async fn fault(
    ledger: &Ledger,
    id: i64,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<Option<FaultView>, LedgerError> {
    let pool = ledger.pool();
    let mut conn = pool.acquire().await.map_err(query_err("read fault"))?;
    fault_on(&mut conn, id, terms, now).await
}

/// [`fault`] on a connection (inside an operator action's transaction).
/// `terms` are the configured ones, used only when the ledger recorded
/// none: a fault is judged by the terms in force when it was detected.
pub(crate) async fn fault_on(
    conn: &mut AnyConnection,
    id: i64,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<Option<FaultView>, LedgerError> {
    let history = TermsHistory::load(conn, terms).await?;
    fault_judged(conn, id, &history, now).await
}

async fn fault_judged(
    conn: &mut AnyConnection,
    id: i64,
    history: &TermsHistory,
    now: DateTime<Utc>,
) -> Result<Option<FaultView>, LedgerError> {
    let Some(row) = sqlx::query(&format!(
        "SELECT f.id, f.line, f.trigger, {CURRENT_CLASS}, f.class, f.detected_at, f.resolved_at FROM faults f WHERE f.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(query_err("read fault"))?
    else {
        return Ok(None);
    };
    let class = |i: usize| FaultClass::parse(&row.get::<String, _>(i)).unwrap_or(FaultClass::Major);
    let detected = ts(&row, 5).unwrap_or(now);
    let resolved = ts(&row, 6);
    let events = sqlx::query(
        "SELECT at, recorded_at, kind, class, deadline, actor, text FROM fault_events WHERE fault_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(query_err("read fault events"))?;
    let timeline = timeline(detected, class(4), row.get(2), &events, resolved);
    let first = |kind: &str| timeline.iter().find(|e| e.kind == kind);
    let (changes, corrections) = class_history(&events, class(4));
    let reported = first("reported");
    let facts = FaultFacts {
        detected,
        class: class(4),
        changes,
        corrected: corrections.last().map(|c| c.to),
        resolved,
        reported: reported.map(|e| e.at),
        acknowledged: first("acknowledged").map(|e| e.at),
        on_site: first("on_site").map(|e| e.at),
        repair_report: first("repair_report").map(|e| e.at),
        stepped_since_resolved: match resolved {
            Some(r) => crate::run::steps_followed_since(conn, r).await?,
            None => TimeDelta::zero(),
        },
    };
    let terms = history.in_force(detected).clone();
    let (outages, degradations) = links(conn, id).await?;
    Ok(Some(FaultView {
        id,
        line: row.get(1),
        trigger: row.get(2),
        class: class(3),
        opened_class: class(4),
        detected_at: detected,
        resolved_at: resolved,
        open: resolved.is_none(),
        duration_s: (resolved.unwrap_or(now) - detected)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0,
        reported_at: facts.reported,
        reported_via: reported.and_then(|e| e.text.clone()),
        acknowledged_at: facts.acknowledged,
        on_site_at: facts.on_site,
        repair_report_at: facts.repair_report,
        carrier_ticket: timeline
            .iter()
            .rev()
            .find(|e| e.kind == "carrier_ticket")
            .and_then(|e| e.text.clone()),
        deadlines: deadlines(&facts, &terms, now),
        corrections,
        outages,
        degradations,
        timeline,
        facts,
        terms,
    }))
}

/// What happened to a fault, in time order: its detection, its recorded
/// events and its resolution.
fn timeline(
    detected: DateTime<Utc>,
    opened: FaultClass,
    trigger: String,
    events: &[AnyRow],
    resolved: Option<DateTime<Utc>>,
) -> Vec<FaultEventView> {
    let mut timeline = vec![FaultEventView {
        at: detected,
        recorded_at: detected,
        kind: "detected".into(),
        class: Some(opened.as_str().into()),
        deadline: None,
        actor: None,
        text: Some(trigger),
    }];
    timeline.extend(events.iter().filter_map(|e| {
        Some(FaultEventView {
            at: ts(e, 0)?,
            recorded_at: ts(e, 1)?,
            kind: e.get(2),
            class: e.get(3),
            deadline: e.get(4),
            actor: e.get(5),
            text: e.get(6),
        })
    }));
    if let Some(r) = resolved {
        timeline.push(FaultEventView {
            at: r,
            recorded_at: r,
            kind: "resolved".into(),
            class: None,
            deadline: None,
            actor: None,
            text: None,
        });
    }
    timeline.sort_by_key(|e| e.at);
    timeline
}

/// A fault's class changes (escalations and reclassifications) and its
/// corrections.
type ClassHistory = (Vec<(DateTime<Utc>, FaultClass)>, Vec<Correction>);

/// The class history read from a fault's events, each correction with the
/// class it corrected from.
fn class_history(events: &[AnyRow], opened: FaultClass) -> ClassHistory {
    let mut corrections = Vec::new();
    let mut was = opened;
    let mut changes = Vec::new();
    // In time order, as the timeline reads them.
    for e in events {
        let kind: String = e.get(2);
        let (Some(at), Some(to)) = (
            ts(e, 0),
            e.get::<Option<String>, _>(3)
                .as_deref()
                .and_then(FaultClass::parse),
        ) else {
            continue;
        };
        match kind.as_str() {
            "escalated" | "reclassified" => changes.push((at, to)),
            "corrected" => corrections.push(Correction {
                recorded_at: ts(e, 1).unwrap_or(at),
                from: was,
                to,
                by: e.get(5),
                reason: e.get(6),
            }),
            _ => continue,
        }
        was = to;
    }
    changes.sort_by_key(|c| c.0);
    corrections.sort_by_key(|c| c.recorded_at);
    (changes, corrections)
}

/// The outages and degradations linked to a fault.
async fn links(conn: &mut AnyConnection, id: i64) -> Result<(Vec<i64>, Vec<i64>), LedgerError> {
    let links =
        sqlx::query("SELECT kind, ref_id FROM fault_links WHERE fault_id = $1 ORDER BY ref_id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_err("read fault links"))?;
    let linked = |k: &str| {
        links
            .iter()
            .filter(|r| r.get::<String, _>(0) == k)
            .map(|r| r.get::<i64, _>(1))
            .collect()
    };
    Ok((linked("outage"), linked("degradation")))
}

/// A force-majeure exclusion.
#[derive(Debug, Clone, Serialize)]
pub struct ExclusionView {
    pub id: i64,
    /// The line, or None for the egress and every line.
    pub line: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub evidence: String,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    /// When and why it was withdrawn; a withdrawn exclusion excludes nothing.
    pub withdrawn: Option<Withdrawal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Withdrawal {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

pub async fn exclusions(ledger: &Ledger) -> Result<Vec<ExclusionView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT e.id, e.line, e.start_at, e.end_at, e.reason, e.evidence, e.approved_by, e.approved_at, e.recorded_by, e.recorded_at, \
         w.actor, w.at, w.reason FROM exclusions e LEFT JOIN withdrawals w ON w.record = 'exclusion' AND w.record_id = e.id \
         ORDER BY e.start_at, e.id",
    )
    .fetch_all(pool)
    .await
    .map_err(query_err("read exclusions"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(ExclusionView {
                id: r.get(0),
                line: r.get(1),
                start: ts(r, 2)?,
                end: ts(r, 3)?,
                reason: r.get(4),
                evidence: r.get(5),
                approved_by: r.get(6),
                approved_at: ts(r, 7)?,
                recorded_by: r.get(8),
                recorded_at: ts(r, 9)?,
                withdrawn: r.get::<Option<String>, _>(10).and_then(|by| {
                    Some(Withdrawal {
                        by,
                        at: ts(r, 11)?,
                        reason: r.get(12),
                    })
                }),
            })
        })
        .collect())
}

/// An outage both sides agreed on.
#[derive(Debug, Clone, Serialize)]
pub struct AgreedOutageView {
    pub id: i64,
    pub line: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub evidence: String,
    pub approved_by: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// Agreed outages of a line (or every line), oldest first.
pub async fn agreed_outages(
    ledger: &Ledger,
    line: Option<&str>,
) -> Result<Vec<AgreedOutageView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT id, line, start_at, end_at, evidence, approved_by, recorded_by, recorded_at FROM agreed_outages \
         WHERE ($1 IS NULL OR line = $1) ORDER BY start_at, id",
    )
    .bind(line)
    .fetch_all(pool)
    .await
    .map_err(query_err("read agreed outages"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(AgreedOutageView {
                id: r.get(0),
                line: r.get(1),
                start: ts(r, 2)?,
                end: ts(r, 3)?,
                evidence: r.get(4),
                approved_by: r.get(5),
                recorded_by: r.get(6),
                recorded_at: ts(r, 7)?,
            })
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillView {
    pub id: i64,
    pub held_on: String,
    pub scenario: String,
    pub participants: String,
    pub result: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

pub async fn drills(ledger: &Ledger) -> Result<Vec<DrillView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query("SELECT id, held_on, scenario, participants, result, recorded_by, recorded_at FROM drills ORDER BY held_on, id")
        .fetch_all(pool)
        .await
        .map_err(query_err("read drills"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(DrillView {
                id: r.get(0),
                held_on: r.get(1),
                scenario: r.get(2),
                participants: r.get(3),
                result: r.get(4),
                recorded_by: r.get(5),
                recorded_at: ts(r, 6)?,
            })
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub via: String,
    pub action: String,
    pub subject: String,
    pub details: serde_json::Value,
    pub reason: Option<String>,
}

pub async fn audit_log(ledger: &Ledger) -> Result<Vec<AuditEntry>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT id, at, actor, via, action, subject, details, reason FROM audit_log ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(query_err("read the audit log"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(AuditEntry {
                id: r.get(0),
                at: ts(r, 1)?,
                actor: r.get(2),
                via: r.get(3),
                action: r.get(4),
                subject: r.get(5),
                details: serde_json::from_str(&r.get::<String, _>(6)).unwrap_or_default(),
                reason: r.get(7),
            })
        })
        .collect())
}

/// Faults detected before `p` with a correction recorded within it: a
/// period's report lists them, since its figures changed an earlier one's.
pub async fn corrected_in(
    ledger: &Ledger,
    terms: &Terms,
    p: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<Vec<FaultView>, LedgerError> {
    let pool = ledger.pool();
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT e.fault_id FROM fault_events e JOIN faults f ON f.id = e.fault_id \
         WHERE e.kind = 'corrected' AND e.recorded_at >= $1 AND e.recorded_at < $2 AND f.detected_at < $3 ORDER BY e.fault_id",
    )
    .bind(ledger_ts(p.0))
    .bind(ledger_ts(p.1))
    .bind(ledger_ts(p.0))
    .fetch_all(pool)
    .await
    .map_err(query_err("read corrections"))?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(f) = fault(ledger, id, terms, now).await? {
            out.push(f);
        }
    }
    Ok(out)
}

/// Open faults per scope (a line, or `egress`) and current class.
pub async fn open_fault_counts(ledger: &Ledger) -> Result<Vec<(String, String, i64)>, LedgerError> {
    let pool = ledger.pool();
    sqlx::query_as(&format!(
        "SELECT coalesce(f.line, 'egress'), {CURRENT_CLASS}, count(*) FROM faults f WHERE f.resolved_at IS NULL GROUP BY 1, 2"
    ))
    .fetch_all(pool)
    .await
    .map_err(query_err("count open faults"))
}

/// Deadline breaches ever recorded, per scope, class and deadline.
pub async fn breach_counts(
    ledger: &Ledger,
) -> Result<Vec<(String, String, String, i64)>, LedgerError> {
    let pool = ledger.pool();
    sqlx::query_as(
        "SELECT coalesce(f.line, 'egress'), e.class, e.deadline, count(*) FROM fault_events e JOIN faults f ON f.id = e.fault_id \
         WHERE e.kind = 'deadline_breached' GROUP BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .map_err(query_err("count deadline breaches"))
}
