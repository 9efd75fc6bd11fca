//! The evaluator: from one line's rounds to its state and its outages.
//!
//! Pure: no sockets, no clocks. Each round's tier results and its timestamp
//! are arguments; what comes out are ledger events. See `DESIGN.md`:
//! an outage is declared after `down_after` failed rounds and ends after
//! `up_after` good rounds, but its recorded start is the first failed round
//! and its end the first good round, each with a bound (the last round of
//! the other kind), so hysteresis does not bias durations.

use chrono::{DateTime, Utc};

pub type Ts = DateTime<Utc>;

/// Results of one tier in one round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierResult {
    /// Targets configured in the tier.
    pub targets: usize,
    /// Probes that produced evidence (answered, timed out, or refused by the
    /// network). A probe that could not be sent at all is no evidence.
    pub observed: usize,
    /// Probes answered.
    pub answered: usize,
}

/// Why the carrier is blamed for a down round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The carrier's edge answers, the anchors beyond it do not.
    UpstreamUnreachable,
    /// The carrier's edge does not answer either.
    GatewayUnreachable,
    /// SNMP: the line's interface is operationally down while admin up.
    InterfaceDown,
    /// SNMP: the line's interface is administratively down (a deliberate
    /// shutdown, to be classified by the contract rules).
    AdminDown,
}

impl Cause {
    /// Evidence from the interface itself (SNMP), not inferred from probes.
    pub fn is_interface(self) -> bool {
        matches!(self, Cause::InterfaceDown | Cause::AdminDown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::UpstreamUnreachable => "upstream_unreachable",
            Cause::GatewayUnreachable => "gateway_unreachable",
            Cause::InterfaceDown => "interface_down",
            Cause::AdminDown => "admin_down",
        }
    }
}

/// The state of a line in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundState {
    Up,
    Down(Cause),
    LocalFault,
    Unobserved,
}

impl RoundState {
    pub fn name(self) -> &'static str {
        match self {
            RoundState::Up => "up",
            RoundState::Down(_) => "down",
            RoundState::LocalFault => "local_fault",
            RoundState::Unobserved => "unobserved",
        }
    }
}

/// The whole egress's state from its lines' declared states: `down` when
/// every line is down (the ledger's egress fault), `up` when any line is
/// up, else `local_fault` when any line is cut off on our own side, else
/// `unobserved`.
pub fn egress_state<'a>(lines: impl IntoIterator<Item = &'a str>) -> &'static str {
    let (mut n, mut down, mut up, mut local) = (0, 0, 0, 0);
    for s in lines {
        n += 1;
        match s {
            "down" => down += 1,
            "up" => up += 1,
            "local_fault" => local += 1,
            _ => {}
        }
    }
    if n > 0 && down == n {
        "down"
    } else if up > 0 {
        "up"
    } else if local > 0 {
        "local_fault"
    } else {
        "unobserved"
    }
}

/// Decides a round's state from its tiers.
///
/// `up` needs `quorum` upstream answers. Without them the line is
/// `local_fault` when our own side (a configured local tier) answered
/// nothing, else `down`. A tier with no evidence at all makes the round
/// `unobserved`, except that an upstream quorum is always `up`.
pub fn classify(
    local: TierResult,
    gateway: TierResult,
    upstream: TierResult,
    quorum: usize,
) -> RoundState {
    if upstream.answered >= quorum {
        return RoundState::Up;
    }
    let blind = |t: TierResult| t.targets > 0 && t.observed == 0;
    if blind(local) || blind(gateway) || blind(upstream) {
        return RoundState::Unobserved;
    }
    if local.targets > 0 && local.answered == 0 {
        return RoundState::LocalFault;
    }
    if gateway.targets > 0 && gateway.answered == 0 {
        RoundState::Down(Cause::GatewayUnreachable)
    } else {
        RoundState::Down(Cause::UpstreamUnreachable)
    }
}

/// Combines a round's probe verdict with what SNMP says of the line's
/// interface: the interface being down (operationally or administratively)
/// makes a failed round `down` with that cause (declared at once) — but
/// never a round whose upstream answered: the last poll's status is up to
/// a poll interval old, and an answer from beyond the carrier is proof the
/// line is up now (a round that could not probe at all takes the
/// interface's word). Nor a round where our own side did not answer: the
/// agent (on our side too) is no better evidence than the local tier, and
/// the round stays a local fault.
pub fn with_interface_evidence(probed: RoundState, interface: Option<Cause>) -> RoundState {
    match (probed, interface) {
        (RoundState::LocalFault | RoundState::Up, _) | (_, None) => probed,
        (_, Some(cause)) => RoundState::Down(cause),
    }
}

