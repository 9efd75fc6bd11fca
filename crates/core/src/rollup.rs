//! Per-minute rollups of one target's probes, for the ledger: sent,
//! received, RTT min/max/sum, jitter, and a sparse log-scale RTT histogram
//! from which percentiles can be computed later (bucket width 25 %).

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// One target's probes over one minute.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteRow {
    pub line: String,
    pub tier: &'static str,
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
