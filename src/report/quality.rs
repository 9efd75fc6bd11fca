//! Probe quality over days and months for reports: loss, RTT percentiles
//! and jitter of a line's upstream targets, from the per-minute rollups.
//! Only minutes wholly outside the line's outages, local faults and
//! unobserved time count: those rounds say nothing of the carrier's
//! quality (an outage is charged as downtime already; a local fault is our
//! side). Complete days are summed once into `quality_days_observed` by the daemon
//! ([`roll_up_days`]); a report reads those and sums any day not rolled up
//! yet straight from `probe_minutes`, so its figures do not depend on
//! whether the daemon got to it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{Row, SqlitePool};

use crate::budget::Span;
use crate::clock::ledger_ts;
use crate::ledger::{query_err, LedgerError};

/// Sums of probe results over some time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualitySum {
    pub minutes: i64,
    /// Minutes with probes left out: inside an outage, a local fault or
    /// unobserved time of the line.
    pub excluded_minutes: i64,
    pub sent: i64,
    pub received: i64,
    pub rtt_sum_us: i64,
    pub jitter_sum_us: i64,
    pub jitter_n: i64,
    /// Count per RTT bucket (bucket b: [50 µs·1.25^b, 50 µs·1.25^(b+1))).
    pub hist: BTreeMap<u8, i64>,
}

/// What a report shows of a [`QualitySum`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QualityFigures {
    /// Minutes left out (inside outages, local faults, unobserved time).
    pub excluded_minutes: i64,
    pub sent: i64,
    pub received: i64,
    pub loss_ratio: Option<f64>,
    pub rtt_avg_ms: Option<f64>,
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p95_ms: Option<f64>,
    pub rtt_p99_ms: Option<f64>,
    pub jitter_avg_ms: Option<f64>,
}

