//! An active/standby pair on loopback, with a vantage agent that knows
//! both: the standby refuses the agent's batches (503, naming the leader)
//! and the agent passes them to the leader; the leader SIGKILLed, the
//! standby leads and takes the agent's rounds from then on: every round
//! once, in order, none lost. (The namespace lab's pair tests are
//! `tests/pair_netns.rs`.)

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::postgres::{Backend, TestLedger};
use common::{http, Running, BIN};

const TOKEN: &str = "agent-one-token-0123456789abcdef0123456789";

/// One daemon of the pair: its config and listener.
struct Member {
    name: &'static str,
    port: u16,
    config: PathBuf,
    log: PathBuf,
}

impl Member {
    fn new(dir: &Path, name: &'static str, database: &str, block_port: u16) -> Member {
        let own = dir.join(name);
        std::fs::create_dir_all(&own).unwrap();
        let port = common::free_port();
        let text = std::fs::read_to_string(common::repo().join("config/demo.toml"))
            .unwrap()
            .replace(
                "database = \"linkledger-demo.db\"",
                &format!(
                    "database = {database:?}\nactive_standby = true\ninstance = {name:?}\nstate_dir = {:?}",
                    own.display().to_string()
                ),
            )
            .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"))
            .replace(
                "ip_blocks = [\"198.19.100.0/29\"]",
                &format!(
                    "ip_blocks = [\"127.0.0.0/29\"]\nblock_targets = [\"127.0.0.2:tcp/{block_port}\"]"
                ),
            )
            + &format!("\n[[vantage]]\nid = \"a1\"\ntoken = \"{TOKEN}\"\n");
        let config = own.join("linkledger.toml");
        std::fs::write(&config, text).unwrap();
        Member {
            name,
            port,
            log: own.join("daemon.log"),
            config,
        }
    }

    fn start(&self) -> Running {
        common::start_loopback(&self.config, &self.log)
    }

    fn leads(&self) -> Option<bool> {
        let (code, body) = http(self.port, "GET", "/metrics", None, b"");
        (code == 200).then_some(())?;
        common::metric_value(
            &body,
            &format!("linkledger_leader{{daemon=\"{}\"}}", self.name),
        )
        .map(|v| v == 1.0)
    }

    fn wait_role(&self, leading: bool) {
        common::wait_for(
            &format!(
                "{} to {}",
                self.name,
                if leading { "lead" } else { "stand by" }
            ),
            Duration::from_secs(20),
            || self.leads() == Some(leading),
        );
    }
}

/// A TCP port on 127.0.0.2 that accepts (the public block's target).
fn block_target() -> u16 {
    let l = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
    port
}

/// (count, min seq, max seq) of the agent's rounds in the ledger.
fn rounds(l: &TestLedger) -> (i64, i64, i64) {
    let out = l
        .pg
        .as_ref()
        .unwrap()
        .sql("SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM vantage_rounds WHERE agent = 'a1'")
        .unwrap();
    let v: Vec<i64> = out.split('|').map(|x| x.parse().unwrap_or(0)).collect();
    (v[0], v[1], v[2])
}

