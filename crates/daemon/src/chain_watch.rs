//! The ledger's hash chain as the daemon watches it: checked at start
//! (refusing a broken chain unless an operator accepts it with a reason)
//! and again every hour while it runs, with the head, the breaks and the
//! time of the last check in `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use linkledger_ledger::chain::{self, Scope, Verification};
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::{Ledger, LedgerError};

/// How often the newest links are checked again while the daemon runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// At start: the newest links and every row's link (see
/// [`chain::check_at_start`]).
pub async fn at_start(
    db: &Ledger,
    accept: Option<&str>,
    clock: &RunClock,
) -> Result<Verification, LedgerError> {
    let v = chain::check_at_start(db, accept, clock.now()).await?;
    tracing::info!(
        checked = v.checked,
        head_seq = v.head.as_ref().map(|h| h.seq).unwrap_or(0),
        breaks = v.breaks.len(),
        "ledger hash chain checked"
    );
    Ok(v)
}

/// Checks the newest links every [`EVERY`] until cancelled; a break found
/// while running is logged as an error and shown in `/metrics`.
pub async fn run(db: Ledger, clock: RunClock, metrics: Arc<Metrics>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        match chain::verify(&db, Scope::Tail(chain::TAIL_AT_START), None).await {
            Ok(v) => {
                if let Some(b) = v.unaccepted().next() {
                    tracing::error!(
                        breaks = v.unaccepted().count(),
                        first = %b.describe(),
                        "the ledger's hash chain is broken: records were changed behind linkledger's back (linkledger verify lists them)"
                    );
                }
                shown(&v, &clock, &metrics);
            }
            Err(e) => tracing::warn!(error = %e, "cannot check the ledger's hash chain"),
        }
    }
}

/// The check's figures in `/metrics`.
pub fn shown(v: &Verification, clock: &RunClock, m: &Metrics) {
    m.chain.seq.set(v.head.as_ref().map(|h| h.seq).unwrap_or(0));
    m.chain.breaks.set(v.unaccepted().count() as i64);
    m.chain
        .verified_at
        .set(clock.now().timestamp_millis() as f64 / 1000.0);
}
