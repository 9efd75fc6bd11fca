//! The downtime budget as interval arithmetic: what is charged to the
//! carrier in a period, what is excluded and why, what was not observed,
//! how fast the budget burns and when it would run out. Pure: spans and
//! times are arguments, so overlapping outages, exclusions and maintenance
//! windows are never counted twice and a period boundary splits exactly.
//!
//! Charged = ((outages − unobserved) ∪ (agreed ∩ unobserved))
//!           − (force majeure ∪ excluded maintenance).
//! Unobserved time is never charged, unless both sides agreed it was down
//! (an agreed outage, with its evidence); unobserved time with the line
//! down on both sides of it and no agreement is disputed: shown, not charged.
//! Maintenance is excluded only when it was approved (notice in time and
//! consent) and the contract does not count approved maintenance
//! (`approved_maintenance_counts = false`). The egress is charged where
//! every line is charged at once.

use chrono::{DateTime, TimeDelta, Utc};

pub type Ts = DateTime<Utc>;
pub type Span = (Ts, Ts);

/// Sorted, disjoint spans from any spans (empty ones dropped).
pub fn merge(spans: impl IntoIterator<Item = Span>) -> Vec<Span> {
    let mut v: Vec<Span> = spans.into_iter().filter(|(a, b)| a < b).collect();
    v.sort();
    let mut out: Vec<Span> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `a` without `b` (both merged).
pub fn subtract(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for &(mut s, e) in a {
        for &(bs, be) in b {
            if be <= s || bs >= e {
                continue;
            }
            if bs > s {
                out.push((s, bs));
            }
            s = s.max(be);
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// Where both `a` and `b` hold (both merged).
pub fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (s, e) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if s < e {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Spans clipped to a period.
pub fn clip(spans: &[Span], period: Span) -> Vec<Span> {
    merge(
        spans
            .iter()
            .map(|(a, b)| ((*a).max(period.0), (*b).min(period.1))),
    )
}

pub fn total(spans: &[Span]) -> TimeDelta {
    spans.iter().map(|(a, b)| *b - *a).sum()
}

pub fn secs(d: TimeDelta) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

/// What the ledger holds about one line (any order, overlaps allowed).
#[derive(Debug, Clone, Default)]
pub struct LineRecords {
    pub outages: Vec<Span>,
    pub unobserved: Vec<Span>,
    /// Force-majeure exclusions in force (not withdrawn), the line's own
    /// and the egress's.
    pub force_majeure: Vec<Span>,
    /// Maintenance windows approved under the contract (notice in time,
    /// consented) and not withdrawn.
    pub approved_maintenance: Vec<Span>,
    /// Outages both sides agreed on (a carrier ticket admitting them):
    /// they charge the unobserved time they cover.
    pub agreed: Vec<Span>,
}

/// A line's (or the egress's) downtime in a period, as disjoint spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Downtime {
    /// Outage time that was observed (outages minus unobserved time).
    pub down: Vec<Span>,
    pub charged: Vec<Span>,
    pub excluded_force_majeure: Vec<Span>,
    pub excluded_maintenance: Vec<Span>,
    /// Time nobody knows about: unobserved and not agreed.
    pub unobserved: Vec<Span>,
    /// Unobserved time charged because both sides agreed it was down.
    pub agreed: Vec<Span>,
    /// Unobserved, not agreed, with the line down on both sides of it:
    /// disputed, not charged.
    pub disputed: Vec<Span>,
}

/// The unobserved spans with the line down right before and right after
/// them (an outage reaching each edge).
fn down_on_both_sides(unobserved: &[Span], outages: &[Span]) -> Vec<Span> {
    let down = merge(outages.iter().copied());
    unobserved
        .iter()
        .filter(|(a, b)| {
            let before = down.iter().any(|(s, e)| s < a && e >= a);
            let after = down.iter().any(|(s, e)| s <= b && e > b);
            before && after
        })
        .copied()
        .collect()
}

impl Downtime {
    /// The downtime of one line in `period`.
    pub fn of_line(r: &LineRecords, period: Span, maintenance_counts: bool) -> Self {
        let raw_unobserved = merge(r.unobserved.iter().copied());
        let agreed_all = merge(r.agreed.iter().copied());
        // Disputed spans are judged on whole gaps, then clipped.
        let open_gaps = subtract(&raw_unobserved, &agreed_all);
        let disputed = clip(&down_on_both_sides(&open_gaps, &r.outages), period);
        let unobserved_all = clip(&raw_unobserved, period);
        let agreed = intersect(&unobserved_all, &clip(&agreed_all, period));
        let unobserved = subtract(&unobserved_all, &agreed);
        let down = merge(
            subtract(&clip(&r.outages, period), &unobserved_all)
                .into_iter()
                .chain(agreed.iter().copied()),
        );
        let fm = clip(&r.force_majeure, period);
        let excluded_force_majeure = intersect(&down, &fm);
        let excluded_maintenance = if maintenance_counts {
            Vec::new()
        } else {
            let m = clip(&r.approved_maintenance, period);
            subtract(&intersect(&down, &m), &fm)
        };
        let charged = subtract(
            &subtract(&down, &excluded_force_majeure),
            &excluded_maintenance,
        );
        Self {
            down,
            charged,
            excluded_force_majeure,
            excluded_maintenance,
            unobserved,
            agreed,
            disputed,
        }
    }

    /// The egress: down where every line is down, unobserved where any
    /// line is, charged where every line is charged; what is down and not
    /// charged is excluded, under force majeure where any line's was.
    pub fn of_egress(lines: &[Downtime]) -> Self {
        let Some(first) = lines.first() else {
            return Self::default();
        };
        let unobserved = merge(lines.iter().flat_map(|l| l.unobserved.iter().copied()));
        let mut down = first.down.clone();
        let mut charged = first.charged.clone();
        for l in &lines[1..] {
            down = intersect(&down, &l.down);
            charged = intersect(&charged, &l.charged);
        }
        let excluded = subtract(&down, &charged);
        let fm = merge(
            lines
                .iter()
                .flat_map(|l| l.excluded_force_majeure.iter().copied()),
        );
        let excluded_force_majeure = intersect(&excluded, &fm);
        let excluded_maintenance = subtract(&excluded, &excluded_force_majeure);
        let agreed = intersect(
            &down,
            &merge(lines.iter().flat_map(|l| l.agreed.iter().copied())),
        );
        let mut disputed = first.disputed.clone();
        for l in &lines[1..] {
            disputed = intersect(&disputed, &l.disputed);
        }
        Self {
            down,
            charged,
            excluded_force_majeure,
            excluded_maintenance,
            unobserved,
            agreed,
            disputed,
        }
    }
}

/// How fast the budget burns and when it runs out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    /// Charged seconds per day over the burn window.
    pub rate_s_per_day: f64,
    /// When the cap was crossed (already breached), or would be at the
    /// current rate, if before the end of the contract year.
    pub breach_at: Option<Ts>,
    pub breached: bool,
}

/// `year_charged`: the contract year's charged spans up to `now`;
/// `window_charged`: charged seconds over the burn window of `window`.
pub fn burn(
    year_charged: &[Span],
    cap: TimeDelta,
    window_charged: TimeDelta,
    window: TimeDelta,
    now: Ts,
    year_end: Ts,
) -> Burn {
    let rate = if window > TimeDelta::zero() {
        secs(window_charged) / window.num_milliseconds() as f64 * 1000.0
    } else {
        0.0
    };
    let rate_s_per_day = rate * 86_400.0;
    // Already crossed: the instant the running total reached the cap.
    let mut used = TimeDelta::zero();
    for (a, b) in year_charged {
        let d = *b - *a;
        if used + d > cap {
            return Burn {
                rate_s_per_day,
                breach_at: Some(*a + (cap - used)),
                breached: true,
            };
        }
        used += d;
    }
    let left = secs(cap - used);
    let breach_at = (rate > 0.0)
        .then(|| now + TimeDelta::milliseconds((left / rate * 1000.0).min(1e15) as i64))
        .filter(|t| *t < year_end);
    Burn {
        rate_s_per_day,
        breach_at,
        breached: false,
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
