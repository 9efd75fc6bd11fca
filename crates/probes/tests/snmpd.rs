//! The SNMP client against Debian's real snmpd on loopback (v2c and v3
//! authPriv), and against responders that send garbage or nothing.
//! Skipped with a message when snmpd is not installed, except in CI.
#![allow(clippy::disallowed_types)] // real-time wait for a child process

#[path = "../../../tests/common/skip.rs"]
mod skip;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use linkledger_probes::snmp::interface::{find_interface, read_interface, IfSelector, IfStatus};
use linkledger_probes::snmp::oids::SYS_UPTIME_0;
use linkledger_probes::snmp::{Agent, Credentials, SnmpClient, SnmpError, SnmpValue, V3Auth};

const COMMUNITY: &str = "c0mmunity-s3cret";
const AUTH: &str = "auth-pass-8chars";
const PRIV: &str = "priv-pass-8chars";

struct Snmpd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn snmpd() -> Option<Snmpd> {
    if Command::new("snmpd")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        skip::cannot_run(
            &skip::this_test(),
            "snmpd is not installed (apt-get install snmpd)",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        format!(
            "agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n\
             createUser llv3 SHA \"{AUTH}\" AES \"{PRIV}\"\nrouser llv3 priv\n"
        ),
    )
    .unwrap();
    let child = Command::new("snmpd")
        .args(["-f", "-Ln", "-C", "-M", "/nonexistent", "-m", "", "-c"])
        .arg(&conf)
        .arg(format!(
            "--persistentDir={}",
            dir.path().join("persist").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start snmpd");
    let agent = Snmpd {
        child,
        port,
        _dir: dir,
    };
    // Ready when it answers.
    let mut ready = false;
    for _ in 0..50 {
        if let Ok(mut c) = SnmpClient::connect(v2c(agent.port)).await {
            if c.get(&[SYS_UPTIME_0]).await.is_ok() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "snmpd did not start answering");
    Some(agent)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn v2c(port: u16) -> Agent {
    Agent {
        address: addr(port),
        credentials: Credentials::V2c {
            community: COMMUNITY.into(),
        },
        timeout: Duration::from_millis(300),
        retries: 1,
    }
}

fn v3(port: u16, auth_password: &str) -> Agent {
    Agent {
        address: addr(port),
        credentials: Credentials::V3 {
            user: "llv3".into(),
            auth: V3Auth::Sha1,
            auth_password: auth_password.into(),
            privacy_password: PRIV.into(),
        },
        timeout: Duration::from_millis(500),
        retries: 1,
    }
}

#[tokio::test]
async fn v2c_discovers_the_interface_by_name_and_reads_it() {
    let Some(agent) = snmpd().await else { return };
    let mut c = SnmpClient::connect(v2c(agent.port)).await.unwrap();
    let index = find_interface(&mut c, &IfSelector::Name("lo".into()))
        .await
        .unwrap();
    let first = read_interface(&mut c, index).await.unwrap();
    assert_eq!(first.admin, IfStatus::Up);
    assert!(first.in_octets > 0, "SNMP itself crosses lo: {first:?}");
    assert_eq!(first.engine_boots, None, "v2c has no engine boots");
    tokio::time::sleep(Duration::from_millis(3500)).await; // snmpd caches for ~3 s
    let second = read_interface(&mut c, index).await.unwrap();
    assert!(second.sys_uptime > first.sys_uptime);
    assert!(
        second.in_octets > first.in_octets,
        "64-bit counters move: {first:?} -> {second:?}"
    );
    // The same interface by index; an unknown name is a clear error.
    assert_eq!(
        find_interface(&mut c, &IfSelector::Index(index))
            .await
            .unwrap(),
        index
    );
    let missing = find_interface(&mut c, &IfSelector::Name("wan9".into()))
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            "SNMP agent 127.0.0.1:{} has no interface with ifName \"wan9\"",
            agent.port
        )
    );
}

#[tokio::test]
async fn v3_auth_priv_with_sha_and_aes_works() {
    let Some(agent) = snmpd().await else { return };
    let mut c = SnmpClient::connect(v3(agent.port, AUTH)).await.unwrap();
    let got = c.get(&[SYS_UPTIME_0]).await.unwrap();
    assert!(matches!(got[0].1, SnmpValue::Timeticks(_)), "{got:?}");
    let index = find_interface(&mut c, &IfSelector::Name("lo".into()))
        .await
        .unwrap();
    let reading = read_interface(&mut c, index).await.unwrap();
    assert!(reading.engine_boots.is_some_and(|b| b >= 1), "{reading:?}");
}

#[tokio::test]
async fn a_wrong_v3_password_is_an_authentication_error_that_names_no_secret() {
    let Some(agent) = snmpd().await else { return };
    let err = match SnmpClient::connect(v3(agent.port, "wrong-password")).await {
        Ok(mut c) => c.get(&[SYS_UPTIME_0]).await.unwrap_err(),
        Err(e) => e,
    };
    assert!(matches!(err, SnmpError::Authentication { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("llv3"), "{text}");
    for secret in ["wrong-password", AUTH, PRIV] {
        assert!(!text.contains(secret), "secret in error: {text}");
    }
}

#[tokio::test]
async fn a_wrong_community_times_out_after_the_retries_and_names_no_secret() {
    let Some(agent) = snmpd().await else { return };
    let mut a = v2c(agent.port);
    a.credentials = Credentials::V2c {
        community: "not-the-community".into(),
    };
    let mut c = SnmpClient::connect(a.clone()).await.unwrap();
    let err = c.get(&[SYS_UPTIME_0]).await.unwrap_err();
    assert_eq!(
        err,
        SnmpError::Timeout {
            agent: a.address,
            operation: "get",
            attempts: 2,
            timeout: a.timeout
        }
    );
    assert!(!format!("{err} {a:?}").contains("not-the-community"));
}

/// A UDP responder that answers every request with `reply(request)`.
async fn responder(reply: fn(&[u8]) -> Vec<u8>) -> u16 {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&reply(&buf[..n]), from).await;
        }
    });
    port
}

#[tokio::test]
async fn garbage_truncated_and_silent_responders_are_errors_not_panics() {
    let garbage = responder(|_| b"\x30\x82\xff\xff not BER at all".to_vec()).await;
    let truncated = responder(|req| req[..req.len() / 2].to_vec()).await;
    let echo = responder(|req| req.to_vec()).await; // a request is not a response
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (port, want) in [
        (garbage, "malformed"),
        (truncated, "malformed"),
        (echo, "malformed"),
    ] {
        let mut c = SnmpClient::connect(v2c(port)).await.unwrap();
        let err = c.get(&[SYS_UPTIME_0]).await.unwrap_err();
        assert_eq!(err.reason(), want, "port {port}: {err}");
        assert!(c.walk(&[1, 3, 6, 1, 2, 1, 2]).await.is_err());
    }
    let mut c = SnmpClient::connect(v2c(silent.local_addr().unwrap().port()))
        .await
        .unwrap();
    assert_eq!(
        c.get(&[SYS_UPTIME_0]).await.unwrap_err().reason(),
        "timeout"
    );
}
