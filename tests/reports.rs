//! Reports from a fixture ledger whose figures were worked out by hand
//! (below, next to each row): availability, downtime split at a quarter
//! boundary and at a contract-year boundary in Asia/Shanghai, a
//! force-majeure exclusion, approved and late-notice maintenance, deadline
//! compliance, RTT and traffic percentiles. Each report is made by the CLI
//! in every format and each format must show the same figures. The PDF is
//! read back with poppler's pdftotext and rendered with pdftoppm.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::postgres::Backend;
use common::BIN;
use serde_json::Value;

/// The demo's two lines, approved maintenance excluded, fees and rules.
const CONFIG: &str = r#"
[daemon]
database = "DB"
listen = "127.0.0.1:9798"
timezone = "Asia/Shanghai"

[contract]
name = "测试出口租用合同"
start = "2024-07-01"
annual_downtime_cap = "4h"
approved_maintenance_counts = false

[[contract.member]]
carrier = "China Telecom"
annual_fee = 1200000

[[contract.member]]
carrier = "China Unicom"
annual_fee = 600000

[[contract.penalty]]
name = "到场超时"
breach = "on_site"
amount = 2000

[[contract.penalty]]
name = "维修报告逾期"
breach = "repair_report"
share = 0.001
cap = 500

[[contract.penalty]]
name = "维护未按约定通知"
breach = "late_maintenance"
amount = 5000

[report]
dir = "REPORTS"

[[line]]
id = "telecom"
carrier = "China Telecom"
role = "lead"
bandwidth_mbps = 1000
local = ["127.0.0.1"]
upstream = ["127.0.2.1"]

[[line]]
id = "unicom"
carrier = "China Unicom"
role = "member"
bandwidth_mbps = 500
local = ["127.0.0.1"]
upstream = ["127.0.3.1"]
"#;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    /// The ledger, on SQLite (at `db`) or PostgreSQL.
    pub ledger: common::postgres::TestLedger,
}

/// The fixture's rows, all times UTC (Shanghai is UTC+8, so a local
/// midnight is 16:00Z the day before). 2025Q1 = [2024-12-31T16:00Z,
/// 2025-03-31T16:00Z), 7 776 000 s; contract year 1 = [2024-06-30T16:00Z,
/// 2025-06-30T16:00Z).
const ROWS: &str = r#"
INSERT INTO runs (id, started_at, heartbeat_at, stopped_at, version, config_path, interval_ms)
  VALUES (1, '2024-12-01T00:00:00.000Z', '2025-12-31T00:00:00.000Z', NULL, 'fixture', 'fixture', 1000);
INSERT INTO line_configs (line, config_json, valid_from, run_id) VALUES
  ('telecom', '{}', '2024-12-01T00:00:00.000Z', 1), ('unicom', '{}', '2024-12-01T00:00:00.000Z', 1);
-- The daemon was away for an hour: unobserved on both lines.
INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES
  (NULL, '2025-01-15T00:00:00.000Z', '2025-01-15T01:00:00.000Z', 'daemon_not_running', 1);
-- A: 30 min across the start of 2025Q1 (local 23:50 → 00:20): 20 min in Q1.
-- B: 45 min, of which 15 min force majeure: 30 min charged.
-- C: 20 min across the end of Q1 (local 23:50 → 00:10): 10 min in Q1.
-- D: 30 min in a maintenance window announced 12 h ahead: charged.
-- E (unicom): 30 min inside approved maintenance: excluded.
-- F: 60 min across the contract-year (and Q2/Q3) boundary: 30 + 30.
INSERT INTO outages (id, line, start_at, start_after, end_at, end_after, cause, interval_ms, run_opened, run_closed) VALUES
  (1, 'telecom', '2024-12-31T15:50:00.000Z', NULL, '2024-12-31T16:20:00.000Z', NULL, 'upstream_unreachable', 1000, 1, 1),
  (2, 'telecom', '2025-02-10T02:00:00.000Z', '2025-02-10T01:59:59.000Z', '2025-02-10T02:45:00.000Z', '2025-02-10T02:44:59.000Z', 'gateway_unreachable', 1000, 1, 1),
  (3, 'telecom', '2025-03-31T15:50:00.000Z', NULL, '2025-03-31T16:10:00.000Z', NULL, 'upstream_unreachable', 1000, 1, 1),
  (4, 'telecom', '2025-03-05T18:00:00.000Z', NULL, '2025-03-05T18:30:00.000Z', NULL, 'gateway_unreachable', 1000, 1, 1),
  (5, 'unicom',  '2025-02-20T18:10:00.000Z', NULL, '2025-02-20T18:40:00.000Z', NULL, 'gateway_unreachable', 1000, 1, 1),
  (6, 'telecom', '2025-06-30T15:30:00.000Z', NULL, '2025-06-30T16:30:00.000Z', NULL, 'upstream_unreachable', 1000, 1, 1);
