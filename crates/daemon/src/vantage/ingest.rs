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
use serde::Serialize;

use crate::web::HttpState;
use crate::web::{body_limited, same, ApiError};
use linkledger_config::Config;
use linkledger_core::batch::{self, Batch, Refusal};
use linkledger_ledger::vantage::{last_of, store, StoreError};

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
    pub target: linkledger_config::vantage::BlockTarget,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Targets {
    pub agent: String,
    pub targets: Vec<TargetSpec>,
    /// The last round the central holds from this agent (0: none).
    pub last_seq: i64,
}

async fn targets(State(s): State<HttpState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = s.config.get();
    let agent = agent_of(&c, &headers)?;
    let last = last_of(&s.db, &agent).await?;
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
    let c = s.config.get();
    let agent = agent_of(&c, &headers)?;
    let b: Batch = body_limited(raw, batch::MAX_BODY).await?;
    let now = s.clock.now();
    let ack = store(&s.db, &c.lines, &agent, &b, now)
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
