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
    let ack = store(&s.pool, &agent, &b, now).await.map_err(|e| match e {
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
    for r in &new {
        sqlx::query(
            "INSERT INTO vantage_rounds (agent, seq, at, own_healthy, results, received_at, backlog) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(agent)
        .bind(r.seq)
        .bind(ledger_ts(r.at))
        .bind(r.own_healthy())
        .bind(serde_json::to_string(&r.results).expect("results serialize"))
        .bind(ledger_ts(now))
        .bind(b.backlog as i64)
        .execute(&mut *tx)
        .await
        .map_err(query_err("store agent rounds"))?;
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
