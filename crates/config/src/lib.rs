//! Configuration: the TOML file parsed strictly ([`raw`]) and validated into
//! the typed values the daemon runs on. Every error names the file and either
//! the line and column or the key, and says what would be valid.

pub mod agent;
pub mod bounds;
mod live;
pub mod notify;
pub mod raw;
pub mod report;
pub mod snmp;
pub mod special;
pub mod terms;
pub mod values;
pub mod vantage;

use linkledger_core::tier::Tier;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use ipnet::IpNet;
use linkledger_probes::Binding;

pub use live::LiveConfig;
pub use notify::{Alerts, Channel, ChannelKind, Language};
pub use raw::Role;
pub use terms::{ApiToken, Terms};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub daemon: Daemon,
    pub contract: Contract,
    pub probe: Probe,
    pub lines: Vec<Line>,
    /// Operator API tokens; the API is off when there are none.
    pub api_tokens: Vec<ApiToken>,
    /// What queues an alert.
    pub alerts: Alerts,
    /// Where alerts go.
    pub channels: Vec<Channel>,
    /// Scheduled reports.
    pub report: report::ReportSettings,
    /// Agents allowed to push observations of the public IP blocks.
    pub vantage: Vec<vantage::Vantage>,
    /// Special periods and statutory holidays, oldest first.
    pub special_periods: Vec<special::SpecialPeriod>,
}

#[derive(Debug, Clone)]
pub struct Daemon {
    /// The SQLite ledger's file; with PostgreSQL, the local stem beside
    /// which the journal and lock are kept (`<state_dir>/postgres-<db>`).
    pub database: PathBuf,
    /// The ledger on PostgreSQL, when `daemon.database` is a URL.
    pub postgres: Option<Postgres>,
    pub listen: SocketAddr,
    pub timezone: chrono_tz::Tz,
    /// The status page's address as people reach it, linked from alerts.
    pub public_url: Option<String>,
    /// One of an active/standby pair on a PostgreSQL ledger.
    pub active_standby: bool,
    /// This daemon's name in its pair (None: the host's name).
    pub instance: Option<String>,
}

/// A PostgreSQL ledger: its URL without a password, and the password.
#[derive(Debug, Clone)]
pub struct Postgres {
    pub url: String,
    pub password: Option<notify::Secret>,
}

impl Daemon {
    /// The ledger as shown to people: the file, or the URL (no password).
    pub fn ledger_name(&self) -> String {
        match &self.postgres {
            Some(p) => p.url.clone(),
            None => self.database.display().to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub name: String,
    pub start: NaiveDate,
    pub annual_downtime_cap: Duration,
    /// Share of the contracted bandwidth above which a 95th percentile
    /// calls for upgrade advice.
    pub upgrade_advice_share: f64,
    /// Fault deadlines, maintenance notice, degradation and class rules.
    pub terms: Terms,
    /// Each consortium member's annual fee.
    pub members: Vec<report::Member>,
    /// The half-year assessment's deduction rules.
    pub penalties: Vec<report::Penalty>,
}

#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub interval: Duration,
    pub timeout: Duration,
    pub down_after: u32,
    pub up_after: u32,
    /// Further echoes within the round to a target still silent, evenly
    /// spread over the timeout (2: at a third and two thirds of it): a
    /// lost packet is not a failed round.
    pub retries: u32,
}

impl Line {
    /// The carrier's name as a reader of `language` says it.
    pub fn carrier_for(&self, language: Language) -> &str {
        match (&self.display_name, language) {
            (Some(n), Language::ZhCn) => n,
            _ => &self.carrier,
        }
    }
}

/// One carrier's circuit and its probe targets, tier by tier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Line {
    pub id: String,
    pub carrier: String,
    /// The carrier's name in Chinese documents (status page, alerts,
    /// reports in zh-CN); the `carrier` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub role: Role,
    pub bandwidth_mbps: u64,
    pub ip_blocks: Vec<IpNet>,
    pub source: Option<IpAddr>,
    pub interface: Option<String>,
    pub local: Vec<IpAddr>,
    pub gateway: Vec<IpAddr>,
    pub upstream: Vec<IpAddr>,
    pub upstream_quorum: usize,
    /// RTT 95th percentile above which the line counts as degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_threshold: Option<Duration>,
    /// The line's interface polled by SNMP, if configured.
    pub snmp: Option<snmp::LineSnmp>,
    /// Addresses of its public block that vantage agents probe from outside.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_targets: Vec<vantage::BlockTarget>,
    /// Healthy agents that must fail to reach a block for it to be down;
    /// all healthy ones when fewer agents are configured.
    pub block_quorum: usize,
}

