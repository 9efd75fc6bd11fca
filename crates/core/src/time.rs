//! Ledger timestamps as text: UTC with milliseconds, fixed width, so they
//! sort as text and read back exactly.

use chrono::{DateTime, SecondsFormat, Utc};

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
