//! The run clock: ledger timestamps derived from the monotonic clock.
//!
//! At start the wall clock is read once; every later timestamp is that
//! reading plus monotonic time elapsed, so a wall-clock step while running
//! (NTP, an operator) cannot shorten or lengthen a recorded duration. A
//! step is noticed by [`RunClock::wall_offset`]; the daemon follows a
//! forward step with [`RunClock::step`] at a moment when nothing is open
//! (every line up and settled, no deadline running: see
//! `linkledger_daemon::clock_step`), so no recorded duration spans it, and
//! records the step in the ledger with both readings. Every copy of a run
//! clock shares the step taken.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RunClock {
    wall0: DateTime<Utc>,
    mono0: Instant,
    /// Nanoseconds the timeline has been moved by the steps followed.
    shift_ns: Arc<AtomicI64>,
}

impl RunClock {
    pub fn start() -> Self {
        Self {
            wall0: wall_now(),
            mono0: Instant::now(),
            shift_ns: Arc::default(),
        }
    }

    /// Now, on this run's timeline.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(Instant::now())
    }

    /// A monotonic instant placed on this run's timeline.
    pub fn at(&self, instant: Instant) -> DateTime<Utc> {
        let elapsed = instant.saturating_duration_since(self.mono0);
        let shift = TimeDelta::nanoseconds(self.shift_ns.load(Ordering::Acquire));
        self.wall0
            .checked_add_signed(TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::MAX))
            .and_then(|t| t.checked_add_signed(shift))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// How far the wall clock has moved away from this run's timeline.
    pub fn wall_offset(&self) -> TimeDelta {
        wall_now() - self.now()
    }

    /// Moves the timeline by `by` from here on (every copy of this clock):
    /// a wall-clock step followed. The caller makes sure nothing recorded
    /// is open across it.
    pub fn step(&self, by: TimeDelta) {
        let ns = by.num_nanoseconds().unwrap_or(0);
        self.shift_ns.fetch_add(ns, Ordering::AcqRel);
    }
}

/// The wall clock, read here and nowhere else (`clippy.toml` bans
/// `Utc::now` elsewhere). A running daemon's timestamps come from its
/// [`RunClock`]; this is for what has no run timeline: a CLI command's
/// "now", and the times the ledger stamps on its own rows (a notice queued,
/// an operator action recorded).
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> DateTime<Utc> {
    Utc::now()
}
