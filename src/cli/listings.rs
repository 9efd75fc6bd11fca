//! The ledger's listings: `outages`, `local-faults`, `gaps`, `clock-steps`, `traffic`,
//! `vantage status`.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use linkledger_config::Config;
use linkledger_ledger::{self as ledger, read, Ledger};

use crate::usage::{check_line, UsageError};

pub(super) fn parse_date(c: &Config, flag: &str, s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        UsageError(format!("{flag} {s:?}: write a date as YYYY-MM-DD or a time as RFC 3339 (2025-01-01T08:00:00+08:00)"))
    })?;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight");
    c.daemon
        .timezone
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| UsageError(format!("{flag} {s:?}: no such local time")).into())
}

/// What a listing reads from: the ledger, opened for reading, and its
/// `--since` as a time (the `--line` checked against the config).
pub(super) async fn listing_scope(
    c: &Config,
    line: Option<&str>,
    since: Option<String>,
) -> anyhow::Result<(Ledger, Option<DateTime<Utc>>)> {
    check_line(c, line)?;
    let since = since.map(|s| parse_date(c, "--since", &s)).transpose()?;
    Ok((ledger::connect_for_reading(&c.daemon).await?, since))
}

pub(super) async fn outages(
    c: &Config,
    line: Option<String>,
    since: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let (db, since) = listing_scope(c, line.as_deref(), since).await?;
    let list = read::outages(
        &db,
        line.as_deref(),
        since,
        linkledger_ledger::clock::wall_now(),
        &c.contract.terms,
    )
    .await
    .context("reading outages")?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    say!(
        "{:<12} {:<25} {:<25} {:>10} {:>10} {:>10}  cause",
        "line",
        "start",
        "end",
        "duration",
        "excluded",
        "charged"
    );
    for o in list {
        let fmt = |t| local_time(tz, t);
        say!(
            "{:<12} {:<25} {:<25} {:>9.1}s {:>9.1}s {:>9.1}s  {}",
            o.line,
            fmt(o.start),
            o.end.map(fmt).unwrap_or_else(|| "(open)".into()),
            o.duration_s,
            o.excluded_s,
            o.charged_s,
            o.cause
        );
    }
    Ok(())
}

pub(super) async fn local_faults(
    c: &Config,
    line: Option<String>,
    since: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let (db, since) = listing_scope(c, line.as_deref(), since).await?;
    let list = read::local_faults(
        &db,
        line.as_deref(),
        since,
        None,
        linkledger_ledger::clock::wall_now(),
    )
    .await
    .context("reading local faults")?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    say!(
        "{:<12} {:<25} {:<25} {:>10}  charged",
        "line",
        "start",
        "end",
        "duration"
    );
    for f in &list {
        let fmt = |t| local_time(tz, t);
        say!(
            "{:<12} {:<25} {:<25} {:>9.1}s  never (our own side; unobserved)",
            f.line,
            fmt(f.start),
            f.end.map(fmt).unwrap_or_else(|| "(open)".into()),
            f.duration_s,
        );
    }
    if list.is_empty() {
        say!("(none)");
    }
    Ok(())
}

pub(super) async fn vantage_status(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let list =
        linkledger_ledger::vantage::status::agents(&db, c, linkledger_ledger::clock::wall_now())
            .await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        say!("no [[vantage]] agents are configured");
    }
    let tz = c.daemon.timezone;
    say!(
        "{:<14} {:>8} {:>10} {:<25} {:>9} {:>8}  own side",
        "agent",
        "rounds",
        "last seq",
        "last round",
        "lag",
        "backlog"
    );
    for a in list {
        say!(
            "{:<14} {:>8} {:>10} {:<25} {:>9} {:>8}  {}",
            a.agent,
            a.rounds,
            a.last_seq.map_or("-".into(), |s| s.to_string()),
            a.last_round_at
                .map_or("never".into(), |t| local_time(tz, t)),
            a.lag_s.map_or("-".into(), |s| format!("{s:.1}s")),
            a.backlog.map_or("-".into(), |b| b.to_string()),
            match a.healthy {
                Some(true) => "healthy",
                Some(false) => "down (unobserved)",
                None => "-",
            }
        );
    }
    let blocks = linkledger_ledger::vantage::status::blocks(&db, c).await?;
    if !blocks.is_empty() {
        say!(
            "\n{:<14} {:<20} {:>6} {:<25} {:>8}  state",
            "line",
            "block",
            "quorum",
            "judged until",
            "outages"
        );
    }
    for b in blocks {
        say!(
            "{:<14} {:<20} {:>6} {:<25} {:>8}  {}",
            b.line,
            b.block,
            b.quorum,
            b.judged_until
                .map_or("not yet".into(), |t| local_time(tz, t)),
            b.outages,
            b.down_since.map_or("no open outage".into(), |t| format!(
                "down since {}",
                local_time(tz, t)
            )),
        );
    }
    Ok(())
}

