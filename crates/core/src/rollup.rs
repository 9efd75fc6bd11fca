//! Per-minute rollups of one target's probes, for the ledger: sent,
//! received, RTT min/max/sum, jitter, and a sparse log-scale RTT histogram
//! from which percentiles can be computed later (bucket width 25 %).

use std::time::Duration;

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::budget::Span;

/// One target's probes over one minute.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MinuteRow {
    pub line: String,
    #[serde(deserialize_with = "crate::intern::static_str")]
    pub tier: crate::intern::Static,
    pub target: String,
    pub minute: DateTime<Utc>,
    pub sent: u32,
    pub received: u32,
    pub rtt_min_us: Option<u64>,
    pub rtt_max_us: Option<u64>,
    pub rtt_sum_us: u64,
    pub jitter_sum_us: u64,
    pub jitter_n: u32,
    pub rtt_hist: String,
}

/// RTT histogram bucket of a round-trip time in microseconds.
pub fn rtt_bucket(rtt_us: u64) -> u8 {
    if rtt_us <= 50 {
        return 0;
    }
    ((rtt_us as f64 / 50.0).ln() / 1.25f64.ln())
        .floor()
        .clamp(0.0, 80.0) as u8
}

/// The minute a round's timestamp falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// One target's current minute.
#[derive(Debug, Default)]
pub struct MinuteRollup {
    minute: Option<DateTime<Utc>>,
    sent: u32,
    received: u32,
    min: Option<u64>,
    max: Option<u64>,
    sum: u64,
    jitter_sum: u64,
    jitter_n: u32,
    last_rtt: Option<u64>,
    hist: Vec<(u8, u32)>,
}

impl MinuteRollup {
    /// Records one probe of the round in `minute` (see [`minute_of`]). When
    /// that is a new minute, the finished previous minute is returned.
    pub fn record(
        &mut self,
        minute: DateTime<Utc>,
        rtt: Option<Duration>,
        key: (&str, &'static str, &str),
    ) -> Option<MinuteRow> {
        let done = match self.minute {
            Some(m) if m != minute => self.take(key),
            _ => None,
        };
        self.minute = Some(minute);
        self.sent += 1;
        if let Some(rtt) = rtt {
            let us = rtt.as_micros() as u64;
            self.received += 1;
            self.min = Some(self.min.map_or(us, |m| m.min(us)));
            self.max = Some(self.max.map_or(us, |m| m.max(us)));
            self.sum += us;
            if let Some(last) = self.last_rtt {
                self.jitter_sum += last.abs_diff(us);
                self.jitter_n += 1;
            }
            self.last_rtt = Some(us);
            let b = rtt_bucket(us);
            match self.hist.iter_mut().find(|(k, _)| *k == b) {
                Some((_, n)) => *n += 1,
                None => self.hist.push((b, 1)),
            }
        }
        done
    }

    /// The minute so far, if any probe was recorded, and a fresh start.
    pub fn take(&mut self, key: (&str, &'static str, &str)) -> Option<MinuteRow> {
        let minute = self.minute?;
        let mut hist = std::mem::take(&mut self.hist);
        hist.sort_unstable();
        let row = MinuteRow {
            line: key.0.to_string(),
            tier: key.1,
            target: key.2.to_string(),
            minute,
            sent: self.sent,
            received: self.received,
            rtt_min_us: self.min,
            rtt_max_us: self.max,
            rtt_sum_us: self.sum,
            jitter_sum_us: self.jitter_sum,
            jitter_n: self.jitter_n,
            rtt_hist: hist
                .iter()
                .map(|(b, n)| format!("{b}:{n}"))
                .collect::<Vec<_>>()
                .join(","),
        };
        *self = Self {
            last_rtt: self.last_rtt,
            ..Self::default()
        };
        Some(row)
    }
}

// Probe quality over days and months, for reports.

/// Sums of probe results over some time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualitySum {
    pub minutes: i64,
    /// Minutes with probes left out: inside an outage, a local fault or
    /// unobserved time of the line.
    pub excluded_minutes: i64,
    pub sent: i64,
    pub received: i64,
    pub rtt_sum_us: i64,
    pub jitter_sum_us: i64,
    pub jitter_n: i64,
    /// Count per RTT bucket (bucket b: [50 µs·1.25^b, 50 µs·1.25^(b+1))).
    pub hist: BTreeMap<u8, i64>,
}

/// What a report shows of a [`QualitySum`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QualityFigures {
    /// Minutes left out (inside outages, local faults, unobserved time).
    pub excluded_minutes: i64,
    pub sent: i64,
    pub received: i64,
    pub loss_ratio: Option<f64>,
    pub rtt_avg_ms: Option<f64>,
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p95_ms: Option<f64>,
    pub rtt_p99_ms: Option<f64>,
    pub jitter_avg_ms: Option<f64>,
}

