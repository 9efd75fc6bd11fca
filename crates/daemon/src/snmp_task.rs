//! One line's SNMP poller: finds the interface (again after the agent
//! restarts, because indexes move), polls it every interval, turns counters
//! into rates under the reset rules, keeps 5-minute samples in the ledger,
//! sets the interface metrics, and tells the line's task what the interface
//! itself says (operationally down, administratively down) and the rates
//! its utilisation is judged on, over the line's one channel.
//!
//! An agent that does not answer is unobserved for SNMP: the evidence is
//! withdrawn, never turned into "interface down".

use std::sync::Arc;

use linkledger_probes::snmp::interface::{
    find_interface, read_interface, IfStatus, InterfaceReading,
};
use linkledger_probes::snmp::{Agent, SnmpClient, SnmpError};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::Metrics;
use linkledger_config::snmp::LineSnmp;
use linkledger_core::evaluator::{Cause, Ts};
use linkledger_core::time::ledger_ts;
use linkledger_core::traffic::{rates, CounterSample, Discard, FiveMinutes};
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::outbox::{NewNotice, NoticeKind};
use linkledger_ledger::write::{LedgerTx, LedgerWrite};

/// What a line's SNMP poller tells the line's task. One channel: the line's
/// task owns its evaluator and feeds it everything, rounds and polls alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Polled {
    /// A poll read the interface at `at`: down with this cause, or up.
    Read { at: Ts, down: Option<Cause> },
    /// The agent does not answer: no evidence either way until it does.
    Unobserved,
    /// A rate over the `seconds` up to `at`, as shares of the contracted
    /// bandwidth in and out.
    Rate {
        at: Ts,
        seconds: f64,
        inbound: f64,
        outbound: f64,
    },
}

/// The poller's end of its line's channel.
pub type PolledTx = mpsc::UnboundedSender<Polled>;

pub struct SnmpPoller {
    pub line: String,
    pub bandwidth_mbps: u64,
    pub snmp: LineSnmp,
    /// To the line's task: what each poll read.
    pub to_line: PolledTx,
}

/// Consecutive failed polls after which SNMP counts as failing (one
/// notice per failing spell).
const FAILING_AFTER: u32 = 3;

struct State {
    client: Option<SnmpClient>,
    if_index: Option<u32>,
    last: Option<(CounterSample, [u32; 4])>,
    five: FiveMinutes,
}

