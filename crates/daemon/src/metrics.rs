//! Prometheus metrics. Probe and state metrics are set by the line tasks as
//! rounds complete; contract figures (downtime, budget, unobserved) are read
//! from the ledger at scrape time, so they always agree with it.

use crate::listen::Dropped;
use crate::probe_series::ProbeSeries;
use linkledger_notify::metrics::reg;
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry,
};

pub const STATES: [&str; 4] = ["up", "down", "local_fault", "unobserved"];

pub struct Metrics {
    pub registry: Registry,
    pub line_up: IntGaugeVec,
    pub line_state: IntGaugeVec,
    pub line_round_state: IntGaugeVec,
    pub egress_state: IntGaugeVec,
    /// Per-target probe series, rendered by their own encoder.
    pub probes: ProbeSeries,
    pub outages: IntCounterVec,
    pub downtime: GaugeVec,
    pub excluded: GaugeVec,
    pub projected_breach: GaugeVec,
    pub faults_open: IntGaugeVec,
    pub degradations_open: IntGaugeVec,
    pub deadline_breaches: IntCounterVec,
    pub deadline_due: GaugeVec,
    pub bandwidth: GaugeVec,
    pub budget: GaugeVec,
    pub budget_remaining: GaugeVec,
    pub unobserved: GaugeVec,
    pub stray_replies: IntCounter,
    /// Second echoes sent within a round to targets still silent, by
    /// whether they came back.
    pub probe_retries: IntCounterVec,
    pub ledger_pending: IntGauge,
    pub ledger_write_failures: IntCounter,
    pub clock_offset: Gauge,
    pub last_round: Gauge,
    /// 1 if the latest config load (start or SIGHUP) was accepted, else 0.
    pub config_reload_ok: IntGauge,
    pub config_reload_at: Gauge,
    pub interface: InterfaceMetrics,
    pub listen: ListenMetrics,
    pub notify: std::sync::Arc<linkledger_notify::metrics::NotifyMetrics>,
    pub vantage: VantageMetrics,
    pub chain: ChainMetrics,
    /// 1 while this instance leads (writes the ledger), 0 while it stands
    /// by; a single daemon leads.
    pub leader: IntGaugeVec,
    /// Which instance leads the pair, as this one last read the lease.
    pub leader_info: IntGaugeVec,
}

/// The ledger's hash chain: its head, and its last check.
pub struct ChainMetrics {
    pub seq: IntGauge,
    pub breaks: IntGauge,
    pub verified_at: Gauge,
}

impl ChainMetrics {
    fn new(r: &Registry) -> Self {
        Self {
            seq: reg(r, IntGauge::new("linkledger_ledger_chain_seq", "Sequence number of the ledger hash chain's head: how many records (and completions) the chain holds; read at each scrape.").unwrap()),
            breaks: reg(r, IntGauge::new("linkledger_ledger_chain_breaks", "Breaks of the ledger hash chain nobody accepted, found by the latest check (at start, then hourly over the newest links): records changed, removed or added behind linkledger's back.").unwrap()),
            verified_at: reg(r, Gauge::new("linkledger_ledger_chain_last_verified_timestamp_seconds", "Unix time of the latest check of the ledger hash chain.").unwrap()),
        }
    }
}

/// What each vantage agent last pushed, read from the ledger at each scrape.
pub struct VantageMetrics {
    pub last_round: GaugeVec,
    pub lag: GaugeVec,
    pub backlog: GaugeVec,
    pub own_side_up: GaugeVec,
    pub rounds: GaugeVec,
    pub block_state: IntGaugeVec,
}

/// The kinds of degradation the quality engine judges.
pub const DEGRADATION_KINDS: [&str; 3] = ["loss", "rtt", "utilisation"];

/// The states a public block can be in, as judged from the agents.
pub const BLOCK_STATES: [&str; 3] = ["up", "down", "unobserved"];

impl VantageMetrics {
    fn new(r: &Registry) -> Self {
        let agent = &["agent"];
        Self {
            last_round: reg(r, GaugeVec::new(Opts::new("linkledger_vantage_last_round_timestamp_seconds", "Unix time (the agent's clock) of the agent's latest round the central holds."), agent).unwrap()),
            lag: reg(r, GaugeVec::new(Opts::new("linkledger_vantage_lag_seconds", "Now minus the agent's latest round: how far behind the central's view of it is."), agent).unwrap()),
            backlog: reg(r, GaugeVec::new(Opts::new("linkledger_vantage_backlog_rounds", "Rounds the agent still held in its buffer when it sent its latest batch."), agent).unwrap()),
            own_side_up: reg(r, GaugeVec::new(Opts::new("linkledger_vantage_own_side_up", "1 if the agent's own anchors answered in its latest round; 0: its rounds are unobserved."), agent).unwrap()),
            rounds: reg(r, GaugeVec::new(Opts::new("linkledger_vantage_rounds", "Rounds from the agent held in the ledger."), agent).unwrap()),
            block_state: reg(r, IntGaugeVec::new(Opts::new("linkledger_block_state", "The public block's state as the vantage agents see it (judged up to the oldest agent's latest round), one-hot over up, down, unobserved."), &["line", "block", "state"]).unwrap()),
        }
    }

