//! The config parser under fuzzing: thousands of mutated configs (values
//! replaced by hostile ones, bytes cut and inserted) are each accepted or
//! refused with a message that says where; none panics, and whatever is
//! accepted can be computed with (deadlines, contract years) at the edges
//! of every range. A sample of mutated configs is then given to
//! `check-config` and to `run`: both agree, and a daemon running on an
//! accepted one answers its scrapes.

#![allow(clippy::disallowed_types)] // real-time orchestration of a child process

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http, Running, BIN};
use linkledger_config::Config;
use linkledger_core::fault::deadline::{deadlines, FaultFacts};
use linkledger_core::fault::FaultClass;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

/// Values an attacker or a typo would put after `=`.
const HOSTILE: &[&str] = &[
    "\"0s\"",
    "\"1ns\"",
    "\"300000y\"",
    "\"500000000y\"",
    "\"-1s\"",
    "\"1e309s\"",
    "\"18446744073709551616s\"",
    "\"\"",
    "\"99999999999999d\"",
    "0",
    "-1",
    "1e309",
    "18446744073709551616",
    "nan",
    "inf",
    "true",
    "[]",
    "{}",
    "[[]]",
    "\"\\u0000\"",
    "\"\\u001b[2J\"",
    "\"1m\"",
    "\"59s\"",
    "\"366d\"",
    "\"1ms\"",
    "\"24h\"",
    "\"2026-02-30\"",
    "\"9999-12-31\"",
    "\"Mars/Olympus\"",
    "1.5",
    "4294967296",
];

/// Values at the edges of what is accepted.
const EDGES: &[&str] = &[
    "\"100ms\"",
    "\"1s\"",
    "\"1m\"",
    "\"1h\"",
    "\"1d\"",
    "\"7d\"",
    "\"30d\"",
    "\"90d\"",
    "\"366d\"",
    "1",
    "2",
    "3",
    "10",
    "100",
    "0.5",
];

/// One mutation of a config's text.
#[derive(Debug, Clone)]
enum Mutation {
    /// The value of the n-th `key = value` line replaced.
    Value(usize, usize),
    /// `len` bytes cut at a position (a fraction of the text).
    Cut(u16, u8),
    /// A byte inserted at a position.
    Insert(u16, u8),
    /// The text cut short.
    Truncate(u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), 0..HOSTILE.len() + EDGES.len()).prop_map(|(l, v)| Mutation::Value(l, v)),
        1 => (any::<u16>(), 1..40u8).prop_map(|(p, n)| Mutation::Cut(p, n)),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => any::<u16>().prop_map(Mutation::Truncate),
    ]
}

