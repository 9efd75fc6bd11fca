//! Contract time: contract years (from the contract's start date, in its
//! time zone, not calendar years) and the downtime budget within them.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A contract year: `[start, end)` in UTC, and its number (1 = first year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractYear {
    pub number: i32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone whose clocks skip midnight takes the first instant after it.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + chrono::TimeDelta::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .expect("a local midnight or the hour after it exists")
}

/// The anniversary `k` years after `start` (29 February falls back to the 28th).
fn anniversary(start: NaiveDate, k: i32) -> NaiveDate {
    if k >= 0 {
        start
            .checked_add_months(Months::new(12 * k as u32))
            .unwrap_or(start)
    } else {
        start
            .checked_sub_months(Months::new(12 * (-k) as u32))
            .unwrap_or(start)
    }
}

impl ContractYear {
    /// Contract year `number` (1 = the first).
    pub fn nth(start: NaiveDate, tz: Tz, number: i32) -> Self {
        let k = number.max(1) - 1;
        Self {
            number: k + 1,
            start: local_midnight(tz, anniversary(start, k)),
            end: local_midnight(tz, anniversary(start, k + 1)),
        }
    }

    /// Contract year `n` as a user names it (`--contract-year N`): by its
    /// number counted from the contract start, as the contract does
    /// (第一年度, 第二年度 …). A calendar year such as 2025 is refused with
    /// the number of the contract year that starts in it.
    pub fn numbered(n: i64, start: NaiveDate, tz: Tz) -> Result<Self, String> {
        let first = Self::nth(start, tz, 1);
        let to = |y: &Self| {
            let end = (y.end.with_timezone(&tz) - chrono::TimeDelta::days(1)).date_naive();
            format!("{} to {end}", y.start.with_timezone(&tz).date_naive())
        };
        if n >= 1000 {
            let k = n - i64::from(start.year()) + 1;
            let hint = if (1..=500).contains(&k) {
                let y = Self::nth(start, tz, k as i32);
                format!(
                    "; the contract year that starts in {n} is year {k} ({}): write {k}",
                    to(&y)
                )
            } else {
                String::new()
            };
            return Err(format!(
                "contract year {n}: contract years are numbered from the contract start ({start}), year 1 being {}{hint}",
                to(&first)
            ));
        }
        if !(1..=500).contains(&n) {
            return Err(format!(
                "contract year {n}: write its number, 1 for the first year ({})",
                to(&first)
            ));
        }
        Ok(Self::nth(start, tz, n as i32))
    }

    /// The contract year containing `t`. Before the contract starts, this is
    /// the first year (which has not begun yet).
    pub fn containing(start: NaiveDate, tz: Tz, t: DateTime<Utc>) -> Self {
        let local = t.with_timezone(&tz).date_naive();
        let mut k = (local.year() - start.year()).max(0);
        while k > 0 && local_midnight(tz, anniversary(start, k)) > t {
            k -= 1;
        }
        while local_midnight(tz, anniversary(start, k + 1)) <= t {
            k += 1;
        }
        Self {
            number: k + 1,
            start: local_midnight(tz, anniversary(start, k)),
            end: local_midnight(tz, anniversary(start, k + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn years_run_from_the_start_date_in_the_contract_zone() {
        let start = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        // 2025-06-30T16:00Z is 2025-07-01 00:00 in Shanghai: year 2 begins.
        let y = ContractYear::containing(start, tz, utc("2025-06-30T16:00:00Z"));
        assert_eq!(y.number, 2);
        assert_eq!(y.start, utc("2025-06-30T16:00:00Z"));
        assert_eq!(y.end, utc("2026-06-30T16:00:00Z"));
        let y = ContractYear::containing(start, tz, utc("2025-06-30T15:59:59.999Z"));
        assert_eq!(y.number, 1);
        assert_eq!(y.start, utc("2024-06-30T16:00:00Z"));
    }

    #[test]
    fn the_nth_year_is_the_one_containing_its_start() {
        let start = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        for n in 1..6 {
            let y = ContractYear::nth(start, tz, n);
            assert_eq!(ContractYear::containing(start, tz, y.start), y);
        }
    }

    #[test]
    fn before_the_contract_is_the_first_year() {
        let start = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let y = ContractYear::containing(start, chrono_tz::UTC, utc("2026-11-27T00:00:00Z"));
        assert_eq!((y.number, y.start), (1, utc("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn leap_day_start_falls_back_to_the_28th() {
        let start = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let y = ContractYear::containing(start, chrono_tz::UTC, utc("2025-03-01T00:00:00Z"));
        assert_eq!((y.number, y.start), (2, utc("2025-02-28T00:00:00Z")));
    }
}
