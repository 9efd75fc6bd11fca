//! The contract accounting checked against a deliberately simple reference:
//! random outages, daemon gaps, force-majeure exclusions, maintenance
//! windows (in time or late), agreed outages and contract start dates
//! (29 February included) are written into a real ledger, and every figure
//! the code gives is compared with a count of each hour of three years,
//! classified by hand as up, down, excluded, unobserved or charged, with
//! contract years, quarters and halves from plain calendar arithmetic in
//! the contract's zone (Asia/Shanghai, UTC+8 without daylight saving).
//!
//! Checked per line and for the egress: each contract year's budget;
//! each quarter's and half's charged time; and the half-year assessments'
//! hours over the annual cap, which summed over the halves that cover a
//! contract year must equal that year's.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_core::contract::ContractYear;
use linkledger_ledger::budget;
use linkledger_report::period::Period;
use proptest::prelude::*;

/// The fixture's three years, in hours from 2024-01-01T00:00Z.
const HOURS: i64 = 1096 * 24;
const LINES: [&str; 2] = ["telecom", "unicom"];
const CAP_H: i64 = 4;

fn t0() -> DateTime<Utc> {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

fn at(h: i64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(h)
}

fn ts(h: i64) -> String {
    at(h).format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// An hour span [a, b) on one line, or on every line (None).
#[derive(Debug, Clone)]
struct Spans(Vec<(Option<usize>, i64, i64)>);

impl Spans {
    fn covers(&self, line: usize, h: i64) -> bool {
        self.0
            .iter()
            .any(|&(l, a, b)| l.is_none_or(|l| l == line) && a <= h && h < b)
    }
}

#[derive(Debug, Clone)]
struct Case {
    start: NaiveDate,
    maintenance_counts: bool,
    outages: Spans,
    gaps: Spans,
    force_majeure: Spans,
    /// (line, a, b, announced in time and consented)
    maintenance: Vec<(usize, i64, i64, bool)>,
    agreed: Spans,
}

fn spans(n: usize, max_len: i64, any_line: bool) -> impl Strategy<Value = Spans> {
    prop::collection::vec(
        (0usize..if any_line { 3 } else { 2 }, 0..HOURS, 1..=max_len),
        0..=n,
    )
    .prop_map(|v| {
        Spans(
            v.into_iter()
                .map(|(l, a, len)| ((l < 2).then_some(l), a, (a + len).min(HOURS)))
                .collect(),
        )
    })
}

fn case() -> impl Strategy<Value = Case> {
    let start = prop_oneof![
        Just(NaiveDate::from_ymd_opt(2020, 2, 29).unwrap()),
        Just(NaiveDate::from_ymd_opt(2023, 1, 1).unwrap()),
        Just(NaiveDate::from_ymd_opt(2023, 7, 1).unwrap()),
        (0u64..1800)
            .prop_map(|d| NaiveDate::from_ymd_opt(2019, 1, 1).unwrap() + chrono::Days::new(d)),
    ];
    (
        start,
        any::<bool>(),
        // Outages: many, some long, so caps are crossed; they may overlap.
        prop::collection::vec((0usize..2, 0..HOURS, 1i64..9), 4..30).prop_map(|v| {
            Spans(
                v.into_iter()
                    .map(|(l, a, len)| (Some(l), a, (a + len).min(HOURS)))
                    .collect(),
            )
        }),
        spans(4, 10, true),
        spans(3, 6, true),
        prop::collection::vec((0usize..2, 0..HOURS, 1i64..6, any::<bool>()), 0..4),
        spans(3, 8, false),
    )
        .prop_map(
            |(start, maintenance_counts, outages, gaps, force_majeure, m, agreed)| Case {
                start,
                maintenance_counts,
                outages,
                gaps,
                force_majeure,
                maintenance: m
                    .into_iter()
                    .map(|(l, a, len, ok)| (l, a, (a + len).min(HOURS), ok))
                    .collect(),
                agreed,
            },
        )
}

/// What the reference says of one hour of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hour {
    Up,
    Unobserved,
    ForceMajeure,
    Maintenance,
    Charged,
}

fn classify(c: &Case, line: usize, h: i64) -> Hour {
    let gap = c.gaps.covers(line, h);
    let agreed = c.agreed.covers(line, h);
    if gap && !agreed {
        return Hour::Unobserved;
    }
    let down = (gap && agreed) || (!gap && c.outages.covers(line, h));
    if !down {
        return Hour::Up;
    }
    if c.force_majeure.covers(line, h) {
        return Hour::ForceMajeure;
    }
    let approved = c
        .maintenance
        .iter()
        .any(|&(l, a, b, ok)| ok && l == line && a <= h && h < b);
    if approved && !c.maintenance_counts {
        return Hour::Maintenance;
    }
    Hour::Charged
}

/// The local (UTC+8) date of an hour.
fn local_date(h: i64) -> NaiveDate {
    (at(h) + TimeDelta::hours(8)).date_naive()
}

fn leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The contract year number of a local date, by calendar arithmetic: the
/// year begins on the start's month and day (29 February: the 28th in
/// common years).
fn year_of(start: NaiveDate, d: NaiveDate) -> i32 {
    let anniversary = |y: i32| {
        let (m, day) = (start.month(), start.day());
        let day = if m == 2 && day == 29 && !leap(y) {
            28
        } else {
            day
        };
        (m, day)
    };
    let mut k = d.year() - start.year();
    if (d.month(), d.day()) < anniversary(d.year()) {
        k -= 1;
    }
    k + 1
}

fn quarter_label(d: NaiveDate) -> String {
    format!("{}Q{}", d.year(), (d.month() - 1) / 3 + 1)
}

fn half_label(d: NaiveDate) -> String {
    format!("{}H{}", d.year(), if d.month() <= 6 { 1 } else { 2 })
}

/// Counted hours per key: (line or None for the egress, key) → (charged,
/// force majeure, maintenance, unobserved).
type Counts = BTreeMap<(Option<usize>, String), [i64; 4]>;

fn reference(c: &Case) -> (Counts, BTreeMap<(usize, i32), i64>) {
    let mut counts: Counts = BTreeMap::new();
    let mut year_charged: BTreeMap<(usize, i32), i64> = BTreeMap::new();
    for h in 0..HOURS {
        let d = local_date(h);
        let keys = [
            format!("year {}", year_of(c.start, d)),
            quarter_label(d),
            half_label(d),
        ];
        let hours: Vec<Hour> = (0..LINES.len()).map(|l| classify(c, l, h)).collect();
        for (l, hour) in hours.iter().enumerate() {
            for k in &keys {
                let e = counts.entry((Some(l), k.clone())).or_default();
                match hour {
                    Hour::Charged => e[0] += 1,
                    Hour::ForceMajeure => e[1] += 1,
                    Hour::Maintenance => e[2] += 1,
                    Hour::Unobserved => e[3] += 1,
                    Hour::Up => {}
                }
            }
            if *hour == Hour::Charged {
                *year_charged.entry((l, year_of(c.start, d))).or_default() += 1;
            }
        }
        if hours.iter().all(|x| *x == Hour::Charged) {
            for k in &keys {
                counts.entry((None, k.clone())).or_default()[0] += 1;
            }
        }
    }
    (counts, year_charged)
}

fn config_text(c: &Case, db: &std::path::Path) -> String {
    format!(
        r#"
[daemon]
database = {db:?}
listen = "127.0.0.1:9798"
timezone = "Asia/Shanghai"

[contract]
name = "model"
start = "{}"
annual_downtime_cap = "{CAP_H}h"
approved_maintenance_counts = {}

[[line]]
id = "telecom"
carrier = "China Telecom"
role = "lead"
bandwidth_mbps = 1000
local = ["127.0.0.1"]
upstream = ["127.0.2.1"]

[[line]]
id = "unicom"
carrier = "China Unicom"
role = "member"
bandwidth_mbps = 500
local = ["127.0.0.1"]
upstream = ["127.0.3.1"]
"#,
        c.start, c.maintenance_counts
    )
}

fn rows(c: &Case) -> String {
    let line = |l: Option<usize>| l.map_or("NULL".to_string(), |l| format!("'{}'", LINES[l]));
    let mut s = String::from(
        "INSERT INTO runs (id, started_at, heartbeat_at, stopped_at, version, config_path, interval_ms) \
         VALUES (1, '2018-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z', 'model', 'model', 1000);\n\
         INSERT INTO line_configs (line, config_json, valid_from, run_id) VALUES \
         ('telecom', '{}', '2018-01-01T00:00:00.000Z', 1), ('unicom', '{}', '2018-01-01T00:00:00.000Z', 1);\n",
    );
    for &(l, a, b) in &c.outages.0 {
        s += &format!(
            "INSERT INTO outages (line, start_at, end_at, cause, interval_ms, run_opened, run_closed) VALUES ({}, '{}', '{}', 'upstream_unreachable', 1000, 1, 1);\n",
            line(l), ts(a), ts(b)
        );
    }
    for &(l, a, b) in &c.gaps.0 {
        s += &format!(
            "INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES ({}, '{}', '{}', 'daemon_not_running', 1);\n",
            line(l), ts(a), ts(b)
        );
    }
    for &(l, a, b) in &c.force_majeure.0 {
        s += &format!(
            "INSERT INTO exclusions (line, start_at, end_at, reason, evidence, approved_by, approved_at, recorded_by, recorded_at) \
             VALUES ({}, '{}', '{}', 'fm', 'e', 'a', '{}', 'r', '{}');\n",
            line(l), ts(a), ts(b), ts(b), ts(b)
        );
    }
    for &(l, a, b, ok) in &c.maintenance {
        // In time: announced and recorded two days ahead. Not: an hour ahead.
        let notice = if ok { a - 48 } else { a - 1 };
        s += &format!(
            "INSERT INTO maintenance (line, start_at, end_at, notice_at, consented, reference, recorded_by, recorded_at) \
             VALUES ('{}', '{}', '{}', '{}', 1, 'm', 'r', '{}');\n",
            LINES[l], ts(a), ts(b), ts(notice), ts(notice)
        );
    }
    for &(l, a, b) in &c.agreed.0 {
        s += &format!(
            "INSERT INTO agreed_outages (line, start_at, end_at, evidence, approved_by, recorded_by, recorded_at) \
             VALUES ({}, '{}', '{}', 'ticket', 'a', 'r', '2029-01-01T00:00:00.000Z');\n",
            line(l), ts(a), ts(b)
        );
    }
    s
}

fn hours(s: f64) -> i64 {
    assert_eq!(s % 3600.0, 0.0, "{s} s is not whole hours");
    (s / 3600.0) as i64
}

fn check(c: &Case) -> Result<(), TestCaseError> {
    let (want, year_charged) = reference(c);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let path = dir.path().join("linkledger.toml");
    let text = config_text(c, &db);
    std::fs::write(&path, &text).unwrap();
    let config = Config::parse(&path, &text).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = linkledger_ledger::open(&db).await.unwrap();
        sqlx::raw_sql(&rows(c))
            .execute(pool.raw_pool())
            .await
            .unwrap();
        let tz = config.daemon.timezone;
        let now: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let terms = &config.contract.terms;
        let of = |line: Option<usize>, key: &str| {
            want.get(&(line, key.to_string()))
                .copied()
                .unwrap_or_default()
        };

        // Contract years: the budget of each line and the egress.
        let first = year_of(c.start, local_date(0));
        let last = year_of(c.start, local_date(HOURS - 1));
        for n in first..=last {
            let y = ContractYear::nth(c.start, tz, n);
            let b = budget::budget_of_year(&pool, &config, y, now)
                .await
                .unwrap();
            let key = format!("year {n}");
            for (l, v) in b.lines.iter().enumerate() {
                let w = of(Some(l), &key);
                let got = [
                    hours(v.charged_s),
                    hours(v.excluded_force_majeure_s),
                    hours(v.excluded_maintenance_s),
                    hours(v.unobserved_s),
                ];
                prop_assert_eq!(got, w, "{} {} (start {})", LINES[l], key, c.start);
            }
            prop_assert_eq!(
                hours(b.egress.charged_s),
                of(None, &key)[0],
                "egress {}",
                key
            );
        }

        // Quarters and halves: each line's and the egress's charged time.
        let labels: std::collections::BTreeSet<String> = (0..HOURS)
            .flat_map(|h| [quarter_label(local_date(h)), half_label(local_date(h))])
            .collect();
        for label in &labels {
            let p = if label.contains('Q') {
                Period::quarter(label, tz).unwrap()
            } else {
                Period::half(label, tz).unwrap()
            };
            let mut downs = Vec::new();
            for (l, id) in LINES.iter().enumerate() {
                let d = budget::line_downtime(&pool, id, p.span(), terms)
                    .await
                    .unwrap();
                let got = hours(linkledger_core::budget::secs(
                    linkledger_core::budget::total(&d.charged),
                ));
                prop_assert_eq!(got, of(Some(l), label)[0], "{} {}", id, label);
                downs.push(d);
            }
            let e = linkledger_core::budget::Downtime::of_egress(&downs);
            let got = hours(linkledger_core::budget::secs(
                linkledger_core::budget::total(&e.charged),
            ));
            prop_assert_eq!(got, of(None, label)[0], "egress {}", label);
        }

        // The assessments' hours over the cap, per line and contract year,
        // summed over every half.
        let mut over: BTreeMap<(String, i32), u64> = BTreeMap::new();
        for label in labels.iter().filter(|l| l.contains('H')) {
            let p = Period::half(label, tz).unwrap();
            let f = linkledger_report::figures::period_figures(&pool, &config, &p, None, now)
                .await
                .unwrap();
            let a = linkledger_report::assessment::assess(&f, &config);
            for b in a
                .breaches
                .iter()
                .filter(|b| b.kind == linkledger_config::report::BreachKind::DowntimeOverCap)
            {
                let n: i32 = b
                    .note
                    .as_deref()
                    .unwrap()
                    .strip_prefix("year:")
                    .unwrap()
                    .parse()
                    .unwrap();
                *over.entry((b.line.clone(), n)).or_default() += b.units;
            }
        }
        for n in first..=last {
            for (l, id) in LINES.iter().enumerate() {
                let charged = year_charged.get(&(l, n)).copied().unwrap_or(0);
                let want = (charged - CAP_H).max(0) as u64;
                let got = over.get(&(id.to_string(), n)).copied().unwrap_or(0);
                prop_assert_eq!(got, want, "{} year {}: {} h charged", id, n, charged);
            }
        }
        pool.close().await;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn every_figure_agrees_with_an_hour_by_hour_count(c in case()) {
        check(&c)?;
    }
}

/// The reference itself, on a case worked out by hand: a contract from
/// 29 February 2020, whose years begin on 28 February in common years
/// and 29 February in leap years (local midnight, 16:00Z the day before).
#[test]
fn the_reference_years_begin_on_the_anniversary() {
    let start = NaiveDate::from_ymd_opt(2020, 2, 29).unwrap();
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    assert_eq!(year_of(start, d(2024, 2, 28)), 4);
    assert_eq!(year_of(start, d(2024, 2, 29)), 5);
    assert_eq!(year_of(start, d(2025, 2, 27)), 5);
    assert_eq!(year_of(start, d(2025, 2, 28)), 6);
    // The code's year 5 begins at the same instant.
    let y = ContractYear::nth(start, chrono_tz::Asia::Shanghai, 5);
    assert_eq!(
        y.start,
        "2024-02-28T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(local_date(0), d(2024, 1, 1));
    assert_eq!(local_date(15), d(2024, 1, 1));
    assert_eq!(local_date(16), d(2024, 1, 2));
}
