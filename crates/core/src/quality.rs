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
//! starts with the first bad round (to 10 s) of the first window over the
//! threshold and ends when a window falls back under it. A round that failed without
//! the line being declared down counts as loss; rounds inside an outage
//! or a local fault do not count.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::terms::Degradation;

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

/// Rounds are counted in buckets of this length: three bytes per anchor
/// and bucket instead of a sample per round.
const BUCKET_MS: i64 = 10_000;

fn bucket(ms: i64) -> u32 {
    ms.div_euclid(BUCKET_MS).clamp(0, i64::from(u32::MAX)) as u32
}

/// An anchor's rounds in one bucket: sent, lost, and answered at or over
/// the line's rtt_threshold. A bucket holds at most 100 rounds (the
/// interval is at least 100 ms), so a byte each is enough.
type Counts = [u8; 3];

/// Loss and latency of one line's upstream anchors, in a ring of buckets
/// long enough for the longest window.
#[derive(Debug, Clone)]
pub struct LineQuality {
    loss: Watch,
    rtt: Option<Watch>,
    rtt_threshold: Option<Duration>,
    interval: Duration,
    /// The newest bucket's number, once a round was seen.
    newest: Option<u32>,
    /// Per ring slot: milliseconds into the bucket of its first round
    /// (u16::MAX: no round in it).
    first_ms: Box<[u16]>,
    /// Per anchor, per ring slot.
    counts: Vec<Box<[Counts]>>,
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
        let loss = Watch::new("loss", d.loss_ratio, d.loss_window);
        let rtt = rtt_threshold.map(|_| rtt_watch(d.rtt_window));
        let longest = loss
            .window
            .max(rtt.as_ref().map_or(TimeDelta::zero(), |r| r.window));
        let slots = (longest.num_milliseconds() / BUCKET_MS) as usize + 2;
        Self {
            loss,
            rtt,
            rtt_threshold,
            interval,
            newest: None,
            first_ms: vec![u16::MAX; slots].into_boxed_slice(),
            counts: vec![vec![[0; 3]; slots].into_boxed_slice(); anchors],
            last_judged: None,
        }
    }

    /// Takes new thresholds (a reload), keeping whether a degradation is
    /// open, and what was seen if the windows and anchors are the same;
    /// a changed RTT threshold ends an open RTT degradation.
    pub fn reconfigure(&mut self, mut next: LineQuality, at: Ts) -> Vec<QualityChange> {
        let mut out = Vec::new();
        next.loss.active = self.loss.active;
        match (self.rtt.as_ref(), next.rtt.as_mut()) {
            (Some(old), Some(new)) if self.rtt_threshold == next.rtt_threshold => {
                new.active = old.active;
            }
            (Some(old), _) if old.active => out.push(QualityChange::Ended {
                kind: "rtt",
                end: at,
                detail: "rtt_threshold changed in the config".into(),
            }),
            _ => {}
        }
        let same_shape = next.first_ms.len() == self.first_ms.len()
            && next.counts.len() == self.counts.len()
            && next.rtt_threshold == self.rtt_threshold;
        if same_shape {
            next.newest = self.newest;
            next.first_ms = std::mem::take(&mut self.first_ms);
            next.counts = std::mem::take(&mut self.counts);
            next.last_judged = self.last_judged;
        }
        *self = next;
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

    fn slot(&self, number: u32) -> usize {
        number as usize % self.first_ms.len()
    }

    /// Moves the ring on to bucket `number`, emptying the slots it reuses.
    fn advance(&mut self, number: u32) {
        let slots = self.first_ms.len() as u32;
        let from = match self.newest {
            Some(n) if number.saturating_sub(n) < slots => n + 1,
            _ => number.saturating_sub(slots - 1),
        };
        for k in from..=number {
            let i = self.slot(k);
            self.first_ms[i] = u16::MAX;
            for c in &mut self.counts {
                c[i] = [0; 3];
            }
        }
        self.newest = Some(number);
    }

    /// One round of an up line: each upstream anchor's RTT, or None when
    /// its probe was lost; anchors that could not be probed are skipped.
    pub fn observe(&mut self, at: Ts, upstream: &[Option<Option<Duration>>]) -> Vec<QualityChange> {
        let ms = at.timestamp_millis();
        let number = bucket(ms);
        if self.newest.is_some_and(|n| number < n) {
            return Vec::new(); // not on the run's monotonic timeline
        }
        if self.newest != Some(number) {
            self.advance(number);
        }
        let i = self.slot(number);
        if self.first_ms[i] == u16::MAX {
            self.first_ms[i] = ms.rem_euclid(BUCKET_MS) as u16;
        }
        for (c, r) in self.counts.iter_mut().zip(upstream) {
            let Some(r) = r else { continue };
            let c = &mut c[i];
            c[0] = c[0].saturating_add(1);
            match r {
                None => c[1] = c[1].saturating_add(1),
                Some(rtt) if self.rtt_threshold.is_some_and(|t| *rtt >= t) => {
                    c[2] = c[2].saturating_add(1)
                }
                Some(_) => {}
            }
        }
        if self.last_judged.is_some_and(|t| at - t < JUDGE_EVERY) {
            return Vec::new();
        }
        self.last_judged = Some(at);
        let mut out = Vec::new();
        let window = self.loss.window;
        let loss = self.best(at, window, |c| (c[1], c[0]));
        let (share, minutes) = (self.loss.threshold, window.num_minutes());
        out.extend(self.loss.judge(loss, at, |v| {
            format!(
                "loss {:.1} % over {minutes} min (threshold {:.1} %)",
                v * 100.0,
                share * 100.0
            )
        }));
        if let (Some(mut rtt), Some(limit)) = (self.rtt.take(), self.rtt_threshold) {
            let slow = self.best(at, rtt.window, |c| (c[2], c[0] - c[1]));
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
    fn best(&self, at: Ts, window: TimeDelta, count: fn(&Counts) -> (u8, u8)) -> Option<(f64, Ts)> {
        let newest = self.newest?;
        let expected = window.num_milliseconds() as f64 / self.interval.as_millis().max(1) as f64;
        let oldest = bucket(at.timestamp_millis() - window.num_milliseconds()) + 1;
        let oldest = oldest.max(newest.saturating_sub(self.first_ms.len() as u32 - 1));
        self.counts
            .iter()
            .filter_map(|c| {
                // The degradation starts with the first bad round in the
                // window (to the bucket's first round), not with the window.
                let (mut sent, mut num, mut den) = (0u32, 0u32, 0u32);
                let (mut first_seen, mut first_bad) = (None, None);
                for k in oldest..=newest {
                    let b = &c[self.slot(k)];
                    let (x, y) = count(b);
                    if b[0] > 0 {
                        first_seen.get_or_insert(k);
                    }
                    if x > 0 {
                        first_bad.get_or_insert(k);
                    }
                    (sent, num, den) = (
                        sent + u32::from(b[0]),
                        num + u32::from(x),
                        den + u32::from(y),
                    );
                }
                let k = first_bad.or(first_seen)?;
                let start = DateTime::from_timestamp_millis(
                    i64::from(k) * BUCKET_MS + i64::from(self.first_ms[self.slot(k)]),
                )?;
                (f64::from(sent) >= 0.8 * expected && den > 0)
                    .then(|| (f64::from(num) / f64::from(den), start))
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
#[path = "quality_tests.rs"]
mod tests;
