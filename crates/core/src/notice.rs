//! What a notice (an alert queued in the ledger's outbox) is about.

use serde::{Deserialize, Serialize};

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    FaultOpened,
    FaultEscalated,
    FaultReclassified,
    FaultResolved,
    DeadlineApproaching,
    DeadlineBreached,
    RepairReportOverdue,
    BudgetShare,
    BudgetProjectedBreach,
    DaemonGap,
    /// The standby of an active/standby pair took over from the leader
    /// (detail: from, to, since).
    MonitorFailover,
    LocalFault,
    /// A local fault ended (detail: duration_seconds).
    LocalFaultResolved,
    ProbeFailed,
    SnmpFailing,
    /// A scheduled report was written (detail: report, period, title, files).
    ReportReady,
    /// The paths traced when an outage was declared (detail: outage,
    /// origin, traces: target, reached, last_hop).
    PathEvidence,
    /// `linkledger notify test`; never queued.
    Test,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 18] = [
        NoticeKind::FaultOpened,
        NoticeKind::FaultEscalated,
        NoticeKind::FaultReclassified,
        NoticeKind::FaultResolved,
        NoticeKind::DeadlineApproaching,
        NoticeKind::DeadlineBreached,
        NoticeKind::RepairReportOverdue,
        NoticeKind::BudgetShare,
        NoticeKind::BudgetProjectedBreach,
        NoticeKind::DaemonGap,
        NoticeKind::MonitorFailover,
        NoticeKind::LocalFault,
        NoticeKind::LocalFaultResolved,
        NoticeKind::ProbeFailed,
        NoticeKind::SnmpFailing,
        NoticeKind::ReportReady,
        NoticeKind::PathEvidence,
        NoticeKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::FaultOpened => "fault_opened",
            NoticeKind::FaultEscalated => "fault_escalated",
            NoticeKind::FaultReclassified => "fault_reclassified",
            NoticeKind::FaultResolved => "fault_resolved",
            NoticeKind::DeadlineApproaching => "deadline_approaching",
            NoticeKind::DeadlineBreached => "deadline_breached",
            NoticeKind::RepairReportOverdue => "repair_report_overdue",
            NoticeKind::BudgetShare => "budget_share",
            NoticeKind::BudgetProjectedBreach => "budget_projected_breach",
            NoticeKind::DaemonGap => "daemon_gap",
            NoticeKind::MonitorFailover => "monitor_failover",
            NoticeKind::LocalFault => "local_fault",
            NoticeKind::LocalFaultResolved => "local_fault_resolved",
            NoticeKind::ProbeFailed => "probe_failed",
            NoticeKind::SnmpFailing => "snmp_failing",
            NoticeKind::ReportReady => "report_ready",
            NoticeKind::PathEvidence => "path_evidence",
            NoticeKind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
