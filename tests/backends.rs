//! The same ledger on SQLite and on PostgreSQL: the same story written by
//! the daemon's own writer gives the same figures in `budget`, `outages`
//! and the reports; PostgreSQL refuses every delete, truncation and
//! rewrite SQLite refuses; and `verify` names a record edited behind the
//! triggers' back on PostgreSQL as it does on SQLite.
// These tests drive the CLI in real time.
#![allow(clippy::disallowed_types)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_ledger::write::LedgerWrite;
use serde_json::Value;

use common::postgres::{Backend, TestLedger};
use common::BIN;

/// The demo config on `l`'s ledger.
fn config(dir: &Path, l: &TestLedger) -> PathBuf {
    let text = std::fs::read_to_string(common::repo().join("config/demo.toml"))
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {:?}", l.database),
        )
        .replace(
            "127.0.0.1:9798",
            &format!("127.0.0.1:{}", common::free_port()),
        );
    let path = dir.join("linkledger.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Two days of a contract's life, written by the daemon's writer: a
/// degradation that grows into an outage, an outage on the other line,
/// a second outage on the first, and a clean stop. Times are minutes
/// before `now`.
fn story(now: DateTime<Utc>) -> (DateTime<Utc>, Vec<LedgerWrite>) {
    let at = |m: i64| now - TimeDelta::minutes(m);
    let mut w = vec![LedgerWrite::DegradationStarted {
        line: "telecom".into(),
        kind: "loss",
        start: at(2 * 1440),
        detail: "loss 7.0 % over 5 min".into(),
    }];
    for (line, from, to) in [
        ("telecom", 2 * 1440 - 10, 2 * 1440 - 70),
        ("unicom", 1440, 1440 - 25),
        ("telecom", 600, 590),
    ] {
        w.push(LedgerWrite::OutageOpened {
            line: line.into(),
            start: at(from),
            start_after: Some(at(from) - TimeDelta::seconds(1)),
            cause: "upstream_unreachable",
        });
        w.push(LedgerWrite::OutageClosed {
            line: line.into(),
            end: at(to),
            end_after: at(to) - TimeDelta::seconds(1),
        });
        if from == 2 * 1440 - 10 {
            w.push(LedgerWrite::DegradationEnded {
                line: "telecom".into(),
                kind: "loss",
                end: at(to),
            });
        }
    }
    w.push(LedgerWrite::Stopped { at: at(60) });
    (at(3 * 1440), w)
}

async fn written(dir: &Path, l: &TestLedger, now: DateTime<Utc>) -> PathBuf {
    let path = config(dir, l);
    let c = Config::load_without_secrets(&path).unwrap();
    let (begun, writes) = story(now);
    common::written_ledger(&c, begun, "linkledger.toml", writes)
        .await
        .close()
        .await;
    path
}

/// Waits until the daemon logging to `log` has started its `n`th run.
fn wait_runs(log: &Path, n: usize) {
    common::wait_for(
        &format!("run {n} of the daemon"),
        std::time::Duration::from_secs(30),
        || std::fs::read_to_string(log).is_ok_and(|t| t.matches("linkledger running").count() >= n),
    );
}

/// SIGTERM, then the daemon's exit status.
fn stop(d: &mut common::Running) -> std::process::ExitStatus {
    let _ = Command::new("kill").arg(d.0.id().to_string()).status();
    d.0.wait().unwrap()
}

fn cli_json(config: &Path, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What differs between two ledgers of the same story by design: when a
/// figure was read or a report made (and the report's number, made from
/// that moment), where the ledger is, and the chain's
/// hashes (each link holds the time it was recorded).
fn without_moments(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in [
                "now",
                "generated_at",
                "generated",
                "report_number",
                "chain",
                "ledger",
                "database",
            ] {
                m.remove(k);
            }
            m.values_mut().for_each(without_moments);
        }
        Value::Array(a) => a.iter_mut().for_each(without_moments),
        _ => {}
    }
}

/// Where two JSON values first differ: the path and both values.
fn difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    format!("{at}.{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| difference(p, q, format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} and {b}")),
    }
}

