//! The batch an agent pushes (`linkledger.agent-batch/v1`): its rounds in
//! sequence order, each with the agent's clock, its own side's health and
//! every block target's result; and the central's answer. The checks here
//! are pure (times are arguments), so the ingest endpoint and its tests
//! share them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "linkledger.agent-batch/v1";
/// The largest batch body the central accepts.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// The most rounds an agent puts in one batch.
pub const MAX_ROUNDS: usize = 200;
/// How far ahead of the central's clock a round may be (clock skew).
pub const SKEW: TimeDelta = TimeDelta::minutes(2);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub schema: String,
    pub agent: String,
    /// Rounds still waiting in the agent's buffer after this batch.
    #[serde(default)]
    pub backlog: u64,
    pub rounds: Vec<Round>,
}

/// One probe of every block target, and of the agent's own anchors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Round {
    /// Per agent, strictly increasing; never reused.
    pub seq: i64,
    /// When the round started, on the agent's clock.
    pub at: DateTime<Utc>,
    /// Own anchors: how many were probed and answered. No answer from any:
    /// the agent's own side is down and the round is unobserved.
    pub anchors: u32,
    pub anchors_answered: u32,
    pub results: Vec<TargetResult>,
    /// Paths to the block traced since the previous round, when the agent
    /// lost it (path evidence).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<crate::path::PathRecord>,
}

impl Round {
    pub fn own_healthy(&self) -> bool {
        self.anchors_answered > 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetResult {
    /// As configured: "198.19.100.1" or "198.19.100.2:tcp/443".
    pub target: String,
    pub answered: bool,
    /// Round-trip (ICMP) or connect time (TCP), when answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

/// The central's answer to an accepted batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The highest sequence number the central holds for the agent.
    pub acked: i64,
    pub stored: usize,
    pub duplicates: usize,
}

/// Why a batch is refused, with what it says to the agent's operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The body is not a batch (HTTP 400).
    #[error("{0}")]
    Malformed(String),
    /// The batch names another agent than its token's (HTTP 403).
    #[error("{0}")]
    WrongAgent(String),
    /// A round from the future, or older than the agent's last (HTTP 422).
    #[error("{0}")]
    Time(String),
    /// A sequence number below what the central already holds that is not
    /// a replay of it (HTTP 409).
    #[error("{0}")]
    Sequence(String),
}

/// The last round the central holds for an agent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Last {
    pub seq: i64,
    pub at: DateTime<Utc>,
}

