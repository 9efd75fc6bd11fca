//! Evaluator tests with synthetic timestamps, one round per second.

use super::*;
use chrono::TimeZone;

const UP: RoundState = RoundState::Up;
const DOWN: RoundState = RoundState::Down(Cause::UpstreamUnreachable);
const LOCAL: RoundState = RoundState::LocalFault;
const BLIND: RoundState = RoundState::Unobserved;

fn t(s: i64) -> Ts {
    Utc.timestamp_opt(1_750_000_000 + s, 0).unwrap()
}

/// Feeds `states` at t(0), t(1), ... and returns every event with its round.
fn run(ev: &mut Evaluator, from: i64, states: &[RoundState]) -> Vec<(i64, Event)> {
    let mut out = Vec::new();
    for (i, s) in states.iter().enumerate() {
        let at = from + i as i64;
        out.extend(ev.observe(*s, t(at)).into_iter().map(|e| (at, e)));
    }
    out
}

fn tier(targets: usize, answered: usize) -> TierResult {
    TierResult {
        targets,
        observed: targets,
        answered,
    }
}

#[test]
fn outage_is_declared_late_but_recorded_from_the_first_failed_round() {
    let mut ev = Evaluator::new(3, 2);
    let mut states = vec![UP; 5];
    states.extend([DOWN; 10]);
    states.extend([UP; 4]);
    let events = run(&mut ev, 0, &states);
    assert_eq!(
        events,
        vec![
            // declared in round 7 (third failure), backdated to round 5
            (
                7,
                Event::OutageOpened {
                    start: t(5),
                    start_after: Some(t(4)),
                    cause: Cause::UpstreamUnreachable
                }
            ),
            // declared in round 16 (second good round), backdated to round 15
            (
                16,
                Event::OutageClosed {
                    end: t(15),
                    end_after: t(14)
                }
            ),
        ]
    );
}

#[test]
fn fewer_failures_than_down_after_is_no_outage() {
    let mut ev = Evaluator::new(3, 2);
    let states = [UP, DOWN, DOWN, UP, DOWN, UP, UP, DOWN, DOWN, UP];
    assert_eq!(run(&mut ev, 0, &states), vec![]);
    assert!(!ev.in_outage());
}

#[test]
fn flapping_during_an_outage_keeps_one_outage() {
    let mut ev = Evaluator::new(3, 2);
    let mut states = vec![UP, UP, DOWN, DOWN, DOWN];
    // single good rounds between failures do not end it
    for _ in 0..10 {
        states.extend([UP, DOWN, DOWN]);
    }
    states.extend([UP, UP]);
    let events = run(&mut ev, 0, &states);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(events[0].1, Event::OutageOpened { start, .. } if start == t(2)));
    let end = states.len() as i64 - 2;
    assert_eq!(
        events[1].1,
        Event::OutageClosed {
            end: t(end),
            end_after: t(end - 1)
        }
    );
}

#[test]
fn quorum_decides_up() {
    let none = tier(0, 0);
    assert_eq!(
        classify(tier(1, 1), tier(1, 1), tier(3, 2), 2),
        RoundState::Up
    );
    assert_eq!(
        classify(tier(1, 1), tier(1, 1), tier(3, 1), 2),
        RoundState::Down(Cause::UpstreamUnreachable)
    );
    assert_eq!(
        classify(tier(1, 1), tier(1, 0), tier(3, 1), 2),
        RoundState::Down(Cause::GatewayUnreachable)
    );
    // no local or gateway tier configured: the upstream alone decides
    assert_eq!(
        classify(none, none, tier(2, 0), 1),
        RoundState::Down(Cause::UpstreamUnreachable)
    );
}

#[test]
fn our_side_failing_is_a_local_fault_not_an_outage() {
    assert_eq!(
        classify(tier(2, 0), tier(1, 0), tier(2, 0), 1),
        RoundState::LocalFault
    );
    let mut ev = Evaluator::new(3, 2);
    let mut states = vec![UP; 3];
    states.extend([LOCAL; 6]);
    states.extend([UP; 2]);
    let events = run(&mut ev, 0, &states);
    assert_eq!(
        events,
        vec![
            (
                5,
                Event::LocalFaultOpened {
                    start: t(3),
                    start_after: Some(t(2))
                }
            ),
            (
                10,
                Event::LocalFaultClosed {
                    end: t(9),
                    end_after: t(8)
                }
            ),
        ]
    );
}

