//! Traceroute with ICMP echo: one echo request per TTL (1 to `max_hops`),
//! all sent at once from a raw socket of the line's binding, then every
//! answer collected until the wait is over: a router's time exceeded names
//! that hop, the target's echo reply ends the path, a destination
//! unreachable names where it was refused. Where an outage is, the path
//! stops: the last hop that answered is whose side the failure is past.
//!
//! Needs a raw socket (root or CAP_NET_RAW): the kernel's ping sockets do
//! not deliver other routers' time exceeded messages as packets.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::{packet, Binding};

/// What came back for one TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    /// A router on the way (ICMP time exceeded).
    Router,
    /// The target itself answered (echo reply).
    Target,
    /// A destination unreachable: the path is refused here.
    Unreachable,
    /// Nothing came back before the wait was over.
    Silent,
}

impl HopKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HopKind::Router => "router",
            HopKind::Target => "target",
            HopKind::Unreachable => "unreachable",
            HopKind::Silent => "silent",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub ttl: u8,
    pub addr: Option<IpAddr>,
    pub rtt: Option<Duration>,
    pub kind: HopKind,
}

/// A path to a target as far as it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub target: IpAddr,
    /// TTL 1 up to the target, or up to the last hop that answered and the
    /// first silent one after it.
    pub hops: Vec<Hop>,
}

impl Trace {
    pub fn reached(&self) -> bool {
        self.hops.iter().any(|h| h.kind == HopKind::Target)
    }

    /// The last hop that answered (a router, the target, or where it was
    /// refused).
    pub fn last_answered(&self) -> Option<&Hop> {
        self.hops.iter().rev().find(|h| h.addr.is_some())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("traceroute needs a raw ICMP socket (root or CAP_NET_RAW): {0}")]
    Socket(std::io::Error),
    #[error("traceroute to {target}: {error}")]
    Io {
        target: IpAddr,
        error: std::io::Error,
    },
}

/// Traces the path to `target` from `binding`, `max_hops` TTLs, answers
/// collected for `wait` after the last request was sent. Sending and
/// matching answers share one socket loop, kept whole.
pub async fn trace(
    binding: &Binding,
    target: IpAddr,
    max_hops: u8,
    wait: Duration,
) -> Result<Trace, TraceError> {
    let v6 = target.is_ipv6();
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let socket = Socket::new(domain, Type::RAW, Some(proto)).map_err(TraceError::Socket)?;
    let io = |error| TraceError::Io { target, error };
    socket.set_nonblocking(true).map_err(io)?;
    if let Some(addr) = binding.source.filter(|a| a.is_ipv6() == v6) {
        socket.bind(&SocketAddr::new(addr, 0).into()).map_err(io)?;
    }
    if let Some(interface) = &binding.interface {
        socket.bind_device(Some(interface.as_bytes())).map_err(io)?;
    }
    let ident: u16 = rand::random();
    let base: u16 = rand::random();
    let nonce: u64 = rand::random();
    let max_hops = max_hops.max(1);
    let dest = SocketAddr::new(target, 0).into();
    let mut sent = Vec::with_capacity(usize::from(max_hops));
    for ttl in 1..=max_hops {
        if v6 {
            socket.set_unicast_hops_v6(u32::from(ttl)).map_err(io)?;
        } else {
            socket.set_ttl_v4(u32::from(ttl)).map_err(io)?;
        }
        let req = packet::echo_request(target, ident, base.wrapping_add(u16::from(ttl)), nonce);
        sent.push(Instant::now());
        socket.send_to(&req, &dest).map_err(io)?;
    }
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(io)?;
    let mut hops: Vec<Hop> = (1..=max_hops)
        .map(|ttl| Hop {
            ttl,
            addr: None,
            rtt: None,
            kind: HopKind::Silent,
        })
        .collect();
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1500];
    loop {
        let got = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let Ok(Ok((n, from))) = got else { break };
        let Some((kind, seq)) = parse(&buf[..n], v6, ident, target) else {
            continue;
        };
        let ttl = seq.wrapping_sub(base);
        if ttl == 0 || ttl > u16::from(max_hops) {
            continue;
        }
        let i = usize::from(ttl - 1);
        if hops[i].addr.is_none() {
            hops[i] = Hop {
                ttl: ttl as u8,
                addr: Some(from.ip()),
                rtt: Some(sent[i].elapsed()),
                kind,
            };
        }
        // Done once the target has answered and every TTL before it too.
        if let Some(end) = hops
            .iter()
            .position(|h| h.kind != HopKind::Router && h.addr.is_some())
        {
            if hops[..end].iter().all(|h| h.addr.is_some()) {
                break;
            }
        }
    }
    // Keep up to the first hop where the path ended (the target, or a
    // refusal), else up to the last that answered and one silent after it.
    let end = match hops
        .iter()
        .position(|h| matches!(h.kind, HopKind::Target | HopKind::Unreachable))
    {
        Some(i) => i + 1,
        None => hops
            .iter()
            .rposition(|h| h.addr.is_some())
            .map_or(1, |i| i + 2)
            .min(hops.len()),
    };
    hops.truncate(end);
    Ok(Trace { target, hops })
}