INSERT INTO exclusions (line, start_at, end_at, reason, evidence, approved_by, approved_at, recorded_by, recorded_at) VALUES
  ('telecom', '2025-02-10T02:30:00.000Z', '2025-02-10T02:45:00.000Z', '市政施工挖断光缆', '区住建局通报 2025-17', '张主任', '2025-02-11T01:00:00.000Z', 'ops', '2025-02-11T01:00:00.000Z');
INSERT INTO maintenance (line, start_at, end_at, notice_at, consented, reference, recorded_by, recorded_at) VALUES
  ('telecom', '2025-03-05T18:00:00.000Z', '2025-03-05T18:30:00.000Z', '2025-03-05T06:00:00.000Z', 1, '电信割接-0305', 'ops', '2025-03-05T06:00:00.000Z'),
  ('unicom',  '2025-02-20T18:00:00.000Z', '2025-02-20T19:00:00.000Z', '2025-02-18T02:00:00.000Z', 1, '联通升级-0220', 'ops', '2025-02-18T02:00:00.000Z');
-- Fault 1 (outage B, serious): response met (02:10 ≤ 02:30:03), on site
-- breached (02:40 > 02:30:03), resolution met (45 min ≤ 120), repair
-- report breached (12:00 > 10:45). MTTR 02:00:03 → 02:45:00 = 2697 s.
-- Fault 2 (outage E, serious): over within 30 min, so response and on
-- site not required; resolution met; no repair report: breached.
INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES
  (1, 'telecom', '2025-02-10T02:00:03.000Z', 'line_down', 'serious', '2025-02-10T02:45:00.000Z', 1),
  (2, 'unicom',  '2025-02-20T18:10:03.000Z', 'line_down', 'serious', '2025-02-20T18:40:00.000Z', 1);
INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES
  (1, 'outage', 2, '2025-02-10T02:00:03.000Z'), (2, 'outage', 5, '2025-02-20T18:10:03.000Z');
INSERT INTO fault_events (fault_id, at, recorded_at, kind, class, deadline, actor, text) VALUES
  (1, '2025-02-10T02:10:00.000Z', '2025-02-10T02:10:30.000Z', 'acknowledged', NULL, NULL, '李工', '电信客服已受理'),
  (1, '2025-02-10T02:40:00.000Z', '2025-02-10T02:41:00.000Z', 'on_site', NULL, NULL, '李工', NULL),
  (1, '2025-02-10T12:00:00.000Z', '2025-02-10T12:05:00.000Z', 'repair_report', NULL, NULL, '李工', '报告 DX-2025-021');
-- Fault 3 (unicom, general): 12 % loss for 20 min; resolved in time,
-- response and on site not required, repair report in time: no breach.
INSERT INTO degradations (id, line, kind, start_at, end_at, detail, run_opened, run_closed) VALUES
  (1, 'unicom', 'loss', '2025-03-12T03:00:00.000Z', '2025-03-12T03:20:00.000Z', '{"loss_ratio":0.12,"window_s":300}', 1, 1);
INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES
  (3, 'unicom', '2025-03-12T03:00:00.000Z', 'degradation', 'general', '2025-03-12T03:20:00.000Z', 1);
INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES (3, 'degradation', 1, '2025-03-12T03:00:00.000Z');
INSERT INTO fault_events (fault_id, at, recorded_at, kind, class, deadline, actor, text) VALUES
  (3, '2025-03-12T06:00:00.000Z', '2025-03-12T06:01:00.000Z', 'repair_report', NULL, NULL, '王工', '报告 LT-0312');
INSERT INTO drills (held_on, scenario, participants, result, recorded_by, recorded_at) VALUES
  ('2025-03-10', '主线路中断切换', '网络组、电信', '切换 42 秒完成', 'ops', '2025-03-10T08:00:00.000Z');
"#;

