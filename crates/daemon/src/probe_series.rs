//! Per-target probe metrics, kept compactly: `linkledger_probe_rtt_seconds`
//! (histogram), `linkledger_probe_sent_total`, `linkledger_probe_received_total`,
//! each labelled `{line, target, tier}`.
//!
//! With thousands of targets the prometheus crate's vectors cost about 3 KB
//! per target and a scrape builds every sample as a protobuf struct first;
//! here a target is a handful of atomics (about 200 bytes) and the scrape
//! writes the exposition text directly.

use linkledger_core::tier::Tier;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the RTT histogram buckets, in seconds.
pub const RTT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
const BUCKET_NS: [u64; 11] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// One target's counters.
#[derive(Debug, Default)]
pub struct TargetSeries {
    /// Non-cumulative bucket counts; the exposition accumulates them.
    buckets: [AtomicU64; 11],
    rtt_sum_ns: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
}

impl TargetSeries {
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn received(&self, rtt: Duration) {
        let ns = rtt.as_nanos().min(u128::from(u64::MAX)) as u64;
        if let Some(i) = BUCKET_NS.iter().position(|b| ns <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.rtt_sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.received.fetch_add(1, Ordering::Relaxed);
    }
}

type Key = (Arc<str>, Tier, IpAddr);

/// Every target's series, in label order for the exposition.
#[derive(Debug, Default)]
pub struct ProbeSeries {
    targets: Mutex<BTreeMap<Key, Arc<TargetSeries>>>,
}

impl ProbeSeries {
    /// The series of a target, created on first use and kept across reloads.
    pub fn target(&self, line: &Arc<str>, tier: Tier, target: IpAddr) -> Arc<TargetSeries> {
        let mut map = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((line.clone(), tier, target)).or_default().clone()
    }

    /// Forgets the series of targets no longer configured.
    pub fn retain(&self, keep: impl Fn(&str, Tier, IpAddr) -> bool) {
        let mut map = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|(l, t, a), _| keep(l, *t, *a));
    }

    /// Echoes sent and replies received, summed over every target.
    pub fn totals(&self) -> (u64, u64) {
        let map = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        map.values().fold((0, 0), |(s, r), t| {
            (
                s + t.sent.load(Ordering::Relaxed),
                r + t.received.load(Ordering::Relaxed),
            )
        })
    }

    /// Appends the three families in the Prometheus text format.
    pub fn encode(&self, out: &mut String) {
        let map = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot: Vec<(&Key, &Arc<TargetSeries>)> = map.iter().collect();
        let labels = |(line, tier, target): &Key| {
            format!("line=\"{line}\",target=\"{target}\",tier=\"{tier}\"")
        };
        out.push_str("# HELP linkledger_probe_rtt_seconds ICMP echo round-trip time of answered probes.\n# TYPE linkledger_probe_rtt_seconds histogram\n");
        for (key, s) in &snapshot {
            let l = labels(key);
            let mut cumulative = 0;
            for (bound, count) in RTT_BUCKETS.iter().zip(&s.buckets) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "linkledger_probe_rtt_seconds_bucket{{{l},le=\"{bound}\"}} {cumulative}"
                );
            }
            let total = s.received.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "linkledger_probe_rtt_seconds_bucket{{{l},le=\"+Inf\"}} {total}"
            );
            let sum = s.rtt_sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "linkledger_probe_rtt_seconds_sum{{{l}}} {sum}");
            let _ = writeln!(out, "linkledger_probe_rtt_seconds_count{{{l}}} {total}");
        }
        for (name, help, field) in [
            (
                "linkledger_probe_sent_total",
                "ICMP echo requests sent (or refused by the network on sending).",
                0,
            ),
            (
                "linkledger_probe_received_total",
                "Matching ICMP echo replies received in time.",
                1,
            ),
        ] {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n");
            for (key, s) in &snapshot {
                let v = if field == 0 { &s.sent } else { &s.received };
                let _ = writeln!(
                    out,
                    "{name}{{{}}} {}",
                    labels(key),
                    v.load(Ordering::Relaxed)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_cumulative_buckets_sum_count_and_counters() {
        let series = ProbeSeries::default();
        let line: Arc<str> = Arc::from("telecom");
        let t = series.target(&line, Tier::Upstream, "198.19.100.1".parse().unwrap());
        t.sent();
        t.received(Duration::from_micros(700));
        t.sent();
        t.received(Duration::from_millis(30));
        t.sent();
        let mut out = String::new();
        series.encode(&mut out);
        let l = "line=\"telecom\",target=\"198.19.100.1\",tier=\"upstream\"";
        for want in [
            format!("linkledger_probe_rtt_seconds_bucket{{{l},le=\"0.0005\"}} 0"),
            format!("linkledger_probe_rtt_seconds_bucket{{{l},le=\"0.001\"}} 1"),
            format!("linkledger_probe_rtt_seconds_bucket{{{l},le=\"0.05\"}} 2"),
            format!("linkledger_probe_rtt_seconds_bucket{{{l},le=\"+Inf\"}} 2"),
            format!("linkledger_probe_rtt_seconds_sum{{{l}}} 0.0307"),
            format!("linkledger_probe_rtt_seconds_count{{{l}}} 2"),
            format!("linkledger_probe_sent_total{{{l}}} 3"),
            format!("linkledger_probe_received_total{{{l}}} 2"),
        ] {
            assert!(out.lines().any(|x| x == want), "missing {want} in\n{out}");
        }
        // The same target asked for again is the same series.
        series
            .target(&line, Tier::Upstream, "198.19.100.1".parse().unwrap())
            .sent();
        assert_eq!(t.sent.load(Ordering::Relaxed), 4);
    }
}
