//! Benchmark of the ledger's hash chain: what it costs the ledger writer
//! at 10,000 targets, and how long `verify` takes over a year of records
//! for 10 lines.
//!
//! Writer: one simulated minute of a daemon probing 10,000 targets in lines
//! of 10 at 1 Hz (each line hands over its minute rows every 5 s: 12,000
//! writes of 10 rows), a heartbeat a second, and 30 outages opened and
//! closed (with their faults, links, events and notices: the chained
//! records), written through the daemon's writer to a real SQLite file;
//! once with the chain and once on a copy of the schema without its
//! triggers (the writer still asks for links to seal: one indexed query a
//! transaction). Alternated, best of `LINKLEDGER_BENCH_RUNS` (default 3).
//!
//! Verify: a year for 10 lines through the same writer (a run started and
//! stopped each day with its line configs and terms, 300 outages a line
//! with their faults, notices, and two deliveries per notice), then
//! `verify` over the whole chain from a read-only handle, as the CLI does.
//!
//! The writer's minute is also written to PostgreSQL (see
//! `benches/common` for the server), chained, to set the two side by side.
//!
//!     cargo bench --bench chain
#![allow(clippy::disallowed_types)] // wall-clock measurement

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_core::rollup::MinuteRow;
use linkledger_ledger::outbox::{self, Outcome};
use linkledger_ledger::write::{run_writer, LedgerWrite, WriterRun, WriterStatus};
use linkledger_ledger::{self as ledger, chain, run, Ledger};

use common::{config_text, env};

fn config(dir: &std::path::Path, lines: usize) -> Config {
    let path = dir.join("bench.toml");
    let text = config_text(dir, lines);
    std::fs::write(&path, &text).unwrap();
    Config::parse(&path, &text).unwrap()
}

/// Runs the writer over `writes` to the end; its wall time.
async fn write_all(db: &Ledger, c: &Config, run_id: i64, writes: Vec<LedgerWrite>) -> Duration {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let writer = tokio::spawn(run_writer(
        db.clone(),
        WriterRun {
            run_id,
            clock: linkledger_ledger::clock::RunClock::start(),
            interval_ms: 1000,
        },
        c.fault_rules(),
        rx,
        Arc::new(WriterStatus::default()),
        Duration::from_secs(5),
        None,
    ));
    for w in writes {
        tx.send(w).unwrap();
    }
    drop(tx);
    writer.await.unwrap();
    started.elapsed()
}

fn outage(line: &str, from: DateTime<Utc>, secs: i64) -> [LedgerWrite; 2] {
    [
        LedgerWrite::OutageOpened {
            line: line.into(),
            start: from,
            start_after: Some(from - TimeDelta::seconds(1)),
            cause: "upstream_unreachable",
        },
        LedgerWrite::OutageClosed {
            line: line.into(),
            end: from + TimeDelta::seconds(secs),
            end_after: from + TimeDelta::seconds(secs - 1),
        },
    ]
}

/// One minute at 10,000 targets: 1,000 lines of 10 hand over their rows
/// every 5 s; a heartbeat a second; 30 outages (15 on each of two lines).
fn minute(t0: DateTime<Utc>) -> Vec<LedgerWrite> {
    let mut out = Vec::new();
    for part in 0..12 {
        for line in 0..1000 {
            let rows = (0..10)
                .map(|i| MinuteRow {
                    line: format!("p{line}"),
                    tier: "upstream",
                    target: format!("10.{}.{}.{i}", line / 256, line % 256),
                    minute: t0,
                    sent: 5,
                    received: 5,
                    rtt_min_us: Some(800),
                    rtt_max_us: Some(1200),
                    rtt_sum_us: 5000,
                    jitter_sum_us: 400,
                    jitter_n: 4,
                    rtt_hist: "20:5".into(),
                })
                .collect();
            out.push(LedgerWrite::ProbeMinutes(rows));
        }
        for s in 0..5 {
            out.push(LedgerWrite::Heartbeat {
                at: t0 + TimeDelta::seconds(part * 5 + s),
            });
        }
        for (k, line) in ["l0", "l1"].iter().enumerate() {
            let from = t0 + TimeDelta::seconds(part * 5) + TimeDelta::milliseconds(k as i64 * 100);
            out.extend(outage(line, from, 2));
        }
        if part % 4 == 0 {
            out.extend(outage("l0", t0 + TimeDelta::seconds(part * 5 + 3), 1));
            out.extend(outage("l1", t0 + TimeDelta::seconds(part * 5 + 3), 1));
        }
    }
    out
}