/// Per-minute probes of telecom's upstream anchor in January 2025: 95
/// minutes with 60 replies in bucket 20 and 5 minutes with 60 in bucket 30
/// (6000 answered); 10 of the first lose 3 probes each: loss 30 / 6030.
/// p50 and p95 fall in bucket 20, p99 in bucket 30.
fn probe_rows() -> String {
    let mut s = String::from("INSERT INTO probe_minutes (line, tier, target, minute, sent, received, rtt_min_us, rtt_max_us, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist) VALUES ");
    let mut rows = Vec::new();
    for i in 0..100 {
        let minute = format!("2025-01-20T{:02}:{:02}:00.000Z", i / 60, i % 60);
        let (bucket, sent) = if i < 95 {
            (20, if i < 10 { 63 } else { 60 })
        } else {
            (30, 60)
        };
        rows.push(format!(
            "('telecom', 'upstream', '127.0.2.1', '{minute}', {sent}, 60, 4000, 50000, {}, 60000, 59, '{bucket}:60')",
            if bucket == 20 { 60 * 4850 } else { 60 * 45000 }
        ));
    }
    // Ten more minutes during a local fault (our firewall cut off): every
    // probe lost, none of it the carrier's; reports leave them out.
    for i in 0..10 {
        rows.push(format!(
            "('telecom', 'upstream', '127.0.2.1', '2025-01-20T02:{i:02}:00.000Z', 60, 0, 0, 0, 0, 0, 0, '')"
        ));
    }
    s += &rows.join(",\n");
    s + ";\nINSERT INTO local_faults (line, start_at, start_after, end_at, end_after, interval_ms, run_opened, run_closed) VALUES \
         ('telecom', '2025-01-20T02:00:00.000Z', NULL, '2025-01-20T02:10:00.000Z', NULL, 1000, 1, 1);\n"
}

/// Twenty 5-minute traffic samples on unicom (contract 500 Mbit/s): in
/// 10, 20 … 200 Mbit/s, out half of that. p95 in (drop the top 5 %, i.e.
/// one sample): 190 Mbit/s, 38.0 % of the contract.
fn traffic_rows() -> String {
    let rows: Vec<String> = (1..=20)
        .map(|i| {
            let at = chrono::DateTime::parse_from_rfc3339("2025-03-02T00:00:00Z").unwrap()
                + chrono::TimeDelta::minutes(5 * i);
            let bps = i as f64 * 10e6;
            format!(
                "('unicom', '{}', 300, {bps}, {}, {}, {}, 0, 0, 0, 0)",
                at.to_utc().format("%Y-%m-%dT%H:%M:%S.000Z"),
                bps / 2.0,
                bps * 1.1,
                bps / 2.0 * 1.1
            )
        })
        .collect();
    format!(
        "INSERT INTO traffic_samples (line, start_at, seconds_covered, avg_in_bps, avg_out_bps, max_in_bps, max_out_bps, in_errors, out_errors, in_discards, out_discards) VALUES {};\n",
        rows.join(",\n")
    )
}

on_both_backends_sync!(
    quarterly_figures_match_the_hand_count_in_every_format,
    an_outage_across_the_contract_year_boundary_is_split_between_the_years,
    the_assessment_deducts_by_the_configured_rules_per_member,
    the_fault_record_has_its_timeline_deadlines_and_evidence,
);

pub fn fixture() -> Fixture {
    fixture_on(Backend::Sqlite).expect("SQLite is always there")
}

/// The fixture's ledger on `backend` (None: no PostgreSQL here, and
/// skipping was asked for).
pub fn fixture_on(backend: Backend) -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let ledger = common::postgres::TestLedger::new(backend, dir.path())?;
    let db = dir.path().join("ledger.db");
    let config = dir.path().join("linkledger.toml");
    std::fs::write(
        &config,
        CONFIG
            .replace("\"DB\"", &format!("{:?}", ledger.database))
            .replace("\"REPORTS\"", &format!("{:?}", dir.path().join("reports"))),
    )
    .unwrap();
    common::write_ledger_to(
        &ledger,
        &format!("{ROWS}{}{}", probe_rows(), traffic_rows()),
    );
    Some(Fixture {
        dir,
        config,
        db,
        ledger,
    })
}

