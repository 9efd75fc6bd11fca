//! Contract accounting as a contract manager checks it, on crafted ledgers:
//! a half-year that contains a contract-year anniversary, deadlines judged
//! by the class the fault had while they ran and by the terms in force when
//! it was detected (also across a SIGHUP of a running daemon), corrections
//! shown as such, the response time running from the fault report (申告),
//! maintenance entered after the fact, unobserved time agreed or disputed,
//! an egress incident billed once, and the default class of a line down.
//! Each ledger is written with SQL (the times worked out in the comments),
//! and read back through the CLI as a user would.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::BIN;
use serde_json::Value;

struct Ledger {
    dir: tempfile::TempDir,
    config: PathBuf,
    db: PathBuf,
}

/// Two lines (lead telecom, member unicom) in Asia/Shanghai, the contract
/// starting on `start`, `extra` appended to `[contract]`.
fn config(start: &str, extra: &str) -> String {
    format!(
        r#"
[daemon]
database = "DB"
listen = "127.0.0.1:9798"
timezone = "Asia/Shanghai"

[contract]
name = "测试合同"
start = "{start}"
annual_downtime_cap = "4h"
{extra}

[[contract.member]]
carrier = "China Telecom"
annual_fee = 1200000

[[contract.member]]
carrier = "China Unicom"
annual_fee = 600000

[[contract.penalty]]
name = "中断超限"
breach = "downtime_over_cap"
amount = 1000

[[contract.penalty]]
name = "修复超时"
breach = "resolution"
amount = 3000

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
"#
    )
}

/// A ledger watched without a break from 2023-12-01 to 2027-06-01, with `rows`.
fn ledger(config_text: &str, rows: &str) -> Ledger {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let config = dir.path().join("linkledger.toml");
    std::fs::write(&config, config_text.replace("\"DB\"", &format!("{db:?}"))).unwrap();
    let base = "INSERT INTO runs (id, started_at, heartbeat_at, stopped_at, version, config_path, interval_ms) \
      VALUES (1, '2023-12-01T00:00:00.000Z', '2027-06-01T00:00:00.000Z', '2027-06-01T00:00:00.000Z', 'fixture', 'fixture', 1000);\n\
      INSERT INTO line_configs (line, config_json, valid_from, run_id) VALUES \
      ('telecom', '{}', '2023-12-01T00:00:00.000Z', 1), ('unicom', '{}', '2023-12-01T00:00:00.000Z', 1);\n";
    common::write_ledger(&db, &format!("{base}{rows}"));
    Ledger { dir, config, db }
}

/// Runs the CLI on the ledger's config, succeeding or not.
fn cli(l: &Ledger, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("-c")
        .arg(&l.config)
        .output()
        .unwrap()
}

fn report_json(l: &Ledger, args: &[&str]) -> Value {
    common::report_json(&l.config, l.dir.path(), args)
}

fn report_text(l: &Ledger, args: &[&str], format: &str) -> String {
    let out = l.dir.path().join(format!("out.{format}"));
    let o = common::run(
        Command::new(BIN)
            .arg("report")
            .args(args)
            .arg("-c")
            .arg(&l.config)
            .args(["--format", format, "-o"])
            .arg(&out),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(&out).unwrap()
}

fn breaches<'a>(j: &'a Value, kind: &str, line: &str) -> Vec<&'a Value> {
    j["assessment"]["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["kind"] == kind && b["line"] == line)
        .collect()
}

fn units(j: &Value, kind: &str, line: &str) -> u64 {
    breaches(j, kind, line)
        .iter()
        .map(|b| b["units"].as_u64().unwrap())
        .sum()
}

fn outage(id: u32, line: &str, start: &str, end: &str) -> String {
    format!(
        "INSERT INTO outages (id, line, start_at, start_after, end_at, end_after, cause, interval_ms, run_opened, run_closed) \
         VALUES ({id}, '{line}', '{start}', NULL, '{end}', NULL, 'upstream_unreachable', 1000, 1, 1);\n"
    )
}