impl QualitySum {
    pub fn add_hist(&mut self, text: &str) {
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            if let Some((b, n)) = pair.split_once(':') {
                if let (Ok(b), Ok(n)) = (b.parse::<u8>(), n.parse::<i64>()) {
                    *self.hist.entry(b).or_default() += n;
                }
            }
        }
    }

    pub fn add(&mut self, o: &QualitySum) {
        self.minutes += o.minutes;
        self.excluded_minutes += o.excluded_minutes;
        self.sent += o.sent;
        self.received += o.received;
        self.rtt_sum_us += o.rtt_sum_us;
        self.jitter_sum_us += o.jitter_sum_us;
        self.jitter_n += o.jitter_n;
        for (b, n) in &o.hist {
            *self.hist.entry(*b).or_default() += n;
        }
    }

    fn hist_text(&self) -> String {
        self.hist
            .iter()
            .map(|(b, n)| format!("{b}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The RTT below which a share `q` of the answered probes fell: the
    /// geometric middle of the bucket holding it (within ±12 %).
    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        let total: i64 = self.hist.values().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (b, n) in &self.hist {
            seen += n;
            if seen >= rank {
                return Some(bucket_middle_ms(*b));
            }
        }
        None
    }

    pub fn figures(&self) -> QualityFigures {
        let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
        QualityFigures {
            excluded_minutes: self.excluded_minutes,
            sent: self.sent,
            received: self.received,
            loss_ratio: ratio(self.sent - self.received, self.sent),
            rtt_avg_ms: ratio(self.rtt_sum_us, self.received).map(|v| v / 1000.0),
            rtt_p50_ms: self.percentile_ms(0.50),
            rtt_p95_ms: self.percentile_ms(0.95),
            rtt_p99_ms: self.percentile_ms(0.99),
            jitter_avg_ms: ratio(self.jitter_sum_us, self.jitter_n).map(|v| v / 1000.0),
        }
    }
}

/// The geometric middle of RTT bucket `b`, in milliseconds.
pub fn bucket_middle_ms(b: u8) -> f64 {
    0.05 * 1.25f64.powf(b as f64 + 0.5)
}

/// The parts of `span` whose probes say nothing of the carrier's quality:
/// the line's own outages (already charged as downtime), its local faults
/// (our side) and its unobserved time, merged.
pub async fn not_quality(
    pool: &SqlitePool,
    line: &str,
    span: Span,
) -> Result<Vec<Span>, LedgerError> {
    let mut spans = crate::ledger::read::unobserved_spans(pool, line, span).await?;
    for table in ["outages", "local_faults"] {
        let own = if table == "outages" {
            " AND block IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT start_at, end_at FROM {table} WHERE line = ? AND start_at < ? AND (end_at IS NULL OR end_at > ?){own}"
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
                .and_then(crate::clock::parse_ledger_ts);
            let b = r
                .get::<Option<String>, _>(1)
                .as_deref()
                .and_then(crate::clock::parse_ledger_ts);
            if let Some(a) = a {
                spans.push((a.max(span.0), b.unwrap_or(span.1).min(span.1)));
            }
        }
    }
    spans.retain(|(a, b)| a < b);
    Ok(crate::budget::merge(spans))
}

/// A line's upstream probes summed over `span`, straight from the minutes,
/// leaving out every minute that touches [`not_quality`] time.
pub async fn sum_minutes(
    pool: &SqlitePool,
    line: &str,
    span: Span,
) -> Result<QualitySum, LedgerError> {
    let skip = not_quality(pool, line, span).await?;
    let rows = sqlx::query(
        "SELECT minute, sent, received, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist FROM probe_minutes \
         WHERE line = ? AND tier = 'upstream' AND minute >= ? AND minute < ?",
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
        let at = crate::clock::parse_ledger_ts(&minute);
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
pub async fn daily(
    pool: &SqlitePool,
    line: &str,
    days: &[(NaiveDate, Span)],
) -> Result<Vec<(NaiveDate, QualitySum)>, LedgerError> {
    let Some(first) = days.first() else {
        return Ok(Vec::new());
    };
    let last = days.last().expect("not empty");
    let rows = sqlx::query(
        "SELECT day_start, day_end, minutes, sent, received, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist, excluded_minutes FROM quality_days_observed \
         WHERE line = ? AND day_start >= ? AND day_start < ?",
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
            None => sum_minutes(pool, line, *span).await?,
        };
        out.push((*d, s));
    }
    Ok(out)
}

/// A day is rolled up this long after it ends, when every row of it has
/// long been written (minutes at the minute, traffic samples at the first
/// SNMP poll after their five minutes). Reports read a day that is not
/// rolled up yet from the rows themselves, so nothing waits on this.
pub const ROLL_UP_SETTLE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Rolls up every local day that ended [`ROLL_UP_SETTLE`] before `now`,
/// from a line's first probe minute on, that has no `quality_days` row
/// yet; a day without probes gets an empty row, so it is not looked at
/// again. Returns how many days it wrote.
pub async fn roll_up_days(
    pool: &SqlitePool,
    lines: &[String],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<usize, LedgerError> {
    let settled = now - ROLL_UP_SETTLE;
    let mut written = 0;
    for line in lines {
        let bounds: (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT max(day_end) FROM quality_days_observed WHERE line = ?1), \
             (SELECT min(minute) FROM probe_minutes WHERE line = ?1 AND tier = 'upstream')",
        )
        .bind(line)
        .fetch_one(pool)
        .await
        .map_err(query_err("read quality days"))?;
        let from = match bounds {
            (Some(done), _) => crate::clock::parse_ledger_ts(&done),
            (None, Some(first)) => crate::clock::parse_ledger_ts(&first),
            (None, None) => None,
        };
        let Some(from) = from else { continue };
        for (start, end) in finished_days(from, tz, settled) {
            let s = sum_minutes(pool, line, (start, end)).await?;
            sqlx::query(
                "INSERT OR IGNORE INTO quality_days_observed (line, day_start, day_end, minutes, sent, received, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist, excluded_minutes) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

/// The local days from the one containing `from` that ended by `settled`,
/// as UTC spans: what a daily roll-up still has to do.
pub fn finished_days(from: DateTime<Utc>, tz: Tz, settled: DateTime<Utc>) -> Vec<Span> {
    let mut out = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive();
    loop {
        let next = day.succ_opt().expect("in range");
        let span = (
            crate::contract::local_midnight(tz, day),
            crate::contract::local_midnight(tz, next),
        );
        if span.1 > settled {
            return out;
        }
        out.push(span);
        day = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_days_are_local_days_that_have_ended() {
        let tz = chrono_tz::Asia::Shanghai;
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // From 10:00 local on 1 March to 00:30 local on 3 March: two days.
        let d = finished_days(t("2025-03-01T02:00:00Z"), tz, t("2025-03-02T16:30:00Z"));
        assert_eq!(
            d,
            vec![
                (t("2025-02-28T16:00:00Z"), t("2025-03-01T16:00:00Z")),
                (t("2025-03-01T16:00:00Z"), t("2025-03-02T16:00:00Z"))
            ]
        );
        assert!(finished_days(t("2025-03-02T17:00:00Z"), tz, t("2025-03-02T18:00:00Z")).is_empty());
    }

    #[test]
    fn percentiles_come_from_the_histogram_bucket_holding_the_rank() {
        let mut s = QualitySum::default();
        // 90 probes in bucket 20 (~4.3 ms), 10 in bucket 30 (~40 ms).
        s.add_hist("20:90,30:10");
        assert_eq!(s.percentile_ms(0.5), Some(bucket_middle_ms(20)));
        assert_eq!(s.percentile_ms(0.90), Some(bucket_middle_ms(20)));
        assert_eq!(s.percentile_ms(0.95), Some(bucket_middle_ms(30)));
        let m = bucket_middle_ms(20);
        assert!(m > 0.05 * 1.25f64.powi(20) && m < 0.05 * 1.25f64.powi(21));
        assert_eq!(QualitySum::default().percentile_ms(0.95), None);
    }
}
