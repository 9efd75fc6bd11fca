//! Degradation windows: loss, RTT and utilisation with synthetic rounds.
use super::*;
use crate::terms::Terms;

fn at(s: i64) -> Ts {
    "2026-01-01T00:00:00Z".parse::<Ts>().unwrap() + TimeDelta::seconds(s)
}

fn rtt(ms: u64) -> Option<Option<Duration>> {
    Some(Some(Duration::from_millis(ms)))
}

fn quality(rtt_threshold: Option<u64>) -> LineQuality {
    let d = Terms::default().degradation;
    LineQuality::new(
        &d,
        rtt_threshold.map(Duration::from_millis),
        Duration::from_secs(1),
        2,
    )
}

#[test]
fn loss_over_5_percent_for_5_minutes_starts_at_the_window_and_ends_when_it_clears() {
    let mut q = quality(None);
    let mut changes = Vec::new();
    // 10 minutes with one round in ten lost on both anchors (10 %).
    for s in 0..600 {
        let r = if s % 10 == 0 { Some(None) } else { rtt(5) };
        changes.extend(q.observe(at(s), &[r, r]));
    }
    // Then clean.
    for s in 600..1200 {
        changes.extend(q.observe(at(s), &[rtt(5), rtt(5)]));
    }
    assert_eq!(changes.len(), 2, "{changes:?}");
    let QualityChange::Started {
        kind,
        start,
        detail,
    } = &changes[0]
    else {
        panic!()
    };
    assert_eq!(*kind, "loss");
    // First judged with 80 % of the window (241 rounds) at s=240:
    // the window's first round.
    assert_eq!(*start, at(0));
    assert!(
        detail.starts_with("loss 10.") && detail.contains("over 5 min (threshold 5.0 %)"),
        "{detail}"
    );
    let QualityChange::Ended { end, .. } = &changes[1] else {
        panic!()
    };
    // The window's loss falls under 5 % once half of it is clean.
    assert!(*end > at(740) && *end <= at(760), "{end}");
}

#[test]
fn a_long_gap_starts_the_window_afresh() {
    let mut q = quality(None);
    let lossy = |s: i64| if s % 10 == 0 { Some(None) } else { rtt(5) };
    let mut changes: Vec<_> = (0..300)
        .flat_map(|s| q.observe(at(s), &[lossy(s), lossy(s)]))
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    // 20 minutes without rounds (an outage), then clean rounds: the old
    // lossy buckets are not reused, and the end waits for a covered window.
    changes.clear();
    for s in 1500..1800 {
        changes.extend(q.observe(at(s), &[rtt(5), rtt(5)]));
    }
    assert_eq!(changes.len(), 1, "{changes:?}");
    let QualityChange::Ended { end, .. } = &changes[0] else {
        panic!("{changes:?}")
    };
    assert!(*end >= at(1500 + 230) && *end <= at(1500 + 260), "{end}");
}

#[test]
fn a_reload_keeps_the_window_and_an_open_degradation() {
    let mut q = quality(None);
    let lossy = |s: i64| if s % 10 == 0 { Some(None) } else { rtt(5) };
    let first: Vec<_> = (0..300)
        .flat_map(|s| q.observe(at(s), &[lossy(s), lossy(s)]))
        .collect();
    assert_eq!(first.len(), 1);
    assert!(q.reconfigure(quality(None), at(300)).is_empty());
    assert_eq!(q.active(), ["loss"]);
    let more: Vec<_> = (300..400)
        .flat_map(|s| q.observe(at(s), &[lossy(s), lossy(s)]))
        .collect();
    assert!(more.is_empty(), "still degraded, nothing new: {more:?}");
}

