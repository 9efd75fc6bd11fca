//! The evidence of one fault, for its fault record (故障记录): what the
//! ledger holds of its outages, degradations, probes and interface around
//! it, exclusions, the incident it is part of and the paths traced.

use crate::Ledger;
use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_core::time::ledger_ts;
use linkledger_core::traffic::TrafficSample;
use serde::Serialize;
use sqlx::{AnyPool, Row};

use crate::records::{exclusions, fault, ExclusionView, FaultView};
use crate::sql::ts;
use crate::{query_err, LedgerError};

#[derive(Debug, Clone, Serialize)]
pub struct OutageEvidence {
    pub id: i64,
    pub line: String,
    pub start: DateTime<Utc>,
    pub start_after: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub end_after: Option<DateTime<Utc>>,
    /// The causes seen during the outage, in order (which tiers failed).
    pub causes: Vec<(DateTime<Utc>, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DegradationEvidence {
    pub id: i64,
    pub line: String,
    pub kind: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub detail: serde_json::Value,
}

/// Probe results of one tier over a few minutes.
#[derive(Debug, Clone, Serialize)]
pub struct TierSlot {
    pub start: DateTime<Utc>,
    pub tier: String,
    pub sent: i64,
    pub received: i64,
    pub loss_ratio: Option<f64>,
    pub rtt_avg_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    pub fault: FaultView,
    pub carrier: Option<String>,
    pub outages: Vec<OutageEvidence>,
    /// The quality episodes it is about: kind (loss, rtt, utilisation),
    /// start, end (None while going on) and the figures that crossed.
    pub degradations: Vec<DegradationEvidence>,
    /// Evidence from `window.0` to `window.1`: 15 minutes either side.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub slot_minutes: i64,
    pub probes: Vec<TierSlot>,
    pub interface: Vec<TrafficSample>,
    pub exclusions: Vec<ExclusionView>,
    /// The other faults of the same incident (about the same outages): for
    /// the egress fault the line faults it contains, for a line fault the
    /// egress fault containing it.
    pub incident: Vec<i64>,
    /// Path evidence: the traceroutes taken for its outages (the
    /// monitor's to each anchor, the agents' to the block).
    pub paths: Vec<crate::paths::PathView>,
}

/// Everything the ledger holds about fault `id` for its fault record:
/// its outages with their causes, its degradations, the probes and
/// interface samples around it, exclusions, the incident and the paths.
pub async fn gather(
    ledger: &Ledger,
    c: &Config,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<FaultRecord>, LedgerError> {
    let pool = ledger.pool();
    let Some(f) = fault(ledger, id, &c.contract.terms, now).await? else {
        return Ok(None);
    };
    let outages = outage_evidence(pool, &f.outages, f.detected_at).await?;
    let degradations = degradation_evidence(pool, &f.degradations, f.detected_at).await?;
    let earliest = outages
        .iter()
        .map(|o| o.start)
        .chain(degradations.iter().map(|d| d.start))
        .min()
        .unwrap_or(f.detected_at)
        .min(f.detected_at)
        - TimeDelta::minutes(15);
    let to = f.resolved_at.unwrap_or(now).min(now) + TimeDelta::minutes(15);
    let span_min = (to - earliest).num_minutes().max(1);
    let slot = [1, 5, 15, 60, 240, 1440]
        .into_iter()
        .find(|s| span_min / s <= 60)
        .unwrap_or(1440);
    // Rows on the ledger's own grid (whole minutes, whole slots), so each is
    // labelled with the minutes it holds, not an offset from the detection.
    let from = floor_to_slot(earliest, slot);
    let lines: Vec<String> = match &f.line {
        Some(l) => vec![l.clone()],
        None => c.lines.iter().map(|l| l.id.clone()).collect(),
    };
    let mut probes = tier_slots(pool, &lines, (from, to), slot).await?;
    probes.sort_by(|a, b| (a.start, &a.tier).cmp(&(b.start, &b.tier)));
    let mut interface = Vec::new();
    for line in &lines {
        interface.extend(crate::read::traffic_samples(ledger, line, from, to).await?);
    }
    let ex = exclusions(ledger)
        .await?
        .into_iter()
        .filter(|e| e.line.is_none() || e.line == f.line)
        .filter(|e| e.start < to && e.end > from)
        .collect();
    let carrier = f
        .line
        .as_ref()
        .and_then(|l| c.lines.iter().find(|x| &x.id == l))
        .map(|l| l.carrier.clone());
    let incident = sqlx::query_scalar(
        "SELECT DISTINCT b.fault_id FROM fault_links a JOIN fault_links b \
         ON b.kind = 'outage' AND b.ref_id = a.ref_id AND b.fault_id <> a.fault_id \
         WHERE a.kind = 'outage' AND a.fault_id = $1 ORDER BY b.fault_id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(query_err("read the incident's faults"))?;
    let mut paths = Vec::new();
    for o in &outages {
        paths.extend(crate::paths::of_outage(ledger, o.id, now).await?);
    }
    Ok(Some(FaultRecord {
        paths,
        fault: f,
        carrier,
        outages,
        degradations,
        window: (from, to),
        slot_minutes: slot,
        probes,
        interface,
        exclusions: ex,
        incident,
    }))
}

/// The outages of the fault, each with the causes seen during it (the
/// cause it was declared with when nothing more was seen).
async fn outage_evidence(
    pool: &AnyPool,
    ids: &[i64],
    detected_at: DateTime<Utc>,
) -> Result<Vec<OutageEvidence>, LedgerError> {
    let mut outages = Vec::new();
    for oid in ids {
        let Some(r) = sqlx::query("SELECT id, line, start_at, start_after, end_at, end_after, cause FROM outages WHERE id = $1")
            .bind(oid)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read outage"))?
        else {
            continue;
        };
        let causes = sqlx::query(
            "SELECT seen_at, cause FROM outage_causes WHERE outage_id = $1 ORDER BY seen_at, id",
        )
        .bind(oid)
        .fetch_all(pool)
        .await
        .map_err(query_err("read outage causes"))?
        .iter()
        .filter_map(|c| Some((ts(c, 0)?, c.get::<String, _>(1))))
        .collect::<Vec<_>>();
        let start = ts(&r, 2).unwrap_or(detected_at);
        outages.push(OutageEvidence {
            id: r.get(0),
            line: r.get(1),
            start,
            start_after: ts(&r, 3),
            end: ts(&r, 4),
            end_after: ts(&r, 5),
            causes: if causes.is_empty() {
                vec![(start, r.get(6))]
            } else {
                causes
            },
        });
    }
    Ok(outages)
}

/// The degradations of the fault.
async fn degradation_evidence(
    pool: &AnyPool,
    ids: &[i64],
    detected_at: DateTime<Utc>,
) -> Result<Vec<DegradationEvidence>, LedgerError> {
    let mut degradations = Vec::new();
    for did in ids {
        let Some(r) = sqlx::query(
            "SELECT id, line, kind, start_at, end_at, detail FROM degradations WHERE id = $1",
        )
        .bind(did)
        .fetch_optional(pool)
        .await
        .map_err(query_err("read degradation"))?
        else {
            continue;
        };
        degradations.push(DegradationEvidence {
            id: r.get(0),
            line: r.get(1),
            kind: r.get(2),
            start: ts(&r, 3).unwrap_or(detected_at),
            end: ts(&r, 4),
            detail: serde_json::from_str(r.get::<&str, _>(5))
                .unwrap_or_else(|_| serde_json::json!(r.get::<&str, _>(5))),
        });
    }
    Ok(degradations)
}

/// The probes of `lines` per tier in slots of `slot` minutes over
/// `[from, to)` (a tier named line/tier when there are several lines).
async fn tier_slots(
    pool: &AnyPool,
    lines: &[String],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    slot: i64,
) -> Result<Vec<TierSlot>, LedgerError> {
    let mut probes: Vec<TierSlot> = Vec::new();
    for line in lines {
        let rows = sqlx::query(
            "SELECT minute, tier, CAST(sum(sent) AS BIGINT), CAST(sum(received) AS BIGINT), CAST(sum(rtt_sum_us) AS BIGINT) FROM probe_minutes WHERE line = $1 AND minute >= $2 AND minute < $3 \
             GROUP BY minute, tier ORDER BY minute, tier",
        )
        .bind(line)
        .bind(ledger_ts(from))
        .bind(ledger_ts(to))
        .fetch_all(pool)
        .await
        .map_err(query_err("read probe minutes"))?;
        let mut acc: Vec<(DateTime<Utc>, String, i64, i64, i64)> = Vec::new();
        for r in &rows {
            let Some(m) = ts(r, 0) else { continue };
            let start = floor_to_slot(m, slot);
            let tier = if lines.len() > 1 {
                format!("{line}/{}", r.get::<String, _>(1))
            } else {
                r.get::<String, _>(1)
            };
            match acc.iter_mut().find(|a| a.0 == start && a.1 == tier) {
                Some(a) => {
                    a.2 += r.get::<i64, _>(2);
                    a.3 += r.get::<i64, _>(3);
                    a.4 += r.get::<i64, _>(4);
                }
                None => acc.push((start, tier, r.get(2), r.get(3), r.get(4))),
            }
        }
        probes.extend(
            acc.into_iter()
                .map(|(start, tier, sent, received, rtt)| TierSlot {
                    start,
                    tier,
                    sent,
                    received,
                    loss_ratio: (sent > 0).then(|| (sent - received) as f64 / sent as f64),
                    rtt_avg_ms: (received > 0).then(|| rtt as f64 / received as f64 / 1000.0),
                }),
        );
    }
    Ok(probes)
}

/// The start of the `slot`-minute slot (counted from the Unix epoch, so
/// whole minutes and, in whole-hour time zones, whole hours) holding `t`.
fn floor_to_slot(t: DateTime<Utc>, slot: i64) -> DateTime<Utc> {
    let step = slot * 60;
    DateTime::from_timestamp(t.timestamp().div_euclid(step) * step, 0).unwrap_or(t)
}

#[cfg(test)]
mod grid_tests {
    use super::*;

    #[test]
    fn evidence_rows_start_on_whole_minutes_and_slots() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            floor_to_slot(t("2026-10-02T07:29:57.300Z"), 1),
            t("2026-10-02T07:29:00Z")
        );
        assert_eq!(
            floor_to_slot(t("2026-10-02T07:29:57Z"), 5),
            t("2026-10-02T07:25:00Z")
        );
        assert_eq!(
            floor_to_slot(t("2026-10-02T07:30:00Z"), 15),
            t("2026-10-02T07:30:00Z")
        );
    }
}
