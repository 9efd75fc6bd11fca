//! The downtime budget read from the ledger: per line and for the egress,
//! for the contract year containing `now`. The arithmetic is in
//! [`linkledger_core::budget`]; this gathers its spans (outages, unobserved time,
//! exclusions and maintenance windows in force) from the ledger.

use crate::Ledger;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{query_err, LedgerError};
use crate::observed::unobserved_spans;
use crate::sql::ts;
use linkledger_config::Config;
use linkledger_core::budget::{self, secs, total, Downtime, LineRecords, Span};
use linkledger_core::contract::ContractYear;
use linkledger_core::time::{ledger_ts, parse_ledger_ts};

/// The burn rate is measured over this window.
pub const BURN_WINDOW_DAYS: i64 = 30;

/// A maintenance window and what the contract makes of it.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceView {
    pub id: i64,
    pub line: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub notice_at: DateTime<Utc>,
    pub consented: bool,
    /// Who consented and when (None for a window recorded before either
    /// was kept).
    pub consented_by: Option<String>,
    pub consented_at: Option<DateTime<Utc>>,
    pub reference: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    /// approved (notice in time and consented before it began) |
    /// late_notice | not_consented | recorded_late (entered after it
    /// began): only approved windows can be excluded, and only when
    /// `approved_maintenance_counts = false`.
    pub status: &'static str,
    /// A manager's approval of a window recorded late (who, why): it is
    /// then no breach, but still never excluded.
    pub late_approval: Option<(String, String)>,
    /// Withdrawn by a later record: no longer in force.
    pub withdrawn: bool,
}

impl MaintenanceView {
    pub fn approved(&self) -> bool {
        self.status == "approved" && !self.withdrawn
    }

    /// An interruption without due notice or consent: a breach of 第二条 14
    /// when it interrupted anything (a recorded-late window a manager
    /// approved is not).
    pub fn without_due_notice(&self) -> bool {
        !self.withdrawn && self.status != "approved" && self.late_approval.is_none()
    }
}

/// One line's (or the egress's) budget in the current contract year.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetView {
    /// A line id, or "egress".
    pub line: String,
    pub cap_s: f64,
    pub down_s: f64,
    pub charged_s: f64,
    pub excluded_force_majeure_s: f64,
    pub excluded_maintenance_s: f64,
    /// Unobserved and not agreed: never charged.
    pub unobserved_s: f64,
    /// Unobserved time charged by an agreed outage (in charged_s).
    pub agreed_s: f64,
    /// Unobserved, not agreed, down on both sides: disputed, not charged.
    pub disputed_s: f64,
    pub remaining_s: f64,
    pub used_share: f64,
    /// Charged seconds per day over the last 30 days.
    pub burn_rate_s_per_day: f64,
    pub breached: bool,
    /// When the cap was crossed (breached) or would be at the burn rate,
    /// if within this contract year.
    pub projected_breach: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub contract: String,
    pub contract_year: i32,
    pub year_start: DateTime<Utc>,
    pub year_end: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub approved_maintenance_counts: bool,
    pub lines: Vec<BudgetView>,
    pub egress: BudgetView,
}

/// Maintenance windows of a line (or of every line) overlapping `period`.
pub async fn maintenance(
    ledger: &Ledger,
    line: Option<&str>,
    period: Span,
    notice: std::time::Duration,
) -> Result<Vec<MaintenanceView>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT m.id, m.line, m.start_at, m.end_at, m.notice_at, m.consented, m.reference, \
         EXISTS (SELECT 1 FROM withdrawals w WHERE w.record = 'maintenance' AND w.record_id = m.id), \
         m.consented_by, m.consented_at, m.recorded_by, m.recorded_at, a.approved_by, a.reason \
         FROM maintenance m LEFT JOIN maintenance_approvals a ON a.maintenance_id = m.id \
         WHERE ($1 IS NULL OR m.line = $1) AND m.start_at < $2 AND m.end_at > $3 ORDER BY m.start_at, m.id",
    )
    .bind(line)
    .bind(ledger_ts(period.1))
    .bind(ledger_ts(period.0))
    .fetch_all(pool)
    .await
    .map_err(query_err("read maintenance windows"))?;
    let notice = TimeDelta::from_std(notice).unwrap_or(TimeDelta::MAX);
    Ok(rows
        .iter()
        .filter_map(|r| {
            let (start, end, notice_at) = (ts(r, 2)?, ts(r, 3)?, ts(r, 4)?);
            let consented = crate::sql::flag(r, 5);
            let consented_at = ts(r, 9);
            let recorded_at = ts(r, 11)?;
            let status = if recorded_at > start {
                "recorded_late"
            } else if !consented || consented_at.is_some_and(|t| t > start) {
                "not_consented"
            } else if notice_at > start - notice {
                "late_notice"
            } else {
                "approved"
            };
            let late_approval = r
                .get::<Option<String>, _>(12)
                .map(|by| (by, r.get::<Option<String>, _>(13).unwrap_or_default()));
            Some(MaintenanceView {
                id: r.get(0),
                line: r.get(1),
                start,
                end,
                notice_at,
                consented,
                consented_by: r.get(8),
                consented_at,
                reference: r.get(6),
                recorded_by: r.get(10),
                recorded_at,
                status,
                late_approval,
                withdrawn: crate::sql::flag(r, 7),
            })
        })
        .collect())
}

