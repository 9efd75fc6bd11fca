//! The day roll-ups: complete local days of probe minutes and traffic
//! samples, summed (`quality_days_observed`) or packed (`traffic_days`)
//! once by the daemon, so a year's report does not read every row. A report
//! reads a day not rolled up yet straight from the rows, so its figures do
//! not depend on whether the daemon got to it.
//!
//! Probe quality counts only minutes wholly outside the line's outages,
//! local faults and unobserved time: those rounds say nothing of the
//! carrier's quality (an outage is charged as downtime already; a local
//! fault is our side).

use crate::Ledger;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use linkledger_core::budget::Span;
use linkledger_core::rollup::{finished_days, QualitySum, ROLL_UP_SETTLE};
use linkledger_core::time::{ledger_ts, parse_ledger_ts};
use linkledger_core::traffic::TrafficSample;
use sqlx::Row;

use crate::read::traffic_samples;
use crate::{query_err, LedgerError};

/// The parts of `span` whose probes say nothing of the carrier's quality:
/// the line's own outages (already charged as downtime), its local faults
/// (our side) and its unobserved time, merged.
pub async fn not_quality(
    ledger: &Ledger,
    line: &str,
    span: Span,
) -> Result<Vec<Span>, LedgerError> {
    let pool = ledger.pool();
    let mut spans = crate::observed::unobserved_spans(ledger, line, span).await?;
    for table in ["outages", "local_faults"] {
        let own = if table == "outages" {
            " AND block IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT start_at, end_at FROM {table} WHERE line = $1 AND start_at < $2 AND (end_at IS NULL OR end_at > $3){own}"
        ))
        .bind(line)
        .bind(ledger_ts(span.1))
        .bind(ledger_ts(span.0))
        .fetch_all(pool)
        .await
        .map_err(query_err("read outages and local faults"))?;
        for r in &rows {
            let a = r
                .get::<Option<String>, _>(0)
                .as_deref()
                .and_then(parse_ledger_ts);
            let b = r
                .get::<Option<String>, _>(1)
                .as_deref()
                .and_then(parse_ledger_ts);
            if let Some(a) = a {
                spans.push((a.max(span.0), b.unwrap_or(span.1).min(span.1)));
            }
        }
    }
    spans.retain(|(a, b)| a < b);
    Ok(linkledger_core::budget::merge(spans))
}

/// A line's upstream probes summed over `span`, straight from the minutes,
/// leaving out every minute that touches [`not_quality`] time.
pub async fn sum_minutes(
    ledger: &Ledger,
    line: &str,
    span: Span,
) -> Result<QualitySum, LedgerError> {
    let pool = ledger.pool();
    let skip = not_quality(ledger, line, span).await?;
    let rows = sqlx::query(
        "SELECT minute, sent, received, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist FROM probe_minutes \
         WHERE line = $1 AND tier = 'upstream' AND minute >= $2 AND minute < $3",
    )
    .bind(line)
    .bind(ledger_ts(span.0))
    .bind(ledger_ts(span.1))
    .fetch_all(pool)
    .await
    .map_err(query_err("read probe minutes"))?;
    let mut s = QualitySum::default();
    let mut minutes = std::collections::HashSet::new();
    let mut excluded = std::collections::HashSet::new();
    for r in &rows {
        let minute: String = r.get(0);
        let at = parse_ledger_ts(&minute);
        let touches = at.is_some_and(|m| {
            let end = m + chrono::TimeDelta::minutes(1);
            skip.iter().any(|(a, b)| *a < end && *b > m)
        });
        if touches {
            excluded.insert(minute);
            continue;
        }
        minutes.insert(minute);
        s.sent += r.get::<i64, _>(1);
        s.received += r.get::<i64, _>(2);
        s.rtt_sum_us += r.get::<i64, _>(3);
        s.jitter_sum_us += r.get::<i64, _>(4);
        s.jitter_n += r.get::<i64, _>(5);
        s.add_hist(r.get::<&str, _>(6));
    }
    s.minutes = minutes.len() as i64;
    s.excluded_minutes = excluded.len() as i64;
    Ok(s)
}

