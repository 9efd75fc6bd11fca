//! Following a wall clock that steps while the daemon runs (NTP setting a
//! clock that was wrong at boot). Ledger times are the run's start reading
//! plus monotonic time ([`RunClock`]); when the wall clock and that
//! timeline disagree by more than a second:
//! - a forward step is followed at a round boundary of every line at once
//!   (their judgements are held for that moment by [`ClockGate`]) when nothing is
//!   open: every line up and settled (no outage, local fault, unobserved
//!   spell, degradation or unconfirmed change), no block outage open and
//!   no fault open or with a deadline running (a repair report's window
//!   moves with the step instead: it is judged with the steps followed
//!   since the resolution added). No recorded duration then spans the step, so it neither
//!   makes nor swallows downtime, gap time or deadline time. Until then the
//!   step waits (said once) and `linkledger_clock_offset_seconds` shows it;
//! - a backward step is not followed: the times it would repeat are in the
//!   ledger already. The run's times stay ahead of the wall clock.
//!
//! Either way the step is recorded in `clock_steps` with both readings.

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::write::{LedgerTx, LedgerWrite};
use linkledger_ledger::Ledger;
use tokio::sync::{RwLock, RwLockReadGuard};
use tracing::{info, warn};

/// A step is noticed when the two readings differ by more than this.
pub const TOLERANCE: TimeDelta = TimeDelta::seconds(1);

/// Holds the line rounds for the moment a step is followed, and knows
/// which lines have something open.
#[derive(Default)]
pub struct ClockGate {
    rounds: RwLock<()>,
    busy: Mutex<HashSet<String>>,
}

impl ClockGate {
    /// Held by a line for one round, from reading its time to recording
    /// what it judged.
    pub async fn round(&self) -> RwLockReadGuard<'_, ()> {
        self.rounds.read().await
    }

    /// Says whether the line has anything open after its round.
    pub fn set_quiet(&self, line: &str, quiet: bool) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if quiet {
            busy.remove(line);
        } else if !busy.contains(line) {
            busy.insert(line.to_string());
        }
    }

    /// A line no longer configured.
    pub fn forget(&self, line: &str) {
        self.set_quiet(line, true);
    }

    fn busy_lines(&self) -> Vec<String> {
        let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines: Vec<String> = busy.iter().cloned().collect();
        lines.sort();
        lines
    }
}

/// What the heartbeat task remembers between its checks.
#[derive(Default)]
pub struct StepWatch {
    /// The step said to be waiting (its size in whole seconds), so that it
    /// is said once.
    waiting_said: Option<i64>,
    /// The backward step recorded last (ms), so that it is recorded once.
    held_back_ms: Option<i64>,
}

/// Checks the wall clock against the run's timeline and follows or records
/// a step; returns the offset left (wall minus timeline), for the metric,
/// and the step followed, if one was.
pub async fn check(
    watch: &mut StepWatch,
    clock: &RunClock,
    gate: &ClockGate,
    db: &Ledger,
    config: &Config,
    ledger: &LedgerTx,
) -> (TimeDelta, Option<TimeDelta>) {
    let offset = clock.wall_offset();
    if offset.abs() <= TOLERANCE {
        watch.waiting_said = None;
        return (offset, None);
    }
    if offset < TimeDelta::zero() {
        let ms = offset.num_milliseconds();
        if watch
            .held_back_ms
            .is_none_or(|seen| (seen - ms).abs() > TOLERANCE.num_milliseconds())
        {
            let run_time = clock.now();
            warn!(
                step_s = ms as f64 / 1000.0,
                "the wall clock stepped back; not followed (the times it would repeat are in the ledger already): this run's times stay ahead of it"
            );
            let _ = ledger.send(LedgerWrite::ClockStep {
                run_time,
                wall_time: run_time + offset,
                followed: false,
            });
            watch.held_back_ms = Some(ms);
        }
        return (offset, None);
    }
    // Forward: at a round boundary of every line, if nothing is open. The
    // ledger is read before the rounds are held (a round held back would
    // send its probes later than its time says); what could open since is
    // a line's episode, checked again while they are held.
    // A line with something open is known without the ledger.
    let deadlines = if gate.busy_lines().is_empty() {
        match deadlines_running(db, config, clock.now()).await {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "cannot read the fault deadlines; the clock step waits");
                return (offset, None);
            }
        }
    } else {
        0
    };
    let busy = gate.busy_lines();
    let all_rounds = if busy.is_empty() && deadlines == 0 {
        Some(gate.rounds.write().await)
    } else {
        None
    };
    let busy = gate.busy_lines();
    if !busy.is_empty() || deadlines > 0 || all_rounds.is_none() {
        let secs = offset.num_seconds();
        if watch.waiting_said != Some(secs) {
            warn!(
                step_s = offset.num_milliseconds() as f64 / 1000.0,
                lines_open = ?busy,
                faults_running = deadlines,
                "the wall clock stepped forward; the ledger follows it once nothing is open (so no recorded duration spans the step)"
            );
            watch.waiting_said = Some(secs);
        }
        return (offset, None);
    }
    let run_time = clock.now();
    let offset = clock.wall_offset();
    clock.step(offset);
    let wall_time = run_time + offset;
    info!(
        step_s = offset.num_milliseconds() as f64 / 1000.0,
        run_time = %linkledger_core::time::ledger_ts(run_time),
        wall_time = %linkledger_core::time::ledger_ts(wall_time),
        "the wall clock stepped forward: the ledger's times follow it from here (step recorded)"
    );
    let _ = ledger.send(LedgerWrite::ClockStep {
        run_time,
        wall_time,
        followed: true,
    });
    watch.waiting_said = None;
    (clock.wall_offset(), Some(offset))
}