/// Checks a batch from `agent` against what the central holds; returns the
/// rounds to store (new ones) and how many were replays. `known(seq)` says
/// whether the central already holds that round.
pub fn check<'a>(
    b: &'a Batch,
    agent: &str,
    last: Option<Last>,
    now: DateTime<Utc>,
    known: impl Fn(i64) -> bool,
) -> Result<(Vec<&'a Round>, usize), Refusal> {
    if b.schema != SCHEMA {
        return Err(Refusal::Malformed(format!(
            "schema {:?}: this central takes {SCHEMA:?}",
            b.schema
        )));
    }
    if b.agent != agent {
        return Err(Refusal::WrongAgent(format!(
            "the batch is from {:?} but its token is agent {agent:?}'s",
            b.agent
        )));
    }
    if b.rounds.is_empty() || b.rounds.len() > MAX_ROUNDS {
        return Err(Refusal::Malformed(format!(
            "a batch holds 1 to {MAX_ROUNDS} rounds, not {}",
            b.rounds.len()
        )));
    }
    for w in b.rounds.windows(2) {
        if w[1].seq <= w[0].seq {
            return Err(Refusal::Malformed(format!(
                "rounds must be in increasing seq order: {} after {}",
                w[1].seq, w[0].seq
            )));
        }
    }
    let mut new = Vec::new();
    let mut duplicates = 0;
    let mut last = last;
    for r in &b.rounds {
        if r.seq < 1 {
            return Err(Refusal::Malformed(format!(
                "seq {} is not a sequence number (1, 2, 3 …)",
                r.seq
            )));
        }
        if r.at > now + SKEW {
            return Err(Refusal::Time(format!(
                "round {} is from the future ({} is more than {} s ahead of the central's clock); check the agent's clock",
                r.seq,
                r.at.to_rfc3339(),
                SKEW.num_seconds()
            )));
        }
        if let Some(e) = r.traces.iter().find_map(|t| t.check().err()) {
            return Err(Refusal::Malformed(format!(
                "round {}: a path trace is not one: {e}",
                r.seq
            )));
        }
        if known(r.seq) {
            duplicates += 1;
            continue;
        }
        if let Some(l) = last {
            if r.seq < l.seq {
                return Err(Refusal::Sequence(format!(
                    "round {} comes before the agent's last stored round ({}) and is not one the central holds; the agent's buffer was reset: start it with a fresh id or let it resume from {}",
                    r.seq, l.seq, l.seq + 1
                )));
            }
            if r.at < l.at {
                return Err(Refusal::Time(format!(
                    "round {} at {} is earlier than the agent's last round ({} at {}); the agent's clock went back",
                    r.seq,
                    r.at.to_rfc3339(),
                    l.seq,
                    l.at.to_rfc3339()
                )));
            }
        }
        last = Some(Last {
            seq: r.seq,
            at: r.at,
        });
        new.push(r);
    }
    Ok((new, duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn batch(seqs: &[(i64, i64)]) -> Batch {
        Batch {
            schema: SCHEMA.into(),
            agent: "a1".into(),
            backlog: 0,
            rounds: seqs
                .iter()
                .map(|&(seq, at)| Round {
                    seq,
                    at: t(at),
                    anchors: 1,
                    anchors_answered: 1,
                    results: vec![],
                    traces: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn a_replay_is_acknowledged_and_stored_once() {
        let b = batch(&[(1, 0), (2, 5), (3, 10)]);
        let (new, dup) = check(&b, "a1", None, t(10), |_| false).unwrap();
        assert_eq!((new.len(), dup), (3, 0));
        let last = Some(Last { seq: 3, at: t(10) });
        let (new, dup) = check(&b, "a1", last, t(20), |s| s <= 3).unwrap();
        assert_eq!((new.len(), dup), (0, 3));
        // Overlapping: the old part is a replay, the new part is stored.
        let b = batch(&[(3, 10), (4, 15)]);
        let (new, dup) = check(&b, "a1", last, t(20), |s| s <= 3).unwrap();
        assert_eq!(
            (new.iter().map(|r| r.seq).collect::<Vec<_>>(), dup),
            (vec![4], 1)
        );
    }

    #[test]
    fn refusals_say_why() {
        let last = Some(Last { seq: 10, at: t(50) });
        let b = batch(&[(5, 60)]);
        assert!(matches!(
            check(&b, "a1", last, t(60), |_| false),
            Err(Refusal::Sequence(_))
        ));
        let b = batch(&[(11, 40)]);
        assert!(
            matches!(check(&b, "a1", last, t(60), |_| false), Err(Refusal::Time(m)) if m.contains("clock went back"))
        );
        let b = batch(&[(11, 500)]);
        assert!(
            matches!(check(&b, "a1", last, t(60), |_| false), Err(Refusal::Time(m)) if m.contains("future"))
        );
        let b = batch(&[(11, 60)]);
        assert!(matches!(
            check(&b, "a2", last, t(60), |_| false),
            Err(Refusal::WrongAgent(_))
        ));
        let b = batch(&[(12, 60), (11, 61)]);
        assert!(matches!(
            check(&b, "a1", last, t(60), |_| false),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check(&batch(&[]), "a1", last, t(60), |_| false),
            Err(Refusal::Malformed(_))
        ));
    }
}