impl Line {
    /// The targets of a tier.
    pub fn targets(&self, tier: Tier) -> &[IpAddr] {
        match tier {
            Tier::Local => &self.local,
            Tier::Gateway => &self.gateway,
            Tier::Upstream => &self.upstream,
        }
    }

    /// Where this line's probes leave from.
    pub fn binding(&self) -> Binding {
        Binding {
            source: self.source,
            interface: self.interface.clone(),
        }
    }
}

/// A configuration error, located in the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {place}{message}")]
pub struct ConfigError {
    pub file: String,
    /// "12:5: " (line and column) or "line[1].upstream_quorum: " (key), or empty.
    pub place: String,
    pub message: String,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            place: String::new(),
            message: format!("cannot read the config file: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// What the ledger writer needs to open and classify faults.
    pub fn fault_rules(&self) -> linkledger_core::fault::FaultRules {
        linkledger_core::fault::FaultRules {
            classes: self.contract.terms.classes,
            lines: self.lines.iter().map(|l| l.id.clone()).collect(),
        }
    }

    /// Parses and validates config text; `path` is used in errors.
    /// [`Config::load`] for a command that sends nothing (a listing, a
    /// report, an operator's record): secrets it cannot read are not its
    /// concern and do not stop it (`check-config`, `run` and `notify test`
    /// read them all).
    pub fn load_without_secrets(path: &Path) -> Result<Self, ConfigError> {
        values::without_secrets(|| Config::load(path))
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|span| {
                    let (line, col) = line_col(text, span.start);
                    format!("{line}:{col}: ")
                })
                .unwrap_or_default();
            ConfigError {
                file: file.clone(),
                place,
                message: values::toml_message(&e),
            }
        })?;
        validate(path, raw).map_err(|(key, message)| ConfigError {
            file,
            place: if key.is_empty() {
                String::new()
            } else {
                format!("{key}: ")
            },
            message,
        })
    }
}

/// An id as lines and agents take them: lowercase letters, digits, '-', '_'.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

type Invalid = (String, String);

