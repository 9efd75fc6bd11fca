//! The range of every duration key. A configured time is added to and
//! subtracted from the clock, multiplied by rounds and turned into buffer
//! sizes; within these ranges none of that can overflow, so `check-config`
//! refuses what would otherwise panic or allocate without limit at run
//! time (`repair_report = "300000y"`).

use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The inclusive range of a duration key, by the key's last part.
pub fn range(key: &str) -> (Duration, Duration) {
    let last = key.rsplit('.').next().unwrap_or(key);
    match last {
        // One probe round; its timeout is bounded by the interval.
        "interval" if key.starts_with("probe.") => (Duration::from_millis(100), MINUTE),
        // SNMP polls and agent rounds.
        "interval" => (SECOND, HOUR),
        "annual_downtime_cap" => (SECOND, 366 * DAY),
        "response" | "on_site" | "general" | "serious" | "major" | "repair_report" => {
            (SECOND, 30 * DAY)
        }
        "maintenance_notice" => (Duration::ZERO, 90 * DAY),
        "loss_window" | "rtt_window" | "utilisation_window" => (MINUTE, DAY),
        "rtt_threshold" => (Duration::from_millis(1), MINUTE),
        "deadline_lead" => (Duration::ZERO, 7 * DAY),
        "flap_window" => (MINUTE, 7 * DAY),
        "retry_max" => (SECOND, DAY),
        "buffer_max_age" => (MINUTE, 366 * DAY),
        _ => (Duration::ZERO, 366 * DAY),
    }
}

/// Refuses `d` outside `key`'s range, saying the range.
pub fn check(key: &str, d: Duration) -> Result<(), (String, String)> {
    let (min, max) = range(key);
    if d < min || d > max {
        return Err((
            key.to_string(),
            format!(
                "{} is out of range; use {} to {}",
                show(d),
                show(min),
                show(max)
            ),
        ));
    }
    Ok(())
}

fn show(d: Duration) -> String {
    if d.is_zero() {
        "0s".into()
    } else {
        humantime::format_duration(d).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_inclusive_and_named_in_the_message() {
        assert!(check("contract.repair_report", 30 * DAY).is_ok());
        let (key, msg) = check("contract.repair_report", 30 * DAY + SECOND).unwrap_err();
        assert_eq!(key, "contract.repair_report");
        assert_eq!(msg, "30days 1s is out of range; use 1s to 30days");
        assert!(check("probe.interval", Duration::from_millis(100)).is_ok());
        assert!(check("probe.interval", MINUTE + Duration::from_millis(1)).is_err());
        assert!(check("line[0].snmp.interval", HOUR).is_ok());
        assert!(check("contract.maintenance_notice", Duration::ZERO).is_ok());
    }
}