/// How a PostgreSQL ledger's writes meet the pair's fence.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fence {
    /// The fence's triggers dropped: the schema before the pair.
    Dropped,
    /// A single daemon: the triggers there, no token on the connections.
    Single,
    /// A pair's leader: every statement checks its token against the lease.
    Leader,
}

async fn writer_minute(
    chained: bool,
    pg: Option<(&common::BenchPg, Fence)>,
) -> (Duration, usize, i64) {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), 2);
    let db = match pg {
        Some((pg, _)) => ledger::open_postgres(&pg.url, None).await.unwrap(),
        None => ledger::open(&c.daemon.database).await.unwrap(),
    };
    match pg {
        Some((pg, Fence::Dropped)) => {
            sqlx::any::install_default_drivers();
            let raw = sqlx::AnyPool::connect(&pg.url).await.unwrap();
            let fences: Vec<(String, String)> = sqlx::query_as(
                "SELECT t.tgname::text, c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE '%\\_fence'",
            )
            .fetch_all(&raw)
            .await
            .unwrap();
            assert!(fences.len() > 30, "{fences:?}");
            for (t, table) in fences {
                sqlx::query(&format!("DROP TRIGGER {t} ON {table}"))
                    .execute(&raw)
                    .await
                    .unwrap();
            }
            raw.close().await;
        }
        Some((_, Fence::Leader)) => {
            let mut lease =
                ledger::lease::LeaseClient::new(&db, Duration::from_secs(3600)).unwrap();
            let token = lease.take("bench (pid 1)", None).await.unwrap().unwrap();
            db.set_fence(token);
        }
        _ => {}
    }
    let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let start = run::begin(&db, t0, "bench.toml", 1000, &c.lines)
        .await
        .unwrap();
    if !chained {
        // The schema as before the chain: no trigger adds links.
        let raw = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(&c.daemon.database),
        )
        .await
        .unwrap();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%chained%'",
        )
        .fetch_all(&raw)
        .await
        .unwrap();
        for n in names {
            sqlx::query(&format!("DROP TRIGGER {n}"))
                .execute(&raw)
                .await
                .unwrap();
        }
        raw.close().await;
    }
    let writes = minute(t0 + TimeDelta::seconds(1));
    let n = writes.len();
    let took = write_all(&db, &c, start.run_id, writes).await;
    let links = chain::head(&db, None)
        .await
        .unwrap()
        .map(|h| h.seq)
        .unwrap_or(0);
    db.close().await;
    (took, n, links)
}

