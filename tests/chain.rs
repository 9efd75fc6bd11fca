//! The ledger's hash chain on a real SQLite file, tampered with as an
//! attacker with the file would: an outage's end edited behind a dropped
//! trigger, rows deleted, inserted and swapped, a whole chain forged again.
//! `linkledger verify` names each, the Python script in deploy/verify
//! agrees, the daemon refuses to start on it, a report's printed head pins
//! the ledger it came from, and an older ledger is chained once on upgrade.
// These tests drive external processes in real time.
#![allow(clippy::disallowed_types)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_ledger::write::LedgerWrite;
use linkledger_ledger::{self as ledger, chain};
use serde_json::Value;

use common::{can_ping, free_port, raw_ledger, wait_for, BIN};

fn t(s: &str) -> DateTime<Utc> {
    format!("2026-01-01T{s}:00Z").parse().unwrap()
}

/// The demo config with its ledger in `dir` and a free port.
fn config(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string("config/demo.toml")
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {:?}", dir.join("ledger.db")),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{}", free_port()));
    let path = dir.join("linkledger.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A ledger written by the real writer (a run, two outages with their
/// faults and notices, a stop) and an operator's acknowledgement through
/// the CLI. Returns the config's path.
async fn chained_ledger(dir: &Path) -> PathBuf {
    let path = config(dir);
    let c = Config::load_without_secrets(&path).unwrap();
    let mut writes = Vec::new();
    for (line, from, to) in [("telecom", "10:00", "10:30"), ("unicom", "11:00", "11:20")] {
        writes.push(LedgerWrite::OutageOpened {
            line: line.into(),
            start: t(from),
            start_after: Some(t(from) - TimeDelta::seconds(1)),
            cause: "upstream_unreachable",
        });
        writes.push(LedgerWrite::OutageClosed {
            line: line.into(),
            end: t(to),
            end_after: t(to) - TimeDelta::seconds(1),
        });
    }
    writes.push(LedgerWrite::Stopped { at: t("23:00") });
    let db = common::written_ledger(&c, t("00:00"), "test.toml", writes).await;
    db.close().await;
    let (code, _, err) = cli(
        &path,
        &[
            "fault",
            "ack",
            "1",
            "--by",
            "Zhang Wei",
            "--at",
            "2026-01-01T10:10:00Z",
        ],
    );
    assert_eq!(code, 0, "{err}");
    path
}

/// Runs the CLI on `config`; the exit code, stdout and stderr.
fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("-c")
        .arg(config)
        .env("USER", "li.na")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `verify --json`: the exit code and the verdict.
fn verify(config: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = cli(config, &args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, v)
}

/// deploy/verify/verify_chain.py on the ledger: exit code and output.
fn python(db: &Path, pin: &[&str]) -> (i32, String) {
    let out = Command::new("python3")
        .arg(common::repo().join("deploy/verify/verify_chain.py"))
        .arg(db)
        .args(pin)
        .output()
        .expect("python3 runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs `sql` on the file past the ledger crate, as an attacker would.
async fn tamper(db: &Path, sql: &str) {
    let raw = raw_ledger(db).await;
    sqlx::raw_sql(sql).execute(&raw).await.unwrap();
    raw.close().await;
}

fn breaks(v: &Value) -> Vec<(String, String, i64)> {
    v["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["kind"].as_str().unwrap().to_string(),
                b["table"].as_str().unwrap().to_string(),
                b["record_id"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_untouched_ledger_verifies_and_the_python_script_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["intact"], true);
    assert_eq!(v["unsealed"], 0);
    // Every record and completion has its link: the run and its stop, two
    // line configs, the terms, two outages and their closings, two faults
    // and their resolutions, links, events, notices, the audit row.
    let links: i64 = common::sql(&db, "SELECT count(*) FROM ledger_chain")
        .trim()
        .parse()
        .unwrap();
    let head = &v["head"];
    assert_eq!(head["seq"].as_i64(), Some(links));
    assert_eq!(v["checked"].as_i64(), Some(links));
    for table in [
        "runs",
        "outages",
        "faults",
        "fault_events",
        "notices",
        "audit_log",
    ] {
        let n = common::sql(
            &db,
            &format!("SELECT count(*) FROM ledger_chain WHERE record_table = '{table}'"),
        );
        assert_ne!(n.trim(), "0", "{table} has no links");
    }
    let closes = common::sql(
        &db,
        "SELECT count(*) FROM ledger_chain WHERE record_table = 'outages' AND event = 'close'",
    );
    assert_eq!(closes.trim(), "2");
    // The independent script computes the same head.
    let (pcode, out) = python(&db, &[]);
    assert_eq!(pcode, 0, "{out}");
    assert!(
        out.contains(&format!(
            "head: seq {links} {}",
            head["chain"].as_str().unwrap()
        )),
        "{out} vs {head}"
    );
}

#[tokio::test]
async fn an_outage_end_edited_behind_a_dropped_trigger_is_named_and_the_daemon_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    let trigger = common::sql(
        &db,
        "SELECT sql FROM sqlite_master WHERE name = 'outages_only_closed'",
    );
    // Ten minutes off the telecom outage, the trigger put back after.
    tamper(
        &db,
        &format!(
            "DROP TRIGGER outages_only_closed; \
             UPDATE outages SET end_at = '2026-01-01T10:20:00.000Z' WHERE id = 1; \
             {};",
            trigger.trim()
        ),
    )
    .await;
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["intact"], false);
    assert_eq!(
        breaks(&v),
        vec![("changed".into(), "outages".into(), 1)],
        "{v}"
    );
    let first = &v["breaks"][0];
    assert_eq!(first["event"], "close");
    let detail = first["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            "end_at was \"2026-01-01T10:30:00.000Z\", is now \"2026-01-01T10:20:00.000Z\""
        ),
        "{detail}"
    );
    // In words too, with the exit status.
    let (code, out, _) = cli(&config, &["verify"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("BROKEN") && out.contains("outages #1"),
        "{out}"
    );
    // The script agrees on the link.
    let (pcode, pout) = python(&db, &[]);
    assert_eq!(pcode, 1, "{pout}");
    let seq = first["seq"].as_i64().unwrap();
    assert!(
        pout.contains(&format!("BROKEN at link {seq}: outages #1 (close)")),
        "{pout}"
    );

    // The daemon refuses to start on it, naming the outage.
    if !can_ping() {
        return;
    }
    let out = Command::new("timeout")
        .args(["20", BIN, "run", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("hash chain is broken") && err.contains("outages #1"),
        "{err}"
    );
    assert!(err.contains("--accept-broken-chain"), "{err}");
    let runs_before = common::sql(&db, "SELECT count(*) FROM runs");
    assert_eq!(runs_before.trim(), "1", "a refused start records no run");

    // Accepted with a reason: it starts, the reason is chained, and the
    // next start needs no flag; verify still reports the break, accepted.
    let log = dir.path().join("run.log");
    let mut daemon = common::Running(
        Command::new(BIN)
            .args([
                "run",
                "--accept-broken-chain",
                "restored from the carrier's copy, ticket 42",
                "-c",
            ])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the accepted start", Duration::from_secs(20), || {
        common::sql(&db, "SELECT count(*) FROM runs").trim() == "2"
    });
    // What the NOC sees: the head in /metrics and on the status page; the
    // accepted break is not counted as one.
    let port = port_of(&config);
    let mut metrics = String::new();
    wait_for("/metrics", Duration::from_secs(10), || {
        metrics = common::http(port, "GET", "/metrics", None, b"").1;
        metrics.contains("linkledger_ledger_chain_seq")
    });
    let sealed: f64 = common::sql(
        &db,
        "SELECT max(seq) FROM ledger_chain WHERE chain IS NOT NULL",
    )
    .parse()
    .unwrap();
    let seq = common::metric_value(&metrics, "linkledger_ledger_chain_seq").unwrap();
    assert!(seq > 20.0 && seq <= sealed, "{seq} of {sealed}");
    assert_eq!(
        common::metric_value(&metrics, "linkledger_ledger_chain_breaks"),
        Some(0.0)
    );
    let checked = common::metric_value(
        &metrics,
        "linkledger_ledger_chain_last_verified_timestamp_seconds",
    )
    .unwrap();
    assert!((common::now_epoch() - checked).abs() < 60.0, "{checked}");
    let (code, page) = common::http(port, "GET", "/", None, b"");
    assert_eq!(code, 200);
    let shown = page
        .split_once("id=\"chain-head\"")
        .and_then(|(_, rest)| rest.split_once("<code>"))
        .and_then(|(_, rest)| rest.split_once("</code>"))
        .map(|(hash, _)| hash.to_string())
        .unwrap_or_else(|| panic!("no chain head on the status page: {page}"));
    assert!(page.contains("账本哈希链头"));
    assert_eq!(
        common::sql(
            &db,
            &format!("SELECT count(*) FROM ledger_chain WHERE chain = '{shown}'")
        ),
        "1",
        "the page's head {shown} is a link of the ledger"
    );
    stop(&mut daemon, &log);
    let mark = common::sql(
        &db,
        "SELECT reason FROM chain_marks WHERE kind = 'break_accepted'",
    );
    assert_eq!(mark.trim(), "restored from the carrier's copy, ticket 42");
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 1, "the break stays reported: {v}");
    assert_eq!(v["breaks"][0]["accepted"], true, "{v}");
    let mut again = common::start_loopback(&config, &log);
    wait_for(
        "a start after the acceptance",
        Duration::from_secs(20),
        || common::sql(&db, "SELECT count(*) FROM runs").trim() == "3",
    );
    stop(&mut again, &log);
}

/// The port `config` listens on.
fn port_of(config: &Path) -> u16 {
    let text = std::fs::read_to_string(config).unwrap();
    text.split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|p| p.parse().ok())
        .expect("a listen address on loopback")
}

