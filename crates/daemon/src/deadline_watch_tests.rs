//! The deadline watch's timing on tokio's paused clock: what it checks on
//! each tick, when it scans every fault and when only recent ones, and how
//! a failed check is retried. Minutes of ticks run in milliseconds.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use linkledger_config::{Config, LiveConfig};
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::records::FaultFilter;
use linkledger_ledger::LedgerError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{watch, Watched};

/// Records each call (seconds since the start, and for deadlines whether
/// every fault was asked for); fails the calls whose numbers are listed.
#[derive(Default)]
struct Recorder {
    t0: Option<Instant>,
    fail_deadlines: Vec<usize>,
    fail_budget: Vec<usize>,
    deadlines: Mutex<Vec<(u64, bool)>>,
    budget: Mutex<Vec<u64>>,
}

/// The ledger failing a check (here: its file gone).
fn refused() -> LedgerError {
    LedgerError::Missing {
        path: "/var/lib/linkledger/ledger.db".into(),
    }
}

impl Watched for Recorder {
    async fn deadlines(
        &self,
        _: &Config,
        filter: FaultFilter,
        _: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let at = (Instant::now() - self.t0.unwrap()).as_secs();
        let mut calls = self.deadlines.lock().unwrap();
        calls.push((at, filter.since.is_none()));
        match self.fail_deadlines.contains(&(calls.len() - 1)) {
            true => Err(refused()),
            false => Ok(()),
        }
    }

    async fn budget(&self, _: &Config, _: DateTime<Utc>) -> Result<(), LedgerError> {
        let at = (Instant::now() - self.t0.unwrap()).as_secs();
        let mut calls = self.budget.lock().unwrap();
        calls.push(at);
        match self.fail_budget.contains(&(calls.len() - 1)) {
            true => Err(refused()),
            false => Ok(()),
        }
    }
}

fn config() -> LiveConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo.toml");
    LiveConfig::new(Config::load(std::path::Path::new(path)).unwrap())
}

/// Watches every 10 s for `secs` of paused time.
async fn watched(mut r: Recorder, secs: u64) -> Recorder {
    r.t0 = Some(Instant::now());
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let every = Duration::from_secs(10);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.cancel();
    });
    watch(&r, config(), RunClock::start(), every, cancel).await;
    r
}

#[tokio::test(start_paused = true)]
async fn every_fault_is_checked_first_then_only_those_still_due() {
    let r = watched(Recorder::default(), 185).await;
    let calls = r.deadlines.lock().unwrap().clone();
    let expected: Vec<(u64, bool)> = (0..19).map(|k| (k * 10, k == 0)).collect();
    assert_eq!(calls, expected, "a check every 10 s, all faults only first");
    assert_eq!(
        *r.budget.lock().unwrap(),
        [0, 60, 120, 180],
        "the budget once a minute"
    );
}

/// A first scan that fails (the database locked at start) is repeated as a
/// full scan: breaches that fell due while the daemon was away are found.
#[tokio::test(start_paused = true)]
async fn a_failed_first_scan_is_repeated_in_full_until_it_succeeds() {
    let r = Recorder {
        fail_deadlines: vec![0, 1],
        ..Default::default()
    };
    let r = watched(r, 45).await;
    assert_eq!(
        *r.deadlines.lock().unwrap(),
        [(0, true), (10, true), (20, true), (30, false), (40, false)]
    );
}

/// A failed budget check is tried again at the next tick, not a minute on.
#[tokio::test(start_paused = true)]
async fn a_failed_budget_check_is_retried_at_the_next_tick() {
    let r = Recorder {
        fail_budget: vec![0],
        ..Default::default()
    };
    let r = watched(r, 75).await;
    assert_eq!(*r.budget.lock().unwrap(), [0, 10, 70]);
}