pub(super) async fn gaps(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let list = read::gaps(&db).await.context("reading gaps")?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    say!(
        "{:<12} {:<25} {:<25} {:>10}  reason",
        "line",
        "start",
        "end",
        "duration"
    );
    for g in list {
        let fmt = |t| local_time(tz, t);
        say!(
            "{:<12} {:<25} {:<25} {:>9.1}s  {}",
            g.line.as_deref().unwrap_or("(all)"),
            fmt(g.start),
            fmt(g.end),
            g.duration_s,
            g.reason
        );
    }
    Ok(())
}

pub(super) async fn clock_steps(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let list = read::clock_steps(&db)
        .await
        .context("reading clock steps")?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    say!(
        "{:>5}  {:<25} {:<25} {:>12}  what",
        "run",
        "ledger time",
        "wall clock",
        "step"
    );
    for s in list {
        let what = if s.followed {
            "followed: the ledger's times moved with the clock"
        } else {
            "not followed (back): the run's times stayed ahead"
        };
        say!(
            "{:>5}  {:<25} {:<25} {:>+11.3}s  {}",
            s.run_id,
            local_time(tz, s.run_time),
            local_time(tz, s.wall_time),
            s.step_s,
            what
        );
    }
    Ok(())
}

pub(super) async fn traffic(
    c: &Config,
    line: Option<String>,
    from: &str,
    to: &str,
    json: bool,
) -> anyhow::Result<()> {
    check_line(c, line.as_deref())?;
    let (from, to) = (parse_date(c, "--from", from)?, parse_date(c, "--to", to)?);
    if to <= from {
        return Err(UsageError("--to must be after --from".into()).into());
    }
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let mut out = Vec::new();
    for l in c
        .lines
        .iter()
        .filter(|l| line.as_deref().is_none_or(|id| id == l.id))
    {
        let samples = read::traffic_samples(&db, &l.id, from, to)
            .await
            .context("reading traffic")?;
        let contracted = l.bandwidth_mbps as f64 * 1e6;
        out.push(linkledger_core::traffic::summarize(
            &l.id,
            &samples,
            contracted,
            c.contract.upgrade_advice_share,
        ));
    }
    if json {
        say!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mbps = |b: f64| b / 1e6;
    say!(
        "{:<12} {:<4} {:>10} {:>10} {:>10} {:>8}  (Mbit/s; p95 against contract)",
        "line",
        "dir",
        "average",
        "maximum",
        "p95",
        "p95 %"
    );
    for s in &out {
        for (dir, d) in [("in", &s.inbound), ("out", &s.outbound)] {
            say!(
                "{:<12} {:<4} {:>10.2} {:>10.2} {:>10.2} {:>7.1}%",
                s.line,
                dir,
                mbps(d.avg_bps),
                mbps(d.max_bps),
                mbps(d.p95_bps),
                d.p95_utilization * 100.0
            );
        }
        say!(
            "{:<12} {} samples, {:.1} h covered, symmetry {}{}",
            "",
            s.samples,
            s.seconds_covered / 3600.0,
            s.symmetry,
            s.advice
                .as_ref()
                .map(|a| format!("; advice: {a}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// A ledger time as the contract's zone shows it, with milliseconds.
pub(super) fn local_time(tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}