/// The whole config, section by section in the reference's order; each
/// section's checks are their own functions, this one assembles.
fn validate(path: &Path, raw: raw::RawConfig) -> Result<Config, Invalid> {
    check_probe(&raw.probe)?;
    check_contract(&raw.contract)?;
    if raw.lines.is_empty() {
        return Err((
            String::new(),
            "no [[line]] is configured; add at least one line to watch".into(),
        ));
    }
    let mut lines: Vec<Line> = Vec::new();
    for (i, l) in raw.lines.into_iter().enumerate() {
        let line = validate_line(i, l, &lines)?;
        lines.push(line);
    }
    check_block_overlaps(&lines)?;
    let start = raw.contract.start.0;
    let c = raw.contract;
    let mut terms = terms::validate(
        c.response,
        c.on_site,
        c.resolution,
        c.repair_report,
        c.maintenance_notice,
        c.approved_maintenance_counts,
        c.degradation,
        c.classes,
    )?;
    terms.response_from = c.response_from;
    terms.egress_breaches = c.egress_breaches;
    terms.ip_block_counts = c.ip_block_counts;
    let carriers_seen: Vec<String> = lines.iter().map(|l| l.carrier.clone()).collect();
    let (special_periods, special_terms) = special::validate(
        raw.special_periods,
        &c.holidays,
        raw.daemon.timezone.0,
        &carriers_seen,
    )?;
    terms.special = special_terms;
    let api_tokens = terms::validate_api(raw.api)?;
    let secrets: Vec<&str> = api_tokens.iter().map(|t| t.secret.as_str()).collect();
    let vantage = vantage::validate_vantage(raw.vantage, &secrets)?;
    let alerts = notify::validate_alerts(raw.alerts)?;
    let ids: Vec<String> = lines.iter().map(|l| l.id.clone()).collect();
    let channels = notify::validate_channels(raw.notify, &ids)?;
    let mut carriers: Vec<String> = lines.iter().map(|l| l.carrier.clone()).collect();
    carriers.dedup();
    for (i, ch) in channels.iter().enumerate() {
        if let Some(name) = ch.carrier.as_ref().filter(|n| !carriers.contains(n)) {
            return Err((
                format!("notify[{i}].carrier"),
                format!("{name:?} is not the carrier of any line; carriers are {carriers:?}"),
            ));
        }
    }
    report::validate_money(&c.member, &c.penalty, &carriers)?;
    let postgres = postgres(&raw.daemon)?;
    let public_url = public_url(raw.daemon.public_url)?;
    // Relative paths are the config file's folder's, not the working
    // directory's (the daemon and the CLI may be started from anywhere).
    let folder = path.parent().unwrap_or(Path::new(""));
    if raw.daemon.database.as_os_str().is_empty() {
        return Err((
            "daemon.database".into(),
            "must name the ledger's file, e.g. \"/var/lib/linkledger/ledger.db\"".into(),
        ));
    }
    let database = match &postgres {
        Some(p) => {
            let dir = raw.daemon.state_dir.as_ref().map(|d| folder.join(d));
            let dir = dir.unwrap_or_else(|| folder.to_path_buf());
            let name = p.url.rsplit('/').next().unwrap_or("ledger");
            let name = name.split('?').next().unwrap_or("ledger");
            dir.join(format!("postgres-{name}"))
        }
        None => folder.join(&raw.daemon.database),
    };
    if postgres.is_none()
        && (raw.daemon.state_dir.is_some()
            || raw.daemon.database_password.is_some()
            || raw.daemon.database_password_env.is_some()
            || raw.daemon.database_password_file.is_some())
    {
        return Err((
            "daemon.database".into(),
            "is a file (SQLite): state_dir and database_password* are for a PostgreSQL ledger (\"postgres://user@host/db\")".into(),
        ));
    }
    if postgres.is_none() && raw.daemon.active_standby {
        return Err((
            "daemon.active_standby".into(),
            "needs a ledger both daemons reach: daemon.database must be a PostgreSQL URL (\"postgres://user@host/db\"), not a file".into(),
        ));
    }
    if let Some(name) = raw.daemon.instance.as_deref() {
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 40 {
            return Err((
                "daemon.instance".into(),
                format!(
                    "{name:?} is not a name: give 1 to 40 printable characters, e.g. \"monitor-a\""
                ),
            ));
        }
    }
    if postgres.is_none() && database.is_dir() {
        return Err((
            "daemon.database".into(),
            format!(
                "{} is a folder; name the ledger's file in it, e.g. \"ledger.db\"",
                database.display()
            ),
        ));
    }
    let mut raw_report = raw.report;
    raw_report.dir = raw_report.dir.map(|d| folder.join(d));
    let report = report::validate_report(raw_report, &database)?;
    Ok(Config {
        path: path.to_path_buf(),
        daemon: Daemon {
            database,
            postgres,
            listen: raw.daemon.listen.0,
            timezone: raw.daemon.timezone.0,
            public_url,
            active_standby: raw.daemon.active_standby,
            instance: raw.daemon.instance,
        },
        contract: Contract {
            name: c.name,
            start,
            annual_downtime_cap: c.annual_downtime_cap.0,
            upgrade_advice_share: c.upgrade_advice_share,
            terms,
            members: c.member,
            penalties: c.penalty,
        },
        probe: Probe {
            interval: raw.probe.interval.0,
            timeout: raw.probe.timeout.0,
            down_after: raw.probe.down_after,
            up_after: raw.probe.up_after,
            retries: raw.probe.retries,
        },
        lines,
        api_tokens,
        alerts,
        channels,
        report,
        vantage,
        special_periods,
    })
}

/// The probe round: an interval, a timeout that ends within it, and
/// thresholds of at least one round.
fn check_probe(p: &raw::RawProbe) -> Result<(), Invalid> {
    let err = |key: &str, msg: String| Err((key.to_string(), msg));
    if p.interval.0 < Duration::from_millis(100) {
        return err(
            "probe.interval",
            format!("{:?} is too short; use at least 100ms", p.interval.0),
        );
    }
    bounds::check("probe.interval", p.interval.0)?;
    if p.timeout.0.is_zero() || p.timeout.0 >= p.interval.0 {
        return err(
            "probe.timeout",
            format!(
                "{:?} must be more than 0 and less than probe.interval ({:?}), so that a round ends before the next begins",
                p.timeout.0, p.interval.0
            ),
        );
    }
    for (key, v) in [
        ("probe.down_after", p.down_after),
        ("probe.up_after", p.up_after),
    ] {
        if v == 0 {
            return err(key, "must be at least 1 (a number of rounds)".into());
        }
    }
    if p.retries > 3 {
        return err(
            "probe.retries",
            format!(
                "{} is too many; use 0 to 3 further echoes to a silent target within a round (default 2)",
                p.retries
            ),
        );
    }
    Ok(())
}

