//! The block judge: from the rounds vantage agents pushed to each public
//! block's state and its outages.
//!
//! Per block and agent round: the agent reached the block when any of its
//! targets there answered; a round whose own anchors were silent is blind
//! (the agent's own side is down: no vote). At each agent round, in time
//! order across agents, the block is
//!
//! - `down` when at least the quorum (`[[line]] block_quorum`, default 2,
//!   or every configured agent when fewer are configured) of agents with a
//!   fresh, healthy round could not reach it,
//! - `unobserved` when fewer than the quorum have a fresh healthy round,
//!   or the line itself is down from inside (its own outage covers it),
//! - `up` otherwise.
//!
//! These states go through the same evaluator as a line's rounds
//! (`down_after` / `up_after`, edges at the first failed and first good
//! round with their bounds), and its outages go into the ledger as the
//! line's outages with the block named, cause `ip_block_unreachable`.
//!
//! Rounds arrive late (an agent's buffer replayed after the central or its
//! uplink was away): the judge only judges up to the watermark, the oldest
//! latest round among the agents, so a late batch is judged in time order
//! with the others. An agent silent for longer than [`HOLD`] no longer
//! holds the judgement back; rounds of it that arrive later than that for
//! time already judged are kept but judged without (the ingest logs how
//! many).

use linkledger_ledger::LedgerError;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::LiveConfig;
use linkledger_ledger::Ledger;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use linkledger_config::Config;
use linkledger_core::evaluator::{Cause, Evaluator, Event, RoundState};
use linkledger_core::time::ledger_ts;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::vantage::compact::BlockSummary;
use linkledger_ledger::vantage::{
    judged_until, latest_round_at, line_outage_spans, open_block_outage, open_block_outages,
    rounds_between, StoredRound,
};
use linkledger_ledger::write::{LedgerTx, LedgerWrite};

type Ts = DateTime<Utc>;

/// An agent's round stands for the block this long after it started.
pub const STALE: TimeDelta = TimeDelta::seconds(30);
/// How long the judge waits for a silent agent's rounds.
pub const HOLD: TimeDelta = TimeDelta::minutes(3);
/// Rounds read from the ledger at a time.
const PAGE: i64 = 5000;

/// What one agent's round says of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Reached,
    NotReached,
    /// Its own side was down, or it did not probe this block.
    Blind,
}

pub fn verdict(own_healthy: bool, summary: Option<&BlockSummary>) -> Verdict {
    match summary {
        Some(s) if own_healthy && s.targets > 0 => {
            if s.answered > 0 {
                Verdict::Reached
            } else {
                Verdict::NotReached
            }
        }
        _ => Verdict::Blind,
    }
}

/// The latest verdict of each agent on one block.
#[derive(Debug, Clone, Default)]
pub struct Views {
    latest: BTreeMap<String, (Ts, Verdict)>,
}

impl Views {
    pub fn see(&mut self, agent: &str, at: Ts, v: Verdict) {
        self.latest.insert(agent.to_string(), (at, v));
    }

    /// The block's state at `at` (an agent round's time).
    pub fn state(&self, at: Ts, quorum: usize, line_down: bool) -> RoundState {
        if line_down {
            return RoundState::Unobserved;
        }
        let fresh = self
            .latest
            .values()
            .filter(|(t, v)| *t <= at && at - *t <= STALE && *v != Verdict::Blind);
        let (mut healthy, mut failed) = (0, 0);
        for (_, v) in fresh {
            healthy += 1;
            failed += usize::from(*v == Verdict::NotReached);
        }
        if healthy < quorum {
            RoundState::Unobserved
        } else if failed >= quorum {
            RoundState::Down(Cause::UpstreamUnreachable)
        } else {
            RoundState::Up
        }
    }

    /// Agents with a fresh round at `at`, and how many of them are blind.
    pub fn counts(&self, at: Ts) -> (usize, usize) {
        let fresh: Vec<_> = self
            .latest
            .values()
            .filter(|(t, _)| *t <= at && at - *t <= STALE)
            .collect();
        let blind = fresh.iter().filter(|(_, v)| *v == Verdict::Blind).count();
        (fresh.len(), blind)
    }
}

