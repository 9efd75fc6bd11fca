//! The contract commands' arguments (clap).

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};

use linkledger_core::fault::FaultClass;
use linkledger_ledger::operator;

/// The config file every contract command reads.
#[derive(Debug, Args)]
pub struct Common {
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Who records an action.
#[derive(Debug, Args)]
pub struct By {
    /// The person recording it (kept in the audit log).
    #[arg(long, value_name = "NAME")]
    pub by: String,
}

/// Listing records.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub json: bool,
}

/// Withdrawing a record: it stays in the ledger, marked withdrawn.
#[derive(Debug, Args)]
pub struct WithdrawArgs {
    pub id: i64,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub by: By,
    #[arg(long)]
    pub reason: String,
}

impl WithdrawArgs {
    pub(super) fn into_action(self, record: operator::Withdrawable) -> operator::Action {
        operator::Action::Withdraw {
            record,
            id: self.id,
            body: operator::Withdraw {
                by: self.by.by,
                reason: self.reason,
            },
        }
    }
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// The fault's id.
    pub id: i64,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub by: By,
    /// When it happened (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<DateTime<Utc>>,
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FaultCmd {
    /// List fault tickets with their class and deadlines.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_name = "ID")]
        line: Option<String>,
        /// general, serious or major.
        #[arg(long)]
        class: Option<FaultClass>,
        /// Only open faults.
        #[arg(long, conflicts_with = "resolved")]
        open: bool,
        /// Only resolved faults.
        #[arg(long)]
        resolved: bool,
        #[arg(long)]
        json: bool,
    },
    /// One fault with its whole timeline.
    Show {
        id: i64,
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// The carrier acknowledged the fault.
    Ack(StepArgs),
    /// The carrier's engineer arrived on site.
    OnSite(StepArgs),
    /// The carrier's repair report was received (after resolution).
    RepairReport {
        #[command(flatten)]
        step: StepArgs,
        /// The report's reference.
        #[arg(long)]
        reference: Option<String>,
    },
    /// Record the carrier's ticket number.
    Ticket {
        #[command(flatten)]
        step: StepArgs,
        #[arg(long)]
        ticket: String,
    },
    /// Add a note to the fault's timeline.
    Note(StepArgs),
    /// Change the fault's class (manager), with a reason.
    Reclassify {
        id: i64,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        by: By,
        #[arg(long)]
        class: FaultClass,
        #[arg(long)]
        reason: String,
        /// Correct a judgement already assessed (a resolved fault whose
        /// half-year is over): why. Shown in the next assessment.
        #[arg(long, value_name = "WHY")]
        correction: Option<String>,
    },
    /// The fault was reported to the carrier (申告): the response
    /// deadline runs from here.
    Report {
        #[command(flatten)]
        step: StepArgs,
        /// How: phone, ticket, email or im.
        #[arg(long)]
        via: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExcludeCmd {
    /// Exclude a time range from the charged downtime (force majeure).
    Add {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        by: By,
        /// The line; omit for the whole egress (every line).
        #[arg(long, value_name = "ID")]
        line: Option<String>,
        #[arg(long, value_name = "TIME")]
        from: DateTime<Utc>,
        #[arg(long, value_name = "TIME")]
        to: DateTime<Utc>,
        #[arg(long)]
        reason: String,
        /// Text or a reference to the evidence.
        #[arg(long)]
        evidence: String,
        #[arg(long, value_name = "NAME")]
        approved_by: String,
        #[arg(long, value_name = "TIME")]
        approved_at: Option<DateTime<Utc>>,
    },
    List(ListArgs),
    /// Withdraw an exclusion (it stays in the ledger, marked withdrawn).
    Withdraw(WithdrawArgs),
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCmd {
    /// Record a planned maintenance window announced by a carrier.
    Add {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        by: By,
        #[arg(long, value_name = "ID")]
        line: String,
        #[arg(long, value_name = "TIME")]
        from: DateTime<Utc>,
        #[arg(long, value_name = "TIME")]
        to: DateTime<Utc>,
        /// When the carrier gave notice.
        #[arg(long, value_name = "TIME")]
        notice_at: DateTime<Utc>,
        /// We consented to it.
        #[arg(long)]
        consented: bool,
        /// Who consented (default: --by).
        #[arg(long, value_name = "NAME", requires = "consented")]
        consented_by: Option<String>,
        /// When we consented (default: now).
        #[arg(long, value_name = "TIME", requires = "consented")]
        consented_at: Option<DateTime<Utc>>,
        #[arg(long, default_value = "")]
        reference: String,
    },
    List(ListArgs),
    Withdraw(WithdrawArgs),
    /// Approve a window recorded after it began (manager), with a reason:
    /// it is then no interruption without notice, but still never excluded.
    Approve(WithdrawArgs),
}

#[derive(Debug, Subcommand)]
pub enum OutageCmd {
    /// Record an outage both sides agree on (manager), e.g. a carrier
    /// ticket admitting time the monitor did not see: it charges the
    /// unobserved time it covers.
    Agree {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        by: By,
        #[arg(long, value_name = "ID")]
        line: String,
        #[arg(long, value_name = "TIME")]
        from: DateTime<Utc>,
        #[arg(long, value_name = "TIME")]
        to: DateTime<Utc>,
        /// The carrier's admission (ticket, letter, minutes).
        #[arg(long)]
        evidence: String,
        #[arg(long, value_name = "NAME")]
        approved_by: String,
    },
    /// List the agreed outages.
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
pub enum DrillCmd {
    /// Log an emergency drill.
    Add {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        by: By,
        /// YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        held_on: NaiveDate,
        #[arg(long)]
        scenario: String,
        /// Repeat for each participant.
        #[arg(long = "participant", required = true)]
        participants: Vec<String>,
        #[arg(long)]
        result: String,
    },
    List(ListArgs),
}
