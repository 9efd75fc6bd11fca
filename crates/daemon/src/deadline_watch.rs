//! Watches fault deadlines while the daemon runs: each breach is appended
//! to the fault's timeline once, at the deadline's due time, so the
//! breach counter and later reports read it from the ledger. At start every
//! fault is checked (breaches that fell due while the daemon was away);
//! afterwards only those whose deadlines can still fall due. It also
//! queues the alerts that time alone raises: a deadline approaching
//! (`alerts.deadline_lead` before it) and, every minute, the downtime
//! budget crossing a share of the cap or a projected breach appearing.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::LiveConfig;
use linkledger_ledger::{Ledger, LedgerError};
use tokio_util::sync::CancellationToken;

use linkledger_config::Config;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::faults::{record_approaching, record_breaches};
use linkledger_ledger::outbox::{self, NewNotice, NoticeKind};
use linkledger_ledger::records::{faults, FaultFilter};

pub async fn run(
    db: Ledger,
    config: LiveConfig,
    clock: RunClock,
    every: Duration,
    cancel: CancellationToken,
) {
    watch(&db, config, clock, every, cancel).await
}

/// What the watch checks on each tick: the ledger, or in a test of the
/// watch's timing on a paused clock, a stand-in that records the calls.
trait Watched {
    /// Appends the breaches that fell due and queues the approach alerts
    /// for the faults `filter` selects.
    fn deadlines(
        &self,
        c: &Config,
        filter: FaultFilter,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Queues the budget's share and projected-breach alerts.
    fn budget(
        &self,
        c: &Config,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

impl Watched for Ledger {
    async fn deadlines(
        &self,
        c: &Config,
        filter: FaultFilter,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let lead = TimeDelta::from_std(c.alerts.deadline_lead).unwrap_or(TimeDelta::zero());
        let list = faults(self, &filter, &c.contract.terms, now).await?;
        record_breaches(self, &list, now).await?;
        record_approaching(self, &list, now, lead).await
    }

    async fn budget(&self, c: &Config, now: DateTime<Utc>) -> Result<(), LedgerError> {
        budget_notices(self, c, now).await
    }
}

/// Every `every`: the deadlines (every fault at the first check, and
/// again until one succeeds, so breaches that fell due while the daemon
/// was away are not missed; then only the faults whose deadlines can still
/// fall due), and once a minute the budget (retried at the next tick when
/// it fails).
async fn watch<W: Watched>(
    w: &W,
    config: LiveConfig,
    clock: RunClock,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    let mut first = true;
    let mut budget_due: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let c = config.get();
        let now = clock.now();
        let horizon = TimeDelta::from_std(c.contract.terms.repair_report).unwrap_or(TimeDelta::MAX);
        let filter = FaultFilter {
            since: (!first).then(|| now - horizon - TimeDelta::hours(1)),
            ..Default::default()
        };
        let result = w.deadlines(&c, filter, now).await;
        if budget_due.is_none_or(|t| t <= tokio::time::Instant::now()) {
            match w.budget(&c, now).await {
                Ok(()) => budget_due = Some(tokio::time::Instant::now() + BUDGET_EVERY),
                Err(e) => {
                    tracing::error!(error = %e, "cannot check the downtime budget for alerts; retrying")
                }
            }
        }
        match result {
            Ok(()) => first = false,
            Err(e) => tracing::error!(error = %e, "cannot check fault deadlines; retrying"),
        }
    }
}

const BUDGET_EVERY: Duration = Duration::from_secs(60);

/// Queues, once per contract year, a notice for each share of the cap a
/// line (or the egress) has used, and for a projected breach appearing.
async fn budget_notices(db: &Ledger, c: &Config, now: DateTime<Utc>) -> Result<(), LedgerError> {
    let b = linkledger_ledger::budget::budget(db, c, now).await?;
    let year = b.year_start.format("%Y-%m-%d").to_string();
    for v in b.lines.iter().chain(std::iter::once(&b.egress)) {
        let line = (v.line != linkledger_core::EGRESS).then(|| v.line.clone());
        let figures = serde_json::json!({
            "charged_seconds": v.charged_s,
            "cap_seconds": v.cap_s,
            "remaining_seconds": v.remaining_s,
            "contract_year": b.contract_year,
        });
        let mut notices = Vec::new();
        for share in c
            .alerts
            .budget_shares
            .iter()
            .filter(|s| v.used_share >= **s)
        {
            let mut detail = figures.clone();
            detail["share"] = serde_json::json!(share);
            notices.push(NewNotice::about(
                NoticeKind::BudgetShare,
                format!("budget:{}:{year}:{}", v.line, (share * 100.0).round()),
                line.clone(),
                now,
                detail,
            ));
        }
        if let (Some(when), false) = (v.projected_breach, v.breached) {
            let mut detail = figures.clone();
            detail["projected_breach"] = serde_json::json!(linkledger_core::time::ledger_ts(when));
            notices.push(NewNotice::about(
                NoticeKind::BudgetProjectedBreach,
                format!("budget:{}:{year}:projected", v.line),
                line.clone(),
                now,
                detail,
            ));
        }
        for n in notices {
            outbox::queue_alone(db, &n).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "deadline_watch_tests.rs"]
mod tests;
