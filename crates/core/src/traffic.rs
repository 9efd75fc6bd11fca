//! Traffic arithmetic (pure): rates from 64-bit interface counters under the
//! reset rules, and the 95th percentile of 5-minute samples.
//!
//! A sample is discarded — never turned into a rate — when the agent
//! restarted (sysUpTime went back, or SNMPv3 engine boots changed), when a
//! counter went back (reset), or when the rate would exceed the interface
//! speed. Rates resume from the next sample, so a reset never invents a spike.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// One poll of an interface's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterSample {
    /// When it was polled, on the monotonic clock, in milliseconds.
    pub at_ms: u64,
    /// sysUpTime, hundredths of a second.
    pub sys_uptime: u32,
    /// snmpEngineBoots, for v3 agents.
    pub engine_boots: Option<u32>,
    pub in_octets: u64,
    pub out_octets: u64,
    /// Interface speed in bit/s (ifHighSpeed × 10⁶); 0 when unknown.
    pub speed_bps: u64,
}

/// Why a pair of samples gave no rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    AgentRestarted,
    EngineRebooted,
    CounterWentBack,
    AboveInterfaceSpeed,
    NoTimeElapsed,
}

impl Discard {
    pub fn as_str(self) -> &'static str {
        match self {
            Discard::AgentRestarted => "agent_restarted",
            Discard::EngineRebooted => "engine_rebooted",
            Discard::CounterWentBack => "counter_went_back",
            Discard::AboveInterfaceSpeed => "above_interface_speed",
            Discard::NoTimeElapsed => "no_time_elapsed",
        }
    }
}

/// Average rates between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub in_bps: f64,
    pub out_bps: f64,
    pub seconds: f64,
}

/// The rates from `prev` to `cur`, or why there are none.
pub fn rates(prev: &CounterSample, cur: &CounterSample) -> Result<Rates, Discard> {
    if let (Some(a), Some(b)) = (prev.engine_boots, cur.engine_boots) {
        if a != b {
            return Err(Discard::EngineRebooted);
        }
    }
    if cur.sys_uptime < prev.sys_uptime {
        return Err(Discard::AgentRestarted);
    }
    if cur.at_ms <= prev.at_ms {
        return Err(Discard::NoTimeElapsed);
    }
    let (Some(d_in), Some(d_out)) = (
        cur.in_octets.checked_sub(prev.in_octets),
        cur.out_octets.checked_sub(prev.out_octets),
    ) else {
        return Err(Discard::CounterWentBack);
    };
    let seconds = (cur.at_ms - prev.at_ms) as f64 / 1000.0;
    let r = Rates {
        in_bps: d_in as f64 * 8.0 / seconds,
        out_bps: d_out as f64 * 8.0 / seconds,
        seconds,
    };
    let speed = cur.speed_bps.max(prev.speed_bps) as f64;
    if speed > 0.0 && (r.in_bps > speed || r.out_bps > speed) {
        return Err(Discard::AboveInterfaceSpeed);
    }
    Ok(r)
}

/// The 95th percentile by the billing convention: sort the samples, drop
/// the top 5 % (rounded down), take the next. Missing samples (`None`) and
/// NaN are left out: the percentile is of the samples that exist. `None`
/// when there are none.
pub fn percentile_95(samples: &[Option<f64>]) -> Option<f64> {
    let mut present: Vec<f64> = samples
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    if present.is_empty() {
        return None;
    }
    present.sort_by(|a, b| b.total_cmp(a)); // highest first
    let drop = present.len() * 5 / 100;
    Some(present[drop])
}

/// Five minutes of one line's traffic, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrafficSample {
    pub line: String,
    pub start: DateTime<Utc>,
    /// Seconds of the five minutes covered by valid rates.
    pub seconds: f64,
    pub avg_in_bps: f64,
    pub avg_out_bps: f64,
    pub max_in_bps: f64,
    pub max_out_bps: f64,
    /// In errors, out errors, in discards, out discards.
    pub errors: [u64; 4],
}

/// Gathers a line's rates into 5-minute samples (aligned to the clock).
#[derive(Debug, Default)]
pub struct FiveMinutes {
    current: Option<TrafficSample>,
}

