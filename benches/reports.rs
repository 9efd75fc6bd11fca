//! Benchmark of reports: a ledger with a year of realistic data for 10
//! lines (per-minute probe rollups of two upstream anchors and the gateway,
//! 5-minute traffic samples with a daily cycle, a few hundred outages and
//! faults with their timelines, exclusions and maintenance), then each
//! report timed as the CLI makes it: figures from the ledger, then the
//! rendering. Prints the fill time, the one-off roll-up of the year into
//! `quality_days` and `traffic_days` (what the daemon does as each day
//! ends), and per report
//! the best and median of several runs.
//!
//!     cargo bench --bench reports
//!     LINKLEDGER_BENCH_LINES=3 LINKLEDGER_BENCH_RUNS=3 cargo bench --bench reports
//!
//! Then the same ledger on PostgreSQL (copied with `migrate`, timed; see
//! `benches/common` for the server) and the same reports from it.
//!
//! Targets (issue 6): every quarterly report for 10 lines as HTML under
//! 0.5 s, as PDF under 2 s. PDF needs fonts-noto-cjk.
#![allow(clippy::disallowed_types)] // wall-clock measurement

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use linkledger_config::report::ReportFormat;
use linkledger_config::{Config, Language};
use linkledger_report::period::Period;
use linkledger_report::{build, pdf::PdfFont, ReportKind};

use common::{config_text, env};

/// The year 2025 (UTC minutes), generated inside SQLite.
fn fill_sql(lines: usize) -> String {
    let mut s = String::from(
        "INSERT INTO runs (id, started_at, heartbeat_at, version, config_path, interval_ms) VALUES (1, '2024-12-31T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'bench', 'bench', 1000);\n",
    );
    for i in 0..lines {
        let l = format!("l{i}");
        s += &format!("INSERT INTO line_configs (line, config_json, valid_from, run_id) VALUES ('{l}', '{{}}', '2024-12-31T00:00:00.000Z', 1);\n");
        for (tier, target, base) in [
            ("upstream", "a", 18),
            ("upstream", "b", 20),
            ("gateway", "g", 8),
        ] {
            s += &format!(
                "WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 525599) \
                 INSERT INTO probe_minutes (line, tier, target, minute, sent, received, rtt_min_us, rtt_max_us, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist) \
                 SELECT '{l}', '{tier}', '{target}', strftime('%Y-%m-%dT%H:%M:00.000Z', '2025-01-01', '+' || i || ' minutes'), 60, \
                 60 - (abs(random()) % 200 = 0) * 3, 1000, 90000, 60 * 3000, 60 * 400, 59, \
                 ({base} + abs(random()) % 3) || ':50,' || ({base} + 3 + abs(random()) % 3) || ':7,' || ({base} + 9) || ':' || (abs(random()) % 3) FROM m;\n"
            );
        }
        s += &format!(
            "WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 105119) \
             INSERT INTO traffic_samples (line, start_at, seconds_covered, avg_in_bps, avg_out_bps, max_in_bps, max_out_bps, in_errors, out_errors, in_discards, out_discards) \
             SELECT '{l}', strftime('%Y-%m-%dT%H:%M:00.000Z', '2025-01-01', '+' || (i * 5) || ' minutes'), 300, \
             4e8 + 3e8 * ((i % 288) > 100 AND (i % 288) < 250) + abs(random()) % 50000000, 1e8 + abs(random()) % 20000000, \
             6e8 + abs(random()) % 100000000, 1.5e8, 0, 0, 0, 0 FROM m;\n"
        );
        // 30 outages a line: every 12 days, 1 to 20 minutes, each with a fault.
        for k in 0..30 {
            let id = i * 100 + k + 1;
            let minutes = 1 + (k * 7 + i) % 20;
            s += &format!(
                "INSERT INTO outages (id, line, start_at, end_at, cause, interval_ms, run_opened, run_closed) VALUES ({id}, '{l}', \
                 strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-03', '+{} minutes'), strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-03', '+{} minutes'), 'upstream_unreachable', 1000, 1, 1);\n\
                 INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES ({id}, '{l}', \
                 strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-03', '+{} minutes', '+3 seconds'), 'line_down', 'serious', strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-03', '+{} minutes'), 1);\n\
                 INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES ({id}, 'outage', {id}, '2025-01-03T00:00:00.000Z');\n\
                 INSERT INTO fault_events (fault_id, at, recorded_at, kind, actor, text) VALUES ({id}, strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-03', '+{} minutes'), '2025-12-31T00:00:00.000Z', 'acknowledged', 'ops', '已受理');\n",
                k * 12 * 1440 + i * 37,
                k * 12 * 1440 + i * 37 + minutes,
                k * 12 * 1440 + i * 37,
                k * 12 * 1440 + i * 37 + minutes,
                k * 12 * 1440 + i * 37 + 5,
            );
        }
        s += &format!(
            "INSERT INTO maintenance (line, start_at, end_at, notice_at, consented, reference, recorded_by, recorded_at) VALUES \
             ('{l}', '2025-05-10T18:00:00.000Z', '2025-05-10T19:00:00.000Z', '2025-05-08T00:00:00.000Z', 1, 'M-{i}', 'ops', '2025-05-08T00:00:00.000Z');\n"
        );
    }
    s += "INSERT INTO exclusions (line, start_at, end_at, reason, evidence, approved_by, approved_at, recorded_by, recorded_at) VALUES \
          (NULL, '2025-07-15T00:00:00.000Z', '2025-07-15T06:00:00.000Z', '台风', '气象局红色预警', '张主任', '2025-07-16T00:00:00.000Z', 'ops', '2025-07-16T00:00:00.000Z');\n";
    s
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "best {:>7.3} s   median {:>7.3} s",
        v[0].as_secs_f64(),
        v[v.len() / 2].as_secs_f64()
    )
}

