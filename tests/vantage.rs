//! Vantage agents against a real central daemon on loopback: two agents
//! probe a TCP block target (a listener the test runs) and their own
//! anchor every second and push each round; the central keeps every round
//! once, in order, through a central SIGKILLed and restarted, an agent
//! SIGKILLed with a backlog and restarted, and refuses wrong tokens,
//! foreign agents, oversized bodies, garbage and rounds from the future
//! without storing anything or being disturbed.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{http, sql, Running, BIN};
use serde_json::{json, Value};

const TOKENS: [&str; 2] = [
    "agent-one-token-0123456789abcdef0123456789",
    "agent-two-token-0123456789abcdef0123456789",
];

/// Waits for `f`, checking every 200 ms (each check runs a query).
fn wait(what: &str, within: Duration, f: impl FnMut() -> bool) {
    common::wait_every(what, within, Duration::from_millis(200), f)
}

struct Site {
    dir: tempfile::TempDir,
    port: u16,
    /// Where agents send their batches (the central, or a relay to it).
    agent_port: u16,
    config: PathBuf,
    db: PathBuf,
}

impl Site {
    fn new(target_port: u16) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let db = dir.path().join("ledger.db");
        let text = std::fs::read_to_string(common::repo().join("config/demo.toml"))
            .unwrap()
            .replace("database = \"linkledger-demo.db\"", &format!("database = {db:?}"))
            .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"))
            .replace(
                "ip_blocks = [\"198.19.100.0/29\"]",
                &format!("ip_blocks = [\"127.0.0.0/29\"]\nblock_targets = [\"127.0.0.2:tcp/{target_port}\"]"),
            )
            + &format!(
                "\n[[vantage]]\nid = \"a1\"\ntoken = \"{}\"\n\n[[vantage]]\nid = \"a2\"\ntoken = \"{}\"\n",
                TOKENS[0], TOKENS[1]
            );
        let config = dir.path().join("linkledger.toml");
        std::fs::write(&config, text).unwrap();
        Site {
            dir,
            port,
            agent_port: port,
            config,
            db,
        }
    }

    fn central(&self) -> Running {
        let r = common::start_loopback(&self.config, &self.dir.path().join("central.log"));
        wait("the central", Duration::from_secs(15), || {
            http(self.port, "GET", "/healthz", None, b"").0 == 200
        });
        r
    }

    fn agent(&self, i: usize) -> Running {
        self.agent_with(i, &[])
    }

    /// An agent with extra environment (libfaketime's, say).
    fn agent_with(&self, i: usize, env: &[(&str, String)]) -> Running {
        let id = format!("a{}", i + 1);
        let cfg = self.dir.path().join(format!("{id}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[agent]\nid = \"{id}\"\ncentral = \"http://127.0.0.1:{}\"\ntoken = \"{}\"\ninterval = \"1s\"\ntimeout = \"500ms\"\nbuffer = {:?}\nanchors = [\"127.0.0.1\"]\n",
                self.agent_port,
                TOKENS[i],
                self.dir.path().join(format!("{id}-buffer.db"))
            ),
        )
        .unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{id}.log")))
            .unwrap();
        Running(
            Command::new(BIN)
                .args(["agent", "-c"])
                .arg(&cfg)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    /// (count, min seq, max seq) of an agent's rounds in the ledger.
    fn rounds(&self, agent: &str) -> (i64, i64, i64) {
        let out = sql(
            &self.db,
            &format!("SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM vantage_rounds WHERE agent = '{agent}'"),
        );
        let v: Vec<i64> = out.split('|').map(|x| x.parse().unwrap_or(0)).collect();
        (v[0], v[1], v[2])
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn kill(r: &mut Running) {
    let _ = r.0.kill();
    let _ = r.0.wait();
}

/// Every round from 1 to the last, each once, in time order, none missing
/// (a second apart; less across the agent's restart).
fn contiguous(site: &Site, agent: &str) {
    let (n, lo, hi) = site.rounds(agent);
    assert_eq!(
        (lo, n),
        (1, hi),
        "{agent}: rounds 1..{hi} each once, {n} held"
    );
    let ats = sql(
        &site.db,
        &format!("SELECT at FROM vantage_rounds WHERE agent = '{agent}' ORDER BY seq"),
    );
    let ts: Vec<f64> = ats
        .lines()
        .map(|a| common::epoch(&Value::String(a.into())))
        .collect();
    for w in ts.windows(2) {
        assert!(
            w[1] > w[0] && w[1] - w[0] < 2.5,
            "{agent}: rounds {w:?} are not in order a second apart"
        );
    }
}

fn listener(up: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            if !up.load(Ordering::Relaxed) {
                break;
            }
            drop(s);
        }
    });
    port
}

