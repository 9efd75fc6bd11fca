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
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let Some(expr) = t["expr"].as_str() else {
                    continue;
                };
                asked += 1;
                let r = query(&ns, &substitute(expr));
                let n = r["data"]["result"].as_array().map_or(0, |a| a.len());
                if r["status"] != "success" || n == 0 {
                    problems.push(format!("{name}/{}: {expr}\n  -> {r}", p["title"]));
                }
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
