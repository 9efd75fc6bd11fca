//! One ledger, every place a figure is shown: the quarterly, annual,
//! assessment and fault reports, `budget`, `outages`, the status page and
//! /metrics of a running daemon must agree on each figure they share.
//! The ledger holds this contract year's outages (one partly force
//! majeure), their faults, a fault report and a breached deadline; the
//! same on SQLite and on PostgreSQL.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::postgres::{Backend, TestLedger};
use common::{metric_value, BIN};
use serde_json::Value;

fn http_get(port: u16, path: &str) -> String {
    common::http(port, "GET", path, None, b"").1
}

fn json(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_output_shows_the_same_figures_on_sqlite() {
    every_output_shows_the_same_figures(Backend::Sqlite);
}

#[test]
fn every_output_shows_the_same_figures_on_postgres() {
    every_output_shows_the_same_figures(Backend::Postgres);
}

fn every_output_shows_the_same_figures(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let db = &l.database;
    let port = common::free_port();
    // The contract year runs from 2026-07-01 (Shanghai), so today is in it.
    let text = std::fs::read_to_string(common::repo().join("config/demo.toml"))
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {db:?}"),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"))
        .replace("start = \"2024-07-01\"", "start = \"2026-07-01\"");
    let config = dir.path().join("linkledger.toml");
    std::fs::write(&config, text).unwrap();
    // Outage 1 (telecom): 60 min, its last 15 min force majeure: 45 min
    // charged. Outage 2 (telecom): 30 min. Outage 3 (unicom): 20 min.
    // Fault 1 was reported by phone 10 min after detection and never
    // acknowledged: response breached at 02:40.
    let now = linkledger_ledger::clock::wall_now();
    let ago = |m: i64| (now - chrono::TimeDelta::minutes(m)).format("%Y-%m-%dT%H:%M:00.000Z");
    let hb = (now - chrono::TimeDelta::seconds(2)).format("%Y-%m-%dT%H:%M:%S.000Z");
    // Outage 4 (telecom), two days ago: 10 min, the last 5 force majeure.
    let (o4, o4_fm, o4_end) = (ago(2 * 1440 + 10), ago(2 * 1440 + 5), ago(2 * 1440));
    let rows = format!(
        "INSERT INTO runs (id, started_at, heartbeat_at, stopped_at, version, config_path, interval_ms) \
         VALUES (1, '2026-06-01T00:00:00.000Z', '{hb}', '{hb}', 'fixture', 'fixture', 1000);\n\
         INSERT INTO line_configs (line, config_json, valid_from, run_id) VALUES \
         ('telecom', '{{}}', '2026-06-01T00:00:00.000Z', 1), ('unicom', '{{}}', '2026-06-01T00:00:00.000Z', 1);\n\
         INSERT INTO outages (id, line, start_at, end_at, cause, interval_ms, run_opened, run_closed) VALUES \
         (1, 'telecom', '2026-08-10T02:00:00.000Z', '2026-08-10T03:00:00.000Z', 'upstream_unreachable', 1000, 1, 1), \
         (2, 'telecom', '2026-10-05T01:00:00.000Z', '2026-10-05T01:30:00.000Z', 'gateway_unreachable', 1000, 1, 1), \
         (3, 'unicom', '2026-09-01T00:00:00.000Z', '2026-09-01T00:20:00.000Z', 'upstream_unreachable', 1000, 1, 1), \
         (4, 'telecom', '{o4}', '{o4_end}', 'upstream_unreachable', 1000, 1, 1);\n\
         INSERT INTO exclusions (line, start_at, end_at, reason, evidence, approved_by, approved_at, recorded_by, recorded_at) VALUES \
         ('telecom', '2026-08-10T02:45:00.000Z', '2026-08-10T03:00:00.000Z', '台风', '气象局预警', '张主任', '2026-08-11T00:00:00.000Z', 'ops', '2026-08-11T00:00:00.000Z'), \
         ('telecom', '{o4_fm}', '{o4_end}', '市政施工', '通报', '张主任', '{o4_end}', 'ops', '{o4_end}');\n\
         INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
         (1, 'telecom', '2026-08-10T02:00:00.000Z', 'line_down', 'general', '2026-08-10T03:00:00.000Z', 1), \
         (2, 'unicom', '2026-09-01T00:00:00.000Z', 'line_down', 'general', '2026-09-01T00:20:00.000Z', 1);\n\
         INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES \
         (1, 'outage', 1, '2026-08-10T02:00:00.000Z'), (2, 'outage', 3, '2026-09-01T00:00:00.000Z');\n\
         INSERT INTO fault_events (fault_id, at, recorded_at, kind, actor, text) VALUES \
         (1, '2026-08-10T02:10:00.000Z', '2026-08-10T02:10:00.000Z', 'reported', '值班员', 'phone');\n"
    );
    common::write_ledger_to(&l, &rows);
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("-c")
            .arg(&config)
            .output()
            .unwrap()
    };
    let report = |args: &[&str]| common::report_json(&config, dir.path(), args);

    // The hand count.
    let (telecom, unicom, fm) = (4800.0, 1200.0, 1200.0);
    let budget = json(cli(&["budget", "--json"]));
    let line = |j: &Value, id: &str| -> Value {
        j.as_array()
            .unwrap()
            .iter()
            .find(|l| l["line"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(line(&budget["lines"], "telecom")["charged_s"], telecom);
    assert_eq!(line(&budget["lines"], "unicom")["charged_s"], unicom);
    assert_eq!(
        line(&budget["lines"], "telecom")["excluded_force_majeure_s"],
        fm
    );

    // outages --json: each outage's charged and excluded time.
    let outages = json(cli(&["outages", "--json"]));
    let charged: Vec<f64> = outages
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["charged_s"].as_f64().unwrap())
        .collect();
    let excluded: Vec<f64> = outages
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["excluded_s"].as_f64().unwrap())
        .collect();
    assert_eq!(charged, [2700.0, 1200.0, 1800.0, 300.0], "in start order");
    assert_eq!(excluded, [900.0, 0.0, 0.0, 300.0]);

    // Reports: the quarter's outages, the year to date, the annual report.
    let q3 = report(&["quarterly", "--quarter", "2026Q3"]);
    let lines = &q3["figures"]["lines"];
    let q3_rows: Vec<f64> = line(lines, "telecom")["outages"]
        .as_array()
        .unwrap()
        .iter()
        .chain(line(lines, "unicom")["outages"].as_array().unwrap())
        .map(|o| o["charged_s"].as_f64().unwrap())
        .collect();
    assert_eq!(
        q3_rows,
        [2700.0, 1200.0],
        "the same outages, the same charge"
    );
    assert_eq!(
        line(lines, "telecom")["availability"]["excluded_force_majeure_s"],
        900.0,
        "the quarter's part of the force majeure"
    );
    let q4 = report(&["quarterly", "--quarter", "2026Q4"]);
    let annual = report(&["annual", "--contract-year", "1"]);
    let half = report(&["assessment", "--half", "2026H2"]);
    for (name, j) in [("2026Q4", &q4), ("annual", &annual), ("2026H2", &half)] {
        let l = &j["figures"]["lines"];
        assert_eq!(
            line(l, "telecom")["year_to_date"]["charged_s"],
            telecom,
            "{name}"
        );
        assert_eq!(
            line(l, "unicom")["year_to_date"]["charged_s"],
            unicom,
            "{name}"
        );
    }
    assert_eq!(
        line(&annual["figures"]["lines"], "telecom")["availability"]["charged_s"],
        telecom
    );
    assert_eq!(
        line(&half["figures"]["lines"], "telecom")["availability"]["charged_s"],
        telecom
    );

    // Deadlines: fault show, the fault record and the assessment.
    let shown = json(cli(&["fault", "show", "1", "--json"]));
    let record = report(&["fault", "1"]);
    assert_eq!(shown["deadlines"], record["fault"]["fault"]["deadlines"]);
    assert_eq!(shown["deadlines"][0]["runs_from"], "reported");
    assert_eq!(shown["deadlines"][0]["due"], "2026-08-10T02:40:00Z");
    let breached: Vec<&str> = shown["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["state"] == "breached")
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    let mut assessed: Vec<&str> = half["assessment"]["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["fault"] == 1)
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assessed.sort();
    let mut want = breached.clone();
    want.sort();
    assert_eq!(assessed, want);

    // The running daemon: /metrics and the status page.
    if !common::can_ping() {
        return;
    }
    let log = dir.path().join("daemon.log");
    let _daemon = common::start_loopback(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let m = http_get(port, "/metrics");
        if m.contains("linkledger_downtime_charged_seconds") {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no contract metrics: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let metric = |s: &str| metric_value(&metrics, s).unwrap_or_else(|| panic!("no {s}"));
    assert_eq!(
        metric("linkledger_downtime_charged_seconds{line=\"telecom\",period=\"contract_year\"}"),
        telecom
    );
    assert_eq!(
        metric("linkledger_downtime_charged_seconds{line=\"unicom\",period=\"contract_year\"}"),
        unicom
    );
    assert_eq!(
        metric("linkledger_downtime_excluded_seconds{line=\"telecom\",reason=\"force_majeure\"}"),
        fm
    );
    assert_eq!(
        metric("linkledger_downtime_budget_remaining_seconds{line=\"telecom\"}"),
        line(&budget["lines"], "telecom")["remaining_s"]
            .as_f64()
            .unwrap()
    );
    let page = http_get(port, "/");
    let at = page
        .find("<tr data-line=\"telecom\"")
        .unwrap_or_else(|| panic!("{page}"));
    let row = &page[at..at + page[at..].find("</tr>").unwrap()];
    assert!(
        row.contains(&format!("data-charged-s=\"{telecom:.3}\"")),
        "the status page's budget row: {row}"
    );
    // Recent outages: each row's charge as `outages` gives it.
    let mut shown = 0;
    for (id, c) in [(1, 2700.0), (2, 1800.0), (3, 1200.0), (4, 300.0)] {
        let Some(at) = page.find(&format!("data-outage=\"{id}\"")) else {
            continue;
        };
        let row = &page[at..at + page[at..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("data-charged-s=\"{c:.3}\"")),
            "outage {id}: {row}"
        );
        shown += 1;
    }
    assert!(shown >= 1, "the status page lists recent outages");
}
