//! The contract's terms a fault and a quality degradation are judged by:
//! deadlines, degradation thresholds, fault class rules and special
//! periods. Parsed and validated by the config crate; kept in the ledger's
//! terms history, so a fault is judged by the terms in force when it was
//! detected. The defaults are the contract linkledger was first built for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fault::{ClassRules, FaultClass};

fn yes() -> bool {
    true
}

const fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

/// Validated degradation thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    pub loss_ratio: f64,
    pub loss_window: Duration,
    pub rtt_window: Duration,
    pub utilisation_ratio: f64,
    pub utilisation_window: Duration,
}

/// Where the response deadline (第二条 17) runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFrom {
    /// From 申告, the fault report to the carrier (falling back to
    /// detection while nothing was reported): the contract's reading.
    #[default]
    Reported,
    /// From detection, whether or not anybody told the carrier.
    Detected,
}

/// Who answers for a breach of the whole egress (every line down): one
/// incident is one bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EgressBreaches {
    /// Each member for its own line's fault; the egress fault's own
    /// breaches are shown, not charged again.
    #[default]
    Lines,
    /// The consortium lead, once for the incident; the line faults the
    /// incident contains are not charged for their deadlines.
    Lead,
}

/// Validated fault deadlines and rules: the terms a fault is judged by.
/// The ledger keeps their history (`contract_terms`), so a fault is judged
/// by the terms in force when it was detected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    pub response: Duration,
    pub on_site: Duration,
    /// Indexed by class: general, serious, major.
    pub resolution: [Duration; 3],
    pub repair_report: Duration,
    pub maintenance_notice: Duration,
    pub approved_maintenance_counts: bool,
    pub degradation: Degradation,
    pub classes: ClassRules,
    #[serde(default)]
    pub response_from: ResponseFrom,
    #[serde(default)]
    pub egress_breaches: EgressBreaches,
    /// Whether a block outage (the public IP block unreachable from
    /// outside while the line is up from inside) counts against the cap.
    #[serde(default = "yes")]
    pub ip_block_counts: bool,
    /// Special periods with stricter deadlines for faults detected in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special: Vec<SpecialTerms>,
}

impl Terms {
    /// The terms a fault detected at `detected` is judged by: a special
    /// period's stricter deadlines where one was in force (never looser).
    pub fn for_fault_detected(
        &self,
        detected: chrono::DateTime<chrono::Utc>,
    ) -> std::borrow::Cow<'_, Terms> {
        let Some(p) = self
            .special
            .iter()
            .find(|p| p.from <= detected && detected < p.to)
        else {
            return std::borrow::Cow::Borrowed(self);
        };
        let mut t = self.clone();
        if let Some(d) = p.response {
            t.response = t.response.min(d);
        }
        if let Some(d) = p.on_site {
            t.on_site = t.on_site.min(d);
        }
        if let Some(d) = p.resolution {
            for r in &mut t.resolution {
                *r = (*r).min(d);
            }
        }
        std::borrow::Cow::Owned(t)
    }
    pub fn resolution_for(&self, class: FaultClass) -> Duration {
        self.resolution[class as usize]
    }
}

impl Default for Degradation {
    /// 5 % loss over 5 minutes, the RTT baseline over 5 minutes, 90 %
    /// utilisation over 15 minutes.
    fn default() -> Self {
        Self {
            loss_ratio: 0.05,
            loss_window: mins(5),
            rtt_window: mins(5),
            utilisation_ratio: 0.9,
            utilisation_window: mins(15),
        }
    }
}

impl Default for Terms {
    /// The contract's numbers: response and on-site in 30 minutes,
    /// resolution in 30/120/120 minutes (第二条 17), maintenance announced
    /// a day ahead (第二条 14), the repair report within 8 hours (第四条 1).
    fn default() -> Self {
        Self {
            response: mins(30),
            on_site: mins(30),
            resolution: [mins(30), mins(120), mins(120)],
            repair_report: mins(480),
            maintenance_notice: mins(24 * 60),
            approved_maintenance_counts: true,
            degradation: Degradation::default(),
            classes: ClassRules::default(),
            response_from: ResponseFrom::default(),
            egress_breaches: EgressBreaches::default(),
            ip_block_counts: true,
            special: Vec::new(),
        }
    }
}

/// What a special period changes in the judgement of a fault detected in
/// it: part of the contract terms (kept in the terms history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecialTerms {
    pub name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub response: Option<Duration>,
    pub on_site: Option<Duration>,
    pub resolution: Option<Duration>,
}