/// SIGTERM and wait for the daemon to exit (its log shown if it does not).
fn stop(d: &mut common::Running, log: &Path) {
    let _ = Command::new("kill")
        .args(["-TERM", &d.0.id().to_string()])
        .status();
    for _ in 0..300 {
        if d.0.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "the daemon did not stop within 30 s of SIGTERM:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[tokio::test]
async fn deleted_inserted_and_swapped_rows_are_each_found_and_named() {
    // A row deleted: its links name a record that is gone.
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    tamper(
        &db,
        "DROP TRIGGER outages_never_deleted; PRAGMA foreign_keys = OFF; DELETE FROM outages WHERE id = 2;",
    )
    .await;
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 1);
    let b = breaks(&v);
    assert!(b.contains(&("gone".into(), "outages".into(), 2)), "{v}");
    assert!(
        b.iter()
            .all(|(_, table, id)| table == "outages" && *id == 2),
        "{v}"
    );
    assert_eq!(python(&db, &[]).0, 1);

    // A row inserted past its trigger: it has no link.
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    tamper(
        &db,
        "DROP TRIGGER gaps_chained; \
         INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES ('telecom', '2026-01-01T12:00:00.000Z', '2026-01-01T14:00:00.000Z', 'probe_failed', 1);",
    )
    .await;
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        breaks(&v),
        vec![("unchained".into(), "gaps".into(), 1)],
        "{v}"
    );

    // Two outages' contents swapped: both named.
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    tamper(
        &db,
        "DROP TRIGGER outages_only_closed; DROP INDEX outages_one_open_per_line; \
         UPDATE outages SET line = CASE id WHEN 1 THEN 'unicom' ELSE 'telecom' END WHERE id IN (1, 2);",
    )
    .await;
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 1);
    let b = breaks(&v);
    assert!(b.contains(&("changed".into(), "outages".into(), 1)), "{v}");
    assert!(b.contains(&("changed".into(), "outages".into(), 2)), "{v}");

    // Two links swapped in the chain's order: both named.
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    tamper(
        &db,
        "DROP TRIGGER ledger_chain_only_sealed; \
         UPDATE ledger_chain SET seq = -1 WHERE seq = 2; \
         UPDATE ledger_chain SET seq = 2 WHERE seq = 3; \
         UPDATE ledger_chain SET seq = 3 WHERE seq = -1;",
    )
    .await;
    let (code, v) = verify(&config, &[]);
    assert_eq!(code, 1);
    let seqs: Vec<i64> = v["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["seq"].as_i64())
        .collect();
    assert!(seqs.contains(&2) && seqs.contains(&3), "{v}");
    let (pcode, pout) = python(&db, &[]);
    assert_eq!(pcode, 1);
    assert!(pout.contains("BROKEN at link 2"), "{pout}");
}