/// What the ledger must record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `start` is the first failed round; `start_after` the last good round
    /// before it (None when nothing was known before).
    OutageOpened {
        start: Ts,
        start_after: Option<Ts>,
        cause: Cause,
    },
    /// Evidence of the open outage's cause seen after it was declared: the
    /// interface's own status (SNMP).
    OutageCause {
        at: Ts,
        cause: Cause,
    },
    /// `end` is the first good round; `end_after` the last failed round.
    OutageClosed {
        end: Ts,
        end_after: Ts,
    },
    LocalFaultOpened {
        start: Ts,
        start_after: Option<Ts>,
    },
    LocalFaultClosed {
        end: Ts,
        end_after: Ts,
    },
    /// The line was unobserved from `start` (first blind round) to `end`
    /// (first round with evidence again).
    Unobserved {
        start: Ts,
        end: Ts,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Unknown,
    Up,
    Outage,
    LocalFault,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    condition: Condition,
    first: Ts,
    rounds: u32,
    cause: Option<Cause>,
    /// The round with evidence just before `first`: the bound of the edge.
    before: Option<Ts>,
}

/// One line's hysteresis state machine.
#[derive(Debug, Clone)]
pub struct Evaluator {
    down_after: u32,
    up_after: u32,
    confirmed: Condition,
    /// Time of the latest round with evidence (any state but unobserved).
    prev_round: Option<Ts>,
    candidate: Option<Candidate>,
    unobserved_since: Option<Ts>,
    last_state: RoundState,
    /// The interface evidence already recorded for the open outage.
    outage_interface_cause: Option<Cause>,
    /// Where observation resumed after a daemon gap (the gap's end), until
    /// the first round: an edge seen in that round begins there.
    resumed_at: Option<Ts>,
    /// Loss and latency windows of the line's anchors (set by its task).
    pub quality: Option<crate::quality::LineQuality>,
    /// Utilisation of the contracted bandwidth, from the rates the line's
    /// SNMP poller sends its task (kept across reloads with the rest).
    pub utilisation: Option<crate::quality::Utilisation>,
}

impl Evaluator {
    pub fn new(down_after: u32, up_after: u32) -> Self {
        Self {
            down_after: down_after.max(1),
            up_after: up_after.max(1),
            confirmed: Condition::Unknown,
            prev_round: None,
            candidate: None,
            unobserved_since: None,
            last_state: RoundState::Unobserved,
            outage_interface_cause: None,
            resumed_at: None,
            quality: None,
            utilisation: None,
        }
    }

    /// Continues an outage the ledger holds open from before a restart;
    /// `seen_until` is the last time the previous run saw the line down.
    pub fn resume_outage(&mut self, seen_until: Ts) {
        self.confirmed = Condition::Outage;
        self.prev_round = Some(seen_until);
        self.candidate = None;
    }

    /// Continues a local fault the ledger holds open from before a restart.
    pub fn resume_local_fault(&mut self, seen_until: Ts) {
        self.confirmed = Condition::LocalFault;
        self.prev_round = Some(seen_until);
        self.candidate = None;
    }

    /// Continues from a point the ledger says the line (or block) was up at,
    /// with no change pending.
    pub fn resume_up(&mut self, seen_until: Ts) {
        self.confirmed = Condition::Up;
        self.prev_round = Some(seen_until);
        self.candidate = None;
    }

    /// Continues after a daemon gap for a line the previous run held up:
    /// `seen_up_until` is that run's last heartbeat, `observed_from` the
    /// gap's end. An outage (or local fault) the first rounds find begins at
    /// `observed_from`, bounded by `seen_up_until`: the gap and the episode
    /// meet without a hole, and the edge has its bound.
    pub fn resume_after_gap(&mut self, seen_up_until: Ts, observed_from: Ts) {
        self.resume_up(seen_up_until);
        self.resumed_at = Some(observed_from);
    }

    /// Whether no change is pending: every round fed so far is accounted
    /// for in the events returned (a judge may resume from here).
    pub fn settled(&self) -> bool {
        self.candidate.is_none()
    }

    /// Whether nothing is open: declared up, no change pending, no
    /// degradation. A wall-clock step is followed only when every line is
    /// quiet, so that no recorded duration spans it.
    pub fn quiet(&self) -> bool {
        self.settled()
            && self.resumed_at.is_none()
            && self.declared() == "up"
            && self.quality.as_ref().is_none_or(|q| q.active().is_empty())
            && self.utilisation.as_ref().is_none_or(|u| !u.active())
    }

    /// Takes the thresholds of a reloaded config, keeping the state.
    pub fn set_thresholds(&mut self, down_after: u32, up_after: u32) {
        self.down_after = down_after.max(1);
        self.up_after = up_after.max(1);
    }

    /// The state of the latest round.
    pub fn state(&self) -> RoundState {
        self.last_state
    }

    /// Whether an outage is open (declared and not yet over).
    pub fn in_outage(&self) -> bool {
        self.confirmed == Condition::Outage
    }

    /// Since when the line has been unobserved, if it is now.
    pub fn unobserved_since(&self) -> Option<Ts> {
        self.unobserved_since
    }

