//! The periods reports cover: calendar quarters and half-years in the
//! contract's time zone, and contract years. Each is `[start, end)` in UTC.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::budget::Span;
use crate::contract::{local_midnight, ContractYear};

/// A report's period and how it is named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// "2025Q1", "2025H1" or "contract year 2 (2025)".
    pub label: String,
    /// quarter | half | contract_year
    pub kind: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn span(&self) -> Span {
        (self.start, self.end)
    }

    /// Calendar months `first..first+count` of `year` in `tz`.
    fn months(
        label: String,
        kind: &'static str,
        tz: Tz,
        year: i32,
        first: u32,
        count: u32,
    ) -> Self {
        let from = NaiveDate::from_ymd_opt(year, first, 1).expect("valid month");
        let to = from
            .checked_add_months(chrono::Months::new(count))
            .expect("in range");
        Period {
            label,
            kind,
            start: local_midnight(tz, from),
            end: local_midnight(tz, to),
        }
    }

    /// The period as a reader says it: 2025年第一季度 / 2025 Q1, 2025年上半年
    /// / 2025 H1; a contract year keeps its dates.
    pub fn title(&self, l: crate::vocab::Language) -> String {
        let zh = l == crate::vocab::Language::ZhCn;
        let (year, rest) = self.label.split_at(self.label.len().min(4));
        match (self.kind, rest) {
            ("quarter", q) if q.len() == 2 => {
                let n = ["一", "二", "三", "四"]
                    .get(q[1..].parse::<usize>().unwrap_or(1).saturating_sub(1))
                    .copied()
                    .unwrap_or("一");
                if zh {
                    format!("{year}年第{n}季度")
                } else {
                    format!("{year} {q}")
                }
            }
            ("half", h) if zh => {
                format!("{year}年{}", if h == "H1" { "上半年" } else { "下半年" })
            }
            ("half", h) => format!("{year} {h}"),
            _ => self.label.clone(),
        }
    }

    /// "2025Q1" … "2025Q4".
    pub fn quarter(s: &str, tz: Tz) -> Result<Self, String> {
        let (year, n) = split(s, 'Q', 4)
            .ok_or_else(|| format!("--quarter {s:?}: write a quarter as YYYYQn, e.g. 2025Q1"))?;
        Ok(Self::months(
            format!("{year}Q{n}"),
            "quarter",
            tz,
            year,
            3 * n - 2,
            3,
        ))
    }

    /// "2025H1" or "2025H2".
    pub fn half(s: &str, tz: Tz) -> Result<Self, String> {
        let (year, n) = split(s, 'H', 2)
            .ok_or_else(|| format!("--half {s:?}: write a half-year as YYYYHn, e.g. 2025H1"))?;
        Ok(Self::months(
            format!("{year}H{n}"),
            "half",
            tz,
            year,
            6 * n - 5,
            6,
        ))
    }

    /// A contract year by its number counted from the contract start
    /// (1, 2, 3); see [`ContractYear::numbered`].
    pub fn contract_year(n: i64, start: NaiveDate, tz: Tz) -> Result<Self, String> {
        let y =
            ContractYear::numbered(n, start, tz).map_err(|e| format!("--contract-year: {e}"))?;
        Ok(Self::of_contract_year(y, tz))
    }

    pub fn of_contract_year(y: ContractYear, tz: Tz) -> Self {
        Period {
            label: format!(
                "{}/{}",
                y.start.with_timezone(&tz).date_naive(),
                (y.end.with_timezone(&tz) - chrono::TimeDelta::days(1)).date_naive()
            ),
            kind: "contract_year",
            start: y.start,
            end: y.end,
        }
    }

    /// The quarter containing `t`.
    pub fn quarter_of(t: DateTime<Utc>, tz: Tz) -> Self {
        let d = t.with_timezone(&tz).date_naive();
        let n = (d.month() - 1) / 3 + 1;
        Self::months(
            format!("{}Q{n}", d.year()),
            "quarter",
            tz,
            d.year(),
            3 * n - 2,
            3,
        )
    }

    /// The half-year containing `t`.
    pub fn half_of(t: DateTime<Utc>, tz: Tz) -> Self {
        let d = t.with_timezone(&tz).date_naive();
        let n = (d.month() - 1) / 6 + 1;
        Self::months(
            format!("{}H{n}", d.year()),
            "half",
            tz,
            d.year(),
            6 * n - 5,
            6,
        )
    }

    /// The calendar months of the period, each as its own period ("2025-01").
    pub fn months_within(&self, tz: Tz) -> Vec<Period> {
        let mut out = Vec::new();
        let mut d = self
            .start
            .with_timezone(&tz)
            .date_naive()
            .with_day(1)
            .expect("day 1");
        loop {
            let p = Self::months(
                d.format("%Y-%m").to_string(),
                "month",
                tz,
                d.year(),
                d.month(),
                1,
            );
            if p.start >= self.end {
                break;
            }
            out.push(p);
            d = d
                .checked_add_months(chrono::Months::new(1))
                .expect("in range");
        }
        out
    }

    /// The local days of the period, as their UTC spans.
    pub fn days_within(&self, tz: Tz) -> Vec<(NaiveDate, Span)> {
        let mut out = Vec::new();
        let mut d = self.start.with_timezone(&tz).date_naive();
        loop {
            let (s, e) = (
                local_midnight(tz, d),
                local_midnight(tz, d.succ_opt().expect("in range")),
            );
            if s >= self.end {
                break;
            }
            out.push((d, (s.max(self.start), e.min(self.end))));
            d = d.succ_opt().expect("in range");
        }
        out
    }
}

