//! The figures of a period report (quarterly, annual, half-year), per line
//! and for the egress, computed from the ledger with the same interval
//! arithmetic as the downtime budget ([`linkledger_core::budget`]), so a report and
//! `linkledger budget` never disagree. Every list carries the ledger ids
//! its rows come from.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use linkledger_ledger::Ledger;
use serde::Serialize;

use super::period::Period;
pub use super::traffic_figures::{Anomaly, TrafficPoint};
use linkledger_config::{Config, Line};
use linkledger_core::budget::{clip, intersect, secs, total, Downtime, Span};
use linkledger_core::contract::ContractYear;
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
use linkledger_core::fault::FaultClass;
use linkledger_core::rollup::{QualityFigures, QualitySum};
use linkledger_core::traffic::TrafficSummary;
use linkledger_ledger::budget::{
    budget_and_records, maintenance, Budget, BudgetView, MaintenanceView,
};
use linkledger_ledger::records::{
    agreed_outages, exclusions, faults, AgreedOutageView, ExclusionView, FaultFilter, FaultView,
};
use linkledger_ledger::LedgerError;

/// Time a line (or the egress) was up, down, excluded and unobserved.
#[derive(Debug, Clone, Serialize)]
pub struct Availability {
    pub period_s: f64,
    pub observed_s: f64,
    pub unobserved_s: f64,
    /// Observed share of the period.
    pub coverage: f64,
    pub down_s: f64,
    pub excluded_force_majeure_s: f64,
    pub excluded_maintenance_s: f64,
    pub charged_s: f64,
    /// Unobserved time charged by agreed outages (part of charged_s, and
    /// of observed_s: both sides know it).
    pub agreed_s: f64,
    /// Unobserved time with the line down on both sides: disputed, not charged.
    pub disputed_s: f64,
    /// Where the disputed time lies.
    pub disputed: Vec<Span>,
    /// 1 − charged / observed: the share of observed time not charged as down.
    pub availability: Option<f64>,
}

impl Availability {
    pub fn of(d: &Downtime, period: Span) -> Self {
        let period_s = secs(period.1 - period.0);
        let unobserved_s = secs(total(&d.unobserved));
        let observed_s = (period_s - unobserved_s).max(0.0);
        let charged_s = secs(total(&d.charged));
        Availability {
            period_s,
            observed_s,
            unobserved_s,
            coverage: if period_s > 0.0 {
                observed_s / period_s
            } else {
                0.0
            },
            down_s: secs(total(&d.down)),
            excluded_force_majeure_s: secs(total(&d.excluded_force_majeure)),
            excluded_maintenance_s: secs(total(&d.excluded_maintenance)),
            charged_s,
            agreed_s: secs(total(&d.agreed)),
            disputed_s: secs(total(&d.disputed)),
            disputed: d.disputed.clone(),
            availability: (observed_s > 0.0).then(|| 1.0 - charged_s / observed_s),
        }
    }
}

/// One outage as the period sees it: cut at the period's edges.
#[derive(Debug, Clone, Serialize)]
pub struct OutageRow {
    pub id: i64,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// True when the outage crosses the period's start or end and only
    /// the part inside is counted here.
    pub split: bool,
    pub duration_s: f64,
    pub charged_s: f64,
    pub excluded_s: f64,
    pub unobserved_s: f64,
    pub cause: String,
    pub fault: Option<i64>,
    pub class: Option<FaultClass>,
}

/// Faults of one class: how many, deadlines kept, mean time to repair.
#[derive(Debug, Clone, Serialize)]
pub struct ClassSummary {
    pub class: FaultClass,
    pub faults: usize,
    /// Per deadline kind: [met, breached, pending, not required].
    pub deadlines: Vec<(DeadlineKind, [usize; 4])>,
    /// Mean detected → resolved over the resolved faults.
    pub mttr_s: Option<f64>,
}

/// One local day of a line.
#[derive(Debug, Clone, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub charged_s: f64,
    pub unobserved_s: f64,
    pub availability: Option<f64>,
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p95_ms: Option<f64>,
    pub rtt_p99_ms: Option<f64>,
    pub loss_ratio: Option<f64>,
    /// Contract-year budget left at the end of this day.
    pub budget_left_s: f64,
}

impl LineFigures {
    /// Maintenance windows that interrupted the line without due notice or
    /// consent (第二条 14): a window that interrupted nothing is no breach.
    pub fn maintenance_breaches(&self) -> impl Iterator<Item = &MaintenanceView> {
        self.maintenance.iter().filter(|m| {
            m.without_due_notice()
                && self
                    .outages
                    .iter()
                    .any(|o| o.start < m.end && o.end.is_none_or(|e| e > m.start))
        })
    }
}

