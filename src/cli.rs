//! Command-line interface: `run`, `check-config`, `outages`, `gaps`,
//! `traffic`, the contract commands of [`crate::cli_contract`] and
//! `report` ([`crate::cli_report`]).

use linkledger_ledger::Ledger;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clap::{Parser, Subcommand};

use crate::cli_contract::{self, DrillCmd, ExcludeCmd, FaultCmd, MaintenanceCmd, OutageCmd};
use crate::usage::{check_line, UsageError};
use linkledger_config::Config;
use linkledger_core::contract::ContractYear;
use linkledger_ledger::{self as ledger, read};

#[derive(Debug, Parser)]
#[command(
    name = "linkledger",
    version,
    about = "SLA monitoring daemon for leased internet egress lines"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum VantageCmd {
    /// Each agent's last round, lag, backlog and health.
    Status {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Run {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Parse and validate a config file, and print what it configures.
    CheckConfig {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// List outages from the ledger (works while the daemon runs).
    Outages(Listing),
    /// List local faults: times our own side of a line (firewall, CPE, the
    /// monitor's link) did not answer. Never charged to the carrier; the
    /// line is unobserved meanwhile (works while the daemon runs).
    LocalFaults(Listing),
    /// Traffic per line from the 5-minute SNMP samples: average, maximum and
    /// 95th percentile per direction, utilisation, symmetry, upgrade advice.
    Traffic {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Only this line.
        #[arg(long, value_name = "ID")]
        line: Option<String>,
        /// Start (YYYY-MM-DD in the contract's time zone, or RFC 3339).
        #[arg(long, value_name = "DATE")]
        from: String,
        /// End, exclusive.
        #[arg(long, value_name = "DATE")]
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Fault tickets: list, show, and record the carrier's steps.
    Fault {
        #[command(subcommand)]
        cmd: FaultCmd,
    },
    /// Force-majeure exclusions: add, list, withdraw.
    Exclude {
        #[command(subcommand)]
        cmd: ExcludeCmd,
    },
    /// Planned maintenance windows: add, list, withdraw.
    Maintenance {
        #[command(subcommand)]
        cmd: MaintenanceCmd,
    },
    /// Emergency drills: add, list.
    Drill {
        #[command(subcommand)]
        cmd: DrillCmd,
    },
    /// Run as a vantage agent outside the customer's network: probe the
    /// public IP blocks the central daemon names and push every round to it.
    Agent {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// The vantage agents as the central daemon sees them.
    Vantage {
        #[command(subcommand)]
        cmd: VantageCmd,
    },
    /// Outages both sides agree on (the carrier admits time the monitor
    /// did not see): agree, list.
    Outage {
        #[command(subcommand)]
        cmd: OutageCmd,
    },
    /// The downtime budget of a contract year (default: the current one),
    /// per line and for the egress.
    Budget {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The contract year's number counted from the contract start (1, 2, 3),
        /// as `report annual --contract-year` takes it.
        #[arg(
            long = "contract-year",
            visible_alias = "year",
            value_name = "N",
            allow_negative_numbers = true
        )]
        year: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// The audit log of operator actions.
    Audit {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Alert channels: send a test message through each, or show what
    /// each still owes.
    Notify {
        #[command(subcommand)]
        cmd: NotifyCmd,
    },
    /// Reports for the contract manager: quarterly, annual, half-year
    /// assessment, one fault's record; HTML, PDF, Markdown, CSV or JSON.
    Report {
        #[command(subcommand)]
        cmd: crate::cli_report::ReportCmd,
    },
    /// List the gaps in observation (daemon not running, probes failing).
    Gaps {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// What a listing of the ledger's records takes.
#[derive(Debug, clap::Args)]
pub struct Listing {
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Only this line.
    #[arg(long, value_name = "ID")]
    line: Option<String>,
    /// Only those still going at or after this date (YYYY-MM-DD in the
    /// contract's time zone, or an RFC 3339 time).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl Command {
    fn config_path(&self) -> &PathBuf {
        match self {
            Command::Run { config } | Command::CheckConfig { config } => config,
            Command::Outages(l) | Command::LocalFaults(l) => &l.config,
            Command::Gaps { config, .. } => config,
            Command::Traffic { config, .. }
            | Command::Budget { config, .. }
            | Command::Audit { config, .. } => config,
            Command::Notify {
                cmd: NotifyCmd::Test { config, .. } | NotifyCmd::Status { config, .. },
            } => config,
            Command::Report { cmd } => cmd.config_path(),
            Command::Fault { cmd } => match cmd {
                FaultCmd::List { common, .. }
                | FaultCmd::Show { common, .. }
                | FaultCmd::Reclassify { common, .. } => &common.config,
                FaultCmd::Ack(s) | FaultCmd::OnSite(s) | FaultCmd::Note(s) => &s.common.config,
                FaultCmd::RepairReport { step, .. }
                | FaultCmd::Ticket { step, .. }
                | FaultCmd::Report { step, .. } => &step.common.config,
            },
            Command::Exclude { cmd } => match cmd {
                ExcludeCmd::Add { common, .. } => &common.config,
                ExcludeCmd::List(l) => &l.common.config,
                ExcludeCmd::Withdraw(w) => &w.common.config,
            },
            Command::Maintenance { cmd } => match cmd {
                MaintenanceCmd::Add { common, .. } => &common.config,
                MaintenanceCmd::List(l) => &l.common.config,
                MaintenanceCmd::Withdraw(w) | MaintenanceCmd::Approve(w) => &w.common.config,
            },
            Command::Agent { config } => config,
            Command::Vantage {
                cmd: VantageCmd::Status { config, .. },
            } => config,
            Command::Outage { cmd } => match cmd {
                OutageCmd::Agree { common, .. } => &common.config,
                OutageCmd::List(l) => &l.common.config,
            },
            Command::Drill { cmd } => match cmd {
                DrillCmd::Add { common, .. } => &common.config,
                DrillCmd::List(l) => &l.common.config,
            },
        }
    }
}

/// Runs the command; config errors exit with status 2, other failures 1.
pub fn main(cli: Cli) -> ExitCode {
    if let Command::Agent { config } = &cli.command {
        return agent_main(config);
    }
    let config = match Config::load(cli.command.config_path()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { .. } => linkledger_daemon::daemon::run(config).await,
            Command::CheckConfig { .. } => {
                print!("{}", describe(&config));
                Ok(())
            }
            Command::Outages(l) => outages(&config, l.line, l.since, l.json).await,
            Command::Gaps { json, .. } => gaps(&config, json).await,
            Command::LocalFaults(l) => local_faults(&config, l.line, l.since, l.json).await,
            Command::Traffic {
                line,
                from,
                to,
                json,
                ..
            } => traffic(&config, line, &from, &to, json).await,
            Command::Fault { cmd } => cli_contract::fault(&config, cmd).await,
            Command::Exclude { cmd } => cli_contract::exclude(&config, cmd).await,
            Command::Maintenance { cmd } => cli_contract::maintenance(&config, cmd).await,
            Command::Drill { cmd } => cli_contract::drill(&config, cmd).await,
            Command::Outage { cmd } => cli_contract::outage(&config, cmd).await,
            Command::Agent { .. } => unreachable!("handled before the config is loaded"),
            Command::Vantage {
                cmd: VantageCmd::Status { json, .. },
            } => vantage_status(&config, json).await,
            Command::Budget { year, json, .. } => cli_contract::budget(&config, year, json).await,
            Command::Audit { json, .. } => cli_contract::audit(&config, json).await,
            Command::Report { cmd } => crate::cli_report::run(&config, cmd).await,
            Command::Notify {
                cmd: NotifyCmd::Test { channel, .. },
            } => notify_test(&config, channel.as_deref()).await,
            Command::Notify {
                cmd: NotifyCmd::Status { json, .. },
            } => notify_status(&config, json).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<cli_contract::Refused>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    /// Send a test message through every channel (or one) and print what
    /// each far end answered; exits 1 if any channel failed.
    Test {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Only this channel (its `name` in `[[notify]]`).
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
    /// What each channel still owes, what it has delivered, and how its
    /// last attempt went (read from the ledger's outbox).
    Status {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

async fn notify_status(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = linkledger_ledger::open_for_reading(&c.daemon.database).await?;
    let list = linkledger_notify::status::status(&db, c)
        .await
        .context("cannot read the alert outbox")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
    };
    println!(
        "{:<14} {:<12} {:>7}  {:<19}  {:>6} {:>7} {:>8}  last attempt",
        "channel", "kind", "pending", "oldest pending", "sent", "failed", "rejected"
    );
    for s in list {
        let last = match (&s.last_attempt, s.registered) {
            (_, false) => "not registered yet: the daemon registers it when it starts".to_string(),
            (None, true) => "none".to_string(),
            (Some(a), true) => format!(
                "{} {} {}: {}",
                a.at.map(local).unwrap_or_default(),
                a.notice,
                a.outcome,
                a.detail
            ),
        };
        println!(
            "{:<14} {:<12} {:>7}  {:<19}  {:>6} {:>7} {:>8}  {last}",
            s.channel,
            s.kind,
            s.pending,
            s.oldest_pending_queued_at
                .map(local)
                .unwrap_or_else(|| "-".into()),
            s.sent,
            s.failed_attempts,
            s.rejected,
        );
    }
    Ok(())
}

async fn notify_test(c: &Config, only: Option<&str>) -> anyhow::Result<()> {
    let channels: Vec<&linkledger_config::Channel> = c
        .channels
        .iter()
        .filter(|ch| only.is_none_or(|o| o == ch.name))
        .collect();
    if channels.is_empty() {
        let names: Vec<&str> = c.channels.iter().map(|ch| ch.name.as_str()).collect();
        return Err(UsageError(match only {
            Some(o) => format!(
                "no channel named {o:?} in [[notify]] (configured: {})",
                names.join(", ")
            ),
            None => "no [[notify]] channel is configured".into(),
        })
        .into());
    }
    let mut failed = 0;
    for (ch, result) in linkledger_notify::test_channels(c, &channels).await {
        match result {
            Ok(answer) => println!("{} ({}): accepted: {answer}", ch.name, ch.kind.as_str()),
            Err(f) => {
                failed += 1;
                println!("{} ({}): FAILED: {f}", ch.name, ch.kind.as_str());
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} channel(s) failed", channels.len());
    }
    Ok(())
}

/// What `check-config` says of a valid config, part by part.
fn describe(c: &Config) -> String {
    [
        describe_contract(c),
        describe_terms(c),
        describe_delivery(c),
        describe_reports(c),
        describe_lines(c),
    ]
    .concat()
}

/// The contract year, the probe round, the ledger and the listener.
fn describe_contract(c: &Config) -> String {
    let now = linkledger_ledger::clock::wall_now();
    let year = ContractYear::containing(c.contract.start, c.daemon.timezone, now);
    format!(
        "{}: ok\ncontract: {} (year {} from {} to {}, cap {})\nprobe: every {}, timeout {}, down after {} rounds, up after {}\nledger: {}\nlisten: {}\n",
        c.path.display(),
        c.contract.name,
        year.number,
        year.start.with_timezone(&c.daemon.timezone).date_naive(),
        year.end.with_timezone(&c.daemon.timezone).date_naive(),
        humantime::format_duration(c.contract.annual_downtime_cap),
        humantime::format_duration(c.probe.interval),
        humantime::format_duration(c.probe.timeout),
        c.probe.down_after,
        c.probe.up_after,
        c.daemon.database.display(),
        c.daemon.listen,
    )
}

/// The fault deadlines and degradation thresholds.
fn describe_terms(c: &Config) -> String {
    let d = |v: std::time::Duration| humantime::format_duration(v).to_string();
    let t = &c.contract.terms;
    let mut s = format!(
        "faults: response {}, on site {}, resolution general {} / serious {} / major {}, repair report {}; maintenance notice {} (approved maintenance {})\n",
        d(t.response),
        d(t.on_site),
        d(t.resolution[0]),
        d(t.resolution[1]),
        d(t.resolution[2]),
        d(t.repair_report),
        d(t.maintenance_notice),
        if t.approved_maintenance_counts { "counts against the cap" } else { "is excluded" },
    );
    s += &format!(
        "degradation: loss >= {:.1} % over {}, RTT p95 over a line's rtt_threshold over {}, utilisation >= {:.0} % over {}\n",
        t.degradation.loss_ratio * 100.0,
        d(t.degradation.loss_window),
        d(t.degradation.rtt_window),
        t.degradation.utilisation_ratio * 100.0,
        d(t.degradation.utilisation_window),
    );
    s
}

/// The API's tokens, the alert settings and each notify channel.
fn describe_delivery(c: &Config) -> String {
    let d = |v: std::time::Duration| humantime::format_duration(v).to_string();
    let mut s = if c.api_tokens.is_empty() {
        "api: off (no [[api.token]])\n".to_string()
    } else {
        let tokens: Vec<String> = c
            .api_tokens
            .iter()
            .map(|t| format!("{} ({})", t.name, t.role.as_str()))
            .collect();
        format!("api: on, tokens {}\n", tokens.join(", "))
    };
    let a = &c.alerts;
    s += &format!(
        "alerts: deadline lead {}, budget shares {:?}, flapping at {} faults within {}\n",
        d(a.deadline_lead),
        a.budget_shares,
        a.flap_count,
        d(a.flap_window)
    );
    for ch in &c.channels {
        let to = match &ch.target {
            linkledger_config::notify::Target::Email(e) => {
                let tls = match e.tls {
                    linkledger_config::notify::SmtpTls::Starttls => "STARTTLS",
                    linkledger_config::notify::SmtpTls::Tls => "TLS",
                    linkledger_config::notify::SmtpTls::None => "no encryption",
                };
                format!("{}:{} ({tls}) to {}", e.host, e.port, e.to.join(", "))
            }
            linkledger_config::notify::Target::Http(_) => "webhook URL (hidden)".to_string(),
        };
        s += &format!("notify {}: {} {to}\n", ch.name, ch.kind.as_str());
    }
    s
}

/// Report formats and schedule, and the assessment's fees and rules.
fn describe_reports(c: &Config) -> String {
    let r = &c.report;
    let mut s = format!(
        "reports: {} in {}, {}, to {}\n",
        r.formats
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if r.language == linkledger_config::Language::ZhCn {
            "zh-CN"
        } else {
            "en"
        },
        if r.schedule {
            "written when each quarter, half-year and contract year ends"
        } else {
            "on request only"
        },
        r.dir.display()
    );
    s += &format!(
        "assessment: fees for {}; {} deduction rule(s){}\n",
        if c.contract.members.is_empty() {
            "no member (add [[contract.member]])".to_string()
        } else {
            c.contract
                .members
                .iter()
                .map(|m| format!("{} {:.2}/year", m.carrier, m.annual_fee))
                .collect::<Vec<_>>()
                .join(", ")
        },
        c.contract.penalties.len(),
        if c.contract.penalties.is_empty() {
            " (the contract states none: breaches are listed, nothing deducted)"
        } else {
            ""
        }
    );
    s
}

/// Each line's targets, RTT threshold and SNMP.
fn describe_lines(c: &Config) -> String {
    let mut s = String::new();
    for l in &c.lines {
        s += &format!(
            "line {}: {} ({}), {} Mbit/s, local {}, gateway {}, upstream {} (quorum {})\n",
            l.id,
            l.carrier,
            l.role,
            l.bandwidth_mbps,
            l.local.len(),
            l.gateway.len(),
            l.upstream.len(),
            l.upstream_quorum
        );
        if let Some(rtt) = l.rtt_threshold {
            s.pop();
            s += &format!(", rtt threshold {}\n", humantime::format_duration(rtt));
        }
        if let Some(snmp) = &l.snmp {
            s += &format!("  snmp: {}\n", snmp.describe());
        }
    }
    s
}

fn parse_date(c: &Config, flag: &str, s: &str) -> anyhow::Result<DateTime<Utc>> {
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
async fn listing_scope(
    c: &Config,
    line: Option<&str>,
    since: Option<String>,
) -> anyhow::Result<(Ledger, Option<DateTime<Utc>>)> {
    check_line(c, line)?;
    let since = since.map(|s| parse_date(c, "--since", &s)).transpose()?;
    Ok((ledger::open_for_reading(&c.daemon.database).await?, since))
}

async fn outages(
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
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    println!(
        "{:<12} {:<25} {:<25} {:>10} {:>10} {:>10}  cause",
        "line", "start", "end", "duration", "excluded", "charged"
    );
    for o in list {
        let fmt = |t| local_time(tz, t);
        println!(
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

async fn local_faults(
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
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    println!(
        "{:<12} {:<25} {:<25} {:>10}  charged",
        "line", "start", "end", "duration"
    );
    for f in &list {
        let fmt = |t| local_time(tz, t);
        println!(
            "{:<12} {:<25} {:<25} {:>9.1}s  never (our own side; unobserved)",
            f.line,
            fmt(f.start),
            f.end.map(fmt).unwrap_or_else(|| "(open)".into()),
            f.duration_s,
        );
    }
    if list.is_empty() {
        println!("(none)");
    }
    Ok(())
}

/// The multi-threaded runtime the commands run on (None: said why).
fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

/// `linkledger agent -c agent.toml`.
fn agent_main(path: &std::path::Path) -> ExitCode {
    let cfg = match linkledger_config::agent::AgentConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(linkledger_daemon::vantage::agent::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn vantage_status(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = ledger::open_for_reading(&c.daemon.database).await?;
    let list =
        linkledger_ledger::vantage::status::agents(&db, c, linkledger_ledger::clock::wall_now())
            .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("no [[vantage]] agents are configured");
    }
    let tz = c.daemon.timezone;
    println!(
        "{:<14} {:>8} {:>10} {:<25} {:>9} {:>8}  own side",
        "agent", "rounds", "last seq", "last round", "lag", "backlog"
    );
    for a in list {
        println!(
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
        println!(
            "\n{:<14} {:<20} {:>6} {:<25} {:>8}  state",
            "line", "block", "quorum", "judged until", "outages"
        );
    }
    for b in blocks {
        println!(
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

async fn gaps(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = ledger::open_for_reading(&c.daemon.database).await?;
    let list = read::gaps(&db).await.context("reading gaps")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    println!(
        "{:<12} {:<25} {:<25} {:>10}  reason",
        "line", "start", "end", "duration"
    );
    for g in list {
        let fmt = |t| local_time(tz, t);
        println!(
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

async fn traffic(
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
    let db = ledger::open_for_reading(&c.daemon.database).await?;
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
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mbps = |b: f64| b / 1e6;
    println!(
        "{:<12} {:<4} {:>10} {:>10} {:>10} {:>8}  (Mbit/s; p95 against contract)",
        "line", "dir", "average", "maximum", "p95", "p95 %"
    );
    for s in &out {
        for (dir, d) in [("in", &s.inbound), ("out", &s.outbound)] {
            println!(
                "{:<12} {:<4} {:>10.2} {:>10.2} {:>10.2} {:>7.1}%",
                s.line,
                dir,
                mbps(d.avg_bps),
                mbps(d.max_bps),
                mbps(d.p95_bps),
                d.p95_utilization * 100.0
            );
        }
        println!(
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
fn local_time(tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}
