//! Fault classes (一般 / 严重 / 重大) and what triggers them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A fault's class under the contract, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultClass {
    /// 一般故障
    General,
    /// 严重故障
    Serious,
    /// 重大故障
    Major,
}

impl FaultClass {
    pub const ALL: [FaultClass; 3] = [FaultClass::General, FaultClass::Serious, FaultClass::Major];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultClass::General => "general",
            FaultClass::Serious => "serious",
            FaultClass::Major => "major",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The contract's own word for the class.
    pub fn zh(self) -> &'static str {
        match self {
            FaultClass::General => "一般",
            FaultClass::Serious => "严重",
            FaultClass::Major => "重大",
        }
    }
}

impl fmt::Display for FaultClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What opened or escalated a fault; each maps to a class by the rules in
/// `[contract.classes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Loss, latency or utilisation over its threshold for its window.
    Degradation,
    /// One line down (an outage).
    LineDown,
    /// Every line down at once.
    EgressDown,
    /// The whole public IP block unreachable (once the block is probed).
    IpBlockUnreachable,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Degradation => "degradation",
            Trigger::LineDown => "line_down",
            Trigger::EgressDown => "egress_down",
            Trigger::IpBlockUnreachable => "ip_block_unreachable",
        }
    }
}

/// `[contract.classes]`: the class each trigger gives; a trigger left
/// out keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassRules {
    pub degradation: FaultClass,
    pub line_down: FaultClass,
    pub egress_down: FaultClass,
    pub ip_block_unreachable: FaultClass,
}

/// One line down defaults to `general`: the contract (第二条 17) gives 一般
/// the shortest resolution time (30 min), and one line of a redundant
/// egress down is the customer's everyday fault. Calling it `serious`
/// would give the carrier 120 minutes; that is the carrier's reading.
impl Default for ClassRules {
    fn default() -> Self {
        Self {
            degradation: FaultClass::General,
            line_down: FaultClass::General,
            egress_down: FaultClass::Major,
            ip_block_unreachable: FaultClass::Major,
        }
    }
}

impl ClassRules {
    pub fn class_of(&self, trigger: Trigger) -> FaultClass {
        match trigger {
            Trigger::Degradation => self.degradation,
            Trigger::LineDown => self.line_down,
            Trigger::EgressDown => self.egress_down,
            Trigger::IpBlockUnreachable => self.ip_block_unreachable,
        }
    }
}

impl std::str::FromStr for FaultClass {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
            .ok_or_else(|| format!("{s:?} is not a fault class; use general, serious or major"))
    }
}