/// What a received packet says of one of our requests: (kind, its seq).
/// IPv4 raw sockets deliver the IP header; IPv6 raw sockets do not.
fn parse(buf: &[u8], v6: bool, ident: u16, target: IpAddr) -> Option<(HopKind, u16)> {
    let icmp = if v6 {
        buf
    } else {
        let ihl = usize::from(buf.first()? & 0x0f) * 4;
        buf.get(ihl..)?
    };
    let (ty, code) = (*icmp.first()?, *icmp.get(1)?);
    let ids = |b: &[u8]| -> Option<(u16, u16)> {
        Some((
            u16::from_be_bytes([*b.get(4)?, *b.get(5)?]),
            u16::from_be_bytes([*b.get(6)?, *b.get(7)?]),
        ))
    };
    let (reply, exceeded, unreachable, request) = if v6 { (129, 3, 1, 128) } else { (0, 11, 3, 8) };
    if ty == reply {
        let (id, seq) = ids(icmp)?;
        return (id == ident).then_some((HopKind::Target, seq));
    }
    let kind = if ty == exceeded && code == 0 {
        HopKind::Router
    } else if ty == unreachable {
        HopKind::Unreachable
    } else {
        return None;
    };
    // The quoted original: its IP header, then our echo request's first
    // eight bytes.
    let inner = icmp.get(8..)?;
    let (quoted_dst, inner_icmp) = if v6 {
        let dst: [u8; 16] = inner.get(24..40)?.try_into().ok()?;
        (IpAddr::from(dst), inner.get(40..)?)
    } else {
        let ihl = usize::from(inner.first()? & 0x0f) * 4;
        let dst: [u8; 4] = inner.get(16..20)?.try_into().ok()?;
        (IpAddr::from(dst), inner.get(ihl..)?)
    };
    if quoted_dst != target || *inner_icmp.first()? != request {
        return None;
    }
    let (id, seq) = ids(inner_icmp)?;
    (id == ident).then_some((kind, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time_exceeded_v4(from_ttl_seq: u16, ident: u16, target: [u8; 4]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 1, 1, 198, 18, 0, 1,
        ];
        p.extend([11, 0, 0, 0, 0, 0, 0, 0]);
        let mut inner = vec![0x45, 0, 0, 44, 0, 0, 0, 0, 1, 1, 0, 0, 198, 18, 0, 1];
        inner.extend(target);
        p.extend(inner);
        p.extend([8, 0, 0, 0]);
        p.extend(ident.to_be_bytes());
        p.extend(from_ttl_seq.to_be_bytes());
        p
    }

    #[test]
    fn time_exceeded_and_replies_are_matched_to_our_requests() {
        let target: IpAddr = "198.19.100.1".parse().unwrap();
        let p = time_exceeded_v4(7, 0xabcd, [198, 19, 100, 1]);
        assert_eq!(parse(&p, false, 0xabcd, target), Some((HopKind::Router, 7)));
        // Another program's traceroute, or to another target: not ours.
        assert_eq!(parse(&p, false, 0x1111, target), None);
        let other: IpAddr = "198.19.100.6".parse().unwrap();
        assert_eq!(parse(&p, false, 0xabcd, other), None);
        // A truncated quote is ignored, not a panic.
        assert_eq!(parse(&p[..30], false, 0xabcd, target), None);
        let mut reply = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 198, 19, 100, 1, 198, 18, 0, 1,
        ];
        reply.extend([0, 0, 0, 0]);
        reply.extend(0xabcdu16.to_be_bytes());
        reply.extend(9u16.to_be_bytes());
        assert_eq!(
            parse(&reply, false, 0xabcd, target),
            Some((HopKind::Target, 9))
        );
    }

    #[test]
    fn the_last_answered_hop_is_where_the_path_stops() {
        let a = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let t = Trace {
            target: "198.19.100.1".parse().unwrap(),
            hops: vec![
                Hop {
                    ttl: 1,
                    addr: a("198.18.0.2"),
                    rtt: None,
                    kind: HopKind::Router,
                },
                Hop {
                    ttl: 2,
                    addr: a("198.18.1.1"),
                    rtt: None,
                    kind: HopKind::Router,
                },
                Hop {
                    ttl: 3,
                    addr: None,
                    rtt: None,
                    kind: HopKind::Silent,
                },
            ],
        };
        assert!(!t.reached());
        assert_eq!(t.last_answered().unwrap().addr, a("198.18.1.1"));
    }
}
