//! A line's traffic over a report's period. A year is 105 120 five-minute
//! samples a line, too many to read row by row for every report, so the
//! daemon packs each finished local day into one `traffic_days` row
//! ([`roll_up_days`]); a report unpacks those and reads any day not packed
//! yet straight from `traffic_samples`. Either way it gets the same samples
//! and sums them with [`crate::traffic::summarize`], the code behind
//! `linkledger traffic`, so the two always agree.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use sqlx::{Row, SqlitePool};

use super::figures::{Anomaly, TrafficPoint};
use crate::budget::Span;
use crate::clock::{ledger_ts, parse_ledger_ts};
use crate::ledger::read::traffic_samples;
use crate::ledger::{query_err, LedgerError};
use crate::traffic::{summarize, TrafficSample, TrafficSummary};

const FIELDS: usize = 6;

/// Packs one day's samples (see the `traffic_days` schema).
pub fn pack(day_start: DateTime<Utc>, samples: &[TrafficSample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * FIELDS * 8);
    for s in samples {
        let offset = (s.start - day_start).num_milliseconds() as f64;
        for v in [
            offset,
            s.seconds,
            s.avg_in_bps,
            s.avg_out_bps,
            s.max_in_bps,
            s.max_out_bps,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Unpacks a day; the error counters are not kept (reports do not use them).
pub fn unpack(line: &str, day_start: DateTime<Utc>, blob: &[u8]) -> Vec<TrafficSample> {
    blob.chunks_exact(FIELDS * 8)
        .map(|c| {
            let f = |i: usize| f64::from_le_bytes(c[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            TrafficSample {
                line: line.to_string(),
                start: day_start + TimeDelta::milliseconds(f(0) as i64),
                seconds: f(1),
                avg_in_bps: f(2),
                avg_out_bps: f(3),
                max_in_bps: f(4),
                max_out_bps: f(5),
                errors: [0; 4],
            }
        })
        .collect()
}

/// A line's samples in the local `days` (the last may be cut short).
pub async fn samples(
    pool: &SqlitePool,
    line: &str,
    days: &[(NaiveDate, Span)],
) -> Result<Vec<TrafficSample>, LedgerError> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query("SELECT day_start, day_end, rates FROM traffic_days WHERE line = ? AND day_start >= ? AND day_start < ?")
        .bind(line)
        .bind(ledger_ts(first.1 .0))
        .bind(ledger_ts(last.1 .1))
        .fetch_all(pool)
        .await
        .map_err(query_err("read traffic days"))?;
    let mut packed: std::collections::HashMap<(String, String), Vec<u8>> = rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let mut out = Vec::new();
    for (_, span) in days {
        match packed.remove(&(ledger_ts(span.0), ledger_ts(span.1))) {
            Some(blob) => out.extend(unpack(line, span.0, &blob)),
            None => out.extend(traffic_samples(pool, line, span.0, span.1).await?),
        }
    }
    Ok(out)
}

/// Packs every local day that ended [`super::quality::ROLL_UP_SETTLE`]
/// before `now`, from a line's first sample on, that has no
/// `traffic_days` row yet (an empty one for a day without samples).
pub async fn roll_up_days(
    pool: &SqlitePool,
    lines: &[String],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<usize, LedgerError> {
    let settled = now - super::quality::ROLL_UP_SETTLE;
    let mut written = 0;
    for line in lines {
        let bounds: (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT max(day_end) FROM traffic_days WHERE line = ?1), (SELECT min(start_at) FROM traffic_samples WHERE line = ?1)",
        )
        .bind(line)
        .fetch_one(pool)
        .await
        .map_err(query_err("read traffic days"))?;
        let Some(from) = bounds.0.or(bounds.1).as_deref().and_then(parse_ledger_ts) else {
            continue;
        };
        for (start, end) in super::quality::finished_days(from, tz, settled) {
            let s = traffic_samples(pool, line, start, end).await?;
            sqlx::query(
                "INSERT OR IGNORE INTO traffic_days (line, day_start, day_end, samples, rates) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(line)
            .bind(ledger_ts(start))
            .bind(ledger_ts(end))
            .bind(s.len() as i64)
            .bind(pack(start, &s))
            .execute(pool)
            .await
            .map_err(query_err("write traffic days"))?;
            written += 1;
        }
    }
    Ok(written)
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
    fn a_packed_day_unpacks_to_the_same_samples() {
        let day = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let samples: Vec<_> = (0..288)
            .map(|i| TrafficSample {
                start: day + TimeDelta::minutes(5 * i),
                ..s(0, 1e6 + i as f64 * 12345.678)
            })
            .collect();
        assert_eq!(unpack("l", day, &pack(day, &samples)), samples);
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
