//! Applying one write to the ledger, each in its own transaction: the
//! edge or sample itself, and beside it (in a savepoint) the fault
//! bookkeeping it causes. Grouped by what is recorded.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Connection};

use super::{savepoint, settle, Ctx, LedgerWrite};
use crate::faults;
use crate::outbox::{self, NewNotice, NoticeKind};
use linkledger_core::time::ledger_ts;

/// Applies `w`; an error leaves the ledger as it was (the write is retried).
pub(super) async fn apply(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    w: &LedgerWrite,
) -> Result<(), sqlx::Error> {
    use LedgerWrite::*;
    match w {
        OutageOpened { .. }
        | OutageCause { .. }
        | OutageClosed { .. }
        | LocalFaultOpened { .. }
        | Gap { .. }
        | LocalFaultClosed { .. } => episodes(conn, ctx, w).await,
        BlockOutageOpened { .. }
        | BlockOutageClosed { .. }
        | PathTraces { .. }
        | BlockJudged { .. } => blocks(conn, ctx, w).await,
        DegradationStarted { .. } | DegradationEnded { .. } => degradations(conn, ctx, w).await,
        Notice(..)
        | Heartbeat { .. }
        | ClockStep { .. }
        | Stopped { .. }
        | LineConfigs(..)
        | Terms { .. } => run(conn, ctx, w).await,
        TrafficSample(..) | ProbeMinutes(..) => samples(conn, ctx, w).await,
        FaultRules(_) => Ok(()), // taken by the writer's loop itself
    }
}