fn at(text: &str, frac: u16) -> usize {
    let mut i = text.len() * frac as usize / (u16::MAX as usize + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Whether a `key = value` line holds a duration or a number (what the
/// ranges bound).
fn numeric(line: &str) -> bool {
    let Some((_, v)) = line.split_once(" = ") else {
        return false;
    };
    let v = v
        .split('#')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    !v.is_empty()
        && v.starts_with(|c: char| c.is_ascii_digit())
        && v.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
}

/// The demo config with the n-th duration or number replaced.
fn with_value(text: &str, n: usize, value: &str) -> String {
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#') && numeric(l))
        .map(|(i, _)| i)
        .collect();
    let target = lines[n % lines.len()];
    text.lines()
        .enumerate()
        .map(|(i, l)| match l.split_once(" = ") {
            Some((key, _)) if i == target => format!("{key} = {value}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn apply(text: &str, m: &Mutation) -> String {
    match *m {
        Mutation::Value(line, value) => {
            let palette: Vec<&str> = HOSTILE.iter().chain(EDGES).copied().collect();
            let assignments: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    let t = l.trim_start();
                    !t.starts_with('#') && !t.starts_with('[') && t.contains(" = ")
                })
                .map(|(i, _)| i)
                .collect();
            let Some(&target) = assignments.get(line % assignments.len().max(1)) else {
                return text.to_string();
            };
            text.lines()
                .enumerate()
                .map(|(i, l)| match l.split_once(" = ") {
                    Some((key, _)) if i == target => format!("{key} = {}", palette[value]),
                    _ => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        Mutation::Cut(pos, len) => {
            let start = at(text, pos);
            let mut end = (start + len as usize).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            format!("{}{}", &text[..start], &text[end..])
        }
        Mutation::Insert(pos, byte) => {
            let i = at(text, pos);
            let c = char::from(byte);
            format!("{}{c}{}", &text[..i], &text[i..])
        }
        Mutation::Truncate(pos) => text[..at(text, pos)].to_string(),
    }
}

/// What an accepted config is computed with: every class's deadlines for a
/// fault detected now and at the far end of time, the contract year now.
fn compute_with(c: &Config) {
    let now = "2026-12-01T00:00:00Z".parse().unwrap();
    let far = "9999-12-01T00:00:00Z".parse().unwrap();
    for class in [FaultClass::General, FaultClass::Serious, FaultClass::Major] {
        for t in [now, far] {
            let mut f = FaultFacts::new(t, class);
            let _ = deadlines(&f, &c.contract.terms, t);
            f.resolved = Some(t);
            let _ = deadlines(&f, &c.contract.terms, t);
        }
    }
    let _ = c.fault_rules();
    let _ = linkledger_core::contract::ContractYear::containing(
        c.contract.start,
        c.daemon.timezone,
        now,
    );
}

fn sources() -> Vec<(String, String)> {
    ["config/demo.toml", "config/linkledger.example.toml"]
        .iter()
        .map(|p| (p.to_string(), std::fs::read_to_string(p).unwrap()))
        .collect()
}

#[test]
fn two_thousand_mutated_configs_are_accepted_or_refused_with_a_located_message() {
    let sources = sources();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 2000,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let (accepted, refused) = (std::cell::Cell::new(0usize), std::cell::Cell::new(0usize));
    runner
        .run(
            &(0..sources.len(), prop::collection::vec(mutation(), 1..4)),
            |(which, mutations)| {
                let (path, text) = &sources[which];
                let mut text = text.clone();
                for m in &mutations {
                    text = apply(&text, m);
                }
                match linkledger_config::values::without_secrets(|| {
                    Config::parse(Path::new(path), &text)
                }) {
                    Ok(c) => {
                        accepted.set(accepted.get() + 1);
                        compute_with(&c);
                    }
                    Err(e) => {
                        refused.set(refused.get() + 1);
                        let said = e.to_string();
                        prop_assert!(!e.message.trim().is_empty(), "no message: {said}");
                        prop_assert!(said.contains(path.as_str()), "no file: {said}");
                        prop_assert!(
                            !said.contains("Raw") && !said.contains("struct "),
                            "internal names: {said}"
                        );
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("{accepted} accepted, {refused} refused");
    assert!(accepted >= 100 && refused >= 100, "{accepted} / {refused}");
}

/// Mutated duration and number values in the demo config: `check-config`
/// and `run` agree on each, and a daemon on an accepted one answers
/// `/metrics`, `/healthz` and the status page without a server error.
#[test]
fn check_config_and_run_agree_on_mutated_configs() {
    let demo = std::fs::read_to_string("config/demo.toml").unwrap();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 16,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let ran = std::cell::Cell::new(0);
    runner
        .run(
            &(
                any::<usize>(),
                prop_oneof![2 => HOSTILE.len()..HOSTILE.len() + EDGES.len(), 1 => 0..HOSTILE.len()],
            ),
            |(line, value)| {
                let dir = tempfile::tempdir().unwrap();
                let port = free_port();
                let palette: Vec<&str> = HOSTILE.iter().chain(EDGES).copied().collect();
                let text = with_value(&demo, line, palette[value])
                    .replace(
                        "database = \"linkledger-demo.db\"",
                        &format!("database = {:?}", dir.path().join("ledger.db")),
                    )
                    .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"));
                let config = dir.path().join("linkledger.toml");
                std::fs::write(&config, &text).unwrap();
                let check = Command::new(BIN)
                    .args(["check-config", "-c"])
                    .arg(&config)
                    .output()
                    .unwrap();
                let log = dir.path().join("daemon.log");
                let mut daemon = Running(
                    Command::new(BIN)
                        .args(["run", "-c"])
                        .arg(&config)
                        .stdout(Stdio::null())
                        .stderr(std::fs::File::create(&log).unwrap())
                        .spawn()
                        .unwrap(),
                );
                if !check.status.success() {
                    // Refused by both, with the same message.
                    let status = wait_exit(&mut daemon, Duration::from_secs(10));
                    let said = String::from_utf8_lossy(&check.stderr).to_string();
                    let ran_said = std::fs::read_to_string(&log).unwrap();
                    prop_assert!(
                        status.is_some_and(|s| !s.success()),
                        "run started on a config check-config refused: {said}"
                    );
                    let first = said.lines().next().unwrap_or_default();
                    prop_assert!(
                        ran_said.contains(first),
                        "check-config said {said}, run said {ran_said}"
                    );
                    return Ok(());
                }
                ran.set(ran.get() + 1);
                let deadline = Instant::now() + Duration::from_secs(15);
                while http(port, "GET", "/healthz", None, b"").0 == 0 {
                    prop_assert!(
                        Instant::now() < deadline,
                        "the daemon never listened: {}",
                        std::fs::read_to_string(&log).unwrap()
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                std::thread::sleep(Duration::from_secs(2));
                for path in ["/metrics", "/healthz", "/", "/runbook"] {
                    let (code, body) = http(port, "GET", path, None, b"");
                    prop_assert!(
                        code != 0 && code < 500 || path == "/healthz" && code == 503,
                        "{path}: {code} {body}"
                    );
                }
                prop_assert!(
                    daemon.0.try_wait().unwrap().is_none(),
                    "the daemon ended: {}",
                    std::fs::read_to_string(&log).unwrap()
                );
                Ok(())
            },
        )
        .unwrap();
    eprintln!("{} of 16 mutated configs ran", ran.get());
}

fn wait_exit(d: &mut Running, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(s) = d.0.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