    /// Whether the line is declared up (no outage or local fault open).
    pub fn confirmed_up(&self) -> bool {
        self.confirmed == Condition::Up
    }

    /// The line's declared state, as the ledger holds it: `up`, `down`
    /// (an outage open), `local_fault`, or `unobserved` (the latest rounds
    /// have no evidence, or nothing is declared yet). Unlike the latest
    /// round's state it changes only at the edges the ledger records.
    pub fn declared(&self) -> &'static str {
        if self.unobserved_since.is_some() {
            return "unobserved";
        }
        match self.confirmed {
            Condition::Up => "up",
            Condition::Outage => "down",
            Condition::LocalFault => "local_fault",
            Condition::Unknown => "unobserved",
        }
    }

    /// Whether a local fault is open.
    pub fn in_local_fault(&self) -> bool {
        self.confirmed == Condition::LocalFault
    }

    /// The interface's own status, read down by an SNMP poll at `seen`,
    /// fed as soon as the line's task sees a new poll. SNMP polls less
    /// often than ICMP rounds, so a poll may land after the last failed
    /// round and before the line answers again: it is evidence of the open
    /// outage all the same and is recorded (once per cause). A poll read
    /// after the line already answered again (a down status snmpd still
    /// caches) is stale and names nothing.
    pub fn interface_seen(&mut self, cause: Cause, seen: Ts) -> Option<Event> {
        if self.confirmed != Condition::Outage
            || !cause.is_interface()
            || self.outage_interface_cause == Some(cause)
        {
            return None;
        }
        if let Some(c) = self.candidate {
            if c.condition != Condition::Outage && seen >= c.first {
                return None;
            }
        }
        self.outage_interface_cause = Some(cause);
        Some(Event::OutageCause { at: seen, cause })
    }

    /// Feeds one round; returns what the ledger must record, in order.
    pub fn observe(&mut self, state: RoundState, at: Ts) -> Vec<Event> {
        self.last_state = state;
        // The first round after a gap: a change it sees began where the gap
        // ended (no round came in between). A blind first round ends that.
        let resumed = self.resumed_at.take().filter(|t| *t <= at);
        let mut events = Vec::new();
        let (condition, cause) = match state {
            RoundState::Unobserved => {
                self.unobserved_since.get_or_insert(at);
                return events;
            }
            RoundState::Up => (Condition::Up, None),
            RoundState::Down(c) => (Condition::Outage, Some(c)),
            RoundState::LocalFault => (Condition::LocalFault, None),
        };
        if let Some(start) = self.unobserved_since.take() {
            events.push(Event::Unobserved { start, end: at });
        }
        let before = self.prev_round.replace(at);
        if condition == self.confirmed {
            self.candidate = None;
            // The interface's own status arriving after the outage was
            // declared (SNMP polls less often than ICMP rounds) is recorded.
            if let Some(c) = cause.filter(|c| c.is_interface()) {
                if self.outage_interface_cause != Some(c) {
                    self.outage_interface_cause = Some(c);
                    events.push(Event::OutageCause { at, cause: c });
                }
            }
            return events;
        }
        let candidate = match self.candidate {
            Some(mut c) if c.condition == condition => {
                c.rounds += 1;
                if cause.is_some_and(Cause::is_interface) {
                    c.cause = cause; // the most specific evidence names the cause
                }
                c
            }
            _ => Candidate {
                condition,
                first: resumed.unwrap_or(at),
                rounds: 1,
                cause,
                before,
            },
        };
        let needed = if condition == Condition::Up {
            self.up_after
        } else if candidate.cause.is_some_and(Cause::is_interface) {
            1 // the interface's own status is seen at once, no hysteresis
        } else {
            self.down_after
        };
        if candidate.rounds < needed {
            self.candidate = Some(candidate);
            return events;
        }
        // Confirmed: close what was, open what is, both at the candidate's
        // first round, bounded by the round with evidence before it.
        let first = candidate.first;
        match (self.confirmed, candidate.before) {
            (Condition::Outage, Some(end_after)) => events.push(Event::OutageClosed {
                end: first,
                end_after,
            }),
            (Condition::LocalFault, Some(end_after)) => events.push(Event::LocalFaultClosed {
                end: first,
                end_after,
            }),
            _ => {}
        }
        let start_after = candidate.before;
        match condition {
            Condition::Outage => events.push(Event::OutageOpened {
                start: candidate.first,
                start_after,
                cause: candidate.cause.unwrap_or(Cause::UpstreamUnreachable),
            }),
            Condition::LocalFault => events.push(Event::LocalFaultOpened {
                start: candidate.first,
                start_after,
            }),
            Condition::Up | Condition::Unknown => {}
        }
        self.outage_interface_cause = match condition {
            Condition::Outage => candidate.cause.filter(|c| c.is_interface()),
            _ => None,
        };
        self.confirmed = condition;
        self.candidate = None;
        events
    }
}

#[cfg(test)]
#[path = "evaluator_tests.rs"]
mod tests;