/// A block target that can be switched off and on: a TCP port on
/// 127.0.0.2 that is listened on, or closed (connections refused).
struct Target {
    port: u16,
    stop: Option<Arc<AtomicBool>>,
}

impl Target {
    fn new() -> Target {
        let port = TcpListener::bind("127.0.0.2:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut t = Target { port, stop: None };
        t.on();
        t
    }

    fn on(&mut self) {
        let l = TcpListener::bind(("127.0.0.2", self.port)).unwrap();
        let up = Arc::new(AtomicBool::new(true));
        self.stop = Some(up.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                if !up.load(Ordering::Relaxed) {
                    break;
                }
                drop(s);
            }
        });
    }

    fn off(&mut self) {
        if let Some(up) = self.stop.take() {
            up.store(false, Ordering::Relaxed);
            // Wakes the accept loop, which then closes the listener.
            let _ = std::net::TcpStream::connect(("127.0.0.2", self.port));
        }
    }
}

/// A TCP relay from the agents to the central that can be cut: while cut,
/// connections are closed at once and those open are shut down, so the
/// central is unreachable from the agents while it runs.
struct Relay {
    port: u16,
    open: Arc<AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn new(to: u16) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let conns: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> = Default::default();
        let (o, cs) = (open.clone(), conns.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(a) = s else { continue };
                if !o.load(Ordering::Relaxed) {
                    continue; // dropped: closed at once
                }
                let Ok(b) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                cs.lock()
                    .unwrap()
                    .extend([a.try_clone().unwrap(), b.try_clone().unwrap()]);
                for (mut from, mut into) in
                    [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut into);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, open, conns }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::Relaxed);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::Relaxed);
    }
}

/// Block outages in the ledger: (start, start_after, end, end_after) as
/// Unix seconds, oldest first.
fn block_outages(site: &Site) -> Vec<(f64, f64, Option<f64>, Option<f64>)> {
    let rows = sql(
        &site.db,
        "SELECT start_at, coalesce(start_after, ''), coalesce(end_at, ''), coalesce(end_after, '') FROM outages WHERE block IS NOT NULL AND cause = 'ip_block_unreachable' ORDER BY start_at",
    );
    let t = |s: &str| (!s.is_empty()).then(|| common::epoch(&Value::String(s.into())));
    rows.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (t(f[0]).unwrap(), t(f[1]).unwrap_or(0.0), t(f[2]), t(f[3]))
        })
        .collect()
}

fn unix_now() -> f64 {
    linkledger_ledger::clock::wall_now().timestamp_millis() as f64 / 1000.0
}

