//! The central daemon's endpoints for vantage agents, each authorised by
//! the agent's own token (`[[vantage]]`):
//!
//! - `GET /api/v1/agent/targets`: the block targets to probe and the last
//!   round the central holds from this agent (so a fresh buffer resumes
//!   after it);
//! - `POST /api/v1/agent/batches`: a batch of rounds, stored in one
//!   transaction: all of it or, when refused, none. A replayed round is
//!   acknowledged and stored once.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Row, SqliteConnection};

use super::batch::{self, Ack, Batch, Last, Refusal};
use super::compact;
use crate::api::{body_limited, same, ApiError};
use crate::clock::{ledger_ts, parse_ledger_ts};
use crate::config::Config;
use crate::http::HttpState;
use crate::ledger::query_err;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/agent/targets", get(targets))
        .route("/api/v1/agent/batches", post(batches))
}

/// The agent whose token the request carries.
fn agent_of(config: &Config, headers: &HeaderMap) -> Result<String, ApiError> {
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.into());
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <agent token>"))?;
    let mut found = None;
    for v in &config.vantage {
        if same(v.token.as_bytes(), given.trim().as_bytes()) {
            found = Some(v.id.clone());
        }
    }
    found.ok_or_else(|| unauthorized("unknown agent token"))
}

/// One target an agent probes.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TargetSpec {
    pub line: String,
    pub target: crate::config::vantage::BlockTarget,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Targets {
    pub agent: String,
    pub targets: Vec<TargetSpec>,
    /// The last round the central holds from this agent (0: none).
    pub last_seq: i64,
}

async fn last_of(conn: &mut SqliteConnection, agent: &str) -> Result<Option<Last>, sqlx::Error> {
    let row =
        sqlx::query("SELECT seq, at FROM vantage_rounds WHERE agent = ? ORDER BY seq DESC LIMIT 1")
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

async fn targets(State(s): State<HttpState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = s.config.read().await.clone();
    let agent = agent_of(&c, &headers)?;
    let mut conn = s
        .pool
        .acquire()
        .await
        .map_err(query_err("read agent rounds"))?;
    let last = last_of(&mut conn, &agent)
        .await
        .map_err(query_err("read agent rounds"))?;
    let targets = c
        .lines
        .iter()
        .flat_map(|l| {
            l.block_targets.iter().map(|t| TargetSpec {
                line: l.id.clone(),
                target: *t,
            })
        })
        .collect();
    Ok(Json(Targets {
        agent,
        targets,
        last_seq: last.map_or(0, |l| l.seq),
    })
    .into_response())
}

async fn batches(
    State(s): State<HttpState>,
    headers: HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    let c = s.config.read().await.clone();
    let agent = agent_of(&c, &headers)?;
    let b: Batch = body_limited(raw, batch::MAX_BODY).await?;
    let now = s.clock.now();
    let ack = store(&s.pool, &c.lines, &agent, &b, now)
        .await
        .map_err(|e| match e {
            StoreError::Refused(r) => {
                tracing::warn!(agent, reason = %r, "agent batch refused");
                let code = match r {
                    Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
                    Refusal::WrongAgent(_) => StatusCode::FORBIDDEN,
                    Refusal::Time(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    Refusal::Sequence(_) => StatusCode::CONFLICT,
                };
                ApiError(code, r.to_string())
            }
            StoreError::Ledger(e) => e.into(),
        })?;
    Ok(Json(ack).into_response())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

/// Checks and stores a batch in one transaction; nothing is stored when it
/// is refused.
pub async fn store(
    pool: &sqlx::SqlitePool,
    lines: &[crate::config::Line],
    agent: &str,
    b: &Batch,
    now: DateTime<Utc>,
) -> Result<Ack, StoreError> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(query_err("begin storing an agent batch"))?;
    let last = last_of(&mut tx, agent)
        .await
        .map_err(query_err("read agent rounds"))?;
    let (first, end) = (
        b.rounds.first().map_or(0, |r| r.seq),
        b.rounds.last().map_or(0, |r| r.seq),
    );
    let held: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM vantage_rounds WHERE agent = ? AND seq BETWEEN ? AND ?",
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
        let unanswered = compact::unanswered_ranges(r.results.iter().map(|t| t.answered));
        let blocks = compact::summarise(lines, r);
        sqlx::query(
            "INSERT INTO vantage_rounds (agent, seq, at, own_healthy, results, received_at, backlog, target_set, unanswered, blocks) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?)",
        )
        .bind(agent)
        .bind(r.seq)
        .bind(ledger_ts(r.at))
        .bind(r.own_healthy())
        .bind(ledger_ts(now))
        .bind(b.backlog as i64)
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
            crate::ledger::paths::insert_on(
                &mut tx,
                &line.id,
                Some(&block.to_string()),
                None,
                agent,
                t,
                now,
            )
            .await
            .map_err(query_err("store an agent's path trace"))?;
            crate::ledger::paths::notify_if_block_down(
                &mut tx,
                &line.id,
                &block.to_string(),
                t.taken_at,
                now,
            )
            .await
            .map_err(query_err("queue an agent's path evidence"))?;
        }
    }
    // Rounds for time the block judge has already judged (an agent silent
    // for longer than it waits): kept, judged without.
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
    tx.commit()
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

/// The id of an agent's target list, stored the first time it is seen.
async fn target_set(
    conn: &mut SqliteConnection,
    names: &[&str],
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let json = serde_json::to_string(names).expect("names serialize");
    if let Some(id) = sqlx::query_scalar("SELECT id FROM vantage_target_sets WHERE targets = ?")
        .bind(&json)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO vantage_target_sets (targets, first_seen) VALUES (?, ?) RETURNING id",
    )
    .bind(&json)
    .bind(ledger_ts(now))
    .fetch_one(&mut *conn)
    .await
}
