//! The daemon on loopback (every 127.x address answers ICMP): metrics and
//! health over real HTTP, SIGHUP reloads, SIGTERM stops cleanly, and the CLI
//! reads the ledger while the daemon runs.

#![allow(clippy::disallowed_types)] // real-time orchestration of a child process

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{can_ping, metric_value, start_loopback, wait_every, wait_for, Running, BIN};

fn write_config(dir: &Path, port: u16, extra_line: bool) -> PathBuf {
    let demo = std::fs::read_to_string("config/demo.toml").unwrap();
    let mut text = demo
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {:?}", dir.join("ledger.db")),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"));
    if extra_line {
        text += "\n[[line]]\nid = \"mobile\"\ncarrier = \"China Mobile\"\nrole = \"member\"\nbandwidth_mbps = 300\nupstream = [\"127.0.4.1\"]\n";
    }
    let path = dir.join("linkledger.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let code = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
fn metrics_health_reload_and_clean_stop() {
    if !can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let log = dir.path().join("daemon.log");
    let mut daemon = start_loopback(&config, &log);
    wait_for("both lines up", Duration::from_secs(10), || {
        let (_, m) = get(port, "/metrics");
        ["telecom", "unicom"]
            .iter()
            .all(|l| metric_value(&m, &format!("linkledger_line_up{{line=\"{l}\"}}")) == Some(1.0))
    });
    let (code, health) = get(port, "/healthz");
    assert_eq!(code, 200, "{health}");

    let (_, m) = get(port, "/metrics");
    for family in [
        "linkledger_line_up",
        "linkledger_line_state",
        "linkledger_probe_rtt_seconds",
        "linkledger_probe_sent_total",
        "linkledger_probe_received_total",
        "linkledger_outages_total",
        "linkledger_downtime_charged_seconds",
        "linkledger_downtime_budget_seconds",
        "linkledger_downtime_budget_remaining_seconds",
        "linkledger_unobserved_seconds",
        "linkledger_build_info",
    ] {
        assert!(
            m.contains(&format!("# TYPE {family} ")),
            "{family} missing from /metrics"
        );
    }
    let one_hot: f64 = ["up", "down", "local_fault", "unobserved"]
        .iter()
        .map(|s| {
            metric_value(
                &m,
                &format!("linkledger_line_state{{line=\"telecom\",state=\"{s}\"}}"),
            )
            .unwrap()
        })
        .sum();
    assert_eq!(one_hot, 1.0);
    assert_eq!(
        metric_value(&m, "linkledger_downtime_budget_seconds{line=\"telecom\"}"),
        Some(14400.0)
    );
    assert_eq!(
        metric_value(
            &m,
            "linkledger_downtime_charged_seconds{line=\"telecom\",period=\"contract_year\"}"
        ),
        Some(0.0)
    );
    let rtt_count = metric_value(
        &m,
        "linkledger_probe_rtt_seconds_count{line=\"unicom\",target=\"::1\",tier=\"upstream\"}",
    );
    assert!(
        rtt_count.unwrap_or(0.0) >= 1.0,
        "IPv6 loopback probed: {rtt_count:?}"
    );

    // The CLI reads the ledger while the daemon runs.
    let out = Command::new(BIN)
        .args(["outages", "--json", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    // The config loaded at start counts as the last successful load.
    let reload_ok = |port| {
        metric_value(
            &get(port, "/metrics").1,
            "linkledger_config_last_reload_successful",
        )
    };
    let loaded_at = |port| {
        metric_value(
            &get(port, "/metrics").1,
            "linkledger_config_last_reload_success_timestamp_seconds",
        )
        .unwrap_or(0.0)
    };
    assert_eq!(reload_ok(port), Some(1.0));
    let started_at = loaded_at(port);
    assert!(started_at > 1.0e9, "loaded at {started_at}");

    // An invalid config on SIGHUP is rejected; the old one keeps serving.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, good.replace("down_after = 3", "down_after = 0")).unwrap();
    signal(&daemon.0, "HUP");
    wait_for("the rejection in the log", Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("config reload rejected")
    });
    assert_eq!(get(port, "/healthz").0, 200);
    // ... and the NOC sees it failed, while the last good load stays dated.
    wait_for(
        "the reload failure in /metrics",
        Duration::from_secs(5),
        || reload_ok(port) == Some(0.0),
    );
    assert_eq!(loaded_at(port), started_at);

    // A valid one with a new line is taken.
    write_config(dir.path(), port, true);
    signal(&daemon.0, "HUP");
    wait_for("the new line up", Duration::from_secs(10), || {
        metric_value(
            &get(port, "/metrics").1,
            "linkledger_line_up{line=\"mobile\"}",
        ) == Some(1.0)
    });
    assert_eq!(
        metric_value(
            &get(port, "/metrics").1,
            "linkledger_line_up{line=\"telecom\"}"
        ),
        Some(1.0)
    );
    assert_eq!(reload_ok(port), Some(1.0));
    assert!(loaded_at(port) > started_at);

    let stopping = Instant::now();
    signal(&daemon.0, "TERM");
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        stopping.elapsed()
    );
    // A clean stop is recorded, and the new line's configuration is in the history.
    let db = dir.path().join("ledger.db");
    assert_eq!(
        common::sql(
            &db,
            "SELECT count(*) FROM runs WHERE stopped_at IS NOT NULL"
        ),
        "1"
    );
    assert_eq!(
        common::sql(
            &db,
            "SELECT count(*) FROM line_configs WHERE line = 'mobile'"
        ),
        "1"
    );
}

#[test]
fn an_address_already_in_use_is_a_clear_error() {
    if !can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = write_config(dir.path(), busy.local_addr().unwrap().port(), false);
    let out = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot listen on 127.0.0.1:") && stderr.contains("daemon.listen"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("ledger.db").exists(),
        "no run is recorded when start-up fails"
    );
}