#[test]
fn no_evidence_is_unobserved_not_down() {
    let blind = TierResult {
        targets: 2,
        observed: 0,
        answered: 0,
    };
    assert_eq!(
        classify(tier(1, 1), tier(1, 1), blind, 1),
        RoundState::Unobserved
    );
    // but a quorum of answers is up whatever else failed to send
    assert_eq!(classify(blind, tier(1, 1), tier(2, 1), 1), RoundState::Up);
}

#[test]
fn unobserved_rounds_neither_confirm_nor_break_an_outage() {
    let mut ev = Evaluator::new(3, 2);
    let mut states = vec![UP, DOWN, DOWN, DOWN];
    states.extend([BLIND; 5]);
    states.extend([DOWN, UP, UP]);
    let events = run(&mut ev, 0, &states);
    assert_eq!(
        events,
        vec![
            (
                3,
                Event::OutageOpened {
                    start: t(1),
                    start_after: Some(t(0)),
                    cause: Cause::UpstreamUnreachable
                }
            ),
            (
                9,
                Event::Unobserved {
                    start: t(4),
                    end: t(9)
                }
            ),
            (
                11,
                Event::OutageClosed {
                    end: t(10),
                    end_after: t(9)
                }
            ),
        ]
    );
}

#[test]
fn first_rounds_after_start_have_no_lower_bound() {
    let mut ev = Evaluator::new(3, 2);
    let events = run(&mut ev, 0, &[DOWN, DOWN, DOWN]);
    assert_eq!(
        events,
        vec![(
            2,
            Event::OutageOpened {
                start: t(0),
                start_after: None,
                cause: Cause::UpstreamUnreachable
            }
        )]
    );
}

#[test]
fn a_round_straddling_a_restart_continues_the_open_outage() {
    // The previous run saw the line down until t(10), then was killed; the
    // new run starts at t(20) and the line is still down, later up.
    let mut ev = Evaluator::new(3, 2);
    ev.resume_outage(t(10));
    let events = run(&mut ev, 20, &[DOWN, DOWN, DOWN, UP, UP]);
    assert_eq!(
        events,
        vec![(
            24,
            Event::OutageClosed {
                end: t(23),
                end_after: t(22)
            }
        )]
    );
}

#[test]
fn an_outage_over_during_the_restart_is_closed_with_honest_bounds() {
    let mut ev = Evaluator::new(3, 2);
    ev.resume_outage(t(10));
    let events = run(&mut ev, 20, &[UP, UP]);
    // It ended somewhere between t(10) (last seen down) and t(20).
    assert_eq!(
        events,
        vec![(
            21,
            Event::OutageClosed {
                end: t(20),
                end_after: t(10)
            }
        )]
    );
}

#[test]
fn carrier_outage_turning_into_a_local_fault_closes_the_outage() {
    let mut ev = Evaluator::new(3, 2);
    let mut states = vec![UP, DOWN, DOWN, DOWN, DOWN];
    states.extend([LOCAL; 3]);
    let events = run(&mut ev, 0, &states);
    assert_eq!(
        events[1..],
        [
            (
                7,
                Event::OutageClosed {
                    end: t(5),
                    end_after: t(4)
                }
            ),
            (
                7,
                Event::LocalFaultOpened {
                    start: t(5),
                    start_after: Some(t(4))
                }
            ),
        ]
    );
}

#[test]
fn interface_down_from_snmp_declares_the_outage_at_once_from_the_first_failed_round() {
    let mut ev = Evaluator::new(3, 2);
    let iface = RoundState::Down(Cause::InterfaceDown);
    // One ICMP failure, then SNMP sees the port down: declared in that round,
    // backdated to the first failure, with the interface as the cause.
    let events = run(&mut ev, 0, &[UP, UP, DOWN, iface, iface, UP, UP]);
    assert_eq!(
        events,
        vec![
            (
                3,
                Event::OutageOpened {
                    start: t(2),
                    start_after: Some(t(1)),
                    cause: Cause::InterfaceDown
                }
            ),
            (
                6,
                Event::OutageClosed {
                    end: t(5),
                    end_after: t(4)
                }
            ),
        ]
    );
    let mut ev = Evaluator::new(3, 2);
    let admin = RoundState::Down(Cause::AdminDown);
    assert_eq!(
        run(&mut ev, 0, &[UP, admin]),
        vec![(
            1,
            Event::OutageOpened {
                start: t(1),
                start_after: Some(t(0)),
                cause: Cause::AdminDown
            }
        )]
    );
}

