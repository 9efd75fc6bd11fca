//! The daemon's HTTP listener: `/metrics` (Prometheus text) and `/healthz`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sqlx::SqlitePool;
use tokio::sync::RwLock;

use crate::clock::RunClock;
use crate::config::Config;
use crate::contract::ContractYear;
use crate::ledger::read::period_figures;
use crate::ledger::write::WriterStatus;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub pool: SqlitePool,
    pub config: Arc<RwLock<Config>>,
    pub clock: RunClock,
    pub writer: Arc<WriterStatus>,
    pub last_round_ms: Arc<AtomicI64>,
    pub receive_stats: Arc<linkledger_probes::ReceiveStats>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    let now = s.clock.now();
    let config = s.config.read().await.clone();
    let year = ContractYear::containing(config.contract.start, config.daemon.timezone, now);
    let cap = config.contract.annual_downtime_cap.as_secs_f64();
    for line in &config.lines {
        let id = line.id.as_str();
        match period_figures(&s.pool, id, year.start, now.min(year.end)).await {
            Ok(f) => {
                s.metrics
                    .downtime
                    .with_label_values(&[id, "contract_year"])
                    .set(f.charged_s);
                s.metrics
                    .unobserved
                    .with_label_values(&[id, "contract_year"])
                    .set(f.unobserved_s);
                s.metrics
                    .budget_remaining
                    .with_label_values(&[id])
                    .set(cap - f.charged_s);
            }
            Err(e) => {
                tracing::warn!(line = id, error = %e, "cannot read contract figures for /metrics")
            }
        }
        s.metrics.budget.with_label_values(&[id]).set(cap);
    }
    s.metrics
        .ledger_pending
        .set(s.writer.pending.load(Ordering::Relaxed) as i64);
    let failures = s.writer.failures.load(Ordering::Relaxed);
    let seen = s.metrics.ledger_write_failures.get();
    s.metrics
        .ledger_write_failures
        .inc_by(failures.saturating_sub(seen));
    let stray = s.receive_stats.mismatched.load(Ordering::Relaxed);
    let seen = s.metrics.stray_replies.get();
    s.metrics.stray_replies.inc_by(stray.saturating_sub(seen));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    let interval = s.config.read().await.probe.interval;
    let last = s.last_round_ms.load(Ordering::Relaxed);
    let age_ms = s.clock.now().timestamp_millis() - last;
    let limit = (interval.as_millis() as i64) * 3 + 1000;
    if last > 0 && age_ms <= limit {
        (StatusCode::OK, format!("ok: last round {age_ms} ms ago\n"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("probing loop stalled: last round {age_ms} ms ago\n"),
        )
    }
}