/// One block's judge.
struct Judge {
    line: String,
    block: String,
    views: Views,
    ev: Evaluator,
    /// The latest round fed: its time and agent.
    fed: Option<Ts>,
    fed_agent: String,
    /// An instant seen and not yet judged: (time, quorum, line down).
    pending: Option<(Ts, usize, bool)>,
    /// The latest round time with no verdict pending; saved in the ledger.
    settled: Option<Ts>,
    saved: Option<Ts>,
    state: RoundState,
}

impl Judge {
    /// Feeds one agent round and judges its instant at once (tests).
    #[cfg(test)]
    fn feed(
        &mut self,
        agent: &str,
        at: Ts,
        v: Verdict,
        quorum: usize,
        line_down: bool,
    ) -> Vec<LedgerWrite> {
        self.see(agent, at, v, quorum, line_down);
        self.judge_instant()
    }

    /// Takes one agent round's verdict; the instant is judged once every
    /// round of it is in ([`Judge::judge_instant`]), so rounds of several
    /// agents at the same instant are one step, not several.
    fn see(&mut self, agent: &str, at: Ts, v: Verdict, quorum: usize, line_down: bool) {
        self.views.see(agent, at, v);
        self.fed = Some(at);
        self.fed_agent = agent.to_string();
        self.pending = Some((at, quorum, line_down));
    }

    /// Judges the instant of the rounds seen since the last call; returns
    /// the ledger writes it causes.
    fn judge_instant(&mut self) -> Vec<LedgerWrite> {
        let Some((at, quorum, line_down)) = self.pending.take() else {
            return Vec::new();
        };
        let state = self.views.state(at, quorum, line_down);
        self.state = state;
        let mut out = Vec::new();
        for e in self.ev.observe(state, at) {
            match e {
                Event::OutageOpened {
                    start, start_after, ..
                } => {
                    tracing::warn!(line = self.line, block = self.block, start = %start, "block outage: the public block is unreachable from outside");
                    out.push(LedgerWrite::BlockOutageOpened {
                        line: self.line.clone(),
                        block: self.block.clone(),
                        start,
                        start_after,
                    })
                }
                Event::OutageClosed { end, end_after } => {
                    tracing::info!(line = self.line, block = self.block, end = %end, "block outage over: the block is reachable again");
                    out.push(LedgerWrite::BlockOutageClosed {
                        line: self.line.clone(),
                        block: self.block.clone(),
                        end,
                        end_after,
                    })
                }
                _ => {}
            }
        }
        if self.ev.settled() {
            self.settled = Some(at);
        }
        out
    }
}

/// The block judge's task: every `every`, judges the rounds that have
/// arrived up to the watermark.
pub async fn run(
    db: Ledger,
    config: LiveConfig,
    clock: RunClock,
    ledger: LedgerTx,
    metrics: Arc<Metrics>,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut judges: HashMap<(String, String), Judge> = HashMap::new();
    // The blocks of the last tick: orphans are looked for when they change.
    let mut probed: Option<Vec<(String, String, usize)>> = None;
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let c = config.get();
        if let Err(e) = tick(
            &db,
            &c,
            clock.now(),
            &ledger,
            &metrics,
            &mut judges,
            &mut probed,
        )
        .await
        {
            tracing::error!(error = %e, "block judge: cannot read agent rounds; retrying");
        }
    }
}

