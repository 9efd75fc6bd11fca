//! Special periods (合同第二条 21): statutory holidays and important events
//! during which the carriers keep engineers on duty. During one, quiet
//! hours do not hold alerts back, a fault detected in it may have stricter
//! deadlines, and the on-duty roster appears in alerts and on the status
//! page. Statutory holidays are a configured list of dates (announced each
//! year; nothing is fetched).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::Invalid;
use crate::values::Dur;
pub use linkledger_core::terms::SpecialTerms;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpecialPeriod {
    pub name: String,
    /// First day (YYYY-MM-DD, local) or an RFC 3339 time.
    pub from: String,
    /// Last day, inclusive (YYYY-MM-DD), or an RFC 3339 time (exclusive).
    pub to: String,
    pub response: Option<Dur>,
    pub on_site: Option<Dur>,
    pub resolution: Option<Dur>,
    #[serde(default)]
    pub on_duty: Vec<RawOnDuty>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOnDuty {
    pub name: String,
    pub phone: String,
    /// Whose engineer (a line's carrier); none: ours.
    pub carrier: Option<String>,
    /// Where they are on duty.
    pub place: Option<String>,
}

/// A person on duty during a special period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnDuty {
    pub name: String,
    pub phone: String,
    pub carrier: Option<String>,
    pub place: Option<String>,
}

/// A special period as configured (a holiday is one without roster).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecialPeriod {
    pub name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub on_duty: Vec<OnDuty>,
}

fn instant(s: &str, tz: Tz, end: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let d = if end { d.succ_opt()? } else { d };
    Some(linkledger_core::contract::local_midnight(tz, d))
}

/// The special periods and holidays, with the terms each changes.
pub fn validate(
    raw: Vec<RawSpecialPeriod>,
    holidays: &[crate::values::Date],
    tz: Tz,
    carriers: &[String],
) -> Result<(Vec<SpecialPeriod>, Vec<SpecialTerms>), Invalid> {
    let mut periods = Vec::new();
    let mut terms = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("special_period[{i}].{k}");
        if p.name.trim().is_empty() {
            return Err((
                key("name"),
                "a special period needs a name, e.g. \"国庆保障\"".into(),
            ));
        }
        let from = instant(&p.from, tz, false).ok_or_else(|| {
            (
                key("from"),
                format!(
                    "{:?} is not a date (YYYY-MM-DD) or an RFC 3339 time",
                    p.from
                ),
            )
        })?;
        let to = instant(&p.to, tz, true).ok_or_else(|| {
            (
                key("to"),
                format!("{:?} is not a date (YYYY-MM-DD) or an RFC 3339 time", p.to),
            )
        })?;
        if to <= from {
            return Err((
                key("to"),
                format!("{:?} is not after from ({:?})", p.to, p.from),
            ));
        }
        for (k, d) in [
            ("response", &p.response),
            ("on_site", &p.on_site),
            ("resolution", &p.resolution),
        ] {
            if let Some(d) = d {
                if d.0 < Duration::from_secs(60) || d.0 > Duration::from_secs(7 * 86400) {
                    return Err((
                        key(k),
                        format!(
                            "{} is out of range: between 1 minute and 7 days",
                            humantime::format_duration(d.0)
                        ),
                    ));
                }
            }
        }
        let on_duty = on_duty(i, p.on_duty, carriers)?;
        if p.response.is_some() || p.on_site.is_some() || p.resolution.is_some() {
            terms.push(SpecialTerms {
                name: p.name.clone(),
                from,
                to,
                response: p.response.map(|d| d.0),
                on_site: p.on_site.map(|d| d.0),
                resolution: p.resolution.map(|d| d.0),
            });
        }
        periods.push(SpecialPeriod {
            name: p.name,
            from,
            to,
            on_duty,
        });
    }
    for d in holidays {
        let from = linkledger_core::contract::local_midnight(tz, d.0);
        let to = linkledger_core::contract::local_midnight(tz, d.0.succ_opt().unwrap_or(d.0));
        periods.push(SpecialPeriod {
            name: "法定节假日".into(),
            from,
            to,
            on_duty: Vec::new(),
        });
    }
    periods.sort_by_key(|p| p.from);
    Ok((periods, terms))
}

/// The people on duty in `special_period[i]`: a name, a phone number and,
/// when given, a configured carrier.
fn on_duty(i: usize, raw: Vec<RawOnDuty>, carriers: &[String]) -> Result<Vec<OnDuty>, Invalid> {
    let mut on_duty = Vec::new();
    for (j, o) in raw.into_iter().enumerate() {
        let okey = |k: &str| format!("special_period[{i}].on_duty[{j}].{k}");
        if o.name.trim().is_empty() {
            return Err((okey("name"), "the person on duty needs a name".into()));
        }
        let digits = o.phone.chars().filter(|c| c.is_ascii_digit()).count();
        if digits < 5
            || !o
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || "+- ()".contains(c))
        {
            return Err((
                okey("phone"),
                format!("{:?} is not a phone number", o.phone),
            ));
        }
        if let Some(c) = o.carrier.as_ref().filter(|c| !carriers.contains(c)) {
            return Err((
                okey("carrier"),
                format!("{c:?} is not the carrier of any line; carriers are {carriers:?}"),
            ));
        }
        on_duty.push(OnDuty {
            name: o.name,
            phone: o.phone,
            carrier: o.carrier,
            place: o.place,
        });
    }
    Ok(on_duty)
}

/// The special periods in force at `t` (a configured one before a holiday).
pub fn at(periods: &[SpecialPeriod], t: DateTime<Utc>) -> Vec<&SpecialPeriod> {
    let mut v: Vec<&SpecialPeriod> = periods.iter().filter(|p| p.from <= t && t < p.to).collect();
    v.sort_by_key(|p| p.on_duty.is_empty());
    v
}