/// The block as the public sees it: two agents probing a TCP target of the
/// line's block. The target closed: one block outage, edges within one
/// agent interval, a major fault, charged in the budget. The central cut
/// off from the agents while the block fails again: after the agents'
/// buffers replay, that outage is in the ledger with its true edges, every
/// round once. With `ip_block_counts = false` the budget does not charge
/// them.
#[test]
fn the_block_unreachable_from_two_agents_is_a_charged_outage_even_when_seen_late() {
    if !common::can_ping() {
        return;
    }
    let mut target = Target::new();
    let mut site = Site::new(target.port);
    let relay = Relay::new(site.port);
    site.agent_port = relay.port;
    let central = site.central();
    let agents = [site.agent(0), site.agent(1)];
    let block = "linkledger_block_state{block=\"127.0.0.0/29\",line=\"telecom\",state=";
    wait("the block judged up", Duration::from_secs(30), || {
        http(site.port, "GET", "/metrics", None, b"")
            .1
            .contains(&format!("{block}\"up\"}} 1"))
    });

    // The carrier stops routing the block: both agents fail to reach it.
    let off = unix_now();
    target.off();
    std::thread::sleep(Duration::from_secs(6));
    let on = unix_now();
    target.on();
    wait("the block outage closed", Duration::from_secs(30), || {
        block_outages(&site).first().is_some_and(|o| o.2.is_some())
    });
    let o = block_outages(&site)[0];
    // Rounds are a second apart and the later agent's failed round makes
    // the quorum: each edge within one interval (and a little scheduling).
    assert!(
        o.0 >= off - 0.1 && o.0 <= off + 1.6,
        "start {} vs off {off}",
        o.0
    );
    assert!(o.1 < o.0, "the start's bound precedes it");
    let end = o.2.unwrap();
    assert!(end >= on - 0.1 && end <= on + 1.6, "end {end} vs on {on}");
    let fault = sql(
        &site.db,
        "SELECT f.trigger, f.class, f.resolved_at IS NOT NULL FROM faults f JOIN fault_links k ON k.fault_id = f.id JOIN outages o ON k.kind = 'outage' AND o.id = k.ref_id WHERE o.block IS NOT NULL",
    );
    assert_eq!(fault.trim(), "ip_block_unreachable|major|1");
    let b = common::budget_json(&site.config);
    let charged = common::budget_line(&b, "telecom")["charged_s"]
        .as_f64()
        .unwrap();
    assert!(
        (charged - (end - o.0)).abs() < 0.01,
        "charged {charged} s for a block outage of {} s",
        end - o.0
    );

    // The central unreachable from the agents for 15 s, the block failing
    // again inside it: seen only in the replayed rounds.
    relay.cut();
    std::thread::sleep(Duration::from_secs(4));
    let off2 = unix_now();
    target.off();
    std::thread::sleep(Duration::from_secs(6));
    let on2 = unix_now();
    target.on();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        block_outages(&site).len(),
        1,
        "nothing judged while the agents were cut off"
    );
    relay.restore();
    wait("the late block outage", Duration::from_secs(40), || {
        block_outages(&site).get(1).is_some_and(|o| o.2.is_some())
    });
    let o2 = block_outages(&site)[1];
    assert!(
        o2.0 >= off2 - 0.1 && o2.0 <= off2 + 1.6,
        "late start {} vs off {off2}",
        o2.0
    );
    let end2 = o2.2.unwrap();
    assert!(
        end2 >= on2 - 0.1 && end2 <= on2 + 1.6,
        "late end {end2} vs on {on2}"
    );
    std::thread::sleep(Duration::from_secs(2));
    contiguous(&site, "a1");
    contiguous(&site, "a2");
    assert_eq!(block_outages(&site).len(), 2, "each outage once");

    drop(agents);
    drop(central);
    // The same ledger under terms where block outages do not count.
    let text = std::fs::read_to_string(&site.config).unwrap().replace(
        "annual_downtime_cap = \"4h\"",
        "annual_downtime_cap = \"4h\"\nip_block_counts = false",
    );
    let uncounted = site.dir.path().join("uncounted.toml");
    std::fs::write(&uncounted, text).unwrap();
    let b = common::budget_json(&uncounted);
    let telecom = common::budget_line(&b, "telecom");
    assert_eq!(telecom["charged_s"].as_f64(), Some(0.0), "{telecom}");
    assert!(!site.log("central.log").contains("panicked"));
}

