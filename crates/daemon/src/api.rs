//! The operator API: JSON over HTTP under `/api/v1/` on the daemon's
//! listener, off unless a token is configured. Bearer tokens carry a role
//! (viewer < operator < manager), compared in constant time and never
//! logged. Every request is checked in this order: token (401, also for an
//! unknown endpoint or action), role (403), body size (413), body shape
//! (400: one JSON object, nothing after it), and the action against the
//! ledger (404, 409, 422); a rejected request writes nothing.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::web::{body_limited, same, ApiError, HttpState};
use linkledger_config::terms::ApiRole;
use linkledger_config::Config;
use linkledger_core::fault::FaultClass;
use linkledger_ledger::budget;
use linkledger_ledger::operator::{self, Action, Actor, Step, Withdrawable};
use linkledger_ledger::records::{self, FaultFilter};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 64 * 1024;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/faults", get(list_faults))
        .route("/api/v1/faults/:id", get(one_fault))
        .route("/api/v1/faults/:id/:action", post(fault_action))
        .route(
            "/api/v1/exclusions",
            get(list_exclusions).post(new_exclusion),
        )
        .route("/api/v1/exclusions/:id/withdraw", post(withdraw_exclusion))
        .route(
            "/api/v1/maintenance",
            get(list_maintenance).post(new_maintenance),
        )
        .route(
            "/api/v1/maintenance/:id/withdraw",
            post(withdraw_maintenance),
        )
        .route("/api/v1/maintenance/:id/approve", post(approve_maintenance))
        .route("/api/v1/outages/agreed", get(list_agreed).post(new_agreed))
        .route("/api/v1/drills", get(list_drills).post(new_drill))
        .route("/api/v1/budget", get(get_budget))
        .route("/api/v1/audit", get(get_audit))
        .merge(crate::vantage::ingest::routes())
        .fallback(not_found)
}

type ApiResult = Result<Response, ApiError>;

/// An unknown endpoint: the token is checked first, so that what exists is
/// said only to a caller who may use it.
async fn not_found(State(s): State<HttpState>, headers: HeaderMap) -> ApiError {
    if let Err(e) = authorize(&config_of(&s).await, &headers, ApiRole::Viewer) {
        return e;
    }
    ApiError(
        StatusCode::NOT_FOUND,
        "no such API endpoint; see the README (Operator API)".into(),
    )
}

/// The caller's token name if it may act with `needed`.
fn authorize(config: &Config, headers: &HeaderMap, needed: ApiRole) -> Result<String, ApiError> {
    if config.api_tokens.is_empty() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "the operator API is off: configure at least one [[api.token]]".into(),
        ));
    }
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.into());
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?;
    let given = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer <token>\""))?;
    // Every token is compared, so the time taken does not say which matched.
    let mut found = None;
    for t in &config.api_tokens {
        if same(t.secret.as_bytes(), given.as_bytes()) {
            found = Some(t);
        }
    }
    let token = found.ok_or_else(|| unauthorized("unknown token"))?;
    if token.role < needed {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "token {:?} has role {}; this needs {} or above",
                token.name,
                token.role.as_str(),
                needed.as_str()
            ),
        ));
    }
    Ok(token.name.clone())
}

async fn config_of(s: &HttpState) -> Config {
    Config::clone(&s.config.get())
}

fn ok<T: serde::Serialize>(v: T) -> ApiResult {
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultQuery {
    line: Option<String>,
    class: Option<String>,
    state: Option<String>,
    since: Option<DateTime<Utc>>,
}

async fn list_faults(
    State(s): State<HttpState>,
    headers: HeaderMap,
    q: Result<Query<FaultQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let c = config_of(&s).await;
    authorize(&c, &headers, ApiRole::Viewer)?;
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let class = match q.class.as_deref() {
        None => None,
        Some(v) => Some(FaultClass::parse(v).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("class {v:?}: use general, serious or major"),
            )
        })?),
    };
    let open = match q.state.as_deref() {
        None => None,
        Some("open") => Some(true),
        Some("resolved") => Some(false),
        Some(v) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("state {v:?}: use open or resolved"),
            ))
        }
    };
    let filter = FaultFilter {
        line: q.line,
        class,
        open,
        since: q.since,
    };
    ok(records::faults(&s.db, &filter, &c.contract.terms, s.clock.now()).await?)
}

async fn one_fault(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let c = config_of(&s).await;
    authorize(&c, &headers, ApiRole::Viewer)?;
    let id = parse_id(&id)?;
    match records::fault(&s.db, id, &c.contract.terms, s.clock.now()).await? {
        Some(f) => ok(f),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no fault {id}"))),
    }
}

fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{s:?} is not an id (a positive integer)"),
        )
    })
}

/// Reads and parses a JSON body after the caller is authorized.
async fn body<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    body_limited(body, MAX_BODY).await
}

/// The config in force and the caller's token name, if it may act with `needed`.
async fn caller(
    s: &HttpState,
    headers: &HeaderMap,
    needed: ApiRole,
) -> Result<(Config, String), ApiError> {
    let c = config_of(s).await;
    let token = authorize(&c, headers, needed)?;
    Ok((c, token))
}

/// Applies an accepted action and answers 201 with its outcome.
async fn apply(s: &HttpState, c: &Config, token: &str, action: Action) -> ApiResult {
    let actor = Actor {
        via: format!("api:{token}"),
    };
    let outcome = operator::apply(&s.db, c, &actor, action, s.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(outcome)).into_response())
}

