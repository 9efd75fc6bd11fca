//! What each configured agent last sent: its last round and when it came,
//! how far behind it is, the backlog it reported and whether its own side
//! was healthy. Read by `linkledger vantage status` and /metrics.

use crate::Ledger;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::{query_err, LedgerError};
use linkledger_config::Config;
use linkledger_core::time::parse_ledger_ts;

#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub agent: String,
    pub rounds: i64,
    pub last_seq: Option<i64>,
    /// The last round's time on the agent's clock.
    pub last_round_at: Option<DateTime<Utc>>,
    /// When the central received it.
    pub last_received_at: Option<DateTime<Utc>>,
    /// Now minus the last round's time.
    pub lag_s: Option<f64>,
    /// Rounds the agent still held when it sent its last batch.
    pub backlog: Option<i64>,
    /// Its own anchors answered in its last round.
    pub healthy: Option<bool>,
}

pub async fn agents(
    ledger: &Ledger,
    c: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<AgentStatus>, LedgerError> {
    let pool = ledger.pool();
    let mut out = Vec::new();
    for v in &c.vantage {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM vantage_rounds WHERE agent = $1")
            .bind(&v.id)
            .fetch_one(pool)
            .await
            .map_err(query_err("read agent rounds"))?;
        let row = sqlx::query(
            "SELECT seq, at, received_at, backlog, own_healthy FROM vantage_rounds WHERE agent = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(&v.id)
        .fetch_optional(pool)
        .await
        .map_err(query_err("read agent rounds"))?;
        let at = |i: usize| {
            row.as_ref()
                .and_then(|r| parse_ledger_ts(&r.get::<String, _>(i)))
        };
        let last_round_at = at(1);
        out.push(AgentStatus {
            agent: v.id.clone(),
            rounds: n,
            last_seq: row.as_ref().map(|r| r.get(0)),
            last_round_at,
            last_received_at: at(2),
            lag_s: last_round_at.map(|t| (now - t).num_milliseconds() as f64 / 1000.0),
            backlog: row.as_ref().map(|r| r.get(3)),
            healthy: row.as_ref().map(|r| crate::sql::flag(r, 4)),
        });
    }
    Ok(out)
}

/// A public block as the ledger holds it: how far the judge has judged it,
/// the open block outage if any, and how many it has had.
#[derive(Debug, Clone, Serialize)]
pub struct BlockStatus {
    pub line: String,
    pub block: String,
    /// Agents that must fail to reach it for it to be down.
    pub quorum: usize,
    /// Every agent round up to here has been judged.
    pub judged_until: Option<DateTime<Utc>>,
    /// The start of the open block outage.
    pub down_since: Option<DateTime<Utc>>,
    pub outages: i64,
}

pub async fn blocks(ledger: &Ledger, c: &Config) -> Result<Vec<BlockStatus>, LedgerError> {
    let pool = ledger.pool();
    let mut out = Vec::new();
    for (line, block, quorum) in c.probed_blocks() {
        let judged: Option<String> = sqlx::query_scalar(
            "SELECT judged_until FROM block_judged WHERE line = $1 AND block = $2",
        )
        .bind(&line)
        .bind(&block)
        .fetch_optional(pool)
        .await
        .map_err(query_err("read block judgements"))?;
        let row = sqlx::query(
            "SELECT count(*), max(CASE WHEN end_at IS NULL THEN start_at END) FROM outages WHERE line = $1 AND block = $2",
        )
        .bind(&line)
        .bind(&block)
        .fetch_one(pool)
        .await
        .map_err(query_err("read block outages"))?;
        out.push(BlockStatus {
            judged_until: judged.as_deref().and_then(parse_ledger_ts),
            down_since: row
                .get::<Option<String>, _>(1)
                .as_deref()
                .and_then(parse_ledger_ts),
            outages: row.get(0),
            line,
            block,
            quorum,
        });
    }
    Ok(out)
}
