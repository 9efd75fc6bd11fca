//! The line loop on tokio's paused clock: a scripted network answers or
//! stays silent on cue, and the test reads what the loop sends the ledger.
//! Half a minute of rounds runs in milliseconds, at exact times.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use linkledger_config::{Line, Probe, Role};
use linkledger_core::evaluator::{Cause, Evaluator};
use linkledger_core::time::ledger_ts;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::write::LedgerWrite;
use linkledger_probes::{Echo, EchoOutcome};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{LineTask, Rounds, Shared};
use crate::metrics::Metrics;
use crate::snmp_task::{Polled, PolledTx};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const GATEWAY: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 1, 1));
const UPSTREAM: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 19, 100, 1));

/// Our side always answers; beyond it, silence during `silent` (seconds
/// since `t0`): the carrier's line cut; during `first_lost`, every first
/// echo beyond our side is lost and its retry answers (random loss).
struct Scripted {
    t0: Instant,
    silent: (f64, f64),
    first_lost: (f64, f64),
}

impl Rounds for Scripted {
    async fn round(
        &self,
        targets: &[IpAddr],
        timeout: Duration,
        retry_at: &[Duration],
    ) -> Vec<Echo> {
        let since = (Instant::now() - self.t0).as_secs_f64();
        let within = |(from, to): (f64, f64)| since >= from && since < to;
        let (cut, lossy) = (within(self.silent), within(self.first_lost));
        let rtt = Duration::from_millis(2);
        tokio::time::sleep(if cut || lossy { timeout } else { rtt }).await;
        let reply = EchoOutcome::Reply { rtt };
        targets
            .iter()
            .map(|t| {
                if *t == LOCAL || !(cut || lossy) {
                    return Echo {
                        first: reply.clone(),
                        retries: vec![],
                    };
                }
                // The first retry answers unless the line is cut.
                let retries = match (retry_at.is_empty(), cut) {
                    (true, _) => vec![],
                    (false, true) => vec![EchoOutcome::Lost; retry_at.len()],
                    (false, false) => vec![reply.clone()],
                };
                Echo {
                    first: EchoOutcome::Lost,
                    retries,
                }
            })
            .collect()
    }
}

fn line() -> Line {
    Line {
        id: "telecom".into(),
        carrier: "telecom".into(),
        display_name: None,
        role: Role::Member,
        bandwidth_mbps: 1000,
        ip_blocks: vec![],
        source: None,
        interface: None,
        local: vec![LOCAL],
        gateway: vec![GATEWAY],
        upstream: vec![UPSTREAM],
        upstream_quorum: 1,
        rtt_threshold: None,
        snmp: None,
        block_targets: vec![],
        block_quorum: 2,
    }
}