async fn tick(
    db: &Ledger,
    c: &Config,
    now: Ts,
    ledger: &LedgerTx,
    metrics: &Metrics,
    judges: &mut HashMap<(String, String), Judge>,
    probed: &mut Option<Vec<(String, String, usize)>>,
) -> Result<(), LedgerError> {
    let blocks = c.probed_blocks();
    // Blocks no longer configured: an open outage ends where judging ended.
    let gone: Vec<_> = judges
        .keys()
        .filter(|k| !blocks.iter().any(|(l, b, _)| &k.0 == l && &k.1 == b))
        .cloned()
        .collect();
    for k in gone {
        if let Some(j) = judges.remove(&k) {
            close_unjudged(ledger, &j.line, &j.block, j.ev.in_outage(), j.fed, now);
            metrics.vantage.forget_block(&j.line, &j.block);
        }
    }
    for (line, block, _) in &blocks {
        let key = (line.clone(), block.clone());
        if let std::collections::hash_map::Entry::Vacant(e) = judges.entry(key) {
            e.insert(resume(db, c, line, block, now).await?);
        }
    }
    if probed.as_ref() != Some(&blocks) {
        close_orphans(db, &blocks, ledger, now).await?;
        *probed = Some(blocks.clone());
    }
    if judges.is_empty() {
        return Ok(());
    }
    let Some(watermark) = watermark(db, c, now).await? else {
        return Ok(());
    };
    let from = judges
        .values()
        .map(|j| j.fed.unwrap_or(now - HOLD))
        .min()
        .unwrap_or(now);
    let mut cursor = from;
    loop {
        let rows = rounds_between(db, cursor, watermark, Some(PAGE)).await?;
        let at_of = |r: &StoredRound| r.at;
        let Some(last) = rows.last().and_then(at_of) else {
            break;
        };
        // A full page may cut the rounds of its last instant in two: those
        // are left for the next page (unless the whole page is one instant).
        let full = rows.len() as i64 == PAGE;
        let rows: Vec<_> = if full && rows.iter().any(|r| at_of(r) < Some(last)) {
            rows.into_iter().filter(|r| at_of(r) < Some(last)).collect()
        } else {
            if full {
                tracing::error!(at = %last, "block judge: more than {PAGE} rounds at one instant; judging on");
            }
            rows
        };
        let Some(last) = rows.last().and_then(at_of) else {
            break;
        };
        let downs = line_downs(db, &blocks, cursor, last).await?;
        for (i, r) in rows.iter().enumerate() {
            // After the last round of an instant, the instant is judged.
            let instant_ends = rows.get(i + 1).is_none_or(|n| n.at != r.at);
            judge_round(c, &blocks, judges, &downs, r);
            if instant_ends {
                for j in judges.values_mut() {
                    for w in j.judge_instant() {
                        let _ = ledger.send(w);
                    }
                }
            }
        }
        cursor = last;
        if !full {
            break;
        }
    }
    finish(judges, ledger, metrics, now);
    Ok(())
}

/// Takes one stored agent round into each block's judge.
fn judge_round(
    c: &Config,
    blocks: &[(String, String, usize)],
    judges: &mut HashMap<(String, String), Judge>,
    downs: &HashMap<String, Vec<(Ts, Ts)>>,
    r: &StoredRound,
) {
    let agent = &r.agent;
    let Some(at) = r.at else {
        return;
    };
    if !c.vantage.iter().any(|v| &v.id == agent) {
        return; // an agent no longer configured has no vote
    }
    let own = r.own_healthy;
    let summaries = &r.blocks;
    for (line, block, q) in blocks {
        let Some(j) = judges.get_mut(&(line.clone(), block.clone())) else {
            continue;
        };
        // Rounds are fed once, in (time, agent) order.
        if j.fed
            .is_some_and(|f| (at, agent.as_str()) <= (f, j.fed_agent.as_str()))
        {
            continue;
        }
        let s = summaries
            .iter()
            .find(|s| &s.line == line && &s.block == block);
        let down = downs
            .get(line)
            .is_some_and(|spans| spans.iter().any(|(a, b)| *a <= at && at < *b));
        j.see(agent, at, verdict(own, s), *q, down);
    }
}

/// Saves where judging got to and sets each block's state gauges.
fn finish(
    judges: &mut HashMap<(String, String), Judge>,
    ledger: &LedgerTx,
    metrics: &Metrics,
    now: Ts,
) {
    for j in judges.values_mut() {
        if j.settled != j.saved {
            if let Some(until) = j.settled {
                let _ = ledger.send(LedgerWrite::BlockJudged {
                    line: j.line.clone(),
                    block: j.block.clone(),
                    until,
                });
            }
            j.saved = j.settled;
        }
        // A block with no fresh round stands unobserved.
        let state = match j.fed {
            Some(f) if now - f <= STALE + HOLD => j.state,
            _ => RoundState::Unobserved,
        };
        metrics
            .vantage
            .set_block_state(&j.line, &j.block, state.name());
    }
}