#[test]
fn interface_evidence_after_an_icmp_declared_outage_is_recorded_once() {
    let mut ev = Evaluator::new(3, 2);
    let gw = RoundState::Down(Cause::GatewayUnreachable);
    let iface = RoundState::Down(Cause::InterfaceDown);
    let events = run(&mut ev, 0, &[UP, gw, gw, gw, gw, iface, iface, gw, UP, UP]);
    assert_eq!(
        events,
        vec![
            (
                3,
                Event::OutageOpened {
                    start: t(1),
                    start_after: Some(t(0)),
                    cause: Cause::GatewayUnreachable
                }
            ),
            (
                5,
                Event::OutageCause {
                    at: t(5),
                    cause: Cause::InterfaceDown
                }
            ),
            (
                9,
                Event::OutageClosed {
                    end: t(8),
                    end_after: t(7)
                }
            ),
        ]
    );
}

#[test]
fn a_poll_read_down_between_the_last_failed_round_and_the_return_is_kept() {
    let mut ev = Evaluator::new(3, 2);
    let gw = RoundState::Down(Cause::GatewayUnreachable);
    run(&mut ev, 0, &[UP, gw, gw, gw, gw]);
    assert!(ev.in_outage());
    // The poll lands at 4.5 s; the round at 5 s is the first to answer.
    let seen = t(4) + chrono::Duration::milliseconds(500);
    assert_eq!(
        ev.interface_seen(Cause::InterfaceDown, seen),
        Some(Event::OutageCause {
            at: seen,
            cause: Cause::InterfaceDown
        })
    );
    // Once per cause, however many rounds still see the same poll.
    assert_eq!(ev.interface_seen(Cause::InterfaceDown, seen), None);
    let closed = run(&mut ev, 5, &[UP, UP]);
    assert_eq!(
        closed,
        vec![(
            6,
            Event::OutageClosed {
                end: t(5),
                end_after: t(4)
            }
        )]
    );
    // After the outage nothing more is evidence of it.
    assert_eq!(ev.interface_seen(Cause::AdminDown, t(7)), None);
}

#[test]
fn a_poll_read_after_the_line_answered_again_names_nothing() {
    let mut ev = Evaluator::new(3, 2);
    let gw = RoundState::Down(Cause::GatewayUnreachable);
    run(&mut ev, 0, &[UP, gw, gw, gw, UP]);
    assert!(ev.in_outage(), "one good round is not yet the end");
    // snmpd still caches the down status after the port came back.
    assert_eq!(ev.interface_seen(Cause::InterfaceDown, t(4)), None);
    assert_eq!(
        ev.interface_seen(Cause::InterfaceDown, t(5)),
        None,
        "read after the first good round"
    );
    // Read before the first good round: the port really was down.
    assert!(ev
        .interface_seen(
            Cause::InterfaceDown,
            t(3) + chrono::Duration::milliseconds(900)
        )
        .is_some());
}

#[test]
fn interface_evidence_decides_except_when_our_side_is_silent_or_upstream_answers() {
    let iface = Some(Cause::InterfaceDown);
    // The last poll's status is up to a poll interval old: an answer from
    // beyond the carrier says the line is up now.
    assert_eq!(with_interface_evidence(UP, iface), UP);
    assert_eq!(
        with_interface_evidence(DOWN, iface),
        RoundState::Down(Cause::InterfaceDown)
    );
    assert_eq!(
        with_interface_evidence(BLIND, iface),
        RoundState::Down(Cause::InterfaceDown)
    );
    assert_eq!(with_interface_evidence(LOCAL, iface), LOCAL);
    assert_eq!(with_interface_evidence(DOWN, None), DOWN);
}

