//! What a report shows of a line's traffic over its period: the hourly
//! series, the busiest samples and the episodes above the contracted rate.
//! The samples come from the ledger's day roll-ups
//! (`linkledger_ledger::day_rollups`), summed with
//! [`linkledger_core::traffic::summarize`], the code behind `linkledger traffic`, so
//! the two always agree.

use chrono::{DateTime, TimeDelta, Utc};

use linkledger_core::traffic::{summarize, TrafficSample, TrafficSummary};
use serde::Serialize;

/// A traffic anomaly: 5-minute samples running at the contracted
/// bandwidth, or far above the period's usual level (a flood).
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// saturation | surge
    pub kind: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub peak_bps: f64,
    /// in | out
    pub direction: &'static str,
    /// Faults open at the same time.
    pub faults: Vec<i64>,
}

/// Hourly traffic, for the chart.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficPoint {
    pub at: DateTime<Utc>,
    pub in_bps: f64,
    pub out_bps: f64,
}

/// Everything a report shows of a line's traffic; None without samples.
pub struct TrafficFigures {
    pub summary: TrafficSummary,
    pub hourly: Vec<TrafficPoint>,
    /// Saturation and surge episodes (their `faults` still empty).
    pub anomalies: Vec<Anomaly>,
}

pub fn figures(
    line: &str,
    samples: &[TrafficSample],
    contracted_bps: f64,
    advice_share: f64,
) -> Option<TrafficFigures> {
    if samples.is_empty() {
        return None;
    }
    let summary = summarize(line, samples, contracted_bps, advice_share);
    let median = |f: fn(&TrafficSample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (median_in, median_out) = (median(|s| s.avg_in_bps), median(|s| s.avg_out_bps));
    let flagged: Vec<TrafficSample> = samples
        .iter()
        .filter(|s| {
            let hot = |v: f64, m: f64| {
                v >= SATURATION * contracted_bps
                    || (v > SURGE * m && v > SURGE_FLOOR * contracted_bps)
            };
            hot(s.avg_in_bps, median_in) || hot(s.avg_out_bps, median_out)
        })
        .cloned()
        .collect();
    let mut hourly: Vec<(DateTime<Utc>, f64, f64, f64)> = Vec::new();
    for s in samples.iter().filter(|s| s.seconds > 0.0) {
        let hour = s.start - TimeDelta::seconds(s.start.timestamp().rem_euclid(3600));
        match hourly.last_mut() {
            Some(h) if h.0 == hour => {
                h.1 += s.avg_in_bps * s.seconds;
                h.2 += s.avg_out_bps * s.seconds;
                h.3 += s.seconds;
            }
            _ => hourly.push((
                hour,
                s.avg_in_bps * s.seconds,
                s.avg_out_bps * s.seconds,
                s.seconds,
            )),
        }
    }
    Some(TrafficFigures {
        summary,
        hourly: hourly
            .into_iter()
            .map(|(at, i, o, n)| TrafficPoint {
                at,
                in_bps: i / n,
                out_bps: o / n,
            })
            .collect(),
        anomalies: episodes(&flagged, contracted_bps, median_in, median_out),
    })
}

/// A sample at this share of the contracted bandwidth is saturated.
pub const SATURATION: f64 = 0.95;
/// A sample this many times the period's median is a surge …
pub const SURGE: f64 = 5.0;
/// … when it is also above this share of the contracted bandwidth.
pub const SURGE_FLOOR: f64 = 0.1;

/// Groups flagged samples into episodes: consecutive samples of the same
/// kind and direction (no more than a minute apart) are one anomaly.
pub fn episodes(
    samples: &[TrafficSample],
    contracted_bps: f64,
    median_in: f64,
    median_out: f64,
) -> Vec<Anomaly> {
    type Get = fn(&TrafficSample) -> f64;
    let mut out: Vec<Anomaly> = Vec::new();
    let dirs: [(&'static str, Get, Get, f64); 2] = [
        ("in", |s| s.avg_in_bps, |s| s.max_in_bps, median_in),
        ("out", |s| s.avg_out_bps, |s| s.max_out_bps, median_out),
    ];
    for (direction, avg, max, median) in dirs {
        let mut open: Option<Anomaly> = None;
        for s in samples {
            let end = s.start + TimeDelta::milliseconds((s.seconds * 1000.0) as i64);
            let kind = if contracted_bps > 0.0 && avg(s) >= SATURATION * contracted_bps {
                Some("saturation")
            } else if avg(s) > SURGE * median && avg(s) > SURGE_FLOOR * contracted_bps {
                Some("surge")
            } else {
                None
            };
            match (kind, open.as_mut()) {
                (Some(k), Some(a)) if a.kind == k && s.start <= a.end + TimeDelta::minutes(1) => {
                    a.end = end;
                    a.peak_bps = a.peak_bps.max(max(s));
                }
                (k, _) => {
                    out.extend(open.take());
                    open = k.map(|kind| Anomaly {
                        kind,
                        start: s.start,
                        end,
                        peak_bps: max(s),
                        direction,
                        faults: Vec::new(),
                    });
                }
            }
        }
        out.extend(open);
    }
    out.sort_by_key(|a| a.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(minute: i64, avg_in: f64) -> TrafficSample {
        TrafficSample {
            line: "l".into(),
            start: DateTime::from_timestamp(minute * 60, 0).unwrap(),
            seconds: 300.0,
            avg_in_bps: avg_in,
            avg_out_bps: 1e6,
            max_in_bps: avg_in * 1.2,
            max_out_bps: 1e6,
            errors: [0; 4],
        }
    }

    #[test]
    fn consecutive_flagged_samples_are_one_episode() {
        // 100 Mbit/s contract, median 10: two saturated samples back to
        // back, a gap, then a surge (60 > 5 × 10 and > 10 % of 100).
        let flagged = [s(0, 96e6), s(5, 99e6), s(30, 60e6)];
        let e = episodes(&flagged, 100e6, 10e6, 1e6);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].kind, e[0].direction), ("saturation", "in"));
        assert_eq!(e[0].end, DateTime::from_timestamp(10 * 60, 0).unwrap());
        assert!((e[0].peak_bps - 99e6 * 1.2).abs() < 1.0);
        assert_eq!(e[1].kind, "surge");
        // Below both thresholds: nothing.
        assert!(episodes(&[s(0, 40e6)], 100e6, 10e6, 1e6).is_empty());
    }
}
