//! The run clock: ledger timestamps derived from the monotonic clock.
//!
//! At start the wall clock is read once; every later timestamp is that
//! reading plus monotonic time elapsed, so a wall-clock step while running
//! (NTP, an operator) cannot shorten or lengthen a recorded duration. The
//! step is noticed by [`RunClock::wall_offset`] and logged by the daemon.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    wall0: DateTime<Utc>,
    mono0: Instant,
}

impl RunClock {
    pub fn start() -> Self {
        Self {
            wall0: Utc::now(),
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
        Utc::now() - self.now()
    }
}

/// A ledger timestamp: UTC with milliseconds, fixed width so it sorts.
/// Times outside years 1–9999 (an unbounded query's `DateTime::MIN_UTC`
/// or `MAX_UTC`) are clamped to them: a sign and six-digit year would
/// not sort as text beside the ledger's four-digit years.
pub fn ledger_ts(t: DateTime<Utc>) -> String {
    // 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
    const LO_MS: i64 = -62_135_596_800_000;
    const HI_MS: i64 = 253_402_300_799_999;
    let ms = t.timestamp_millis();
    let t = if (LO_MS..=HI_MS).contains(&ms) {
        t
    } else {
        DateTime::from_timestamp_millis(ms.clamp(LO_MS, HI_MS)).expect("in range")
    };
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a ledger timestamp back.
pub fn parse_ledger_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbounded_times_sort_as_text_beside_ledger_times() {
        let t = ledger_ts("2025-03-01T02:00:00Z".parse().unwrap());
        assert!(ledger_ts(DateTime::<Utc>::MIN_UTC) < t);
        assert!(ledger_ts(DateTime::<Utc>::MAX_UTC) > t);
        assert_eq!(
            ledger_ts(DateTime::<Utc>::MAX_UTC),
            "9999-12-31T23:59:59.999Z"
        );
    }
}
