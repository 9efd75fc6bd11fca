//! The start of a daemon run: the run row, the gap since the previous run,
//! and the outages and local faults left open by it.

use crate::Ledger;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{query_err, LedgerError};
use linkledger_config::Line;
use linkledger_core::time::{ledger_ts, parse_ledger_ts};

/// What a new run inherits from the ledger.
#[derive(Debug, Default)]
pub struct RunStart {
    pub run_id: i64,
    /// When the previous run was last seen alive, and the gap recorded since.
    pub previous_heartbeat: Option<DateTime<Utc>>,
    /// Lines with an outage still open, with its start.
    pub open_outages: Vec<(String, DateTime<Utc>)>,
    /// Lines with a local fault still open.
    pub open_local_faults: Vec<String>,
    /// This run's start: where the daemon gap ends and observation resumes.
    pub started_at: Option<DateTime<Utc>>,
    /// Lines the ledger knew before this run (watched by an earlier run),
    /// whose state at the previous run's last heartbeat the ledger holds.
    pub known_lines: Vec<String>,
    /// Each line's latest recorded edge (the end of its latest closed
    /// outage or local fault): a standby taking over judges its own rounds
    /// from after it, never again before it.
    pub last_edges: std::collections::HashMap<String, DateTime<Utc>>,
}

/// Records a new run in one transaction: the run row, the daemon gap since
/// the previous run's last heartbeat, the configured lines (a new history
/// row when one changed), and closes open outages of lines no longer
/// configured at the previous run's last heartbeat.
pub async fn begin(
    ledger: &Ledger,
    now: DateTime<Utc>,
    config_path: &str,
    interval_ms: i64,
    lines: &[Line],
) -> Result<RunStart, LedgerError> {
    begin_observed(ledger, now, now, config_path, interval_ms, lines).await
}

