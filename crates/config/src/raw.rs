//! The config file as written: strict serde structs (`deny_unknown_fields`)
//! whose leaf types check their own shape, so a bad duration, date, address
//! or network is reported by toml with its line and column.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use ipnet::IpNet;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

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
    pub database: PathBuf,
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
    #[serde(default = "super::terms::thirty")]
    pub response: Dur,
    #[serde(default = "super::terms::thirty")]
    pub on_site: Dur,
    #[serde(default)]
    pub resolution: super::terms::RawResolution,
    #[serde(default = "super::terms::eight_hours")]
    pub repair_report: Dur,
    #[serde(default = "super::terms::one_day")]
    pub maintenance_notice: Dur,
    #[serde(default = "super::terms::yes")]
    pub approved_maintenance_counts: bool,
    #[serde(default)]
    pub degradation: super::terms::RawDegradation,
    #[serde(default)]
    pub classes: linkledger_core::fault::ClassRules,
    #[serde(default)]
    pub response_from: super::terms::ResponseFrom,
    #[serde(default)]
    pub egress_breaches: super::terms::EgressBreaches,
    #[serde(default = "super::terms::yes")]
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
}

impl Default for RawProbe {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            timeout: default_timeout(),
            down_after: default_down_after(),
            up_after: default_up_after(),
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
fn default_down_after() -> u32 {
    3
}
fn default_up_after() -> u32 {
    2
}
fn default_quorum() -> u32 {
    1
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

/// A duration written the humantime way: "800ms", "1s", "4h", "1h 30m".
#[derive(Debug, Clone, Copy)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        humantime::parse_duration(&s).map(Dur).map_err(|e| {
            D::Error::custom(format!(
                "invalid duration {s:?} ({e}); write a number with a unit, e.g. \"800ms\", \"1s\", \"30m\", \"4h\""
            ))
        })
    }
}

/// A calendar date, "YYYY-MM-DD".
#[derive(Debug, Clone, Copy)]
pub struct Date(pub NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Date)
            .map_err(|e| {
                D::Error::custom(format!(
                    "invalid date {s:?} ({e}); write it as YYYY-MM-DD, e.g. \"2024-07-01\""
                ))
            })
    }
}

/// An IANA time zone name.
#[derive(Debug, Clone, Copy)]
pub struct TimeZone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        s.parse().map(TimeZone).map_err(|_| {
            D::Error::custom(format!(
                "unknown time zone {s:?}; use an IANA name such as \"Asia/Shanghai\" or \"UTC\""
            ))
        })
    }
}

/// The HTTP listen address, "IP:port".
#[derive(Debug, Clone, Copy)]
pub struct Listen(pub SocketAddr);

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        s.parse().map(Listen).map_err(|_| {
            D::Error::custom(format!(
                "invalid listen address {s:?}; write IP:port, e.g. \"127.0.0.1:9798\" or \"[::1]:9798\""
            ))
        })
    }
}

/// A probe target or source: an IP literal, never a host name (a name would
/// make the answer depend on DNS, which is not the carrier's line).
#[derive(Debug, Clone, Copy)]
pub struct Target(pub IpAddr);

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        if let Ok(ip) = s.parse() {
            return Ok(Target(ip));
        }
        let looks_like_name = s.chars().any(|c| c.is_ascii_alphabetic()) && !s.contains(':');
        Err(D::Error::custom(if looks_like_name {
            format!(
                "{s:?} is a host name; probe targets must be IP literals (e.g. \"198.19.100.1\" or \"2001:db8::1\") so that DNS cannot decide whether a line is up"
            )
        } else {
            format!("{s:?} is not an IP address; write e.g. \"198.19.100.1\" or \"2001:db8::1\"")
        }))
    }
}

/// A public IP block in CIDR notation, with no host bits set.
#[derive(Debug, Clone, Copy)]
pub struct Block(pub IpNet);

impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        let net: IpNet = s.parse().map_err(|_| {
            D::Error::custom(format!(
                "{s:?} is not a CIDR block; write e.g. \"198.19.100.0/29\""
            ))
        })?;
        if net.trunc() != net {
            return Err(D::Error::custom(format!(
                "{s:?} has host bits set; the block is {}",
                net.trunc()
            )));
        }
        Ok(Block(net))
    }
}