    pub fn set_block_state(&self, line: &str, block: &str, state: &str) {
        for s in BLOCK_STATES {
            self.block_state
                .with_label_values(&[line, block, s])
                .set(i64::from(s == state));
        }
    }

    pub fn forget_block(&self, line: &str, block: &str) {
        for s in BLOCK_STATES {
            let _ = self.block_state.remove_label_values(&[line, block, s]);
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let line = &["line"];
        let period = &["line", "period"];
        let build = reg(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "linkledger_build_info",
                    "Build of the running linkledger, value 1.",
                ),
                &["version"],
            )
            .unwrap(),
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Self {
            line_up: reg(&r, IntGaugeVec::new(Opts::new("linkledger_line_up", "1 if the line is declared up (as the ledger holds it: no outage, local fault or unobserved time open), else 0."), line).unwrap()),
            line_state: reg(&r, IntGaugeVec::new(Opts::new("linkledger_line_state", "The line's declared state, as the ledger holds it (changes at the outage and local-fault edges, after down_after/up_after rounds), one-hot over up, down, local_fault, unobserved."), &["line", "state"]).unwrap()),
            line_round_state: reg(&r, IntGaugeVec::new(Opts::new("linkledger_line_round_state", "The state of the line's latest probe round alone (flickers under loss; not what the ledger records), one-hot over up, down, local_fault, unobserved."), &["line", "state"]).unwrap()),
            egress_state: reg(&r, IntGaugeVec::new(Opts::new("linkledger_egress_state", "The whole egress's state from the lines' declared states (down: every line down at once, the egress fault), one-hot over up, down, local_fault, unobserved."), &["state"]).unwrap()),
            probes: ProbeSeries::default(),
            outages: reg(&r, IntCounterVec::new(Opts::new("linkledger_outages_total", "Outages in the ledger for the line, since the ledger began."), line).unwrap()),
            downtime: reg(&r, GaugeVec::new(Opts::new("linkledger_downtime_charged_seconds", "Charged downtime in the period (outages minus unobserved time and exclusions), an open outage included; line=\"egress\" for all lines down at once."), period).unwrap()),
            excluded: reg(&r, GaugeVec::new(Opts::new("linkledger_downtime_excluded_seconds", "Outage time in the current contract year excluded from the charged downtime, by reason (force_majeure, maintenance)."), &["line", "reason"]).unwrap()),
            projected_breach: reg(&r, GaugeVec::new(Opts::new("linkledger_downtime_budget_projected_breach_timestamp_seconds", "When the annual cap would be breached at the last 30 days' burn rate (or was breached); absent when no breach is projected this contract year."), line).unwrap()),
            faults_open: reg(&r, IntGaugeVec::new(Opts::new("linkledger_faults_open", "Open fault tickets by line (\"egress\" for the whole egress) and current class."), &["line", "class"]).unwrap()),
            degradations_open: reg(&r, IntGaugeVec::new(Opts::new("linkledger_degradations_open", "1 for each degradation of a line the ledger holds open (kind: loss, rtt, utilisation), read at each scrape; a degradation fault goes with it."), &["line", "kind"]).unwrap()),
            deadline_breaches: reg(&r, IntCounterVec::new(Opts::new("linkledger_fault_deadline_breaches_total", "Fault deadlines breached (response, on_site, resolution, repair_report), by the class they were breached under."), &["line", "class", "deadline"]).unwrap()),
            deadline_due: reg(&r, GaugeVec::new(Opts::new("linkledger_fault_deadline_due_timestamp_seconds", "When each pending deadline of a fault falls due (response, on_site, resolution, repair_report), by fault id; gone once met, breached or not required."), &["line", "class", "deadline", "fault"]).unwrap()),
            bandwidth: reg(&r, GaugeVec::new(Opts::new("linkledger_line_bandwidth_bytes_per_second", "The line's contracted bandwidth (bandwidth_mbps), in bytes per second (×8 for bit/s), to draw traffic against."), line).unwrap()),
            budget: reg(&r, GaugeVec::new(Opts::new("linkledger_downtime_budget_seconds", "Annual downtime cap of the contract."), line).unwrap()),
            budget_remaining: reg(&r, GaugeVec::new(Opts::new("linkledger_downtime_budget_remaining_seconds", "Downtime budget left in the current contract year (negative when exceeded)."), line).unwrap()),
            unobserved: reg(&r, GaugeVec::new(Opts::new("linkledger_unobserved_seconds", "Time without observation of the line in the period."), period).unwrap()),
            stray_replies: reg(&r, IntCounter::new("linkledger_probe_stray_replies_total", "Echo replies that matched a probe's address and sequence but not its nonce or identifier.").unwrap()),
            probe_retries: reg(&r, IntCounterVec::new(Opts::new("linkledger_probe_retries_total", "Further echoes sent within a round to targets still silent (probe.retries), by outcome: answered (the round counts the target as answering; its loss figures still count the first echo lost) or lost."), &["line", "outcome"]).unwrap()),
            ledger_pending: reg(&r, IntGauge::new("linkledger_ledger_pending_writes", "Ledger writes queued and not yet committed.").unwrap()),
            ledger_write_failures: reg(&r, IntCounter::new("linkledger_ledger_write_failures_total", "Ledger write attempts that failed.").unwrap()),
            clock_offset: reg(&r, Gauge::new("linkledger_clock_offset_seconds", "The wall clock minus the ledger's timeline (this run's start plus monotonic time): over 1 s, a step not (yet) followed (see linkledger clock-steps).").unwrap()),
            last_round: reg(&r, Gauge::new("linkledger_last_round_timestamp_seconds", "Unix time of the latest completed probe round.").unwrap()),
            config_reload_ok: reg(&r, IntGauge::new("linkledger_config_last_reload_successful", "1 if the latest config load (at start or on SIGHUP) was accepted and is in force, 0 if it was rejected (the previous config stays in force).").unwrap()),
            config_reload_at: reg(&r, Gauge::new("linkledger_config_last_reload_success_timestamp_seconds", "Unix time of the latest config load that was accepted.").unwrap()),
            interface: InterfaceMetrics::new(&r),
            listen: ListenMetrics::new(&r),
            vantage: VantageMetrics::new(&r),
            chain: ChainMetrics::new(&r),
            leader: reg(&r, IntGaugeVec::new(Opts::new("linkledger_leader", "1 while this instance leads: it writes the ledger and delivers alerts; 0 while it stands by (daemon.active_standby), probing and keeping its rounds to write if it takes over. A single daemon leads. (daemon: daemon.instance, the host's name by default; not `instance`, which Prometheus gives the scrape target.)"), &["daemon"]).unwrap()),
            leader_info: reg(&r, IntGaugeVec::new(Opts::new("linkledger_leader_info", "The instance that leads the pair as this instance last read the lease (value 1); absent while no instance holds it."), &["leader"]).unwrap()),
            notify: std::sync::Arc::new(linkledger_notify::metrics::NotifyMetrics::new(&r)),
            registry: r,
        }
    }