async fn fault_action(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    raw: Body,
) -> ApiResult {
    // Who asks comes before what is asked.
    authorize(&config_of(&s).await, &headers, ApiRole::Operator)?;
    let step = match action.as_str() {
        "report" => Some(Step::Reported),
        "ack" => Some(Step::Acknowledged),
        "on-site" => Some(Step::OnSite),
        "repair-report" => Some(Step::RepairReport),
        "carrier-ticket" => Some(Step::CarrierTicket),
        "note" => Some(Step::Note),
        "reclassify" => None,
        other => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no fault action {other:?}; use report, ack, on-site, repair-report, carrier-ticket, note or reclassify"),
            ))
        }
    };
    let needed = if step.is_some() {
        ApiRole::Operator
    } else {
        ApiRole::Manager
    };
    let (c, token) = caller(&s, &headers, needed).await?;
    let id = parse_id(&id)?;
    let action = match step {
        Some(step) => Action::Fault {
            id,
            step,
            body: body(raw).await?,
        },
        None => Action::Reclassify {
            id,
            body: body(raw).await?,
        },
    };
    apply(&s, &c, &token, action).await
}

async fn list_exclusions(State(s): State<HttpState>, headers: HeaderMap) -> ApiResult {
    authorize(&config_of(&s).await, &headers, ApiRole::Viewer)?;
    ok(records::exclusions(&s.db).await?)
}

async fn new_exclusion(State(s): State<HttpState>, headers: HeaderMap, raw: Body) -> ApiResult {
    let (c, token) = caller(&s, &headers, ApiRole::Manager).await?;
    apply(&s, &c, &token, Action::Exclude(body(raw).await?)).await
}

async fn withdraw_exclusion(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Body,
) -> ApiResult {
    withdraw(&s, &headers, &id, raw, Withdrawable::Exclusion).await
}

/// A manager withdraws an exclusion or a maintenance window.
async fn withdraw(
    s: &HttpState,
    headers: &HeaderMap,
    id: &str,
    raw: Body,
    record: Withdrawable,
) -> ApiResult {
    let (c, token) = caller(s, headers, ApiRole::Manager).await?;
    let id = parse_id(id)?;
    let body = body(raw).await?;
    apply(s, &c, &token, Action::Withdraw { record, id, body }).await
}

async fn list_maintenance(State(s): State<HttpState>, headers: HeaderMap) -> ApiResult {
    let c = config_of(&s).await;
    authorize(&c, &headers, ApiRole::Viewer)?;
    let all = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    ok(budget::maintenance(&s.db, None, all, c.contract.terms.maintenance_notice).await?)
}

async fn new_maintenance(State(s): State<HttpState>, headers: HeaderMap, raw: Body) -> ApiResult {
    let (c, token) = caller(&s, &headers, ApiRole::Manager).await?;
    apply(&s, &c, &token, Action::Maintenance(body(raw).await?)).await
}

async fn withdraw_maintenance(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Body,
) -> ApiResult {
    withdraw(&s, &headers, &id, raw, Withdrawable::Maintenance).await
}

async fn list_agreed(State(s): State<HttpState>, headers: HeaderMap) -> ApiResult {
    authorize(&config_of(&s).await, &headers, ApiRole::Viewer)?;
    ok(records::agreed_outages(&s.db, None).await?)
}

/// A manager records an outage both sides agree on.
async fn new_agreed(State(s): State<HttpState>, headers: HeaderMap, raw: Body) -> ApiResult {
    let (c, token) = caller(&s, &headers, ApiRole::Manager).await?;
    apply(&s, &c, &token, Action::AgreeOutage(body(raw).await?)).await
}

/// A manager approves a maintenance window recorded after it began.
async fn approve_maintenance(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Body,
) -> ApiResult {
    let (c, token) = caller(&s, &headers, ApiRole::Manager).await?;
    let id = parse_id(&id)?;
    let body = body(raw).await?;
    apply(&s, &c, &token, Action::ApproveMaintenance { id, body }).await
}

async fn list_drills(State(s): State<HttpState>, headers: HeaderMap) -> ApiResult {
    authorize(&config_of(&s).await, &headers, ApiRole::Viewer)?;
    ok(records::drills(&s.db).await?)
}

async fn new_drill(State(s): State<HttpState>, headers: HeaderMap, raw: Body) -> ApiResult {
    let (c, token) = caller(&s, &headers, ApiRole::Operator).await?;
    apply(&s, &c, &token, Action::Drill(body(raw).await?)).await
}

async fn get_budget(State(s): State<HttpState>, headers: HeaderMap) -> ApiResult {
    let c = config_of(&s).await;
    authorize(&c, &headers, ApiRole::Viewer)?;
    ok(budget::budget(&s.db, &c, s.clock.now()).await?)
}

async fn get_audit(State(s): State<HttpState>, headers: HeaderMap) -> ApiResult {
    authorize(&config_of(&s).await, &headers, ApiRole::Viewer)?;
    ok(records::audit_log(&s.db).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_whole() {
        assert!(super::same(b"abcdefgh12345678", b"abcdefgh12345678"));
        assert!(!super::same(b"abcdefgh12345678", b"abcdefgh12345679"));
        assert!(!super::same(b"abcdefgh12345678", b"abcdefgh1234567"));
    }
}
