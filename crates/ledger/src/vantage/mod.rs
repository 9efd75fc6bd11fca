//! Agents' rounds in the ledger: a batch checked and stored in one
//! transaction, what each agent and block last showed
//! ([`status`]), and the per-round block summaries ([`compact`]).

pub mod compact;
pub mod status;

use crate::Ledger;
use chrono::{DateTime, Utc};
use linkledger_core::batch::{self, Ack, Batch, Last, Refusal};
use linkledger_core::time::{ledger_ts, parse_ledger_ts};
use sqlx::{AnyConnection, Row};

use crate::{query_err, LedgerError};

/// The last round the ledger holds from `agent`.
pub async fn last_of(ledger: &Ledger, agent: &str) -> Result<Option<Last>, LedgerError> {
    let pool = ledger.pool();
    let mut conn = pool
        .acquire()
        .await
        .map_err(query_err("read agent rounds"))?;
    last_in(&mut conn, agent)
        .await
        .map_err(query_err("read agent rounds"))
}

async fn last_in(conn: &mut AnyConnection, agent: &str) -> Result<Option<Last>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT seq, at FROM vantage_rounds WHERE agent = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(agent)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Last {
            seq: r.get(0),
            at: parse_ledger_ts(&r.get::<String, _>(1))?,
        })
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Ledger(#[from] crate::LedgerError),
}

/// Checks and stores a batch in one transaction; nothing is stored when it
/// is refused.
pub async fn store(
    ledger: &Ledger,
    lines: &[linkledger_config::Line],
    agent: &str,
    b: &Batch,
    now: DateTime<Utc>,
) -> Result<Ack, StoreError> {
    let mut tx = crate::sql::begin_write_pooled(ledger)
        .await
        .map_err(query_err("begin storing an agent batch"))?;
    let last = last_in(&mut tx, agent)
        .await
        .map_err(query_err("read agent rounds"))?;
    let (first, end) = (
        b.rounds.first().map_or(0, |r| r.seq),
        b.rounds.last().map_or(0, |r| r.seq),
    );
    let held: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM vantage_rounds WHERE agent = $1 AND seq BETWEEN $2 AND $3",
    )
    .bind(agent)
    .bind(first)
    .bind(end)
    .fetch_all(&mut *tx)
    .await
    .map_err(query_err("read agent rounds"))?;
    let (new, duplicates) = batch::check(b, agent, last, now, |seq| held.contains(&seq))?;
    // Rounds of one agent almost always share their target list: it is
    // looked up (or stored) once per distinct list in the batch.
    let mut sets: Vec<(Vec<&str>, i64)> = Vec::new();
    for r in &new {
        let names: Vec<&str> = r.results.iter().map(|t| t.target.as_str()).collect();
        let set = match sets.iter().find(|(n, _)| *n == names) {
            Some((_, id)) => *id,
            None => {
                let id = target_set(&mut tx, &names, now)
                    .await
                    .map_err(query_err("store an agent's target list"))?;
                sets.push((names, id));
                id
            }
        };
        store_round(&mut tx, lines, agent, r, set, b.backlog, now).await?;
    }
    warn_late(&mut tx, agent, &new).await?;
    crate::chain::commit_sealed(tx)
        .await
        .map_err(query_err("commit agent rounds"))?;
    let acked = new
        .last()
        .map(|r| r.seq)
        .max(last.map(|l| l.seq))
        .unwrap_or(0);
    if !new.is_empty() {
        tracing::debug!(
            agent,
            stored = new.len(),
            duplicates,
            acked,
            "agent batch stored"
        );
    }
    Ok(Ack {
        acked,
        stored: new.len(),
        duplicates,
    })
}

/// One new round of a batch, with its path traces and the evidence they
/// queue.
async fn store_round(
    tx: &mut AnyConnection,
    lines: &[linkledger_config::Line],
    agent: &str,
    r: &batch::Round,
    set: i64,
    backlog: u64,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let unanswered = compact::unanswered_ranges(r.results.iter().map(|t| t.answered));
    let blocks = compact::summarise(lines, r);
    sqlx::query(
        "INSERT INTO vantage_rounds (agent, seq, at, own_healthy, results, received_at, backlog, target_set, unanswered, blocks) VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $9)",
    )
    .bind(agent)
    .bind(r.seq)
    .bind(ledger_ts(r.at))
    .bind(i64::from(r.own_healthy()))
    .bind(ledger_ts(now))
    .bind(backlog as i64)
    .bind(set)
    .bind(unanswered)
    .bind(serde_json::to_string(&blocks).expect("summaries serialize"))
    .execute(&mut *tx)
    .await
    .map_err(query_err("store agent rounds"))?;
    for t in &r.traces {
        let Some((line, block)) = compact::block_of(lines, &t.target) else {
            tracing::warn!(
                agent,
                target = t.target,
                "a path trace to a target no line names; not kept"
            );
            continue;
        };
        crate::paths::insert_on(
            &mut *tx,
            &line.id,
            Some(&block.to_string()),
            None,
            agent,
            t,
            now,
        )
        .await
        .map_err(query_err("store an agent's path trace"))?;
        crate::paths::notify_if_block_down(&mut *tx, &line.id, &block.to_string(), t.taken_at, now)
            .await
            .map_err(query_err("queue an agent's path evidence"))?;
    }
    Ok(())
}

