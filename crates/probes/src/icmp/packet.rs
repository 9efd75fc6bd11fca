//! ICMP echo packets: building requests and parsing replies (pure, no sockets).
//!
//! A request carries an identifier, a sequence number and a 16-byte payload:
//! an 8-byte random nonce followed by a fixed tag. A reply only counts when
//! all three come back unchanged from the address the request went to.

use std::net::IpAddr;

/// The fixed half of every payload, so a capture shows whose echoes these are.
pub const PAYLOAD_TAG: &[u8; 8] = b"lnkledgr";
/// Length of the echo payload in bytes.
pub const PAYLOAD_LEN: usize = 16;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// The fields of an echo reply that matching needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply {
    pub ident: u16,
    pub seq: u16,
    pub nonce: u64,
}

/// Builds an echo request for `target`'s family. The ICMPv4 checksum is
/// computed here; for ICMPv6 the kernel computes it (it needs the pseudo-header).
pub fn echo_request(target: IpAddr, ident: u16, seq: u16, nonce: u64) -> [u8; 8 + PAYLOAD_LEN] {
    let mut buf = [0u8; 8 + PAYLOAD_LEN];
    buf[0] = match target {
        IpAddr::V4(_) => ECHO_REQUEST_V4,
        IpAddr::V6(_) => ECHO_REQUEST_V6,
    };
    buf[4..6].copy_from_slice(&ident.to_be_bytes());
    buf[6..8].copy_from_slice(&seq.to_be_bytes());
    buf[8..16].copy_from_slice(&nonce.to_be_bytes());
    buf[16..24].copy_from_slice(PAYLOAD_TAG);
    if target.is_ipv4() {
        let sum = checksum(&buf);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    buf
}

/// Parses what a socket received. `with_ip_header` is true for raw IPv4
/// sockets, which deliver the IP header too. Returns `None` for anything
/// that is not a well-formed echo reply carrying our payload tag (echo
/// requests seen on loopback, unreachables, other programs' pings).
pub fn parse_reply(buf: &[u8], v6: bool, with_ip_header: bool) -> Option<EchoReply> {
    let icmp = if with_ip_header {
        let first = *buf.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        buf.get(ihl..)?
    } else {
        buf
    };
    if icmp.len() != 8 + PAYLOAD_LEN {
        return None;
    }
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    if icmp[0] != want || icmp[1] != 0 {
        return None;
    }
    if !v6 && checksum(icmp) != 0 {
        return None;
    }
    if &icmp[16..24] != PAYLOAD_TAG {
        return None;
    }
    Some(EchoReply {
        ident: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        nonce: u64::from_be_bytes(icmp[8..16].try_into().ok()?),
    })
}

/// The Internet checksum (RFC 1071). Over a packet whose checksum field is
/// filled in, it returns 0.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_reply(mut req: [u8; 24]) -> [u8; 24] {
        req[0] = ECHO_REPLY_V4;
        req[2] = 0;
        req[3] = 0;
        let sum = checksum(&req);
        req[2..4].copy_from_slice(&sum.to_be_bytes());
        req
    }

    #[test]
    fn request_checksum_verifies() {
        let req = echo_request("198.18.0.1".parse().unwrap(), 0x1234, 7, 42);
        assert_eq!(checksum(&req), 0);
        assert_eq!(req[0], ECHO_REQUEST_V4);
    }

    #[test]
    fn reply_round_trips_ident_seq_nonce() {
        let reply = as_reply(echo_request(
            "198.18.0.1".parse().unwrap(),
            9,
            65535,
            u64::MAX - 3,
        ));
        assert_eq!(
            parse_reply(&reply, false, false),
            Some(EchoReply {
                ident: 9,
                seq: 65535,
                nonce: u64::MAX - 3
            })
        );
    }

    #[test]
    fn raw_v4_skips_ip_header_and_rejects_requests() {
        let req = echo_request("198.18.0.1".parse().unwrap(), 1, 2, 3);
        let mut with_header = vec![0x45u8];
        with_header.extend_from_slice(&[0; 19]);
        with_header.extend_from_slice(&as_reply(req));
        assert!(parse_reply(&with_header, false, true).is_some());
        // Our own request looped back is not a reply.
        assert_eq!(parse_reply(&req, false, false), None);
    }

    #[test]
    fn corrupted_or_foreign_payload_is_rejected() {
        let mut reply = as_reply(echo_request("198.18.0.1".parse().unwrap(), 1, 2, 3));
        reply[20] ^= 0xff; // tag altered: checksum now wrong, and tag wrong
        assert_eq!(parse_reply(&reply, false, false), None);
        assert_eq!(parse_reply(&reply[..10], false, false), None);
        assert_eq!(parse_reply(&[], false, true), None);
    }

    #[test]
    fn v6_reply_type_is_129() {
        let mut req = echo_request("2001:db8::1".parse().unwrap(), 5, 6, 7);
        assert_eq!(req[0], ECHO_REQUEST_V6);
        req[0] = ECHO_REPLY_V6;
        assert_eq!(parse_reply(&req, true, false).map(|r| r.seq), Some(6));
    }
}
