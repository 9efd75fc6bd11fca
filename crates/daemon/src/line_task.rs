//! One line's probing loop: every interval a round over all its targets,
//! fed to the line's evaluator, with what comes out sent to the ledger and
//! the metrics. The task owns the round deadline; the echoer owns sockets.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use linkledger_probes::{Echo, EchoOutcome, Echoer, ReceiveStats};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::events;
use crate::metrics::Metrics;
use crate::probe_series::TargetSeries;
use crate::snmp_task::Polled;
use linkledger_config::terms::Degradation;
use linkledger_config::{Line, Probe};
use linkledger_core::evaluator::{
    classify, with_interface_evidence, Cause, Evaluator, Event, RoundState, TierResult, Ts,
};
use linkledger_core::quality::{LineQuality, Utilisation};
use linkledger_core::rollup::{minute_of, MinuteRollup};
use linkledger_core::tier::Tier;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::write::{LedgerTx, LedgerWrite, MinuteRow};

struct TargetSlot {
    tier: Tier,
    addr: IpAddr,
    label: String,
    series: Arc<TargetSeries>,
    minute: MinuteRollup,
}

/// Everything a line task needs from the daemon.
#[derive(Clone)]
pub struct Shared {
    pub clock: RunClock,
    pub ledger: LedgerTx,
    pub metrics: Arc<Metrics>,
    /// Unix milliseconds of the latest completed round of any line.
    pub last_round_ms: Arc<AtomicI64>,
    /// What every echoer's receive path discarded.
    pub receive_stats: Arc<ReceiveStats>,
    /// When each line's next round is due, kept across reloads.
    pub schedule: Schedule,
    /// Rounds are held while a wall-clock step is followed; each line says
    /// whether it has anything open.
    pub gate: Arc<crate::clock_step::ClockGate>,
}

/// How often the minute in progress is written so far.
pub const PART_MINUTE_EVERY: Duration = Duration::from_secs(5);

/// Each line's next round, as its task last left it. A reload restarts the
/// line tasks; the new task takes up the schedule where the old one
/// stopped, so however many reloads come, no round comes sooner than one
/// interval after the one before.
#[derive(Debug, Clone, Default)]
pub struct Schedule(Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>);

impl Schedule {
    fn next(&self, line: &str) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(line)
            .copied()
    }

    fn set(&self, line: &str, at: Instant) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(line.to_string(), at);
    }
}

/// What sends a line's rounds: the ICMP echoer, or, in a test of the
/// loop's timing on a paused clock, a network that answers on cue.
pub trait Rounds: Send + Sync + 'static {
    /// One echo request to each target, and another at each of
    /// `retry_at` (offsets into the round) to those still silent; each
    /// target's echoes, in order, within `timeout`.
    fn round(
        &self,
        targets: &[IpAddr],
        timeout: Duration,
        retry_at: &[Duration],
    ) -> impl std::future::Future<Output = Vec<Echo>> + Send;
}

impl Rounds for Echoer {
    fn round(
        &self,
        targets: &[IpAddr],
        timeout: Duration,
        retry_at: &[Duration],
    ) -> impl std::future::Future<Output = Vec<Echo>> + Send {
        Echoer::round_retrying(self, targets, timeout, retry_at)
    }
}

pub struct LineTask<E = Echoer> {
    pub line: Line,
    pub probe: Probe,
    pub echoer: Arc<E>,
    pub evaluator: Evaluator,
    /// Offset of this line's rounds within the interval, to spread sends.
    pub phase: Duration,
    /// What the line's SNMP poller reads, when the line is polled.
    pub polled: Option<mpsc::UnboundedReceiver<Polled>>,
    /// The contract's degradation thresholds.
    pub degradation: Degradation,
    /// A standby's: where each round is kept as observed (what the task
    /// judges goes nowhere: `shared.ledger` is not the ledger's writer).
    pub standby: Option<crate::round_log::RoundLog>,
    /// Rounds a standby observed and now, taking over, judges and writes
    /// before its first live round (oldest first).
    pub replay: Vec<crate::round_log::ObservedRound>,
    /// How far into each minute the replay reaches into the previous
    /// leader's echoes are in the ledger, by (tier, target, minute): a
    /// replayed round before that leaves its echo out of the minute, so
    /// that none is counted twice.
    pub counted: Counted,
}

