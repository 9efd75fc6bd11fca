//! Command-line interface: `run`, `check-config`, `outages`, `gaps`,
//! `traffic`, the contract commands of [`crate::cli_contract`] and
//! `report` ([`crate::cli_report`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli_contract::{self, DrillCmd, ExcludeCmd, FaultCmd, MaintenanceCmd, OutageCmd};
use crate::usage::UsageError;
use linkledger_config::Config;

mod describe;
mod listings;
mod migrate;
mod notify;
mod verify;

use describe::describe;
use listings::{clock_steps, gaps, local_faults, outages, traffic, vantage_status};
use notify::{notify_status, notify_test};

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
        /// Start although the ledger's hash chain is broken, for this
        /// reason (chained in the ledger with the breaks it accepts; `verify`
        /// keeps reporting them). Without it the daemon refuses to start.
        #[arg(long, value_name = "REASON", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        accept_broken_chain: Option<String>,
    },
    /// Parse and validate a config file, and print what it configures.
    CheckConfig {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check the ledger file page by page and index by index (SQLite's
    /// integrity check; works while the daemon runs); exits 1 if damaged.
    CheckLedger {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Walk the ledger's hash chain: name every record changed, removed or
    /// added behind linkledger's back (works while the daemon runs); with
    /// --head and --seq, check a head a report printed. Exits 0 when
    /// intact, 1 when broken or the head does not hold.
    Verify {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// A chain head a report printed (64 hex digits) ...
        #[arg(long, value_name = "HEX")]
        head: Option<String>,
        /// ... and its sequence number.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        seq: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Copy an SQLite ledger into an empty PostgreSQL database, keys and
    /// hash chain included, and check the copy (row counts, the chain
    /// verified to the same head). Safe to run again. Stop the daemon first.
    Migrate {
        /// The SQLite ledger file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The PostgreSQL database (created empty), without a password:
        /// postgres://user@host:5432/db
        #[arg(long, value_name = "URL")]
        to: String,
        /// A file holding the PostgreSQL password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
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
    /// List the wall-clock steps the daemon saw: followed (the ledger's
    /// times moved with a forward step) or not (a backward step).
    ClockSteps {
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
            Command::Run { config, .. }
            | Command::CheckConfig { config }
            | Command::CheckLedger { config }
            | Command::Verify { config, .. } => config,
            Command::Outages(l) | Command::LocalFaults(l) => &l.config,
            Command::Gaps { config, .. } | Command::ClockSteps { config, .. } => config,
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
            Command::Migrate { from, .. } => from,
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

/// `check-ledger`: SQLite's full integrity check of the ledger file.
async fn check_ledger(c: &Config) -> anyhow::Result<()> {
    let db = linkledger_ledger::connect_for_reading(&c.daemon).await?;
    let found = db.check(false).await?;
    let path = c.daemon.ledger_name();
    if found.is_empty() {
        say!("ledger {path}: ok (every page, table and index checked)");
        return Ok(());
    }
    for f in &found {
        say!("{f}");
    }
    anyhow::bail!(
        "the ledger {path} is damaged: {} problem(s) above. Keep the file as it is, put the latest backup in its place (README, Backups) and start the daemon again",
        found.len()
    )
}

/// Runs the command; config errors exit with status 2, other failures 1.
pub fn main(cli: Cli) -> ExitCode {
    if let Command::Agent { config } = &cli.command {
        return agent_main(config);
    }
    if let Command::Migrate {
        from,
        to,
        password_file,
        json,
    } = &cli.command
    {
        return migrate::main(from, to, password_file.as_deref(), *json);
    }
    let path = cli.command.config_path();
    let load = match &cli.command {
        Command::Run { .. }
        | Command::CheckConfig { .. }
        | Command::Notify {
            cmd: NotifyCmd::Test { .. },
        } => Config::load(path),
        // Nothing is sent: secrets are not read.
        _ => Config::load_without_secrets(path),
    };
    let config = match load {
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
            Command::Run {
                accept_broken_chain,
                ..
            } => linkledger_daemon::daemon::run(config, accept_broken_chain).await,
            Command::CheckConfig { .. } => {
                print!("{}", describe(&config));
                Ok(())
            }
            Command::CheckLedger { .. } => check_ledger(&config).await,
            Command::Verify {
                head, seq, json, ..
            } => verify::verify(&config, json, head, seq).await,
            Command::Outages(l) => outages(&config, l.line, l.since, l.json).await,
            Command::Gaps { json, .. } => gaps(&config, json).await,
            Command::ClockSteps { json, .. } => clock_steps(&config, json).await,
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
            Command::Agent { .. } | Command::Migrate { .. } => {
                unreachable!("handled before the config is loaded")
            }
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
