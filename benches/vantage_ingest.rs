//! Benchmark of the central's ingest of vantage batches: A agents, each
//! pushing one round of T block targets every 10 s (default 100 × 1,000:
//! 10,000 observations a second), for S simulated seconds, stored the way
//! `POST /api/v1/agent/batches` stores them (JSON parsed, checked, one
//! transaction per batch) into a real SQLite ledger. Batches are offered at
//! the required rate; prints the ingest latency percentiles, CPU % of one
//! core and the ledger's growth, extrapolated to a day.
//!
//!     cargo bench --bench vantage_ingest
//!     LINKLEDGER_BENCH_AGENTS=20 LINKLEDGER_BENCH_TARGETS=200 cargo bench --bench vantage_ingest
#![allow(clippy::disallowed_types)] // wall-clock measurement of the whole run

use std::time::{Duration, Instant};

use linkledger_core::batch::{Batch, Round, TargetResult, SCHEMA};
use linkledger_ledger::vantage::store;

fn env(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn main() {
    let agents = env("LINKLEDGER_BENCH_AGENTS", 100);
    let targets = env("LINKLEDGER_BENCH_TARGETS", 1000);
    let secs = env("LINKLEDGER_BENCH_SECS", 60);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let target = |t: u64| format!("198.18.{}.{}:tcp/443", 100 + t / 250, t % 250);
    // The demo config with the targets as its first line's block targets,
    // so that each round is summarised per block as the central does.
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml");
    let list: Vec<String> = (0..targets).map(|t| format!("{:?}", target(t))).collect();
    let text = std::fs::read_to_string(demo).unwrap().replacen(
        "ip_blocks = [\"198.19.100.0/29\"]",
        &format!(
            "ip_blocks = [\"198.18.96.0/19\"]\nblock_targets = [{}]",
            list.join(", ")
        ),
        1,
    );
    let config = linkledger_config::Config::parse(std::path::Path::new(demo), &text).unwrap();
    rt.block_on(async {
        let pool = linkledger_ledger::open(&db).await.unwrap();
        let start = linkledger_ledger::clock::wall_now();
        let size0 = pool.bytes_in_use().await.unwrap();
        let mut latencies = Vec::new();
        let (cpu0, wall0) = (cpu_ticks(), Instant::now());
        // Round k of every agent is due at 10 k s after the start.
        for k in 0..secs / 10 {
            let due = wall0 + Duration::from_secs(10 * k);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
            for a in 0..agents {
                let at = start + chrono::TimeDelta::seconds(10 * k as i64);
                let batch = Batch {
                    schema: SCHEMA.into(),
                    agent: format!("a{a}"),
                    backlog: 0,
                    rounds: vec![Round {
                        seq: k as i64 + 1,
                        at,
                        anchors: 2,
                        anchors_answered: 2,
                        results: (0..targets)
                            .map(|t| TargetResult {
                                target: target(t),
                                answered: (t + k) % 97 != 0,
                                rtt_ms: Some(3.0 + (t % 17) as f64 * 0.31),
                            })
                            .collect(),
                        traces: vec![],
                    }],
                };
                let body = serde_json::to_vec(&batch).unwrap();
                let t0 = Instant::now();
                let parsed: Batch = serde_json::from_slice(&body).unwrap();
                let ack = store(&pool, &config.lines, &parsed.agent, &parsed, at + chrono::TimeDelta::seconds(1)).await.unwrap();
                assert_eq!(ack.stored, 1);
                latencies.push(t0.elapsed());
            }
        }
        let elapsed = wall0.elapsed().as_secs_f64();
        let cpu = (cpu_ticks() - cpu0) as f64 / 100.0;
        // The ledger's own pages, the WAL checkpointed into it first (the
        // WAL's size is the checkpoint threshold, not growth).
        let size = pool.bytes_in_use().await.unwrap() - size0;
        pool.close().await;
        latencies.sort();
        let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1000.0;
        let rounds = latencies.len() as f64;
        let per_day = size as f64 / rounds * (agents as f64 * 8640.0);
        println!(
            "linkledger ingest: {agents} agents x {targets} targets every 10 s for {secs} s ({} observations/s): \
             {} batches; latency ms p50 {:.2} p99 {:.2} max {:.2}; CPU {:.1} % of one core; \
             ledger +{:.1} MB ({:.1} KB a round), {:.1} GB a day",
            agents * targets / 10,
            latencies.len(),
            p(0.5),
            p(0.99),
            p(1.0),
            100.0 * cpu / elapsed,
            size as f64 / 1e6,
            size as f64 / rounds / 1e3,
            per_day / 1e9
        );
    });
}
