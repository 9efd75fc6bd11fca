//! Every invalid config fixture paired with its expected error message
//! (`tests/fixtures/invalid/NAME.toml` → `NAME.err`), and the shipped
//! example and demo configs parse.

use std::path::Path;
use std::process::Command;

use linkledger::config::Config;

#[test]
fn every_invalid_fixture_gives_its_expected_error() {
    let dir = Path::new("tests/fixtures/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for toml in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let expected_path = toml.with_extension("err");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no {}", toml.display(), expected_path.display()));
        let err = Config::load(toml)
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", toml.display()));
        assert_eq!(
            err.to_string(),
            expected.trim_end(),
            "fixture {}",
            toml.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures found");
}

#[test]
fn check_config_exits_2_with_the_message_on_stderr() {
    let out = Command::new(env!("CARGO_BIN_EXE_linkledger"))
        .args([
            "check-config",
            "-c",
            "tests/fixtures/invalid/quorum_too_large.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("upstream_quorum: 3 is not possible with 2 upstream target(s)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let err = Config::load(Path::new("tests/fixtures/nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("tests/fixtures/nope.toml: cannot read the config file:"),
        "{err}"
    );
}

#[test]
fn the_example_config_parses_with_the_documented_values() {
    let c = Config::load(Path::new("config/linkledger.example.toml")).unwrap();
    assert_eq!(c.contract.annual_downtime_cap.as_secs(), 4 * 3600);
    assert_eq!((c.probe.down_after, c.probe.up_after), (3, 2));
    assert_eq!(c.probe.timeout.as_millis(), 800);
    let l = &c.lines[0];
    assert_eq!(l.id, "telecom");
    assert_eq!(l.upstream.len(), 2);
    assert_eq!(l.ip_blocks[0].to_string(), "198.19.100.0/29");
    assert_eq!(l.source.unwrap().to_string(), "198.18.0.1");
}

#[test]
fn the_demo_config_parses_and_probes_only_loopback() {
    let c = Config::load(Path::new("config/demo.toml")).unwrap();
    assert!(c.lines.len() >= 2);
    for l in &c.lines {
        for ip in l.local.iter().chain(&l.gateway).chain(&l.upstream) {
            assert!(ip.is_loopback(), "demo target {ip} is not loopback");
        }
    }
    assert!(
        c.daemon.database.is_relative(),
        "demo ledger lives in the working directory"
    );
}

#[test]
fn the_config_from_the_measurement_core_issue_loads_unchanged() {
    // tests/fixtures/valid/issue-example.toml is the issue's text, byte for byte.
    let c = Config::load(Path::new("tests/fixtures/valid/issue-example.toml")).unwrap();
    assert_eq!(c.contract.name, "Qingyang e-government egress lease");
    assert_eq!(c.contract.start.to_string(), "2024-07-01");
    assert_eq!(c.daemon.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(c.lines.len(), 1);
    assert_eq!(c.lines[0].gateway[0].to_string(), "198.18.1.1");
    assert_eq!(c.lines[0].interface, None);
}
