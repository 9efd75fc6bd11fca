//! Interval arithmetic of the budget: examples, and properties (proptest)
//! over random outages, gaps, exclusions and maintenance windows.

use super::*;
use crate::contract::ContractYear;
use chrono::NaiveDate;
use proptest::prelude::*;

fn t(s: &str) -> Ts {
    s.parse().unwrap()
}

fn at(min: i64) -> Ts {
    t("2026-01-01T00:00:00Z") + TimeDelta::minutes(min)
}

fn span(a: i64, b: i64) -> Span {
    (at(a), at(b))
}

#[test]
fn overlapping_outages_exclusions_and_maintenance_count_once() {
    let r = LineRecords {
        outages: vec![span(0, 60), span(30, 90), span(200, 260)],
        unobserved: vec![span(80, 100)],
        force_majeure: vec![span(0, 20), span(10, 25)],
        approved_maintenance: vec![span(20, 40), span(200, 230)],
        agreed: vec![],
    };
    let period = span(-1000, 1000);
    let counted = Downtime::of_line(&r, period, true);
    assert_eq!(total(&counted.down), TimeDelta::minutes(80 + 60));
    assert_eq!(
        total(&counted.excluded_force_majeure),
        TimeDelta::minutes(25)
    );
    assert!(
        counted.excluded_maintenance.is_empty(),
        "approved maintenance counts by default"
    );
    assert_eq!(total(&counted.charged), TimeDelta::minutes(140 - 25));
    let excluded = Downtime::of_line(&r, period, false);
    // 20..40 minus the force majeure up to 25 = 15, plus 200..230 = 30.
    assert_eq!(
        total(&excluded.excluded_maintenance),
        TimeDelta::minutes(45)
    );
    assert_eq!(total(&excluded.charged), TimeDelta::minutes(140 - 25 - 45));
}

#[test]
fn a_gap_down_on_both_sides_is_disputed_until_agreed() {
    let mut r = LineRecords {
        outages: vec![span(0, 60), span(120, 180), span(300, 360)],
        unobserved: vec![span(60, 120), span(200, 250)],
        ..Default::default()
    };
    let p = span(-10, 1000);
    let d = Downtime::of_line(&r, p, true);
    assert_eq!(d.disputed, vec![span(60, 120)], "down before and after");
    assert_eq!(total(&d.charged), TimeDelta::minutes(180));
    r.agreed = vec![span(50, 130), span(400, 500)];
    let d = Downtime::of_line(&r, p, true);
    assert!(d.disputed.is_empty());
    assert_eq!(d.agreed, vec![span(60, 120)], "only the unobserved part");
    assert_eq!(
        total(&d.charged),
        TimeDelta::minutes(240),
        "observed up time stays up"
    );
    assert_eq!(total(&d.unobserved), TimeDelta::minutes(50));
}

#[test]
fn an_outage_crossing_a_contract_year_is_split_at_the_anniversary() {
    // Contract from 2023-03-01 in Shanghai; year 2 begins 2024-03-01
    // local, 2024-02-29T16:00Z.
    let start = NaiveDate::from_ymd_opt(2023, 3, 1).unwrap();
    let tz = chrono_tz::Asia::Shanghai;
    let y1 = ContractYear::containing(start, tz, t("2024-01-01T00:00:00Z"));
    let y2 = ContractYear::containing(start, tz, t("2024-06-01T00:00:00Z"));
    assert_eq!(y1.end, y2.start);
    assert_eq!(y1.end, t("2024-02-29T16:00:00Z"));
    // Year 1 holds 29 February 2024: 366 days.
    assert_eq!(y1.end - y1.start, TimeDelta::days(366));
    assert_eq!(y2.end - y2.start, TimeDelta::days(365));
    let r = LineRecords {
        outages: vec![(t("2024-02-29T15:00:00Z"), t("2024-02-29T17:30:00Z"))],
        ..Default::default()
    };
    let a = Downtime::of_line(&r, (y1.start, y1.end), true);
    let b = Downtime::of_line(&r, (y2.start, y2.end), true);
    assert_eq!(total(&a.charged), TimeDelta::minutes(60));
    assert_eq!(total(&b.charged), TimeDelta::minutes(90));
}