#[test]
fn traffic_report_from_five_minute_samples() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), common::free_port(), false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = dir.path().join("ledger.db");
        linkledger_ledger::open(&db).await.unwrap().close().await;
        let pool = common::raw_ledger(&db).await;
        // 40 samples on the 1000 Mbit/s line: inbound 20, 40, ... 800 Mbit/s.
        for i in 1..=40i64 {
            let start = chrono::DateTime::from_timestamp(1_767_225_600 + i * 300, 0).unwrap(); // from 2026-01-01T00:05Z
            sqlx::query(
                "INSERT INTO traffic_samples VALUES ('telecom', ?, 300, ?, ?, ?, ?, 0, 0, 0, 0)",
            )
            .bind(linkledger_core::time::ledger_ts(start))
            .bind(i as f64 * 20e6)
            .bind(5e6)
            .bind(i as f64 * 25e6)
            .bind(6e6)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    });
    let out = Command::new(BIN)
        .args([
            "traffic",
            "--line",
            "telecom",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--json",
            "-c",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v[0];
    assert_eq!(s["samples"], 40);
    // Sort, drop the top 5 % (2 of 40), take the next: 760 Mbit/s.
    assert_eq!(s["in"]["p95_bps"].as_f64(), Some(760e6));
    assert_eq!(s["in"]["max_bps"].as_f64(), Some(1000e6));
    assert_eq!(s["in"]["avg_bps"].as_f64(), Some(410e6));
    assert_eq!(s["out"]["p95_bps"].as_f64(), Some(5e6));
    assert_eq!(s["symmetry"], "untested");
    let advice = s["advice"].as_str().unwrap();
    assert!(
        advice.contains(
            "inbound traffic is 76 % of the contracted 1000 Mbit/s, above the 70 % threshold"
        ),
        "{advice}"
    );
    // The table form, and a bad date.
    let table = Command::new(BIN)
        .args([
            "traffic",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "-c",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("telecom      in       410.00    1000.00     760.00    76.0%"),
        "{text}"
    );
    let bad = Command::new(BIN)
        .args([
            "traffic",
            "--from",
            "2026-13-01",
            "--to",
            "2026-01-02",
            "-c",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("--from \"2026-13-01\": write a date as YYYY-MM-DD"));
}

#[test]
fn misbehaving_snmp_agents_are_counted_and_change_nothing_else() {
    if !can_ping() {
        return;
    }
    // One agent answers garbage, the other never answers.
    let garbage = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (garbage_port, silent_port) = (
        garbage.local_addr().unwrap().port(),
        silent.local_addr().unwrap().port(),
    );
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = garbage.recv_from(&mut buf) {
            let _ = garbage.send_to(&buf[..n / 2], from); // truncated
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let text = std::fs::read_to_string(&config).unwrap();
    let snmp = |p: u16| {
        format!("[line.snmp]\nagent = \"127.0.0.1:{p}\"\nversion = \"2c\"\ncommunity = \"x\"\nif_name = \"lo\"\ninterval = \"1s\"\ntimeout = \"200ms\"\nretries = 0\n\n")
    };
    let at = text.find("[[line]]\nid = \"unicom\"").unwrap();
    let text = format!(
        "{}{}{}\n{}",
        &text[..at],
        snmp(garbage_port),
        &text[at..],
        snmp(silent_port)
    );
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("daemon.log");
    let mut daemon = start_loopback(&config, &log);
    wait_for(
        "SNMP errors counted for both agents",
        Duration::from_secs(10),
        || {
            let (_, m) = get(port, "/metrics");
            metric_value(
                &m,
                "linkledger_snmp_poll_errors_total{line=\"telecom\",reason=\"malformed\"}",
            )
            .unwrap_or(0.0)
                >= 2.0
                && metric_value(
                    &m,
                    "linkledger_snmp_poll_errors_total{line=\"unicom\",reason=\"timeout\"}",
                )
                .unwrap_or(0.0)
                    >= 2.0
        },
    );
    // ICMP still decides: both lines declared up, no interface evidence,
    // healthy.
    wait_for("both lines declared up", Duration::from_secs(10), || {
        let (_, m) = get(port, "/metrics");
        ["telecom", "unicom"]
            .iter()
            .all(|l| metric_value(&m, &format!("linkledger_line_up{{line=\"{l}\"}}")) == Some(1.0))
    });
    let (_, m) = get(port, "/metrics");
    assert_eq!(
        metric_value(&m, "linkledger_line_up{line=\"telecom\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&m, "linkledger_line_up{line=\"unicom\"}"),
        Some(1.0)
    );
    assert_eq!(get(port, "/healthz").0, 200);
    signal(&daemon.0, "TERM");
    assert!(daemon.0.wait().unwrap().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("SNMP poll failed"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// What the daemon exposes passes `promtool check metrics` (Prometheus's
/// own lint: naming, units, `_total` counters, help texts), with SNMP,
/// alert channel and contract series present.
#[test]
fn the_live_metrics_pass_promtool_check_metrics() {
    if !can_ping() {
        return;
    }
    if !common::have_tool("promtool", "prometheus") {
        return;
    }
    // A real snmpd on loopback, so that the interface series exist too.
    let dir = tempfile::tempdir().unwrap();
    let snmp_port = common::free_port();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        format!("agentAddress udp:127.0.0.1:{snmp_port}\nrocommunity lint 127.0.0.1\n"),
    )
    .unwrap();
    let _snmpd = Running(
        Command::new("snmpd")
            .args(["-f", "-Ln", "-C", "-M", "/nonexistent", "-m", "", "-c"])
            .arg(&conf)
            .arg(format!(
                "--persistentDir={}",
                dir.path().join("persist").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start snmpd (apt-get install snmpd)"),
    );
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let text = std::fs::read_to_string(&config).unwrap()
        + &format!(
            "[line.snmp]\nagent = \"127.0.0.1:{snmp_port}\"\nversion = \"2c\"\ncommunity = \"lint\"\nif_name = \"lo\"\ninterval = \"1s\"\ntimeout = \"200ms\"\nretries = 0\n\n[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{}/x\"\n",
            common::free_port()
        );
    std::fs::write(&config, text).unwrap();
    let _daemon = start_loopback(&config, &dir.path().join("daemon.log"));
    let mut metrics = String::new();
    wait_for(
        "SNMP traffic and the outbox in the metrics",
        Duration::from_secs(15),
        || {
            metrics = get(port, "/metrics").1;
            metrics.contains("linkledger_interface_bytes_per_second{")
                && metrics.contains("linkledger_snmp_poll_duration_seconds_bucket{")
                && metrics.contains("linkledger_outbox_pending{channel=\"hook\"}")
                && metrics.contains("linkledger_downtime_charged_seconds{")
        },
    );
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lint =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && lint.trim().is_empty(),
        "promtool check metrics:\n{lint}"
    );
    let families = metrics
        .lines()
        .filter(|l| l.starts_with("# TYPE linkledger_"))
        .count();
    assert!(families >= 20, "only {families} metric families checked");
}

/// Every duration key at the top of its range (`bounds.rs`): check-config
/// accepts it, and the daemon's arithmetic on those times never panics:
/// `/metrics` (deadline horizons, burn windows), `/healthz` and the status
/// page answer, and the budget reads.
#[test]
fn every_duration_at_the_top_of_its_range_runs() {
    if !can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "annual_downtime_cap = \"4h\"",
            "annual_downtime_cap = \"366d\"\nresponse = \"30d\"\non_site = \"30d\"\nrepair_report = \"30d\"\nmaintenance_notice = \"90d\"\nresolution = { general = \"30d\", serious = \"30d\", major = \"30d\" }\ndegradation = { loss_window = \"1d\", rtt_window = \"1d\", utilisation_window = \"1d\" }",
        )
        .replace("interval = \"1s\"", "interval = \"1m\"")
        .replace("upstream_quorum = 1\n", "upstream_quorum = 1\nrtt_threshold = \"1m\"\n")
        + "\n[alerts]\ndeadline_lead = \"7d\"\nflap_window = \"7d\"\n\n[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nretry_max = \"1d\"\n";
    std::fs::write(&config, &text).unwrap();
    let check = Command::new(BIN)
        .args(["check-config", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check-config refused the top of every range: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let log = dir.path().join("daemon.log");
    let _daemon = start_loopback(&config, &log);
    wait_for("/healthz answering 200", Duration::from_secs(15), || {
        get(port, "/healthz").0 == 200
    });
    for path in ["/metrics", "/metrics", "/", "/healthz"] {
        let (code, body) = get(port, path);
        assert_eq!(code, 200, "{path} answered {code}: {body}");
    }
    let budget = common::budget_json(&config);
    assert_eq!(
        common::budget_line(&budget, "telecom")["cap_s"].as_f64(),
        Some(366.0 * 86400.0)
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("panicked"), "the daemon panicked:\n{log}");
}

/// A second daemon on a ledger already watched is refused, naming the
/// first (its pid); the CLI's writing commands still work beside the
/// running daemon; once the first is gone (even by SIGKILL) a daemon
/// starts on the ledger again.
#[test]
fn one_daemon_per_ledger_and_the_cli_beside_it() {
    if !can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let mut first = start_loopback(&config, &dir.path().join("first.log"));
    wait_for(
        "the first daemon's /healthz",
        Duration::from_secs(15),
        || get(port, "/healthz").0 == 200,
    );
    let port2 = common::free_port();
    let config2 = dir.path().join("second.toml");
    std::fs::write(
        &config2,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{port2}")),
    )
    .unwrap();
    let second_log = dir.path().join("refused.log");
    let mut second = start_loopback(&config2, &second_log);
    let mut status = None;
    wait_for("the second daemon to exit", Duration::from_secs(10), || {
        status = second.0.try_wait().unwrap();
        status.is_some()
    });
    let stderr = std::fs::read_to_string(&second_log).unwrap();
    assert!(
        !status.unwrap().success(),
        "the second daemon exited as if fine: {stderr}"
    );
    assert!(
        stderr.contains("another linkledger daemon is running on the ledger")
            && stderr.contains(&format!("pid {}", first.0.id())),
        "the refusal does not name the running daemon: {stderr}"
    );
    assert_eq!(get(port2, "/healthz").0, 0, "the second daemon listened");
    assert_eq!(
        get(port, "/healthz").0,
        200,
        "the first daemon was disturbed"
    );
    let drill = Command::new(BIN)
        .args(["drill", "add", "-c"])
        .arg(&config)
        .args([
            "--by",
            "Li Na",
            "--held-on",
            "2026-11-20",
            "--scenario",
            "telecom fibre cut",
            "--participant",
            "NOC",
            "--result",
            "failover in 40 s",
        ])
        .output()
        .unwrap();
    assert!(
        drill.status.success(),
        "a CLI write beside the daemon failed: {}",
        String::from_utf8_lossy(&drill.stderr)
    );
    let list = Command::new(BIN)
        .args(["drill", "list", "--json", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let drills: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(drills.as_array().map(Vec::len), Some(1), "{drills}");
    let _ = first.0.kill();
    let _ = first.0.wait();
    let _second = start_loopback(&config2, &dir.path().join("second.log"));
    wait_for(
        "a daemon on the ledger after the first was killed",
        Duration::from_secs(15),
        || get(port2, "/healthz").0 == 200,
    );
}

/// A storm of reloads (100 SIGHUPs in 10 s) neither bursts the probes nor
/// loses the line: no round comes sooner than one interval after the one
/// before, and the daemon is still up and answering after it.
#[test]
fn a_sighup_storm_never_speeds_up_the_rounds() {
    if !can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let daemon = start_loopback(&config, &dir.path().join("daemon.log"));
    let sample =
        "linkledger_probe_sent_total{line=\"telecom\",target=\"127.0.2.1\",tier=\"upstream\"}";
    let sent = || metric_value(&get(port, "/metrics").1, sample);
    wait_for("the first rounds", Duration::from_secs(15), || {
        sent().is_some_and(|n| n >= 2.0)
    });
    let (before, t0) = (sent().unwrap(), Instant::now());
    for _ in 0..100 {
        signal(&daemon.0, "HUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (after, elapsed) = (sent().unwrap(), t0.elapsed().as_secs_f64());
    // One round a second (probe.interval), and one more for where the
    // window starts within a second.
    assert!(
        after - before <= elapsed.floor() + 1.0,
        "{} rounds in {elapsed:.1} s of reloads",
        after - before
    );
    assert!(
        after - before >= elapsed.floor() - 3.0,
        "rounds were lost to the reloads: {} in {elapsed:.1} s",
        after - before
    );
    assert_eq!(get(port, "/healthz").0, 200);
}

/// A page damaged inside the ledger file is found at start, not by a query
/// an hour later: `check-ledger` lists the damage and exits 1, the daemon
/// refuses to start on it and says how to recover; a sound ledger checks
/// ok.
#[test]
fn a_damaged_ledger_is_found_at_start_and_by_check_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let db = dir.path().join("ledger.db");
    let rows: String = "INSERT INTO runs (id, started_at, heartbeat_at, stopped_at, version, config_path, interval_ms) VALUES (1, '2025-01-01T00:00:00.000Z', '2025-01-01T01:00:00.000Z', '2025-01-01T01:00:00.000Z', 'fixture', 'fixture', 1000);\n".to_string()
        + &(0..3000)
        .map(|i| {
            format!(
                "INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES ('telecom', '2025-01-01T00:00:{:02}.{:03}Z', '2025-01-01T00:01:00.000Z', 'probe_failed', 1);\n",
                i % 60,
                i % 1000
            )
        })
        .collect::<String>();
    common::write_ledger(&db, &rows);
    let check = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("-c")
            .arg(&config)
            .output()
            .unwrap()
    };
    let sound = check(&["check-ledger"]);
    assert!(
        sound.status.success() && String::from_utf8_lossy(&sound.stdout).contains(": ok"),
        "{}",
        String::from_utf8_lossy(&sound.stderr)
    );

    // Garbage inside the last pages (the gaps table's), not the header.
    assert!(
        !dir.path().join("ledger.db-wal").exists()
            || std::fs::metadata(dir.path().join("ledger.db-wal"))
                .unwrap()
                .len()
                == 0,
        "the write-ahead log was not checkpointed"
    );
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    assert!(pages > 20, "the ledger is only {} pages", pages);
    for p in pages - 10..pages {
        for b in &mut bytes[p * page + 100..p * page + 1100] {
            *b = 0xA5;
        }
    }
    std::fs::write(&db, &bytes).unwrap();

    let damaged = check(&["check-ledger"]);
    let out = String::from_utf8_lossy(&damaged.stdout).to_string()
        + &String::from_utf8_lossy(&damaged.stderr);
    assert_eq!(damaged.status.code(), Some(1), "{out}");
    assert!(out.contains("damaged"), "{out}");

    let started = Instant::now();
    let run = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "the daemon ran on a damaged ledger");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        stderr.contains("is damaged") && stderr.contains("latest backup"),
        "the refusal does not say how to recover: {stderr}"
    );
}

/// Slowloris against the listener: with the daemon at 256 open files,
/// 400 connections that send half a request head and then nothing must
/// not starve `/metrics` or the API: at the cap (half the file limit) the
/// connection that has waited longest is closed for the new one, counted
/// and logged; the daemon never runs out of files; and every connection
/// still without a whole head 10 s after it came is closed.
#[test]
fn a_slowloris_cannot_starve_metrics_or_health() {
    use std::io::{Read, Write};
    if !can_ping() || !common::have_tool("prlimit", "util-linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let log_path = dir.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let daemon = Running(
        Command::new("prlimit")
            .args(["--nofile=256:256", "--", BIN, "run", "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_for("/healthz", Duration::from_secs(15), || {
        get(port, "/healthz").0 == 200
    });
    let metrics = || get(port, "/metrics").1;
    assert_eq!(
        metric_value(&metrics(), "linkledger_http_connections_cap"),
        Some(128.0)
    );
    let open_files = || {
        std::fs::read_dir(format!("/proc/{}/fd", daemon.0.id()))
            .unwrap()
            .count()
    };
    let opened = Instant::now();
    let mut held = Vec::new();
    for _ in 0..400 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap();
        held.push(s);
    }
    let mut most_files = 0;
    for i in 0..20 {
        let t = Instant::now();
        let (code, body) = get(port, "/metrics");
        assert_eq!(code, 200, "/metrics during the slowloris, try {i}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(get(port, "/healthz").0, 200);
        let open = metric_value(&body, "linkledger_http_connections").unwrap();
        assert!(open <= 128.0, "{open} connections held over the cap");
        most_files = most_files.max(open_files());
    }
    assert!(
        most_files < 200,
        "{most_files} files open of 256 (connections are capped at 128)"
    );
    let body = metrics();
    let evicted = metric_value(
        &body,
        "linkledger_http_connections_dropped_total{reason=\"evicted_at_cap\"}",
    )
    .unwrap();
    assert!(evicted >= 250.0, "{evicted} evicted at the cap");
    let said = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        said.contains("connection cap"),
        "the cap being hit is not logged: {said}"
    );
    // The last held connections are closed once they have waited 10 s.
    let last = held.last_mut().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = last.read(&mut buf).unwrap_or(usize::MAX);
    let waited = opened.elapsed();
    assert_eq!(n, 0, "the server did not close the idle connection");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
        "closed after {waited:?}, not 10 s"
    );
    wait_for(
        "the idle connections closed",
        Duration::from_secs(5),
        || metric_value(&metrics(), "linkledger_http_connections").is_some_and(|n| n <= 2.0),
    );
    let timed_out = metric_value(
        &metrics(),
        "linkledger_http_connections_dropped_total{reason=\"header_timeout\"}",
    )
    .unwrap();
    assert!(timed_out >= 100.0, "{timed_out} closed for their headers");
}

/// SIGKILL in the middle of a minute: the minute so far is in the ledger
/// (its rounds are written every 5 s and added up), not lost with the
/// process; the next run adds its own rounds to the same minute.
#[test]
fn a_sigkill_keeps_the_minute_so_far() {
    if !can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = write_config(dir.path(), port, false);
    let mut daemon = start_loopback(&config, &dir.path().join("daemon.log"));
    wait_for("/healthz", Duration::from_secs(15), || {
        get(port, "/healthz").0 == 200
    });
    let first_round = common::now_epoch();
    // At least 20 s into a minute and into the run.
    wait_every(
        "20 s into a minute",
        Duration::from_secs(90),
        Duration::from_millis(100),
        || {
            let now = common::now_epoch();
            now % 60.0 >= 20.0 && now % 60.0 < 50.0 && now - first_round >= 20.0
        },
    );
    let killed = common::now_epoch();
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    let minute_start = (killed / 60.0).floor() * 60.0;
    let probed = (killed - minute_start.max(first_round)).floor();
    let sent: f64 = common::sql(
        &dir.path().join("ledger.db"),
        &format!(
            "SELECT COALESCE(SUM(sent), 0) FROM probe_minutes WHERE line = 'telecom' AND target = '127.0.2.1' \
             AND minute = strftime('%Y-%m-%dT%H:%M:00.000Z', {minute_start}, 'unixepoch')"
        ),
    )
    .parse()
    .unwrap();
    assert!(
        sent >= probed - 6.0 && sent <= probed + 1.0,
        "{sent} rounds of the minute in the ledger; about {probed} were probed before the kill"
    );
}
