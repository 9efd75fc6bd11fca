//! Degradations: quality below the contract's thresholds for a window —
//! packet loss, latency (the RTT 95th percentile against a line's
//! `rtt_threshold`) and utilisation of the contracted bandwidth. Not
//! downtime, but a (general) fault. Pure: rounds, rates and times are
//! arguments.
//!
//! Only rounds in which the line is up count (an outage is not a
//! degradation; a local fault is ours). Loss and RTT are judged per
//! upstream anchor and the best anchor decides, so one anchor that is
//! itself unwell does not make the carrier's line look degraded. A window
//! is judged only when at least 80 % of it is covered; a degradation
//! starts at the first round of the first window over the threshold and
//! ends when a window falls back under it. A round that failed without
//! the line being declared down counts as loss; rounds inside an outage
//! or a local fault do not count.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::terms::Degradation;

type Ts = DateTime<Utc>;

/// A degradation beginning or ending.
#[derive(Debug, Clone, PartialEq)]
pub enum QualityChange {
    Started {
        kind: &'static str,
        start: Ts,
        detail: String,
    },
    Ended {
        kind: &'static str,
        end: Ts,
        detail: String,
    },
}

/// One threshold and whether it is crossed.
#[derive(Debug, Clone)]
struct Watch {
    kind: &'static str,
    threshold: f64,
    /// Over means strictly above the threshold (else at or above).
    strict: bool,
    window: TimeDelta,
    active: bool,
}

impl Watch {
    fn new(kind: &'static str, threshold: f64, window: Duration) -> Self {
        Self {
            kind,
            threshold,
            strict: false,
            window: TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX),
            active: false,
        }
    }

    /// `value`: the window's figure and its earliest sample, None when too
    /// thinly covered to judge; `detail` describes a figure for the ledger.
    fn judge(
        &mut self,
        value: Option<(f64, Ts)>,
        at: Ts,
        detail: impl Fn(f64) -> String,
    ) -> Option<QualityChange> {
        let (v, earliest) = value?;
        let over = if self.strict {
            v > self.threshold
        } else {
            v >= self.threshold
        };
        if over == self.active {
            return None;
        }
        self.active = over;
        let detail = detail(v);
        Some(if over {
            QualityChange::Started {
                kind: self.kind,
                start: earliest,
                detail,
            }
        } else {
            QualityChange::Ended {
                kind: self.kind,
                end: at,
                detail,
            }
        })
    }
}

/// Rounds are counted in buckets of this length: a few bytes per anchor
/// and bucket instead of a sample per round.
const BUCKET_MS: i64 = 10_000;

fn bucket(ms: i64) -> u32 {
    ms.div_euclid(BUCKET_MS).clamp(0, i64::from(u32::MAX)) as u32
}

/// One anchor's rounds within one bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Bucket number: milliseconds since the epoch / BUCKET_MS (fits
    /// 32 bits until the year 3331).
    number: u32,
    /// Milliseconds into the bucket of its first round.
    first_ms: u16,
    sent: u16,
    lost: u16,
    /// Answered at or over the line's rtt_threshold.
    slow: u16,
}

/// Loss and latency of one line's upstream anchors.
#[derive(Debug, Clone)]
pub struct LineQuality {
    loss: Watch,
    rtt: Option<Watch>,
    rtt_threshold: Option<Duration>,
    interval: Duration,
    anchors: Vec<VecDeque<Bucket>>,
    last_judged: Option<Ts>,
}

/// Windows are judged this often.
const JUDGE_EVERY: TimeDelta = TimeDelta::seconds(10);

/// The RTT watch: over when more than 5 % of the answered probes took the
/// threshold or longer, which is the 95th percentile being over it.
fn rtt_watch(window: Duration) -> Watch {
    let mut w = Watch::new("rtt", 0.05, window);
    w.strict = true;
    w
}