/// Up to when every agent's rounds are in: the oldest latest round among
/// the configured agents that have sent any, an agent silent for more than
/// [`HOLD`] counted at now − HOLD. None: no agent has sent a round.
async fn watermark(db: &Ledger, c: &Config, now: Ts) -> Result<Option<Ts>, LedgerError> {
    let mut w: Option<Ts> = None;
    for v in &c.vantage {
        let Some(last) = latest_round_at(db, &v.id).await? else {
            continue;
        };
        let mark = last.max(now - HOLD).min(now);
        w = Some(w.map_or(mark, |w| w.min(mark)));
    }
    Ok(w)
}

/// Each line's own outages (from inside) overlapping `(from, to]`.
async fn line_downs(
    db: &Ledger,
    blocks: &[(String, String, usize)],
    from: Ts,
    to: Ts,
) -> Result<HashMap<String, Vec<(Ts, Ts)>>, LedgerError> {
    let mut out: HashMap<String, Vec<(Ts, Ts)>> = HashMap::new();
    for (line, _, _) in blocks {
        if out.contains_key(line) {
            continue;
        }
        let spans = line_outage_spans(db, line, from, to).await?;
        out.insert(line.clone(), spans);
    }
    Ok(out)
}

/// A judge for a block, resumed from where the ledger says judging ended.
async fn resume(
    db: &Ledger,
    c: &Config,
    line: &str,
    block: &str,
    now: Ts,
) -> Result<Judge, LedgerError> {
    let until = judged_until(db, line, block).await?;
    let open = open_block_outage(db, line, block).await?;
    let mut ev = Evaluator::new(c.probe.down_after, c.probe.up_after);
    match (open, until) {
        (Some(start), u) => ev.resume_outage(u.unwrap_or(start).max(start)),
        (None, Some(u)) => ev.resume_up(u),
        (None, None) => {}
    }
    // Each agent's latest round before the resume point, for the quorum.
    let mut views = Views::default();
    let from = until.or(open).unwrap_or(now - HOLD);
    for r in rounds_between(db, from - STALE, from, None).await? {
        let Some(at) = r.at else {
            continue;
        };
        let s = r.blocks.iter().find(|s| s.line == line && s.block == block);
        views.see(&r.agent, at, verdict(r.own_healthy, s));
    }
    tracing::info!(
        line,
        block,
        from = %ledger_ts(from),
        open_outage = open.is_some(),
        "block judge resumed"
    );
    Ok(Judge {
        line: line.into(),
        block: block.into(),
        views,
        ev,
        fed: Some(from),
        // Every round at the resume point was fed before it.
        fed_agent: "\u{10FFFF}".into(),
        pending: None,
        settled: until,
        saved: until,
        state: RoundState::Unobserved,
    })
}

fn close_unjudged(
    ledger: &LedgerTx,
    line: &str,
    block: &str,
    open: bool,
    fed: Option<Ts>,
    now: Ts,
) {
    if open {
        let at = fed.unwrap_or(now);
        let _ = ledger.send(LedgerWrite::BlockOutageClosed {
            line: line.into(),
            block: block.into(),
            end: at,
            end_after: at,
        });
    }
}

