//! Benchmark of one vantage agent probing T block targets (default 1,000:
//! ICMP echo to loopback addresses, every tenth a TCP connect to a local
//! listener) every 5 s for S seconds (default 60), pushing each round to a
//! real central daemon on loopback. Prints the agent's CPU (% of one core)
//! and its peak resident memory, and the central's CPU for the same run.
//!
//!     cargo bench --bench vantage_agent
//!     LINKLEDGER_BENCH_TARGETS=200 LINKLEDGER_BENCH_SECS=30 cargo bench --bench vantage_agent
//!
//! Needs ICMP sockets (root, CAP_NET_RAW or net.ipv4.ping_group_range).
#![allow(clippy::disallowed_types)] // wall-clock measurement of the whole run

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_linkledger");
const TOKEN: &str = "bench-agent-token-0123456789abcdef0123456789";

fn env(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU ticks of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(i) = stat.rfind(')') else { return 0 };
    let f: Vec<&str> = stat[i + 2..].split_whitespace().collect();
    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
}

/// Peak resident set (VmHWM) of a process, in KB.
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn query(db: &std::path::Path, q: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])",
        ])
        .arg(db)
        .arg(q)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn rounds_held(db: &std::path::Path) -> String {
    query(db, "SELECT count(*) FROM vantage_rounds")
}

fn main() {
    let targets = env("LINKLEDGER_BENCH_TARGETS", 1000);
    let secs = env("LINKLEDGER_BENCH_SECS", 60);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Every tenth target a TCP connect: each its own listener on
    // 127.0.9.1 (accepts and closes).
    let list: Vec<String> = (0..targets)
        .map(|t| {
            if t % 10 == 9 {
                let l = std::net::TcpListener::bind("127.0.9.1:0").unwrap();
                let p = l.local_addr().unwrap().port();
                std::thread::spawn(move || {
                    for s in l.incoming() {
                        drop(s);
                    }
                });
                format!("\"127.0.9.1:tcp/{p}\"")
            } else {
                format!("\"127.0.{}.{}\"", 4 + t / 250, 1 + t % 250)
            }
        })
        .collect();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml");
    let text = std::fs::read_to_string(demo)
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {db:?}"),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"))
        .replacen(
            "ip_blocks = [\"198.19.100.0/29\"]",
            &format!(
                "ip_blocks = [\"127.0.4.0/22\", \"127.0.9.0/24\"]\nblock_targets = [{}]",
                list.join(", ")
            ),
            1,
        )
        + &format!("\n[[vantage]]\nid = \"bench\"\ntoken = \"{TOKEN}\"\n");
    let config = dir.path().join("central.toml");
    std::fs::write(&config, text).unwrap();
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let central = Kill(
        Command::new(BIN)
            .args(["run", "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log("central.log"))
            .spawn()
            .unwrap(),
    );
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "[agent]\nid = \"bench\"\ncentral = \"http://127.0.0.1:{port}\"\ntoken = \"{TOKEN}\"\ninterval = \"5s\"\ntimeout = \"2s\"\nbuffer = {:?}\nanchors = [\"127.0.0.1\"]\n",
            dir.path().join("buffer.db")
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let agent = Kill(
        Command::new(BIN)
            .args(["agent", "-c"])
            .arg(&agent_cfg)
            .stdout(Stdio::null())
            .stderr(log("agent.log"))
            .spawn()
            .unwrap(),
    );
    // Warm-up: the first rounds in, then measure.
    std::thread::sleep(Duration::from_secs(7));
    let (a0, c0, w0) = (
        cpu_ticks(agent.0.id()),
        cpu_ticks(central.0.id()),
        Instant::now(),
    );
    let held0 = rounds_held(&db);
    std::thread::sleep(Duration::from_secs(secs));
    let wall = w0.elapsed().as_secs_f64();
    let a = (cpu_ticks(agent.0.id()) - a0) as f64 / 100.0;
    let c = (cpu_ticks(central.0.id()) - c0) as f64 / 100.0;
    let held = rounds_held(&db);
    // What the last round says: every target probed and answered.
    let answered = query(
        &db,
        "SELECT (SELECT sum(json_extract(value, '$.answered')) || '/' || sum(json_extract(value, '$.targets')) FROM json_each(blocks)) FROM vantage_rounds ORDER BY at DESC LIMIT 1",
    );
    println!(
        "linkledger agent: {targets} targets every 5 s for {secs} s: agent CPU {:.1} % of one core, peak RSS {:.1} MB; \
         central CPU {:.1} % (rounds held {held0} -> {held}, last round {answered} answered)",
        100.0 * a / wall,
        peak_rss_kb(agent.0.id()) as f64 / 1024.0,
        100.0 * c / wall,
    );
    drop(agent);
    drop(central);
}
