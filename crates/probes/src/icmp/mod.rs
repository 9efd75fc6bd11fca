//! ICMP echo to many targets over one shared socket per address family.
//!
//! An [`Echoer`] owns at most one IPv4 and one IPv6 socket for one
//! [`Binding`] (source address and/or interface). A [`round`](Echoer::round)
//! sends one echo to each target, then waits once, until every reply is in or
//! the deadline passes: one timer per round, not one per target.
//!
//! A reply counts only if it is an echo reply from the address the request
//! went to, with our identifier (raw sockets), our sequence number and the
//! request's random 64-bit payload nonce. surge-ping matches on address,
//! identifier and sequence only and does not expose reply payloads, which is
//! why this module speaks ICMP itself.

pub mod packet;
mod socket;
pub mod trace;

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use socket::EchoSocket;

/// Where a line's probes leave from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Binding {
    /// Source address for the probes (also selects the family).
    pub source: Option<IpAddr>,
    /// Interface the socket is bound to (`SO_BINDTODEVICE`).
    pub interface: Option<String>,
}

/// What one echo in a round came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoOutcome {
    /// The right reply came back after this round-trip time.
    Reply { rtt: Duration },
    /// No matching reply before the deadline.
    Lost,
    /// The kernel refused to send because the network is unreachable from
    /// here (no route, interface down, address gone, filtered on output).
    /// This is evidence that the target cannot be reached.
    Unreachable { reason: &'static str },
    /// The echo could not be sent for a reason that says nothing about the
    /// network (no socket of that family, buffer exhaustion, a bug): no data.
    Failed { reason: String },
}

/// Errors opening the probe sockets.
#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    #[error(
        "cannot open an ICMP{family} socket: {error}; run as root, grant CAP_NET_RAW \
         (setcap cap_net_raw+ep, or AmbientCapabilities=CAP_NET_RAW under systemd), \
         or allow unprivileged ping sockets with sysctl net.ipv4.ping_group_range"
    )]
    Permission {
        family: &'static str,
        error: io::Error,
    },
    #[error("cannot open an ICMP{family} socket: {error}")]
    Open {
        family: &'static str,
        error: io::Error,
    },
    #[error("cannot bind the ICMP{family} socket to source {addr}: {error}")]
    BindSource {
        family: &'static str,
        addr: IpAddr,
        error: io::Error,
    },
    #[error("cannot bind the ICMP{family} socket to interface {interface:?}: {error}")]
    BindInterface {
        family: &'static str,
        interface: String,
        error: io::Error,
    },
}

/// Counters of what the receive path saw that did not match a probe.
#[derive(Debug, Default)]
pub struct ReceiveStats {
    /// Echo replies whose address and sequence matched a probe in flight but
    /// whose identifier or nonce did not: stray or spoofed replies.
    pub mismatched: AtomicU64,
}

/// Probes many targets over shared sockets; see the module docs.
pub struct Echoer {
    v4: Option<EchoSocket>,
    v6: Option<EchoSocket>,
    stats: Arc<ReceiveStats>,
}

impl Echoer {
    /// Opens the sockets for the families asked for. Must be called inside a
    /// tokio runtime (it spawns one receive task per socket).
    pub fn open(binding: &Binding, v4: bool, v6: bool) -> Result<Self, IcmpError> {
        Self::open_with_stats(binding, v4, v6, Arc::default())
    }

    /// Like [`open`](Self::open), counting into `stats` shared with other echoers.
    pub fn open_with_stats(
        binding: &Binding,
        v4: bool,
        v6: bool,
        stats: Arc<ReceiveStats>,
    ) -> Result<Self, IcmpError> {
        let v4 = v4
            .then(|| EchoSocket::open(binding, false, stats.clone()))
            .transpose()?;
        let v6 = v6
            .then(|| EchoSocket::open(binding, true, stats.clone()))
            .transpose()?;
        Ok(Self { v4, v6, stats })
    }

    /// What the receive path discarded.
    pub fn stats(&self) -> &ReceiveStats {
        &self.stats
    }

    /// Sends one echo to each target and waits until all replied or
    /// `timeout` after the round started. Outcomes are in target order.
    pub async fn round(&self, targets: &[IpAddr], timeout: Duration) -> Vec<EchoOutcome> {
        let deadline = Instant::now() + timeout;
        let slots = Arc::new(RoundSlots::new(targets.len()));
        let mut outcomes: Vec<Option<EchoOutcome>> = vec![None; targets.len()];
        let mut sent: Vec<(usize, u16)> = Vec::with_capacity(targets.len());
        for (index, &target) in targets.iter().enumerate() {
            let socket = match target {
                IpAddr::V4(_) => self.v4.as_ref(),
                IpAddr::V6(_) => self.v6.as_ref(),
            };
            let Some(socket) = socket else {
                outcomes[index] = Some(EchoOutcome::Failed {
                    reason: format!("no ICMP socket for the family of {target}"),
                });
                slots.resolve_without_reply();
                continue;
            };
            match socket.send(target, index, &slots).await {
                Ok(seq) => sent.push((index, seq)),
                Err(outcome) => {
                    outcomes[index] = Some(outcome);
                    slots.resolve_without_reply();
                }
            }
        }
        if slots.remaining.load(Ordering::Acquire) > 0 {
            let _ = tokio::time::timeout_at(deadline, slots.all_done.notified()).await;
        }
        for &(index, seq) in &sent {
            let target = targets[index];
            let socket = if target.is_ipv4() { &self.v4 } else { &self.v6 };
            if let Some(socket) = socket {
                socket.forget(target, seq);
            }
        }
        let rtts = slots.rtts.lock().unwrap_or_else(|e| e.into_inner());
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| match rtts[i] {
                    Some(rtt) => EchoOutcome::Reply { rtt },
                    None => EchoOutcome::Lost,
                })
            })
            .collect()
    }
}

/// Results of one round, filled in by the receive task.
pub(crate) struct RoundSlots {
    rtts: Mutex<Vec<Option<Duration>>>,
    remaining: AtomicUsize,
    all_done: Notify,
}

impl RoundSlots {
    fn new(n: usize) -> Self {
        Self {
            rtts: Mutex::new(vec![None; n]),
            remaining: AtomicUsize::new(n),
            all_done: Notify::new(),
        }
    }

    fn resolve_without_reply(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_done.notify_one();
        }
    }

    fn reply(&self, index: usize, rtt: Duration) {
        let mut rtts = self.rtts.lock().unwrap_or_else(|e| e.into_inner());
        if rtts[index].is_none() {
            rtts[index] = Some(rtt);
            drop(rtts);
            self.resolve_without_reply();
        }
    }
}