/// Open block outages of blocks the configuration no longer probes (left
/// from an earlier run): they end where judging them ended.
async fn close_orphans(
    db: &Ledger,
    blocks: &[(String, String, usize)],
    ledger: &LedgerTx,
    now: Ts,
) -> Result<(), LedgerError> {
    for (line, block, judged) in open_block_outages(db).await? {
        if blocks.iter().any(|(l, b, _)| *l == line && *b == block) {
            continue;
        }
        let at = judged.unwrap_or(now);
        tracing::warn!(
            line,
            block,
            "the block is no longer probed: its open outage ends where judging ended"
        );
        close_unjudged(ledger, &line, &block, true, Some(at), now);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Ts {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    /// (start, start_after) of each block outage opened.
    fn opened(writes: &[LedgerWrite]) -> Vec<(Ts, Option<Ts>)> {
        writes
            .iter()
            .filter_map(|w| match w {
                LedgerWrite::BlockOutageOpened {
                    start, start_after, ..
                } => Some((*start, *start_after)),
                _ => None,
            })
            .collect()
    }

    fn judge(down_after: u32, up_after: u32) -> Judge {
        Judge {
            line: "l".into(),
            block: "198.19.100.0/24".into(),
            views: Views::default(),
            ev: Evaluator::new(down_after, up_after),
            fed: None,
            fed_agent: String::new(),
            pending: None,
            settled: None,
            saved: None,
            state: RoundState::Unobserved,
        }
    }

    #[test]
    fn the_quorum_of_healthy_agents_decides() {
        let mut v = Views::default();
        v.see("a1", t(0), Verdict::NotReached);
        // One agent of two: not a quorum of healthy agents.
        assert_eq!(v.state(t(0), 2, false), RoundState::Unobserved);
        v.see("a2", t(2), Verdict::NotReached);
        assert!(matches!(v.state(t(2), 2, false), RoundState::Down(_)));
        // The line down from inside: its own outage, not the block's.
        assert_eq!(v.state(t(2), 2, true), RoundState::Unobserved);
        v.see("a1", t(5), Verdict::Reached);
        assert_eq!(v.state(t(5), 2, false), RoundState::Up);
        // An agent whose own side is down has no vote.
        v.see("a1", t(10), Verdict::Blind);
        v.see("a2", t(10), Verdict::NotReached);
        assert_eq!(v.state(t(10), 2, false), RoundState::Unobserved);
        // A third agent: two of three failing is down, one is not.
        v.see("a3", t(11), Verdict::NotReached);
        assert!(matches!(v.state(t(11), 2, false), RoundState::Down(_)));
        v.see("a2", t(12), Verdict::Reached);
        assert_eq!(v.state(t(12), 2, false), RoundState::Up);
        // A round older than STALE no longer stands.
        let late = t(12) + STALE + TimeDelta::seconds(1);
        assert_eq!(v.state(late, 1, false), RoundState::Unobserved);
        assert_eq!(linkledger_config::vantage::quorum(2, 1), 1);
        assert_eq!(linkledger_config::vantage::quorum(2, 3), 2);
    }

    #[test]
    fn edges_are_the_first_failed_and_first_good_round() {
        let mut j = judge(3, 2);
        let mut writes = Vec::new();
        // Two agents, 5 s apart, offset by 2 s; the block fails at 21.
        for k in 0..12 {
            for (agent, off) in [("a1", 0), ("a2", 2)] {
                let at = t(5 * k + off);
                let failed = (21..46).contains(&(5 * k + off));
                let v = if failed {
                    Verdict::NotReached
                } else {
                    Verdict::Reached
                };
                writes.extend(j.feed(agent, at, v, 2, false));
            }
        }
        let opened = opened(&writes);
        let closed: Vec<_> = writes
            .iter()
            .filter_map(|w| match w {
                LedgerWrite::BlockOutageClosed { end, end_after, .. } => Some((*end, *end_after)),
                _ => None,
            })
            .collect();
        // Down from the first round in which both had failed (a1 at 25,
        // after a2's failure at 22), bounded by the round before; up from
        // the first good round (a2 at 47), bounded by the last failed one.
        assert_eq!(opened, vec![(t(25), Some(t(22)))]);
        assert_eq!(closed, vec![(t(47), t(45))]);
        assert!(j.ev.settled());
    }

    #[test]
    fn rounds_of_one_instant_are_one_step() {
        let mut j = judge(2, 1);
        let mut writes = Vec::new();
        // Both agents round at the same instants; the block fails from 10.
        for k in 0..6 {
            let v = if k >= 2 {
                Verdict::NotReached
            } else {
                Verdict::Reached
            };
            for agent in ["a1", "a2"] {
                j.see(agent, t(5 * k), v, 2, false);
            }
            writes.extend(j.judge_instant());
        }
        let opened = opened(&writes);
        // Down from 10 (after two failed instants), bounded by 5: never by
        // a round of the same instant.
        assert_eq!(opened, vec![(t(10), Some(t(5)))]);
    }
}