/// An outage, a local fault, their cause evidence, a gap in observation.
async fn episodes(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    w: &LedgerWrite,
) -> Result<(), sqlx::Error> {
    let (run_id, interval_ms) = (ctx.run_id, ctx.interval_ms);
    let ts = |t: &DateTime<Utc>| ledger_ts(*t);
    let opt = |t: &Option<DateTime<Utc>>| t.map(ledger_ts);
    match w {
        LedgerWrite::OutageOpened {
            line,
            start,
            start_after,
            cause,
        } => {
            let mut tx = conn.begin().await?;
            let id: i64 = sqlx::query_scalar("INSERT INTO outages (line, start_at, start_after, cause, interval_ms, run_opened) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(line).bind(ts(start)).bind(opt(start_after)).bind(cause).bind(interval_ms).bind(run_id)
                .fetch_one(&mut *tx).await?;
            savepoint(&mut tx).await?;
            let r = faults::outage_opened(&mut tx, ctx.rules, line, id, *start, run_id).await;
            settle(&mut tx, r, "outage opened").await?;
            crate::chain::commit_sealed(tx).await?;
        }
        LedgerWrite::OutageCause { line, at, cause } => {
            let done = sqlx::query(
                "INSERT INTO outage_causes (outage_id, seen_at, cause) SELECT id, $1, $2 FROM outages WHERE line = $3 AND end_at IS NULL AND block IS NULL",
            )
            .bind(ts(at))
            .bind(cause)
            .bind(line)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                tracing::warn!(
                    line,
                    "cause evidence for an outage that is not open in the ledger"
                );
            }
        }
        LedgerWrite::OutageClosed {
            line,
            end,
            end_after,
        }
        | LedgerWrite::LocalFaultClosed {
            line,
            end,
            end_after,
        } => closed(conn, ctx, w, line, *end, *end_after).await?,
        LedgerWrite::LocalFaultOpened {
            line,
            start,
            start_after,
        } => {
            let mut tx = conn.begin().await?;
            let id: i64 = sqlx::query_scalar("INSERT INTO local_faults (line, start_at, start_after, interval_ms, run_opened) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(line).bind(ts(start)).bind(opt(start_after)).bind(interval_ms).bind(run_id)
                .fetch_one(&mut *tx).await?;
            let notice = NewNotice::about(
                NoticeKind::LocalFault,
                format!("local_fault:{id}"),
                Some(line.clone()),
                *start,
                serde_json::json!({}),
            );
            outbox::queue(&mut tx, &notice).await?;
            crate::chain::commit_sealed(tx).await?;
        }
        LedgerWrite::Gap {
            line,
            start,
            end,
            reason,
        } => gap(conn, ctx, line.as_deref(), *start, *end, reason).await?,
        other => unreachable!("not a write of this group: {other:?}"),
    }
    Ok(())
}

/// A gap in observation, of one line (with its notice) or of the daemon.
async fn gap(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    line: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(line)
    .bind(ledger_ts(start))
    .bind(ledger_ts(end))
    .bind(reason)
    .bind(ctx.run_id)
    .fetch_one(&mut *tx)
    .await?;
    if line.is_some() {
        let notice = NewNotice::about(
            NoticeKind::ProbeFailed,
            format!("gap:{id}"),
            line.map(str::to_string),
            start,
            serde_json::json!({
                "reason": reason,
                "seconds": (end - start).num_milliseconds() as f64 / 1000.0,
            }),
        );
        outbox::queue(&mut tx, &notice).await?;
    }
    crate::chain::commit_sealed(tx).await?;
    Ok(())
}

/// The IP block judged from the vantage agents: its outages, the paths traced, how far it is judged.
async fn blocks(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    w: &LedgerWrite,
) -> Result<(), sqlx::Error> {
    let (run_id, interval_ms) = (ctx.run_id, ctx.interval_ms);
    let ts = |t: &DateTime<Utc>| ledger_ts(*t);
    let opt = |t: &Option<DateTime<Utc>>| t.map(ledger_ts);
    match w {
        LedgerWrite::BlockOutageOpened {
            line,
            block,
            start,
            start_after,
        } => {
            let mut tx = conn.begin().await?;
            let id: i64 = sqlx::query_scalar("INSERT INTO outages (line, block, start_at, start_after, cause, interval_ms, run_opened) VALUES ($1, $2, $3, $4, 'ip_block_unreachable', $5, $6) RETURNING id")
                .bind(line).bind(block).bind(ts(start)).bind(opt(start_after)).bind(interval_ms).bind(run_id)
                .fetch_one(&mut *tx).await?;
            savepoint(&mut tx).await?;
            let r = faults::block_outage_opened(&mut tx, ctx.rules, line, id, *start, run_id).await;
            settle(&mut tx, r, "block outage opened").await?;
            savepoint(&mut tx).await?;
            let r =
                crate::paths::notify_block_paths(&mut tx, line, block, id, *start, ctx.clock.now())
                    .await;
            settle(&mut tx, r, "block outage path evidence").await?;
            crate::chain::commit_sealed(tx).await?;
        }
        LedgerWrite::BlockOutageClosed {
            line,
            block,
            end,
            end_after,
        } => {
            let mut tx = conn.begin().await?;
            let done = sqlx::query("UPDATE outages SET end_at = $1, end_after = $2, run_closed = $3 WHERE line = $4 AND block = $5 AND end_at IS NULL")
                .bind(ts(end)).bind(ts(end_after)).bind(run_id).bind(line).bind(block)
                .execute(&mut *tx).await?;
            savepoint(&mut tx).await?;
            let r = faults::resolve_finished(&mut tx).await;
            settle(&mut tx, r, "block outage closed").await?;
            crate::chain::commit_sealed(tx).await?;
            if done.rows_affected() == 0 {
                tracing::warn!(
                    line,
                    block,
                    "asked to close a block outage that is not open in the ledger"
                );
            }
        }
        LedgerWrite::PathTraces {
            line,
            block,
            outage_start,
            origin,
            paths,
        } => {
            let mut tx = conn.begin().await?;
            crate::paths::record_for_outage(
                &mut tx,
                line,
                block.as_deref(),
                *outage_start,
                origin,
                paths,
                ctx.clock.now(),
            )
            .await?;
            crate::chain::commit_sealed(tx).await?;
        }
        LedgerWrite::BlockJudged { line, block, until } => {
            sqlx::query("INSERT INTO block_judged (line, block, judged_until) VALUES ($1, $2, $3) ON CONFLICT (line, block) DO UPDATE SET judged_until = excluded.judged_until")
                .bind(line).bind(block).bind(ts(until))
                .execute(&mut *conn).await?;
        }
        other => unreachable!("not a write of this group: {other:?}"),
    }
    Ok(())
}

/// A degradation (loss, latency, utilisation) starting or ending.
async fn degradations(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    w: &LedgerWrite,
) -> Result<(), sqlx::Error> {
    let run_id = ctx.run_id;
    let ts = |t: &DateTime<Utc>| ledger_ts(*t);
    match w {
        LedgerWrite::DegradationStarted {
            line,
            kind,
            start,
            detail,
        } => {
            let mut tx = conn.begin().await?;
            let id: i64 = sqlx::query_scalar("INSERT INTO degradations (line, kind, start_at, detail, run_opened) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(line).bind(kind).bind(ts(start)).bind(detail).bind(run_id)
                .fetch_one(&mut *tx).await?;
            savepoint(&mut tx).await?;
            let r = faults::degradation_started(&mut tx, ctx.rules, line, id, *start, run_id).await;
            settle(&mut tx, r, "degradation started").await?;
            crate::chain::commit_sealed(tx).await?;
        }
        LedgerWrite::DegradationEnded { line, kind, end } => {
            let mut tx = conn.begin().await?;
            sqlx::query("UPDATE degradations SET end_at = $1, run_closed = $2 WHERE line = $3 AND kind = $4 AND end_at IS NULL")
                .bind(ts(end)).bind(run_id).bind(line).bind(kind)
                .execute(&mut *tx).await?;
            savepoint(&mut tx).await?;
            let r = faults::resolve_finished(&mut tx).await;
            settle(&mut tx, r, "degradation ended").await?;
            crate::chain::commit_sealed(tx).await?;
        }
        other => unreachable!("not a write of this group: {other:?}"),
    }
    Ok(())
}

/// The run itself: notices, heartbeats, the stop, the lines' config and the contract terms in force.
async fn run(conn: &mut AnyConnection, ctx: &Ctx<'_>, w: &LedgerWrite) -> Result<(), sqlx::Error> {
    let run_id = ctx.run_id;
    let ts = |t: &DateTime<Utc>| ledger_ts(*t);
    match w {
        LedgerWrite::Notice(n) => {
            outbox::queue(conn, n).await?;
        }
        LedgerWrite::Heartbeat { at } => {
            sqlx::query("UPDATE runs SET heartbeat_at = $1 WHERE id = $2")
                .bind(ts(at))
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
        }
        LedgerWrite::ClockStep {
            run_time,
            wall_time,
            followed,
        } => {
            crate::run::record_clock_step(conn, run_id, *run_time, *wall_time, *followed).await?;
        }
        LedgerWrite::Stopped { at } => {
            sqlx::query("UPDATE runs SET heartbeat_at = $1, stopped_at = $2 WHERE id = $3")
                .bind(ts(at))
                .bind(ts(at))
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
        }
        LedgerWrite::LineConfigs(lines) => {
            crate::run::record_line_configs(conn, lines, &ledger_ts(ctx.clock.now()), run_id)
                .await
                .map_err(|e| match e {
                    crate::LedgerError::Query { source, .. } => source,
                    other => sqlx::Error::Protocol(other.to_string()),
                })?;
        }
        LedgerWrite::Terms { terms, at } => {
            if crate::terms::record(conn, terms, *at, Some(run_id))
                .await
                .map_err(|e| match e {
                    crate::LedgerError::Query { source, .. } => source,
                    other => sqlx::Error::Protocol(other.to_string()),
                })?
            {
                tracing::info!(from = %ledger_ts(*at), "new contract terms in force for faults detected from now on");
            }
        }
        other => unreachable!("not a write of this group: {other:?}"),
    }
    Ok(())
}

/// What probes and polls measured: traffic samples and per-minute probe rows.
async fn samples(
    conn: &mut AnyConnection,
    _: &Ctx<'_>,
    w: &LedgerWrite,
) -> Result<(), sqlx::Error> {
    match w {
        LedgerWrite::TrafficSample(t) => {
            sqlx::query(
                "INSERT INTO traffic_samples (line, start_at, seconds_covered, avg_in_bps, avg_out_bps, max_in_bps, max_out_bps, \
                 in_errors, out_errors, in_discards, out_discards) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&t.line)
            .bind(ledger_ts(t.start))
            .bind(t.seconds)
            .bind(t.avg_in_bps)
            .bind(t.avg_out_bps)
            .bind(t.max_in_bps)
            .bind(t.max_out_bps)
            .bind(t.errors[0] as i64)
            .bind(t.errors[1] as i64)
            .bind(t.errors[2] as i64)
            .bind(t.errors[3] as i64)
            .execute(&mut *conn)
            .await?;
        }
        LedgerWrite::ProbeMinutes(rows) => {
            let mut tx = conn.begin().await?;
            for r in rows {
                sqlx::query(
                    "INSERT INTO probe_minutes (line, tier, target, minute, sent, received, rtt_min_us, rtt_max_us, rtt_sum_us, jitter_sum_us, jitter_n, rtt_hist) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (line, tier, target, minute) DO UPDATE SET sent = probe_minutes.sent + excluded.sent, received = probe_minutes.received + excluded.received, \
                     rtt_min_us = CASE WHEN excluded.rtt_min_us < probe_minutes.rtt_min_us OR probe_minutes.rtt_min_us IS NULL THEN excluded.rtt_min_us ELSE probe_minutes.rtt_min_us END, \
                     rtt_max_us = CASE WHEN excluded.rtt_max_us > probe_minutes.rtt_max_us OR probe_minutes.rtt_max_us IS NULL THEN excluded.rtt_max_us ELSE probe_minutes.rtt_max_us END, \
                     rtt_sum_us = probe_minutes.rtt_sum_us + excluded.rtt_sum_us, jitter_sum_us = probe_minutes.jitter_sum_us + excluded.jitter_sum_us, \
                     jitter_n = probe_minutes.jitter_n + excluded.jitter_n, rtt_hist = probe_minutes.rtt_hist || ',' || excluded.rtt_hist",
                )
                .bind(&r.line).bind(r.tier).bind(&r.target).bind(ledger_ts(r.minute))
                .bind(i64::from(r.sent)).bind(i64::from(r.received))
                .bind(r.rtt_min_us.map(|v| v as i64)).bind(r.rtt_max_us.map(|v| v as i64))
                .bind(r.rtt_sum_us as i64).bind(r.jitter_sum_us as i64).bind(i64::from(r.jitter_n)).bind(&r.rtt_hist)
                .execute(&mut *tx).await?;
            }
            // Measurements, not records: nothing to seal.
            tx.commit().await?;
        }
        other => unreachable!("not a write of this group: {other:?}"),
    }
    Ok(())
}

/// An outage or a local fault closed: the episode's end, and either the
/// faults it resolves (an outage) or the notice of its recovery (a local
/// fault, told as its start was).
async fn closed(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    w: &LedgerWrite,
    line: &String,
    end: DateTime<Utc>,
    end_after: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let run_id = ctx.run_id;
    let ts = |t: &DateTime<Utc>| ledger_ts(*t);
    // A line's own outage, not its block's (block not NULL).
    let (table, own) = if matches!(w, LedgerWrite::OutageClosed { .. }) {
        ("outages", " AND block IS NULL")
    } else {
        ("local_faults", "")
    };
    let mut tx = conn.begin().await?;
    let closed: Vec<(i64, String)> = sqlx::query_as(&format!(
        "UPDATE {table} SET end_at = $1, end_after = $2, run_closed = $3 WHERE line = $4 AND end_at IS NULL{own} RETURNING id, start_at"
    ))
    .bind(ts(&end)).bind(ts(&end_after)).bind(run_id).bind(line)
    .fetch_all(&mut *tx).await?;
    if table == "outages" {
        savepoint(&mut tx).await?;
        let r = faults::resolve_finished(&mut tx).await;
        settle(&mut tx, r, "outage closed").await?;
    } else {
        // Its recovery is told too, as the local fault was.
        for (id, start) in &closed {
            let lasted = linkledger_core::time::parse_ledger_ts(start)
                .map(|s| (end - s).num_milliseconds() as f64 / 1000.0)
                .unwrap_or(0.0);
            let notice = NewNotice::about(
                NoticeKind::LocalFaultResolved,
                format!("local_fault:{id}:resolved"),
                Some(line.clone()),
                end,
                serde_json::json!({ "duration_seconds": lasted }),
            );
            outbox::queue(&mut tx, &notice).await?;
        }
    }
    crate::chain::commit_sealed(tx).await?;
    if closed.is_empty() {
        tracing::warn!(
            line,
            table,
            "asked to close an episode that is not open in the ledger"
        );
    }

    Ok(())
}