impl LineQuality {
    pub fn new(
        d: &Degradation,
        rtt_threshold: Option<Duration>,
        interval: Duration,
        anchors: usize,
    ) -> Self {
        Self {
            loss: Watch::new("loss", d.loss_ratio, d.loss_window),
            rtt: rtt_threshold.map(|_| rtt_watch(d.rtt_window)),
            rtt_threshold,
            interval,
            anchors: vec![VecDeque::new(); anchors],
            last_judged: None,
        }
    }

    /// Takes new thresholds (a reload), keeping what was seen and whether
    /// a degradation is open; changes that make it moot end it.
    pub fn reconfigure(&mut self, next: LineQuality, at: Ts) -> Vec<QualityChange> {
        let mut out = Vec::new();
        let mut loss = next.loss;
        loss.active = self.loss.active;
        let rtt = match (self.rtt.take(), next.rtt) {
            (Some(old), Some(mut new)) if self.rtt_threshold == next.rtt_threshold => {
                new.active = old.active;
                Some(new)
            }
            (Some(old), new) if old.active => {
                out.push(QualityChange::Ended {
                    kind: "rtt",
                    end: at,
                    detail: "rtt_threshold changed in the config".into(),
                });
                new
            }
            (_, new) => new,
        };
        if next.anchors.len() != self.anchors.len()
            || rtt.is_some() && self.rtt_threshold != next.rtt_threshold
        {
            self.anchors = next.anchors;
        }
        self.loss = loss;
        self.rtt = rtt;
        self.rtt_threshold = next.rtt_threshold;
        self.interval = next.interval;
        out
    }

