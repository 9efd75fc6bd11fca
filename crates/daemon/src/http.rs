//! The daemon's HTTP listener: the status page at `/`, `/metrics`
//! (Prometheus text), `/healthz` and the operator API.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub use crate::web::HttpState;
use linkledger_config::Config;
use linkledger_core::fault::FaultClass;
use linkledger_ledger::budget;

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(crate::status_page::page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/runbook", get(crate::runbook::page))
        .merge(crate::api::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            leader_writes,
        ))
        .with_state(state)
}

/// A standby writes nothing: a request that would (an operator's action,
/// an agent's batch) is refused with 503 and the leader's name, and the
/// agent keeps its rounds until it reaches the leader.
async fn leader_writes(
    State(s): State<HttpState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if reads || !s.role.paired || s.role.leading() {
        return next.run(request).await;
    }
    let leader = s.role.leader();
    crate::web::ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "this linkledger instance ({}) is the standby of its pair and writes nothing; send this to the leader ({})",
            s.role.instance,
            leader.as_deref().unwrap_or("none holds the lease now")
        ),
    )
    .into_response()
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    let now = s.clock.now();
    let config = s.config.get();
    s.metrics
        .update_egress(config.lines.iter().map(|l| l.id.as_str()));
    // A ledger server that does not answer (PostgreSQL restarting, a
    // partition) leaves the last figures; the scrape itself is not held.
    match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        contract_metrics(&s, &config, now),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read contract figures for /metrics"),
        Err(_) => tracing::warn!(
            "the ledger did not answer within 2 s; /metrics shows its last contract figures"
        ),
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

/// Budget and fault figures, read from the ledger at each scrape.
async fn contract_metrics(
    s: &HttpState,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), linkledger_ledger::LedgerError> {
    let m = &s.metrics;
    m.bandwidth.reset();
    for l in &config.lines {
        m.bandwidth
            .with_label_values(&[&l.id])
            .set(l.bandwidth_mbps as f64 * 1e6 / 8.0);
    }
    if let Some(h) = linkledger_ledger::chain::head(&s.db, None).await? {
        m.chain.seq.set(h.seq);
    }
    vantage_metrics(s, config, now).await?;
    budget_metrics(s, config, now).await?;
    open_metrics(s, config).await?;
    deadline_metrics(s, config, now).await
}

/// Each vantage agent's rounds, lag, backlog and own side; the figures of
/// an agent never heard from are absent, not zero.
async fn vantage_metrics(
    s: &HttpState,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), linkledger_ledger::LedgerError> {
    let m = &s.metrics;
    for a in linkledger_ledger::vantage::status::agents(&s.db, config, now).await? {
        let v = &m.vantage;
        let id = [a.agent.as_str()];
        v.rounds.with_label_values(&id).set(a.rounds as f64);
        match (a.last_round_at, a.lag_s, a.backlog, a.healthy) {
            (Some(t), Some(lag), Some(backlog), Some(up)) => {
                v.last_round
                    .with_label_values(&id)
                    .set(t.timestamp_millis() as f64 / 1000.0);
                v.lag.with_label_values(&id).set(lag);
                v.backlog.with_label_values(&id).set(backlog as f64);
                v.own_side_up
                    .with_label_values(&id)
                    .set(if up { 1.0 } else { 0.0 });
            }
            _ => {
                for g in [&v.last_round, &v.lag, &v.backlog, &v.own_side_up] {
                    let _ = g.remove_label_values(&id);
                }
            }
        }
    }
    Ok(())
}

/// Each line's and the egress's downtime, exclusions and budget in the
/// contract year.
async fn budget_metrics(
    s: &HttpState,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), linkledger_ledger::LedgerError> {
    let m = &s.metrics;
    let b = budget::budget(&s.db, config, now).await?;
    for v in b.lines.iter().chain(std::iter::once(&b.egress)) {
        let id = v.line.as_str();
        m.downtime
            .with_label_values(&[id, "contract_year"])
            .set(v.charged_s);
        m.unobserved
            .with_label_values(&[id, "contract_year"])
            .set(v.unobserved_s);
        m.excluded
            .with_label_values(&[id, "force_majeure"])
            .set(v.excluded_force_majeure_s);
        m.excluded
            .with_label_values(&[id, "maintenance"])
            .set(v.excluded_maintenance_s);
        m.budget.with_label_values(&[id]).set(v.cap_s);
        m.budget_remaining
            .with_label_values(&[id])
            .set(v.remaining_s);
        match v.projected_breach {
            Some(t) => m
                .projected_breach
                .with_label_values(&[id])
                .set(t.timestamp_millis() as f64 / 1000.0),
            None => {
                let _ = m.projected_breach.remove_label_values(&[id]);
            }
        }
    }
    Ok(())
}

/// Open faults by class and open degradations by kind, every series
/// present (0 or a count).
async fn open_metrics(
    s: &HttpState,
    config: &Config,
) -> Result<(), linkledger_ledger::LedgerError> {
    let m = &s.metrics;
    let open = linkledger_ledger::records::open_fault_counts(&s.db).await?;
    let ids = config
        .lines
        .iter()
        .map(|l| l.id.as_str())
        .chain([linkledger_core::EGRESS]);
    for id in ids {
        for class in FaultClass::ALL {
            let n = open
                .iter()
                .find(|r| r.0 == id && r.1 == class.as_str())
                .map_or(0, |r| r.2);
            m.faults_open
                .with_label_values(&[id, class.as_str()])
                .set(n);
        }
    }
    // Every line and kind, 0 or 1, so "none open" is a value, not absence.
    let open_degradations = linkledger_ledger::read::open_degradations(&s.db).await?;
    m.degradations_open.reset();
    for l in &config.lines {
        for kind in crate::metrics::DEGRADATION_KINDS {
            let open = open_degradations
                .iter()
                .any(|(line, k)| *line == l.id && k == kind);
            m.degradations_open
                .with_label_values(&[&l.id, kind])
                .set(i64::from(open));
        }
    }
    Ok(())
}

/// Deadline breaches as counters, and pending deadlines' due times.
async fn deadline_metrics(
    s: &HttpState,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), linkledger_ledger::LedgerError> {
    let m = &s.metrics;
    let breaches = linkledger_ledger::records::breach_counts(&s.db).await?;
    for (scope, class, deadline, n) in breaches {
        let c = m
            .deadline_breaches
            .with_label_values(&[&scope, &class, &deadline]);
        let n = n.max(0) as u64;
        c.inc_by(n.saturating_sub(c.get()));
    }
    // Pending deadlines: of open faults, and repair reports of faults
    // resolved within the repair-report window.
    let recent =
        linkledger_ledger::records::recent_faults(&s.db, &config.contract.terms, now).await?;
    m.deadline_due.reset();
    for f in &recent {
        let line = f.line.as_deref().unwrap_or(linkledger_core::EGRESS);
        let fault = f.id.to_string();
        for d in &f.deadlines {
            if let (linkledger_core::fault::deadline::DeadlineState::Pending, Some(due)) =
                (d.state, d.due)
            {
                m.deadline_due
                    .with_label_values(&[line, f.class.as_str(), d.kind.as_str(), &fault])
                    .set(due.timestamp_millis() as f64 / 1000.0);
            }
        }
    }
    Ok(())
}

async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    let interval = s.config.get().probe.interval;
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