/// The part of a period inside one contract year: a period that contains
/// an anniversary has two, each counted against its own year's cap.
#[derive(Debug, Clone, Serialize)]
pub struct YearPart {
    pub contract_year: i32,
    pub year_start: DateTime<Utc>,
    pub year_end: DateTime<Utc>,
    /// The part of the period in this year.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Charged in this part.
    pub charged_s: f64,
    /// The year's budget counted up to the part's end.
    pub budget: BudgetView,
}

impl YearPart {
    /// Started hours over the annual cap that this part added: what the
    /// year had used over the cap at the part's end, less at its start.
    pub fn hours_over_cap(&self) -> u64 {
        let cap = self.budget.cap_s;
        let end = self.budget.charged_s;
        let start = (end - self.charged_s).max(0.0);
        let over = |s: f64| ((s - cap).max(0.0) / 3600.0).ceil() as u64;
        over(end).saturating_sub(over(start))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LineFigures {
    pub line: String,
    pub carrier: String,
    /// The carrier's name in Chinese documents, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub role: String,
    pub bandwidth_mbps: u64,
    pub availability: Availability,
    /// The contract year containing the period's end, counted up to it.
    pub year_to_date: BudgetView,
    /// Each contract year the period touches, with the part in it.
    pub years: Vec<YearPart>,
    pub outages: Vec<OutageRow>,
    pub faults: Vec<FaultView>,
    pub fault_classes: Vec<ClassSummary>,
    pub quality: QualityFigures,
    pub quality_by_month: Vec<(String, QualityFigures)>,
    pub traffic: Option<TrafficSummary>,
    pub maintenance: Vec<MaintenanceView>,
    pub exclusions: Vec<ExclusionView>,
    /// Outages both sides agreed on, overlapping the period.
    pub agreed: Vec<AgreedOutageView>,
    /// Our own side's faults overlapping the period: why coverage was
    /// lost, never charged.
    pub local_faults: Vec<linkledger_ledger::read::LocalFaultView>,
    pub anomalies: Vec<Anomaly>,
    pub days: Vec<Day>,
    #[serde(skip)]
    pub traffic_hourly: Vec<TrafficPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EgressFigures {
    pub availability: Availability,
    pub year_to_date: BudgetView,
    pub years: Vec<YearPart>,
    /// Times every line was down at once.
    pub outages: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    pub faults: Vec<FaultView>,
    pub fault_classes: Vec<ClassSummary>,
}

/// Everything a period report shows, before any advice or rendering.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodFigures {
    pub contract: String,
    pub timezone: String,
    pub period: Period,
    /// Figures are counted up to here: the period's end, or now while it runs.
    pub until: DateTime<Utc>,
    pub contract_year: i32,
    pub contract_year_start: DateTime<Utc>,
    pub contract_year_end: DateTime<Utc>,
    pub cap_s: f64,
    pub approved_maintenance_counts: bool,
    pub lines: Vec<LineFigures>,
    /// None when the report is for one line.
    pub egress: Option<EgressFigures>,
    /// Share of the contracted bandwidth above which upgrade advice is given.
    pub upgrade_advice_share: f64,
    /// Each line's RTT threshold in ms, for the advice.
    #[serde(skip)]
    pub rtt_thresholds: Vec<(String, Option<f64>)>,
    /// When the figures were read (deadlines are judged as of then).
    #[serde(skip)]
    pub generated_at: DateTime<Utc>,
    /// Faults detected before the period with a correction recorded in it.
    #[serde(skip)]
    pub corrected_faults: Vec<FaultView>,
}

fn class_summaries(fs: &[FaultView]) -> Vec<ClassSummary> {
    FaultClass::ALL
        .into_iter()
        .filter_map(|class| {
            let of: Vec<_> = fs.iter().filter(|f| f.class == class).collect();
            if of.is_empty() {
                return None;
            }
            let deadlines = DeadlineKind::ALL
                .into_iter()
                .map(|k| {
                    let mut n = [0; 4];
                    for f in &of {
                        if let Some(d) = f.deadlines.iter().find(|d| d.kind == k) {
                            n[match d.state {
                                DeadlineState::Met => 0,
                                DeadlineState::Breached => 1,
                                DeadlineState::Pending => 2,
                                DeadlineState::NotRequired => 3,
                            }] += 1;
                        }
                    }
                    (k, n)
                })
                .collect();
            let repaired: Vec<f64> = of
                .iter()
                .filter(|f| !f.open)
                .map(|f| f.duration_s)
                .collect();
            Some(ClassSummary {
                class,
                faults: of.len(),
                deadlines,
                mttr_s: (!repaired.is_empty())
                    .then(|| repaired.iter().sum::<f64>() / repaired.len() as f64),
            })
        })
        .collect()
}

fn in_period(f: &FaultView, p: Span) -> bool {
    f.detected_at >= p.0 && f.detected_at < p.1
}

async fn outage_rows(
    ledger: &Ledger,
    line: &str,
    p: Span,
    d: &Downtime,
    now: DateTime<Utc>,
) -> Result<Vec<OutageRow>, LedgerError> {
    let rows = linkledger_ledger::read::outages_touching(ledger, line, p).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let start = r.start?;
            let end = r.end;
            let span = (start, end.unwrap_or(now).min(p.1).max(start));
            let inside = clip(&[span], p);
            let part = |spans: &[Span]| secs(total(&intersect(spans, &inside)));
            Some(OutageRow {
                id: r.id,
                start,
                end,
                split: start < p.0 || end.is_none_or(|e| e > p.1),
                duration_s: secs(total(&inside)),
                charged_s: part(&d.charged),
                excluded_s: part(&d.excluded_force_majeure) + part(&d.excluded_maintenance),
                unobserved_s: part(&d.unobserved),
                cause: r.cause,
                fault: r.fault,
                class: None,
            })
        })
        .collect())
}

