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

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

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
struct RoundSlots {
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

struct Waiter {
    nonce: u64,
    sent_at: Instant,
    index: usize,
    slots: Arc<RoundSlots>,
}

struct Shared {
    raw: bool,
    v6: bool,
    ident: u16,
    inflight: Mutex<HashMap<(IpAddr, u16), Waiter>>,
    stats: Arc<ReceiveStats>,
}

/// One ICMP socket and its receive task.
struct EchoSocket {
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    next_seq: AtomicU16,
    receiver: JoinHandle<()>,
}

impl Drop for EchoSocket {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

impl EchoSocket {
    fn open(binding: &Binding, v6: bool, stats: Arc<ReceiveStats>) -> Result<Self, IcmpError> {
        let family = if v6 { "v6" } else { "v4" };
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        // Raw first (root or CAP_NET_RAW), then the kernel's ping socket.
        let (socket, raw) = match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => (s, true),
            Err(raw_err) => match Socket::new(domain, Type::DGRAM, Some(proto)) {
                Ok(s) => (s, false),
                Err(_) if raw_err.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(IcmpError::Permission {
                        family,
                        error: raw_err,
                    })
                }
                Err(e) => return Err(IcmpError::Open { family, error: e }),
            },
        };
        let open_err = |error| IcmpError::Open { family, error };
        socket.set_nonblocking(true).map_err(open_err)?;
        // Replies to a burst arrive together; give them room.
        let _ = socket.set_recv_buffer_size(4 << 20);
        if let Some(addr) = binding.source {
            if addr.is_ipv6() == v6 {
                socket
                    .bind(&SocketAddr::new(addr, 0).into())
                    .map_err(|error| IcmpError::BindSource {
                        family,
                        addr,
                        error,
                    })?;
            }
        }
        if let Some(interface) = &binding.interface {
            socket
                .bind_device(Some(interface.as_bytes()))
                .map_err(|error| IcmpError::BindInterface {
                    family,
                    interface: interface.clone(),
                    error,
                })?;
        }
        let ident: u16 = rand::random();
        if raw {
            // A raw socket sees every ICMP packet of the host (on loopback
            // even our own requests): let the kernel pass only echo replies
            // carrying our identifier.
            socket
                .attach_filter(&reply_filter(v6, ident))
                .map_err(open_err)?;
        }
        let socket =
            Arc::new(UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(open_err)?);
        let shared = Arc::new(Shared {
            raw,
            v6,
            ident,
            inflight: Mutex::new(HashMap::new()),
            stats,
        });
        let receiver = tokio::spawn(receive_loop(socket.clone(), shared.clone()));
        Ok(Self {
            socket,
            shared,
            next_seq: AtomicU16::new(rand::random()),
            receiver,
        })
    }

    /// Registers and sends one echo; returns its sequence number.
    async fn send(
        &self,
        target: IpAddr,
        index: usize,
        slots: &Arc<RoundSlots>,
    ) -> Result<u16, EchoOutcome> {
        let nonce: u64 = rand::random();
        let mut seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        {
            let mut inflight = self
                .shared
                .inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // A sequence number still in flight to this target (only after
            // 65,536 probes to it within one timeout): take the next one.
            while inflight.contains_key(&(target, seq)) {
                seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            }
            inflight.insert(
                (target, seq),
                Waiter {
                    nonce,
                    sent_at: Instant::now(),
                    index,
                    slots: slots.clone(),
                },
            );
        }
        let packet = packet::echo_request(target, self.shared.ident, seq, nonce);
        match self
            .socket
            .send_to(&packet, SocketAddr::new(target, 0))
            .await
        {
            Ok(_) => Ok(seq),
            Err(e) => {
                self.forget(target, seq);
                Err(classify_send_error(&e))
            }
        }
    }

    fn forget(&self, target: IpAddr, seq: u16) {
        let mut inflight = self
            .shared
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        inflight.remove(&(target, seq));
    }
}

/// Classic BPF: accept ICMP echo replies with identifier `ident`, drop the
/// rest. Raw IPv4 sockets see the IP header first; raw IPv6 ones do not.
fn reply_filter(v6: bool, ident: u16) -> Vec<SockFilter> {
    const LDXB_MSH: u16 = 0xb1; // X = 4 * (pkt[k] & 0xf)
    const LDB_IND: u16 = 0x50; // A = pkt[X + k]
    const LDH_IND: u16 = 0x48; // A = be16(pkt[X + k])
    const LDB_ABS: u16 = 0x30; // A = pkt[k]
    const LDH_ABS: u16 = 0x28; // A = be16(pkt[k])
    const JEQ: u16 = 0x15;
    const RET: u16 = 0x06;
    let ident = u32::from(ident);
    if v6 {
        vec![
            SockFilter::new(LDB_ABS, 0, 0, 0),
            SockFilter::new(JEQ, 0, 3, 129),
            SockFilter::new(LDH_ABS, 0, 0, 4),
            SockFilter::new(JEQ, 0, 1, ident),
            SockFilter::new(RET, 0, 0, 0xffff),
            SockFilter::new(RET, 0, 0, 0),
        ]
    } else {
        vec![
            SockFilter::new(LDXB_MSH, 0, 0, 0),
            SockFilter::new(LDB_IND, 0, 0, 0),
            SockFilter::new(JEQ, 0, 3, 0),
            SockFilter::new(LDH_IND, 0, 0, 4),
            SockFilter::new(JEQ, 0, 1, ident),
            SockFilter::new(RET, 0, 0, 0xffff),
            SockFilter::new(RET, 0, 0, 0),
        ]
    }
}

fn classify_send_error(e: &io::Error) -> EchoOutcome {
    use io::ErrorKind as K;
    let reason = match e.kind() {
        K::NetworkUnreachable => "network unreachable",
        K::HostUnreachable => "host unreachable",
        K::NetworkDown => "network down",
        K::AddrNotAvailable => "source address not available",
        K::PermissionDenied => "refused by a local firewall rule",
        _ => {
            return EchoOutcome::Failed {
                reason: format!("send failed: {e}"),
            }
        }
    };
    EchoOutcome::Unreachable { reason }
}

async fn receive_loop(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = [0u8; 1500];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "ICMP receive error");
                continue;
            }
        };
        let at = Instant::now();
        let with_ip_header = shared.raw && !shared.v6;
        let Some(reply) = packet::parse_reply(&buf[..len], shared.v6, with_ip_header) else {
            tracing::trace!(from = %from, len, "not an echo reply of ours");
            continue;
        };
        let source = from.ip();
        let mut inflight = shared.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let key = (source, reply.seq);
        let Some(waiter) = inflight.get(&key) else {
            continue;
        };
        // Kernel ping sockets rewrite the identifier and deliver only ours.
        let ident_ok = !shared.raw || reply.ident == shared.ident;
        if !ident_ok || reply.nonce != waiter.nonce {
            // Keep waiting: the genuine reply may still come.
            tracing::debug!(%source, seq = reply.seq, "stray echo reply with a wrong identifier or nonce discarded");
            shared.stats.mismatched.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let waiter = inflight.remove(&key).expect("present above");
        drop(inflight);
        waiter
            .slots
            .reply(waiter.index, at.saturating_duration_since(waiter.sent_at));
    }
}
