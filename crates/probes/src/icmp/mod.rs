//! ICMP echo to many targets over one shared socket per address family.
//!
//! An [`Echoer`] owns at most one IPv4 and one IPv6 socket for one
//! [`Binding`] (source address and/or interface). A [`round`](Echoer::round)
//! sends one echo to each target, then waits once, until every reply is in or
//! the deadline passes: one timer per round, not one per target. A round
//! may retry: targets still silent partway through get a second echo, and
//! both echoes' outcomes are reported (a lost packet is not a lost round).
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
        self.round_retrying(targets, timeout, &[])
            .await
            .into_iter()
            .map(|e| e.first)
            .collect()
    }

    /// Like [`round`](Self::round), and at each of `retry_at` (offsets
    /// into the round, ascending, before `timeout`) another echo, with its
    /// own sequence number and nonce, to every target that has not
    /// answered yet. Every echo counts until the round's `timeout`; each
    /// echo's outcome is reported apart.
    pub async fn round_retrying(
        &self,
        targets: &[IpAddr],
        timeout: Duration,
        retry_at: &[Duration],
    ) -> Vec<Echo> {
        let start = Instant::now();
        let deadline = start + timeout;
        let first = Arc::new(RoundSlots::new(targets.len()));
        let (failed, sent) = self.send_all(targets, &first).await;
        let mut retries: Vec<RetryEchoes> = Vec::new();
        for at in retry_at.iter().filter(|a| **a < timeout) {
            let answered = |i: usize| first.answered(i) || retries.iter().any(|r| r.answered(i));
            if (0..targets.len()).all(|i| failed[i].is_some() || answered(i)) {
                break;
            }
            let _ = tokio::time::timeout_at(start + *at, first.all_done.notified()).await;
            let who: Vec<usize> = (0..targets.len())
                .filter(|i| failed[*i].is_none() && !answered(*i))
                .collect();
            if who.is_empty() {
                break;
            }
            let targets: Vec<IpAddr> = who.iter().map(|i| targets[*i]).collect();
            let slots = Arc::new(RoundSlots::new(who.len()));
            let (failed, sent) = self.send_all(&targets, &slots).await;
            retries.push(RetryEchoes {
                who,
                targets,
                slots,
                failed,
                sent,
            });
        }
        // Until every echo is in or the deadline.
        for slots in std::iter::once(&first).chain(retries.iter().map(|r| &r.slots)) {
            if slots.remaining.load(Ordering::Acquire) > 0 {
                let _ = tokio::time::timeout_at(deadline, slots.all_done.notified()).await;
            }
        }
        self.forget(targets, &sent);
        for r in &retries {
            self.forget(&r.targets, &r.sent);
        }
        let mut echoes: Vec<Echo> = settle(failed, &first)
            .into_iter()
            .map(|first| Echo {
                first,
                retries: Vec::new(),
            })
            .collect();
        for r in retries {
            for (k, o) in settle(r.failed, &r.slots).into_iter().enumerate() {
                echoes[r.who[k]].retries.push(o);
            }
        }
        echoes
    }

    /// Stops matching replies to the echoes `sent` (their round is over).
    fn forget(&self, targets: &[IpAddr], sent: &[(usize, u16)]) {
        for &(index, seq) in sent {
            let target = targets[index];
            let socket = if target.is_ipv4() { &self.v4 } else { &self.v6 };
            if let Some(socket) = socket {
                socket.forget(target, seq);
            }
        }
    }

    /// Sends one echo to each target, replies going to the same index of
    /// `slots`: what could not be sent, and what was (index, sequence).
    async fn send_all(
        &self,
        targets: &[IpAddr],
        slots: &Arc<RoundSlots>,
    ) -> (Vec<Option<EchoOutcome>>, Vec<(usize, u16)>) {
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
            match socket.send(target, index, slots).await {
                Ok(seq) => sent.push((index, seq)),
                Err(outcome) => {
                    outcomes[index] = Some(outcome);
                    slots.resolve_without_reply();
                }
            }
        }
        (outcomes, sent)
    }
}

/// One retry of a round: to which targets (their indices in the round and
/// addresses), its replies, what could not be sent and what was.
struct RetryEchoes {
    who: Vec<usize>,
    targets: Vec<IpAddr>,
    slots: Arc<RoundSlots>,
    failed: Vec<Option<EchoOutcome>>,
    sent: Vec<(usize, u16)>,
}

impl RetryEchoes {
    /// Has the round's target `index` answered this retry (so far)?
    fn answered(&self, index: usize) -> bool {
        self.who
            .iter()
            .position(|w| *w == index)
            .is_some_and(|k| self.slots.answered(k))
    }
}

/// Each echo's outcome: what could not be sent, else its reply or a loss.
fn settle(outcomes: Vec<Option<EchoOutcome>>, slots: &RoundSlots) -> Vec<EchoOutcome> {
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

/// One target's echoes in a round: the first, and the retries sent while
/// it was still silent (none when the first answered in time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub first: EchoOutcome,
    pub retries: Vec<EchoOutcome>,
}

impl Echo {
    /// Did any of its echoes come back?
    pub fn answered(&self) -> bool {
        std::iter::once(&self.first)
            .chain(&self.retries)
            .any(|o| matches!(o, EchoOutcome::Reply { .. }))
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

    /// Has echo `index` been answered (so far)?
    fn answered(&self, index: usize) -> bool {
        self.rtts.lock().unwrap_or_else(|e| e.into_inner())[index].is_some()
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