/// Item 1 of the issue: a 5 h outage in contract year 1 inside a half-year
/// (and quarter) that ends in year 2 is over the year-1 cap by one started
/// hour, and that hour belongs to the half that contains it. Starts on
/// 1 Jan and 1 Jul (anniversaries on period boundaries), 1 Sep and 29 Feb
/// (anniversaries inside a half). A 3 h outage in year 2 of the same half
/// is under year 2's cap and adds nothing.
#[test]
fn a_half_year_containing_an_anniversary_counts_each_part_against_its_own_year() {
    // (start, 5 h outage in year 1, 3 h outage in year 2, half, quarter)
    // Times are UTC; Shanghai is UTC+8.
    let cases = [
        // Year 1: 2025-01-01 … 2025-12-31; year 2 from 2025-12-31T16:00Z.
        (
            "2025-01-01",
            "2025-12-10T02:00:00.000Z",
            "2026-01-10T02:00:00.000Z",
            "2025H2",
            "2025Q4",
        ),
        // Year 1 ends 2025-06-30T16:00Z.
        (
            "2024-07-01",
            "2025-06-10T02:00:00.000Z",
            "2025-07-10T02:00:00.000Z",
            "2025H1",
            "2025Q2",
        ),
        // Year 1 ends 2025-08-31T16:00Z, inside 2025H2 and 2025Q3.
        (
            "2024-09-01",
            "2025-07-10T02:00:00.000Z",
            "2025-09-10T02:00:00.000Z",
            "2025H2",
            "2025Q3",
        ),
        // Year 1 ends 2025-02-27T16:00Z (29 February falls back to the 28th),
        // inside 2025H1 and 2025Q1.
        (
            "2024-02-29",
            "2025-02-10T02:00:00.000Z",
            "2025-03-10T02:00:00.000Z",
            "2025H1",
            "2025Q1",
        ),
    ];
    for (start, year1, year2, half, quarter) in cases {
        let t = |s: &str, h: i64| {
            (chrono::DateTime::parse_from_rfc3339(s).unwrap() + chrono::TimeDelta::hours(h))
                .to_utc()
                .format("%Y-%m-%dT%H:%M:%S.000Z")
                .to_string()
        };
        let rows =
            outage(1, "telecom", year1, &t(year1, 5)) + &outage(2, "telecom", year2, &t(year2, 3));
        let l = ledger(&config(start, ""), &rows);
        let j = report_json(&l, &["assessment", "--half", half]);
        assert_eq!(
            units(&j, "downtime_over_cap", "telecom"),
            1,
            "start {start}, {half}: 5 h in year 1 is one started hour over its 4 h cap"
        );
        let telecom = j["figures"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["line"] == "telecom")
            .unwrap();
        let years = telecom["years"].as_array().unwrap();
        let partial = ["2024-09-01", "2024-02-29"].contains(&start);
        assert_eq!(years.len(), if partial { 2 } else { 1 }, "start {start}");
        if partial {
            assert_eq!(years[0]["contract_year"], 1);
            assert_eq!(years[0]["charged_s"].as_f64().unwrap(), 5.0 * 3600.0);
            assert_eq!(years[0]["budget"]["breached"], true);
            assert_eq!(years[1]["contract_year"], 2);
            assert_eq!(years[1]["charged_s"].as_f64().unwrap(), 3.0 * 3600.0);
            assert_eq!(years[1]["budget"]["breached"], false);
        }
        let deducted = j["assessment"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["carrier"] == "China Telecom")
            .unwrap()["deducted"]
            .as_f64()
            .unwrap();
        assert_eq!(deducted, 1000.0, "start {start}: one hour over the cap");
        let q = report_json(&l, &["quarterly", "--quarter", quarter]);
        let rules: Vec<&str> = q["advice"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["line"] == "telecom")
            .map(|a| a["rule"].as_str().unwrap())
            .collect();
        assert!(
            rules.contains(&"budget_breached"),
            "start {start}, {quarter}: advice {rules:?}"
        );
        if partial {
            let html = report_text(&l, &["assessment", "--half", half], "html");
            assert!(
                html.contains("跨合同年度分段") && html.contains("第1年") && html.contains("第2年")
            );
            assert!(!html.contains("各项指标符合合同要求"));
        }
    }
}

