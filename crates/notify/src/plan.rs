//! Which of a channel's pending notices go out now, and in what order:
//! routing (events, lines, classes) and quiet hours. Pure: the sender
//! passes the pending notices and the local time.
//!
//! A fault's messages keep their order: while quiet hours hold one of a
//! fault's notices, its later ones wait too, unless one is major, which
//! sends the held ones first and then itself.

use chrono::NaiveTime;

use linkledger_config::notify::Route;
use linkledger_core::fault::FaultClass;
use linkledger_ledger::outbox::{Notice, NoticeKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The channel's routing does not take it: recorded as skipped.
    Skip(i64),
    /// Deliver now (in this order).
    Send(i64),
}

/// The line a notice is routed by: its line, "egress" for the egress's
/// faults and budget, "daemon" for notices about linkledger itself.
pub fn route_line(n: &Notice) -> &str {
    match (&n.line, n.kind) {
        (Some(l), _) => l,
        (None, NoticeKind::DaemonGap | NoticeKind::MonitorFailover | NoticeKind::Test) => "daemon",
        (None, _) => linkledger_core::EGRESS,
    }
}

/// Whether a channel's routing takes a notice. A report is not an alert:
/// `report_ready` goes only to channels that name it in `events`.
pub fn takes(route: &Route, n: &Notice) -> bool {
    let events = match &route.events {
        None => n.kind != NoticeKind::ReportReady,
        Some(e) => e.contains(&n.kind),
    };
    events
        && route
            .lines
            .as_ref()
            .is_none_or(|l| l.iter().any(|l| l == route_line(n)))
        && match (&route.classes, n.class) {
            (Some(c), Some(class)) => c.contains(&class),
            _ => true,
        }
}

/// Whether local time `t` falls in quiet hours `(from, to)` (which may
/// wrap past midnight).
pub fn in_quiet(quiet: Option<(NaiveTime, NaiveTime)>, t: NaiveTime) -> bool {
    match quiet {
        None => false,
        Some((from, to)) if from < to => t >= from && t < to,
        Some((from, to)) => t >= from || t < to,
    }
}

/// Plans the pending notices (oldest first) at local time `now`.
pub fn plan(route: &Route, pending: &[Notice], now: NaiveTime) -> Vec<Step> {
    let quiet = in_quiet(route.quiet, now);
    let mut steps = Vec::new();
    let mut held: Vec<&Notice> = Vec::new();
    for n in pending {
        if !takes(route, n) {
            steps.push(Step::Skip(n.id));
            continue;
        }
        let urgent = n.class == Some(FaultClass::Major);
        let fault_held = n.fault.is_some() && held.iter().any(|h| h.fault == n.fault);
        if quiet && !urgent {
            held.push(n);
            continue;
        }
        if fault_held {
            // A major notice releases its fault's held notices first.
            let (release, keep): (Vec<&Notice>, Vec<&Notice>) =
                held.into_iter().partition(|h| h.fault == n.fault);
            held = keep;
            steps.extend(release.into_iter().map(|h| Step::Send(h.id)));
        }
        steps.push(Step::Send(n.id));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: i64, kind: NoticeKind, fault: Option<i64>, class: Option<FaultClass>) -> Notice {
        Notice {
            id,
            key: format!("k{id}"),
            kind,
            line: Some("ct".into()),
            fault,
            class,
            at: linkledger_ledger::clock::wall_now(),
            queued_at: linkledger_ledger::clock::wall_now(),
            detail: serde_json::json!({}),
        }
    }

    fn route(quiet: Option<(&str, &str)>) -> Route {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        Route {
            events: None,
            lines: None,
            classes: None,
            quiet: quiet.map(|(a, b)| (t(a), t(b))),
        }
    }

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let q = Some((t("22:00"), t("07:00")));
        assert!(in_quiet(q, t("23:30")));
        assert!(in_quiet(q, t("03:00")));
        assert!(!in_quiet(q, t("07:00")));
        assert!(!in_quiet(q, t("12:00")));
        let day = Some((t("12:00"), t("13:00")));
        assert!(in_quiet(day, t("12:30")) && !in_quiet(day, t("13:30")));
    }

    #[test]
    fn quiet_hours_hold_all_but_major_and_a_major_releases_its_fault_in_order() {
        use FaultClass::*;
        let pending = vec![
            notice(1, NoticeKind::FaultOpened, Some(7), Some(Serious)),
            notice(2, NoticeKind::FaultOpened, Some(8), Some(General)),
            notice(3, NoticeKind::FaultEscalated, Some(7), Some(Major)),
            notice(4, NoticeKind::DaemonGap, None, None),
        ];
        let r = route(Some(("22:00", "07:00")));
        let night = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
        assert_eq!(
            plan(&r, &pending, night),
            vec![Step::Send(1), Step::Send(3)]
        );
        let day = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        assert_eq!(
            plan(&r, &pending, day),
            (1..=4).map(Step::Send).collect::<Vec<_>>()
        );
    }

    #[test]
    fn routing_skips_what_the_channel_does_not_take() {
        let mut r = route(None);
        r.events = Some(vec![NoticeKind::FaultOpened, NoticeKind::DaemonGap]);
        r.classes = Some(vec![FaultClass::Serious, FaultClass::Major]);
        r.lines = Some(vec!["ct".into(), "daemon".into()]);
        let mut other_line = notice(5, NoticeKind::FaultOpened, Some(9), Some(FaultClass::Major));
        other_line.line = Some("cu".into());
        let mut gap = notice(6, NoticeKind::DaemonGap, None, None);
        gap.line = None;
        let pending = vec![
            notice(
                1,
                NoticeKind::FaultOpened,
                Some(7),
                Some(FaultClass::Serious),
            ),
            notice(
                2,
                NoticeKind::FaultOpened,
                Some(8),
                Some(FaultClass::General),
            ),
            notice(
                3,
                NoticeKind::FaultResolved,
                Some(7),
                Some(FaultClass::Serious),
            ),
            other_line,
            gap,
        ];
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        assert_eq!(
            plan(&r, &pending, noon),
            vec![
                Step::Send(1),
                Step::Skip(2),
                Step::Skip(3),
                Step::Skip(5),
                Step::Send(6)
            ]
        );
    }

    #[test]
    fn reports_go_only_to_channels_that_ask_for_them() {
        let report = notice(9, NoticeKind::ReportReady, None, None);
        let mut r = route(None);
        assert!(!takes(&r, &report), "not to a channel taking every alert");
        r.events = Some(vec![NoticeKind::ReportReady]);
        assert!(takes(&r, &report));
    }
}