fn report(f: &Fixture, args: &[&str], format: &str) -> Vec<u8> {
    let out_path = f.dir.path().join(format!("out.{format}"));
    let out = common::run(
        Command::new(BIN)
            .arg("report")
            .args(args)
            .arg("-c")
            .arg(&f.config)
            .args(["--format", format, "-o"])
            .arg(&out_path),
    );
    assert!(
        out.status.success(),
        "report {args:?} {format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&out_path).unwrap()
}

fn text_formats(f: &Fixture, args: &[&str]) -> Vec<(&'static str, String)> {
    ["html", "md", "csv"]
        .into_iter()
        .map(|fmt| (fmt, String::from_utf8(report(f, args, fmt)).unwrap()))
        .collect()
}

fn line<'a>(j: &'a Value, id: &str) -> &'a Value {
    j["figures"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["line"] == id)
        .unwrap()
}

fn approx(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - want).abs() < 1e-6, "{got} != {want}");
}

fn pdf_text(pdf: &[u8], dir: &Path) -> String {
    let path = dir.join("check.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = common::run(
        Command::new("pdftotext")
            .args(["-layout", "-enc", "UTF-8"])
            .arg(&path)
            .arg("-"),
    );
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn quarterly_figures_match_the_hand_count_in_every_format(backend: Backend) {
    let Some(f) = fixture_on(backend) else {
        return;
    };
    let args = ["quarterly", "--quarter", "2025Q1"];
    let j: Value = serde_json::from_slice(&report(&f, &args, "json")).unwrap();
    let t = line(&j, "telecom");
    let a = &t["availability"];
    // 20 + 45 + 10 + 30 min down; 15 min force majeure; 3600 s unobserved.
    approx(&a["down_s"], 6300.0);
    approx(&a["excluded_force_majeure_s"], 900.0);
    approx(&a["charged_s"], 5400.0);
    approx(&a["unobserved_s"], 3600.0);
    approx(&a["availability"], 1.0 - 5400.0 / (7_776_000.0 - 3600.0));
    // Year to date (contract year 1): A 30 + B 30 + D 30 + C's 10 in Q1.
    approx(&t["year_to_date"]["charged_s"], 6000.0);
    approx(&t["year_to_date"]["remaining_s"], 14400.0 - 6000.0);
    let outages = t["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 4);
    assert_eq!(outages[0]["split"], true);
    approx(&outages[0]["duration_s"], 1200.0);
    approx(&outages.last().unwrap()["duration_s"], 600.0);
    assert_eq!(outages.last().unwrap()["split"], true);
    // Late notice: the maintenance window does not excuse outage D.
    assert_eq!(t["maintenance"][0]["status"], "late_notice");
    let u = line(&j, "unicom");
    approx(&u["availability"]["excluded_maintenance_s"], 1800.0);
    approx(&u["availability"]["charged_s"], 0.0);
    assert_eq!(u["maintenance"][0]["status"], "approved");
    approx(&u["traffic"]["in"]["p95_bps"], 190e6);
    // The report sums traffic inside SQLite; `linkledger traffic` sums the
    // samples in Rust: the two agree.
    let cli = common::run(
        Command::new(BIN)
            .args([
                "traffic",
                "--json",
                "--line",
                "unicom",
                "--from",
                "2025-01-01",
                "--to",
                "2025-04-01",
                "-c",
            ])
            .arg(&f.config),
    );
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        cli[0], u["traffic"],
        "report and `linkledger traffic` disagree"
    );
    // Deadlines of fault 1: response met, on site breached, resolution met,
    // repair report breached.
    let states: Vec<&str> = t["faults"][0]["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["met", "breached", "met", "breached"]);
    approx(&t["fault_classes"][0]["mttr_s"], 2697.0);
    let jan = &t["quality_by_month"][0];
    assert_eq!(jan[0], "2025-01");
    // The ten minutes of the local fault (600 probes lost) are left out.
    approx(&jan[1]["loss_ratio"], 30.0 / 6030.0);
    assert_eq!(jan[1]["excluded_minutes"], 10, "{jan}");
    let mid = |b: i32| 0.05 * 1.25f64.powf(b as f64 + 0.5);
    approx(&jan[1]["rtt_p95_ms"], mid(20));
    approx(&jan[1]["rtt_p99_ms"], mid(30));
    approx(&j["figures"]["egress"]["availability"]["charged_s"], 0.0);

    // The same figures, as a reader sees them, in every other format.
    let p95 = format!("{:.1}", mid(20));
    let p99 = format!("{:.1}", mid(30));
    for (fmt, text) in text_formats(&f, &args) {
        for want in [
            "99.9305%",                   // availability of telecom
            "1小时30分0秒",               // charged in Q1 (5400 s)
            "1小时40分0秒 / 4小时0分0秒", // year to date against the cap
            "2小时20分0秒",               // budget left
            "20分0秒",                    // outage A's part in Q1
            "10分0秒",                    // outage C's part in Q1
            "15分0秒",                    // force majeure
            "44分57秒",                   // MTTR
            "0.498%",                     // January loss
            &p95,
            &p99,
            "190.0", // unicom's inbound p95, Mbit/s
            "38.0%", // of the contract
            "通知过晚，计为中断",
            "已批准，不计中断",
            "张主任",
            "0/1", // on site: met/breached in the class table
            "1/0", // response: met/breached
            "合同年第 1 年",
            "本端故障（我方原因）", // the local fault's part, its 10 minutes
            "10分0秒",
            "报告编号",
            "编制",
            "审核",
        ] {
            if fmt == "csv" && want.starts_with("合同年第") {
                continue; // notes are not figures; the CSV carries tables and figures only
            }
            assert!(text.contains(want), "{fmt} lacks {want:?}");
        }
    }

    // The CSV: every duration and percentage column has a numeric twin a
    // spreadsheet can add up (seconds, ratios).
    let csv = String::from_utf8(report(&f, &args, "csv")).unwrap();
    assert!(csv.contains("（秒）") && csv.contains("（比率）"), "{csv}");
    assert!(
        csv.lines().any(|l| l.contains("1小时30分0秒,5400")),
        "charged 5400 s as a number: {csv}"
    );

    // The PDF: Chinese headings and the same figures, extractable.
    let pdf = report(&f, &args, "pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    if common::have_tool("pdftotext", "poppler-utils") {
        let text = pdf_text(&pdf, f.dir.path());
        for want in [
            "线路运行质量分析报告",
            "总体情况",
            "中断记录",
            "故障与处理时限",
            "线路质量（按月）",
            "优化建议",
            "99.9305%",
            "1小时30分0秒",
            "44分57秒",
            "张主任",
            "报告编号",
            "第 1 页 / 共",
            "编制",
            "本端故障（我方原因）",
        ] {
            assert!(
                text.contains(want),
                "the PDF's text lacks {want:?}:\n{text}"
            );
        }
        // Every page says which of how many it is.
        let pages = text.matches("页 / 共").count();
        assert!(pages >= 2, "{pages} page footers");
        assert!(!text.contains("-0.00"), "a minus zero in the PDF");
        let path = f.dir.path().join("check.pdf");
        let out = common::run(
            Command::new("pdftoppm")
                .args(["-r", "40", "-f", "1", "-l", "2", "-gray"])
                .arg(&path)
                .arg(f.dir.path().join("page")),
        );
        assert!(out.status.success());
        // The README's picture of the first page is taken this way.
        let _ = common::run(
            Command::new("pdftoppm")
                .args(["-r", "70", "-f", "1", "-l", "1", "-png", "-singlefile"])
                .arg(&path)
                .arg(common::repo().join("target/report-quarterly")),
        );
        for page in ["page-1.pgm", "page-2.pgm"] {
            let img = std::fs::read(f.dir.path().join(page)).unwrap();
            // A binary PGM: a header of three lines, then one byte per pixel.
            let mut newlines = 0;
            let start = img
                .iter()
                .position(|b| {
                    newlines += (*b == b'\n') as usize;
                    newlines == 3
                })
                .unwrap()
                + 1;
            let pixels = &img[start..];
            let dark = pixels.iter().filter(|p| **p < 128).count();
            assert!(
                dark * 200 > pixels.len(),
                "{page} is nearly blank: {dark} dark of {}",
                pixels.len()
            );
        }
    }
}

fn an_outage_across_the_contract_year_boundary_is_split_between_the_years(backend: Backend) {
    let Some(f) = fixture_on(backend) else {
        return;
    };
    let q2: Value = serde_json::from_slice(&report(
        &f,
        &["quarterly", "--quarter", "2025Q2", "--line", "telecom"],
        "json",
    ))
    .unwrap();
    let q3: Value = serde_json::from_slice(&report(
        &f,
        &["quarterly", "--quarter", "2025Q3", "--line", "telecom"],
        "json",
    ))
    .unwrap();
    // Q2: C's last 10 min and F's first 30; year 1 to date: all of A, B, C,
    // D and F's first half: 30 + 30 + 20 + 30 + 30 min.
    approx(
        &line(&q2, "telecom")["availability"]["charged_s"],
        600.0 + 1800.0,
    );
    approx(&line(&q2, "telecom")["year_to_date"]["charged_s"], 8400.0);
    assert_eq!(q2["figures"]["contract_year"], 1);
    // Q3 opens contract year 2 with F's second half only.
    approx(&line(&q3, "telecom")["availability"]["charged_s"], 1800.0);
    approx(&line(&q3, "telecom")["year_to_date"]["charged_s"], 1800.0);
    assert_eq!(q3["figures"]["contract_year"], 2);
    assert!(
        q3["figures"]["egress"].is_null(),
        "a one-line report has no egress section"
    );
    // The annual report of contract year 1 counts the same 8400 s.
    let y: Value =
        serde_json::from_slice(&report(&f, &["annual", "--contract-year", "1"], "json")).unwrap();
    approx(&line(&y, "telecom")["availability"]["charged_s"], 8400.0);
    let drills = y["acceptance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clause"] == "第二条 19")
        .unwrap();
    assert_eq!(drills["met"], false, "one drill of the two required");
    let cap = y["acceptance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clause"] == "第二条 23")
        .unwrap();
    assert_eq!(cap["met"], true);
    let html = String::from_utf8(report(&f, &["annual", "--contract-year", "1"], "html")).unwrap();
    assert!(
        html.contains("年度验收") && html.contains("不符合") && html.contains("主线路中断切换")
    );
}

