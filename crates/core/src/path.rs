//! Path evidence as kept in the ledger and sent by agents: the hops of a
//! traceroute toward a block target or an upstream anchor. A carrier
//! disputing whose side failed is answered by the hop where the path stops.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One TTL of a path as kept in the ledger and sent by agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopRecord {
    pub ttl: u8,
    /// Who answered; None: nothing came back.
    pub addr: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// router | target | unreachable | silent
    pub kind: String,
}

/// A traceroute as kept and as an agent sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRecord {
    /// The block target or anchor traced to, as configured.
    pub target: String,
    pub taken_at: DateTime<Utc>,
    pub hops: Vec<HopRecord>,
}

impl PathRecord {
    pub fn reached(&self) -> bool {
        self.hops.iter().any(|h| h.kind == "target")
    }

    /// The last address that answered.
    pub fn last_hop(&self) -> Option<IpAddr> {
        self.hops.iter().rev().find_map(|h| h.addr)
    }

    /// Checks what an agent sent: TTLs 1, 2, 3 … in order, known kinds.
    pub fn check(&self) -> Result<(), String> {
        if self.hops.len() > 64 {
            return Err(format!("a path of {} hops (64 at most)", self.hops.len()));
        }
        for (i, h) in self.hops.iter().enumerate() {
            if usize::from(h.ttl) != i + 1 {
                return Err(format!("hop {} has ttl {}", i + 1, h.ttl));
            }
            if !["router", "target", "unreachable", "silent"].contains(&h.kind.as_str())
                || (h.kind == "silent") != h.addr.is_none()
            {
                return Err(format!(
                    "hop {} is {:?} with address {:?}",
                    h.ttl, h.kind, h.addr
                ));
            }
        }
        Ok(())
    }
}
