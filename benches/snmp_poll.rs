//! Benchmark of SNMP polling: N interfaces (N snmpsim communities on one
//! agent, each a copy of one crafted interface) polled every 10 s the way the
//! daemon's pollers do (one session each, one GET per poll), for a fixed time.
//! Prints poll latency percentiles, errors, CPU % of one core and peak RSS of
//! this process, and, as the reference, the latency of net-snmp's `snmpget`
//! for the same GET on the same agent.
//!
//!     cargo bench --bench snmp_poll                  # N = 1,000, 60 s
//!     LINKLEDGER_BENCH_N=200 LINKLEDGER_BENCH_SECS=30 cargo bench --bench snmp_poll
//!
//! Needs snmpsim in /opt/linkledger-snmpsim (see .ci/run) and net-snmp's tools.
#![allow(clippy::disallowed_types)] // wall-clock measurement of the whole run

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use linkledger_probes::snmp::interface::read_interface;
use linkledger_probes::snmp::{Agent, Credentials, SnmpClient};

const RECORD: &str = "1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000
1.3.6.1.2.1.2.2.1.7.1|2|1
1.3.6.1.2.1.2.2.1.8.1|2|1
1.3.6.1.2.1.2.2.1.13.1|65|0
1.3.6.1.2.1.2.2.1.14.1|65|0
1.3.6.1.2.1.2.2.1.19.1|65|0
1.3.6.1.2.1.2.2.1.20.1|65|0
1.3.6.1.2.1.31.1.1.1.1.1|4|wan0
1.3.6.1.2.1.31.1.1.1.6.1|70:numeric|rate=125000,initial=1000
1.3.6.1.2.1.31.1.1.1.10.1|70:numeric|rate=62500,initial=1000
1.3.6.1.2.1.31.1.1.1.15.1|66|1000
";

fn proc_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn agent(port: u16, community: String) -> Agent {
    Agent {
        address: ([127, 0, 0, 1], port).into(),
        credentials: Credentials::V2c { community },
        timeout: Duration::from_secs(2),
        retries: 2,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("LINKLEDGER_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let secs: u64 = std::env::var("LINKLEDGER_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let venv = std::env::var("LINKLEDGER_SNMPSIM_VENV").unwrap_or("/opt/linkledger-snmpsim".into());
    let responder = format!("{venv}/bin/snmpsim-command-responder");
    if !std::path::Path::new(&responder).exists() {
        eprintln!("snmpsim is not installed in {venv}; see .ci/run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for i in 0..n {
        std::fs::write(data.join(format!("c{i}.snmprec")), RECORD).unwrap();
    }
    for p in [dir.path(), data.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sim = Command::new(&responder)
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!(
            "--cache-dir={}",
            dir.path().join("cache").display()
        ))
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .args(["--process-user=nobody", "--process-group=nogroup"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Wait until the last community answers (snmpsim indexes every file).
        let last = format!("c{}", n - 1);
        let mut ready = false;
        for _ in 0..600 {
            if let Ok(mut c) = SnmpClient::connect(agent(port, last.clone())).await {
                if read_interface(&mut c, 1).await.is_ok() {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(ready, "snmpsim did not come up");
        let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
        let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let interval = Duration::from_secs(10);
        let rss0 = proc_kb("VmRSS:");
        let (cpu0, wall0) = (cpu_ticks(), std::time::Instant::now());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for i in 0..n {
            let (lat, err) = (latencies.clone(), errors.clone());
            let a = agent(port, format!("c{i}"));
            let phase = interval * i as u32 / n as u32;
            tasks.push(tokio::spawn(async move {
                let mut c = SnmpClient::connect(a).await.unwrap();
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, interval);
                loop {
                    tick.tick().await;
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    let t = tokio::time::Instant::now();
                    match read_interface(&mut c, 1).await {
                        Ok(_) => lat.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0),
                        Err(_) => {
                            err.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let elapsed = wall0.elapsed().as_secs_f64();
        let cpu = (cpu_ticks() - cpu0) as f64 / 100.0;
        let mut l = latencies.lock().unwrap().clone();
        l.sort_by(f64::total_cmp);
        println!(
            "linkledger: N={n} interfaces every 10 s for {secs} s: {} polls, {} errors; latency ms p50 {:.1} p95 {:.1} p99 {:.1} max {:.1}; CPU {:.1} % of one core; RSS +{:.1} MB, peak {:.1} MB",
            l.len(),
            errors.load(std::sync::atomic::Ordering::Relaxed),
            pct(&l, 0.5),
            pct(&l, 0.95),
            pct(&l, 0.99),
            l.last().copied().unwrap_or(f64::NAN),
            100.0 * cpu / elapsed,
            proc_kb("VmRSS:").saturating_sub(rss0) as f64 / 1024.0,
            proc_kb("VmHWM:") as f64 / 1024.0,
        );
    });
    // Reference: net-snmp's snmpget for the same GET, one process per poll.
    let oids = [
        "1.3.6.1.2.1.1.3.0",
        "1.3.6.1.2.1.2.2.1.7.1",
        "1.3.6.1.2.1.2.2.1.8.1",
        "1.3.6.1.2.1.31.1.1.1.15.1",
        "1.3.6.1.2.1.31.1.1.1.6.1",
        "1.3.6.1.2.1.31.1.1.1.10.1",
        "1.3.6.1.2.1.2.2.1.14.1",
        "1.3.6.1.2.1.2.2.1.20.1",
        "1.3.6.1.2.1.2.2.1.13.1",
        "1.3.6.1.2.1.2.2.1.19.1",
    ];
    let mut l = Vec::new();
    for i in 0..50 {
        let t = std::time::Instant::now();
        let ok = Command::new("snmpget")
            .args([
                "-m",
                "",
                "-M",
                "/nonexistent",
                "-v2c",
                "-c",
                &format!("c{}", i % n),
                &format!("127.0.0.1:{port}"),
            ])
            .args(oids)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            l.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    l.sort_by(f64::total_cmp);
    println!(
        "net-snmp snmpget (reference, a process per poll): {} polls; latency ms p50 {:.1} p95 {:.1} max {:.1}",
        l.len(),
        pct(&l, 0.5),
        pct(&l, 0.95),
        l.last().copied().unwrap_or(f64::NAN)
    );
    let _ = sim.kill();
    let _ = sim.wait();
}