fn the_assessment_deducts_by_the_configured_rules_per_member(backend: Backend) {
    let Some(f) = fixture_on(backend) else {
        return;
    };
    let args = ["assessment", "--half", "2025H1"];
    let j: Value = serde_json::from_slice(&report(&f, &args, "json")).unwrap();
    let members = j["assessment"]["members"].as_array().unwrap();
    let of = |c: &str| members.iter().find(|m| m["carrier"] == c).unwrap();
    // Telecom: on site 2000 + repair report min(0.1 % of 600 000, 500) +
    // late maintenance 5000 = 7500 of 600 000.
    approx(&of("China Telecom")["deducted"], 7500.0);
    approx(&of("China Telecom")["payable"], 592_500.0);
    // Unicom: repair report min(0.1 % of 300 000, 500) = 300.
    approx(&of("China Unicom")["deducted"], 300.0);
    approx(&of("China Unicom")["payable"], 299_700.0);
    for (fmt, text) in text_formats(&f, &args) {
        for want in [
            "592500.00",
            "299700.00",
            "7500.00",
            "到场超时",
            "维修报告逾期",
            "维护未按约定通知",
        ] {
            assert!(text.contains(want), "{fmt} lacks {want:?}");
        }
    }
}

#[test]
fn without_penalty_rules_the_assessment_deducts_nothing_and_says_why() {
    let f = fixture();
    let text = std::fs::read_to_string(&f.config).unwrap();
    let cut = text.find("[[contract.penalty]]").unwrap();
    let end = text.find("[report]").unwrap();
    std::fs::write(&f.config, format!("{}{}", &text[..cut], &text[end..])).unwrap();
    let html = String::from_utf8(report(
        &f,
        &["assessment", "--half", "2025H1", "--lang", "en"],
        "html",
    ))
    .unwrap();
    assert!(html.contains("No deduction rules are configured"), "{html}");
    assert!(html.contains("600000.00"), "the fee is payable in full");
}

