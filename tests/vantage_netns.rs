//! The public IP block seen from outside, in the namespace lab (root
//! only): the customer's block on the firewall's public side, two
//! "internet" sites beyond the carrier each running a real agent
//! (`linkledger agent`, ICMP to the block every second), the central in the
//! monitor namespace. Faults are the lab's: the carrier stops routing the
//! block, an agent site's uplink goes down, the agents cut off from the
//! central for 60 s.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Waits for `f`, checking every 300 ms (each check runs a query).
fn wait(what: &str, within: Duration, f: impl FnMut() -> bool) {
    wait_every(what, within, Duration::from_millis(300), f)
}

/// Block outages: (start, end) as Unix seconds, oldest first.
fn block_outages(db: &std::path::Path) -> Vec<(f64, Option<f64>)> {
    let t = |s: &str| (!s.is_empty()).then(|| epoch(&Value::String(s.into())));
    sql(
        db,
        "SELECT start_at, coalesce(end_at, '') FROM outages WHERE block = '198.18.50.0/29' AND cause = 'ip_block_unreachable' ORDER BY start_at",
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| {
        let (a, b) = l.split_once('|').unwrap();
        (t(a).unwrap(), t(b))
    })
    .collect()
}

/// Every round of an agent from 1 to its last, each once.
fn contiguous(db: &std::path::Path, agent: &str) {
    let out = sql(
        db,
        &format!("SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM vantage_rounds WHERE agent = '{agent}'"),
    );
    let v: Vec<i64> = out.trim().split('|').map(|x| x.parse().unwrap()).collect();
    assert_eq!(
        (v[1], v[0], v[3]),
        (1, v[2], v[2]),
        "{agent}: every round 1..{} once",
        v[2]
    );
}

fn within(what: &str, got: f64, truth: f64) {
    // Rounds are a second apart; the quorum's later agent decides: one
    // agent interval, and a little scheduling.
    assert!(
        got >= truth - 0.2 && got <= truth + 1.6,
        "{what}: {got:.3} vs the fault at {truth:.3}"
    );
}