/// The contract's own figures: the upgrade advice share, the yearly cap
/// and its name.
fn check_contract(c: &raw::RawContract) -> Result<(), Invalid> {
    let err = |key: &str, msg: String| Err((key.to_string(), msg));
    let share = c.upgrade_advice_share;
    if !(share > 0.0 && share <= 1.0) {
        return err(
            "contract.upgrade_advice_share",
            format!(
                "{share} is not a share; use a number above 0 and at most 1, e.g. 0.7 for 70 %"
            ),
        );
    }
    if c.annual_downtime_cap.0.is_zero() {
        return err(
            "contract.annual_downtime_cap",
            "must be more than 0, e.g. \"4h\"".into(),
        );
    }
    bounds::check("contract.annual_downtime_cap", c.annual_downtime_cap.0)?;
    if c.name.trim().is_empty() {
        return err("contract.name", "must not be empty".into());
    }
    Ok(())
}

/// The status page's public address, when given, as an http(s) URL.
fn public_url(url: Option<String>) -> Result<Option<String>, Invalid> {
    Ok(match url {
        Some(u)
            if !(u.starts_with("http://") || u.starts_with("https://"))
                || u.contains(char::is_whitespace) =>
        {
            return Err((
                "daemon.public_url".into(),
                format!("{u:?} is not an http:// or https:// address of the status page"),
            ))
        }
        u => u,
    })
}

/// Validates `line[i]` (its id unique among the `earlier` lines): its
/// targets, quorum, interface, SNMP and IP-block settings.
fn validate_line(i: usize, l: raw::RawLine, earlier: &[Line]) -> Result<Line, Invalid> {
    let err = |key: &str, msg: String| Err((key.to_string(), msg));
    let key = |k: &str| format!("line[{i}] (id {:?}).{k}", l.id);
    check_line_id(i, &l.id, earlier)?;
    if l.bandwidth_mbps == 0 {
        return err(
            &key("bandwidth_mbps"),
            "must be the contracted bandwidth in Mbit/s, more than 0".into(),
        );
    }
    if l.upstream.is_empty() {
        return err(
            &key("upstream"),
            "at least one upstream anchor is needed to tell whether the line is up".into(),
        );
    }
    let n = l.upstream.len();
    if l.upstream_quorum == 0 || l.upstream_quorum as usize > n {
        return err(
            &key("upstream_quorum"),
            format!(
                "{} is not possible with {n} upstream target(s); use 1 to {n}",
                l.upstream_quorum
            ),
        );
    }
    if l.rtt_threshold.is_some_and(|d| d.0.is_zero()) {
        return err(
            &key("rtt_threshold"),
            "must be more than 0, e.g. \"80ms\"; leave it out for no latency threshold".into(),
        );
    }
    if let Some(d) = l.rtt_threshold {
        bounds::check(&key("rtt_threshold"), d.0)?;
    }
    if let Some(iface) = &l.interface {
        if iface.is_empty() || iface.len() > 15 || iface.contains(['/', ' ']) {
            return err(
                &key("interface"),
                format!("{iface:?} is not a valid interface name"),
            );
        }
    }
    let (local, gateway, upstream) = targets(&key, &l)?;
    let snmp = match l.snmp {
        None => None,
        Some(raw) => Some(snmp::validate(raw).map_err(|(k, m)| (key(&format!("snmp.{k}")), m))?),
    };
    let blocks: Vec<_> = l.ip_blocks.iter().map(|b| b.0).collect();
    let block_targets = vantage::validate_block_targets(
        &format!("line[{i}] (id {:?})", l.id),
        &l.block_targets,
        &blocks,
    )?;
    if l.block_quorum == 0 {
        return Err((
            key("block_quorum"),
            "0: at least one agent must fail to reach the block for it to be down (default 2)"
                .into(),
        ));
    }
    Ok(Line {
        id: l.id,
        carrier: l.carrier,
        display_name: l.display_name.filter(|n| !n.trim().is_empty()),
        role: l.role,
        bandwidth_mbps: l.bandwidth_mbps,
        ip_blocks: l.ip_blocks.iter().map(|b| b.0).collect(),
        source: l.source.map(|s| s.0),
        interface: l.interface,
        local,
        gateway,
        upstream,
        upstream_quorum: l.upstream_quorum as usize,
        rtt_threshold: l.rtt_threshold.map(|d| d.0),
        snmp,
        block_targets,
        block_quorum: l.block_quorum as usize,
    })
}