/// The outage edges and cause evidence the loop sent the ledger, their
/// times as the ledger writes them (to the millisecond).
#[derive(Debug, PartialEq)]
enum Edge {
    Opened(String, &'static str),
    Cause(String, &'static str),
    Closed(String),
    Degraded(&'static str),
    Recovered(&'static str),
}

/// Runs the line for `secs` of paused time with the line cut during
/// `silent`; `during` runs beside it with the line's SNMP channel (a poll,
/// say). Returns the clock and
/// the edges.
async fn run_line<F>(silent: (f64, f64), secs: u64, during: F) -> (RunClock, Vec<Edge>)
where
    F: FnOnce(RunClock, Instant, PolledTx) -> tokio::task::JoinHandle<()>,
{
    let (clock, edges, _) = run_net(silent, (0.0, 0.0), 2, secs, during).await;
    (clock, edges)
}

/// Like [`run_line`], with first echoes lost during `first_lost` and
/// `probe.retries` as given; also returns the minute rows sent.
async fn run_net<F>(
    silent: (f64, f64),
    first_lost: (f64, f64),
    retries: u32,
    secs: u64,
    during: F,
) -> (
    RunClock,
    Vec<Edge>,
    Vec<linkledger_ledger::write::MinuteRow>,
)
where
    F: FnOnce(RunClock, Instant, PolledTx) -> tokio::task::JoinHandle<()>,
{
    let t0 = Instant::now();
    let clock = RunClock::start();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Shared {
        clock: clock.clone(),
        ledger: tx,
        metrics: Arc::new(Metrics::new()),
        last_round_ms: Arc::new(AtomicI64::new(0)),
        receive_stats: Arc::default(),
        schedule: Default::default(),
        gate: Arc::default(),
    };
    let probe = Probe {
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(800),
        down_after: 3,
        up_after: 2,
        retries,
    };
    let (to_line, polled) = mpsc::unbounded_channel();
    let task = LineTask {
        line: line(),
        probe,
        echoer: Arc::new(Scripted {
            t0,
            silent,
            first_lost,
        }),
        evaluator: Evaluator::new(probe.down_after, probe.up_after),
        phase: Duration::ZERO,
        polled: Some(polled),
        degradation: linkledger_config::Terms::default().degradation,
        standby: None,
        replay: Vec::new(),
        counted: Default::default(),
    };
    let cancel = CancellationToken::new();
    let side = during(clock.clone(), t0, to_line);
    let running = tokio::spawn(task.run(shared, cancel.clone()));
    tokio::time::sleep_until(t0 + Duration::from_secs(secs)).await;
    cancel.cancel();
    running.await.unwrap();
    side.await.unwrap();
    let mut edges = Vec::new();
    let mut minutes = Vec::new();
    while let Ok(w) = rx.try_recv() {
        match w {
            LedgerWrite::ProbeMinutes(rows) => minutes.extend(rows),
            LedgerWrite::OutageOpened { start, cause, .. } => {
                edges.push(Edge::Opened(ledger_ts(start), cause))
            }
            LedgerWrite::OutageCause { at, cause, .. } => {
                edges.push(Edge::Cause(ledger_ts(at), cause))
            }
            LedgerWrite::OutageClosed { end, .. } => edges.push(Edge::Closed(ledger_ts(end))),
            LedgerWrite::DegradationStarted { kind, .. } => edges.push(Edge::Degraded(kind)),
            LedgerWrite::DegradationEnded { kind, .. } => edges.push(Edge::Recovered(kind)),
            _ => {}
        }
    }
    (clock, edges, minutes)
}

fn nothing(_: RunClock, _: Instant, _: PolledTx) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {})
}

/// An SNMP poll that reads the interface down `ms` after the start.
fn read_down_at(
    ms: u64,
) -> impl FnOnce(RunClock, Instant, PolledTx) -> tokio::task::JoinHandle<()> {
    move |clock, t0, to_line| {
        tokio::spawn(async move {
            let at = t0 + Duration::from_millis(ms);
            tokio::time::sleep_until(at).await;
            let down = Some(Cause::InterfaceDown);
            to_line
                .send(Polled::Read {
                    at: clock.at(at),
                    down,
                })
                .unwrap();
        })
    }
}

fn secs(clock: &RunClock, from: Instant, s: f64) -> String {
    ledger_ts(clock.at(from + Duration::from_secs_f64(s)))
}

#[tokio::test(start_paused = true)]
async fn a_cut_line_is_an_outage_from_its_first_failed_round_to_its_first_good_one() {
    let t0 = Instant::now();
    let (clock, edges) = run_line((5.0, 15.0), 30, nothing).await;
    // Declared at the third failed round (7 s), dated from the first (5 s);
    // over at the second good round (16 s), dated from the first (15 s).
    assert_eq!(
        edges,
        [
            Edge::Opened(secs(&clock, t0, 5.0), "gateway_unreachable"),
            Edge::Closed(secs(&clock, t0, 15.0)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn two_failed_rounds_are_not_an_outage() {
    let (_, edges) = run_line((5.0, 7.0), 20, nothing).await;
    assert_eq!(edges, []);
}

/// SNMP reads the interface down after the last failed round (14 s, done
/// at 14.8 s) and before the first good one (15 s): the ledger keeps it as
/// the outage's cause, seen at the poll's time, and the stale status snmpd
/// keeps serving afterwards does not hold the line down.
#[tokio::test(start_paused = true)]
async fn a_poll_between_the_last_failed_round_and_the_return_names_the_cause() {
    let t0 = Instant::now();
    let (clock, edges) = run_line((5.0, 15.0), 30, read_down_at(14_900)).await;
    assert_eq!(
        edges,
        [
            Edge::Opened(secs(&clock, t0, 5.0), "gateway_unreachable"),
            Edge::Cause(secs(&clock, t0, 14.9), "interface_down"),
            Edge::Closed(secs(&clock, t0, 15.0)),
        ]
    );
}

/// The same status read after the line answered again (15.2 s) is stale:
/// it names nothing and the outage ends at the first good round.
#[tokio::test(start_paused = true)]
async fn a_poll_after_the_line_answered_again_names_nothing() {
    let t0 = Instant::now();
    let (clock, edges) = run_line((5.0, 15.0), 30, read_down_at(15_200)).await;
    assert_eq!(
        edges,
        [
            Edge::Opened(secs(&clock, t0, 5.0), "gateway_unreachable"),
            Edge::Closed(secs(&clock, t0, 15.0)),
        ]
    );
}

/// Rates the poller sends on the line's channel are judged by the line's
/// evaluator: 95 % of the contract for 20 minutes is a utilisation
/// degradation (15-minute window), 10 % for 20 more ends it.
#[tokio::test(start_paused = true)]
async fn rates_sent_on_the_line_channel_are_judged_for_utilisation() {
    let rates = |clock: RunClock, t0: Instant, to_line: PolledTx| {
        tokio::spawn(async move {
            for k in 1..=240u64 {
                let at = t0 + Duration::from_secs(10 * k);
                tokio::time::sleep_until(at).await;
                let share = if k <= 120 { 0.95 } else { 0.10 };
                to_line
                    .send(Polled::Rate {
                        at: clock.at(at),
                        seconds: 10.0,
                        inbound: share,
                        outbound: 0.05,
                    })
                    .unwrap();
            }
        })
    };
    let (_, edges) = run_line((1e9, 1e9), 2405, rates).await;
    assert_eq!(
        edges,
        [
            Edge::Degraded("utilisation"),
            Edge::Recovered("utilisation")
        ]
    );
}

/// Every first echo beyond our side lost for 10 s, every retry answering:
/// no failed round, so no outage; the minute's figures still count each
/// lost first echo (an unbiased sample of the line's loss). Without the
/// retry the same 10 s are an outage.
#[tokio::test(start_paused = true)]
async fn a_lost_echo_answered_by_its_retry_fails_no_round_but_counts_as_loss() {
    let (_, edges, minutes) = run_net((0.0, 0.0), (5.0, 15.0), 2, 30, nothing).await;
    assert_eq!(edges, []);
    let upstream: (u32, u32) = minutes
        .iter()
        .filter(|r| r.tier == "upstream")
        .fold((0, 0), |(s, r), m| (s + m.sent, r + m.received));
    // A round a second for 30 s (the one at 30 s may or may not start
    // before the stop), 10 of them with the first echo lost; the retries
    // are not counted as sent.
    assert!(upstream.0 == 30 || upstream.0 == 31, "{minutes:?}");
    assert_eq!(upstream.0 - upstream.1, 10, "{minutes:?}");

    let (_, edges, _) = run_net((0.0, 0.0), (5.0, 15.0), 0, 30, nothing).await;
    assert_eq!(edges.len(), 2, "{edges:?}");
    assert!(matches!(edges[0], Edge::Opened(_, _)), "{edges:?}");
}

/// A cut line whose first echoes are lost for a while after it is back
/// (every retry answering): the outage still ends at the first round whose
/// first echo came back, never earlier on a retry's word.
#[tokio::test(start_paused = true)]
async fn an_outage_ends_at_the_first_answered_first_echo_not_at_a_retry() {
    let t0 = Instant::now();
    let (clock, edges, _) = run_net((5.0, 15.0), (15.0, 18.0), 2, 30, nothing).await;
    assert_eq!(
        edges,
        [
            Edge::Opened(secs(&clock, t0, 5.0), "gateway_unreachable"),
            Edge::Closed(secs(&clock, t0, 18.0)),
        ]
    );
}

/// A poll that reads the port down just after the first good round went
/// out (15.001 s) but before its reply came back (15.002 s: the echo waited
/// for the port) is still evidence of the outage, not a stale reading.
#[tokio::test(start_paused = true)]
async fn a_poll_before_the_first_reply_came_back_names_the_cause() {
    let t0 = Instant::now();
    let (clock, edges) = run_line((5.0, 15.0), 30, read_down_at(15_001)).await;
    assert_eq!(
        edges,
        [
            Edge::Opened(secs(&clock, t0, 5.0), "gateway_unreachable"),
            Edge::Cause(secs(&clock, t0, 15.001), "interface_down"),
            Edge::Closed(secs(&clock, t0, 15.0)),
        ]
    );
}