#[test]
fn agents_push_every_round_once_through_restarts_and_bad_input_is_refused() {
    if !common::can_ping() {
        return;
    }
    let up = Arc::new(AtomicBool::new(true));
    let target_port = listener(up.clone());
    let site = Site::new(target_port);
    let mut central = site.central();
    let mut agents = [site.agent(0), site.agent(1)];
    wait("rounds from both agents", Duration::from_secs(20), || {
        site.rounds("a1").0 >= 3 && site.rounds("a2").0 >= 3
    });
    let (code, body) = http(
        site.port,
        "GET",
        "/api/v1/agent/targets",
        Some(TOKENS[0]),
        b"",
    );
    assert_eq!(code, 200, "{body}");
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["agent"], "a1");
    assert_eq!(
        t["targets"][0]["target"],
        format!("127.0.0.2:tcp/{target_port}")
    );
    assert_eq!(t["targets"][0]["line"], "telecom");
    let answered = sql(
        &site.db,
        "SELECT blocks || '|' || unanswered FROM vantage_rounds WHERE agent = 'a1' ORDER BY seq DESC LIMIT 1",
    );
    // Kept compactly: per block, targets probed and answered; no index of
    // a silent target.
    assert!(
        answered.contains("\"targets\":1,\"answered\":1") && answered.ends_with('|'),
        "{answered}"
    );
    let metrics = http(site.port, "GET", "/metrics", None, b"").1;
    assert!(
        metrics.contains("linkledger_vantage_own_side_up{agent=\"a1\"} 1"),
        "{metrics}"
    );
    let status = Command::new(BIN)
        .args(["vantage", "status", "--json", "-c"])
        .arg(&site.config)
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["healthy"], true);
    assert!(status[0]["lag_s"].as_f64().unwrap() < 5.0);

    // The central away for 6 s (SIGKILL): the agents keep their rounds and
    // replay them, in order, when it is back.
    let before = site.rounds("a1").2;
    kill(&mut central);
    std::thread::sleep(Duration::from_secs(6));
    let mut central = site.central();
    wait("the backlog replayed", Duration::from_secs(20), || {
        site.rounds("a1").2 >= before + 6 && site.rounds("a2").2 >= before + 5
    });

    // The block target stops answering: the rounds say so.
    up.store(false, Ordering::Relaxed);
    // Wakes the accept loop, which then closes the listener.
    let _ = std::net::TcpStream::connect(("127.0.0.2", target_port));
    let seen = site.rounds("a1").2;
    wait(
        "a round with the target silent",
        Duration::from_secs(10),
        || {
            sql(&site.db, &format!("SELECT count(*) FROM vantage_rounds WHERE agent = 'a1' AND seq > {seen} AND unanswered = '0' AND blocks LIKE '%\"answered\":0%'")) != "0"
        },
    );

    // Agent a1 SIGKILLed while the central is away, restarted with its
    // backlog, the central restarted: nothing lost, nothing twice.
    kill(&mut central);
    std::thread::sleep(Duration::from_secs(3));
    kill(&mut agents[0]);
    agents[0] = site.agent(0);
    std::thread::sleep(Duration::from_secs(3));
    let central = site.central();
    let hi = site.rounds("a1").2;
    wait(
        "a1's backlog after its restart",
        Duration::from_secs(20),
        || site.rounds("a1").2 >= hi + 4,
    );
    std::thread::sleep(Duration::from_secs(2));
    contiguous(&site, "a1");
    contiguous(&site, "a2");

    // Bad input: refused with a reason, nothing stored, the daemon unaffected.
    let held = sql(&site.db, "SELECT count(*) FROM vantage_rounds");
    let round = |seq: i64, at: String| json!({"seq": seq, "at": at, "anchors": 1, "anchors_answered": 1, "results": []});
    let now = linkledger_ledger::clock::wall_now();
    let batch = |agent: &str, rounds: Vec<Value>| {
        json!({"schema": "linkledger.agent-batch/v1", "agent": agent, "rounds": rounds}).to_string()
    };
    let post = |token: Option<&str>, body: &str| {
        http(
            site.port,
            "POST",
            "/api/v1/agent/batches",
            token,
            body.as_bytes(),
        )
    };
    let future = batch(
        "a2",
        vec![round(
            1_000_000,
            (now + chrono::TimeDelta::hours(1)).to_rfc3339(),
        )],
    );
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (
            Some("not-a-token-at-all-0123456789abcdef0123"),
            batch("a2", vec![round(999_999, now.to_rfc3339())]),
            401,
            "unknown agent token",
        ),
        (
            None,
            batch("a2", vec![round(999_999, now.to_rfc3339())]),
            401,
            "Bearer",
        ),
        (
            Some(TOKENS[1]),
            batch("a1", vec![round(999_999, now.to_rfc3339())]),
            403,
            "but its token is agent",
        ),
        (
            Some(TOKENS[1]),
            "{\"schema\": ".to_string(),
            400,
            "invalid JSON",
        ),
        (Some(TOKENS[1]), future, 422, "from the future"),
        (Some(TOKENS[1]), "x".repeat(5 * 1024 * 1024), 413, "over"),
    ];
    for (token, body, want, says) in cases {
        let (code, answer) = post(token, &body);
        assert_eq!(code, want, "{answer}");
        assert!(answer.contains(says), "{want}: {answer}");
    }
    // A replay of a stored round: acknowledged, stored once.
    let (code, answer) = post(
        Some(TOKENS[1]),
        &batch("a2", vec![round(1, now.to_rfc3339())]),
    );
    assert_eq!(code, 200, "{answer}");
    let ack: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        (ack["stored"].as_i64(), ack["duplicates"].as_i64()),
        (Some(0), Some(1))
    );
    // What the agents pushed meanwhile is all that was added.
    let after: i64 = sql(&site.db, "SELECT count(*) FROM vantage_rounds")
        .parse()
        .unwrap();
    let (n1, _, hi1) = site.rounds("a1");
    let (n2, _, hi2) = site.rounds("a2");
    assert_eq!((n1, n2), (hi1, hi2), "nothing stored out of sequence");
    assert!(after >= held.parse::<i64>().unwrap());
    assert_eq!(
        http(site.port, "GET", "/healthz", None, b"").0,
        200,
        "the daemon is unaffected"
    );
    drop(central);
    drop(agents);
    assert!(
        !site.log("central.log").contains("panicked"),
        "{}",
        site.log("central.log")
    );
}

