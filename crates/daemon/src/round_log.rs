//! What a standby observes: each line's rounds, kept as they came back (not
//! judged into the ledger), so that on taking over it judges those since
//! the leader's last heartbeat and writes them: a failover leaves no time
//! unobserved while either instance was probing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use linkledger_core::evaluator::{Cause, Ts};
use linkledger_probes::Echo;

/// One round as a standby saw it: its time, every target's echoes and the
/// interface's latest SNMP reading (what the round was judged with).
#[derive(Debug, Clone)]
pub struct ObservedRound {
    pub at: Ts,
    pub outcomes: Vec<Echo>,
    pub interface: Option<(Cause, Ts)>,
}

/// Rounds older than this are let go even if no leader was seen (a standby
/// cut off from the server for longer gets a gap for the time before).
const KEEP: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// Every line's rounds since the standby began observing, or since the
/// leader's last heartbeat (less the rounds an edge may reach back over).
#[derive(Debug, Default, Clone)]
pub struct RoundLog(Arc<Mutex<Inner>>);

#[derive(Debug, Default)]
struct Inner {
    lines: HashMap<String, VecDeque<ObservedRound>>,
    /// From when every line's rounds are all here (None: nothing yet).
    complete_since: Option<Ts>,
}

impl RoundLog {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Observation begins (the standby's lines start) at `at`.
    pub fn begin(&self, at: Ts) {
        let mut inner = self.inner();
        inner.complete_since.get_or_insert(at);
    }

    pub fn push(&self, line: &str, round: ObservedRound) {
        let mut inner = self.inner();
        let horizon = round.at - KEEP;
        let rounds = inner.lines.entry(line.to_string()).or_default();
        rounds.push_back(round);
        let mut dropped = false;
        while rounds.front().is_some_and(|r| r.at < horizon) {
            rounds.pop_front();
            dropped = true;
        }
        if dropped {
            let first = rounds.front().map(|r| r.at).unwrap_or(horizon);
            let since = inner.complete_since.get_or_insert(first);
            *since = (*since).max(first);
        }
    }

    /// Lets go of the rounds at or before `before` (the leader has judged
    /// them): they are not needed any more.
    pub fn forget_before(&self, before: Ts) {
        let mut inner = self.inner();
        for rounds in inner.lines.values_mut() {
            while rounds.front().is_some_and(|r| r.at <= before) {
                rounds.pop_front();
            }
        }
    }

    /// Every line's rounds, and since when they are complete; the log is
    /// left empty.
    pub fn take(&self) -> (HashMap<String, Vec<ObservedRound>>, Option<Ts>) {
        let mut inner = self.inner();
        let since = inner.complete_since.take();
        let lines = std::mem::take(&mut inner.lines)
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
        (lines, since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn round(s: i64) -> ObservedRound {
        ObservedRound {
            at: chrono::Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap(),
            outcomes: Vec::new(),
            interface: None,
        }
    }

    #[test]
    fn rounds_the_leader_judged_are_let_go_and_the_rest_handed_over_in_order() {
        let log = RoundLog::default();
        log.begin(round(0).at);
        for s in 0..10 {
            log.push("a", round(s));
        }
        log.forget_before(round(4).at);
        let (lines, since) = log.take();
        let ats: Vec<_> = lines["a"].iter().map(|r| r.at).collect();
        assert_eq!(ats, (5..10).map(|s| round(s).at).collect::<Vec<_>>());
        assert_eq!(since, Some(round(0).at));
        assert!(log.take().0.is_empty(), "taken once");
    }

    #[test]
    fn rounds_kept_too_long_are_let_go_and_the_log_is_complete_only_after_them() {
        let log = RoundLog::default();
        log.begin(round(0).at);
        let last = KEEP.num_seconds() + 100;
        for s in (0..=last).step_by(10) {
            log.push("a", round(s));
        }
        let (lines, since) = log.take();
        let first = lines["a"][0].at;
        assert!(first >= round(last).at - KEEP, "{first}");
        assert_eq!(since, Some(first), "complete from the first round kept");
    }
}