#[test]
fn the_egress_is_charged_only_where_every_line_is() {
    let a = LineRecords {
        outages: vec![span(0, 100)],
        ..Default::default()
    };
    let b = LineRecords {
        outages: vec![span(50, 150)],
        force_majeure: vec![span(60, 70)],
        ..Default::default()
    };
    let p = span(-10, 1000);
    let lines = [
        Downtime::of_line(&a, p, true),
        Downtime::of_line(&b, p, true),
    ];
    let e = Downtime::of_egress(&lines);
    assert_eq!(e.down, vec![span(50, 100)]);
    assert_eq!(total(&e.charged), TimeDelta::minutes(40));
    assert_eq!(e.excluded_force_majeure, vec![span(60, 70)]);
}

#[test]
fn burn_rate_projects_the_breach_inside_the_year_only() {
    let cap = TimeDelta::hours(4);
    let now = at(0);
    let year_end = now + TimeDelta::days(200);
    // 2 h charged, 1 h of it in the last 30 days: 2 min a day, 60 days left.
    let charged = [
        (
            now - TimeDelta::days(100),
            now - TimeDelta::days(100) + TimeDelta::hours(1),
        ),
        (
            now - TimeDelta::days(1),
            now - TimeDelta::days(1) + TimeDelta::hours(1),
        ),
    ];
    let b = burn(
        &charged,
        cap,
        TimeDelta::hours(1),
        TimeDelta::days(30),
        now,
        year_end,
    );
    assert!((b.rate_s_per_day - 120.0).abs() < 1e-9);
    assert_eq!(b.breach_at, Some(now + TimeDelta::days(60)));
    assert!(!b.breached);
    let b = burn(
        &charged,
        cap,
        TimeDelta::hours(1),
        TimeDelta::days(30),
        now,
        now + TimeDelta::days(59),
    );
    assert_eq!(b.breach_at, None, "the year ends first");
    let b = burn(
        &charged,
        cap,
        TimeDelta::zero(),
        TimeDelta::days(30),
        now,
        year_end,
    );
    assert_eq!(b.breach_at, None, "nothing burning");
}

#[test]
fn a_crossed_cap_reports_the_instant_it_was_crossed() {
    let charged = [span(0, 180), span(300, 400)];
    let b = burn(
        &charged,
        TimeDelta::hours(4),
        TimeDelta::zero(),
        TimeDelta::days(30),
        at(1000),
        at(100_000),
    );
    assert!(b.breached);
    assert_eq!(b.breach_at, Some(at(360)));
    // Exactly the cap is within it.
    let b = burn(
        &[span(0, 240)],
        TimeDelta::hours(4),
        TimeDelta::zero(),
        TimeDelta::days(30),
        at(1000),
        at(100_000),
    );
    assert!(!b.breached);
}

fn spans(max: usize) -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec((0i64..10_000, 1i64..2_000), 0..max)
        .prop_map(|v| v.into_iter().map(|(a, d)| span(a, a + d)).collect())
}

fn records() -> impl Strategy<Value = LineRecords> {
    (spans(8), spans(4), spans(4), spans(4), spans(3)).prop_map(|(o, u, f, m, a)| LineRecords {
        outages: o,
        unobserved: u,
        force_majeure: f,
        approved_maintenance: m,
        agreed: a,
    })
}