impl SnmpPoller {
    pub async fn run(
        self,
        clock: RunClock,
        ledger: LedgerTx,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
    ) {
        let m = &metrics.interface;
        let line = self.line.as_str();
        let mut state = State {
            client: None,
            if_index: None,
            last: None,
            five: FiveMinutes::default(),
        };
        let mut failures = 0u32;
        let mut ticker = tokio::time::interval(self.snmp.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let started = Instant::now();
            let result = self.poll(&mut state).await;
            m.poll_duration
                .with_label_values(&[line])
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok((reading, at_ms)) => {
                    failures = 0;
                    self.record(&mut state, &reading, at_ms, &clock, &ledger, &metrics)
                }
                Err(e) => {
                    m.poll_errors.with_label_values(&[line, e.reason()]).inc();
                    failures += 1;
                    if failures == FAILING_AFTER {
                        let _ = ledger.send(LedgerWrite::Notice(NewNotice::about(
                            NoticeKind::SnmpFailing,
                            format!("snmp:{line}:{}", ledger_ts(clock.now())),
                            Some(line.to_string()),
                            clock.now(),
                            serde_json::json!({ "reason": e.to_string(), "failures": failures }),
                        )));
                    }
                    warn!(line, error = %e, "SNMP poll failed; the interface is unobserved until the agent answers");
                    let _ = self.to_line.send(Polled::Unobserved);
                    // A new session next time (a v3 engine may have rebooted).
                    state.client = None;
                    if matches!(e, SnmpError::NotFound { .. }) {
                        state.if_index = None;
                    }
                }
            }
        }
        let _ = self.to_line.send(Polled::Unobserved);
        if let Some(sample) = state.five.take() {
            let _ = ledger.send(LedgerWrite::TrafficSample(sample));
        }
    }

    async fn poll(&self, state: &mut State) -> Result<(InterfaceReading, u64), SnmpError> {
        if state.client.is_none() {
            let agent = Agent {
                address: self.snmp.agent,
                credentials: self.snmp.credentials.clone(),
                timeout: self.snmp.timeout,
                retries: self.snmp.retries,
            };
            state.client = Some(SnmpClient::connect(agent).await?);
        }
        let client = state.client.as_mut().expect("connected above");
        let index = match state.if_index {
            Some(i) => i,
            None => {
                let i = find_interface(client, &self.snmp.interface).await?;
                info!(line = %self.line, if_index = i, interface = %self.snmp.interface, "SNMP interface found");
                state.if_index = Some(i);
                i
            }
        };
        let reading = read_interface(client, index).await?;
        Ok((reading, tokio_ms()))
    }

    fn record(
        &self,
        state: &mut State,
        r: &InterfaceReading,
        at_ms: u64,
        clock: &RunClock,
        ledger: &LedgerTx,
        metrics: &Metrics,
    ) {
        let m = &metrics.interface;
        let line = self.line.as_str();
        let down = match (r.admin, r.oper) {
            (IfStatus::Down, _) => Some(Cause::AdminDown),
            (_, IfStatus::Down) => Some(Cause::InterfaceDown),
            _ => None,
        };
        let _ = self.to_line.send(Polled::Read {
            at: clock.now(),
            down,
        });
        m.oper_up
            .with_label_values(&[line])
            .set(i64::from(r.oper == IfStatus::Up));
        let speed_bps = u64::from(r.high_speed_mbps) * 1_000_000;
        m.speed
            .with_label_values(&[line])
            .set(speed_bps as f64 / 8.0);
        let sample = CounterSample {
            at_ms,
            sys_uptime: r.sys_uptime,
            engine_boots: r.engine_boots,
            in_octets: r.in_octets,
            out_octets: r.out_octets,
            speed_bps,
        };
        let counters = [r.in_errors, r.out_errors, r.in_discards, r.out_discards];
        if let Some((prev, prev_counters)) = state.last.replace((sample, counters)) {
            match rates(&prev, &sample) {
                Ok(rate) => {
                    let contracted = (self.bandwidth_mbps * 1_000_000) as f64;
                    for (dir, bps) in [("in", rate.in_bps), ("out", rate.out_bps)] {
                        m.bytes_per_second
                            .with_label_values(&[line, dir])
                            .set(bps / 8.0);
                        m.utilization
                            .with_label_values(&[line, dir])
                            .set(bps / contracted);
                    }
                    let _ = self.to_line.send(Polled::Rate {
                        at: clock.now(),
                        seconds: rate.seconds,
                        inbound: rate.in_bps / contracted,
                        outbound: rate.out_bps / contracted,
                    });
                    let delta: Vec<u64> = counters
                        .iter()
                        .zip(prev_counters)
                        .map(|(now, before)| error_delta(*now, before))
                        .collect();
                    m.errors.with_label_values(&[line, "in"]).inc_by(delta[0]);
                    m.errors.with_label_values(&[line, "out"]).inc_by(delta[1]);
                    let errors = [delta[0], delta[1], delta[2], delta[3]];
                    if let Some(done) = state.five.add(line, clock.now(), &rate, errors) {
                        let _ = ledger.send(LedgerWrite::TrafficSample(done));
                    }
                }
                Err(discard) => {
                    m.poll_errors
                        .with_label_values(&[line, discard.as_str()])
                        .inc();
                    warn!(
                        line,
                        reason = discard.as_str(),
                        "SNMP sample discarded; rates resume from the next poll"
                    );
                    if matches!(discard, Discard::AgentRestarted | Discard::EngineRebooted) {
                        state.if_index = None; // indexes may have moved
                    }
                }
            }
        }
    }
}

/// Errors/discards since the previous poll. These are Counter32s: a value
/// lower than before is taken as a cleared counter (0), not as a wrap, so a
/// reset never invents errors.
fn error_delta(now: u32, before: u32) -> u64 {
    u64::from(now.saturating_sub(before))
}

/// Monotonic milliseconds (tokio's clock).
fn tokio_ms() -> u64 {
    use std::sync::OnceLock;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    Instant::now().saturating_duration_since(origin).as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::error_delta;

    #[test]
    fn a_cleared_error_counter_adds_nothing() {
        assert_eq!(error_delta(15, 10), 5);
        assert_eq!(error_delta(3, 4_000_000_000), 0);
    }
}
