//! A line's traffic over a report's period, summed inside SQLite: a year
//! of 5-minute samples is 105 120 rows a line, too many to carry out one
//! by one. The figures follow [`crate::traffic::summarize`] exactly (time-
//! weighted average, highest polled rate, 95th percentile by the billing
//! convention: drop the top 5 % rounded down, take the next);
//! `tests/reports.rs` checks the two agree.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Row, SqlitePool};

use super::figures::{Anomaly, TrafficPoint};
use crate::budget::Span;
use crate::clock::ledger_ts;
use crate::ledger::read::ts;
use crate::ledger::LedgerError;
use crate::traffic::{DirectionSummary, TrafficSample, TrafficSummary};

const WHERE: &str = "FROM traffic_samples WHERE line = ?1 AND start_at >= ?2 AND start_at < ?3";

fn err(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LedgerError {
    move |source| LedgerError::Query { operation, source }
}

/// The sample at `offset` when ordered by `column` (`order` ASC or DESC).
async fn nth(
    pool: &SqlitePool,
    line: &str,
    p: Span,
    column: &str,
    order: &str,
    offset: i64,
) -> Result<f64, LedgerError> {
    let v: Option<f64> = sqlx::query_scalar(&format!(
        "SELECT {column} {WHERE} ORDER BY {column} {order} LIMIT 1 OFFSET ?4"
    ))
    .bind(line)
    .bind(ledger_ts(p.0))
    .bind(ledger_ts(p.1))
    .bind(offset)
    .fetch_optional(pool)
    .await
    .map_err(err("read traffic percentiles"))?;
    Ok(v.unwrap_or(0.0))
}

/// Everything a report shows of a line's traffic in `p`; None without samples.
pub struct TrafficFigures {
    pub summary: TrafficSummary,
    pub hourly: Vec<TrafficPoint>,
    /// Saturation and surge episodes (their `faults` still empty).
    pub anomalies: Vec<Anomaly>,
}

pub async fn traffic_figures(
    pool: &SqlitePool,
    line: &str,
    p: Span,
    contracted_bps: f64,
    advice_share: f64,
) -> Result<Option<TrafficFigures>, LedgerError> {
    let (from, to) = (ledger_ts(p.0), ledger_ts(p.1));
    let row = sqlx::query(&format!(
        "SELECT count(*), total(seconds_covered), total(avg_in_bps * seconds_covered), total(avg_out_bps * seconds_covered), \
         max(max_in_bps), max(max_out_bps) {WHERE}"
    ))
    .bind(line)
    .bind(&from)
    .bind(&to)
    .fetch_one(pool)
    .await
    .map_err(err("read traffic totals"))?;
    let n: i64 = row.get(0);
    if n == 0 {
        return Ok(None);
    }
    let secs: f64 = row.get(1);
    let top = n * 5 / 100;
    let mut dirs = Vec::new();
    for (column, weighted, max) in [("avg_in_bps", 2, 4), ("avg_out_bps", 3, 5)] {
        let p95 = nth(pool, line, p, column, "DESC", top).await?;
        dirs.push(DirectionSummary {
            avg_bps: if secs > 0.0 {
                row.get::<f64, _>(weighted) / secs
            } else {
                0.0
            },
            max_bps: row.get::<Option<f64>, _>(max).unwrap_or(0.0).max(0.0),
            p95_bps: p95,
            p95_utilization: p95 / contracted_bps,
        });
    }
    let (outbound, inbound) = (dirs.pop().expect("two"), dirs.pop().expect("two"));
    // The same verdicts as summarize(), from the same figures.
    let summary = crate::traffic::summary_of(
        line,
        contracted_bps,
        n as usize,
        secs,
        inbound,
        outbound,
        advice_share,
    );
    let rows = sqlx::query(&format!(
        "SELECT substr(start_at, 1, 13), total(avg_in_bps * seconds_covered) / total(seconds_covered), \
         total(avg_out_bps * seconds_covered) / total(seconds_covered) {WHERE} AND seconds_covered > 0 GROUP BY 1 ORDER BY 1"
    ))
    .bind(line)
    .bind(&from)
    .bind(&to)
    .fetch_all(pool)
    .await
    .map_err(err("read hourly traffic"))?;
    let hourly = rows
        .iter()
        .filter_map(|r| {
            let at: DateTime<Utc> = format!("{}:00:00Z", r.get::<&str, _>(0)).parse().ok()?;
            Some(TrafficPoint {
                at,
                in_bps: r.get(1),
                out_bps: r.get(2),
            })
        })
        .collect();
    let median_in = nth(pool, line, p, "avg_in_bps", "ASC", n / 2).await?;
    let median_out = nth(pool, line, p, "avg_out_bps", "ASC", n / 2).await?;
    let rows = sqlx::query(&format!(
        "SELECT start_at, seconds_covered, avg_in_bps, avg_out_bps, max_in_bps, max_out_bps {WHERE} \
         AND (avg_in_bps >= ?4 OR avg_out_bps >= ?4 OR (avg_in_bps > ?5 AND avg_in_bps > ?6) OR (avg_out_bps > ?7 AND avg_out_bps > ?6)) \
         ORDER BY start_at"
    ))
    .bind(line)
    .bind(&from)
    .bind(&to)
    .bind(SATURATION * contracted_bps)
    .bind(SURGE * median_in)
    .bind(SURGE_FLOOR * contracted_bps)
    .bind(SURGE * median_out)
    .fetch_all(pool)
    .await
    .map_err(err("read traffic anomalies"))?;
    let flagged: Vec<TrafficSample> = rows
        .iter()
        .filter_map(|r| {
            Some(TrafficSample {
                line: line.to_string(),
                start: ts(r, 0)?,
                seconds: r.get(1),
                avg_in_bps: r.get(2),
                avg_out_bps: r.get(3),
                max_in_bps: r.get(4),
                max_out_bps: r.get(5),
                errors: [0; 4],
            })
        })
        .collect();
    let anomalies = episodes(&flagged, contracted_bps, median_in, median_out);
    Ok(Some(TrafficFigures {
        summary,
        hourly,
        anomalies,
    }))
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
