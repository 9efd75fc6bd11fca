//! The operator API over real HTTP on a daemon running on loopback: every
//! role against every endpoint, every rejection (401, 403, 404, 409, 413,
//! 400, 422), nothing written by a rejected request, and the audit log
//! holding exactly the accepted actions. The ledger is seeded with two
//! closed outages (so two faults exist) before the daemon starts.

#![allow(clippy::disallowed_types)] // real-time orchestration of a child process

mod common;

use common::postgres::{Backend, TestLedger};
use common::wait_for;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use linkledger_config::Config;
use linkledger_ledger::write::LedgerWrite;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_linkledger");
const VIEWER: &str = "viewer-token-0123456789abcdef";
const OPERATOR: &str = "operator-token-0123456789abcdef";
const MANAGER: &str = "manager-token-0123456789abcdef";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, port: u16, tokens: bool) -> PathBuf {
    write_config_on(
        dir,
        &dir.join("ledger.db").display().to_string(),
        port,
        tokens,
    )
}

/// The demo config on the ledger `database` (a file or a PostgreSQL URL).
fn write_config_on(dir: &Path, database: &str, port: u16, tokens: bool) -> PathBuf {
    let mut text = std::fs::read_to_string("config/demo.toml")
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {database:?}"),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"));
    if tokens {
        std::fs::write(dir.join("manager.token"), format!("{MANAGER}\n")).unwrap();
        text += &format!(
            "\n[api]\n[[api.token]]\nname = \"noc-wall\"\nrole = \"viewer\"\ntoken = \"{VIEWER}\"\n\
             [[api.token]]\nname = \"noc-duty\"\nrole = \"operator\"\ntoken_env = \"LL_TEST_OPERATOR_TOKEN\"\n\
             [[api.token]]\nname = \"contract-manager\"\nrole = \"manager\"\ntoken_file = {:?}\n",
            dir.join("manager.token")
        );
    }
    let path = dir.join("linkledger.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Two closed outages in January: fault 1 (telecom) and fault 2 (unicom).
fn seed(config: &Path) {
    let c = Config::load(config).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut writes = Vec::new();
        for (line, from, to) in [("telecom", "01:00", "01:20"), ("unicom", "03:00", "03:10")] {
            writes.push(LedgerWrite::OutageOpened {
                line: line.into(),
                start: t(&format!("2026-01-01T{from}:00Z")),
                start_after: None,
                cause: "upstream_unreachable",
            });
            writes.push(LedgerWrite::OutageClosed {
                line: line.into(),
                end: t(&format!("2026-01-01T{to}:00Z")),
                end_after: t(&format!("2026-01-01T{to}:00Z")),
            });
        }
        writes.push(LedgerWrite::Stopped {
            at: t("2026-01-01T04:00:00Z"),
        });
        let pool = common::written_ledger(&c, t("2026-01-01T00:00:00Z"), "seed", writes).await;
        pool.close().await;
    });
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &Path, log: &Path) -> Running {
    Running(
        Command::new(BIN)
            .args(["run", "-c"])
            .arg(config)
            .env("LL_TEST_OPERATOR_TOKEN", OPERATOR)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// The daemon on a ledger seeded with two faults, its API tokens
/// configured, listening: its port and the process.
fn seeded_daemon(dir: &tempfile::TempDir) -> (u16, Running) {
    seeded_daemon_on(dir, &dir.path().join("ledger.db").display().to_string())
}

/// [`seeded_daemon`] on the ledger `database`.
fn seeded_daemon_on(dir: &tempfile::TempDir, database: &str) -> (u16, Running) {
    let port = free_port();
    // Seeded through a config without tokens (the operator's comes from
    // the daemon's environment only).
    seed(&write_config_on(dir.path(), database, port, false));
    let config = write_config_on(dir.path(), database, port, true);
    let daemon = start(&config, &dir.path().join("daemon.log"));
    wait_for("the listener", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (port, daemon)
}

/// One HTTP/1.1 request; returns the status and the body as JSON (or a string).
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, Value) {
    let (code, body) = common::http(port, method, path, token, body.unwrap_or_default());
    assert_ne!(code, 0, "cannot reach the daemon on port {port}");
    (
        code,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn get(port: u16, path: &str, token: Option<&str>) -> (u16, Value) {
    request(port, "GET", path, token, None)
}

fn post(port: u16, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    request(port, "POST", path, token, Some(body.to_string().as_bytes()))
}

fn error_of(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

on_both_backends_sync!(every_role_against_every_endpoint_and_every_rejection);

fn every_role_against_every_endpoint_and_every_rejection(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(ledger) = TestLedger::new(backend, dir.path()) else {
        return;
    };
    let (port, _daemon) = seeded_daemon_on(&dir, &ledger.database);

    // The daemon checks every fault's deadlines as it starts: fault 1's
    // repair report (due 8 h after its January resolution) is breached.
    wait_for(
        "the breaches found at start",
        Duration::from_secs(10),
        || {
            let (_, m) = request(port, "GET", "/metrics", None, None);
            m.as_str().unwrap_or_default().contains(
            "linkledger_fault_deadline_breaches_total{class=\"general\",deadline=\"repair_report\",line=\"telecom\"} 1",
        )
        },
    );

    let reads = [
        "/api/v1/faults",
        "/api/v1/faults/1",
        "/api/v1/faults?line=telecom&state=resolved",
        "/api/v1/exclusions",
        "/api/v1/maintenance",
        "/api/v1/drills",
        "/api/v1/budget",
        "/api/v1/audit",
    ];
    for path in reads {
        assert_eq!(get(port, path, None).0, 401, "{path} without a token");
        assert_eq!(
            get(port, path, Some("not-a-token-at-all-000")).0,
            401,
            "{path} with a bad token"
        );
        for tok in [VIEWER, OPERATOR, MANAGER] {
            let (code, body) = get(port, path, Some(tok));
            assert_eq!(code, 200, "{path}: {body}");
        }
    }
    let (_, faults) = get(port, "/api/v1/faults", Some(VIEWER));
    assert_eq!(faults.as_array().unwrap().len(), 2, "{faults}");
    assert_eq!(faults[0]["class"], "general");
    assert_eq!(faults[0]["line"], "telecom");

    let when = "2026-01-01T01:05:00Z";
    let note = json!({"by": "Zhang Wei", "note": "carrier called back"});
    let exclusion = json!({
        "by": "Li Na", "line": "telecom", "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T01:10:00Z",
        "reason": "typhoon", "evidence": "carrier notice 2026-001", "approved_by": "District IT office"
    });
    let maintenance = json!({
        "by": "Li Na", "line": "unicom", "start": "2026-02-01T01:00:00Z", "end": "2026-02-01T02:00:00Z",
        "notice_at": "2026-01-01T01:00:00Z", "consented": true, "reference": "CU-2026-7"
    });
    let drill = json!({"by": "Zhang Wei", "held_on": "2026-01-15", "scenario": "telecom line cut",
        "participants": ["Zhang Wei", "Wang Fang"], "result": "failover in 40 s"});
    let withdraw = json!({"by": "Li Na", "reason": "entered in error"});
    // (path, body, least role that may, for each role: the status it gets)
    let writes: Vec<(String, Value, [u16; 3])> = vec![
        (
            "/api/v1/faults/1/ack".into(),
            json!({"by": "Zhang Wei", "at": when}),
            [403, 201, 409],
        ),
        (
            "/api/v1/faults/1/on-site".into(),
            json!({"by": "Zhang Wei", "at": "2026-01-01T01:15:00Z"}),
            [403, 201, 409],
        ),
        (
            "/api/v1/faults/1/carrier-ticket".into(),
            json!({"by": "Zhang Wei", "reference": "CT-0001"}),
            [403, 201, 201],
        ),
        (
            "/api/v1/faults/1/note".into(),
            note.clone(),
            [403, 201, 201],
        ),
        (
            "/api/v1/faults/1/repair-report".into(),
            json!({"by": "Zhang Wei", "at": "2026-01-01T05:00:00Z", "reference": "RR-1"}),
            [403, 201, 409],
        ),
        (
            // Fault 2's half-year is over: a reclassification is a correction.
            "/api/v1/faults/2/reclassify".into(),
            json!({"by": "Li Na", "class": "serious", "reason": "both anchors lost", "correction": "carrier ticket shows a serious fault"}),
            [403, 403, 201],
        ),
        (
            "/api/v1/exclusions".into(),
            exclusion.clone(),
            [403, 403, 201],
        ),
        (
            "/api/v1/exclusions/1/withdraw".into(),
            withdraw.clone(),
            [403, 403, 201],
        ),
        ("/api/v1/maintenance".into(), maintenance, [403, 403, 201]),
        (
            "/api/v1/maintenance/1/withdraw".into(),
            withdraw.clone(),
            [403, 403, 201],
        ),
        ("/api/v1/drills".into(), drill, [403, 201, 201]),
    ];
    let mut accepted = 0;
    for (path, body, expected) in &writes {
        assert_eq!(
            post(port, path, None, body).0,
            401,
            "{path} without a token"
        );
        for (tok, want) in [VIEWER, OPERATOR, MANAGER].iter().zip(expected) {
            let (code, resp) = post(port, path, Some(tok), body);
            assert_eq!(code, *want, "{path} as {tok}: {resp}");
            assert!(
                !error_of(&resp).is_empty() || code == 201,
                "{path}: an error says what is wrong: {resp}"
            );
            accepted += usize::from(code == 201);
        }
    }
    let (_, f1) = get(port, "/api/v1/faults/1", Some(VIEWER));
    let states: Vec<&str> = f1["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["met", "met", "met", "met"], "{f1}");
    assert_eq!(f1["carrier_ticket"], "CT-0001");
    // Its repair report was marked breached when the daemon started (due
    // 09:20 in January, nothing recorded); recorded late as received at
    // 05:00, it withdraws that breach, and both stay in the timeline.
    let events: Vec<(&str, &str)> = f1["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["deadline"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        events.contains(&("deadline_breached", "repair_report")),
        "{events:?}"
    );
    assert!(
        events.contains(&("breach_withdrawn", "repair_report")),
        "{events:?}"
    );
    let (_, f2) = get(port, "/api/v1/faults/2", Some(VIEWER));
    assert_eq!(f2["class"], "serious");
    assert_eq!(f2["corrections"][0]["to"], "serious");

    // Rejections, each with a message, none of which writes anything.
    let big = json!({"by": "x", "note": "n".repeat(70 * 1024)});
    let rejections: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/api/v1/faults/1/note",
            big.to_string().into_bytes(),
            413,
            "over 64 KiB",
        ),
        (
            "/api/v1/faults/1/note",
            b"{\"by\": \"x\", \"note\": ".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "/api/v1/faults/1/note",
            json!({"by": "x", "note": "n", "colour": "red"})
                .to_string()
                .into_bytes(),
            400,
            "unknown field `colour`",
        ),
        (
            "/api/v1/faults/1/note",
            b"[1, 2]".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "/api/v1/faults/99/note",
            note.to_string().into_bytes(),
            404,
            "no fault 99",
        ),
        (
            "/api/v1/faults/abc/note",
            note.to_string().into_bytes(),
            400,
            "not an id",
        ),
        (
            "/api/v1/faults/1/explode",
            note.to_string().into_bytes(),
            404,
            "no fault action",
        ),
        (
            "/api/v1/faults/2/on-site",
            json!({"by": "x", "at": "2026-01-01T04:00:00Z"})
                .to_string()
                .into_bytes(),
            409,
            "was resolved at",
        ),
        (
            "/api/v1/faults/2/ack",
            json!({"by": "x", "at": "2026-01-01T02:00:00Z"})
                .to_string()
                .into_bytes(),
            422,
            "before the fault was detected",
        ),
        (
            "/api/v1/faults/1/note",
            json!({"by": "", "note": "n"}).to_string().into_bytes(),
            422,
            "by must not be empty",
        ),
        (
            "/api/v1/exclusions",
            {
                let mut e = exclusion.clone();
                e["end"] = json!("2026-01-01T00:00:00Z");
                e.to_string().into_bytes()
            },
            422,
            "ends (2026-01-01T00:00:00.000Z) before it starts",
        ),
        (
            "/api/v1/exclusions",
            {
                let mut e = exclusion.clone();
                e["start"] = json!("yesterday");
                e.to_string().into_bytes()
            },
            400,
            "invalid JSON body at `start`: input contains invalid characters",
        ),
        (
            "/api/v1/exclusions/7/withdraw",
            withdraw.to_string().into_bytes(),
            404,
            "no exclusion 7",
        ),
        (
            "/api/v1/exclusions/1/withdraw",
            withdraw.to_string().into_bytes(),
            409,
            "already withdrawn",
        ),
        (
            "/api/v1/faults/2/reclassify",
            json!({"by": "x", "class": "huge", "reason": "r"})
                .to_string()
                .into_bytes(),
            400,
            "unknown variant `huge`",
        ),
    ];
    for (path, body, want, message) in rejections {
        let (code, resp) = request(port, "POST", path, Some(MANAGER), Some(&body));
        assert_eq!(code, want, "{path}: {resp}");
        if want != 413 || !error_of(&resp).is_empty() {
            assert!(
                error_of(&resp).contains(message),
                "{path}: {resp} should say {message:?}"
            );
        }
    }
    assert_eq!(get(port, "/api/v1/nothing", Some(VIEWER)).0, 404);

    // The audit log holds exactly the accepted actions, with who and how.
    let (_, audit) = get(port, "/api/v1/audit", Some(VIEWER));
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), accepted, "{audit:#?}");
    assert_eq!(accepted, 14);
    let by_token: Vec<&str> = audit.iter().map(|a| a["via"].as_str().unwrap()).collect();
    assert!(
        by_token.contains(&"api:noc-duty") && by_token.contains(&"api:contract-manager"),
        "{by_token:?}"
    );
    assert!(
        !by_token.contains(&"api:noc-wall"),
        "the viewer wrote nothing"
    );
    assert_eq!(audit[0]["action"], "acknowledged");
    assert_eq!(audit[0]["subject"], "fault/1");
    assert_eq!(audit[0]["actor"], "Zhang Wei");
    let rows = |table: &str| -> i64 {
        let count = format!("SELECT count(*) FROM {table}");
        let out = match &ledger.pg {
            Some(pg) => pg.sql(&count).unwrap(),
            None => {
                let out = Command::new("python3")
                    .args(["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])"])
                    .arg(&ledger.database)
                    .arg(&count)
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        };
        out.trim().parse().unwrap()
    };
    assert_eq!(
        (
            rows("exclusions"),
            rows("maintenance"),
            rows("drills"),
            rows("withdrawals")
        ),
        (1, 1, 2, 2)
    );

    // Breaches found at start: fault 2 (resolved 03:10, no report within
    // 8 h, never acknowledged) counts in the metric under its class then.
    let (_, metrics) = request(port, "GET", "/metrics", None, None);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("linkledger_fault_deadline_breaches_total{class=\"general\",deadline=\"repair_report\",line=\"unicom\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("linkledger_faults_open{class=\"general\",line=\"telecom\"} 0"));
    assert!(metrics.contains(
        "linkledger_downtime_excluded_seconds{line=\"telecom\",reason=\"force_majeure\"} 0"
    ));

    // No token is ever logged.
    let text = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    for tok in [VIEWER, OPERATOR, MANAGER] {
        assert!(!text.contains(tok), "a token reached the log");
    }
}

#[test]
fn the_api_is_off_without_tokens_and_metrics_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, false);
    let log = dir.path().join("daemon.log");
    let _daemon = start(&config, &log);
    wait_for("the listener", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let (code, body) = get(port, "/api/v1/faults", Some(VIEWER));
    assert_eq!(code, 404);
    assert!(
        error_of(&body).contains("the operator API is off"),
        "{body}"
    );
    assert_eq!(request(port, "GET", "/metrics", None, None).0, 200);
    let health = request(port, "GET", "/healthz", None, None).0;
    assert!(
        health == 200 || health == 503,
        "healthz needs no token: {health}"
    );
}

/// Requests parsed strictly: nothing after the JSON body, times the ledger
/// can hold (no second 60, no year −1, ranges of at least a millisecond)
/// refused with 422 and a reason, the token exact (no padding) and checked
/// before anything about the route is said. None of them writes anything.
#[test]
fn loose_requests_are_refused_with_a_reason_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (port, _daemon) = seeded_daemon(&dir);
    let audit = || get(port, "/api/v1/audit", Some(VIEWER)).1;
    let before = audit();

    let (code, body) = request(
        port,
        "POST",
        "/api/v1/faults/1/note",
        Some(OPERATOR),
        Some(br#"{"by": "x", "note": "n"} trailing"#),
    );
    assert_eq!(code, 400, "trailing garbage: {body}");
    assert!(error_of(&body).contains("trailing"), "{body}");

    let exclusion = |start: &str, end: &str| {
        json!({
            "by": "Li Na", "line": "telecom", "start": start, "end": end,
            "reason": "typhoon", "evidence": "carrier notice", "approved_by": "District IT office"
        })
    };
    for (start, end, says) in [
        (
            "2026-01-01T01:00:00Z",
            "2026-01-01T01:00:00.000000001Z",
            "millisecond",
        ),
        ("2026-01-01T23:59:60Z", "2026-01-02T01:00:00Z", "second 60"),
        ("-0001-01-01T00:00:00Z", "2026-01-02T01:00:00Z", "year"),
    ] {
        let (code, body) = post(
            port,
            "/api/v1/exclusions",
            Some(MANAGER),
            &exclusion(start, end),
        );
        assert_eq!(code, 422, "{start}..{end}: {body}");
        assert!(error_of(&body).contains(says), "{start}..{end}: {body}");
    }

    let padded = format!(" {OPERATOR}  ");
    let (code, body) = get(port, "/api/v1/faults", Some(&padded));
    assert_eq!(code, 401, "a padded token: {body}");

    for path in ["/api/v1/faults/1/no-such-action", "/api/v1/no-such-thing"] {
        let (code, body) = request(port, "POST", path, None, Some(b"{}"));
        assert_eq!(code, 401, "{path} without a token: {body}");
        let (code, body) = request(port, "POST", path, Some(MANAGER), Some(b"{}"));
        assert_eq!(code, 404, "{path} with a token: {body}");
    }
    assert_eq!(audit(), before, "a refused request wrote to the audit log");
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::String),
        prop::sample::select(vec![
            "2026-01-01T01:05:00Z",
            "2026-01-01T01:05:60Z",
            "-0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "2026-02-30",
            "serious",
            "telecom",
            "",
            "\u{1b}[2J",
            "=HYPERLINK(\"x\")",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Fuzzed request bodies against every endpoint that writes: valid bodies
/// with a field replaced by any JSON value, dropped or added, with
/// trailing bytes, or bytes of any kind. Every answer is an accepted write
/// or a refusal with a reason (400, 404, 409, 413, 422), never a server
/// error; the daemon keeps answering; and the audit log holds exactly the
/// writes that were accepted.
#[test]
fn fuzzed_request_bodies_are_refused_with_a_reason_or_accepted_and_audited() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as RunnerConfig, TestRunner};
    let dir = tempfile::tempdir().unwrap();
    let (port, _daemon) = seeded_daemon(&dir);
    let at = json!("2026-01-01T01:05:00Z");
    let valid: Vec<(&str, Value)> = vec![
        ("/api/v1/faults/1/ack", json!({"by": "x", "at": at})),
        ("/api/v1/faults/1/on-site", json!({"by": "x", "at": at})),
        ("/api/v1/faults/1/note", json!({"by": "x", "note": "n"})),
        (
            "/api/v1/faults/2/carrier-ticket",
            json!({"by": "x", "reference": "CT-1"}),
        ),
        (
            "/api/v1/faults/1/repair-report",
            json!({"by": "x", "at": "2026-01-01T05:00:00Z", "reference": "RR"}),
        ),
        (
            "/api/v1/faults/2/reclassify",
            json!({"by": "x", "class": "serious", "reason": "r", "correction": "c"}),
        ),
        (
            "/api/v1/exclusions",
            json!({"by": "x", "line": "telecom", "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T01:10:00Z", "reason": "typhoon", "evidence": "e", "approved_by": "a"}),
        ),
        (
            "/api/v1/maintenance",
            json!({"by": "x", "line": "unicom", "start": "2026-02-01T01:00:00Z", "end": "2026-02-01T02:00:00Z", "notice_at": "2026-01-01T01:00:00Z", "consented": true, "reference": "r"}),
        ),
        (
            "/api/v1/drills",
            json!({"by": "x", "held_on": "2026-01-15", "scenario": "s", "participants": ["a"], "result": "r"}),
        ),
        (
            "/api/v1/exclusions/1/withdraw",
            json!({"by": "x", "reason": "r"}),
        ),
        (
            "/api/v1/maintenance/1/withdraw",
            json!({"by": "x", "reason": "r"}),
        ),
        (
            "/api/v1/maintenance/1/approve",
            json!({"by": "x", "reason": "r"}),
        ),
        (
            "/api/v1/outages/agreed",
            json!({"by": "x", "line": "telecom", "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T01:05:00Z", "evidence": "e", "approved_by": "a"}),
        ),
    ];
    #[derive(Debug, Clone)]
    enum Change {
        Replace(usize, Value),
        Drop(usize),
        Add(String, Value),
        Trailing(Vec<u8>),
        Bytes(Vec<u8>),
    }
    let change = prop_oneof![
        4 => (any::<usize>(), any_json()).prop_map(|(i, v)| Change::Replace(i, v)),
        1 => any::<usize>().prop_map(Change::Drop),
        1 => ("[a-z]{1,8}", any_json()).prop_map(|(k, v)| Change::Add(k, v)),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Change::Trailing),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Change::Bytes),
    ];
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 400,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let accepted = std::cell::Cell::new(0usize);
    runner
        .run(&(0..valid.len(), change), |(which, change)| {
            let (path, body) = &valid[which];
            let mut body = body.clone();
            let keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
            let bytes = match &change {
                Change::Replace(i, v) => {
                    body[&keys[i % keys.len()]] = v.clone();
                    body.to_string().into_bytes()
                }
                Change::Drop(i) => {
                    body.as_object_mut().unwrap().remove(&keys[i % keys.len()]);
                    body.to_string().into_bytes()
                }
                Change::Add(k, v) => {
                    body[k.as_str()] = v.clone();
                    body.to_string().into_bytes()
                }
                Change::Trailing(t) => {
                    let mut b = body.to_string().into_bytes();
                    b.extend(t.iter().filter(|c| !c.is_ascii_whitespace()));
                    b.push(b'x');
                    b
                }
                Change::Bytes(b) => b.clone(),
            };
            let (code, resp) = request(port, "POST", path, Some(MANAGER), Some(&bytes));
            prop_assert!(
                matches!(code, 200 | 201 | 400 | 404 | 409 | 413 | 422),
                "{path} {change:?}: {code} {resp}"
            );
            if code >= 400 {
                prop_assert!(!error_of(&resp).is_empty(), "{path}: no reason: {resp}");
            } else {
                accepted.set(accepted.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(get(port, "/healthz", None).0, 200);
    let (_, audit) = get(port, "/api/v1/audit", Some(VIEWER));
    assert_eq!(
        audit.as_array().unwrap().len(),
        accepted.get(),
        "the audit log holds exactly the accepted writes"
    );
    eprintln!("{} of 400 fuzzed writes accepted", accepted.get());
}