    /// Open degradations, for ending them when the line is removed.
    pub fn active(&self) -> Vec<&'static str> {
        [Some(&self.loss), self.rtt.as_ref()]
            .into_iter()
            .flatten()
            .filter(|w| w.active)
            .map(|w| w.kind)
            .collect()
    }

    /// One round of an up line: each upstream anchor's RTT, or None when
    /// its probe was lost; anchors that could not be probed are skipped.
    pub fn observe(&mut self, at: Ts, upstream: &[Option<Option<Duration>>]) -> Vec<QualityChange> {
        let longest = self
            .loss
            .window
            .max(self.rtt.as_ref().map_or(TimeDelta::zero(), |r| r.window));
        let ms = at.timestamp_millis();
        let (number, offset) = (bucket(ms), ms.rem_euclid(BUCKET_MS) as u16);
        let oldest = bucket(ms - longest.num_milliseconds());
        for (q, r) in self.anchors.iter_mut().zip(upstream) {
            if let Some(r) = r {
                if q.back().is_none_or(|b| b.number != number) {
                    q.push_back(Bucket {
                        number,
                        first_ms: offset,
                        sent: 0,
                        lost: 0,
                        slow: 0,
                    });
                }
                let b = q.back_mut().expect("pushed above");
                b.sent = b.sent.saturating_add(1);
                match r {
                    None => b.lost = b.lost.saturating_add(1),
                    Some(rtt) if self.rtt_threshold.is_some_and(|t| *rtt >= t) => {
                        b.slow = b.slow.saturating_add(1)
                    }
                    Some(_) => {}
                }
            }
            while q.front().is_some_and(|b| b.number < oldest) {
                q.pop_front();
            }
        }
        if self.last_judged.is_some_and(|t| at - t < JUDGE_EVERY) {
            return Vec::new();
        }
        self.last_judged = Some(at);
        let mut out = Vec::new();
        let window = self.loss.window;
        let loss = self.best(at, window, |b| (b.lost, b.sent));
        let (share, minutes) = (self.loss.threshold, window.num_minutes());
        out.extend(self.loss.judge(loss, at, |v| {
            format!(
                "loss {:.1} % over {minutes} min (threshold {:.1} %)",
                v * 100.0,
                share * 100.0
            )
        }));
        if let (Some(mut rtt), Some(limit)) = (self.rtt.take(), self.rtt_threshold) {
            let slow = self.best(at, rtt.window, |b| (b.slow, b.sent - b.lost));
            let minutes = rtt.window.num_minutes();
            out.extend(rtt.judge(slow, at, |v| {
                format!(
                    "RTT at or over {:.1} ms in {:.1} % of answered probes over {minutes} min (p95 over the threshold when above 5 %)",
                    limit.as_secs_f64() * 1000.0,
                    v * 100.0
                )
            }));
            self.rtt = Some(rtt);
        }
        out
    }

    /// The lowest share among anchors whose window is covered enough, with
    /// the time of that window's first round. `count` gives a bucket's
    /// (numerator, denominator).
    fn best(
        &self,
        at: Ts,
        window: TimeDelta,
        count: fn(&Bucket) -> (u16, u16),
    ) -> Option<(f64, Ts)> {
        let expected = window.num_milliseconds() as f64 / self.interval.as_millis().max(1) as f64;
        let oldest = bucket(at.timestamp_millis() - window.num_milliseconds());
        self.anchors
            .iter()
            .filter_map(|q| {
                let inside = || q.iter().filter(|b| b.number > oldest);
                let first = inside().next()?;
                let sent: u64 = inside().map(|b| u64::from(b.sent)).sum();
                let (num, den) = inside().fold((0u64, 0u64), |(n, d), b| {
                    let (x, y) = count(b);
                    (n + u64::from(x), d + u64::from(y))
                });
                let start = DateTime::from_timestamp_millis(
                    i64::from(first.number) * BUCKET_MS + i64::from(first.first_ms),
                )?;
                (sent as f64 >= 0.8 * expected && den > 0).then(|| (num as f64 / den as f64, start))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }
}

/// Utilisation of the contracted bandwidth from SNMP rates.
#[derive(Debug, Clone)]
pub struct Utilisation {
    watch: Watch,
    /// (poll time, seconds covered, inbound ratio, outbound ratio).
    rates: VecDeque<(Ts, f64, f64, f64)>,
}

/// Shared between a line's SNMP poller and its evaluator, so a reload
/// keeps an open utilisation degradation.
pub type SharedUtilisation = Arc<Mutex<Option<Utilisation>>>;

impl Utilisation {
    pub fn new(d: &Degradation) -> Self {
        Self {
            watch: Watch::new("utilisation", d.utilisation_ratio, d.utilisation_window),
            rates: VecDeque::new(),
        }
    }

    /// Takes new thresholds, keeping what was seen.
    pub fn reconfigure(&mut self, d: &Degradation) {
        let active = self.watch.active;
        self.watch = Watch::new("utilisation", d.utilisation_ratio, d.utilisation_window);
        self.watch.active = active;
    }

    /// One valid poll-to-poll rate against the contracted bandwidth.
    pub fn observe(
        &mut self,
        at: Ts,
        seconds: f64,
        in_ratio: f64,
        out_ratio: f64,
    ) -> Option<QualityChange> {
        let window = self.watch.window;
        self.rates.push_back((at, seconds, in_ratio, out_ratio));
        while self.rates.front().is_some_and(|(t, ..)| *t <= at - window) {
            self.rates.pop_front();
        }
        let covered: f64 = self.rates.iter().map(|r| r.1).sum();
        let avg = |f: fn(&(Ts, f64, f64, f64)) -> f64| {
            self.rates.iter().map(|r| f(r) * r.1).sum::<f64>() / covered
        };
        let earliest = self
            .rates
            .front()
            .map(|r| r.0 - TimeDelta::milliseconds((r.1 * 1000.0) as i64));
        let figure = (covered >= 0.8 * window.num_seconds() as f64)
            .then(|| avg(|r| r.2).max(avg(|r| r.3)))
            .zip(earliest);
        let (share, minutes) = (self.watch.threshold, window.num_minutes());
        self.watch.judge(figure, at, |v| {
            format!(
                "utilisation {:.1} % over {minutes} min (threshold {:.1} %)",
                v * 100.0,
                share * 100.0
            )
        })
    }

    pub fn active(&self) -> bool {
        self.watch.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Terms;

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
}