/// A line's id: a word, not "egress", not taken by an earlier line.
fn check_line_id(i: usize, id: &str, earlier: &[Line]) -> Result<(), Invalid> {
    let err = |key: &str, msg: String| Err((key.to_string(), msg));
    if !valid_id(id) {
        return err(
            &format!("line[{i}].id"),
            format!("{:?} is not a valid line id; use lowercase letters, digits, '-' and '_', e.g. \"telecom\"", id),
        );
    }
    if id == linkledger_core::EGRESS {
        return err(
            &format!("line[{i}].id"),
            "\"egress\" is reserved for all lines together; give the line its carrier's name, e.g. \"telecom\"".into(),
        );
    }
    if earlier.iter().any(|o| o.id == id) {
        return err(
            &format!("line[{i}].id"),
            format!("duplicate line id {:?}; every line needs its own id", id),
        );
    }
    Ok(())
}

/// A line's local, gateway and upstream addresses.
type Targets = (Vec<IpAddr>, Vec<IpAddr>, Vec<IpAddr>);

/// A line's targets by tier: each address in one tier once, of the source
/// address's family.
fn targets(key: &dyn Fn(&str) -> String, l: &raw::RawLine) -> Result<Targets, Invalid> {
    let err = |key: &str, msg: String| Err((key.to_string(), msg));
    let ips = |v: &[values::Target]| v.iter().map(|t| t.0).collect::<Vec<_>>();
    let (local, gateway, upstream) = (ips(&l.local), ips(&l.gateway), ips(&l.upstream));
    let mut seen: Vec<(IpAddr, &str)> = Vec::new();
    for (tier, list) in [
        ("local", &local),
        ("gateway", &gateway),
        ("upstream", &upstream),
    ] {
        for ip in list.iter() {
            if let Some((_, other)) = seen.iter().find(|(s, _)| s == ip) {
                return err(&key(tier), format!("{ip} is listed twice (also in {other}); each target belongs to one tier once"));
            }
            seen.push((*ip, tier));
            if let Some(src) = l.source.map(|s| s.0) {
                if src.is_ipv4() != ip.is_ipv4() {
                    return err(
                        &key(tier),
                        format!("{ip} is not of the same address family as source {src}"),
                    );
                }
            }
        }
    }
    Ok((local, gateway, upstream))
}

fn check_block_overlaps(lines: &[Line]) -> Result<(), Invalid> {
    let all: Vec<(usize, &str, usize, IpNet)> = lines
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            l.ip_blocks
                .iter()
                .enumerate()
                .map(move |(j, b)| (i, l.id.as_str(), j, *b))
        })
        .collect();
    for (a, (i, la, ja, na)) in all.iter().enumerate() {
        for (_, lb, _, nb) in &all[a + 1..] {
            if na.contains(nb) || nb.contains(na) {
                return Err((
                    format!("line[{i}] (id {la:?}).ip_blocks[{ja}]"),
                    format!("{na} overlaps {nb} of line {lb:?}; public IP blocks must not overlap"),
                ));
            }
        }
    }
    Ok(())
}

/// `daemon.database` as a PostgreSQL URL, if it is one: the password comes
/// from `database_password*`, never from the URL (which is shown and logged).
fn postgres(d: &raw::RawDaemon) -> Result<Option<Postgres>, (String, String)> {
    let text = d.database.to_string_lossy();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Ok(None);
    }
    let url = url::Url::parse(&text).map_err(|e| {
        (
            "daemon.database".into(),
            format!("is not a PostgreSQL URL ({e}); e.g. \"postgres://linkledger@db.example:5432/linkledger\""),
        )
    })?;
    if url.password().is_some() {
        return Err((
            "daemon.database".into(),
            "holds a password; give it in database_password_file (or database_password_env) so it is never shown or logged".into(),
        ));
    }
    if url.path().trim_start_matches('/').is_empty() {
        return Err((
            "daemon.database".into(),
            "names no database; e.g. \"postgres://linkledger@db.example:5432/linkledger\"".into(),
        ));
    }
    let password = values::secret(
        "database_password",
        d.database_password.clone(),
        d.database_password_env.clone(),
        d.database_password_file.clone(),
    )
    .map_err(|(k, m)| (format!("daemon.{k}"), m))?
    .map(notify::Secret);
    Ok(Some(Postgres {
        url: url.to_string(),
        password,
    }))
}