/// A line's quality for each local day of `days`: from `quality_days` where
/// the daemon rolled the day up, otherwise from the minutes.
pub async fn quality_by_day(
    ledger: &Ledger,
    line: &str,
    days: &[(NaiveDate, Span)],
) -> Result<Vec<(NaiveDate, QualitySum)>, LedgerError> {
    let pool = ledger.pool();
    let Some(first) = days.first() else {
        return Ok(Vec::new());
    };
    let last = days.last().expect("not empty");
    let rows = sqlx::query(
        "SELECT day_start, day_end, minutes, sent, received, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist, excluded_minutes FROM quality_days_observed \
         WHERE line = $1 AND day_start >= $2 AND day_start < $3",
    )
    .bind(line)
    .bind(ledger_ts(first.1 .0))
    .bind(ledger_ts(last.1 .1))
    .fetch_all(pool)
    .await
    .map_err(query_err("read quality days"))?;
    let mut stored: BTreeMap<(String, String), QualitySum> = BTreeMap::new();
    for r in &rows {
        let mut s = QualitySum {
            minutes: r.get(2),
            excluded_minutes: r.get(9),
            sent: r.get(3),
            received: r.get(4),
            rtt_sum_us: r.get(5),
            jitter_sum_us: r.get(6),
            jitter_n: r.get(7),
            hist: BTreeMap::new(),
        };
        s.add_hist(r.get::<&str, _>(8));
        stored.insert((r.get(0), r.get(1)), s);
    }
    let mut out = Vec::with_capacity(days.len());
    for (d, span) in days {
        let key = (ledger_ts(span.0), ledger_ts(span.1));
        let s = match stored.remove(&key) {
            Some(s) => s,
            None => sum_minutes(ledger, line, *span).await?,
        };
        out.push((*d, s));
    }
    Ok(out)
}

