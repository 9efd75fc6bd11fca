//! The contract engine end to end across the namespace lab (root only):
//! one line loses its upstream for 3 minutes; its fault opens as general (the default for one line down),
//! is acknowledged through the API, resolves when the line comes back with
//! its deadlines marked, and `linkledger budget --json` charges exactly the
//! outage.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const OPERATOR: &str = "lab-operator-token-0123456789";

fn line<'a>(b: &'a Value, id: &str) -> &'a Value {
    if id == "egress" {
        return &b["egress"];
    }
    b["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["line"] == id)
        .unwrap()
}

#[test]
fn a_line_down_for_3_minutes_is_a_general_fault_acknowledged_resolved_and_charged() {
    if !can_use_netns("contract e2e") {
        return;
    }
    let lab = Lab::up("llctr");
    let config = lab.config();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!(
        "\n[api]\n[[api.token]]\nname = \"noc\"\nrole = \"operator\"\ntoken = \"{OPERATOR}\"\n"
    );
    std::fs::write(&config, text).unwrap();
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    sleep(2.0);

    // The IPv4 anchors stop answering: telecom is down, telecom6 is not.
    // The change takes effect somewhere between these two instants (the
    // command itself takes a moment, more on a loaded machine).
    let cut = now_epoch();
    lab.fault("silent-anchors", "on");
    let cut_done = now_epoch();
    let deadline = Instant::now() + Duration::from_secs(20);
    let fault = loop {
        let (code, list) = daemon.api("GET", "/api/v1/faults?state=open", OPERATOR, None);
        assert_eq!(code, 200, "{list}");
        if let Some(f) = list.as_array().and_then(|l| l.first()) {
            break f.clone();
        }
        assert!(Instant::now() < deadline, "no fault opened within 20 s");
        sleep(0.5);
    };
    assert_eq!(fault["line"], "telecom");
    assert_eq!(
        fault["class"], "general",
        "one line down is a general fault by default"
    );
    let detected = epoch(&fault["detected_at"]);
    assert!(
        detected >= cut - 1.1 && detected <= cut_done + 1.1,
        "detected at the first failed round ({cut:.3}..{cut_done:.3}): {fault}"
    );
    let id = fault["id"].as_i64().unwrap();
    assert_eq!(
        daemon.metric("linkledger_faults_open{class=\"general\",line=\"telecom\"}"),
        Some(1.0)
    );

    // The carrier acknowledges 20 s in.
    sleep(15.0);
    let (code, acked) = daemon.api(
        "POST",
        &format!("/api/v1/faults/{id}/ack"),
        OPERATOR,
        Some(&json!({"by": "NOC duty", "note": "carrier ticket opened by phone"})),
    );
    assert_eq!(code, 201, "{acked}");
    assert_eq!(acked["deadlines"][0]["state"], "met");

    sleep(180.0 - (now_epoch() - cut));
    let restored = now_epoch();
    lab.fault("silent-anchors", "off");
    let restored_done = now_epoch();
    sleep(5.0);
    let (_, f) = daemon.api("GET", &format!("/api/v1/faults/{id}"), OPERATOR, None);
    assert_eq!(f["open"], false, "{f}");
    let resolved = epoch(&f["resolved_at"]);
    assert!(
        resolved >= restored - 0.2 && resolved <= restored_done + 1.1,
        "resolved at the first good round ({restored:.3}..{restored_done:.3}): {f}"
    );
    let states: Vec<&str> = f["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["met", "not_required", "met", "pending"],
        "acknowledged in time; 3 minutes needs nobody on site; resolved within 30 min; the repair report is due in 8 h: {f}"
    );
    assert_eq!(
        daemon.metric("linkledger_faults_open{class=\"general\",line=\"telecom\"}"),
        Some(0.0)
    );
    assert!(daemon.signal_and_wait("TERM").success());

    let list = outages(&config, "telecom");
    assert_eq!(list.len(), 1, "{list:#?}");
    let charged = list[0]["charged_s"].as_f64().unwrap();
    assert!(
        (charged - 180.0).abs() <= 1.1,
        "outage of 3 min ± 1 interval: {charged}"
    );
    let b = budget_json(&config);
    assert_eq!(
        line(&b, "telecom")["charged_s"].as_f64().unwrap(),
        charged,
        "{b:#}"
    );
    assert_eq!(
        line(&b, "telecom")["remaining_s"].as_f64().unwrap(),
        4.0 * 3600.0 - charged
    );
    assert_eq!(line(&b, "telecom6")["charged_s"].as_f64().unwrap(), 0.0);
    assert_eq!(
        line(&b, "egress")["charged_s"].as_f64().unwrap(),
        0.0,
        "one line of two was down"
    );
    assert!(outages(&config, "telecom6").is_empty());
}

