//! How the central keeps an agent's round: the agent's target list once
//! per distinct list, the indices of the targets that did not answer as
//! ranges ("3,7-9"), and per configured block a summary (targets probed,
//! answered, median round-trip). A round of 1,000 answering targets is a
//! row of about a hundred bytes instead of 67 KB of JSON.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use linkledger_config::Line;
use linkledger_core::batch::Round;

/// One block as one agent saw it in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSummary {
    pub line: String,
    pub block: String,
    pub targets: u32,
    pub answered: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_p50_us: Option<u64>,
}

/// The indices of `flags` that are false, as ranges: "0,3-5".
pub fn unanswered_ranges(answered: impl IntoIterator<Item = bool>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    let flush = |r: (usize, usize), out: &mut Vec<String>| {
        out.push(if r.0 == r.1 {
            r.0.to_string()
        } else {
            format!("{}-{}", r.0, r.1)
        })
    };
    for (i, ok) in answered.into_iter().enumerate() {
        match (ok, run) {
            (false, Some((a, b))) if b + 1 == i => run = Some((a, i)),
            (false, _) => {
                if let Some(r) = run.take() {
                    flush(r, &mut out);
                }
                run = Some((i, i));
            }
            (true, _) => {}
        }
    }
    if let Some(r) = run {
        flush(r, &mut out);
    }
    out.join(",")
}

/// The indices in a ranges string; None when it is not one.
pub fn parse_ranges(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Which configured block a target string belongs to.
pub fn block_of<'a>(lines: &'a [Line], target: &str) -> Option<(&'a Line, IpNet)> {
    let t: linkledger_config::vantage::BlockTarget = target.parse().ok()?;
    lines.iter().find_map(|l| {
        if !l.block_targets.contains(&t) {
            return None;
        }
        l.ip_blocks
            .iter()
            .find(|b| b.contains(&t.addr))
            .map(|b| (l, *b))
    })
}

/// The per-block summaries of a round, in configuration order. Targets the
/// configuration no longer names are kept in the round's target list but
/// summarised nowhere.
pub fn summarise(lines: &[Line], round: &Round) -> Vec<BlockSummary> {
    let mut out: Vec<(BlockSummary, Vec<u64>)> = Vec::new();
    for r in &round.results {
        let Some((line, block)) = block_of(lines, &r.target) else {
            continue;
        };
        let block = block.to_string();
        let i = match out
            .iter()
            .position(|(s, _)| s.line == line.id && s.block == block)
        {
            Some(i) => i,
            None => {
                out.push((
                    BlockSummary {
                        line: line.id.clone(),
                        block,
                        targets: 0,
                        answered: 0,
                        rtt_p50_us: None,
                    },
                    Vec::new(),
                ));
                out.len() - 1
            }
        };
        let (s, rtts) = &mut out[i];
        s.targets += 1;
        if r.answered {
            s.answered += 1;
            if let Some(ms) = r.rtt_ms.filter(|m| m.is_finite() && *m >= 0.0) {
                rtts.push((ms * 1000.0).round() as u64);
            }
        }
    }
    out.into_iter()
        .map(|(mut s, mut rtts)| {
            rtts.sort_unstable();
            s.rtt_p50_us = rtts.get(rtts.len() / 2).copied();
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip() {
        let flags = [false, true, true, false, false, false, true, false];
        let s = unanswered_ranges(flags);
        assert_eq!(s, "0,3-5,7");
        assert_eq!(parse_ranges(&s).unwrap(), vec![0, 3, 4, 5, 7]);
        assert_eq!(unanswered_ranges([true, true]), "");
        assert_eq!(parse_ranges("").unwrap(), Vec::<usize>::new());
        assert_eq!(unanswered_ranges(vec![false; 1000]), "0-999");
        assert!(parse_ranges("5-3").is_none());
        assert!(parse_ranges("x").is_none());
    }
}