#[test]
fn a_degradation_starts_with_its_first_bad_round_not_the_window() {
    let mut q = quality(None);
    // Clean for 3 minutes, then one round in five lost (from s = 185).
    let r = |s: i64| {
        if s >= 183 && s % 5 == 0 {
            Some(None)
        } else {
            rtt(5)
        }
    };
    let changes: Vec<_> = (0..600)
        .flat_map(|s| q.observe(at(s), &[r(s), r(s)]))
        .collect();
    let Some(QualityChange::Started { start, .. }) = changes.first() else {
        panic!("{changes:?}")
    };
    // To the 10-second bucket: the first round of the bucket holding s = 185.
    assert_eq!(*start, at(180));
}

#[test]
fn one_dead_anchor_is_not_the_carriers_loss() {
    let mut q = quality(None);
    let changes: Vec<_> = (0..900)
        .flat_map(|s| q.observe(at(s), &[Some(None), rtt(5)]))
        .collect();
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn light_loss_and_short_bursts_are_not_degradation() {
    let mut q = quality(None);
    // 4 % loss throughout.
    let changes: Vec<_> = (0..900)
        .flat_map(|s| {
            let r = if s % 25 == 0 { Some(None) } else { rtt(5) };
            q.observe(at(s), &[r, r])
        })
        .collect();
    assert!(changes.is_empty(), "{changes:?}");
    // A 10-second burst of total loss (3.3 % of the window).
    let mut q = quality(None);
    let changes: Vec<_> = (0..900)
        .flat_map(|s| {
            let r = if (300..310).contains(&s) {
                Some(None)
            } else {
                rtt(5)
            };
            q.observe(at(s), &[r, r])
        })
        .collect();
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn rtt_p95_over_the_lines_threshold() {
    let mut q = quality(Some(50));
    let mut changes = Vec::new();
    for s in 0..600 {
        // One round in 25 at 80 ms (4 %): the 95th percentile stays at 20 ms.
        let ms = if s % 25 == 0 { 80 } else { 20 };
        changes.extend(q.observe(at(s), &[rtt(ms), rtt(ms)]));
    }
    assert!(changes.is_empty(), "{changes:?}");
    let mut q = quality(Some(50));
    let changes: Vec<_> = (0..600)
        .flat_map(|s| q.observe(at(s), &[rtt(60 + (s % 3) as u64), rtt(70)]))
        .collect();
    assert_eq!(changes.len(), 1);
    assert!(
        matches!(&changes[0], QualityChange::Started { kind: "rtt", detail, .. }
            if detail.starts_with("RTT at or over 50.0 ms in 100.0 % of answered probes over 5 min")),
        "{changes:?}"
    );
    // One round in 16 at 80 ms (6.25 %): the 95th percentile is 80 ms.
    let mut q = quality(Some(50));
    let changes: Vec<_> = (0..600)
        .flat_map(|s| {
            let ms = if s % 16 == 0 { 80 } else { 20 };
            q.observe(at(s), &[rtt(ms), rtt(ms)])
        })
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let mut q = quality(None);
    let none: Vec<_> = (0..600)
        .flat_map(|s| q.observe(at(s), &[rtt(500), rtt(500)]))
        .collect();
    assert!(none.is_empty(), "no threshold, no RTT degradation");
}

#[test]
fn utilisation_over_90_percent_for_15_minutes() {
    let d = Terms::default().degradation;
    let mut u = Utilisation::new(&d);
    let mut changes = Vec::new();
    for k in 0..180 {
        // Every 10 s: 95 % inbound for 20 minutes, then 50 %.
        let ratio = if k < 120 { 0.95 } else { 0.5 };
        changes.extend(u.observe(at(10 * k), 10.0, ratio, 0.1));
    }
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(matches!(
        &changes[0],
        QualityChange::Started {
            kind: "utilisation",
            ..
        }
    ));
    let mut u = Utilisation::new(&d);
    let short: Vec<_> = (0..180)
        .filter_map(|k| u.observe(at(10 * k), 10.0, if k % 3 == 0 { 0.99 } else { 0.8 }, 0.0))
        .collect();
    assert!(
        short.is_empty(),
        "an average under 90 % is not degradation: {short:?}"
    );
}