/// Rolls up every local day that ended [`ROLL_UP_SETTLE`] before `now`,
/// from a line's first probe minute on, that has no `quality_days` row
/// yet; a day without probes gets an empty row, so it is not looked at
/// again. Returns how many days it wrote.
pub async fn roll_up_quality(
    ledger: &Ledger,
    lines: &[String],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<usize, LedgerError> {
    let pool = ledger.pool();
    let settled = now - ROLL_UP_SETTLE;
    let mut written = 0;
    for line in lines {
        let bounds: (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT max(day_end) FROM quality_days_observed WHERE line = $1), \
             (SELECT min(minute) FROM probe_minutes WHERE line = $1 AND tier = 'upstream')",
        )
        .bind(line)
        .fetch_one(pool)
        .await
        .map_err(query_err("read quality days"))?;
        let from = match bounds {
            (Some(done), _) => parse_ledger_ts(&done),
            (None, Some(first)) => parse_ledger_ts(&first),
            (None, None) => None,
        };
        let Some(from) = from else { continue };
        for (start, end) in finished_days(from, tz, settled) {
            let s = sum_minutes(ledger, line, (start, end)).await?;
            sqlx::query(
                "INSERT INTO quality_days_observed (line, day_start, day_end, minutes, sent, received, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist, excluded_minutes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            )
            .bind(line)
            .bind(ledger_ts(start))
            .bind(ledger_ts(end))
            .bind(s.minutes)
            .bind(s.sent)
            .bind(s.received)
            .bind(s.rtt_sum_us)
            .bind(s.jitter_sum_us)
            .bind(s.jitter_n)
            .bind(s.hist_text())
            .bind(s.excluded_minutes)
            .execute(pool)
            .await
            .map_err(query_err("write quality days"))?;
            written += 1;
        }
    }
    Ok(written)
}

const FIELDS: usize = 6;

/// Packs one day's samples (see the `traffic_days` schema).
pub fn pack(day_start: DateTime<Utc>, samples: &[TrafficSample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * FIELDS * 8);
    for s in samples {
        let offset = (s.start - day_start).num_milliseconds() as f64;
        for v in [
            offset,
            s.seconds,
            s.avg_in_bps,
            s.avg_out_bps,
            s.max_in_bps,
            s.max_out_bps,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Unpacks a day; the error counters are not kept (reports do not use them).
pub fn unpack(line: &str, day_start: DateTime<Utc>, blob: &[u8]) -> Vec<TrafficSample> {
    blob.chunks_exact(FIELDS * 8)
        .map(|c| {
            let f = |i: usize| f64::from_le_bytes(c[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            TrafficSample {
                line: line.to_string(),
                start: day_start + TimeDelta::milliseconds(f(0) as i64),
                seconds: f(1),
                avg_in_bps: f(2),
                avg_out_bps: f(3),
                max_in_bps: f(4),
                max_out_bps: f(5),
                errors: [0; 4],
            }
        })
        .collect()
}

/// A line's samples in the local `days` (the last may be cut short).
pub async fn traffic_by_day(
    ledger: &Ledger,
    line: &str,
    days: &[(NaiveDate, Span)],
) -> Result<Vec<TrafficSample>, LedgerError> {
    let pool = ledger.pool();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query("SELECT day_start, day_end, rates FROM traffic_days WHERE line = $1 AND day_start >= $2 AND day_start < $3")
        .bind(line)
        .bind(ledger_ts(first.1 .0))
        .bind(ledger_ts(last.1 .1))
        .fetch_all(pool)
        .await
        .map_err(query_err("read traffic days"))?;
    let mut packed: std::collections::HashMap<(String, String), Vec<u8>> = rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let mut out = Vec::new();
    for (_, span) in days {
        match packed.remove(&(ledger_ts(span.0), ledger_ts(span.1))) {
            Some(blob) => out.extend(unpack(line, span.0, &blob)),
            None => out.extend(traffic_samples(ledger, line, span.0, span.1).await?),
        }
    }
    Ok(out)
}

/// Packs every local day that ended [`ROLL_UP_SETTLE`]
/// before `now`, from a line's first sample on, that has no
/// `traffic_days` row yet (an empty one for a day without samples).
pub async fn roll_up_traffic(
    ledger: &Ledger,
    lines: &[String],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<usize, LedgerError> {
    let pool = ledger.pool();
    let settled = now - ROLL_UP_SETTLE;
    let mut written = 0;
    for line in lines {
        let bounds: (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT max(day_end) FROM traffic_days WHERE line = $1), (SELECT min(start_at) FROM traffic_samples WHERE line = $1)",
        )
        .bind(line)
        .fetch_one(pool)
        .await
        .map_err(query_err("read traffic days"))?;
        let Some(from) = bounds.0.or(bounds.1).as_deref().and_then(parse_ledger_ts) else {
            continue;
        };
        for (start, end) in finished_days(from, tz, settled) {
            let s = traffic_samples(ledger, line, start, end).await?;
            sqlx::query(
                "INSERT INTO traffic_days (line, day_start, day_end, samples, rates) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(line)
            .bind(ledger_ts(start))
            .bind(ledger_ts(end))
            .bind(s.len() as i64)
            .bind(pack(start, &s))
            .execute(pool)
            .await
            .map_err(query_err("write traffic days"))?;
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_day_unpacks_to_the_same_samples() {
        let day = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let samples: Vec<_> = (0..288)
            .map(|i| TrafficSample {
                line: "l".into(),
                start: day + TimeDelta::minutes(5 * i),
                seconds: 300.0,
                avg_in_bps: 1e6 + i as f64 * 12345.678,
                avg_out_bps: 1e6,
                max_in_bps: (1e6 + i as f64 * 12345.678) * 1.2,
                max_out_bps: 1e6,
                errors: [0; 4],
            })
            .collect();
        assert_eq!(unpack("l", day, &pack(day, &samples)), samples);
    }
}
