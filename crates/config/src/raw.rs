//! The config file as written: strict serde structs (`deny_unknown_fields`)
//! whose leaf types check their own shape, so a bad duration, date, address
//! or network is reported by toml with its line and column.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use crate::values::{Block, Date, Dur, Listen, Target, TimeZone};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub daemon: RawDaemon,
    pub contract: RawContract,
    #[serde(default)]
    pub probe: RawProbe,
    #[serde(default, rename = "line")]
    pub lines: Vec<RawLine>,
    #[serde(default)]
    pub api: super::terms::RawApi,
    #[serde(default)]
    pub alerts: super::notify::RawAlerts,
    #[serde(default)]
    pub notify: Vec<super::notify::RawChannel>,
    #[serde(default)]
    pub report: super::report::RawReport,
    #[serde(default)]
    pub vantage: Vec<super::vantage::RawVantage>,
    #[serde(default, rename = "special_period")]
    pub special_periods: Vec<super::special::RawSpecialPeriod>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// The ledger: an SQLite file, or a PostgreSQL URL ("postgres://…").
    pub database: PathBuf,
    /// PostgreSQL's password (never in the URL): inline, from the
    /// environment, or from a file.
    #[serde(default)]
    pub database_password: Option<String>,
    #[serde(default)]
    pub database_password_env: Option<String>,
    #[serde(default)]
    pub database_password_file: Option<PathBuf>,
    /// With PostgreSQL: where this daemon keeps its journal and lock
    /// (default: the config file's folder).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// With PostgreSQL: two daemons with this config on two hosts share
    /// the ledger, one leading and one standing by (a lease decides).
    #[serde(default)]
    pub active_standby: bool,
    /// This daemon's name in its pair, shown on /metrics and the status
    /// page (default: the host's name).
    #[serde(default)]
    pub instance: Option<String>,
    pub listen: Listen,
    #[serde(default = "default_timezone")]
    pub timezone: TimeZone,
    /// Where people reach the status page (e.g. "https://noc.example/linkledger/"),
    /// linked from every alert.
    #[serde(default)]
    pub public_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContract {
    pub name: String,
    pub start: Date,
    /// Statutory holidays (announced each year), special periods without a roster.
    #[serde(default)]
    pub holidays: Vec<Date>,
    #[serde(default = "default_cap")]
    pub annual_downtime_cap: Dur,
    #[serde(default = "default_advice_share")]
    pub upgrade_advice_share: f64,
    #[serde(default = "super::terms::default_response")]
    pub response: Dur,
    #[serde(default = "super::terms::default_on_site")]
    pub on_site: Dur,
    #[serde(default)]
    pub resolution: super::terms::RawResolution,
    #[serde(default = "super::terms::default_repair_report")]
    pub repair_report: Dur,
    #[serde(default = "super::terms::default_maintenance_notice")]
    pub maintenance_notice: Dur,
    #[serde(default = "super::terms::default_approved_maintenance_counts")]
    pub approved_maintenance_counts: bool,
    #[serde(default)]
    pub degradation: super::terms::RawDegradation,
    #[serde(default)]
    pub classes: linkledger_core::fault::ClassRules,
    #[serde(default)]
    pub response_from: super::terms::ResponseFrom,
    #[serde(default)]
    pub egress_breaches: super::terms::EgressBreaches,
    #[serde(default = "super::terms::default_ip_block_counts")]
    pub ip_block_counts: bool,
    #[serde(default)]
    pub member: Vec<super::report::Member>,
    #[serde(default)]
    pub penalty: Vec<super::report::Penalty>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    #[serde(default = "default_interval")]
    pub interval: Dur,
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    #[serde(default = "default_down_after")]
    pub down_after: u32,
    #[serde(default = "default_up_after")]
    pub up_after: u32,
    #[serde(default = "default_retries")]
    pub retries: u32,
}

impl Default for RawProbe {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            timeout: default_timeout(),
            down_after: default_down_after(),
            up_after: default_up_after(),
            retries: default_retries(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLine {
    pub id: String,
    pub carrier: String,
    /// The carrier's name as Chinese documents say it ("中国电信").
    pub display_name: Option<String>,
    pub role: Role,
    pub bandwidth_mbps: u64,
    #[serde(default)]
    pub ip_blocks: Vec<Block>,
    pub source: Option<Target>,
    pub interface: Option<String>,
    #[serde(default)]
    pub local: Vec<Target>,
    #[serde(default)]
    pub gateway: Vec<Target>,
    #[serde(default)]
    pub upstream: Vec<Target>,
    #[serde(default = "default_quorum")]
    pub upstream_quorum: u32,
    /// RTT 95th percentile above which the line is degraded.
    pub rtt_threshold: Option<Dur>,
    pub snmp: Option<super::snmp::RawSnmp>,
    /// Addresses of the line's ip_blocks that vantage agents probe.
    #[serde(default)]
    pub block_targets: Vec<String>,
    /// Healthy agents that must fail to reach the block for it to be down.
    #[serde(default = "default_block_quorum")]
    pub block_quorum: u32,
}

fn default_block_quorum() -> u32 {
    2
}

/// A line's place in the consortium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Lead,
    Member,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Lead => "lead",
            Role::Member => "member",
        })
    }
}

fn default_timezone() -> TimeZone {
    TimeZone(chrono_tz::Asia::Shanghai)
}
fn default_cap() -> Dur {
    Dur(Duration::from_secs(4 * 3600))
}
fn default_advice_share() -> f64 {
    0.7
}
fn default_interval() -> Dur {
    Dur(Duration::from_secs(1))
}
fn default_timeout() -> Dur {
    Dur(Duration::from_millis(800))
}
fn default_retries() -> u32 {
    2
}

fn default_down_after() -> u32 {
    3
}
fn default_up_after() -> u32 {
    2
}
fn default_quorum() -> u32 {
    1
}