fn main() {
    let lines = env("LINKLEDGER_BENCH_LINES", 10);
    let runs = env("LINKLEDGER_BENCH_RUNS", 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("linkledger.toml");
    std::fs::write(&path, config_text(dir.path(), lines)).unwrap();
    let c = Config::load(&path).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = linkledger_ledger::open(&c.daemon.database).await.unwrap();
        let t = Instant::now();
        // A year of rows made in SQL, past the ledger crate (the daemon
        // would take a year to write them).
        let raw = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(&c.daemon.database),
        )
        .await
        .unwrap();
        sqlx::raw_sql(&fill_sql(lines)).execute(&raw).await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM probe_minutes").fetch_one(&raw).await.unwrap();
        raw.close().await;
        println!("filled a year for {lines} lines: {rows} probe minutes, {} traffic samples, {} outages and faults in {:.1} s", lines * 105_120, lines * 30, t.elapsed().as_secs_f64());
        let now: DateTime<Utc> = "2026-01-10T00:00:00Z".parse().unwrap();
        let ids: Vec<String> = c.lines.iter().map(|l| l.id.clone()).collect();
        let t = Instant::now();
        let days = linkledger_ledger::day_rollups::roll_up_quality(&pool, &ids, c.daemon.timezone, now).await.unwrap();
        let traffic = linkledger_ledger::day_rollups::roll_up_traffic(&pool, &ids, c.daemon.timezone, now).await.unwrap();
        println!(
            "rolled up {days} line-days of probes and {traffic} of traffic in {:.1} s (the daemon does one day at a time)",
            t.elapsed().as_secs_f64()
        );
        // Reports read the ledger the way the CLI does: read-only.
        let reading = linkledger_ledger::open_for_reading(&c.daemon.database).await.unwrap();
        reports(&reading, &c, lines, runs, now, "SQLite").await;
        let Some(pg) = common::postgres("reports") else {
            println!("PostgreSQL: skipped (no server; see benches/common)");
            return;
        };
        let target = linkledger_ledger::open_postgres(&pg.url, None).await.unwrap();
        // The fill's chained records, sealed as the daemon's next start would.
        linkledger_ledger::chain::seal_pending(&pool).await.unwrap();
        let t = Instant::now();
        let copied = linkledger_ledger::migrate::copy(&pool, &target).await.unwrap();
        let rows: i64 = copied.tables.iter().map(|(_, n)| n).sum();
        println!(
            "migrate copied {rows} rows to PostgreSQL and verified the copy in {:.1} s ({:.0} rows/s)",
            t.elapsed().as_secs_f64(),
            rows as f64 / t.elapsed().as_secs_f64()
        );
        reports(&target, &c, lines, runs, now, "PostgreSQL").await;
    });
}

async fn reports(
    pool: &linkledger_ledger::Ledger,
    c: &Config,
    lines: usize,
    runs: usize,
    now: DateTime<Utc>,
    on: &str,
) {
    {
        let font = PdfFont::load(None).ok();
        let tz = c.daemon.timezone;
        let kinds = [
            (
                "quarterly 2025Q3",
                ReportKind::Quarterly(Period::quarter("2025Q3", tz).unwrap()),
            ),
            (
                "assessment 2025H2",
                ReportKind::Assessment(Period::half("2025H2", tz).unwrap()),
            ),
            (
                "annual 2025",
                ReportKind::Annual(Period::contract_year(1, c.contract.start, tz).unwrap()),
            ),
            ("fault record", ReportKind::Fault(15)),
        ];
        println!("{on}, {lines} lines, {runs} runs each:");
        for (name, kind) in kinds {
            for format in [ReportFormat::Html, ReportFormat::Pdf] {
                if format == ReportFormat::Pdf && font.is_none() {
                    println!(
                        "  {name:<18} pdf   skipped: no CJK font (apt-get install fonts-noto-cjk)"
                    );
                    continue;
                }
                let mut times = Vec::new();
                let mut size = 0;
                for _ in 0..runs {
                    let t = Instant::now();
                    let r = build(pool, c, kind.clone(), None, Language::ZhCn, now)
                        .await
                        .unwrap();
                    size = r.render(format, font.as_ref()).unwrap().len();
                    times.push(t.elapsed());
                }
                println!(
                    "  {name:<18} {:<5} {}   {:>8} bytes",
                    format.as_str(),
                    stats(times),
                    size
                );
            }
        }
    }
}