    /// Records a config load (at start or on SIGHUP): accepted or not.
    pub fn config_loaded(&self, accepted: bool, at: chrono::DateTime<chrono::Utc>) {
        self.config_reload_ok.set(i64::from(accepted));
        if accepted {
            self.config_reload_at
                .set(at.timestamp_millis() as f64 / 1000.0);
        }
    }

    /// Sets a line's declared and round states alike (at start-up).
    pub fn set_state(&self, line: &str, state: &str) {
        let g = self.state_gauges(line);
        g.set_declared(state);
        g.set_round(state);
    }

    /// The state gauges of one line, looked up once.
    pub fn state_gauges(&self, line: &str) -> StateGauges {
        StateGauges {
            up: self.line_up.with_label_values(&[line]),
            states: STATES.map(|s| self.line_state.with_label_values(&[line, s])),
            round: STATES.map(|s| self.line_round_state.with_label_values(&[line, s])),
        }
    }

    /// A line's declared state as the gauges hold it.
    pub fn declared_state(&self, line: &str) -> &'static str {
        STATES
            .into_iter()
            .find(|st| self.line_state.with_label_values(&[line, st]).get() == 1)
            .unwrap_or("unobserved")
    }

    /// The whole egress's state from the configured lines' declared states,
    /// set in `linkledger_egress_state` and returned.
    pub fn update_egress<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> &'static str {
        let states: Vec<&'static str> = lines.into_iter().map(|l| self.declared_state(l)).collect();
        let egress = linkledger_core::evaluator::egress_state(states.iter().copied());
        for s in STATES {
            self.egress_state
                .with_label_values(&[s])
                .set(i64::from(s == egress));
        }
        egress
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default();
        self.probes.encode(&mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A line's `linkledger_line_up` and one-hot `linkledger_line_state`
/// (declared) and `linkledger_line_round_state` (latest round) gauges.
pub struct StateGauges {
    up: prometheus::IntGauge,
    states: [prometheus::IntGauge; 4],
    round: [prometheus::IntGauge; 4],
}

impl StateGauges {
    /// The declared state: what the ledger holds.
    pub fn set_declared(&self, state: &str) {
        self.up.set(i64::from(state == "up"));
        for (gauge, name) in self.states.iter().zip(STATES) {
            gauge.set(i64::from(name == state));
        }
    }

    /// The latest round's own state.
    pub fn set_round(&self, state: &str) {
        for (gauge, name) in self.round.iter().zip(STATES) {
            gauge.set(i64::from(name == state));
        }
    }
}

/// The HTTP listener's connections (see [`crate::listen`]).
#[derive(Clone)]
pub struct ListenMetrics {
    pub open: IntGauge,
    pub cap: IntGauge,
    dropped: IntCounterVec,
}

impl ListenMetrics {
    fn new(r: &Registry) -> Self {
        let dropped = reg(r, IntCounterVec::new(Opts::new("linkledger_http_connections_dropped_total", "HTTP connections the listener closed or refused, by reason: header_timeout (no whole request head in 10 s), evicted_at_cap (the longest waiting closed for a new one at the cap), refused_at_cap (every connection in a request), request_timeout (not answered in 60 s, 503 sent)."), &["reason"]).unwrap());
        for d in [
            Dropped::HeaderTimeout,
            Dropped::EvictedAtCap,
            Dropped::RefusedAtCap,
            Dropped::RequestTimeout,
        ] {
            dropped.with_label_values(&[d.as_str()]);
        }
        Self {
            open: reg(r, IntGauge::new("linkledger_http_connections", "HTTP connections the listener holds now.").unwrap()),
            cap: reg(r, IntGauge::new("linkledger_http_connections_cap", "HTTP connections the listener holds at most (half the open-file limit, 16 to 4096).").unwrap()),
            dropped,
        }
    }

    /// Counts a connection closed or refused by the listener.
    pub fn dropped(&self, why: Dropped) {
        self.dropped.with_label_values(&[why.as_str()]).inc();
    }
}

/// SNMP interface metrics of the lines that have a `[line.snmp]`.
pub struct InterfaceMetrics {
    pub oper_up: IntGaugeVec,
    pub bytes_per_second: GaugeVec,
    pub utilization: GaugeVec,
    pub speed: GaugeVec,
    pub errors: IntCounterVec,
    pub poll_errors: IntCounterVec,
    pub poll_duration: HistogramVec,
}

impl InterfaceMetrics {
    fn new(r: &Registry) -> Self {
        let line = &["line"];
        let dir = &["line", "direction"];
        Self {
            oper_up: reg(r, IntGaugeVec::new(Opts::new("linkledger_interface_oper_up", "1 if the line's interface is operationally up (SNMP ifOperStatus), else 0."), line).unwrap()),
            bytes_per_second: reg(r, GaugeVec::new(Opts::new("linkledger_interface_bytes_per_second", "Traffic on the line's interface between the last two valid polls, in bytes per second (×8 for bit/s)."), dir).unwrap()),
            utilization: reg(r, GaugeVec::new(Opts::new("linkledger_interface_utilization_ratio", "Traffic against the contracted bandwidth (bandwidth_mbps)."), dir).unwrap()),
            speed: reg(r, GaugeVec::new(Opts::new("linkledger_interface_speed_bytes_per_second", "Interface speed reported by the agent (ifHighSpeed), in bytes per second."), line).unwrap()),
            errors: reg(r, IntCounterVec::new(Opts::new("linkledger_interface_errors_total", "Interface errors counted by the agent while polled (ifInErrors, ifOutErrors)."), dir).unwrap()),
            poll_errors: reg(r, IntCounterVec::new(Opts::new("linkledger_snmp_poll_errors_total", "SNMP polls that gave no valid reading, by reason (timeout, auth, malformed, not_found, counter_went_back, agent_restarted, ...)."), &["line", "reason"]).unwrap()),
            poll_duration: reg(r, HistogramVec::new(
                HistogramOpts::new("linkledger_snmp_poll_duration_seconds", "Time one SNMP poll of the line's interface took.")
                    .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
                line).unwrap()),
        }
    }
}