fn fault_list(config: &std::path::Path) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["fault", "list", "--json", "-c"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn twenty_percent_loss_is_a_general_fault_and_no_outage() {
    if !can_use_netns("degradation e2e") {
        return;
    }
    let lab = Lab::up("lldeg");
    let config = lab.config();
    // A one-minute loss window keeps the test short. The default three
    // failed rounds declare an outage: with 20 % loss each way on both
    // anchors, about one round in eight loses both first echoes, and the
    // retries within the round are what keep that loss from adding up to
    // an outage (three such rounds in a row come about 8 times an hour
    // without them).
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "annual_downtime_cap = \"4h\"",
        "annual_downtime_cap = \"4h\"\ndegradation = { loss_window = \"1m\" }",
    );
    std::fs::write(&config, text).unwrap();
    let started = now_epoch();
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    sleep(2.0);

    let cut = now_epoch();
    lab.fault("loss", "20");
    // Judged once 80 % of the window is covered, every 10 s.
    let deadline = Instant::now() + Duration::from_secs(90);
    let open = loop {
        let list = fault_list(&config);
        if list.len() == 2 {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "no degradation faults within 90 s: {list:#?}"
        );
        sleep(2.0);
    };
    for f in &open {
        assert_eq!(f["class"], "general", "{f}");
        assert_eq!(f["trigger"], "degradation", "{f}");
        assert_eq!(f["open"], true, "{f}");
        // It starts with the first lost round of the anchor that decides
        // (to a 10-second bucket): random loss of 20 % reaches every anchor
        // within 40 rounds but for a chance of 0.8^40 ≈ 1e-4.
        let detected = epoch(&f["detected_at"]);
        assert!(
            detected >= started.max(cut - 10.0) && detected <= cut + 40.0,
            "{f} (loss from {cut})"
        );
    }
    // The rounds that lost a first echo asked again, and most retries came
    // back (64 % at 20 % loss each way).
    let retries = |outcome: &str| {
        daemon
            .metric(&format!(
                "linkledger_probe_retries_total{{line=\"telecom\",outcome=\"{outcome}\"}}"
            ))
            .unwrap_or(0.0)
    };
    let (answered, lost) = (retries("answered"), retries("lost"));
    assert!(
        answered > lost && answered >= 10.0,
        "retries answered {answered}, lost {lost}"
    );
    lab.fault("loss", "off");
    let deadline = Instant::now() + Duration::from_secs(120);
    while fault_list(&config).iter().any(|f| f["open"] == true) {
        assert!(
            Instant::now() < deadline,
            "degradations did not end within 2 min of the loss ending"
        );
        sleep(2.0);
    }
    assert!(daemon.signal_and_wait("TERM").success());

    assert!(
        ledger_json(&config, "outages", &[]).is_empty(),
        "loss is not an outage"
    );
    let db = lab.dir.path().join("ledger.db");
    let rows = sql(
        &db,
        "SELECT line, kind, end_at IS NOT NULL, detail FROM degradations ORDER BY line",
    );
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, line) in rows.iter().zip(["telecom", "telecom6"]) {
        assert!(row.starts_with(&format!("{line}|loss|1|loss ")), "{row}");
        assert!(row.contains("over 1 min (threshold 5.0 %)"), "{row}");
    }
    let budget = budget_json(&config);
    assert_eq!(
        line(&budget, "telecom")["charged_s"].as_f64().unwrap(),
        0.0,
        "a degradation is not downtime"
    );
}
