//! The Grafana dashboards against a real Prometheus (root only). Grafana
//! cannot run here, so the test reads every dashboard in
//! `deploy/grafana/dashboards/`, checks it follows the current schema (a
//! datasource variable, no hard-coded data source), takes every PromQL
//! expression and variable query out of it, and asks Debian's Prometheus,
//! which has scraped a linkledger in the namespace lab (with SNMP and the
//! recording rules of `deploy/prometheus/`) during a live outage: every
//! query must parse and return data.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const PROM_PORT: u16 = 19090;

/// Prometheus in a lab namespace (killed on drop) and its data directory.
struct Prometheus {
    _process: Running,
    _dir: tempfile::TempDir,
}

fn start_prometheus(ns: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let rules = repo().join("deploy/prometheus/rules");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}/linkledger-recording.yml\n  - {}/linkledger-alerts.yml\n\
             scrape_configs:\n  - job_name: linkledger\n    static_configs:\n      - targets: [\"127.0.0.1:9798\"]\n",
            rules.display(),
            rules.display()
        ),
    )
    .unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "prometheus"])
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{PROM_PORT}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .expect("start prometheus");
    Prometheus {
        _process: Running(child),
        _dir: dir,
    }
}

/// A GET of Prometheus's HTTP API inside the namespace with one
/// URL-encoded parameter; the JSON answer.
fn api(ns: &str, path: &str, param: &str) -> Value {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "-m",
            "5",
            "-G",
            "--data-urlencode",
        ])
        .arg(param)
        .arg(format!("http://127.0.0.1:{PROM_PORT}{path}"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// An instant query.
fn query(ns: &str, expr: &str) -> Value {
    api(ns, "/api/v1/query", &format!("query={expr}"))
}

/// The series a matcher selects.
fn series(ns: &str, matcher: &str) -> Value {
    api(ns, "/api/v1/series", &format!("match[]={matcher}"))
}

/// Every panel (rows' panels too), depth first.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = d["panels"]
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    while let Some(p) = stack.pop() {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            stack.extend(inner);
        }
    }
    out
}

/// Grafana's variables as a dashboard would have them in the lab.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$__interval", "15s")
        .replace("$instance", ".+")
        .replace("$line", "telecom")
}

fn check_schema(name: &str, d: &Value, problems: &mut Vec<String>) {
    if d["schemaVersion"].as_i64().unwrap_or(0) < 39 {
        problems.push(format!(
            "{name}: schemaVersion {} (want 39 or later)",
            d["schemaVersion"]
        ));
    }
    let vars = d["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !vars.iter().any(|v| {
        v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"
    }) {
        problems.push(format!("{name}: no datasource variable of type prometheus"));
    }
    let text = d.to_string();
    if text.contains("__inputs") || text.contains("DS_PROMETHEUS") {
        problems.push(format!("{name}: import-time data source placeholders"));
    }
    let mut ids = std::collections::HashSet::new();
    for p in panels(d) {
        let title = p["title"].as_str().unwrap_or("?");
        if !ids.insert(p["id"].as_i64()) {
            problems.push(format!("{name}: panel id {} repeats", p["id"]));
        }
        if p["gridPos"]["w"].as_i64().is_none() {
            problems.push(format!("{name}/{title}: no gridPos"));
        }
        let mut refs = vec![&p["datasource"]];
        refs.extend(
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| &t["datasource"]),
        );
        for ds in refs {
            if ds["uid"] != "${datasource}" {
                problems.push(format!(
                    "{name}/{title}: data source {ds} is not the ${{datasource}} variable"
                ));
            }
        }
    }
}

/// Series that exist only once what they count has happened or is
/// configured (no breach, no alert channel in this lab run).
const EVENT_ONLY: [&str; 3] = [
    "linkledger_fault_deadline_breaches_total",
    "linkledger_outbox_pending",
    "linkledger_notifications_failed_total",
];

