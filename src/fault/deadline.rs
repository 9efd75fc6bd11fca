//! A fault's deadlines under the contract, computed from its facts: when it
//! was detected, its class, when it was resolved (the end of the outage as
//! the ledger saw it) and what people recorded (acknowledged, on site,
//! repair report received). Pure: `now` is an argument.
//!
//! Each deadline is due a fixed time after detection (the repair report:
//! after resolution) and is `met` when its event happened by then,
//! `breached` when it happened later or has not happened and the time is
//! past, `pending` otherwise. The response and on-site deadlines apply
//! only when the fault lasts past them (`not_required` when it was
//! resolved sooner and nobody needed to act). The resolution deadline
//! follows the fault's current class.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::FaultClass;
use crate::config::Terms;

type Ts = DateTime<Utc>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    Response,
    OnSite,
    Resolution,
    RepairReport,
}

impl DeadlineKind {
    pub const ALL: [DeadlineKind; 4] = [
        DeadlineKind::Response,
        DeadlineKind::OnSite,
        DeadlineKind::Resolution,
        DeadlineKind::RepairReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Response => "response",
            DeadlineKind::OnSite => "on_site",
            DeadlineKind::Resolution => "resolution",
            DeadlineKind::RepairReport => "repair_report",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    Pending,
    Met,
    Breached,
    NotRequired,
}

impl DeadlineState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineState::Pending => "pending",
            DeadlineState::Met => "met",
            DeadlineState::Breached => "breached",
            DeadlineState::NotRequired => "not_required",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// None while it cannot be known yet (a repair report before resolution).
    pub due: Option<Ts>,
    pub state: DeadlineState,
    /// When the event that meets it happened (also when it came too late).
    pub done_at: Option<Ts>,
}

/// What a fault's deadlines depend on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultFacts {
    pub detected: Ts,
    pub class: FaultClass,
    pub resolved: Option<Ts>,
    pub acknowledged: Option<Ts>,
    pub on_site: Option<Ts>,
    pub repair_report: Option<Ts>,
}

fn after(t: Ts, d: std::time::Duration) -> Ts {
    t + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn judge(kind: DeadlineKind, due: Ts, done: Option<Ts>, now: Ts) -> Deadline {
    let state = match done {
        Some(t) if t <= due => DeadlineState::Met,
        Some(_) => DeadlineState::Breached,
        None if now > due => DeadlineState::Breached,
        None => DeadlineState::Pending,
    };
    Deadline {
        kind,
        due: Some(due),
        state,
        done_at: done,
    }
}

/// The four deadlines of a fault as of `now`.
pub fn deadlines(f: &FaultFacts, terms: &Terms, now: Ts) -> [Deadline; 4] {
    // Not required when the fault was over before it fell due.
    let unless_resolved_first = |kind, due: Ts, done: Option<Ts>| match (done, f.resolved) {
        (None, Some(r)) if r <= due => Deadline {
            kind,
            due: Some(due),
            state: DeadlineState::NotRequired,
            done_at: None,
        },
        _ => judge(kind, due, done, now),
    };
    let response = unless_resolved_first(
        DeadlineKind::Response,
        after(f.detected, terms.response),
        f.acknowledged,
    );
    let on_site = unless_resolved_first(
        DeadlineKind::OnSite,
        after(f.detected, terms.on_site),
        f.on_site,
    );
    let resolution = judge(
        DeadlineKind::Resolution,
        after(f.detected, terms.resolution_for(f.class)),
        f.resolved,
        now,
    );
    let repair_report = match f.resolved {
        Some(r) => judge(
            DeadlineKind::RepairReport,
            after(r, terms.repair_report),
            f.repair_report,
            now,
        ),
        None => Deadline {
            kind: DeadlineKind::RepairReport,
            due: None,
            state: DeadlineState::Pending,
            done_at: f.repair_report,
        },
    };
    [response, on_site, resolution, repair_report]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> Ts {
        "2026-01-01T00:00:00Z".parse::<Ts>().unwrap() + TimeDelta::minutes(min)
    }

    fn facts(class: FaultClass) -> FaultFacts {
        FaultFacts {
            detected: t(0),
            class,
            resolved: None,
            acknowledged: None,
            on_site: None,
            repair_report: None,
        }
    }

    fn states(f: &FaultFacts, now: i64) -> [DeadlineState; 4] {
        deadlines(f, &Terms::default(), t(now)).map(|d| d.state)
    }

    use DeadlineState::*;

    #[test]
    fn every_deadline_met() {
        let mut f = facts(FaultClass::Serious);
        f.acknowledged = Some(t(10));
        f.on_site = Some(t(29));
        f.resolved = Some(t(100));
        f.repair_report = Some(t(100 + 8 * 60));
        assert_eq!(states(&f, 2000), [Met, Met, Met, Met]);
        let d = deadlines(&f, &Terms::default(), t(2000));
        assert_eq!(d[0].due, Some(t(30)));
        assert_eq!(d[2].due, Some(t(120)), "serious: 120 minutes");
        assert_eq!(d[3].due, Some(t(580)), "8 h after resolution");
        assert_eq!(d[1].done_at, Some(t(29)));
    }

    #[test]
    fn every_deadline_breached() {
        let mut f = facts(FaultClass::Serious);
        f.acknowledged = Some(t(31));
        f.resolved = Some(t(121));
        assert_eq!(states(&f, 125), [Breached, Breached, Breached, Pending]);
        assert_eq!(
            states(&f, 121 + 8 * 60 + 1),
            [Breached, Breached, Breached, Breached]
        );
    }

    #[test]
    fn pending_until_due_then_breached_without_the_event() {
        let f = facts(FaultClass::General);
        assert_eq!(states(&f, 30), [Pending, Pending, Pending, Pending]);
        assert_eq!(states(&f, 31), [Breached, Breached, Breached, Pending]);
    }

    #[test]
    fn on_site_is_not_required_when_resolved_within_its_window() {
        let mut f = facts(FaultClass::Serious);
        f.acknowledged = Some(t(5));
        f.resolved = Some(t(20));
        assert_eq!(states(&f, 60), [Met, NotRequired, Met, Pending]);
    }

    #[test]
    fn a_fault_over_before_anyone_could_respond_needs_no_response() {
        let mut f = facts(FaultClass::Serious);
        f.resolved = Some(t(1));
        assert_eq!(states(&f, 600), [NotRequired, NotRequired, Met, Breached]);
        // Resolved after the response was due, never acknowledged: breached.
        f.resolved = Some(t(31));
        assert_eq!(states(&f, 40)[0], Breached);
    }

    #[test]
    fn resolution_deadline_follows_the_class() {
        let mut f = facts(FaultClass::General);
        f.resolved = Some(t(45));
        assert_eq!(states(&f, 60)[2], Breached, "general: 30 minutes");
        f.class = FaultClass::Serious;
        assert_eq!(states(&f, 60)[2], Met, "escalated to serious: 120 minutes");
        f.class = FaultClass::Major;
        assert_eq!(states(&f, 60)[2], Met);
    }
}