fn the_fault_record_has_its_timeline_deadlines_and_evidence(backend: Backend) {
    let Some(f) = fixture_on(backend) else {
        return;
    };
    let j: Value = serde_json::from_slice(&report(&f, &["fault", "1"], "json")).unwrap();
    assert_eq!(
        j["fault"]["outages"][0]["causes"][0][1],
        "gateway_unreachable"
    );
    let html = String::from_utf8(report(&f, &["fault", "1"], "html")).unwrap();
    for want in [
        "链路故障维修记录 #1",
        "运营商响应",
        "电信客服已受理",
        "到场",
        "收到维修报告",
        "超时",
        "运营商网关不可达",
        "市政施工挖断光缆",
    ] {
        assert!(html.contains(want), "lacks {want:?}");
    }
    // One language: none of the ledger's codes in the Chinese record.
    for code in [
        "gateway_unreachable",
        "upstream_unreachable",
        "deadline passed",
        "on_site",
        "repair_report",
    ] {
        assert!(
            !html.contains(code),
            "the Chinese fault record shows {code:?}"
        );
    }
    let g: Value = serde_json::from_slice(&report(&f, &["fault", "3"], "json")).unwrap();
    assert_eq!(g["fault"]["degradations"][0]["kind"], "loss");
    approx(&g["fault"]["degradations"][0]["detail"]["loss_ratio"], 0.12);
    let states: Vec<&str> = g["fault"]["fault"]["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["not_required", "not_required", "met", "met"]);
    let html = String::from_utf8(report(&f, &["fault", "3"], "html")).unwrap();
    for want in ["质量劣化", "丢包", "该故障不涉及中断。", "报告 LT-0312"] {
        assert!(html.contains(want), "fault 3 lacks {want:?}");
    }
    let out = Command::new(BIN)
        .args(["report", "fault", "99", "-c"])
        .arg(&f.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no fault #99"));
}

#[test]
fn html_parses_cleanly_and_refers_to_nothing_outside() {
    let f = fixture();
    for args in [
        &["quarterly", "--quarter", "2025Q1"][..],
        &["annual", "--contract-year", "1"],
        &["fault", "1"],
        &["assessment", "--half", "2025H1"],
    ] {
        for lang in ["zh-CN", "en"] {
            let mut a = args.to_vec();
            a.extend(["--lang", lang]);
            let html = String::from_utf8(report(&f, &a, "html")).unwrap();
            let doc = scraper::Html::parse_document(&html);
            assert!(doc.errors.is_empty(), "{args:?} {lang}: {:?}", doc.errors);
            if lang == "zh-CN" {
                // One language: no identifier of the ledger's in the text a
                // reader sees (snake_case codes, config keys in brackets).
                let text: String = doc.root_element().text().collect::<Vec<_>>().join(" ");
                let codes: Vec<&str> = text
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '['))
                    .filter(|w| {
                        w.starts_with("[[")
                            || (w.contains('_') && w.chars().any(|c| c.is_ascii_lowercase()))
                    })
                    .collect();
                assert!(
                    codes.is_empty(),
                    "{args:?}: identifiers in Chinese: {codes:?}"
                );
            }
            for bad in [
                "src=", "href=", "url(", "@import", "<script", "<link", "<img",
            ] {
                assert!(!html.contains(bad), "{args:?} {lang} refers outside: {bad}");
            }
            assert!(
                html.contains("<svg") || args[0] != "quarterly",
                "the quarterly report has its charts"
            );
        }
    }
}