#[test]
fn a_stale_interface_down_never_keeps_a_line_down_after_upstream_answers() {
    // The port is down from round 2 to 12 (ICMP fails), SNMP (every 10 s)
    // saw it down at round 5 and says so until its next poll at round 15.
    let mut ev = Evaluator::new(3, 2);
    let mut states = Vec::new();
    for round in 0..20 {
        let probed = if (2..12).contains(&round) { DOWN } else { UP };
        let iface = (5..15).contains(&round).then_some(Cause::InterfaceDown);
        states.push(with_interface_evidence(probed, iface));
    }
    let events = run(&mut ev, 0, &states);
    let closed: Vec<_> = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::OutageClosed { .. }))
        .collect();
    assert_eq!(
        closed,
        [&(
            13,
            Event::OutageClosed {
                end: t(12),
                end_after: t(11)
            }
        )],
        "the outage ends at the first good round, not at the next poll"
    );
}

#[test]
fn egress_is_down_only_when_every_line_is() {
    assert_eq!(egress_state(["down", "down", "down"]), "down");
    assert_eq!(egress_state(["down", "up", "down"]), "up");
    assert_eq!(egress_state(["down", "local_fault", "down"]), "local_fault");
    assert_eq!(egress_state(["down", "unobserved"]), "unobserved");
    assert_eq!(egress_state([]), "unobserved");
}

#[test]
fn the_declared_state_changes_only_at_the_recorded_edges() {
    let mut e = Evaluator::new(3, 2);
    assert_eq!(e.declared(), "unobserved");
    e.observe(RoundState::Up, t(0));
    assert_eq!(e.declared(), "unobserved", "not yet up_after rounds");
    e.observe(RoundState::Up, t(1));
    assert_eq!(e.declared(), "up");
    let down = DOWN;
    // Two lost rounds under loss: the round state flickers, the declared one not.
    e.observe(down, t(2));
    e.observe(down, t(3));
    assert_eq!(e.state().name(), "down");
    assert_eq!(e.declared(), "up");
    e.observe(RoundState::Up, t(4));
    e.observe(down, t(5));
    e.observe(down, t(6));
    e.observe(down, t(7));
    assert_eq!(e.declared(), "down");
    e.observe(RoundState::Unobserved, t(8));
    assert_eq!(e.declared(), "unobserved");
    e.observe(RoundState::Up, t(9));
    assert_eq!(e.declared(), "down", "one good round is not yet up");
    e.observe(RoundState::Up, t(10));
    assert_eq!(e.declared(), "up");
}

/// A line the previous run held up, found down by this run's first rounds:
/// the outage begins where the daemon gap ended, bounded by the previous
/// run's last heartbeat (the gap and the outage meet without a hole).
#[test]
fn a_line_found_down_after_a_gap_starts_at_the_gaps_end_with_its_bound() {
    let mut ev = Evaluator::new(3, 2);
    // Last heartbeat at t(0); the daemon is back at t(10); first round t(11).
    ev.resume_after_gap(t(0), t(10));
    let events = run(&mut ev, 11, &[DOWN; 4]);
    assert_eq!(
        events,
        [(
            13,
            Event::OutageOpened {
                start: t(10),
                start_after: Some(t(0)),
                cause: Cause::UpstreamUnreachable,
            }
        )]
    );
}

/// A first round that is good takes nothing from the gap: a later outage
/// begins at its own first failed round, bounded by the last good one.
#[test]
fn after_a_good_first_round_edges_are_as_ever() {
    let mut ev = Evaluator::new(3, 2);
    ev.resume_after_gap(t(0), t(10));
    let mut states = vec![UP; 2];
    states.extend([DOWN; 3]);
    let events = run(&mut ev, 11, &states);
    assert_eq!(
        events,
        [(
            15,
            Event::OutageOpened {
                start: t(13),
                start_after: Some(t(12)),
                cause: Cause::UpstreamUnreachable,
            }
        )]
    );
    // A blind first round ends the resume point too.
    let mut ev = Evaluator::new(3, 2);
    ev.resume_after_gap(t(0), t(10));
    let events = run(&mut ev, 11, &[BLIND, DOWN, DOWN, DOWN]);
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        Event::OutageOpened { start, .. } if *start == t(12)
    )));
}