/// An agent whose clock was an hour slow at start (NTP not caught up)
/// follows the step when the clock is set right: its rounds before are an
/// hour back, as its clock said, its rounds after at the central's time,
/// every round still delivered once and in order.
#[test]
fn an_agent_follows_its_clock_stepped_forward() {
    if !common::can_ping() || !common::have_tool("faketime", "faketime") {
        return;
    }
    let lib = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        .iter()
        .map(|d| format!("{d}/faketime/libfaketime.so.1"))
        .find(|p| std::path::Path::new(p).exists())
        .expect("libfaketime (Debian package faketime)");
    let up = Arc::new(AtomicBool::new(true));
    let site = Site::new(listener(up));
    let _central = site.central();
    let offset = site.dir.path().join("faketime");
    std::fs::write(&offset, "-3600\n").unwrap();
    let env = [
        ("LD_PRELOAD", lib),
        ("FAKETIME_TIMESTAMP_FILE", offset.display().to_string()),
        ("FAKETIME_NO_CACHE", "1".to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
    ];
    let _agent = site.agent_with(0, &env);
    let newest = || -> f64 {
        sql(
            &site.db,
            "SELECT (julianday(max(at)) - 2440587.5) * 86400.0 FROM vantage_rounds WHERE agent = 'a1'",
        )
        .parse()
        .unwrap_or(0.0)
    };
    wait("the slow agent's rounds", Duration::from_secs(20), || {
        site.rounds("a1").0 >= 3
    });
    let behind = common::now_epoch() - newest();
    assert!(
        (behind - 3600.0).abs() < 5.0,
        "rounds an hour back before the step: {behind}"
    );
    std::fs::write(&offset, "+0\n").unwrap();
    wait("rounds at the real time", Duration::from_secs(20), || {
        (common::now_epoch() - newest()).abs() < 5.0
    });
    let (n, _, _) = site.rounds("a1");
    wait(
        "more rounds after the step",
        Duration::from_secs(20),
        || site.rounds("a1").0 >= n + 3,
    );
    let (n, lo, hi) = site.rounds("a1");
    assert_eq!((lo, n), (1, hi), "rounds 1..{hi} each once, {n} held");
    let ts: Vec<f64> = sql(
        &site.db,
        "SELECT (julianday(at) - 2440587.5) * 86400.0 FROM vantage_rounds WHERE agent = 'a1' ORDER BY seq",
    )
    .lines()
    .map(|a| a.parse().unwrap())
    .collect();
    let steps: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|d| *d > 0.0),
        "rounds out of order: {steps:?}"
    );
    let jumps: Vec<&f64> = steps.iter().filter(|d| **d > 2.5).collect();
    assert!(
        jumps.len() == 1 && (jumps[0] - 3600.0).abs() < 3.0,
        "one jump of the step between rounds a second apart: {jumps:?}"
    );
    assert!(
        site.log("a1.log")
            .contains("the wall clock stepped forward"),
        "{}",
        site.log("a1.log")
    );
}
