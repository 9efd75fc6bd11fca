//! A fault's deadlines under the contract, computed from its facts: when it
//! was detected and reported to the carrier (申告), its classes over time,
//! when it was resolved (the end of the outage as the ledger saw it) and
//! what people recorded (acknowledged, on site, repair report received).
//! Pure: `now` is an argument.
//!
//! Each deadline is due a fixed time after it starts to run and is `met`
//! when its event happened by then, `breached` when it happened later or
//! has not happened and the time is past, `pending` otherwise. The
//! response deadline runs from the fault report (第二条 17) when the terms
//! say so and one was made, else from detection; on site and resolution
//! from detection; the repair report from resolution. The response and
//! on-site deadlines apply only when the fault lasts past them
//! (`not_required` when it was resolved sooner and nobody needed to act).
//!
//! The resolution deadline is judged against the class the fault had while
//! it ran: it starts with the class the fault was opened with, and a later
//! class (an escalation, a reclassification) can shorten it while it is
//! still running, never extend it. A change made after the deadline was
//! over changes nothing. Only a correction (a manager's reclassification
//! given as a correction, shown as such) judges the fault as if it had had
//! the corrected class from the start.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::FaultClass;
use crate::terms::ResponseFrom;
use crate::terms::Terms;

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

/// What a deadline's time runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsFrom {
    Detected,
    /// The fault report to the carrier (申告).
    Reported,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// None while it cannot be known yet (a repair report before resolution).
    pub due: Option<Ts>,
    pub state: DeadlineState,
    /// When the event that meets it happened (also when it came too late).
    pub done_at: Option<Ts>,
    pub runs_from: RunsFrom,
    /// The class it was judged against (the resolution deadline).
    pub class: Option<FaultClass>,
}

/// What a fault's deadlines depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultFacts {
    pub detected: Ts,
    /// The class it was opened with.
    pub class: FaultClass,
    /// Later classes (escalations, reclassifications) with the time each
    /// took effect, in time order.
    pub changes: Vec<(Ts, FaultClass)>,
    /// A correction: the class the fault is judged as, from the start.
    pub corrected: Option<FaultClass>,
    pub resolved: Option<Ts>,
    /// The fault report to the carrier (申告).
    pub reported: Option<Ts>,
    pub acknowledged: Option<Ts>,
    pub on_site: Option<Ts>,
    pub repair_report: Option<Ts>,
    /// Forward wall-clock steps the ledger followed after the resolution
    /// (see the ledger's `clock_steps`): the repair report's window runs
    /// on, so its due time moves with them and the step takes none of the
    /// carrier's time.
    pub stepped_since_resolved: TimeDelta,
}

impl FaultFacts {
    /// A fault opened with `class` at `detected`, nothing else known yet.
    pub fn new(detected: Ts, class: FaultClass) -> Self {
        Self {
            detected,
            class,
            changes: Vec::new(),
            corrected: None,
            resolved: None,
            reported: None,
            acknowledged: None,
            on_site: None,
            repair_report: None,
            stepped_since_resolved: TimeDelta::zero(),
        }
    }
}

fn after(t: Ts, d: std::time::Duration) -> Ts {
    t + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn judge(kind: DeadlineKind, due: Ts, done: Option<Ts>, now: Ts, runs_from: RunsFrom) -> Deadline {
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
        runs_from,
        class: None,
    }
}

/// The resolution deadline's due time and the class it is judged against:
/// the opening class's, shortened (never extended) by each class change
/// made while it was still running. A change to a class whose time is
/// already over makes it due at the change.
pub fn resolution_due(f: &FaultFacts, terms: &Terms) -> (Ts, FaultClass) {
    let of = |c: FaultClass| after(f.detected, terms.resolution_for(c));
    if let Some(c) = f.corrected {
        return (of(c), c);
    }
    let (mut due, mut class) = (of(f.class), f.class);
    for &(at, c) in &f.changes {
        let over = at >= due || f.resolved.is_some_and(|r| at >= r);
        if over {
            break;
        }
        let candidate = of(c).max(at);
        if candidate < due {
            (due, class) = (candidate, c);
        }
    }
    (due, class)
}