#[test]
fn bad_report_requests_say_what_is_wrong() {
    let f = fixture();
    for (args, want) in [
        (
            &["quarterly", "--quarter", "2025Q5"][..],
            "write a quarter as YYYYQn",
        ),
        (
            &["assessment", "--half", "2025-1"],
            "write a half-year as YYYYHn",
        ),
        (
            &["quarterly", "--quarter", "2025Q1", "--line", "mobile"],
            "no such line",
        ),
        (
            &["quarterly", "--quarter", "2025Q1", "--lang", "fr"],
            "use zh-CN or en",
        ),
        (
            &["quarterly", "--quarter", "2025Q1", "--format", "docx"],
            "use html, pdf, md, csv or json",
        ),
        (
            &["annual", "--contract-year", "2025"],
            "the contract year that starts in 2025 is year 2 (2025-07-01 to 2026-06-30): write 2",
        ),
        (
            &["quarterly", "--quarter", "2099Q1"],
            "2099Q1 has not begun yet",
        ),
    ] {
        let out = Command::new(BIN)
            .arg("report")
            .args(args)
            .arg("-c")
            .arg(&f.config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// The daemon's report schedule, driven with a synthetic clock: at the end
/// of 2024Q4 the quarterly report and the 2024H2 assessment are written;
/// at the end of 2025Q1 the quarterly one; never twice, also not after a
/// restart; and the real notifier mails the PDF to an SMTP server.
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_reports_are_written_once_and_mailed_with_the_pdf() {
    use linkledger_report::schedule::tick;
    let f = tokio::task::block_in_place(fixture);
    let sink = common::receivers::SmtpSink::start("none", None, None);
    let mut text = std::fs::read_to_string(&f.config).unwrap();
    text += &format!(
        "\n[[notify]]\nname = \"contract-manager\"\nkind = \"email\"\nevents = [\"report_ready\"]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\nfrom = \"linkledger <reports@noc.example.gov.cn>\"\nto = [\"contracts@example.gov.cn\"]\n",
        sink.port
    );
    std::fs::write(&f.config, &text).unwrap();
    let c = linkledger_config::Config::load(&f.config).unwrap();
    let before: Value =
        serde_json::from_slice(&report(&f, &["quarterly", "--quarter", "2025Q1"], "json")).unwrap();

    let pool = linkledger_ledger::open(&f.db).await.unwrap();
    linkledger_notify::sender::register(&pool, &c.channels, at("2024-12-31T16:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        tick(&pool, &c, at("2024-12-31T16:01:00Z")).await.unwrap(),
        Vec::<String>::new(),
        "not before the quarter has settled"
    );
    assert_eq!(
        tick(&pool, &c, at("2024-12-31T16:02:00Z")).await.unwrap(),
        ["report:quarterly:2024Q4", "report:assessment:2024H2"]
    );
    assert!(tick(&pool, &c, at("2025-02-01T00:00:00Z"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        tick(&pool, &c, at("2025-03-31T16:05:00Z")).await.unwrap(),
        ["report:quarterly:2025Q1"]
    );
    assert!(
        tick(&pool, &c, at("2025-03-31T16:06:00Z"))
            .await
            .unwrap()
            .is_empty(),
        "written once"
    );
    pool.close().await;
    // A restart: a new pool on the same ledger, later the same day.
    let pool = linkledger_ledger::open(&f.db).await.unwrap();
    assert!(
        tick(&pool, &c, at("2025-03-31T20:00:00Z"))
            .await
            .unwrap()
            .is_empty(),
        "not again after a restart"
    );
    let reports = f.dir.path().join("reports");
    let pdf = std::fs::read(reports.join("quarterly-2025Q1.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        reports.join("quarterly-2025Q1.html").exists()
            && reports.join("assessment-2024H2.pdf").exists()
    );
    assert_eq!(
        common::sql(
            &f.db,
            "SELECT count(*) FROM notices WHERE kind = 'report_ready'"
        ),
        "3"
    );

    // Rolling the days up (probes and traffic) changed no figure.
    let days: i64 = common::sql(
        &f.db,
        "SELECT count(*) FROM quality_days_observed WHERE line = 'telecom'",
    )
    .parse()
    .unwrap();
    assert!(days >= 1, "the January day with probes was rolled up");
    let packed = common::sql(
        &f.db,
        "SELECT day_start, samples FROM traffic_days WHERE line = 'unicom' AND samples > 0",
    );
    assert_eq!(
        packed, "2025-03-01T16:00:00.000Z|20",
        "the day with traffic was packed"
    );
    let after: Value =
        serde_json::from_slice(&report(&f, &["quarterly", "--quarter", "2025Q1"], "json")).unwrap();
    assert_eq!(before["figures"], after["figures"]);

    // The notifier hands each to the contract manager's mailbox, PDF attached.
    let cell = linkledger_config::LiveConfig::new(c.clone());
    let cancel = tokio_util::sync::CancellationToken::new();
    let sender = tokio::spawn(linkledger_notify::sender::run(
        pool.clone(),
        cell,
        linkledger_ledger::clock::RunClock::start(),
        linkledger_daemon::metrics::Metrics::new().notify.clone(),
        cancel.clone(),
    ));
    let sink_ref = &sink;
    let messages = tokio::task::block_in_place(|| {
        sink_ref.wait_messages(3, std::time::Duration::from_secs(30))
    });
    cancel.cancel();
    let _ = sender.await;
    let q1 = messages
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("2025年第一季度"))
        .expect("the Q1 report's email");
    assert!(
        q1["subject"].as_str().unwrap().contains("报告已生成"),
        "{}",
        q1["subject"]
    );
    let att = &q1["attachments"][0];
    assert_eq!(att["filename"], "quarterly-2025Q1.pdf");
    assert_eq!(att["content_type"], "application/pdf");
    use sha2::Digest;
    assert_eq!(att["sha256"], hex::encode(sha2::Sha256::digest(&pdf)));
    assert_eq!(messages.len(), 3, "each report mailed once");
}