proptest! {
    #[test]
    fn charged_is_never_negative_nor_more_than_observed_downtime(r in records(), counts in any::<bool>()) {
        let d = Downtime::of_line(&r, span(0, 12_000), counts);
        let charged = total(&d.charged);
        prop_assert!(charged >= TimeDelta::zero());
        prop_assert!(charged <= total(&d.down));
        // Every observed down minute is charged or excluded, exactly once.
        prop_assert_eq!(
            total(&d.down),
            charged + total(&d.excluded_force_majeure) + total(&d.excluded_maintenance)
        );
        // Unobserved time is charged only where both sides agreed on it.
        let unagreed = subtract(&merge(r.unobserved.clone()), &merge(r.agreed.clone()));
        prop_assert!(intersect(&d.charged, &unagreed).is_empty());
        prop_assert!(intersect(&d.disputed, &d.charged).is_empty());
    }

    #[test]
    fn the_same_exclusion_twice_changes_nothing(r in records(), counts in any::<bool>()) {
        let once = Downtime::of_line(&r, span(0, 12_000), counts);
        let mut twice = r.clone();
        twice.force_majeure.extend(r.force_majeure.clone());
        twice.approved_maintenance.extend(r.approved_maintenance.clone());
        prop_assert_eq!(once, Downtime::of_line(&twice, span(0, 12_000), counts));
    }

    #[test]
    fn a_split_period_adds_up(r in records(), cut in 0i64..12_000, counts in any::<bool>()) {
        let whole = Downtime::of_line(&r, span(0, 12_000), counts);
        let a = Downtime::of_line(&r, span(0, cut), counts);
        let b = Downtime::of_line(&r, span(cut, 12_000), counts);
        prop_assert_eq!(total(&whole.charged), total(&a.charged) + total(&b.charged));
        prop_assert_eq!(total(&whole.unobserved), total(&a.unobserved) + total(&b.unobserved));
        prop_assert_eq!(
            total(&whole.excluded_force_majeure),
            total(&a.excluded_force_majeure) + total(&b.excluded_force_majeure)
        );
    }

    #[test]
    fn more_exclusion_never_charges_more(r in records(), extra in spans(3)) {
        let base = Downtime::of_line(&r, span(0, 12_000), true);
        let mut more = r.clone();
        more.force_majeure.extend(extra);
        let d = Downtime::of_line(&more, span(0, 12_000), true);
        prop_assert!(total(&d.charged) <= total(&base.charged));
        prop_assert_eq!(total(&d.down), total(&base.down), "the outages themselves are unchanged");
    }

    #[test]
    fn egress_charged_is_within_every_line(a in records(), b in records()) {
        let p = span(0, 12_000);
        let lines = [Downtime::of_line(&a, p, true), Downtime::of_line(&b, p, true)];
        let e = Downtime::of_egress(&lines);
        for l in &lines {
            prop_assert!(total(&e.charged) <= total(&l.charged));
        }
        prop_assert_eq!(total(&e.down), total(&e.charged) + total(&e.excluded_force_majeure) + total(&e.excluded_maintenance));
    }

    #[test]
    fn a_year_boundary_split_adds_up_for_any_contract_start(
        day in 0u32..1460, hour in 0i64..48, len in 1i64..5_000,
    ) {
        // Contract starts from 2023-01-01 onwards (leap day 2024 included).
        let start = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Days::new(day as u64);
        let tz = chrono_tz::Asia::Shanghai;
        let y = ContractYear::containing(start, tz, t("2030-06-01T00:00:00Z"));
        let next = ContractYear::containing(start, tz, y.end);
        prop_assert_eq!(next.start, y.end);
        prop_assert_eq!(next.number, y.number + 1);
        let o = (y.end - TimeDelta::hours(hour), y.end - TimeDelta::hours(hour) + TimeDelta::minutes(len));
        let r = LineRecords { outages: vec![o], ..Default::default() };
        let a = Downtime::of_line(&r, (y.start, y.end), true);
        let b = Downtime::of_line(&r, (next.start, next.end), true);
        prop_assert_eq!(total(&a.charged) + total(&b.charged), TimeDelta::minutes(len));
    }
}