/// Until when each (tier, target, minute)'s echoes are already counted
/// (see [`LineTask::counted`]).
pub type Counted = std::collections::HashMap<(String, String, String), Ts>;

impl<E: Rounds> LineTask<E> {
    /// Runs rounds until cancelled; returns the evaluator so a reload can
    /// hand it to the line's next task.
    pub async fn run(mut self, shared: Shared, cancel: CancellationToken) -> Evaluator {
        let m = &shared.metrics;
        let id = self.line.id.clone();
        let mut slots = self.slots(m);
        let addrs: Vec<IpAddr> = slots.iter().map(|s| s.addr).collect();
        let state_gauges = m.state_gauges(&id);
        self.reconfigure(&shared);
        // The latest poll that read the interface down, and when.
        let mut interface: Option<(Cause, Ts)> = None;
        let first = match shared.schedule.next(&id) {
            Some(due) => due.max(Instant::now()),
            None => Instant::now() + self.phase,
        };
        let mut ticker = tokio::time::interval_at(first, self.probe.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut written = Instant::now();
        // Retries evenly spread over the timeout: 2 at a third and two thirds.
        let retry_at: Vec<Duration> = (1..=self.probe.retries)
            .map(|k| self.probe.timeout * k / (self.probe.retries + 1))
            .collect();
        // A standby taking over: the rounds it saw since the leader last
        // wrote, judged as if they came now (their probes already counted
        // on the metrics).
        let counted = std::mem::take(&mut self.counted);
        for r in std::mem::take(&mut self.replay) {
            let minute = minute_of(r.at);
            let (tier, upstream, rows) =
                self.tally(&mut slots, &r.outcomes, r.at, minute, Some(&counted));
            if !rows.is_empty() {
                let _ = shared.ledger.send(LedgerWrite::ProbeMinutes(rows));
            }
            interface = r.interface;
            let state = with_interface_evidence(
                classify(tier[0], tier[1], tier[2], self.line.upstream_quorum),
                interface.map(|(cause, _)| cause),
            );
            self.judge(&shared, state, r.at, interface, &upstream);
        }
        loop {
            let tick = tokio::select! {
                _ = cancel.cancelled() => break,
                t = ticker.tick() => t,
            };
            shared.schedule.set(&id, tick + self.probe.interval);
            // Retries only while the line is declared up: they keep a lost
            // packet from failing a round, but a round answered only by a
            // late retry must not end an outage before the line was back
            // (an outage's end is the first round whose first echo came
            // back, as without retries).
            let retries: &[Duration] = if self.evaluator.declared() == "up" {
                &retry_at
            } else {
                &[]
            };
            let outcomes = self.echoer.round(&addrs, self.probe.timeout, retries).await;
            for retry in outcomes.iter().flat_map(|e| &e.retries) {
                let answered = matches!(retry, EchoOutcome::Reply { .. });
                m.probe_retries
                    .with_label_values(&[&id, if answered { "answered" } else { "lost" }])
                    .inc();
            }
            // The round's time is placed and judged on one timeline: a
            // clock step is followed between judgements, never within one
            // (and never holds back a round's probes).
            let round = shared.gate.round().await;
            let at = shared.clock.at(tick);
            let (tier, upstream, mut rows) =
                self.tally(&mut slots, &outcomes, at, minute_of(at), None);
            // The minute in progress so far, every few seconds (the ledger
            // adds the parts up): a kill loses at most that much of it.
            if tick.saturating_duration_since(written) >= PART_MINUTE_EVERY {
                written = tick;
                rows.extend(slots.iter_mut().filter_map(|s| {
                    s.minute
                        .take((id.as_str(), s.tier.as_str(), s.label.as_str()))
                }));
            }
            if !rows.is_empty() {
                let _ = shared.ledger.send(LedgerWrite::ProbeMinutes(rows));
            }
            // What SNMP read since the last round.
            while let Some(p) = self.polled.as_mut().and_then(|rx| rx.try_recv().ok()) {
                self.take_polled(&shared, p, &mut interface);
            }
            // The interface's own status, when SNMP sees it down, decides.
            let state = with_interface_evidence(
                classify(tier[0], tier[1], tier[2], self.line.upstream_quorum),
                interface.map(|(cause, _)| cause),
            );
            if let Some(log) = &self.standby {
                log.push(
                    &id,
                    crate::round_log::ObservedRound {
                        at,
                        outcomes,
                        interface,
                    },
                );
            }
            self.judge(&shared, state, at, interface, &upstream);
            shared.gate.set_quiet(&id, self.evaluator.quiet());
            drop(round);
            state_gauges.set_round(state.name());
            state_gauges.set_declared(self.evaluator.declared());
            let done = shared.clock.now();
            m.last_round.set(done.timestamp_millis() as f64 / 1000.0);
            shared
                .last_round_ms
                .store(done.timestamp_millis(), Ordering::Relaxed);
        }
        let rows: Vec<MinuteRow> = slots
            .iter_mut()
            .filter_map(|s| {
                s.minute
                    .take((id.as_str(), s.tier.as_str(), s.label.as_str()))
            })
            .collect();
        if !rows.is_empty() {
            let _ = shared.ledger.send(LedgerWrite::ProbeMinutes(rows));
        }
        self.evaluator
    }

    /// One slot per target, nearest tier first, with its metric series.
    fn slots(&self, m: &Metrics) -> Vec<TargetSlot> {
        let line_label: Arc<str> = Arc::from(self.line.id.as_str());
        let mut slots: Vec<TargetSlot> = Vec::new();
        for tier in Tier::ALL {
            for addr in self.line.targets(tier) {
                slots.push(TargetSlot {
                    tier,
                    addr: *addr,
                    series: m.probes.target(&line_label, tier, *addr),
                    label: addr.to_string(),
                    minute: MinuteRollup::default(),
                });
            }
        }
        slots
    }

    /// Takes this config's quality and utilisation thresholds, keeping
    /// what the evaluator has seen (a degradation the new ones end, ends).
    fn reconfigure(&mut self, shared: &Shared) {
        let quality = LineQuality::new(
            &self.degradation,
            self.line.rtt_threshold,
            self.probe.interval,
            self.line.upstream.len(),
        );
        match &mut self.evaluator.quality {
            Some(q) => {
                for change in q.reconfigure(quality, shared.clock.now()) {
                    Self::degraded(&self.standby, shared, &self.line.id, change);
                }
            }
            None => self.evaluator.quality = Some(quality),
        }
        if self.polled.is_some() {
            match self.evaluator.utilisation.as_mut() {
                Some(u) => u.reconfigure(&self.degradation),
                None => self.evaluator.utilisation = Some(Utilisation::new(&self.degradation)),
            }
        }
    }

    /// A round's outcomes counted per tier, the upstream anchors' RTTs (None
    /// where a probe could not be sent) and the minute rows it completes.
    /// `replayed`: a standby's round judged on taking over (counted on the
    /// metrics when it came back), with what the previous leader already
    /// counted in its minute; else a round just sent.
    fn tally(
        &self,
        slots: &mut [TargetSlot],
        outcomes: &[Echo],
        at: Ts,
        minute: Ts,
        replayed: Option<&Counted>,
    ) -> (
        [TierResult; 3],
        Vec<Option<Option<Duration>>>,
        Vec<MinuteRow>,
    ) {
        let id = self.line.id.as_str();
        let mut tier = [TierResult::default(); 3];
        for t in Tier::ALL {
            tier[t.index()].targets = self.line.targets(t).len();
        }
        let mut upstream = Vec::with_capacity(self.line.upstream.len());
        let mut rows: Vec<MinuteRow> = Vec::new();
        let live = replayed.is_none();
        for (slot, echo) in slots.iter_mut().zip(outcomes) {
            let t = &mut tier[slot.tier.index()];
            // The round's verdict takes either echo; the figures (loss,
            // RTT, jitter, quality) take the first alone, an unbiased
            // sample of the line's packet loss.
            if echo.answered() {
                t.answered += 1;
            }
            let rtt = match &echo.first {
                EchoOutcome::Reply { rtt } => {
                    t.observed += 1;
                    if live {
                        slot.series.received(*rtt);
                    }
                    Some(*rtt)
                }
                EchoOutcome::Lost | EchoOutcome::Unreachable { .. } => {
                    t.observed += 1;
                    None
                }
                EchoOutcome::Failed { reason } => {
                    tracing::debug!(line = %id, target = %slot.addr, %reason, "probe not sent");
                    if slot.tier == Tier::Upstream {
                        upstream.push(None);
                    }
                    continue;
                }
            };
            if slot.tier == Tier::Upstream {
                upstream.push(Some(rtt));
            }
            if live {
                slot.series.sent();
            }
            if let Some(counted) = replayed {
                let k = (
                    slot.tier.as_str().to_string(),
                    slot.label.clone(),
                    linkledger_core::time::ledger_ts(minute),
                );
                if counted.get(&k).is_some_and(|until| at < *until) {
                    // The previous leader counted this part of the minute.
                    continue;
                }
            }
            let key = (id, slot.tier.as_str(), slot.label.as_str());
            rows.extend(slot.minute.record(minute, rtt, key));
        }
        (tier, upstream, rows)
    }

    /// Feeds the round's state to the evaluator, with the interface's
    /// latest reading, and records what it decides; judges quality.
    fn judge(
        &mut self,
        shared: &Shared,
        state: RoundState,
        at: Ts,
        interface: Option<(Cause, Ts)>,
        upstream: &[Option<Option<Duration>>],
    ) {
        // A poll read down since the last round is evidence of an open
        // outage even when this round is the first to answer again,
        // unless it was read after the line answered (stale): after this
        // round's first reply came back, not merely after it went out (an
        // echo may wait in the kernel for the neighbour to resolve while
        // the port is still down, and be answered once it is back).
        let answered = upstream
            .iter()
            .filter_map(|r| r.flatten())
            .min()
            .and_then(|rtt| chrono::TimeDelta::from_std(rtt).ok())
            .map_or(at, |rtt| at + rtt);
        if let Some((cause, seen)) = interface {
            if state != RoundState::Up || seen < answered {
                if let Some(event) = self.evaluator.interface_seen(cause, seen) {
                    self.record(shared, event);
                }
            }
        }
        for event in self.evaluator.observe(state, at) {
            self.record(shared, event);
        }
        // Quality is judged on the rounds of a line declared up (a
        // failed round not yet an outage is loss); not on our own
        // side's failures or rounds without evidence.
        let evidence = matches!(state, RoundState::Up | RoundState::Down(_));
        if evidence && self.evaluator.confirmed_up() {
            if let Some(q) = self.evaluator.quality.as_mut() {
                for change in q.observe(at, upstream) {
                    Self::degraded(&self.standby, shared, &self.line.id, change);
                }
            }
        }
    }

    /// One thing the line's SNMP poller read: the interface's status kept
    /// for the rounds, a rate judged for utilisation at once.
    fn take_polled(&mut self, shared: &Shared, p: Polled, interface: &mut Option<(Cause, Ts)>) {
        match p {
            Polled::Read { at, down } => *interface = down.map(|cause| (cause, at)),
            Polled::Unobserved => *interface = None,
            Polled::Rate {
                at,
                seconds,
                inbound,
                outbound,
            } => {
                let u = self.evaluator.utilisation.as_mut();
                if let Some(change) = u.and_then(|u| u.observe(at, seconds, inbound, outbound)) {
                    Self::degraded(&self.standby, shared, &self.line.id, change);
                }
            }
        }
    }

    /// A degradation judged: recorded, unless this is a standby (its
    /// rounds are judged again when it takes over).
    fn degraded(
        standby: &Option<crate::round_log::RoundLog>,
        shared: &Shared,
        line: &str,
        change: linkledger_core::quality::QualityChange,
    ) {
        if standby.is_none() {
            events::degradation(&shared.ledger, line, change);
        }
    }

    fn record(&self, shared: &Shared, event: Event) {
        if self.standby.is_some() {
            tracing::debug!(?event, "judged as standby: the leader records it");
            return;
        }
        if let Event::OutageOpened { start, .. } = event {
            // Path evidence: where the way to each anchor stops now.
            crate::path::trace_line_outage(
                shared.ledger.clone(),
                shared.clock.clone(),
                self.line.id.clone(),
                self.line.binding(),
                self.line.upstream.clone(),
                start,
            );
        }
        events::line_edge(&shared.ledger, &shared.metrics, &self.line.id, event);
    }
}

#[cfg(test)]
#[path = "line_task_tests.rs"]
mod tests;