#[tokio::test]
async fn a_reports_printed_head_pins_the_ledger_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    let report = common::report_json(&config, dir.path(), &["quarterly", "--quarter", "2026Q1"]);
    let chain = &report["chain"];
    // The records were chained today, after the quarter ended.
    assert_eq!(chain["at_period_end"], Value::Null, "{chain}");
    let head = chain["at_generation"]["chain"]
        .as_str()
        .unwrap()
        .to_string();
    let seq = chain["at_generation"]["seq"].as_i64().unwrap().to_string();
    // Every format prints it.
    for format in ["md", "html", "csv", "pdf"] {
        let out = dir.path().join(format!("q.{format}"));
        let (code, _, err) = cli(
            &config,
            &[
                "report",
                "quarterly",
                "--quarter",
                "2026Q1",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{err}");
        let text = if format == "pdf" {
            let o = Command::new("pdftotext")
                .arg(&out)
                .arg("-")
                .output()
                .expect("pdftotext (poppler-utils) runs");
            String::from_utf8_lossy(&o.stdout).into_owned()
        } else {
            std::fs::read_to_string(&out).unwrap()
        };
        assert!(
            text.contains(&head) && text.contains("账本哈希链") && text.contains("生成时链头序号"),
            "{format}: no head"
        );
    }
    let (code, v) = verify(&config, &["--head", &head, "--seq", &seq]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["pinned"]["holds"], true);
    assert_eq!(python(&db, &[&head, &seq]).0, 0);
    // Later records do not unpin it.
    let (code, _, err) = cli(
        &config,
        &[
            "fault",
            "note",
            "2",
            "--by",
            "Zhang Wei",
            "--at",
            "2026-01-01T11:05:00Z",
            "--note",
            "called",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(verify(&config, &["--head", &head, "--seq", &seq]).0, 0);

    // A forger with the file edits an outage and chains everything again:
    // the ledger verifies on its own, but no longer holds the history the
    // report pinned.
    tamper(
        &db,
        "DROP TRIGGER outages_only_closed; DROP TRIGGER ledger_chain_only_sealed; \
         UPDATE outages SET end_at = '2026-01-01T10:05:00.000Z' WHERE id = 1; \
         UPDATE ledger_chain SET chain = NULL, encoding = NULL;",
    )
    .await;
    // Any writing command seals what is not sealed, as the forger wants.
    let l = ledger::open(&db).await.unwrap();
    let v = chain::verify(&l, chain::Scope::All, None).await.unwrap();
    l.close().await;
    assert!(v.intact, "{:?}", v.breaks);
    let (code, v) = verify(&config, &["--head", &head, "--seq", &seq]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["pinned"]["holds"], false);
    assert_ne!(v["pinned"]["found"].as_str(), Some(head.as_str()));
    assert_eq!(python(&db, &[&head, &seq]).0, 1);
    // Usage mistakes exit 2.
    assert_eq!(
        cli(&config, &["verify", "--head", "abc", "--seq", "1"]).0,
        2
    );
    assert_eq!(cli(&config, &["verify", "--head", &head]).0, 2);
}

#[tokio::test]
async fn a_ledger_from_before_the_chain_is_chained_once_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let config = chained_ledger(dir.path()).await;
    let db = dir.path().join("ledger.db");
    let records = common::sql(
        &db,
        "SELECT (SELECT count(*) FROM ledger_chain) - (SELECT count(*) FROM chain_marks)",
    );
    // Back to the schema before the chain: its tables, triggers and
    // migration row gone, every record kept.
    let triggers = common::sql(
        &db,
        "SELECT group_concat('DROP TRIGGER ' || name || ';', ' ') FROM sqlite_master WHERE type = 'trigger' AND (name LIKE '%chained%' OR tbl_name IN ('ledger_chain', 'chain_marks'))",
    );
    tamper(
        &db,
        &format!(
            "{} DROP TABLE ledger_chain; DROP TABLE chain_marks; DELETE FROM _sqlx_migrations WHERE version = 17;",
            triggers.trim()
        ),
    )
    .await;
    // `verify` on it says what to do.
    let (code, _, err) = cli(&config, &["verify"]);
    assert_eq!(code, 1);
    assert!(err.contains("daemon's next start"), "{err}");

    let l = ledger::open(&db).await.unwrap();
    let v = chain::verify(&l, chain::Scope::All, None).await.unwrap();
    assert!(v.intact, "{:?}", v.breaks);
    assert_eq!(v.unsealed, 0);
    let marks = common::sql(&db, "SELECT kind || ' ' || detail FROM chain_marks");
    let n: i64 = records.trim().parse().unwrap();
    assert_eq!(
        marks.trim(),
        format!("chained_on_upgrade {{\"records\":{n}}}")
    );
    // Every record and completion, then the mark.
    assert_eq!(v.head.as_ref().unwrap().seq, n + 1);
    l.close().await;
    // A second start chains nothing again.
    let l = ledger::open(&db).await.unwrap();
    let again = chain::verify(&l, chain::Scope::All, None).await.unwrap();
    assert_eq!(again.head, v.head);
    l.close().await;
    assert_eq!(
        common::sql(&db, "SELECT count(*) FROM chain_marks").trim(),
        "1"
    );
    assert_eq!(verify(&config, &[]).0, 0);
}

/// Tables that hold no record of their own: measurements the records are
/// judged from, progress, or the chain itself.
const NOT_CHAINED: &[(&str, &str)] = &[
    (
        "probe_minutes",
        "per-minute probe counts, only ever added to",
    ),
    ("traffic_samples", "5-minute SNMP measurements"),
    ("quality_days", "day roll-ups of probe minutes"),
    ("quality_days_observed", "day roll-ups of probe minutes"),
    ("traffic_days", "day roll-ups of traffic samples"),
    (
        "vantage_rounds",
        "agents' raw rounds; the block outages judged from them are chained",
    ),
    ("vantage_target_sets", "agents' target lists"),
    (
        "block_judged",
        "how far the block judge got: progress, updated in place",
    ),
    ("notify_channels", "which notices a channel is owed"),
    ("ledger_chain", "the chain itself"),
];

#[tokio::test]
async fn every_table_is_chained_or_said_not_to_be() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    ledger::open(&db).await.unwrap().close().await;
    let tables = common::sql(
        &db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    );
    let triggers = common::sql(&db, "SELECT name FROM sqlite_master WHERE type = 'trigger'");
    let mut undecided = Vec::new();
    for table in tables.lines() {
        let chained = chain::CHAINED.iter().any(|(t, _)| *t == table);
        let not = NOT_CHAINED.iter().any(|(t, _)| *t == table);
        if chained == not {
            undecided.push(table.to_string());
        }
        if chained {
            assert!(
                triggers.lines().any(|t| t == format!("{table}_chained")),
                "{table} is chained but no trigger adds its links"
            );
        }
    }
    assert!(
        undecided.is_empty(),
        "tables neither chained (chain::CHAINED, a trigger in a migration) nor listed here as not: {undecided:?}"
    );
}