/// [`begin`] for a run that has observed the lines since `observed_since`
/// (a standby taking over the lease): the daemon gap is only the time
/// from the previous run's last heartbeat to then, none when it was
/// already observing. Its rounds since that heartbeat are its to write.
pub async fn begin_observed(
    ledger: &Ledger,
    now: DateTime<Utc>,
    observed_since: DateTime<Utc>,
    config_path: &str,
    interval_ms: i64,
    lines: &[Line],
) -> Result<RunStart, LedgerError> {
    let mut tx = crate::sql::begin_write_pooled(ledger)
        .await
        .map_err(query_err("begin run"))?;
    let prev: Option<String> =
        sqlx::query_scalar("SELECT heartbeat_at FROM runs ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_err("read previous run"))?;
    let previous_heartbeat = prev.as_deref().and_then(parse_ledger_ts);
    let now_s = ledger_ts(now);
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (started_at, heartbeat_at, version, config_path, interval_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&now_s)
    .bind(&now_s)
    .bind(env!("CARGO_PKG_VERSION"))
    .bind(config_path)
    .bind(interval_ms)
    .fetch_one(&mut *tx)
    .await
    .map_err(query_err("insert run"))?;
    let gap_end = observed_since.min(now);
    if let Some(hb) = previous_heartbeat.filter(|hb| *hb < gap_end) {
        record_gap(&mut tx, hb, gap_end, run_id).await?;
    }
    let known_lines: Vec<String> = sqlx::query_scalar("SELECT DISTINCT line FROM line_configs")
        .fetch_all(&mut *tx)
        .await
        .map_err(query_err("read known lines"))?;
    record_line_configs(&mut tx, lines, &now_s, run_id).await?;
    let mut last_edges = std::collections::HashMap::new();
    for table in ["outages", "local_faults"] {
        let own = if table == "outages" {
            " AND block IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT line, max(end_at) FROM {table} WHERE end_at IS NOT NULL{own} GROUP BY line"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(query_err("read each line's latest edge"))?;
        for row in rows {
            let (line, end): (String, Option<String>) = (row.get(0), row.get(1));
            if let Some(end) = end.as_deref().and_then(parse_ledger_ts) {
                let e = last_edges.entry(line).or_insert(end);
                *e = (*e).max(end);
            }
        }
    }
    let mut start = RunStart {
        run_id,
        previous_heartbeat,
        started_at: Some(gap_end),
        known_lines,
        last_edges,
        ..Default::default()
    };
    resume_open(&mut tx, lines, now, &mut start).await?;
    // Degradations need a window of fresh rounds to be judged again: those
    // left open end where the previous run was last seen; faults whose
    // causes are all over are resolved.
    if let Some(hb) = previous_heartbeat {
        sqlx::query("UPDATE degradations SET end_at = CASE WHEN start_at > $1 THEN start_at ELSE $1 END, run_closed = $2 WHERE end_at IS NULL")
            .bind(ledger_ts(hb))
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(query_err("close degradations of the previous run"))?;
    }
    super::faults::resolve_finished(&mut tx)
        .await
        .map_err(query_err("resolve finished faults"))?;
    crate::chain::commit_sealed(tx)
        .await
        .map_err(query_err("commit run start"))?;
    Ok(start)
}

/// The time the daemon was not running, from the previous run's last
/// heartbeat to this start, and its notice.
async fn record_gap(
    tx: &mut sqlx::AnyConnection,
    hb: DateTime<Utc>,
    now: DateTime<Utc>,
    run_id: i64,
) -> Result<(), LedgerError> {
    let now_s = ledger_ts(now);
    sqlx::query("INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES (NULL, $1, $2, 'daemon_not_running', $3)")
        .bind(ledger_ts(hb))
        .bind(&now_s)
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(query_err("insert daemon gap"))?;
    let notice = super::outbox::NewNotice::about(
        super::outbox::NoticeKind::DaemonGap,
        format!("run:{run_id}:gap"),
        None,
        now,
        serde_json::json!({
            "since": ledger_ts(hb),
            "gap_seconds": (now - hb).num_milliseconds() as f64 / 1000.0,
        }),
    );
    super::outbox::queue(&mut *tx, &notice)
        .await
        .map_err(query_err("queue the daemon gap notice"))?;
    Ok(())
}

/// The outages and local faults the previous run left open: those of
/// configured lines are resumed (listed in `start`); those of lines no
/// longer configured end where observation of them ended.
async fn resume_open(
    tx: &mut sqlx::AnyConnection,
    lines: &[Line],
    now: DateTime<Utc>,
    start: &mut RunStart,
) -> Result<(), LedgerError> {
    let configured = |id: &str| lines.iter().any(|l| l.id == id);
    let (run_id, previous_heartbeat) = (start.run_id, start.previous_heartbeat);
    // Block outages (block not NULL) are the block judge's to resume.
    for (table, own) in [("outages", " AND block IS NULL"), ("local_faults", "")] {
        let rows = sqlx::query(&format!(
            "SELECT line, start_at FROM {table} WHERE end_at IS NULL{own}"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(query_err("read open episodes"))?;
        for row in rows {
            let line: String = row.get(0);
            let since: String = row.get(1);
            if configured(&line) {
                if table == "outages" {
                    start
                        .open_outages
                        .push((line, parse_ledger_ts(&since).unwrap_or(now)));
                } else {
                    start.open_local_faults.push(line);
                }
                continue;
            }
            // The line was removed from the config while this was open: it
            // ends where observation of it ended.
            let at = ledger_ts(previous_heartbeat.unwrap_or(now));
            sqlx::query(&format!(
                "UPDATE {table} SET end_at = $1, end_after = $2, run_closed = $3 WHERE line = $4 AND end_at IS NULL{own}"
            ))
            .bind(&at)
            .bind(&at)
            .bind(run_id)
            .bind(&line)
            .execute(&mut *tx)
            .await
            .map_err(query_err("close episode of removed line"))?;
        }
    }
    Ok(())
}

/// Appends a line's configuration when it differs from the latest recorded.
pub(crate) async fn record_line_configs(
    conn: &mut sqlx::AnyConnection,
    lines: &[Line],
    now: &str,
    run_id: i64,
) -> Result<(), LedgerError> {
    for line in lines {
        let json = serde_json::to_string(line).expect("a line serializes");
        let latest: Option<String> = sqlx::query_scalar(
            "SELECT config_json FROM line_configs WHERE line = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(&line.id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_err("read line config"))?;
        if latest.as_deref() != Some(json.as_str()) {
            sqlx::query("INSERT INTO line_configs (line, config_json, valid_from, run_id) VALUES ($1, $2, $3, $4)")
                .bind(&line.id)
                .bind(&json)
                .bind(now)
                .bind(run_id)
                .execute(&mut *conn)
                .await
                .map_err(query_err("insert line config"))?;
        }
    }
    Ok(())
}

/// When this ledger's first run started (None: it never ran). Periods that
/// ended before it have nothing to report.
pub async fn first_started(ledger: &Ledger) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let pool = ledger.pool();
    let first: Option<String> = sqlx::query_scalar("SELECT min(started_at) FROM runs")
        .fetch_one(pool)
        .await?;
    Ok(first.as_deref().and_then(parse_ledger_ts))
}

/// Records a wall-clock step seen by a run (see migration 0015).
pub async fn record_clock_step(
    conn: &mut sqlx::AnyConnection,
    run_id: i64,
    run_time: DateTime<Utc>,
    wall_time: DateTime<Utc>,
    followed: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clock_steps (run_id, run_time, wall_time, step_ms, followed) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(run_id)
    .bind(ledger_ts(run_time))
    .bind(ledger_ts(wall_time))
    .bind((wall_time - run_time).num_milliseconds())
    .bind(i64::from(followed))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The last heartbeat in the ledger (of the latest run), if any.
pub async fn last_heartbeat(ledger: &Ledger) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let prev: Option<String> =
        sqlx::query_scalar("SELECT heartbeat_at FROM runs ORDER BY id DESC LIMIT 1")
            .fetch_optional(ledger.pool())
            .await
            .map_err(query_err("read the last heartbeat"))?;
    Ok(prev.as_deref().and_then(parse_ledger_ts))
}

/// Records a clock step outside the writer (at a run's start).
pub async fn clock_step(
    ledger: &Ledger,
    run_id: i64,
    run_time: DateTime<Utc>,
    wall_time: DateTime<Utc>,
    followed: bool,
) -> Result<(), LedgerError> {
    let mut conn = ledger
        .pool()
        .acquire()
        .await
        .map_err(query_err("record a clock step"))?;
    record_clock_step(&mut conn, run_id, run_time, wall_time, followed)
        .await
        .map_err(query_err("record a clock step"))
}

/// The forward steps followed since `t` (their sum), to carry a time
/// recorded before them onto the timeline after them.
pub async fn steps_followed_since(
    conn: &mut sqlx::AnyConnection,
    t: DateTime<Utc>,
) -> Result<chrono::TimeDelta, LedgerError> {
    let ms: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(step_ms), 0) AS BIGINT) FROM clock_steps WHERE followed = 1 AND run_time >= $1",
    )
    .bind(ledger_ts(t))
    .fetch_one(&mut *conn)
    .await
    .map_err(query_err("read clock steps"))?;
    Ok(chrono::TimeDelta::milliseconds(ms))
}