fn five_minute_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(5)).unwrap_or(at)
}

impl FiveMinutes {
    /// Adds the rates measured up to `at`; returns the previous sample when
    /// `at` begins a new five minutes.
    pub fn add(
        &mut self,
        line: &str,
        at: DateTime<Utc>,
        r: &Rates,
        errors: [u64; 4],
    ) -> Option<TrafficSample> {
        let start = five_minute_start(at);
        let done = match &self.current {
            Some(c) if c.start != start => self.take(),
            _ => None,
        };
        let c = self.current.get_or_insert_with(|| TrafficSample {
            line: line.to_string(),
            start,
            seconds: 0.0,
            avg_in_bps: 0.0,
            avg_out_bps: 0.0,
            max_in_bps: 0.0,
            max_out_bps: 0.0,
            errors: [0; 4],
        });
        // Running time-weighted averages.
        let total = c.seconds + r.seconds;
        c.avg_in_bps = (c.avg_in_bps * c.seconds + r.in_bps * r.seconds) / total;
        c.avg_out_bps = (c.avg_out_bps * c.seconds + r.out_bps * r.seconds) / total;
        c.seconds = total;
        c.max_in_bps = c.max_in_bps.max(r.in_bps);
        c.max_out_bps = c.max_out_bps.max(r.out_bps);
        for (sum, e) in c.errors.iter_mut().zip(errors) {
            *sum += e;
        }
        done
    }

    /// The sample in progress, if any (at shutdown).
    pub fn take(&mut self) -> Option<TrafficSample> {
        self.current.take()
    }
}

/// One direction of a line over a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DirectionSummary {
    /// Time-weighted average of the 5-minute samples, bit/s.
    pub avg_bps: f64,
    /// Highest polled rate, bit/s.
    pub max_bps: f64,
    /// 95th percentile of the 5-minute averages, bit/s.
    pub p95_bps: f64,
    /// p95 against the contracted bandwidth.
    pub p95_utilization: f64,
}

/// A line's traffic over a period, from its 5-minute samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrafficSummary {
    pub line: String,
    pub contracted_bps: f64,
    pub samples: usize,
    /// Seconds covered by valid rates.
    pub seconds_covered: f64,
    #[serde(rename = "in")]
    pub inbound: DirectionSummary,
    #[serde(rename = "out")]
    pub outbound: DirectionSummary,
    /// "confirmed" when both directions were seen carrying at least 90 % of
    /// the contracted bandwidth; "untested" otherwise (capacity can only be
    /// confirmed by traffic that uses it).
    pub symmetry: &'static str,
    /// Plain-language upgrade advice when a 95th percentile is above the
    /// configured share of the contracted bandwidth.
    pub advice: Option<String>,
}