/// The figures of `period` for every configured line (or one) and the egress.
/// The ledger is read once here for every line and the egress; the reads
/// and the loop over lines stay together so nothing is read twice.
pub async fn period_figures(
    ledger: &Ledger,
    c: &Config,
    period: &Period,
    only: Option<&str>,
    now: DateTime<Utc>,
) -> Result<PeriodFigures, LedgerError> {
    let tz = c.daemon.timezone;
    let terms = &c.contract.terms;
    let until = now.min(period.end).max(period.start);
    let p = (period.start, until);
    // Each contract year the period touches counts against its own cap;
    // one read of each line's records serves the budgets and the period.
    let parts = year_parts(c, p);
    let (budgets, records) = budgets_over(ledger, c, &parts, p).await?;
    let (year, _) = *parts.last().expect("at least one part");
    let budget = budgets.last().expect("at least one part").clone();
    let all_faults = faults(
        ledger,
        &FaultFilter {
            since: Some(period.start),
            ..Default::default()
        },
        terms,
        now,
    )
    .await?;
    let all_exclusions = exclusions(ledger).await?;
    let days = Period {
        end: until,
        ..period.clone()
    }
    .days_within(tz);
    let mut downs = Vec::new();
    let mut year_downs: Vec<Vec<Downtime>> = vec![Vec::new(); parts.len()];
    let mut lines = Vec::new();
    for (i, (l, r)) in c.lines.iter().zip(&records).enumerate() {
        let d = Downtime::of_line(r, p, terms.approved_maintenance_counts);
        let in_years: Vec<Downtime> = parts
            .iter()
            .map(|(y, part)| {
                Downtime::of_line(r, (y.start, part.1), terms.approved_maintenance_counts)
            })
            .collect();
        downs.push(d.clone());
        for (k, y) in in_years.iter().enumerate() {
            year_downs[k].push(y.clone());
        }
        if only.is_some_and(|o| o != l.id) {
            continue;
        }
        let years = year_rows(&parts, &in_years, |k| budgets[k].lines[i].clone());
        lines.push(
            line_figures(
                ledger,
                c,
                l,
                period,
                p,
                &d,
                (&parts, &in_years),
                years,
                &budget.lines[i],
                &all_faults,
                &all_exclusions,
                &days,
                now,
            )
            .await?,
        );
    }
    let egress = only
        .is_none()
        .then(|| egress_figures(&downs, &year_downs, &all_faults, &parts, &budgets, p));
    Ok(PeriodFigures {
        contract: c.contract.name.clone(),
        timezone: tz.name().to_string(),
        period: period.clone(),
        until,
        contract_year: year.number,
        contract_year_start: year.start,
        contract_year_end: year.end,
        cap_s: budget.egress.cap_s,
        approved_maintenance_counts: terms.approved_maintenance_counts,
        lines,
        egress,
        upgrade_advice_share: c.contract.upgrade_advice_share,
        rtt_thresholds: rtt_thresholds(c),
        generated_at: now,
        corrected_faults: linkledger_ledger::records::corrected_in(
            ledger,
            &c.contract.terms,
            p,
            now,
        )
        .await?,
    })
}

