//! The numeric OIDs linkledger reads (SNMPv2-MIB, IF-MIB, SNMP-FRAMEWORK-MIB).

pub const SYS_UPTIME_0: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpEngineBoots.0
pub const ENGINE_BOOTS_0: &[u64] = &[1, 3, 6, 1, 6, 3, 10, 2, 1, 2, 0];

const IF_ENTRY: [u64; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX_ENTRY: [u64; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];

/// Columns of ifTable (`IF_ENTRY.n`) and ifXTable (`IFX_ENTRY.n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfColumn {
    AdminStatus,
    OperStatus,
    InDiscards,
    InErrors,
    OutDiscards,
    OutErrors,
    Name,
    HcInOctets,
    HcOutOctets,
    HighSpeed,
    Alias,
}

impl IfColumn {
    /// The column's OID (without the ifIndex).
    pub fn base(self) -> Vec<u64> {
        let (table, n): (&[u64], u64) = match self {
            IfColumn::AdminStatus => (&IF_ENTRY, 7),
            IfColumn::OperStatus => (&IF_ENTRY, 8),
            IfColumn::InDiscards => (&IF_ENTRY, 13),
            IfColumn::InErrors => (&IF_ENTRY, 14),
            IfColumn::OutDiscards => (&IF_ENTRY, 19),
            IfColumn::OutErrors => (&IF_ENTRY, 20),
            IfColumn::Name => (&IFX_ENTRY, 1),
            IfColumn::HcInOctets => (&IFX_ENTRY, 6),
            IfColumn::HcOutOctets => (&IFX_ENTRY, 10),
            IfColumn::HighSpeed => (&IFX_ENTRY, 15),
            IfColumn::Alias => (&IFX_ENTRY, 18),
        };
        let mut oid = table.to_vec();
        oid.push(n);
        oid
    }

    /// The column's OID for one interface.
    pub fn of(self, if_index: u32) -> Vec<u64> {
        let mut oid = self.base();
        oid.push(u64::from(if_index));
        oid
    }
}