/// A run starting on a ledger whose last heartbeat is ahead of the wall
/// clock (the clock went back since): the run starts after that heartbeat,
/// so that no time in the ledger repeats. Returns the readings to record.
pub fn start_after(
    clock: &RunClock,
    last_heartbeat: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let hb = last_heartbeat?;
    let wall = clock.now();
    if hb <= wall + TOLERANCE {
        return None;
    }
    clock.step(hb - wall + TimeDelta::milliseconds(1));
    let run_time = clock.now();
    warn!(
        last_heartbeat = %linkledger_core::time::ledger_ts(hb),
        wall = %linkledger_core::time::ledger_ts(wall),
        "the wall clock is behind the ledger's last heartbeat (it went back): this run's times start after that heartbeat, ahead of the clock"
    );
    Some((run_time, wall))
}

/// Faults still running (open, or a deadline pending: response, on-site,
/// resolution, repair report) and block outages open, whose times a
/// followed step would stretch or shorten.
async fn deadlines_running(
    db: &Ledger,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, linkledger_ledger::LedgerError> {
    let running =
        linkledger_ledger::records::running_faults(db, &config.contract.terms, now).await?;
    let blocks = linkledger_ledger::vantage::open_block_outages(db).await?;
    Ok(running.len() + blocks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_busy_until_it_says_it_is_quiet_or_is_removed() {
        let gate = ClockGate::default();
        gate.set_quiet("telecom", false);
        gate.set_quiet("unicom", false);
        gate.set_quiet("telecom", true);
        assert_eq!(gate.busy_lines(), vec!["unicom".to_string()]);
        gate.forget("unicom");
        assert!(gate.busy_lines().is_empty());
    }

    #[tokio::test]
    async fn a_start_behind_the_last_heartbeat_starts_after_it() {
        let clock = RunClock::start();
        let hb = clock.now() + TimeDelta::hours(1);
        let (run_time, wall) = start_after(&clock, Some(hb)).expect("stepped");
        assert!(run_time > hb && run_time - hb < TimeDelta::milliseconds(50));
        assert!((run_time - wall - TimeDelta::hours(1)).abs() < TimeDelta::milliseconds(50));
        assert!(clock.now() > hb, "the run's times come after the heartbeat");
        let clock = RunClock::start();
        assert!(start_after(&clock, Some(clock.now())).is_none());
        assert!(start_after(&clock, None).is_none());
    }

    #[tokio::test]
    async fn a_step_moves_every_copy_of_the_clock() {
        let clock = RunClock::start();
        let copy = clock.clone();
        let before = copy.now();
        clock.step(TimeDelta::hours(1));
        let after = copy.now();
        assert!(after - before >= TimeDelta::hours(1));
        assert!(after - before < TimeDelta::hours(1) + TimeDelta::milliseconds(50));
    }
}
