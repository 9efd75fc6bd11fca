//! The operator actions as requested (API bodies, CLI arguments): each
//! with the person who records it (`by`) and what it says. Checked and
//! recorded by [`super::operator`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use linkledger_core::fault::FaultClass;

/// A step in a fault's timeline recorded by a person.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    pub by: String,
    /// When it happened; default now.
    pub at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// The carrier's ticket number (carrier_ticket) or the report's
    /// reference (repair_report).
    pub reference: Option<String>,
    /// How the fault was reported to the carrier (reported): phone,
    /// ticket, email or im.
    #[serde(default)]
    pub via: Option<String>,
}

/// How a fault report (申告) can be made by a person.
pub const REPORT_VIA: [&str; 4] = ["phone", "ticket", "email", "im"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reclassify {
    pub by: String,
    pub class: FaultClass,
    pub reason: String,
    /// Why a judgement already assessed is corrected: required to
    /// reclassify a resolved fault whose half-year is over; the correction
    /// re-judges the fault from its start and shows in the next assessment.
    #[serde(default)]
    pub correction: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewExclusion {
    pub by: String,
    /// A line id; absent for the whole egress (and every line).
    pub line: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub evidence: String,
    pub approved_by: String,
    /// Default now.
    pub approved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewMaintenance {
    pub by: String,
    pub line: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// When the carrier gave notice.
    pub notice_at: DateTime<Utc>,
    pub consented: bool,
    /// Who consented (default: the person recording it) and when
    /// (default: now); consent given after the window began is none.
    #[serde(default)]
    pub consented_by: Option<String>,
    #[serde(default)]
    pub consented_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reference: String,
}

/// An outage both sides agree on (manager): it charges the unobserved
/// time it covers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgreedOutage {
    pub by: String,
    pub line: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The carrier's admission: a ticket, a letter, minutes.
    pub evidence: String,
    pub approved_by: String,
}

/// A manager's approval of a maintenance window recorded after it began.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveLate {
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewDrill {
    pub by: String,
    /// YYYY-MM-DD.
    pub held_on: NaiveDate,
    pub scenario: String,
    pub participants: Vec<String>,
    pub result: String,
}

/// The fault timeline steps an operator records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The fault was reported to the carrier (申告).
    Reported,
    Acknowledged,
    OnSite,
    RepairReport,
    CarrierTicket,
    Note,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Reported => "reported",
            Step::Acknowledged => "acknowledged",
            Step::OnSite => "on_site",
            Step::RepairReport => "repair_report",
            Step::CarrierTicket => "carrier_ticket",
            Step::Note => "note",
        }
    }
}

/// One operator action.
#[derive(Debug, Clone)]
pub enum Action {
    Fault {
        id: i64,
        step: Step,
        body: FaultStep,
    },
    Reclassify {
        id: i64,
        body: Reclassify,
    },
    Exclude(NewExclusion),
    Maintenance(NewMaintenance),
    ApproveMaintenance {
        id: i64,
        body: ApproveLate,
    },
    AgreeOutage(AgreedOutage),
    Withdraw {
        record: Withdrawable,
        id: i64,
        body: Withdraw,
    },
    Drill(NewDrill),
}

/// The records a withdrawal can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawable {
    Exclusion,
    Maintenance,
}

impl Withdrawable {
    /// As in `withdrawals.record` and the audit log's subject.
    pub fn as_str(self) -> &'static str {
        match self {
            Withdrawable::Exclusion => "exclusion",
            Withdrawable::Maintenance => "maintenance",
        }
    }

    /// The table holding the records.
    pub fn table(self) -> &'static str {
        match self {
            Withdrawable::Exclusion => "exclusions",
            Withdrawable::Maintenance => "maintenance",
        }
    }
}
