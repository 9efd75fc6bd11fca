//! What `check-config` prints of a valid config.

use linkledger_config::Config;
use linkledger_core::contract::ContractYear;

/// What `check-config` says of a valid config, part by part.
pub(super) fn describe(c: &Config) -> String {
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
        "{}: ok\ncontract: {} (year {} from {} to {}, cap {})\nprobe: every {}, timeout {}{}, down after {} rounds, up after {}\nledger: {}\nlisten: {}\n",
        c.path.display(),
        c.contract.name,
        year.number,
        year.start.with_timezone(&c.daemon.timezone).date_naive(),
        year.end.with_timezone(&c.daemon.timezone).date_naive(),
        humantime::format_duration(c.contract.annual_downtime_cap),
        humantime::format_duration(c.probe.interval),
        humantime::format_duration(c.probe.timeout),
        match c.probe.retries {
            0 => String::new(),
            n => format!(" (a silent target asked again up to {n} times within it)"),
        },
        c.probe.down_after,
        c.probe.up_after,
        c.daemon.ledger_name(),
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
