//! The Prometheus rules in `deploy/prometheus/` against Debian's promtool:
//! they load, every alert has unit tests that fire and do not fire it
//! (`promtool test rules`), and every alert's runbook section exists.

mod common;

use std::path::Path;
use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_rules_load_and_pass_their_unit_tests() {
    if !common::have_tool("promtool", "prometheus") {
        return;
    }
    let checked = run(&[
        "check",
        "rules",
        "rules/linkledger-recording.yml",
        "rules/linkledger-alerts.yml",
    ]);
    assert!(checked.contains("SUCCESS: 14 rules found"), "{checked}");
    assert!(checked.contains("SUCCESS: 19 rules found"), "{checked}");
    let tested = run(&["test", "rules", "tests/linkledger-alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    run(&["check", "config", "prometheus.yml"]);
}

#[test]
fn every_alert_is_tested_firing_and_silent_and_has_a_runbook() {
    let alerts = read("deploy/prometheus/rules/linkledger-alerts.yml");
    let tests = read("deploy/prometheus/tests/linkledger-alerts.test.yml");
    let runbook = read("deploy/prometheus/RUNBOOK.md");
    let names: Vec<&str> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(names.len(), 19);
    // Each test case is "alertname: X" followed by its exp_alerts.
    let cases: Vec<(&str, bool)> = tests
        .split("alertname: ")
        .skip(1)
        .map(|c| {
            let name = c.lines().next().unwrap().trim();
            (name, !c.lines().nth(1).unwrap().contains("exp_alerts: []"))
        })
        .collect();
    for name in &names {
        assert!(
            cases.contains(&(name, true)),
            "{name} is never tested firing"
        );
        assert!(
            cases.contains(&(name, false)),
            "{name} is never tested silent"
        );
        let anchor = format!("#{}", name.to_lowercase());
        assert!(
            alerts.contains(&format!("RUNBOOK.md{anchor}")),
            "{name} has no runbook link"
        );
        // The link as the daemon serves the runbook (Absent has no instance).
        if *name != "LinkledgerAbsent" {
            assert!(
                alerts.contains(&format!("/runbook{anchor}\"")),
                "{name} has no runbook_url"
            );
        }
        assert!(
            runbook.contains(&format!("\n## {name}\n")),
            "RUNBOOK.md has no section for {name}"
        );
    }
}
