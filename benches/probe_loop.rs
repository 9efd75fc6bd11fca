//! Benchmark of linkledger's own probing loop: N distinct loopback targets
//! (127.x.y.z all answer), in lines of 10, probed at 1 Hz through the same
//! line tasks, evaluator, metrics and ledger writer the daemon runs.
//! Prints pings/s, loss, CPU % of one core, peak RSS and bytes per target.
//!
//!     cargo bench --bench probe_loop              # N = 1,000 and 10,000, 30 s each
//!     LINKLEDGER_BENCH_SECS=60 LINKLEDGER_BENCH_N=10000 cargo bench --bench probe_loop
//!
//! Needs root, CAP_NET_RAW or an unprivileged ping range.
#![allow(clippy::disallowed_types)] // wall-clock measurement of the whole run

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use linkledger_config::{Line, Probe, Role};
use linkledger_core::evaluator::Evaluator;
use linkledger_daemon::line_task::{LineTask, Shared};
use linkledger_daemon::metrics::Metrics;
use linkledger_daemon::probe_runtime::ProbeRuntime;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::{self as ledger, run, write};
use linkledger_probes::{Binding, Echoer};
use tokio_util::sync::CancellationToken;

fn proc_field(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of this process, in clock ticks (100 per second on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn target(i: usize) -> IpAddr {
    let n = i as u32 + 256; // skip 127.0.0.x
    IpAddr::V4(Ipv4Addr::new(127, (n >> 16) as u8, (n >> 8) as u8, n as u8))
}

fn lines(n: usize) -> Vec<Line> {
    (0..n.div_ceil(10))
        .map(|l| Line {
            id: format!("l{l}"),
            carrier: "bench".into(),
            display_name: None,
            role: Role::Member,
            bandwidth_mbps: 1000,
            ip_blocks: vec![],
            source: None,
            interface: None,
            local: vec![],
            gateway: vec![],
            upstream: (l * 10..((l + 1) * 10).min(n)).map(target).collect(),
            upstream_quorum: 1,
            rtt_threshold: None,
            snmp: None,
            block_targets: vec![],
            block_quorum: 2,
        })
        .collect()
}

async fn bench(n: usize, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let rss_before = proc_field("/proc/self/status", "VmRSS:");
    let pool = ledger::open(&dir.path().join("bench.db")).await.unwrap();
    let clock = RunClock::start();
    let lines = lines(n);
    let start = run::begin(&pool, clock.now(), "bench", 1000, &lines)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let status = Arc::new(write::WriterStatus::default());
    let writer = tokio::spawn(write::run_writer(
        pool.clone(),
        linkledger_ledger::write::WriterRun {
            run_id: start.run_id,
            clock: clock.clone(),
            interval_ms: 1000,
        },
        linkledger_ledger::faults::FaultRules {
            classes: Default::default(),
            lines: lines.iter().map(|l| l.id.clone()).collect(),
        },
        rx,
        status,
        Duration::from_secs(5),
        None,
    ));
    let metrics = Arc::new(Metrics::new());
    let shared = Shared {
        clock,
        ledger: tx,
        metrics: metrics.clone(),
        last_round_ms: Arc::new(AtomicI64::new(0)),
        receive_stats: Arc::default(),
        schedule: Default::default(),
        gate: Arc::default(),
    };
    // As in the daemon: line tasks and sockets on the probing thread.
    let probe_rt = ProbeRuntime::start().unwrap();
    let echoer = Arc::new(
        probe_rt
            .enter(|| Echoer::open(&Binding::default(), true, false))
            .expect("ICMP socket"),
    );
    let probe = Probe {
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(800),
        down_after: 3,
        up_after: 2,
        retries: 2,
    };
    let cancel = CancellationToken::new();
    let count = lines.len() as u32;
    let tasks: Vec<_> = lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let task = LineTask {
                line,
                probe,
                echoer: echoer.clone(),
                evaluator: Evaluator::new(3, 2),
                polled: None,
                phase: probe.interval * i as u32 / count,
                degradation: cfg_degradation(),
                standby: None,
                replay: Vec::new(),
                counted: Default::default(),
            };
            probe_rt.spawn(task.run(shared.clone(), cancel.child_token()))
        })
        .collect();
    // Warm up (sockets, metric children, first rollups), then measure.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let totals = |m: &Metrics| {
        let (s, r) = m.probes.totals();
        (s as f64, r as f64)
    };
    let (sent0, recv0) = totals(&metrics);
    let cpu0 = cpu_ticks();
    let wall0 = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = wall0.elapsed().as_secs_f64();
    let cpu = (cpu_ticks() - cpu0) as f64 / 100.0;
    let (sent1, _) = totals(&metrics);
    let rss = proc_field("/proc/self/status", "VmRSS:");
    let hwm = proc_field("/proc/self/status", "VmHWM:");
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    drop(shared);
    let _ = writer.await;
    // Loss over every completed round (the window's edges cut through rounds).
    let (all_sent, all_recv) = totals(&metrics);
    let (sent, recv) = (sent1 - sent0, all_recv * (sent1 - sent0) / all_sent);
    let _ = recv0;
    println!(
        "N={n:>6}  {:>8.0} pings/s  loss {:.3} %  CPU {:>5.1} % of one core  peak RSS {:>6.1} MB  {:>5.0} bytes/target  ({secs} s)",
        sent / elapsed,
        if sent > 0.0 { 100.0 * (sent - recv) / sent } else { 0.0 },
        100.0 * cpu / elapsed,
        hwm as f64 / 1024.0,
        (rss.saturating_sub(rss_before) * 1024) as f64 / n as f64,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks; nothing to list
    }
    let secs = std::env::var("LINKLEDGER_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let ns: Vec<usize> = match std::env::var("LINKLEDGER_BENCH_N") {
        Ok(s) => s.split(',').filter_map(|v| v.trim().parse().ok()).collect(),
        Err(_) => vec![1_000, 10_000],
    };
    if ns.len() > 1 {
        // One fresh process per N, so that memory figures do not mix.
        for n in ns {
            let exe = std::env::current_exe().unwrap();
            let status = std::process::Command::new(exe)
                .env("LINKLEDGER_BENCH_N", n.to_string())
                .status()
                .unwrap();
            assert!(status.success(), "bench for N={n} failed");
        }
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench(ns[0], secs));
}

fn cfg_degradation() -> linkledger_config::terms::Degradation {
    linkledger_config::Terms::default().degradation
}