#[test]
fn block_outages_from_two_agents_with_true_edges_through_an_uplink_cut_and_a_central_cut_off() {
    if !can_use_netns("vantage_netns") {
        return;
    }
    let lab = Lab::up("llvb");
    let db = lab.dir.path().join("ledger.db");
    let out = lab.script(&["config", db.to_str().unwrap(), "0.0.0.0:9798", "vantage"]);
    let config = lab.dir.path().join("linkledger.toml");
    std::fs::write(&config, &out.stdout).unwrap();
    let daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(20));
    let mut agents = Vec::new();
    for i in ["1", "2"] {
        let buffer = lab.dir.path().join(format!("agent{i}.db"));
        let cfg = lab.script(&[
            "agent-config",
            i,
            "http://198.18.0.1:9798",
            buffer.to_str().unwrap(),
        ]);
        let path = lab.dir.path().join(format!("agent{i}.toml"));
        std::fs::write(&path, &cfg.stdout).unwrap();
        let log = std::fs::File::create(lab.dir.path().join(format!("agent{i}.log"))).unwrap();
        agents.push(Running(
            Command::new("ip")
                .args(["netns", "exec", &format!("llvb-i{i}"), BIN, "agent", "-c"])
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        ));
    }
    let up = "linkledger_block_state{block=\"198.18.50.0/29\",line=\"telecom\",state=\"up\"}";
    wait("the block judged up", Duration::from_secs(30), || {
        daemon.metric(up) == Some(1.0)
    });

    // The carrier stops routing the block: inside probes stay green, both
    // agents lose it. One block outage, a major fault, charged.
    let off = now_epoch();
    lab.fault("block-unrouted", "on");
    sleep(10.0);
    let on = now_epoch();
    lab.fault("block-unrouted", "off");
    wait("the block outage closed", Duration::from_secs(20), || {
        block_outages(&db).first().is_some_and(|o| o.1.is_some())
    });
    let o = block_outages(&db);
    assert_eq!(o.len(), 1, "{o:?}");
    within("block outage start", o[0].0, off);
    within("block outage end", o[0].1.unwrap(), on);
    let line_outages = sql(&db, "SELECT count(*) FROM outages WHERE block IS NULL");
    assert_eq!(line_outages.trim(), "0", "the line stayed up from inside");
    let fault = sql(
        &db,
        "SELECT f.trigger, f.class FROM faults f JOIN fault_links k ON k.fault_id = f.id JOIN outages o ON k.kind = 'outage' AND o.id = k.ref_id WHERE o.block IS NOT NULL",
    );
    assert_eq!(fault.trim(), "ip_block_unreachable|major");
    let charged = budget_line(&budget_json(&config), "telecom")["charged_s"]
        .as_f64()
        .unwrap();
    let duration = o[0].1.unwrap() - o[0].0;
    assert!(
        (charged - duration).abs() < 0.01,
        "charged {charged} of {duration}"
    );
    // Path evidence from each agent: the way to the block stops after the
    // carrier's edge (its outside address, 198.19.0.1)…
    let paths = sql(
        &db,
        "SELECT origin, reached, last_hop FROM path_traces WHERE block = '198.18.50.0/29' ORDER BY origin",
    );
    assert_eq!(
        paths.trim(),
        "agent1|0|198.19.0.1\nagent2|0|198.19.0.1",
        "each agent traced the lost block once"
    );
    // …and each agent's path goes to the block outage's fault as an alert.
    let notices = sql(
        &db,
        "SELECT n.key FROM notices n JOIN faults f ON f.id = n.fault_id WHERE n.kind = 'path_evidence' AND f.trigger = 'ip_block_unreachable' ORDER BY n.key",
    );
    assert!(
        notices.contains(":agent1") && notices.contains(":agent2"),
        "{notices}"
    );

    // Agent 2's own uplink down: its rounds are blind (own anchor silent),
    // the block is unobserved, never down.
    let cut = now_epoch();
    lab.script(&["fault", "agent-uplink", "2", "on"]);
    sleep(10.0);
    lab.script(&["fault", "agent-uplink", "2", "off"]);
    wait("agent 2's blind rounds", Duration::from_secs(30), || {
        let n: i64 = sql(
            &db,
            &format!(
                "SELECT count(*) FROM vantage_rounds WHERE agent = 'agent2' AND own_healthy = 0 AND at > '{}'",
                chrono::DateTime::from_timestamp_millis((cut * 1000.0) as i64)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            ),
        )
        .trim()
        .parse()
        .unwrap_or(0);
        n >= 5
    });
    assert_eq!(
        block_outages(&db).len(),
        1,
        "an agent's own side down is no outage"
    );

    // The agents cut off from the central for 60 s, the block unrouted for
    // 10 s inside that minute: judged once the buffers replay, with its
    // true edges, every round once.
    lab.fault("central-unreachable", "on");
    sleep(15.0);
    let off2 = now_epoch();
    lab.fault("block-unrouted", "on");
    sleep(10.0);
    let on2 = now_epoch();
    lab.fault("block-unrouted", "off");
    sleep(35.0);
    assert_eq!(
        block_outages(&db).len(),
        1,
        "nothing judged while the agents are away"
    );
    lab.fault("central-unreachable", "off");
    wait("the late block outage", Duration::from_secs(60), || {
        block_outages(&db).get(1).is_some_and(|o| o.1.is_some())
    });
    let o = block_outages(&db);
    assert_eq!(o.len(), 2, "{o:?}");
    within("late block outage start", o[1].0, off2);
    within("late block outage end", o[1].1.unwrap(), on2);
    sleep(3.0);
    contiguous(&db, "agent1");
    contiguous(&db, "agent2");
    let status = run(Command::new(BIN)
        .args(["vantage", "status", "--json", "-c"])
        .arg(&config));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    for a in status.as_array().unwrap() {
        assert_eq!(a["healthy"], true, "{a}");
        assert!(a["lag_s"].as_f64().unwrap() < 5.0, "{a}");
    }

    // A blackholed line: the monitor traces the way to each anchor, and
    // the last hop that answered is the carrier's edge (198.18.1.1).
    lab.fault("blackhole", "on");
    wait(
        "the monitor's path evidence",
        Duration::from_secs(30),
        || {
            sql(
                &db,
                "SELECT count(*) FROM path_traces WHERE origin = 'monitor' AND line = 'telecom'",
            )
            .trim()
                == "2"
        },
    );
    lab.fault("blackhole", "off");
    let paths = sql(
        &db,
        "SELECT target, reached, last_hop, outage_id IS NOT NULL FROM path_traces WHERE origin = 'monitor' AND line = 'telecom' ORDER BY target",
    );
    assert_eq!(
        paths.trim(),
        "198.19.100.1|0|198.18.1.1|1\n198.19.100.6|0|198.18.1.1|1",
        "the path stops after the carrier's edge, kept with the outage"
    );
    let fault = sql(
        &db,
        "SELECT f.id FROM faults f JOIN fault_links k ON k.fault_id = f.id JOIN path_traces p ON k.kind = 'outage' AND k.ref_id = p.outage_id WHERE p.origin = 'monitor' AND p.line = 'telecom' AND f.line = 'telecom' LIMIT 1",
    );
    let notice = sql(
        &db,
        &format!(
            "SELECT count(*) FROM notices WHERE kind = 'path_evidence' AND fault_id = {}",
            fault.trim()
        ),
    );
    assert_eq!(
        notice.trim(),
        "1",
        "the fault's alert carries the path evidence"
    );
    let record = run(Command::new(BIN)
        .args(["report", "fault", fault.trim(), "--format", "md", "-c"])
        .arg(&config));
    let record = String::from_utf8_lossy(&record.stdout);
    assert!(
        record.contains("路径证据")
            && record.contains("198.18.1.1")
            && record.contains("最后应答的一跳"),
        "{record}"
    );
    drop(agents);
    drop(daemon);
}