/// Each contract year's budget as at the end of its part of the period,
/// and every line's records read once (by the last part, which reads from
/// the period's start).
async fn budgets_over(
    ledger: &Ledger,
    c: &Config,
    parts: &[(ContractYear, Span)],
    p: Span,
) -> Result<(Vec<Budget>, Vec<linkledger_core::budget::LineRecords>), LedgerError> {
    let mut budgets = Vec::new();
    let mut records = Vec::new();
    for (y, part) in parts {
        let (b, r) = budget_and_records(ledger, c, *y, part.1, p.0).await?;
        budgets.push(b);
        records = r;
    }
    Ok((budgets, records))
}

/// The egress as a whole: down when every line is, its own faults, and
/// its budget in each contract year the period touches.
fn egress_figures(
    downs: &[Downtime],
    year_downs: &[Vec<Downtime>],
    all_faults: &[FaultView],
    parts: &[(ContractYear, Span)],
    budgets: &[Budget],
    p: Span,
) -> EgressFigures {
    let d = Downtime::of_egress(downs);
    let fs: Vec<FaultView> = all_faults
        .iter()
        .filter(|f| f.line.is_none() && in_period(f, p))
        .cloned()
        .collect();
    let in_years: Vec<Downtime> = year_downs.iter().map(|l| Downtime::of_egress(l)).collect();
    EgressFigures {
        availability: Availability::of(&d, p),
        year_to_date: budgets.last().expect("at least one part").egress.clone(),
        years: year_rows(parts, &in_years, |k| budgets[k].egress.clone()),
        outages: d.down.clone(),
        fault_classes: class_summaries(&fs),
        faults: fs,
    }
}

/// Each line's RTT threshold in milliseconds, when it has one.
fn rtt_thresholds(c: &Config) -> Vec<(String, Option<f64>)> {
    c.lines
        .iter()
        .map(|l| {
            (
                l.id.clone(),
                l.rtt_threshold.map(|d| d.as_secs_f64() * 1000.0),
            )
        })
        .collect()
}

/// The contract years `p` touches, each with the part of `p` inside it,
/// in order. A period before the contract starts is one part of year 1.
pub fn year_parts(c: &Config, p: Span) -> Vec<(ContractYear, Span)> {
    let (start, tz) = (c.contract.start, c.daemon.timezone);
    let mut out = Vec::new();
    let mut y = ContractYear::containing(start, tz, p.0);
    while y.start < p.1 {
        let part = (p.0.max(y.start), p.1.min(y.end));
        if part.0 < part.1 {
            out.push((y, part));
        }
        y = ContractYear::nth(start, tz, y.number + 1);
    }
    if out.is_empty() {
        let y = ContractYear::containing(start, tz, p.1 - TimeDelta::milliseconds(1));
        out.push((y, p));
    }
    out
}

fn year_rows(
    parts: &[(ContractYear, Span)],
    in_years: &[Downtime],
    budget: impl Fn(usize) -> BudgetView,
) -> Vec<YearPart> {
    parts
        .iter()
        .zip(in_years)
        .enumerate()
        .map(|(k, ((y, part), d))| YearPart {
            contract_year: y.number,
            year_start: y.start,
            year_end: y.end,
            from: part.0,
            to: part.1,
            charged_s: secs(total(&clip(&d.charged, *part))),
            budget: budget(k),
        })
        .collect()
}

/// A line's quality over the whole period and month by month.
fn quality_sums(per_day: &[(NaiveDate, QualitySum)]) -> (QualitySum, Vec<(String, QualitySum)>) {
    let mut whole = QualitySum::default();
    let mut months: Vec<(String, QualitySum)> = Vec::new();
    for (date, q) in per_day {
        whole.add(q);
        let m = date.format("%Y-%m").to_string();
        match months.last_mut() {
            Some((k, s)) if *k == m => s.add(q),
            _ => months.push((m, q.clone())),
        }
    }
    (whole, months)
}