/// Takes the budget's figures that move with the reading's moment out of
/// it: each view's unobserved seconds (returned) and projected breach.
fn moving(budget: &mut Value) -> Vec<f64> {
    let take = |v: &mut Value| {
        let m = v.as_object_mut().unwrap();
        m.remove("projected_breach");
        m.remove("unobserved_s").unwrap().as_f64().unwrap()
    };
    let mut out: Vec<f64> = budget["lines"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(take)
        .collect();
    out.push(take(&mut budget["egress"]));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_give_the_same_figures_for_the_same_story() {
    // In a quarter that is over (2026Q3, the demo contract's third year),
    // so that no figure moves with the moment it is read.
    let now: DateTime<Utc> = "2026-08-12T00:00:00Z".parse().unwrap();
    let (lite_dir, pg_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lite = TestLedger::new(Backend::Sqlite, lite_dir.path()).unwrap();
    let Some(pg) = TestLedger::new(Backend::Postgres, pg_dir.path()) else {
        return;
    };
    let lite_config = written(lite_dir.path(), &lite, now).await;
    let pg_config = written(pg_dir.path(), &pg, now).await;
    let mut shown = Vec::new();
    for (config, dir) in [(&lite_config, lite_dir.path()), (&pg_config, pg_dir.path())] {
        let mut budget = cli_json(config, &["budget", "--json", "--contract-year", "3"]);
        let mut outages = cli_json(config, &["outages", "--json"]);
        let mut faults = cli_json(config, &["fault", "list", "--json"]);
        let mut report = common::report_json(config, dir, &["quarterly", "--quarter", "2026Q3"]);
        for v in [&mut budget, &mut outages, &mut faults, &mut report] {
            without_moments(v);
        }
        shown.push((budget, outages, faults, report));
    }
    let (l, p) = (&shown[0], &shown[1]);
    assert_eq!(
        l.1.as_array().unwrap().len(),
        3,
        "the story's three outages: {}",
        l.1
    );
    // The budget's year runs to the moment it is read (while it lasts):
    // the unobserved time and the projection move on between the two
    // reads, by no more than the seconds between them.
    let (mut lb, mut pb) = (l.0.clone(), p.0.clone());
    for (a, b) in moving(&mut lb).into_iter().zip(moving(&mut pb)) {
        assert!((a - b).abs() < 30.0, "unobserved {a} s and {b} s");
    }
    for (what, a, b) in [
        ("budget --json", &lb, &pb),
        ("outages --json", &l.1, &p.1),
        ("fault list --json", &l.2, &p.2),
        ("the quarterly report's JSON", &l.3, &p.3),
    ] {
        if let Some(d) = difference(a, b, String::new()) {
            panic!("{what}: SQLite and PostgreSQL differ at {d}");
        }
    }
    // Both chains verify, with as many links.
    let lite_v = cli_json(&lite_config, &["verify", "--json"]);
    let pg_v = cli_json(&pg_config, &["verify", "--json"]);
    assert_eq!(lite_v["intact"], true, "{lite_v}");
    assert_eq!(pg_v["intact"], true, "{pg_v}");
    assert_eq!(lite_v["head"]["seq"], pg_v["head"]["seq"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_deletes_truncations_and_rewrites_and_verify_names_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(Backend::Postgres, dir.path()) else {
        return;
    };
    let config = written(dir.path(), &l, linkledger_ledger::clock::wall_now()).await;
    let pg = l.pg.as_ref().unwrap();
    let tables: Vec<String> = pg
        .sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(tables.len() >= 30, "{tables:?}");
    let mut with_rows = 0;
    for t in &tables {
        let truncate = pg.sql(&format!("TRUNCATE {t} CASCADE")).unwrap_err();
        assert!(truncate.contains("never"), "TRUNCATE {t}: {truncate}");
        let rows: i64 = pg
            .sql(&format!("SELECT count(*) FROM {t}"))
            .unwrap()
            .parse()
            .unwrap();
        if rows > 0 {
            with_rows += 1;
            let delete = pg.sql(&format!("DELETE FROM {t}")).unwrap_err();
            assert!(delete.contains("never"), "DELETE FROM {t}: {delete}");
        }
    }
    assert!(with_rows >= 8, "the story's tables: {with_rows}");
    let rewrite = pg
        .sql("UPDATE outages SET end_at = '2020-01-01T00:00:00.000Z' WHERE id = 1")
        .unwrap_err();
    assert!(rewrite.contains("never rewritten"), "{rewrite}");
    assert_eq!(cli_json(&config, &["verify", "--json"])["intact"], true);

    // Someone with the database's owner role edits an outage's end past
    // its trigger: verify names it.
    let end = pg.sql("SELECT end_at FROM outages WHERE id = 1").unwrap();
    pg.sql(
        "ALTER TABLE outages DISABLE TRIGGER USER; \
         UPDATE outages SET end_at = '2020-01-01T00:00:00.000Z' WHERE id = 1; \
         ALTER TABLE outages ENABLE TRIGGER USER",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["verify", "--json", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let named = v["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["table"] == "outages" && b["record_id"] == 1)
        .unwrap_or_else(|| panic!("the edited outage is not named: {v}"));
    let detail = named["detail"].as_str().unwrap();
    assert!(
        detail.contains("end_at")
            && detail.contains(&end)
            && detail.contains("2020-01-01T00:00:00.000Z"),
        "{detail}"
    );
}

/// Two daemons on one PostgreSQL ledger from two hosts (here: two folders,
/// so no shared lock file): the second is refused, naming the first; once
/// the first has stopped, it starts.
#[test]
fn a_second_daemon_on_a_postgresql_ledger_is_refused() {
    if !common::can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(Backend::Postgres, dir.path()) else {
        return;
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (config_a, config_b) = (config(&a, &l), config(&b, &l));
    let log_a = a.join("daemon.log");
    let mut first = common::start_loopback(&config_a, &log_a);
    wait_runs(&log_a, 1);
    let second = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&config_b)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(
        err.contains("another linkledger daemon writes this PostgreSQL ledger")
            && err.contains("linkledger daemon: pid "),
        "{err}"
    );
    let runs =
        l.pg.as_ref()
            .unwrap()
            .sql("SELECT count(*) FROM runs")
            .unwrap();
    assert_eq!(runs, "1", "the refused daemon recorded no run");
    stop(&mut first);
    let log_b = b.join("daemon.log");
    let _second = common::start_loopback(&config_b, &log_b);
    wait_runs(&log_b, 1);
}

/// An SQLite ledger moved to PostgreSQL with `linkledger migrate`: every
/// row and the chain head come across, the figures are the same from
/// either, a second run changes nothing, a daemon goes on writing the
/// copy (its keys after the copied ones), and a database holding another
/// ledger is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_ledger_migrates_to_postgresql_once() {
    let now: DateTime<Utc> = "2026-08-12T00:00:00Z".parse().unwrap();
    let (lite_dir, pg_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lite = TestLedger::new(Backend::Sqlite, lite_dir.path()).unwrap();
    let Some(pg) = TestLedger::new(Backend::Postgres, pg_dir.path()) else {
        return;
    };
    let lite_config = written(lite_dir.path(), &lite, now).await;
    let pg_config = config(pg_dir.path(), &pg);
    let migrate = || {
        Command::new(BIN)
            .args(["migrate", "--from", &lite.database, "--to", &pg.database])
            .output()
            .unwrap()
    };
    let first = migrate();
    let said = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let lite_v = cli_json(&lite_config, &["verify", "--json"]);
    let head = lite_v["head"]["chain"].as_str().unwrap();
    assert!(said.contains("copied") && said.contains(head), "{said}");
    let pg_v = cli_json(&pg_config, &["verify", "--json"]);
    assert_eq!(pg_v["intact"], true, "{pg_v}");
    assert_eq!(pg_v["head"], lite_v["head"]);
    for args in [
        &["outages", "--json"][..],
        &["fault", "list", "--json"],
        &["gaps", "--json"],
    ] {
        assert_eq!(
            cli_json(&lite_config, args),
            cli_json(&pg_config, args),
            "{args:?}"
        );
    }
    // Again: nothing to do.
    let again = migrate();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing copied"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let db = pg.pg.as_ref().unwrap();
    let runs = db.sql("SELECT count(*) FROM runs").unwrap();
    // The daemon's writer goes on in the copy: new keys follow the copied.
    let c = Config::load_without_secrets(&pg_config).unwrap();
    common::written_ledger(
        &c,
        now,
        "linkledger.toml",
        vec![LedgerWrite::Stopped {
            at: now + TimeDelta::minutes(5),
        }],
    )
    .await
    .close()
    .await;
    let after: i64 = db.sql("SELECT max(id) FROM runs").unwrap().parse().unwrap();
    assert_eq!(after, runs.parse::<i64>().unwrap() + 1);
    assert_eq!(cli_json(&pg_config, &["verify", "--json"])["intact"], true);
    // The copy has moved on: the SQLite ledger is no longer its source.
    let refused = migrate();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("already holds a ledger that is not this one"),
        "{err}"
    );
}

/// The PostgreSQL server stops for 15 s under a running daemon and comes
/// back: the daemon keeps probing, queues its writes (the pending-writes
/// gauge shows them), writes them once the server answers, and stops
/// cleanly; the ledger records one run and no gap, every minute of
/// probing is there, and the chain verifies.
#[test]
fn a_postgresql_restart_under_a_running_daemon_loses_nothing() {
    if !common::can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(pg) = common::postgres::database_of_its_own() else {
        return;
    };
    let l = TestLedger {
        database: pg.url.clone(),
        backend: Backend::Postgres,
        pg: None,
    };
    let config = config(dir.path(), &l);
    let port = {
        let c = Config::load_without_secrets(&config).unwrap();
        c.daemon.listen.port()
    };
    let log = dir.path().join("daemon.log");
    let mut d = common::start_loopback(&config, &log);
    let metric = |name: &str| {
        let (_, body) = common::http(port, "GET", "/metrics", None, b"");
        common::metric_value(&body, name)
    };
    common::wait_for(
        "the daemon to run",
        std::time::Duration::from_secs(30),
        || metric("linkledger_ledger_pending_writes").is_some(),
    );
    common::sleep(3.0);
    pg.server(false);
    let mut most = 0.0f64;
    let down = std::time::Instant::now();
    while down.elapsed() < std::time::Duration::from_secs(15) {
        most = most.max(metric("linkledger_ledger_pending_writes").unwrap_or(0.0));
        common::sleep(0.5);
    }
    assert!(
        most >= 3.0,
        "writes queued while the server was away: {most}"
    );
    pg.server(true);
    common::wait_for(
        "the backlog to be written",
        std::time::Duration::from_secs(60),
        || metric("linkledger_ledger_pending_writes") == Some(0.0),
    );
    // The daemon's hold on the ledger, lost with the server, is taken again.
    common::wait_for(
        "the hold to be taken again",
        std::time::Duration::from_secs(20),
        || {
            std::fs::read_to_string(&log)
                .is_ok_and(|t| t.contains("hold on the PostgreSQL ledger is taken again"))
        },
    );
    assert!(
        stop(&mut d).success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let q = |sql: &str| pg.sql(sql).unwrap();
    assert_eq!(
        q("SELECT count(*) FROM runs WHERE stopped_at IS NOT NULL"),
        "1"
    );
    assert_eq!(q("SELECT count(*) FROM runs"), "1");
    assert_eq!(
        q("SELECT count(*) FROM gaps"),
        "0",
        "the daemon never stopped watching"
    );
    // Probing went on while the server was away: every second of the run
    // is in the minute rows of one target, each minute once.
    let sent: f64 = q("SELECT sum(sent) FROM probe_minutes WHERE tier = 'upstream' AND target = (SELECT min(target) FROM probe_minutes WHERE tier = 'upstream')").parse().unwrap();
    let span: f64 = q(
        "SELECT extract(epoch FROM (stopped_at::timestamptz - started_at::timestamptz)) FROM runs",
    )
    .parse()
    .unwrap();
    assert!(
        sent >= span - 3.0 && sent <= span + 1.0,
        "{sent} echoes over a run of {span} s"
    );
    let v = cli_json(&config, &["verify", "--json"]);
    assert_eq!(v["intact"], true, "{v}");

    // Stopped while the server is away: what cannot be written is kept in
    // the journal beside the state folder, and replayed at the next start.
    let mut d = common::start_loopback(&config, &log);
    wait_runs(&log, 2);
    common::sleep(2.0);
    pg.server(false);
    common::sleep(3.0);
    stop(&mut d);
    let c = Config::load_without_secrets(&config).unwrap();
    let journal = linkledger_ledger::write::journal::journal_path(&c.daemon.database);
    let kept = std::fs::read(&journal).unwrap_or_default();
    assert!(
        kept.iter().any(|b| *b != 0),
        "writes kept in {}",
        journal.display()
    );
    pg.server(true);
    let mut d = common::start_loopback(&config, &log);
    wait_runs(&log, 3);
    stop(&mut d);
    let replayed: i64 = q("SELECT sum(writes) FROM journal_replays")
        .parse()
        .unwrap();
    assert!(replayed > 0, "the kept writes replayed once");
    assert_eq!(q("SELECT count(*) FROM journal_replays"), "1");
    assert_eq!(
        q("SELECT count(*) FROM runs WHERE stopped_at IS NOT NULL"),
        "3"
    );
    let v = cli_json(&config, &["verify", "--json"]);
    assert_eq!(v["intact"], true, "{v}");
}

/// The pair's fence, inside PostgreSQL: a daemon writes under the lease's
/// token; once another instance takes the lease over, every write under
/// the old token is refused (and its renewal fails), a standby's writes
/// are refused, and connections that carry no token (the CLI, an operator)
/// are not fenced at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leaders_writes_are_refused_by_the_fence() {
    use linkledger_ledger::lease::{self, LeaseClient};
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(Backend::Postgres, dir.path()) else {
        return;
    };
    let length = std::time::Duration::from_secs(2);
    let a = linkledger_ledger::open_postgres(&l.database, None)
        .await
        .unwrap();
    let b = linkledger_ledger::open_postgres(&l.database, None)
        .await
        .unwrap();
    let (mut lease_a, mut lease_b) = (
        LeaseClient::new(&a, length).unwrap(),
        LeaseClient::new(&b, length).unwrap(),
    );
    let first = lease_a.take("monitor-a (pid 1)", None).await.unwrap();
    assert_eq!(first, Some(1));
    assert_eq!(
        lease_b.take("monitor-b (pid 2)", None).await.unwrap(),
        None,
        "the lease is taken only once"
    );
    let now = linkledger_ledger::clock::wall_now();
    let begin = |db: linkledger_ledger::Ledger| async move {
        linkledger_ledger::run::begin(&db, now, "test.toml", 1000, &[]).await
    };
    a.set_fence(1);
    begin(a.clone()).await.expect("the leader writes");
    b.set_fence(lease::STANDBY);
    let err = begin(b.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains("fenced: this linkledger daemon is the standby"),
        "{err}"
    );
    // b takes over from the lease as it saw it.
    let seen = lease_b.read().await.unwrap().unwrap();
    assert_eq!(seen.holder, "monitor-a (pid 1)");
    assert!(lease_a.renew(1).await.unwrap(), "still a's");
    assert_eq!(
        lease_b
            .take("monitor-b (pid 2)", Some(&seen))
            .await
            .unwrap(),
        None,
        "renewed since it was seen: not taken"
    );
    let seen = lease_b.read().await.unwrap().unwrap();
    assert_eq!(
        lease_b
            .take("monitor-b (pid 2)", Some(&seen))
            .await
            .unwrap(),
        Some(2)
    );
    b.set_fence(2);
    begin(b.clone()).await.expect("the new leader writes");
    let err = begin(a.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains("fenced: lease token 1 no longer leads this ledger"),
        "{err}"
    );
    assert!(!lease_a.renew(1).await.unwrap(), "a is deposed");
    let runs =
        l.pg.as_ref()
            .unwrap()
            .sql("SELECT count(*) FROM runs")
            .unwrap();
    assert_eq!(runs, "2", "the refused writes left nothing");
    // The CLI's connections carry no token.
    let cli = linkledger_ledger::open_postgres(&l.database, None)
        .await
        .unwrap();
    begin(cli).await.expect("not fenced");
    // A clean stop lets the lease go.
    lease_b.release(2).await.unwrap();
    let row = lease_a.read().await.unwrap().unwrap();
    assert!(row.released && row.expired, "{row:?}");
    // The token never goes back, and the row stays: a deposed leader's
    // token never leads again.
    let pg = l.pg.as_ref().unwrap();
    for sql in [
        "UPDATE leadership SET token = 1",
        "DELETE FROM leadership",
        "TRUNCATE leadership",
    ] {
        let err = pg.sql(sql).unwrap_err();
        assert!(err.contains("never"), "{sql}: {err}");
    }
}