/// Summarises 5-minute samples; `advice_share` is the share of the
/// contracted bandwidth above which the p95 calls for an upgrade.
pub fn summarize(
    line: &str,
    samples: &[TrafficSample],
    contracted_bps: f64,
    advice_share: f64,
) -> TrafficSummary {
    let direction = |avg: fn(&TrafficSample) -> f64, max: fn(&TrafficSample) -> f64| {
        let secs: f64 = samples.iter().map(|s| s.seconds).sum();
        let weighted: f64 = samples.iter().map(|s| avg(s) * s.seconds).sum();
        let p95 =
            percentile_95(&samples.iter().map(|s| Some(avg(s))).collect::<Vec<_>>()).unwrap_or(0.0);
        DirectionSummary {
            avg_bps: if secs > 0.0 { weighted / secs } else { 0.0 },
            max_bps: samples.iter().map(max).fold(0.0, f64::max),
            p95_bps: p95,
            p95_utilization: p95 / contracted_bps,
        }
    };
    let inbound = direction(|s| s.avg_in_bps, |s| s.max_in_bps);
    let outbound = direction(|s| s.avg_out_bps, |s| s.max_out_bps);
    let symmetry =
        if inbound.max_bps >= 0.9 * contracted_bps && outbound.max_bps >= 0.9 * contracted_bps {
            "confirmed"
        } else {
            "untested"
        };
    let busiest = if inbound.p95_utilization >= outbound.p95_utilization {
        ("inbound", &inbound)
    } else {
        ("outbound", &outbound)
    };
    let advice = (busiest.1.p95_utilization > advice_share).then(|| {
        format!(
            "the 95th percentile of {} traffic is {:.0} % of the contracted {:.0} Mbit/s, above the {:.0} % threshold: consider a bandwidth upgrade",
            busiest.0,
            busiest.1.p95_utilization * 100.0,
            contracted_bps / 1e6,
            advice_share * 100.0
        )
    });
    TrafficSummary {
        line: line.to_string(),
        contracted_bps,
        samples: samples.len(),
        seconds_covered: samples.iter().map(|s| s.seconds).sum(),
        inbound,
        outbound,
        symmetry,
        advice,
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    fn sample(i: i64, avg_in: f64, avg_out: f64) -> TrafficSample {
        TrafficSample {
            line: "telecom".into(),
            start: DateTime::from_timestamp(i * 300, 0).unwrap(),
            seconds: 300.0,
            avg_in_bps: avg_in,
            avg_out_bps: avg_out,
            max_in_bps: avg_in * 1.5,
            max_out_bps: avg_out * 1.5,
            errors: [0; 4],
        }
    }

    #[test]
    fn p95_average_maximum_and_advice_of_a_busy_line() {
        // 100 samples: inbound 1..=100 Mbit/s, outbound a flat 10 Mbit/s, on 100 Mbit/s.
        let samples: Vec<_> = (1..=100).map(|i| sample(i, i as f64 * 1e6, 10e6)).collect();
        let s = summarize("telecom", &samples, 100e6, 0.7);
        assert_eq!(s.inbound.p95_bps, 95e6);
        assert_eq!(s.inbound.avg_bps, 50.5e6);
        assert_eq!(s.inbound.max_bps, 150e6);
        assert_eq!(s.outbound.p95_bps, 10e6);
        assert_eq!(s.symmetry, "untested");
        assert_eq!(
            s.advice.as_deref(),
            Some("the 95th percentile of inbound traffic is 95 % of the contracted 100 Mbit/s, above the 70 % threshold: consider a bandwidth upgrade")
        );
        assert_eq!(
            summarize("telecom", &samples, 1e9, 0.7).advice,
            None,
            "9.5 % of 1 Gbit/s"
        );
        let empty = summarize("telecom", &[], 1e9, 0.7);
        assert_eq!(
            (empty.samples, empty.inbound.p95_bps, empty.advice),
            (0, 0.0, None)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: u64, uptime: u32, in_o: u64, out_o: u64) -> CounterSample {
        CounterSample {
            at_ms: at_s * 1000,
            sys_uptime: uptime,
            engine_boots: None,
            in_octets: in_o,
            out_octets: out_o,
            speed_bps: 1_000_000_000,
        }
    }

    #[test]
    fn rate_is_octets_times_8_over_the_polled_interval() {
        let r = rates(
            &sample(0, 100, 1_000, 0),
            &sample(10, 1_100, 1_251_000, 2_500_000),
        )
        .unwrap();
        assert_eq!(
            (r.in_bps, r.out_bps, r.seconds),
            (1_000_000.0, 2_000_000.0, 10.0)
        );
    }

    #[test]
    fn a_reset_or_restart_discards_the_sample_and_rates_resume_after() {
        let a = sample(0, 5_000, 10_000_000, 10_000_000);
        let reset = sample(10, 6_000, 500, 10_000_500);
        assert_eq!(rates(&a, &reset), Err(Discard::CounterWentBack));
        let restarted = sample(10, 20, 20_000_000, 20_000_000);
        assert_eq!(rates(&a, &restarted), Err(Discard::AgentRestarted));
        // From the reset sample on, rates are real again.
        let after = sample(20, 7_000, 1_250_500, 10_000_500);
        assert_eq!(rates(&reset, &after).unwrap().in_bps, 1_000_000.0);
    }

    #[test]
    fn engine_boots_change_discards_even_if_counters_look_fine() {
        let mut a = sample(0, 100, 0, 0);
        let mut b = sample(10, 200, 1_000, 1_000);
        a.engine_boots = Some(3);
        b.engine_boots = Some(4);
        assert_eq!(rates(&a, &b), Err(Discard::EngineRebooted));
        b.engine_boots = Some(3);
        assert!(rates(&a, &b).is_ok());
    }

    #[test]
    fn never_a_rate_above_the_interface_speed() {
        // 2 Gbit/s on a 1 Gbit/s port: a counter glitch, not traffic.
        let b = sample(10, 200, 2_500_000_000, 0);
        assert_eq!(
            rates(&sample(0, 100, 0, 0), &b),
            Err(Discard::AboveInterfaceSpeed)
        );
        // exactly line rate is allowed
        let full = sample(10, 200, 1_250_000_000, 0);
        assert_eq!(rates(&sample(0, 100, 0, 0), &full).unwrap().in_bps, 1e9);
        assert_eq!(rates(&full, &full), Err(Discard::NoTimeElapsed));
    }

    #[test]
    fn percentile_95_drops_the_top_5_percent_and_takes_the_next() {
        // 1..=100: drop 100..96, take 95.
        let v: Vec<Option<f64>> = (1..=100).map(|i| Some(f64::from(i))).collect();
        assert_eq!(percentile_95(&v), Some(95.0));
        // 20 samples: drop 1 (the 20), take 19.
        let v: Vec<Option<f64>> = (1..=20).map(|i| Some(f64::from(i))).collect();
        assert_eq!(percentile_95(&v), Some(19.0));
        // 19 samples: 5 % of 19 rounds down to 0, so the maximum.
        let v: Vec<Option<f64>> = (1..=19).map(|i| Some(f64::from(i))).collect();
        assert_eq!(percentile_95(&v), Some(19.0));
    }

    #[test]
    fn percentile_95_with_ties_and_missing_samples() {
        // 40 samples, the top three tied at 900: drop 2 (5 % of 40), the next is still 900.
        let mut v: Vec<Option<f64>> = vec![Some(100.0); 37];
        v.extend([Some(900.0); 3]);
        assert_eq!(percentile_95(&v), Some(900.0));
        // A day of 288 slots with only 100 samples (the rest missing): the
        // percentile is of the 100 present, 1..=100 → 95.
        let mut day: Vec<Option<f64>> = vec![None; 188];
        day.extend((1..=100).map(|i| Some(f64::from(i))));
        assert_eq!(percentile_95(&day), Some(95.0));
        assert_eq!(percentile_95(&[None, None]), None);
        assert_eq!(percentile_95(&[Some(f64::NAN), Some(3.0)]), Some(3.0));
    }
}

#[cfg(test)]
mod five_minute_tests {
    use super::*;

    #[test]
    fn rates_are_time_weighted_into_clock_aligned_five_minutes() {
        let mut f = FiveMinutes::default();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let r = |i: f64, o: f64, s: f64| Rates {
            in_bps: i,
            out_bps: o,
            seconds: s,
        };
        assert!(f
            .add(
                "telecom",
                t("2026-01-01T00:00:10Z"),
                &r(100.0, 10.0, 10.0),
                [1, 0, 0, 0]
            )
            .is_none());
        assert!(f
            .add(
                "telecom",
                t("2026-01-01T00:04:50Z"),
                &r(400.0, 40.0, 30.0),
                [0, 2, 0, 0]
            )
            .is_none());
        let done = f
            .add(
                "telecom",
                t("2026-01-01T00:05:00Z"),
                &r(1.0, 1.0, 10.0),
                [0; 4],
            )
            .unwrap();
        assert_eq!(done.start, t("2026-01-01T00:00:00Z"));
        assert_eq!(done.seconds, 40.0);
        assert_eq!((done.avg_in_bps, done.avg_out_bps), (325.0, 32.5)); // (100*10 + 400*30) / 40
        assert_eq!((done.max_in_bps, done.max_out_bps), (400.0, 40.0));
        assert_eq!(done.errors, [1, 2, 0, 0]);
        assert_eq!(f.take().unwrap().start, t("2026-01-01T00:05:00Z"));
    }
}