async fn year(lines: usize) -> (Duration, Duration, chain::Verification) {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), lines);
    let db = ledger::open(&c.daemon.database).await.unwrap();
    let t0: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let filling = Instant::now();
    let per_day = 300 * lines / 365 + 1;
    for day in 0..365 {
        let d0 = t0 + TimeDelta::days(day);
        let start = run::begin(&db, d0, "bench.toml", 1000, &c.lines)
            .await
            .unwrap();
        let mut writes = Vec::new();
        for k in 0..per_day {
            let line = &c.lines[(day as usize * per_day + k) % lines].id;
            writes.extend(outage(
                line,
                d0 + TimeDelta::minutes(10 + 30 * k as i64),
                300,
            ));
        }
        writes.push(LedgerWrite::Stopped {
            at: d0 + TimeDelta::hours(23),
        });
        write_all(&db, &c, start.run_id, writes).await;
    }
    // Every notice delivered to two channels, as the notifier records it.
    for ch in ["mail", "robot"] {
        let first = outbox::register_channel(&db, ch, t0).await.unwrap();
        for (n, _) in outbox::pending(&db, ch, first).await.unwrap() {
            outbox::record(&db, n.id, ch, 1, Outcome::Sent, "250 ok", n.at)
                .await
                .unwrap();
        }
    }
    db.close().await;
    let filled = filling.elapsed();
    let ro = ledger::open_for_reading(&c.daemon.database).await.unwrap();
    let started = Instant::now();
    let v = chain::verify(&ro, chain::Scope::All, None).await.unwrap();
    (filled, started.elapsed(), v)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let runs = env("LINKLEDGER_BENCH_RUNS", 3);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, n, links) = rt.block_on(writer_minute(true, None));
        println!(
            "writer, one minute at 10,000 targets, chained:     {n} writes in {:6.2} s  ({:7.0} writes/s, {links} links)",
            t.as_secs_f64(),
            n as f64 / t.as_secs_f64()
        );
        with.push(t);
        let (t, n, links) = rt.block_on(writer_minute(false, None));
        println!(
            "writer, one minute at 10,000 targets, not chained: {n} writes in {:6.2} s  ({:7.0} writes/s, {links} links)",
            t.as_secs_f64(),
            n as f64 / t.as_secs_f64()
        );
        without.push(t);
    }
    let (a, b) = (with.iter().min().unwrap(), without.iter().min().unwrap());
    println!(
        "best: chained {:.2} s, not chained {:.2} s: the chain costs {:+.1} % of the writer's throughput",
        a.as_secs_f64(),
        b.as_secs_f64(),
        (1.0 - b.as_secs_f64() / a.as_secs_f64()) * 100.0
    );
    // The same minute on PostgreSQL (a fresh database each run): as a
    // single daemon writes it, with the fence's triggers dropped, and as a
    // pair's leader (its token checked by every statement); alternated.
    let mut on_pg: Vec<(Fence, Duration)> = Vec::new();
    'pg: for i in 0..runs {
        for fence in [Fence::Single, Fence::Dropped, Fence::Leader] {
            let Some(pg) = common::postgres(&format!("writer{i}")) else {
                println!("writer on PostgreSQL: skipped (no server; see benches/common)");
                break 'pg;
            };
            let (t, n, links) = rt.block_on(writer_minute(true, Some((&pg, fence))));
            let what = match fence {
                Fence::Single => "PostgreSQL:",
                Fence::Dropped => "PostgreSQL, no fence:",
                Fence::Leader => "PostgreSQL, pair's leader:",
            };
            println!(
                "writer, one minute at 10,000 targets, {what:<26} {n} writes in {:6.2} s  ({:7.0} writes/s, {links} links)",
                t.as_secs_f64(),
                n as f64 / t.as_secs_f64()
            );
            on_pg.push((fence, t));
        }
    }
    let best = |f: Fence| on_pg.iter().filter(|(g, _)| *g == f).map(|(_, t)| *t).min();
    if let (Some(p), Some(d), Some(l)) = (
        best(Fence::Single),
        best(Fence::Dropped),
        best(Fence::Leader),
    ) {
        println!(
            "best: SQLite {:.2} s, PostgreSQL {:.2} s for the same minute (both chained); PostgreSQL without the fence's triggers {:.2} s ({:+.1} %), as a pair's leader {:.2} s ({:+.1} %)",
            a.as_secs_f64(),
            p.as_secs_f64(),
            d.as_secs_f64(),
            (p.as_secs_f64() / d.as_secs_f64() - 1.0) * 100.0,
            l.as_secs_f64(),
            (l.as_secs_f64() / d.as_secs_f64() - 1.0) * 100.0,
        );
    }
    let lines = env("LINKLEDGER_BENCH_LINES", 10);
    let (filled, took, v) = rt.block_on(year(lines));
    println!(
        "a year for {lines} lines written in {:.1} s: {} links; verify walked them in {:.2} s (intact: {}, {:.0} links/s)",
        filled.as_secs_f64(),
        v.checked,
        took.as_secs_f64(),
        v.intact,
        v.checked as f64 / took.as_secs_f64()
    );
}