/// Everything the budget arithmetic needs about one line in `period`; an
/// open outage runs to the period's end. Time before the line was first
/// configured in this ledger is unobserved. Block outages count unless the
/// terms say `ip_block_counts = false`.
pub async fn line_records(
    ledger: &Ledger,
    line: &str,
    period: Span,
    terms: &linkledger_config::Terms,
) -> Result<LineRecords, LedgerError> {
    let pool = ledger.pool();
    let (from, to) = period;
    let maintenance_notice = terms.maintenance_notice;
    let rows = sqlx::query("SELECT start_at, end_at FROM outages WHERE line = $1 AND start_at < $2 AND (end_at IS NULL OR end_at > $3) AND (block IS NULL OR $4)")
        .bind(line)
        .bind(ledger_ts(to))
        .bind(ledger_ts(from))
        .bind(terms.ip_block_counts)
        .fetch_all(pool)
        .await
        .map_err(query_err("read outages"))?;
    let outages = rows
        .iter()
        .filter_map(|r| Some((ts(r, 0)?, ts(r, 1).unwrap_or(to))))
        .collect();
    let mut unobserved = unobserved_spans(ledger, line, period).await?;
    let first_seen: Option<String> =
        sqlx::query_scalar("SELECT min(valid_from) FROM line_configs WHERE line = $1")
            .bind(line)
            .fetch_one(pool)
            .await
            .map_err(query_err("read line history"))?;
    let first_seen = first_seen
        .as_deref()
        .and_then(parse_ledger_ts)
        .unwrap_or(to);
    if first_seen > from {
        unobserved.push((from, first_seen.min(to)));
    }
    let rows = sqlx::query(
        "SELECT e.start_at, e.end_at FROM exclusions e WHERE (e.line IS NULL OR e.line = $1) AND e.start_at < $2 AND e.end_at > $3 \
         AND NOT EXISTS (SELECT 1 FROM withdrawals w WHERE w.record = 'exclusion' AND w.record_id = e.id)",
    )
    .bind(line)
    .bind(ledger_ts(to))
    .bind(ledger_ts(from))
    .fetch_all(pool)
    .await
    .map_err(query_err("read exclusions"))?;
    let force_majeure = rows
        .iter()
        .filter_map(|r| Some((ts(r, 0)?, ts(r, 1)?)))
        .collect();
    let approved_maintenance = maintenance(ledger, Some(line), period, maintenance_notice)
        .await?
        .iter()
        .filter(|m| m.approved())
        .map(|m| (m.start, m.end))
        .collect();
    let rows = sqlx::query(
        "SELECT start_at, end_at FROM agreed_outages WHERE line = $1 AND start_at < $2 AND end_at > $3",
    )
    .bind(line)
    .bind(ledger_ts(to))
    .bind(ledger_ts(from))
    .fetch_all(pool)
    .await
    .map_err(query_err("read agreed outages"))?;
    let agreed = rows
        .iter()
        .filter_map(|r| Some((ts(r, 0)?, ts(r, 1)?)))
        .collect();
    Ok(LineRecords {
        outages,
        unobserved,
        force_majeure,
        approved_maintenance,
        agreed,
    })
}

