//! The interface that terminates a line: finding its ifIndex by name, alias
//! or index, and reading what is polled every interval.

use super::oids::{IfColumn, ENGINE_BOOTS_0, SYS_UPTIME_0};
use super::{SnmpClient, SnmpError, SnmpValue};

/// How the config names the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfSelector {
    Name(String),
    Alias(String),
    Index(u32),
}

impl std::fmt::Display for IfSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IfSelector::Name(n) => write!(f, "interface with ifName {n:?}"),
            IfSelector::Alias(a) => write!(f, "interface with ifAlias {a:?}"),
            IfSelector::Index(i) => write!(f, "interface with ifIndex {i}"),
        }
    }
}

/// Finds the ifIndex, walking ifName or ifAlias (indexes move when an agent
/// restarts, so this is done again after a restart).
pub async fn find_interface(
    client: &mut SnmpClient,
    selector: &IfSelector,
) -> Result<u32, SnmpError> {
    let (column, wanted) = match selector {
        IfSelector::Index(i) => {
            let got = client.get(&[&IfColumn::OperStatus.of(*i)]).await?;
            return match got.first() {
                Some((_, SnmpValue::Integer(_))) => Ok(*i),
                _ => Err(SnmpError::NotFound {
                    agent: client.address(),
                    what: selector.to_string(),
                }),
            };
        }
        IfSelector::Name(n) => (IfColumn::Name, n),
        IfSelector::Alias(a) => (IfColumn::Alias, a),
    };
    let base = column.base();
    for (oid, value) in client.walk(&base).await? {
        if value.text().as_deref() == Some(wanted.as_str()) && oid.len() == base.len() + 1 {
            if let Ok(index) = u32::try_from(oid[base.len()]) {
                return Ok(index);
            }
        }
    }
    Err(SnmpError::NotFound {
        agent: client.address(),
        what: selector.to_string(),
    })
}

/// ifAdminStatus / ifOperStatus values (1 up, 2 down, 3 testing, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfStatus {
    Up,
    Down,
    Other(i64),
}

impl IfStatus {
    fn from(v: i64) -> Self {
        match v {
            1 => IfStatus::Up,
            2 => IfStatus::Down,
            o => IfStatus::Other(o),
        }
    }
}

/// One poll of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceReading {
    /// sysUpTime in hundredths of a second.
    pub sys_uptime: u32,
    /// snmpEngineBoots (v3 sessions only).
    pub engine_boots: Option<u32>,
    pub admin: IfStatus,
    pub oper: IfStatus,
    /// ifHighSpeed, Mbit/s.
    pub high_speed_mbps: u32,
    pub in_octets: u64,
    pub out_octets: u64,
    pub in_errors: u32,
    pub out_errors: u32,
    pub in_discards: u32,
    pub out_discards: u32,
}

/// Reads everything polled for one interface, in one GET.
pub async fn read_interface(
    client: &mut SnmpClient,
    if_index: u32,
) -> Result<InterfaceReading, SnmpError> {
    let columns = [
        IfColumn::AdminStatus,
        IfColumn::OperStatus,
        IfColumn::HighSpeed,
        IfColumn::HcInOctets,
        IfColumn::HcOutOctets,
        IfColumn::InErrors,
        IfColumn::OutErrors,
        IfColumn::InDiscards,
        IfColumn::OutDiscards,
    ];
    let mut oids: Vec<Vec<u64>> = vec![SYS_UPTIME_0.to_vec()];
    oids.extend(columns.iter().map(|c| c.of(if_index)));
    let v3 = client.is_v3();
    if v3 {
        oids.push(ENGINE_BOOTS_0.to_vec());
    }
    let refs: Vec<&[u64]> = oids.iter().map(Vec::as_slice).collect();
    let reply = client.get(&refs).await?;
    let agent = client.address();
    let value = |i: usize| -> Result<&SnmpValue, SnmpError> {
        match reply.get(i) {
            Some((oid, v)) if *oid == oids[i] => match v {
                SnmpValue::NoSuchObject | SnmpValue::NoSuchInstance => Err(SnmpError::NotFound {
                    agent,
                    what: format!("{} (interface {if_index})", super::dotted(&oids[i])),
                }),
                v => Ok(v),
            },
            _ => Err(SnmpError::Malformed {
                agent,
                operation: "get",
                detail: format!("varbind {i} is not {}", super::dotted(&oids[i])),
            }),
        }
    };
    let wrong = |i: usize, v: &SnmpValue| SnmpError::Malformed {
        agent,
        operation: "get",
        detail: format!("{} has the wrong type: {v:?}", super::dotted(&oids[i])),
    };
    let int = |i: usize| match value(i)? {
        SnmpValue::Integer(n) => Ok(*n),
        v => Err(wrong(i, v)),
    };
    let u32_of = |i: usize| match value(i)? {
        SnmpValue::Counter32(n) | SnmpValue::Unsigned32(n) | SnmpValue::Timeticks(n) => Ok(*n),
        SnmpValue::Integer(n) if *n >= 0 => {
            u32::try_from(*n).map_err(|_| wrong(i, &SnmpValue::Integer(*n)))
        }
        v => Err(wrong(i, v)),
    };
    let c64 = |i: usize| match value(i)? {
        SnmpValue::Counter64(n) => Ok(*n),
        v => Err(wrong(i, v)),
    };
    Ok(InterfaceReading {
        sys_uptime: u32_of(0)?,
        admin: IfStatus::from(int(1)?),
        oper: IfStatus::from(int(2)?),
        high_speed_mbps: u32_of(3)?,
        in_octets: c64(4)?,
        out_octets: c64(5)?,
        in_errors: u32_of(6)?,
        out_errors: u32_of(7)?,
        in_discards: u32_of(8)?,
        out_discards: u32_of(9)?,
        engine_boots: if v3 { Some(u32_of(10)?) } else { None },
    })
}
