//! The SNMP side against snmpsim (PyPI) serving real router walks from
//! `snmpsim-data` (a Huawei S5720 and a Juniper MX960), and records crafted
//! for what a real agent rarely shows on demand: a Counter64 that resets, a
//! sysUpTime that goes back, a counter that stalls.
//!
//! snmpsim drops root privileges, so it must be installed where an
//! unprivileged user can read it: `.ci/run` builds a venv from Debian's
//! python3 in /opt/linkledger-snmpsim (override with LINKLEDGER_SNMPSIM_VENV).
#![allow(clippy::disallowed_types)] // real-time polling of a child process

#[path = "common/skip.rs"]
mod skip;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use linkledger_core::traffic::{rates, CounterSample, Discard};
use linkledger_probes::snmp::interface::{find_interface, read_interface, IfSelector, IfStatus};
use linkledger_probes::snmp::oids::SYS_UPTIME_0;
use linkledger_probes::snmp::{Agent, Credentials, SnmpClient};

struct Snmpsim {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Snmpsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("LINKLEDGER_SNMPSIM_VENV").unwrap_or("/opt/linkledger-snmpsim".into()),
    );
    if dir.join("bin/snmpsim-command-responder").exists() {
        return Some(dir);
    }
    skip::cannot_run(
        &skip::this_test(),
        &format!(
            "snmpsim is not installed in {} (see .ci/run)",
            dir.display()
        ),
    );
    None
}

/// The recordings shipped by snmpsim-data.
fn recording(venv: &Path, name: &str) -> String {
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))",
        ])
        .output()
        .unwrap();
    let base = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let file = base
        .join("data/network/router")
        .join(format!("{name}.snmprec.bz2"));
    let out = Command::new("bzcat").arg(&file).output().expect("bzcat");
    assert!(out.status.success(), "cannot read {}", file.display());
    String::from_utf8(out.stdout).unwrap()
}

/// Starts snmpsim serving `files` (community = file stem).
async fn start(venv: &Path, files: &[(&str, String)]) -> Snmpsim {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for (community, text) in files {
        std::fs::write(data.join(format!("{community}.snmprec")), text).unwrap();
    }
    // snmpsim runs as nobody: let it read the data and write its index.
    for p in [dir.path(), &data] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(venv.join("bin/snmpsim-command-responder"))
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
        .expect("start snmpsim");
    let sim = Snmpsim {
        child,
        port,
        _dir: dir,
    };
    // Indexing a large walk takes a while on first start.
    for _ in 0..240 {
        let mut c = SnmpClient::connect(agent(port, files[0].0)).await.unwrap();
        if c.get(&[SYS_UPTIME_0]).await.is_ok() {
            return sim;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("snmpsim did not answer");
}

fn agent(port: u16, community: &str) -> Agent {
    Agent {
        address: ([127, 0, 0, 1], port).into(),
        credentials: Credentials::V2c {
            community: community.into(),
        },
        timeout: Duration::from_millis(500),
        retries: 1,
    }
}

/// A recorded value: ("4x" hex strings decoded).
fn recorded(text: &str, oid: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with(&format!("{oid}|")))?;
    let mut parts = line.splitn(3, '|');
    let (_, tag, value) = (parts.next()?, parts.next()?, parts.next()?);
    Some(if tag.ends_with('x') {
        let bytes: Vec<u8> = (0..value.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&value[i..i + 2], 16).unwrap())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        value.to_string()
    })
}

/// The first interface whose recorded ifName starts with `prefix`, and its index.
fn first_interface(text: &str, prefix: &str) -> (String, u32) {
    let base = "1.3.6.1.2.1.31.1.1.1.1.";
    text.lines()
        .filter_map(|l| l.strip_prefix(base))
        .filter_map(|rest| {
            let index: u32 = rest.split('|').next()?.parse().ok()?;
            let name = recorded(text, &format!("{base}{index}"))?;
            name.starts_with(prefix).then_some((name, index))
        })
        .next()
        .unwrap_or_else(|| panic!("no interface named {prefix}* in the recording"))
}