/// A line's days: what each charged, left unobserved and measured, and the
/// contract-year budget left at its end.
fn day_rows(
    per_day: &[(NaiveDate, QualitySum)],
    days: &[(NaiveDate, Span)],
    d: &Downtime,
    (parts, in_years): (&[(ContractYear, Span)], &[Downtime]),
    cap: f64,
) -> Vec<Day> {
    per_day
        .iter()
        .zip(days)
        .map(|((date, q), (_, span))| {
            let charged = secs(total(&clip(&d.charged, *span)));
            let unobserved = secs(total(&clip(&d.unobserved, *span)));
            let observed = secs(span.1 - span.0) - unobserved;
            // The budget of the contract year this day is in.
            let k = parts
                .iter()
                .rposition(|(y, _)| y.start <= span.0)
                .unwrap_or(0);
            let used = secs(total(&clip(
                &in_years[k].charged,
                (DateTime::<Utc>::MIN_UTC, span.1),
            )));
            let f = q.figures();
            Day {
                date: *date,
                charged_s: charged,
                unobserved_s: unobserved,
                availability: (observed > 0.0).then(|| 1.0 - charged / observed),
                rtt_p50_ms: f.rtt_p50_ms,
                rtt_p95_ms: f.rtt_p95_ms,
                rtt_p99_ms: f.rtt_p99_ms,
                loss_ratio: f.loss_ratio,
                budget_left_s: cap - used,
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn line_figures(
    ledger: &Ledger,
    c: &Config,
    l: &Line,
    period: &Period,
    p: Span,
    d: &Downtime,
    (parts, in_years): (&[(ContractYear, Span)], &[Downtime]),
    years: Vec<YearPart>,
    ytd: &BudgetView,
    all_faults: &[FaultView],
    all_exclusions: &[ExclusionView],
    days: &[(NaiveDate, Span)],
    now: DateTime<Utc>,
) -> Result<LineFigures, LedgerError> {
    let fs: Vec<FaultView> = all_faults
        .iter()
        .filter(|f| f.line.as_deref() == Some(&l.id) && in_period(f, p))
        .cloned()
        .collect();
    let mut outages = outage_rows(ledger, &l.id, p, d, now).await?;
    for o in &mut outages {
        o.class = o
            .fault
            .and_then(|id| all_faults.iter().find(|f| f.id == id))
            .map(|f| f.class);
    }
    let per_day = linkledger_ledger::day_rollups::quality_by_day(ledger, &l.id, days).await?;
    let (whole, months) = quality_sums(&per_day);
    let days_out = day_rows(&per_day, days, d, (parts, in_years), ytd.cap_s);
    let contracted = l.bandwidth_mbps as f64 * 1e6;
    let samples = linkledger_ledger::day_rollups::traffic_by_day(ledger, &l.id, days).await?;
    let t = super::traffic_figures::figures(
        &l.id,
        &samples,
        contracted,
        c.contract.upgrade_advice_share,
    );
    let (traffic, traffic_hourly, mut anomalies) = match t {
        Some(t) => (Some(t.summary), t.hourly, t.anomalies),
        None => (None, Vec::new(), Vec::new()),
    };
    for a in &mut anomalies {
        a.faults = fs
            .iter()
            .filter(|f| f.detected_at < a.end && f.resolved_at.is_none_or(|r| r > a.start))
            .map(|f| f.id)
            .collect();
    }
    let local_faults =
        linkledger_ledger::read::local_faults(ledger, Some(&l.id), Some(p.0), Some(p.1), now)
            .await?;
    Ok(LineFigures {
        local_faults,
        line: l.id.clone(),
        carrier: l.carrier.clone(),
        display_name: l.display_name.clone(),
        role: l.role.to_string(),
        bandwidth_mbps: l.bandwidth_mbps,
        availability: Availability::of(d, p),
        year_to_date: ytd.clone(),
        years,
        outages,
        fault_classes: class_summaries(&fs),
        anomalies,
        faults: fs,
        quality: whole.figures(),
        quality_by_month: months.into_iter().map(|(m, s)| (m, s.figures())).collect(),
        traffic,
        maintenance: maintenance(
            ledger,
            Some(&l.id),
            (period.start, p.1),
            c.contract.terms.maintenance_notice,
        )
        .await?,
        exclusions: all_exclusions
            .iter()
            .filter(|e| e.line.as_deref().is_none_or(|x| x == l.id) && e.start < p.1 && e.end > p.0)
            .cloned()
            .collect(),
        agreed: agreed_outages(ledger, Some(&l.id))
            .await?
            .into_iter()
            .filter(|a| a.start < p.1 && a.end > p.0)
            .collect(),
        days: days_out,
        traffic_hourly,
    })
}