/// The four deadlines of a fault as of `now`.
pub fn deadlines(f: &FaultFacts, terms: &Terms, now: Ts) -> [Deadline; 4] {
    // A special period's stricter deadlines, where the fault began in one.
    let terms = &*terms.for_fault_detected(f.detected);
    // Not required when the fault was over before it fell due.
    let unless_resolved_first = |kind, due: Ts, done: Option<Ts>, from| match (done, f.resolved) {
        (None, Some(r)) if r <= due => Deadline {
            kind,
            due: Some(due),
            state: DeadlineState::NotRequired,
            done_at: None,
            runs_from: from,
            class: None,
        },
        _ => judge(kind, due, done, now, from),
    };
    let (response_start, response_from) = match (terms.response_from, f.reported) {
        (ResponseFrom::Reported, Some(r)) => (r.max(f.detected), RunsFrom::Reported),
        _ => (f.detected, RunsFrom::Detected),
    };
    let response = unless_resolved_first(
        DeadlineKind::Response,
        after(response_start, terms.response),
        f.acknowledged,
        response_from,
    );
    let on_site = unless_resolved_first(
        DeadlineKind::OnSite,
        after(f.detected, terms.on_site),
        f.on_site,
        RunsFrom::Detected,
    );
    let (due, class) = resolution_due(f, terms);
    let resolution = Deadline {
        class: Some(class),
        ..judge(
            DeadlineKind::Resolution,
            due,
            f.resolved,
            now,
            RunsFrom::Detected,
        )
    };
    let repair_report = match f.resolved {
        Some(r) => judge(
            DeadlineKind::RepairReport,
            after(r, terms.repair_report) + f.stepped_since_resolved,
            f.repair_report,
            now,
            RunsFrom::Resolved,
        ),
        None => Deadline {
            kind: DeadlineKind::RepairReport,
            due: None,
            state: DeadlineState::Pending,
            done_at: f.repair_report,
            runs_from: RunsFrom::Resolved,
            class: None,
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
        FaultFacts::new(t(0), class)
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
    fn resolution_deadline_follows_the_opening_class() {
        let mut f = facts(FaultClass::General);
        f.resolved = Some(t(45));
        assert_eq!(states(&f, 60)[2], Breached, "general: 30 minutes");
        f.class = FaultClass::Serious;
        assert_eq!(states(&f, 60)[2], Met, "opened serious: 120 minutes");
    }

    #[test]
    fn an_escalation_never_extends_a_running_resolution_deadline() {
        // A general degradation that became a (serious) outage at minute
        // 40: its 30 minutes were over at minute 30, breached.
        let mut f = facts(FaultClass::General);
        f.changes = vec![(t(40), FaultClass::Serious)];
        f.resolved = Some(t(45));
        let d = deadlines(&f, &Terms::default(), t(60));
        assert_eq!((d[2].state, d[2].due), (Breached, Some(t(30))));
        assert_eq!(d[2].class, Some(FaultClass::General));
        // Escalated at minute 10, still running: 30 minutes stay 30.
        f.changes = vec![(t(10), FaultClass::Major)];
        assert_eq!(deadlines(&f, &Terms::default(), t(60))[2].due, Some(t(30)));
    }

    #[test]
    fn an_escalation_shortens_a_running_resolution_deadline() {
        let terms = Terms {
            resolution: [120, 60, 20].map(|m| std::time::Duration::from_secs(60 * m)),
            ..Terms::default()
        };
        let mut f = facts(FaultClass::General);
        f.changes = vec![(t(10), FaultClass::Serious), (t(50), FaultClass::Major)];
        let d = deadlines(&f, &terms, t(0));
        // Serious at minute 10: due at 60. Major at 50: its 20 minutes
        // were over, so due at once, at 50.
        assert_eq!(
            (d[2].due, d[2].class),
            (Some(t(50)), Some(FaultClass::Major))
        );
    }

    #[test]
    fn a_change_after_the_deadline_changes_nothing_a_correction_does() {
        let mut f = facts(FaultClass::General);
        f.resolved = Some(t(45));
        // Reclassified a year later: still judged as general.
        f.changes = vec![(t(525_600), FaultClass::Serious)];
        assert_eq!(states(&f, 600_000)[2], Breached);
        f.corrected = Some(FaultClass::Serious);
        assert_eq!(
            states(&f, 600_000)[2],
            Met,
            "a correction judges from the start"
        );
    }

    #[test]
    fn response_runs_from_the_fault_report() {
        let mut f = facts(FaultClass::General);
        f.reported = Some(t(20));
        f.acknowledged = Some(t(45));
        let d = deadlines(&f, &Terms::default(), t(60));
        assert_eq!(
            (d[0].state, d[0].due, d[0].runs_from),
            (Met, Some(t(50)), RunsFrom::Reported)
        );
        let terms = Terms {
            response_from: ResponseFrom::Detected,
            ..Terms::default()
        };
        let d = deadlines(&f, &terms, t(60));
        assert_eq!((d[0].state, d[0].runs_from), (Breached, RunsFrom::Detected));
        // Nothing reported: from detection.
        f.reported = None;
        let d = deadlines(&f, &Terms::default(), t(60));
        assert_eq!((d[0].state, d[0].runs_from), (Breached, RunsFrom::Detected));
    }

    #[test]
    fn a_clock_step_after_the_resolution_moves_the_repair_report_due() {
        let terms = Terms::default();
        let mut f = facts(FaultClass::General);
        f.resolved = Some(t(10));
        let due = |f: &FaultFacts| deadlines(f, &terms, t(11))[3].due.unwrap();
        let before = due(&f);
        f.stepped_since_resolved = TimeDelta::hours(1);
        assert_eq!(due(&f) - before, TimeDelta::hours(1));
        // A report made within the window as it now runs is in time.
        f.repair_report = Some(before + TimeDelta::minutes(30));
        assert_eq!(deadlines(&f, &terms, t(11))[3].state, DeadlineState::Met);
    }
}
