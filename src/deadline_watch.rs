//! Watches fault deadlines while the daemon runs: each breach is appended
//! to the fault's timeline once, at the deadline's due time, so the
//! breach counter and later reports read it from the ledger. At start every
//! fault is checked (breaches that fell due while the daemon was away);
//! afterwards only those whose deadlines can still fall due.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use sqlx::SqlitePool;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::config::Config;
use crate::ledger::faults::record_breaches;
use crate::ledger::records::{faults, FaultFilter};

pub async fn run(
    pool: SqlitePool,
    config: Arc<RwLock<Config>>,
    clock: RunClock,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    let mut first = true;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let c = config.read().await.clone();
        let now = clock.now();
        let horizon = TimeDelta::from_std(c.contract.terms.repair_report).unwrap_or(TimeDelta::MAX);
        let filter = FaultFilter {
            since: (!first).then(|| now - horizon - TimeDelta::hours(1)),
            ..Default::default()
        };
        let result = match faults(&pool, &filter, &c.contract.terms, now).await {
            Ok(list) => record_breaches(&pool, &list, now)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(_) => first = false,
            Err(e) => tracing::error!(error = %e, "cannot check fault deadlines; retrying"),
        }
    }
}