#[tokio::test]
async fn the_wan_interface_of_real_huawei_and_juniper_walks_is_found_by_name() {
    let Some(venv) = venv() else { return };
    let huawei = recording(&venv, "huawei-s5720");
    let juniper = recording(&venv, "juniper-mx960-13-3r9-13");
    let cases = [
        ("huawei", huawei, "GigabitEthernet"),
        ("juniper", juniper, "ge-"),
    ];
    let sim = start(
        &venv,
        &cases
            .iter()
            .map(|(c, t, _)| (*c, t.clone()))
            .collect::<Vec<_>>(),
    )
    .await;
    for (community, text, prefix) in &cases {
        let (name, want) = first_interface(text, prefix);
        let mut c = SnmpClient::connect(agent(sim.port, community))
            .await
            .unwrap();
        let index = find_interface(&mut c, &IfSelector::Name(name.clone()))
            .await
            .unwrap();
        assert_eq!(index, want, "{community}: {name}");
        let r = read_interface(&mut c, index).await.unwrap();
        let rec = |col: &str| recorded(text, &format!("1.3.6.1.2.1.{col}.{index}")).unwrap();
        assert_eq!(
            r.in_octets.to_string(),
            rec("31.1.1.1.6"),
            "{community} ifHCInOctets"
        );
        assert_eq!(
            r.out_octets.to_string(),
            rec("31.1.1.1.10"),
            "{community} ifHCOutOctets"
        );
        assert_eq!(
            r.high_speed_mbps.to_string(),
            rec("31.1.1.1.15"),
            "{community} ifHighSpeed"
        );
        let oper = match rec("2.2.1.8").as_str() {
            "1" => IfStatus::Up,
            "2" => IfStatus::Down,
            other => IfStatus::Other(other.parse().unwrap()),
        };
        assert_eq!(r.oper, oper, "{community} ifOperStatus");
        assert_eq!(
            r.sys_uptime.to_string(),
            recorded(text, "1.3.6.1.2.1.1.3.0").unwrap()
        );
    }
}

/// One interface "wan0" (ifIndex 1) with the given sysUpTime and ifHCInOctets records.
fn crafted(uptime: &str, in_octets: &str) -> String {
    [
        format!("1.3.6.1.2.1.1.3.0|{uptime}"),
        "1.3.6.1.2.1.2.2.1.7.1|2|1".into(),
        "1.3.6.1.2.1.2.2.1.8.1|2|1".into(),
        "1.3.6.1.2.1.2.2.1.13.1|65|0".into(),
        "1.3.6.1.2.1.2.2.1.14.1|65|0".into(),
        "1.3.6.1.2.1.2.2.1.19.1|65|0".into(),
        "1.3.6.1.2.1.2.2.1.20.1|65|0".into(),
        "1.3.6.1.2.1.31.1.1.1.1.1|4|wan0".into(),
        format!("1.3.6.1.2.1.31.1.1.1.6.1|{in_octets}"),
        "1.3.6.1.2.1.31.1.1.1.10.1|70|1000".into(),
        "1.3.6.1.2.1.31.1.1.1.15.1|66|1000".into(),
    ]
    .join("\n")
        + "\n"
}

/// Polls once a second for `n` polls; returns each pair's rate or discard.
async fn poll_rates(port: u16, community: &str, n: usize) -> Vec<Result<f64, Discard>> {
    let mut c = SnmpClient::connect(agent(port, community)).await.unwrap();
    let index = find_interface(&mut c, &IfSelector::Name("wan0".into()))
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut prev: Option<CounterSample> = None;
    let mut out = Vec::new();
    for _ in 0..n {
        let r = read_interface(&mut c, index).await.unwrap();
        let s = CounterSample {
            at_ms: start.elapsed().as_millis() as u64,
            sys_uptime: r.sys_uptime,
            engine_boots: None,
            in_octets: r.in_octets,
            out_octets: r.out_octets,
            speed_bps: u64::from(r.high_speed_mbps) * 1_000_000,
        };
        if let Some(p) = prev.replace(s) {
            out.push(rates(&p, &s).map(|x| x.in_bps));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    out
}

#[tokio::test]
async fn crafted_resets_restarts_and_stalls_never_invent_traffic() {
    let Some(venv) = venv() else { return };
    let steady_uptime = "67:numeric|rate=100,initial=1000";
    let files = [
        // 1 Mbit/s inbound (125,000 octets/s), the counter resetting every 4 s.
        (
            "reset",
            crafted(steady_uptime, "70:numeric|rate=125000,max=500000,wrap=1"),
        ),
        // sysUpTime going back every 4 s (the agent restarted), counters steady.
        (
            "uptime",
            crafted(
                "67:numeric|rate=100,max=400,wrap=1",
                "70:numeric|rate=125000,initial=1000",
            ),
        ),
        // A counter that stalls.
        ("stall", crafted(steady_uptime, "70|123456789")),
    ];
    let sim = start(
        &venv,
        &files
            .iter()
            .map(|(c, t)| (*c, t.clone()))
            .collect::<Vec<_>>(),
    )
    .await;
    let within = |bps: f64| (bps - 1e6).abs() <= 0.1e6;

    let reset = poll_rates(sim.port, "reset", 10).await;
    assert!(reset.contains(&Err(Discard::CounterWentBack)), "{reset:?}");
    for r in reset.iter().flatten() {
        assert!(within(*r), "a rate around a reset: {r} bit/s in {reset:?}");
    }

    let uptime = poll_rates(sim.port, "uptime", 10).await;
    assert!(uptime.contains(&Err(Discard::AgentRestarted)), "{uptime:?}");
    for r in uptime.iter().flatten() {
        assert!(
            within(*r),
            "a rate across a restart: {r} bit/s in {uptime:?}"
        );
    }

    let stall = poll_rates(sim.port, "stall", 4).await;
    assert_eq!(
        stall,
        vec![Ok(0.0); 3],
        "a stalled counter is no traffic, not an error"
    );
}
