//! The three tiers a line's probes go to, nearest first: our own side
//! (local), the carrier's gateway, the upstream anchors beyond the carrier.
//! Which tiers answer says whose side a failure is on.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Local,
    Gateway,
    Upstream,
}

impl Tier {
    /// Nearest first, as a round classifies them.
    pub const ALL: [Tier; 3] = [Tier::Local, Tier::Gateway, Tier::Upstream];

    /// The name in the ledger, the config and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Local => "local",
            Tier::Gateway => "gateway",
            Tier::Upstream => "upstream",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Its place in a round, nearest first.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// By name, so series keyed by tier list in label order.
impl Ord for Tier {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Tier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_as_labels_do() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
            assert_eq!(Tier::ALL[t.index()], t);
        }
        assert_eq!(Tier::parse("carrier"), None);
        let mut sorted = Tier::ALL;
        sorted.sort();
        assert_eq!(sorted, [Tier::Gateway, Tier::Local, Tier::Upstream]);
    }
}
