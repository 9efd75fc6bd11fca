//! One ICMP socket: opening it (raw, else the kernel's ping socket), its
//! kernel reply filter, sending an echo, and the receive task that matches
//! replies to the probes in flight.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{packet, Binding, EchoOutcome, IcmpError, ReceiveStats, RoundSlots};

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
pub(super) struct EchoSocket {
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
    pub(super) fn open(
        binding: &Binding,
        v6: bool,
        stats: Arc<ReceiveStats>,
    ) -> Result<Self, IcmpError> {
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
    pub(super) async fn send(
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

    pub(super) fn forget(&self, target: IpAddr, seq: u16) {
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