/// Asks one dashboard expression: it must parse and return data. A filter
/// (`... > 0`, `... == 1`: what lists only lines with something wrong)
/// may return nothing when its series without the filter have data.
fn ask(ns: &str, expr: &str) -> Result<(), Value> {
    let has_data = |r: &Value| {
        r["status"] == "success"
            && r["data"]["result"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
    };
    let r = query(ns, &substitute(expr));
    if r["status"] != "success" {
        return Err(r);
    }
    if has_data(&r) {
        return Ok(());
    }
    let unfiltered = [" > ", " == "].iter().find_map(|op| {
        let (base, value) = expr.rsplit_once(op)?;
        value.trim().parse::<f64>().ok().map(|_| base)
    });
    if let Some(base) = unfiltered {
        if has_data(&query(ns, &substitute(base))) {
            return Ok(());
        }
    }
    if EVENT_ONLY.iter().any(|m| expr.contains(m)) {
        return Ok(());
    }
    // The billing p95 steps through 5-minute averages; the lab has run for
    // a minute, so its data is asked for in 15-second steps.
    if expr.contains(":5m]") && has_data(&query(ns, &substitute(expr).replace(":5m]", ":15s]"))) {
        return Ok(());
    }
    Err(r)
}

/// Every state panel says each of the four states in words, with its
/// colour, from the declared state (never `linkledger_line_up`).
fn check_states(name: &str, d: &Value, problems: &mut Vec<String>) {
    let text = d.to_string();
    if text.contains("linkledger_line_up") {
        problems.push(format!(
            "{name}: a panel reads linkledger_line_up, not the declared state"
        ));
    }
    for p in panels(d) {
        let reads_state = p["targets"].as_array().into_iter().flatten().any(|t| {
            t["expr"]
                .as_str()
                .is_some_and(|e| e.contains("_state:code"))
        });
        if !reads_state {
            continue;
        }
        let maps = &p["fieldConfig"]["defaults"]["mappings"][0]["options"];
        for (code, word, colour) in [
            ("0", "正常", "green"),
            ("1", "中断", "red"),
            ("2", "本端故障", "orange"),
            ("3", "未监测", "grey"),
        ] {
            let m = &maps[code];
            if !m["text"].as_str().is_some_and(|t| t.contains(word)) || m["color"] != colour {
                problems.push(format!(
                    "{name}/{}: state {code} is not mapped to {word} in {colour}: {m}",
                    p["title"]
                ));
            }
        }
    }
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    if !can_use_netns("grafana dashboards e2e") {
        return;
    }
    if !have_tool("prometheus", "prometheus") {
        return;
    }
    let lab = Lab::up("llgfn");
    let ns = format!("{}-mon", lab.prefix);
    lab.script(&["snmpd", lab.dir.path().join("snmpd").to_str().unwrap()]);
    let db = lab.dir.path().join("ledger.db");
    let out = lab.script(&["config", db.to_str().unwrap(), "127.0.0.1:9798", "snmp"]);
    let config = lab.dir.path().join("linkledger.toml");
    std::fs::write(&config, out.stdout).unwrap();
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    let _prometheus = start_prometheus(&ns);
    // A minute of history (SNMP rates need two polls, histograms rounds),
    // then an outage on telecom that is still going when the queries run.
    std::thread::sleep(Duration::from_secs(50));
    lab.fault("silent-anchors", "on");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = query(
            &ns,
            "linkledger_fault_deadline_due_timestamp_seconds{line=\"telecom\"}",
        );
        if r["data"]["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw telecom's fault: {r}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));

    let dir = repo().join("deploy/grafana/dashboards");
    let mut problems = Vec::new();
    let mut asked = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        check_schema(&name, &d, &mut problems);
        check_states(&name, &d, &mut problems);
        let mut exprs: Vec<(String, &str)> = Vec::new();
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    exprs.push((format!("{}", p["title"]), expr));
                }
            }
        }
        for a in d["annotations"]["list"].as_array().into_iter().flatten() {
            if let Some(expr) = a["expr"].as_str() {
                exprs.push((format!("annotation {}", a["name"]), expr));
            }
        }
        for (title, expr) in exprs {
            asked += 1;
            if let Err(r) = ask(&ns, expr) {
                problems.push(format!("{name}/{title}: {expr}\n  -> {r}"));
            }
        }
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            let Some(q) = v["query"]["query"].as_str() else {
                continue;
            };
            // label_values(METRIC, LABEL)
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap();
            let (metric, label) = inner.rsplit_once(',').unwrap();
            asked += 1;
            let r = series(&ns, &substitute(metric.trim()));
            let has = r["data"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s[label.trim()].is_string()));
            if !has {
                problems.push(format!(
                    "{name}: variable {} ({q}) has no values: {r}",
                    v["name"]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {asked} dashboard queries failed:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(asked >= 35, "only {asked} queries");
    eprintln!("{asked} dashboard queries answered with data");
    daemon.signal_and_wait("TERM");
}
