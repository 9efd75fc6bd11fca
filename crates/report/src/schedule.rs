//! Scheduled reports: when a quarter, a half-year or a contract year has
//! ended, the daemon writes its report (quarterly, assessment, annual) in
//! the `[report]` formats and queues a `report_ready` notice, whose key
//! (`report:quarterly:2025Q1`) makes it once only, across restarts. It
//! also rolls each finished day's probe quality and traffic up into
//! `quality_days_observed` and `traffic_days`.
//! Time is an argument, so tests drive it with a synthetic clock.

use linkledger_ledger::Ledger;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::LiveConfig;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::period::Period;
use super::{build, ReportKind};
use linkledger_config::Config;
use linkledger_core::contract::ContractYear;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::outbox::{self, NewNotice, NoticeKind};

/// Reports are written this long after their period ends, so that the
/// last minute's rollups are in the ledger.
pub const SETTLE: TimeDelta = TimeDelta::minutes(2);

/// The most recent quarter, half-year and contract year that ended by
/// `now` (less [`SETTLE`]) and after `since`.
pub fn due(c: &Config, now: DateTime<Utc>, since: DateTime<Utc>) -> Vec<ReportKind> {
    let tz = c.daemon.timezone;
    let t = now - SETTLE;
    let mut out = Vec::new();
    let q = Period::quarter_of(
        Period::quarter_of(t, tz).start - TimeDelta::milliseconds(1),
        tz,
    );
    let h = Period::half_of(
        Period::half_of(t, tz).start - TimeDelta::milliseconds(1),
        tz,
    );
    let y = ContractYear::containing(c.contract.start, tz, t);
    let ended = |p: &Period| p.end > since && p.end <= t;
    if ended(&q) {
        out.push(ReportKind::Quarterly(q));
    }
    if ended(&h) {
        out.push(ReportKind::Assessment(h));
    }
    if y.number > 1 {
        let last =
            Period::of_contract_year(ContractYear::nth(c.contract.start, tz, y.number - 1), tz);
        if ended(&last) {
            out.push(ReportKind::Annual(last));
        }
    }
    out
}

fn key(kind: &ReportKind) -> String {
    format!("report:{}", kind.stem().replacen('-', ":", 1))
}

/// One check: roll up finished days, then write and announce any report
/// that is due and not announced yet. Returns the keys it queued.
pub async fn tick(ledger: &Ledger, c: &Config, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
    let ids: Vec<String> = c.lines.iter().map(|l| l.id.clone()).collect();
    linkledger_ledger::day_rollups::roll_up_quality(ledger, &ids, c.daemon.timezone, now).await?;
    linkledger_ledger::day_rollups::roll_up_traffic(ledger, &ids, c.daemon.timezone, now).await?;
    if !c.report.schedule {
        return Ok(Vec::new());
    }
    // Periods that ended before this ledger ever ran have nothing to report.
    let Some(since) = linkledger_ledger::run::first_started(ledger).await? else {
        return Ok(Vec::new());
    };
    let mut queued = Vec::new();
    for kind in due(c, now, since) {
        let k = key(&kind);
        if outbox::is_queued(ledger, &k).await? {
            continue;
        }
        let files = write(ledger, c, &kind, now).await?;
        let report_title = files.0;
        let n = NewNotice::about(
            NoticeKind::ReportReady,
            k.clone(),
            None,
            now,
            json!({
                "report": kind.as_str(),
                "period": match &kind { ReportKind::Quarterly(p) | ReportKind::Annual(p) | ReportKind::Assessment(p) => p.label.clone(), ReportKind::Fault(id) => id.to_string() },
                "title": report_title,
                "files": files.1.iter().map(|(f, p)| (f.clone(), json!(p.display().to_string()))).collect::<serde_json::Map<_, _>>(),
            }),
        );
        if outbox::queue_alone(ledger, &n).await? {
            tracing::info!(report = %k, "scheduled report written and queued for the notifier");
            queued.push(k);
        }
    }
    Ok(queued)
}

/// Writes the report in every configured format; returns its title and files.
async fn write(
    ledger: &Ledger,
    c: &Config,
    kind: &ReportKind,
    now: DateTime<Utc>,
) -> anyhow::Result<(String, Vec<(String, PathBuf)>)> {
    let report = build(ledger, c, kind.clone(), None, c.report.language, now).await?;
    std::fs::create_dir_all(&c.report.dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the report directory {}: {e}",
            c.report.dir.display()
        )
    })?;
    let font = if c
        .report
        .formats
        .contains(&linkledger_config::report::ReportFormat::Pdf)
    {
        Some(super::pdf::PdfFont::load(c.report.font.as_deref())?)
    } else {
        None
    };
    let mut files = Vec::new();
    for f in &c.report.formats {
        let bytes = report.render(*f, font.as_ref())?;
        let path = c.report.dir.join(format!("{}.{}", kind.stem(), f.as_str()));
        // Written beside and renamed, so a reader never sees half a file.
        let tmp = path.with_extension(format!("{}.part", f.as_str()));
        std::fs::write(&tmp, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        files.push((f.as_str().to_string(), path));
    }
    Ok((report.title().to_string(), files))
}

/// The daemon's task: [`tick`] every `every`, logging failures and trying
/// again next time (a full disk loses nothing: the notice is queued only
/// after the files are written).
pub async fn run(
    ledger: Ledger,
    config: LiveConfig,
    clock: RunClock,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let c = config.get();
        // A stop does not wait for the roll-ups and reports still to make
        // (a year of them after an upgrade): what is cut off is made at the
        // next start, since roll-ups are transactions and a report's notice
        // is queued only once its files are written.
        tokio::select! {
            _ = cancel.cancelled() => break,
            r = tick(&ledger, &c, clock.now()) => if let Err(e) = r {
                tracing::error!(error = %format!("{e:#}"), "cannot write the scheduled reports; retrying in a minute");
            }
        }
    }
}