impl QualitySum {
    pub fn add_hist(&mut self, text: &str) {
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            if let Some((b, n)) = pair.split_once(':') {
                if let (Ok(b), Ok(n)) = (b.parse::<u8>(), n.parse::<i64>()) {
                    *self.hist.entry(b).or_default() += n;
                }
            }
        }
    }

    pub fn add(&mut self, o: &QualitySum) {
        self.minutes += o.minutes;
        self.excluded_minutes += o.excluded_minutes;
        self.sent += o.sent;
        self.received += o.received;
        self.rtt_sum_us += o.rtt_sum_us;
        self.jitter_sum_us += o.jitter_sum_us;
        self.jitter_n += o.jitter_n;
        for (b, n) in &o.hist {
            *self.hist.entry(*b).or_default() += n;
        }
    }

    /// The histogram as the ledger keeps it: `bucket:count,…`.
    pub fn hist_text(&self) -> String {
        self.hist
            .iter()
            .map(|(b, n)| format!("{b}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The RTT below which a share `q` of the answered probes fell: the
    /// geometric middle of the bucket holding it (within ±12 %).
    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        let total: i64 = self.hist.values().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (b, n) in &self.hist {
            seen += n;
            if seen >= rank {
                return Some(bucket_middle_ms(*b));
            }
        }
        None
    }

    pub fn figures(&self) -> QualityFigures {
        let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
        QualityFigures {
            excluded_minutes: self.excluded_minutes,
            sent: self.sent,
            received: self.received,
            loss_ratio: ratio(self.sent - self.received, self.sent),
            rtt_avg_ms: ratio(self.rtt_sum_us, self.received).map(|v| v / 1000.0),
            rtt_p50_ms: self.percentile_ms(0.50),
            rtt_p95_ms: self.percentile_ms(0.95),
            rtt_p99_ms: self.percentile_ms(0.99),
            jitter_avg_ms: ratio(self.jitter_sum_us, self.jitter_n).map(|v| v / 1000.0),
        }
    }
}

/// The geometric middle of RTT bucket `b`, in milliseconds.
pub fn bucket_middle_ms(b: u8) -> f64 {
    0.05 * 1.25f64.powf(b as f64 + 0.5)
}

/// A day is rolled up this long after it ends, when every row of it has
/// long been written (minutes at the minute, traffic samples at the first
/// SNMP poll after their five minutes). Reports read a day that is not
/// rolled up yet from the rows themselves, so nothing waits on this.
pub const ROLL_UP_SETTLE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The local days from the one containing `from` that ended by `settled`,
/// as UTC spans: what a daily roll-up still has to do.
pub fn finished_days(from: DateTime<Utc>, tz: Tz, settled: DateTime<Utc>) -> Vec<Span> {
    let mut out = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive();
    loop {
        let next = day.succ_opt().expect("in range");
        let span = (
            crate::contract::local_midnight(tz, day),
            crate::contract::local_midnight(tz, next),
        );
        if span.1 > settled {
            return out;
        }
        out.push(span);
        day = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_is_summed_and_handed_over_when_the_next_begins() {
        let mut r = MinuteRollup::default();
        let t0: DateTime<Utc> = "2026-01-01T00:00:10Z".parse().unwrap();
        let key = ("telecom", "upstream", "198.19.100.1");
        assert!(r
            .record(minute_of(t0), Some(Duration::from_millis(10)), key)
            .is_none());
        assert!(r
            .record(minute_of(t0 + TimeDelta::seconds(1)), None, key)
            .is_none());
        assert!(r
            .record(
                minute_of(t0 + TimeDelta::seconds(2)),
                Some(Duration::from_millis(14)),
                key
            )
            .is_none());
        let row = r
            .record(
                minute_of(t0 + TimeDelta::seconds(50)),
                Some(Duration::from_millis(12)),
                key,
            )
            .unwrap();
        assert_eq!(
            row.minute,
            "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!((row.sent, row.received), (3, 2));
        assert_eq!(
            (row.rtt_min_us, row.rtt_max_us, row.rtt_sum_us),
            (Some(10_000), Some(14_000), 24_000)
        );
        assert_eq!((row.jitter_sum_us, row.jitter_n), (4_000, 1));
        assert_eq!(
            row.rtt_hist,
            format!("{}:1,{}:1", rtt_bucket(10_000), rtt_bucket(14_000))
        );
    }

    #[test]
    fn buckets_are_monotonic_and_25_percent_wide() {
        assert_eq!(rtt_bucket(10), 0);
        assert_eq!(rtt_bucket(62), 0);
        assert_eq!(rtt_bucket(63), 1);
        assert!(rtt_bucket(1_000_000) > rtt_bucket(100_000));
    }
}

#[cfg(test)]
mod quality_sum_tests {
    use super::*;

    #[test]
    fn finished_days_are_local_days_that_have_ended() {
        let tz = chrono_tz::Asia::Shanghai;
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // From 10:00 local on 1 March to 00:30 local on 3 March: two days.
        let d = finished_days(t("2025-03-01T02:00:00Z"), tz, t("2025-03-02T16:30:00Z"));
        assert_eq!(
            d,
            vec![
                (t("2025-02-28T16:00:00Z"), t("2025-03-01T16:00:00Z")),
                (t("2025-03-01T16:00:00Z"), t("2025-03-02T16:00:00Z"))
            ]
        );
        assert!(finished_days(t("2025-03-02T17:00:00Z"), tz, t("2025-03-02T18:00:00Z")).is_empty());
    }

    #[test]
    fn percentiles_come_from_the_histogram_bucket_holding_the_rank() {
        let mut s = QualitySum::default();
        // 90 probes in bucket 20 (~4.3 ms), 10 in bucket 30 (~40 ms).
        s.add_hist("20:90,30:10");
        assert_eq!(s.percentile_ms(0.5), Some(bucket_middle_ms(20)));
        assert_eq!(s.percentile_ms(0.90), Some(bucket_middle_ms(20)));
        assert_eq!(s.percentile_ms(0.95), Some(bucket_middle_ms(30)));
        let m = bucket_middle_ms(20);
        assert!(m > 0.05 * 1.25f64.powi(20) && m < 0.05 * 1.25f64.powi(21));
        assert_eq!(QualitySum::default().percentile_ms(0.95), None);
    }
}
