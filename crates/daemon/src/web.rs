//! What every HTTP handler shares: the state it is given, the error it
//! answers with (a status and a message saying what is wrong), and the
//! checked reading of a JSON body and of a token.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use linkledger_config::LiveConfig;
use linkledger_ledger::Ledger;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::metrics::Metrics;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::operator::ActionError;
use linkledger_ledger::write::WriterStatus;
use linkledger_ledger::LedgerError;

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub db: Ledger,
    pub config: LiveConfig,
    pub clock: RunClock,
    pub writer: Arc<WriterStatus>,
    pub last_round_ms: Arc<AtomicI64>,
    pub receive_stats: Arc<linkledger_probes::ReceiveStats>,
    /// This instance's part in its pair (a single daemon leads).
    pub role: Arc<crate::pair::Role>,
}

/// An API error: a status and a message saying what is wrong.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        tracing::error!(error = %e, "API request failed in the ledger");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            ActionError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            ActionError::Invalid(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, m),
            ActionError::Ledger(e) => e.into(),
        }
    }
}

/// Equal in constant time for equal lengths; the length itself is not secret.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON request body of at most `limit` bytes: 413 when larger, 400
/// naming the field when it does not parse.
pub async fn body_limited<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {} KiB", limit / 1024),
        )
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let at = match e.path().to_string() {
            p if p == "." => String::new(),
            p => format!(" at `{p}`"),
        };
        let hint = if e.inner().to_string().starts_with("input") {
            " (times are RFC 3339, e.g. \"2026-01-01T08:00:00+08:00\")"
        } else {
            ""
        };
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body{at}: {}{hint}", e.inner()),
        )
    })?;
    // One JSON value and nothing after it but white space.
    de.end().map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e} (one JSON object, nothing after it)"),
        )
    })?;
    Ok(value)
}