/// Rounds for time the block judge has already judged (an agent silent
/// for longer than it waits) are kept and judged without: said in the log.
async fn warn_late(
    tx: &mut AnyConnection,
    agent: &str,
    new: &[&batch::Round],
) -> Result<(), LedgerError> {
    let judged: Option<String> = sqlx::query_scalar("SELECT min(judged_until) FROM block_judged")
        .fetch_one(&mut *tx)
        .await
        .map_err(query_err("read block judgements"))?;
    if let Some(judged) = judged.as_deref().and_then(parse_ledger_ts) {
        let late = new.iter().filter(|r| r.at < judged).count();
        if late > 0 {
            tracing::warn!(
                agent,
                late,
                judged_until = %ledger_ts(judged),
                "rounds arrived for time already judged (the agent was silent longer than the judge waits): kept, not judged again"
            );
        }
    }
    Ok(())
}

/// The id of an agent's target list, stored the first time it is seen.
async fn target_set(
    conn: &mut AnyConnection,
    names: &[&str],
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let json = serde_json::to_string(names).expect("names serialize");
    if let Some(id) = sqlx::query_scalar("SELECT id FROM vantage_target_sets WHERE targets = $1")
        .bind(&json)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO vantage_target_sets (targets, first_seen) VALUES ($1, $2) RETURNING id",
    )
    .bind(&json)
    .bind(ledger_ts(now))
    .fetch_one(&mut *conn)
    .await
}

/// An agent's round as the block judge reads it back.
#[derive(Debug, Clone)]
pub struct StoredRound {
    pub agent: String,
    /// None only where the ledger's time is unreadable.
    pub at: Option<DateTime<Utc>>,
    pub own_healthy: bool,
    pub blocks: Vec<compact::BlockSummary>,
}

/// Rounds with block summaries in `(after, until]`, in (time, agent, seq)
/// order, at most `limit` of them.
pub async fn rounds_between(
    ledger: &Ledger,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: Option<i64>,
) -> Result<Vec<StoredRound>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT agent, at, own_healthy, blocks FROM vantage_rounds WHERE at > $1 AND at <= $2 AND blocks IS NOT NULL ORDER BY at, agent, seq LIMIT $3",
    )
    .bind(ledger_ts(after))
    .bind(ledger_ts(until))
    .bind(limit.unwrap_or(-1))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| StoredRound {
            agent: r.get(0),
            at: parse_ledger_ts(&r.get::<String, _>(1)),
            own_healthy: crate::sql::flag(r, 2),
            blocks: serde_json::from_str(&r.get::<String, _>(3)).unwrap_or_default(),
        })
        .collect())
}

/// The time of an agent's latest round.
pub async fn latest_round_at(
    ledger: &Ledger,
    agent: &str,
) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let pool = ledger.pool();
    let mut conn = pool.acquire().await?;
    Ok(last_in(&mut conn, agent).await?.map(|l| l.at))
}

/// A line's own outages (from inside, not block outages) overlapping
/// `(from, to]`; an open one runs to the end of time.
pub async fn line_outage_spans(
    ledger: &Ledger,
    line: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT start_at, end_at FROM outages WHERE line = $1 AND block IS NULL AND start_at <= $2 AND (end_at IS NULL OR end_at > $3)",
    )
    .bind(line)
    .bind(ledger_ts(to))
    .bind(ledger_ts(from))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let a = parse_ledger_ts(&r.get::<String, _>(0))?;
            let b = r
                .get::<Option<String>, _>(1)
                .and_then(|s| parse_ledger_ts(&s))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            Some((a, b))
        })
        .collect())
}

/// Up to when a block has been judged.
pub async fn judged_until(
    ledger: &Ledger,
    line: &str,
    block: &str,
) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let pool = ledger.pool();
    let until: Option<String> =
        sqlx::query_scalar("SELECT judged_until FROM block_judged WHERE line = $1 AND block = $2")
            .bind(line)
            .bind(block)
            .fetch_optional(pool)
            .await?;
    Ok(until.as_deref().and_then(parse_ledger_ts))
}

/// The start of a block's open outage, if it has one.
pub async fn open_block_outage(
    ledger: &Ledger,
    line: &str,
    block: &str,
) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let pool = ledger.pool();
    let open: Option<String> = sqlx::query_scalar(
        "SELECT start_at FROM outages WHERE line = $1 AND block = $2 AND end_at IS NULL",
    )
    .bind(line)
    .bind(block)
    .fetch_optional(pool)
    .await?;
    Ok(open.as_deref().and_then(parse_ledger_ts))
}

/// Every open block outage: (line, block, where judging it ended, else
/// its start).
pub async fn open_block_outages(
    ledger: &Ledger,
) -> Result<Vec<(String, String, Option<DateTime<Utc>>)>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT o.line, o.block, coalesce(j.judged_until, o.start_at) FROM outages o \
         LEFT JOIN block_judged j ON j.line = o.line AND j.block = o.block \
         WHERE o.block IS NOT NULL AND o.end_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), parse_ledger_ts(&r.get::<String, _>(2))))
        .collect())
}