/// A line's downtime in `period` (an open outage counted up to its end).
pub async fn line_downtime(
    ledger: &Ledger,
    line: &str,
    period: Span,
    terms: &linkledger_config::Terms,
) -> Result<Downtime, LedgerError> {
    let r = line_records(ledger, line, period, terms).await?;
    Ok(Downtime::of_line(
        &r,
        period,
        terms.approved_maintenance_counts,
    ))
}

fn view(
    name: &str,
    year: &Downtime,
    window: &Downtime,
    cap: TimeDelta,
    now: DateTime<Utc>,
    year_end: DateTime<Utc>,
) -> BudgetView {
    let charged = total(&year.charged);
    let burn = budget::burn(
        &year.charged,
        cap,
        total(&window.charged),
        TimeDelta::days(BURN_WINDOW_DAYS),
        now,
        year_end,
    );
    BudgetView {
        line: name.to_string(),
        cap_s: secs(cap),
        down_s: secs(total(&year.down)),
        charged_s: secs(charged),
        excluded_force_majeure_s: secs(total(&year.excluded_force_majeure)),
        excluded_maintenance_s: secs(total(&year.excluded_maintenance)),
        unobserved_s: secs(total(&year.unobserved)),
        agreed_s: secs(total(&year.agreed)),
        disputed_s: secs(total(&year.disputed)),
        remaining_s: (charged - cap).num_milliseconds() as f64 / -1000.0,
        used_share: secs(charged) / secs(cap).max(f64::MIN_POSITIVE),
        burn_rate_s_per_day: burn.rate_s_per_day,
        breached: burn.breached,
        projected_breach: burn.breach_at,
    }
}

/// The budget of every configured line and of the egress, in the contract
/// year containing `now`, counted up to `now`.
pub async fn budget(
    ledger: &Ledger,
    c: &Config,
    now: DateTime<Utc>,
) -> Result<Budget, LedgerError> {
    let year = ContractYear::containing(c.contract.start, c.daemon.timezone, now);
    budget_of_year(ledger, c, year, now).await
}

/// The budget in a given contract year, counted up to `now` (all of it
/// once the year is over); the burn rate is over the 30 days before that.
pub async fn budget_of_year(
    ledger: &Ledger,
    c: &Config,
    year: ContractYear,
    now: DateTime<Utc>,
) -> Result<Budget, LedgerError> {
    Ok(budget_and_records(ledger, c, year, now, year.start)
        .await?
        .0)
}

/// [`budget_of_year`], also handing back each configured line's records
/// (in config order), read from `from` if that is earlier than the year
/// and the burn window, so a caller that needs a longer span (a report's
/// period) reads the ledger once.
pub async fn budget_and_records(
    ledger: &Ledger,
    c: &Config,
    year: ContractYear,
    now: DateTime<Utc>,
    from: DateTime<Utc>,
) -> Result<(Budget, Vec<LineRecords>), LedgerError> {
    let now = now.min(year.end);
    let cap = TimeDelta::from_std(c.contract.annual_downtime_cap).unwrap_or(TimeDelta::MAX);
    let terms = &c.contract.terms;
    let until = now.min(year.end).max(year.start);
    let window = (now - TimeDelta::days(BURN_WINDOW_DAYS), now);
    let read_from = year.start.min(window.0).min(from);
    let mut records = Vec::new();
    let mut in_year = Vec::new();
    let mut in_window = Vec::new();
    let mut lines = Vec::new();
    for l in &c.lines {
        let r = line_records(ledger, &l.id, (read_from, now.max(until)), terms).await?;
        let y = Downtime::of_line(&r, (year.start, until), terms.approved_maintenance_counts);
        let w = Downtime::of_line(&r, window, terms.approved_maintenance_counts);
        lines.push(view(&l.id, &y, &w, cap, now, year.end));
        in_year.push(y);
        in_window.push(w);
        records.push(r);
    }
    let egress = view(
        linkledger_core::EGRESS,
        &Downtime::of_egress(&in_year),
        &Downtime::of_egress(&in_window),
        cap,
        now,
        year.end,
    );
    let budget = Budget {
        contract: c.contract.name.clone(),
        contract_year: year.number,
        year_start: year.start,
        year_end: year.end,
        now,
        approved_maintenance_counts: terms.approved_maintenance_counts,
        lines,
        egress,
    };
    Ok((budget, records))
}
