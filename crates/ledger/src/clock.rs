//! The run clock: ledger timestamps derived from the monotonic clock.
//!
//! At start the wall clock is read once; every later timestamp is that
//! reading plus monotonic time elapsed, so a wall-clock step while running
//! (NTP, an operator) cannot shorten or lengthen a recorded duration. The
//! step is noticed by [`RunClock::wall_offset`] and logged by the daemon.

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    wall0: DateTime<Utc>,
    mono0: Instant,
}

impl RunClock {
    pub fn start() -> Self {
        Self {
            wall0: wall_now(),
            mono0: Instant::now(),
        }
    }

    /// Now, on this run's timeline.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(Instant::now())
    }

    /// A monotonic instant placed on this run's timeline.
    pub fn at(&self, instant: Instant) -> DateTime<Utc> {
        let elapsed = instant.saturating_duration_since(self.mono0);
        self.wall0 + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::MAX)
    }

    /// How far the wall clock has moved away from this run's timeline.
    pub fn wall_offset(&self) -> TimeDelta {
        wall_now() - self.now()
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
