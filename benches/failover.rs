//! Failover of an active/standby pair on one PostgreSQL ledger, over 20
//! kills: two daemons on the demo config (loopback targets, 1 s
//! interval), the leader SIGKILLed, the time until the standby's /metrics
//! says it leads and until its run is in the ledger; the killed one is
//! started again and stands by, and the next kill takes the other. At the
//! end: the daemon gaps recorded (there should be none) and whether the
//! chain verifies.
//!
//! `cargo bench --bench failover` (root or CAP_NET_RAW for ICMP;
//! PostgreSQL as for the other benches: `LINKLEDGER_BENCH_POSTGRES`, else
//! a throwaway cluster). `LINKLEDGER_BENCH_KILLS` changes the count.

#![allow(clippy::disallowed_types)] // real-time orchestration of processes

#[allow(dead_code)] // the other benches' helpers
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_linkledger");

struct Instance {
    name: String,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn new(dir: &Path, name: &str, url: &str) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let own = dir.join(name);
        std::fs::create_dir_all(&own).unwrap();
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"))
                .unwrap()
                .replace(
                    "database = \"linkledger-demo.db\"",
                    &format!(
                "database = {url:?}\nactive_standby = true\ninstance = {name:?}\nstate_dir = {:?}",
                own.display().to_string()
            ),
                )
                .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"));
        let config = own.join("linkledger.toml");
        std::fs::write(&config, text).unwrap();
        Instance {
            name: name.into(),
            port,
            log: own.join("daemon.log"),
            config,
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new(BIN)
                .args(["run", "-c"])
                .arg(&self.config)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// linkledger_leader for this instance: Some(true) when it leads.
    fn leads(&self) -> Option<bool> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let sample = format!("linkledger_leader{{daemon=\"{}\"}} ", self.name);
        text.lines()
            .find_map(|l| l.strip_prefix(&sample))
            .map(|v| v.trim() == "1")
    }

    fn wait(&self, leading: bool, within: Duration) -> Duration {
        let t = Instant::now();
        while self.leads() != Some(leading) {
            if t.elapsed() > within {
                panic!(
                    "{} did not {} within {within:?}; its log:\n{}",
                    self.name,
                    if leading { "lead" } else { "stand by" },
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        t.elapsed()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-qAt", "-d", url, "-c", sql])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn main() {
    let Some(pg) = common::postgres("failover") else {
        eprintln!("failover: no PostgreSQL, skipped");
        return;
    };
    let kills = common::env("LINKLEDGER_BENCH_KILLS", 20);
    let dir = tempfile::tempdir().unwrap();
    let mut pair = [
        Instance::new(dir.path(), "bench-a", &pg.url),
        Instance::new(dir.path(), "bench-b", &pg.url),
    ];
    pair[0].start();
    pair[0].wait(true, Duration::from_secs(30));
    pair[1].start();
    pair[1].wait(false, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(3));

    let mut shown = Vec::new();
    let mut recorded = Vec::new();
    let mut leader = 0;
    for i in 0..kills {
        let standby = 1 - leader;
        let runs_before: i64 = psql(&pg.url, "SELECT count(*) FROM runs").parse().unwrap();
        let killed_at = linkledger_ledger::clock::wall_now();
        pair[leader].kill();
        let took = pair[standby].wait(true, Duration::from_secs(30));
        // Until its run is in the ledger (its first write).
        let t = Instant::now();
        let run_at = loop {
            let row = psql(
                &pg.url,
                &format!(
                    "SELECT started_at FROM runs WHERE id > {runs_before} ORDER BY id LIMIT 1"
                ),
            );
            if let Some(at) = linkledger_core::time::parse_ledger_ts(&row) {
                break at;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "no run recorded");
            std::thread::sleep(Duration::from_millis(20));
        };
        shown.push(took.as_secs_f64());
        recorded.push((run_at - killed_at).num_milliseconds() as f64 / 1000.0);
        println!(
            "kill {:>2}: {} → {}: leads on /metrics after {:.2} s, its run recorded {:.2} s after the kill",
            i + 1,
            pair[leader].name,
            pair[standby].name,
            took.as_secs_f64(),
            recorded.last().unwrap()
        );
        pair[leader].start();
        pair[leader].wait(false, Duration::from_secs(30));
        // A few rounds kept by the new standby before the next kill.
        std::thread::sleep(Duration::from_secs(3));
        leader = standby;
    }
    pair[leader].kill();
    pair[1 - leader].kill();

    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.0), at(0.5), at(0.9), at(1.0))
    };
    let (s_min, s_med, s_p90, s_max) = stats(&mut shown);
    let (r_min, r_med, r_p90, r_max) = stats(&mut recorded);
    let gaps = psql(
        &pg.url,
        "SELECT count(*) FROM gaps WHERE reason = 'daemon_not_running'",
    );
    println!("failover over {kills} SIGKILLs of the leader (probe interval 1 s, lease 1.5 s):");
    println!(
        "  standby leads (on /metrics):  min {s_min:.2} s, median {s_med:.2} s, p90 {s_p90:.2} s, max {s_max:.2} s"
    );
    println!(
        "  its run in the ledger:        min {r_min:.2} s, median {r_med:.2} s, p90 {r_p90:.2} s, max {r_max:.2} s"
    );
    println!("  daemon gaps recorded: {gaps} (unobserved time while either was probing)");
}