/// Resolution breached by a general fault, reclassified a year later: the
/// judgement stays (the class while the deadline ran was general), the
/// reclassification of an assessed fault is refused without a correction,
/// and a correction shows in the next assessment as a line of its own.
#[test]
fn a_late_reclassification_never_rejudges_and_a_correction_is_shown_as_one() {
    // Fault 1: general, detected 2025-02-10T02:00Z, resolved after 45 min:
    // its 30-minute resolution deadline was breached at 02:30.
    let rows = outage(1, "telecom", "2025-02-10T02:00:00.000Z", "2025-02-10T02:45:00.000Z")
        + "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
           (1, 'telecom', '2025-02-10T02:00:00.000Z', 'line_down', 'general', '2025-02-10T02:45:00.000Z', 1);\n\
           INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES (1, 'outage', 1, '2025-02-10T02:00:00.000Z');\n";
    let l = ledger(&config("2024-07-01", ""), &rows);
    let before = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(units(&before, "resolution", "telecom"), 1);

    // A plain reclassification a year later is refused: 2025H1 is assessed.
    let o = cli(
        &l,
        &[
            "fault",
            "reclassify",
            "1",
            "--class",
            "serious",
            "--reason",
            "运营商认为属严重故障",
            "--by",
            "李经理",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2025H1") && err.contains("--correction"),
        "{err}"
    );
    let again = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(
        again["assessment"]["breaches"],
        before["assessment"]["breaches"]
    );

    // With a correction it is recorded; 2025H1 as assessed stays as it was,
    // and the half in which the correction was made shows it as a line
    // of its own, crediting the breach back.
    let o = cli(
        &l,
        &[
            "fault",
            "reclassify",
            "1",
            "--class",
            "serious",
            "--reason",
            "运营商申诉",
            "--by",
            "李经理",
            "--correction",
            "经双方核实，该故障应属严重故障",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(
        units(&again, "resolution", "telecom"),
        1,
        "an assessed half is never re-judged silently"
    );
    let now = linkledger_ledger::clock::wall_now().with_timezone(&chrono_tz::Asia::Shanghai);
    let this_half = format!(
        "{}H{}",
        now.format("%Y"),
        if chrono::Datelike::month(&now) <= 6 {
            1
        } else {
            2
        }
    );
    let next = report_json(&l, &["assessment", "--half", &this_half]);
    let corrections = next["assessment"]["corrections"].as_array().unwrap();
    assert_eq!(corrections.len(), 1, "{corrections:?}");
    assert_eq!(corrections[0]["fault"], 1);
    assert_eq!(corrections[0]["kind"], "resolution");
    assert_eq!(corrections[0]["units"], -1);
    let html = report_text(&l, &["assessment", "--half", &this_half], "html");
    assert!(
        html.contains("更正") && html.contains("经双方核实"),
        "the correction is shown"
    );
}

/// A degradation (general, 30 min) that became an outage at minute 40 is
/// judged against the 30 minutes it had while its deadline ran, not the
/// escalated class's 120.
#[test]
fn an_escalation_never_extends_a_deadline_that_was_already_over() {
    let rows = "INSERT INTO degradations (id, line, kind, start_at, end_at, detail, run_opened, run_closed) VALUES \
        (1, 'telecom', 'loss', '2025-03-01T02:00:00.000Z', '2025-03-01T02:40:00.000Z', '{}', 1, 1);\n"
        .to_string()
        + &outage(1, "telecom", "2025-03-01T02:40:00.000Z", "2025-03-01T03:00:00.000Z")
        + "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
           (1, 'telecom', '2025-03-01T02:00:00.000Z', 'degradation', 'general', '2025-03-01T03:00:00.000Z', 1);\n\
           INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES (1, 'degradation', 1, '2025-03-01T02:00:00.000Z'), \
           (1, 'outage', 1, '2025-03-01T02:40:00.000Z');\n\
           INSERT INTO fault_events (fault_id, at, recorded_at, kind, class, text) VALUES \
           (1, '2025-03-01T02:40:00.000Z', '2025-03-01T02:40:01.000Z', 'escalated', 'serious', 'the line went down (outage)');\n";
    let l = ledger(&config("2024-07-01", ""), &rows);
    let o = cli(&l, &["fault", "show", "1", "--json"]);
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    let res = f["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "resolution")
        .unwrap();
    assert_eq!(res["state"], "breached");
    assert_eq!(res["due"], "2025-03-01T02:30:00Z");
    assert_eq!(res["class"], "general");
    assert_eq!(f["class"], "serious", "the current class is still shown");
}

/// Terms recorded in the ledger: a fault detected under 60-minute general
/// resolution stays met after the terms are shortened to 30 minutes.
#[test]
fn a_fault_is_judged_by_the_terms_in_force_when_it_was_detected() {
    let old = config("2024-07-01", "resolution = { general = \"60m\" }");
    let rows = outage(1, "telecom", "2025-02-10T02:00:00.000Z", "2025-02-10T02:45:00.000Z")
        + "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
           (1, 'telecom', '2025-02-10T02:00:00.000Z', 'line_down', 'general', '2025-02-10T02:45:00.000Z', 1);\n";
    let l = ledger(&old, &rows);
    // The terms as the daemon recorded them when it started under the old config.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = linkledger_config::Config::load(&l.config).unwrap();
        let pool = linkledger_ledger::open(&l.db).await.unwrap();
        let at = "2024-01-01T00:00:00Z".parse().unwrap();
        assert!(
            linkledger_ledger::terms::record_in_force(&pool, &c.contract.terms, at, Some(1))
                .await
                .unwrap()
        );
    });
    // The config now says 30 minutes (as after a SIGHUP).
    std::fs::write(
        &l.config,
        config("2024-07-01", "").replace("\"DB\"", &format!("{:?}", l.db)),
    )
    .unwrap();
    let j = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(
        units(&j, "resolution", "telecom"),
        0,
        "met under the terms in force"
    );
    let o = cli(&l, &["fault", "show", "1", "--json"]);
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["deadlines"][2]["state"], "met");
    assert_eq!(f["deadlines"][2]["due"], "2025-02-10T03:00:00Z");
}

/// The response time runs from the fault report (申告) and the fault
/// record says so; with `response_from = "detected"` from detection.
#[test]
fn response_runs_from_the_fault_report() {
    // Detected 02:00, reported by phone at 02:20, acknowledged 02:45:
    // 25 min after the report (met), 45 min after detection (breached).
    let rows = outage(1, "telecom", "2026-03-01T02:00:00.000Z", "2026-03-01T04:00:00.000Z")
        + "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
           (1, 'telecom', '2026-03-01T02:00:00.000Z', 'line_down', 'general', '2026-03-01T04:00:00.000Z', 1);\n";
    let l = ledger(&config("2025-07-01", ""), &rows);
    let o = cli(
        &l,
        &[
            "fault",
            "report",
            "1",
            "--at",
            "2026-03-01T02:20:00Z",
            "--by",
            "值班员",
            "--via",
            "phone",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(
        &l,
        &[
            "fault",
            "report",
            "1",
            "--at",
            "2026-03-01T02:25:00Z",
            "--by",
            "值班员",
            "--via",
            "phone",
        ],
    );
    assert!(!o.status.success(), "reported twice");
    let o = cli(
        &l,
        &[
            "fault",
            "report",
            "1",
            "--by",
            "值班员",
            "--via",
            "carrier-pigeon",
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("phone, ticket, email"));
    let o = cli(
        &l,
        &[
            "fault",
            "ack",
            "1",
            "--at",
            "2026-03-01T02:45:00Z",
            "--by",
            "值班员",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let show = |l: &Ledger| -> Value {
        serde_json::from_slice(&cli(l, &["fault", "show", "1", "--json"]).stdout).unwrap()
    };
    let f = show(&l);
    assert_eq!(f["reported_at"], "2026-03-01T02:20:00Z");
    assert_eq!(f["deadlines"][0]["state"], "met");
    assert_eq!(f["deadlines"][0]["runs_from"], "reported");
    assert_eq!(f["deadlines"][0]["due"], "2026-03-01T02:50:00Z");
    let html = report_text(&l, &["fault", "1"], "html");
    assert!(
        html.contains("申告"),
        "the fault record says where the response time ran from"
    );

    std::fs::write(
        &l.config,
        config("2025-07-01", "response_from = \"detected\"")
            .replace("\"DB\"", &format!("{:?}", l.db)),
    )
    .unwrap();
    let f = show(&l);
    assert_eq!(f["deadlines"][0]["state"], "breached");
    assert_eq!(f["deadlines"][0]["runs_from"], "detected");
}

/// One line down is a general fault by default (30 minutes to resolve).
#[test]
fn one_line_down_is_a_general_fault_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, config("2025-07-01", "")).unwrap();
    let c = linkledger_config::Config::load(&path).unwrap();
    use linkledger_core::fault::{FaultClass, Trigger};
    assert_eq!(
        c.contract.terms.classes.class_of(Trigger::LineDown),
        FaultClass::General
    );
    assert_eq!(
        c.contract.terms.classes.class_of(Trigger::EgressDown),
        FaultClass::Major
    );
}

/// Maintenance entered after the fact: a window recorded 17 months late
/// with an earlier notice time is `recorded_late`, never excluded (even
/// where approved maintenance is), and an interruption without notice
/// until a manager approves it with a reason; a refused window that
/// interrupted nothing is no breach.
#[test]
fn maintenance_recorded_after_the_fact_is_never_excluded() {
    let rows = outage(1, "telecom", "2025-03-01T02:00:00.000Z", "2025-03-01T07:00:00.000Z")
        // Unicom: a window we refused, announced in time, recorded in
        // time; nothing went down.
        + "INSERT INTO maintenance (line, start_at, end_at, notice_at, consented, reference, recorded_by, recorded_at) VALUES \
           ('unicom', '2025-04-01T02:00:00.000Z', '2025-04-01T03:00:00.000Z', '2025-03-20T00:00:00.000Z', 0, 'LT-0401', 'ops', '2025-03-20T01:00:00.000Z');\n";
    let l = ledger(
        &config("2024-07-01", "approved_maintenance_counts = false"),
        &rows,
    );
    let o = cli(
        &l,
        &[
            "maintenance",
            "add",
            "--line",
            "telecom",
            "--from",
            "2025-03-01T02:00:00Z",
            "--to",
            "2025-03-01T07:00:00Z",
            "--notice-at",
            "2025-02-20T00:00:00Z",
            "--consented",
            "--by",
            "张三",
            "--reference",
            "补录-0301",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list: Value =
        serde_json::from_slice(&cli(&l, &["maintenance", "list", "--json"]).stdout).unwrap();
    let telecom = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["line"] == "telecom")
        .unwrap_or_else(|| panic!("{list:#}"));
    assert_eq!(telecom["status"], "recorded_late");
    assert_eq!(telecom["consented_by"], "张三");
    let budget = |l: &Ledger| -> Value {
        serde_json::from_slice(&cli(l, &["budget", "--contract-year", "1", "--json"]).stdout)
            .unwrap()
    };
    let b = budget(&l);
    assert_eq!(
        b["lines"][0]["charged_s"].as_f64().unwrap(),
        5.0 * 3600.0,
        "not excluded"
    );
    let j = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(units(&j, "late_maintenance", "telecom"), 1);
    assert_eq!(
        units(&j, "late_maintenance", "unicom"),
        0,
        "a refused window that interrupted nothing"
    );

    let id = telecom["id"].as_i64().unwrap().to_string();
    let o = cli(
        &l,
        &[
            "maintenance",
            "approve",
            &id,
            "--by",
            "李经理",
            "--reason",
            "割接当日已电话同意，补录",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(
        &l,
        &[
            "maintenance",
            "approve",
            &id,
            "--by",
            "李经理",
            "--reason",
            "again",
        ],
    );
    assert!(!o.status.success(), "approved once");
    let j = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(
        units(&j, "late_maintenance", "telecom"),
        0,
        "approved by a manager"
    );
    assert_eq!(
        budget(&l)["lines"][0]["charged_s"].as_f64().unwrap(),
        5.0 * 3600.0,
        "still never excluded"
    );
    let audit = String::from_utf8(cli(&l, &["audit"]).stdout).unwrap();
    assert!(
        audit.contains("approve_maintenance") && audit.contains("割接当日已电话同意"),
        "{audit}"
    );
    let html = report_text(&l, &["quarterly", "--quarter", "2025Q1"], "html");
    assert!(html.contains("开始后补录，经李经理批准"));
}

/// Time the monitor did not see: a two-hour daemon gap with the line down
/// on both sides of it is disputed (shown, not charged) until both sides
/// agree on it; an agreed outage (manager, audit-logged) charges the
/// unobserved time it covers and nothing else. The annual acceptance shows
/// the monitor's coverage without judging the carrier by it.
#[test]
fn unobserved_time_is_charged_only_when_both_sides_agree() {
    let rows = outage(1, "telecom", "2025-03-01T02:00:00.000Z", "2025-03-01T03:00:00.000Z")
        + &outage(2, "telecom", "2025-03-01T05:00:00.000Z", "2025-03-01T06:00:00.000Z")
        + "INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES \
           (NULL, '2025-03-01T03:00:00.000Z', '2025-03-01T05:00:00.000Z', 'daemon_not_running', 1);\n";
    let l = ledger(&config("2024-07-01", ""), &rows);
    let budget = |l: &Ledger| -> Value {
        serde_json::from_slice(&cli(l, &["budget", "--contract-year", "1", "--json"]).stdout)
            .unwrap()
    };
    let b = budget(&l);
    assert_eq!(b["lines"][0]["charged_s"].as_f64().unwrap(), 7200.0);
    assert_eq!(b["lines"][0]["disputed_s"].as_f64().unwrap(), 7200.0);
    let q = report_json(&l, &["quarterly", "--quarter", "2025Q1"]);
    let a = &q["figures"]["lines"][0]["availability"];
    assert_eq!(a["disputed_s"].as_f64().unwrap(), 7200.0);
    assert_eq!(a["charged_s"].as_f64().unwrap(), 7200.0);
    let html = report_text(&l, &["quarterly", "--quarter", "2025Q1"], "html");
    assert!(html.contains("争议时段"));

    // A manager's record with its evidence; an agreement on no such line
    // is refused.
    let o = cli(
        &l,
        &[
            "outage",
            "agree",
            "--line",
            "telecom",
            "--from",
            "2025-03-01T03:00:00Z",
            "--to",
            "2025-03-01T05:00:00Z",
            "--evidence",
            "电信工单 DX-0301 确认 03:00–05:00 中断",
            "--approved-by",
            "李经理",
            "--by",
            "张三",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(
        &l,
        &[
            "outage",
            "agree",
            "--line",
            "nosuch",
            "--from",
            "2025-03-01T03:00:00Z",
            "--to",
            "2025-03-01T05:00:00Z",
            "--evidence",
            "x",
            "--approved-by",
            "y",
            "--by",
            "z",
        ],
    );
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nosuch"));
    let b = budget(&l);
    assert_eq!(
        b["lines"][0]["charged_s"].as_f64().unwrap(),
        4.0 * 3600.0,
        "the agreed gap is charged"
    );
    assert_eq!(b["lines"][0]["agreed_s"].as_f64().unwrap(), 7200.0);
    assert_eq!(b["lines"][0]["disputed_s"].as_f64().unwrap(), 0.0);
    assert_eq!(
        b["lines"][1]["charged_s"].as_f64().unwrap(),
        0.0,
        "unicom is not touched"
    );
    let audit = String::from_utf8(cli(&l, &["audit"]).stdout).unwrap();
    assert!(audit.contains("agree_outage"), "{audit}");

    let y = report_json(&l, &["annual", "--contract-year", "1"]);
    let coverage = y["acceptance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clause"] == "第二条 12")
        .unwrap();
    assert!(
        coverage["met"].is_null(),
        "coverage is ours, never judged: {coverage}"
    );
}

/// Both lines down for 90 minutes: one incident, one bill. The egress
/// fault contains the two line faults (the same outages); by default each
/// member answers for its own line's fault and the egress fault's own
/// breaches are shown, not charged again; with `egress_breaches = "lead"`
/// the lead answers once for the incident and the line faults are not
/// charged for their deadlines.
#[test]
fn an_egress_incident_is_billed_once() {
    // Nobody responded, came on site or reported: each line fault (opened
    // general, 30 min) breaches response, on site, resolution and repair
    // report; the egress fault (major, 120 min) response, on site and
    // repair report.
    let rows = outage(1, "telecom", "2025-03-01T02:00:00.000Z", "2025-03-01T03:30:00.000Z")
        + &outage(2, "unicom", "2025-03-01T02:00:00.000Z", "2025-03-01T03:30:00.000Z")
        + "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
           (1, 'telecom', '2025-03-01T02:00:00.000Z', 'line_down', 'general', '2025-03-01T03:30:00.000Z', 1), \
           (2, 'unicom', '2025-03-01T02:00:00.000Z', 'line_down', 'general', '2025-03-01T03:30:00.000Z', 1), \
           (3, NULL, '2025-03-01T02:00:00.000Z', 'egress_down', 'major', '2025-03-01T03:30:00.000Z', 1);\n\
           INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES \
           (1, 'outage', 1, '2025-03-01T02:00:00.000Z'), (2, 'outage', 2, '2025-03-01T02:00:00.000Z'), \
           (3, 'outage', 1, '2025-03-01T02:00:00.000Z'), (3, 'outage', 2, '2025-03-01T02:00:00.000Z');\n";
    let count = |j: &Value, list: &str, carrier: &str| {
        j["assessment"][list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["carrier"] == carrier && b["fault"].is_number())
            .count()
    };
    let l = ledger(&config("2024-07-01", ""), &rows);
    let j = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(
        count(&j, "breaches", "China Telecom"),
        4,
        "the lead: its own line's fault only"
    );
    assert_eq!(count(&j, "breaches", "China Unicom"), 4);
    assert_eq!(
        count(&j, "uncharged", "China Telecom"),
        3,
        "the egress fault's, shown"
    );
    // Resolution: 3000 per breach, one per line fault.
    let deducted = |j: &Value, carrier: &str| {
        j["assessment"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["carrier"] == carrier)
            .unwrap()["deducted"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(deducted(&j, "China Telecom"), 3000.0);
    assert_eq!(deducted(&j, "China Unicom"), 3000.0);
    let html = report_text(&l, &["assessment", "--half", "2025H1"], "html");
    assert!(html.contains("同一事件不重复计费") && html.contains("出口整体故障 #3"));

    let l = ledger(&config("2024-07-01", "egress_breaches = \"lead\""), &rows);
    let j = report_json(&l, &["assessment", "--half", "2025H1"]);
    assert_eq!(
        count(&j, "breaches", "China Telecom"),
        3,
        "the lead, once, on the egress fault"
    );
    assert_eq!(count(&j, "breaches", "China Unicom"), 0);
    assert_eq!(count(&j, "uncharged", "China Unicom"), 4);
    assert_eq!(
        deducted(&j, "China Telecom"),
        0.0,
        "the egress fault (major) met its resolution"
    );

    // One repair report per member per incident: telecom's report for its
    // line fault, in time, also answers for the egress fault.
    let with_report = rows.clone()
        + "INSERT INTO fault_events (fault_id, at, recorded_at, kind, actor, text) VALUES \
           (1, '2025-03-01T06:00:00.000Z', '2025-03-01T06:00:00.000Z', 'repair_report', '李工', 'DX-0301');\n";
    let l = ledger(
        &config("2024-07-01", "egress_breaches = \"lead\""),
        &with_report,
    );
    let j = report_json(&l, &["assessment", "--half", "2025H1"]);
    let kinds: Vec<&str> = breaches(&j, "repair_report", "egress")
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.is_empty(),
        "the lead's report covers the incident: {kinds:?}"
    );
    assert_eq!(count(&j, "breaches", "China Telecom"), 2);
}

/// A reload never re-judges the past: a fault resolved in 45 minutes under
/// 60-minute terms stays met after SIGHUP shortens them to 30 minutes, with
/// no breach appended or alerted; the ledger keeps both versions of the
/// terms.
#[test]
fn a_reload_with_shorter_deadlines_never_rejudges_a_resolved_fault() {
    if !common::can_ping() {
        return;
    }
    let now = linkledger_ledger::clock::wall_now();
    let ago = |m: i64| {
        (now - chrono::TimeDelta::minutes(m))
            .format("%Y-%m-%dT%H:%M:%S.000Z")
            .to_string()
    };
    let rows = outage(1, "telecom", &ago(180), &ago(135))
        + &format!(
            "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
             (1, 'telecom', '{}', 'line_down', 'general', '{}', 1);\n\
             INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES (1, 'outage', 1, '{}');\n",
            ago(180),
            ago(135),
            ago(180)
        );
    let port = common::free_port();
    let text = |general: &str| {
        config(
            "2025-07-01",
            &format!("resolution = {{ general = \"{general}\" }}"),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"))
    };
    let l = ledger(&text("60m"), &rows);
    let log = l.dir.path().join("daemon.log");
    let mut daemon = common::start_loopback(&l.config, &log);
    let sql = |q: &str| common::sql(&l.db, q);
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !f() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    // The first pass over every fault: response and on site were breached
    // (nobody answered), resolution met.
    wait("the start's deadline pass", &|| {
        sql("SELECT count(*) FROM fault_events WHERE kind = 'deadline_breached' AND deadline = 'on_site'") == "1"
    });
    std::fs::write(
        &l.config,
        text("30m").replace("\"DB\"", &format!("{:?}", l.db)),
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait("the reloaded terms", &|| {
        sql("SELECT count(*) FROM contract_terms") == "2"
    });
    // Several deadline passes under the new terms.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(
        sql("SELECT count(*) FROM fault_events WHERE kind = 'deadline_breached' AND deadline = 'resolution'"),
        "0",
        "the resolved fault is judged by the terms in force when it was detected"
    );
    assert_eq!(
        sql("SELECT count(*) FROM notices WHERE key = 'fault:1:breached:resolution'"),
        "0"
    );
    let f: Value =
        serde_json::from_slice(&cli(&l, &["fault", "show", "1", "--json"]).stdout).unwrap();
    assert_eq!(f["deadlines"][2]["state"], "met");
    let _ = daemon.0.kill();
}

/// Operator text is kept verbatim but never obeyed: a note with an escape
/// sequence and a bell prints escaped in `fault show` and `audit`, and a
/// reason written as a spreadsheet formula reaches the CSV report inert.
#[test]
fn operator_text_reaches_terminals_and_spreadsheets_inert() {
    let rows = outage(1, "telecom", "2025-03-01T02:00:00.000Z", "2025-03-01T02:20:00.000Z")
        + "INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at, run_opened) VALUES \
           (1, 'telecom', '2025-03-01T02:00:00.000Z', 'line_down', 'general', '2025-03-01T02:20:00.000Z', 1);\n\
           INSERT INTO fault_links (fault_id, kind, ref_id, linked_at) VALUES (1, 'outage', 1, '2025-03-01T02:00:00.000Z');\n";
    let l = ledger(&config("2024-07-01", ""), &rows);
    let hostile = "carrier called\u{1b}[2J\u{7} back";
    let o = cli(
        &l,
        &["fault", "note", "1", "--by", "Zhang Wei", "--note", hostile],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let formula = "=HYPERLINK(\"http://attacker.invalid\",\"typhoon\")";
    let o = cli(
        &l,
        &[
            "exclude",
            "add",
            "--by",
            "Li Na",
            "--line",
            "telecom",
            "--from",
            "2025-03-01T10:02:00+08:00",
            "--to",
            "2025-03-01T10:10:00+08:00",
            "--reason",
            formula,
            "--evidence",
            "+cmd|' /C calc'!A0",
            "--approved-by",
            "District IT office",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    for args in [&["fault", "show", "1"][..], &["audit"][..]] {
        let out = cli(&l, args).stdout;
        assert!(
            !out.contains(&0x1b) && !out.contains(&0x07),
            "{args:?} printed raw control characters"
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\\u{1b}[2J\\u{7}"), "{args:?}: {text}");
    }
    // Kept verbatim in the ledger (JSON shows it as it was written).
    let json: Value =
        serde_json::from_slice(&cli(&l, &["fault", "show", "1", "--json"]).stdout).unwrap();
    assert!(json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["text"] == hostile));

    let csv = report_text(&l, &["quarterly", "--quarter", "2025Q1"], "csv");
    assert!(
        csv.contains("'=HYPERLINK")
            && !csv.contains(",=HYPERLINK")
            && !csv.contains("\"=HYPERLINK"),
        "the formula is not neutralised:\n{csv}"
    );
}
