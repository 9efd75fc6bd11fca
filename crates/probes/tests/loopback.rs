//! Real ICMP on loopback: every 127.x address answers (needs root, CAP_NET_RAW
//! or an unprivileged ping range; otherwise fails unless skipping was asked
//! for, see tests/common/skip.rs).

#[path = "../../../tests/common/skip.rs"]
mod skip;

use std::net::IpAddr;
use std::time::Duration;

use linkledger_probes::{Binding, EchoOutcome, Echoer, IcmpError};

fn open() -> Option<Echoer> {
    match Echoer::open(&Binding::default(), true, true) {
        Ok(e) => Some(e),
        Err(e @ IcmpError::Permission { .. }) => {
            skip::cannot_run(&skip::this_test(), &e.to_string());
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn loopback_targets_all_answer_with_plausible_rtt() {
    let Some(echoer) = open() else { return };
    let targets: Vec<IpAddr> = (1..=50)
        .map(|i| format!("127.0.3.{i}").parse().unwrap())
        .collect();
    let outcomes = echoer.round(&targets, Duration::from_millis(500)).await;
    assert_eq!(outcomes.len(), 50);
    for (t, o) in targets.iter().zip(&outcomes) {
        match o {
            EchoOutcome::Reply { rtt } => {
                assert!(*rtt < Duration::from_millis(500), "{t}: {rtt:?}")
            }
            other => panic!("{t}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn ipv6_loopback_answers() {
    let Some(echoer) = open() else { return };
    let outcomes = echoer
        .round(&["::1".parse().unwrap()], Duration::from_millis(500))
        .await;
    assert!(
        matches!(outcomes[0], EchoOutcome::Reply { .. }),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn unroutable_source_binding_is_a_clear_error() {
    let binding = Binding {
        source: Some("198.18.250.250".parse().unwrap()),
        interface: None,
    };
    match Echoer::open(&binding, true, false) {
        Err(IcmpError::BindSource { addr, .. }) => assert_eq!(addr.to_string(), "198.18.250.250"),
        Err(IcmpError::Permission { .. }) if std::env::var_os("CI").is_none() => {}
        other => panic!("expected a bind error, got {:?}", other.err()),
    }
}