fn split(s: &str, letter: char, max: u32) -> Option<(i32, u32)> {
    let (y, n) = s
        .trim()
        .to_ascii_uppercase()
        .split_once(letter)
        .map(|(a, b)| (a.to_string(), b.to_string()))?;
    let (y, n): (i32, u32) = (y.parse().ok()?, n.parse().ok()?);
    ((1970..=9999).contains(&y) && (1..=max).contains(&n)).then_some((y, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    #[test]
    fn quarters_and_halves_are_calendar_ones_in_the_contract_zone() {
        let q = Period::quarter("2025Q1", Shanghai).unwrap();
        assert_eq!(
            q.start,
            "2024-12-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            q.end,
            "2025-03-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let h = Period::half("2025h2", Shanghai).unwrap();
        assert_eq!(
            h.start,
            "2025-06-30T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            h.end,
            "2025-12-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(q.months_within(Shanghai).len(), 3);
        assert_eq!(q.days_within(Shanghai).len(), 90);
        assert_eq!(Period::quarter_of(q.end, Shanghai).label, "2025Q2");
        use crate::vocab::Language::{En, ZhCn};
        assert_eq!(
            Period::quarter("2026Q4", Shanghai).unwrap().title(ZhCn),
            "2026年第四季度"
        );
        assert_eq!(
            Period::quarter("2026Q4", Shanghai).unwrap().title(En),
            "2026 Q4"
        );
        assert_eq!(
            Period::half("2026H2", Shanghai).unwrap().title(ZhCn),
            "2026年下半年"
        );
    }

    #[test]
    fn bad_periods_say_how_to_write_them() {
        for bad in ["2025Q5", "2025", "Q1", "2025Q0", "abcdQ1"] {
            let e = Period::quarter(bad, Shanghai).unwrap_err();
            assert!(e.contains("YYYYQn"), "{e}");
        }
        assert!(Period::half("2025H3", Shanghai)
            .unwrap_err()
            .contains("YYYYHn"));
    }

    #[test]
    fn contract_years_by_number_never_by_calendar_year() {
        let start = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        let a = Period::contract_year(2, start, Shanghai).unwrap();
        assert_eq!(
            a.start,
            "2025-06-30T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // A calendar year is refused, naming the number to write instead.
        let e = Period::contract_year(2025, start, Shanghai).unwrap_err();
        assert!(
            e.contains("year 2 (2025-07-01 to 2026-06-30): write 2"),
            "{e}"
        );
        assert!(Period::contract_year(2023, start, Shanghai).is_err());
        assert!(Period::contract_year(0, start, Shanghai).is_err());
    }
}