#[test]
fn an_agent_knowing_both_sends_to_the_leader_and_follows_a_failover_losing_nothing() {
    if !common::can_ping() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(Backend::Postgres, dir.path()) else {
        return;
    };
    let block = block_target();
    let (a, b) = (
        Member::new(dir.path(), "monitor-a", &l.database, block),
        Member::new(dir.path(), "monitor-b", &l.database, block),
    );
    let mut running_a = a.start();
    a.wait_role(true);
    let mut running_b = b.start();
    b.wait_role(false);

    // Each status page says which it is, and who leads.
    let page = |port: u16| {
        let (code, body) = http(port, "GET", "/", None, b"");
        assert_eq!(code, 200, "{body}");
        let at = body.find("id=\"pair\"").expect("the pair's line");
        body[at..at + body[at..].find("</div>").unwrap()].to_string()
    };
    let (on_a, on_b) = (page(a.port), page(b.port));
    assert!(
        on_a.contains("本实例 monitor-a 为主用") && on_a.contains("当前主用：monitor-a"),
        "{on_a}"
    );
    assert!(
        on_b.contains("本实例 monitor-b 为备用") && on_b.contains("当前主用：monitor-a"),
        "{on_b}"
    );
    // A batch to the standby: refused, naming the leader.
    let (code, body) = http(b.port, "POST", "/api/v1/agent/batches", Some(TOKEN), b"{}");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("standby") && body.contains("monitor-a"),
        "{body}"
    );

    // The agent knows the standby first.
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "[agent]\nid = \"a1\"\ncentral = [\"http://127.0.0.1:{}\", \"http://127.0.0.1:{}\"]\ntoken = \"{TOKEN}\"\ninterval = \"1s\"\ntimeout = \"500ms\"\nbuffer = {:?}\nanchors = [\"127.0.0.1\"]\n",
            b.port,
            a.port,
            dir.path().join("agent-buffer.db")
        ),
    )
    .unwrap();
    let agent_log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
    let mut agent = Running(
        Command::new(BIN)
            .args(["agent", "-c"])
            .arg(&agent_cfg)
            .stdout(std::process::Stdio::null())
            .stderr(agent_log)
            .spawn()
            .unwrap(),
    );
    common::wait_for("rounds through the leader", Duration::from_secs(20), || {
        rounds(&l).0 >= 5
    });

    let _ = running_a.0.kill();
    let _ = running_a.0.wait();
    b.wait_role(true);
    let then = rounds(&l).2;
    common::wait_for(
        "rounds through the new leader",
        Duration::from_secs(30),
        || rounds(&l).2 >= then + 5,
    );

    // monitor-a back, standing by; monitor-b stopped cleanly lets the
    // lease go, and monitor-a leads at once (no lease to wait out).
    let _running_a = a.start();
    a.wait_role(false);
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .arg(running_b.0.id().to_string())
        .status();
    assert!(running_b.0.wait().unwrap().success());
    let t = std::time::Instant::now();
    a.wait_role(true);
    let handed = t.elapsed();
    assert!(
        handed < Duration::from_millis(1000),
        "a clean stop hands over within the standby's poll, not a lease: {handed:?} after it exited"
    );
    assert!(
        std::fs::read_to_string(&b.log)
            .unwrap()
            .contains("let the lease go"),
        "monitor-b let the lease go"
    );
    let then = rounds(&l).2;
    common::wait_for(
        "rounds through monitor-a again",
        Duration::from_secs(30),
        || rounds(&l).2 >= then + 5,
    );
    let _ = agent.0.kill();
    let _ = agent.0.wait();
    let (n, lo, hi) = rounds(&l);
    assert_eq!((lo, n), (1, hi), "rounds 1..{hi} each once, {n} held");
    let gaps =
        l.pg.as_ref()
            .unwrap()
            .sql("SELECT count(*) FROM gaps WHERE reason = 'daemon_not_running'")
            .unwrap();
    assert_eq!(gaps, "0", "no time unobserved across either handover");
    // The administrators are told of each handover.
    let failovers: Vec<(String, String)> =
        l.pg.as_ref()
            .unwrap()
            .sql("SELECT detail FROM notices WHERE kind = 'monitor_failover' ORDER BY id")
            .unwrap()
            .lines()
            .map(|d| {
                let d: serde_json::Value = serde_json::from_str(d).unwrap();
                (
                    d["from"].as_str().unwrap().into(),
                    d["to"].as_str().unwrap().into(),
                )
            })
            .collect();
    assert_eq!(
        failovers,
        [
            ("monitor-a".to_string(), "monitor-b".to_string()),
            ("monitor-b".to_string(), "monitor-a".to_string())
        ]
    );
}
