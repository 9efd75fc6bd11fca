//! The ledger writer: one task applies writes in order, each in its own
//! transaction. When the database refuses (disk full, read-only, locked),
//! the error is logged loudly, the write stays queued with everything after
//! it, probing goes on, and the queue is written once the database accepts
//! writes again.

mod apply;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::clock::RunClock;
use crate::faults::FaultRules;
use crate::outbox::NewNotice;
use crate::Ledger;

pub mod journal;
pub use journal::Journal;
use journal::Keep;

/// One thing to record. Serialized into the journal ([`journal`]) when the
/// database refuses it to the end; what only a reload sends (the line
/// configs, terms and fault rules, recorded again at every start) is not.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum LedgerWrite {
    OutageOpened {
        line: String,
        start: DateTime<Utc>,
        start_after: Option<DateTime<Utc>>,
        #[serde(deserialize_with = "linkledger_core::intern::static_str")]
        cause: linkledger_core::intern::Static,
    },
    /// A block outage: the line's public block unreachable from outside
    /// (vantage agents) while the line is up from inside.
    BlockOutageOpened {
        line: String,
        block: String,
        start: DateTime<Utc>,
        start_after: Option<DateTime<Utc>>,
    },
    BlockOutageClosed {
        line: String,
        block: String,
        end: DateTime<Utc>,
        end_after: DateTime<Utc>,
    },
    /// The block judge has fed every agent round up to `until` with no
    /// verdict pending (its resume point).
    BlockJudged {
        line: String,
        block: String,
        until: DateTime<Utc>,
    },
    /// A traceroute taken for an outage (path evidence). `outage_start`
    /// names the line's (or block's) outage it was taken for.
    PathTraces {
        line: String,
        block: Option<String>,
        outage_start: Option<DateTime<Utc>>,
        origin: String,
        paths: Vec<linkledger_core::path::PathRecord>,
    },
    /// Later evidence of the open outage's cause (appended to outage_causes).
    OutageCause {
        line: String,
        at: DateTime<Utc>,
        #[serde(deserialize_with = "linkledger_core::intern::static_str")]
        cause: linkledger_core::intern::Static,
    },
    OutageClosed {
        line: String,
        end: DateTime<Utc>,
        end_after: DateTime<Utc>,
    },
    LocalFaultOpened {
        line: String,
        start: DateTime<Utc>,
        start_after: Option<DateTime<Utc>>,
    },
    LocalFaultClosed {
        line: String,
        end: DateTime<Utc>,
        end_after: DateTime<Utc>,
    },
    Gap {
        line: Option<String>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        #[serde(deserialize_with = "linkledger_core::intern::static_str")]
        reason: linkledger_core::intern::Static,
    },
    Heartbeat {
        at: DateTime<Utc>,
    },
    /// The wall clock read `wall_time` when the run's timeline read
    /// `run_time`; `followed` when the timeline moved to it (see
    /// migration 0015).
    ClockStep {
        run_time: DateTime<Utc>,
        wall_time: DateTime<Utc>,
        followed: bool,
    },
    ProbeMinutes(Vec<MinuteRow>),
    Stopped {
        at: DateTime<Utc>,
    },
    /// The configured lines after a reload (history rows where changed).
    #[serde(skip)]
    LineConfigs(Vec<linkledger_config::Line>),
    /// The contract terms after a reload, in force from `at` (a history
    /// row where changed).
    #[serde(skip)]
    Terms {
        terms: Box<linkledger_config::Terms>,
        at: DateTime<Utc>,
    },
    /// Five minutes of a line's interface traffic.
    TrafficSample(linkledger_core::traffic::TrafficSample),
    /// Quality crossed a degradation threshold (kind: loss, rtt, utilisation).
    DegradationStarted {
        line: String,
        #[serde(deserialize_with = "linkledger_core::intern::static_str")]
        kind: linkledger_core::intern::Static,
        start: DateTime<Utc>,
        detail: String,
    },
    DegradationEnded {
        line: String,
        #[serde(deserialize_with = "linkledger_core::intern::static_str")]
        kind: linkledger_core::intern::Static,
        end: DateTime<Utc>,
    },
    /// The fault class rules and configured lines after a reload.
    #[serde(skip)]
    FaultRules(super::faults::FaultRules),
    /// A notice with no other ledger change (SNMP polling failing).
    Notice(NewNotice),
}

pub use linkledger_core::rollup::MinuteRow;

/// What the writer is up to, for metrics and health.
#[derive(Debug, Default)]
pub struct WriterStatus {
    pub pending: AtomicUsize,
    pub failures: AtomicU64,
}

pub type LedgerTx = mpsc::UnboundedSender<LedgerWrite>;

/// Runs until every sender is dropped and the queue is written, or, once
/// senders are gone, until `give_up` passes with the database still refusing.
/// What still could not be written then is kept in `journal` (replayed at
/// the next start); while even that fails, the writer keeps trying both.
pub async fn run_writer(
    ledger: Ledger,
    run: WriterRun,
    rules: FaultRules,
    rx: mpsc::UnboundedReceiver<LedgerWrite>,
    status: Arc<WriterStatus>,
    give_up: Duration,
    mut journal: Option<Journal>,
) {
    write_loop(&ledger, &mut journal, run, rules, rx, status, give_up).await
}

/// The run the writer records for: its id in the ledger, its clock (when a
/// row was recorded) and its probe interval (an outage's resolution).
#[derive(Debug, Clone)]
pub struct WriterRun {
    pub run_id: i64,
    pub clock: RunClock,
    pub interval_ms: i64,
}

/// Where the writer's loop applies each write: the ledger, or in a test of
/// the loop's timing a database that refuses on cue.
trait Store {
    fn apply(
        &self,
        ctx: &Ctx<'_>,
        w: &LedgerWrite,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send;
}

impl Store for Ledger {
    async fn apply(&self, ctx: &Ctx<'_>, w: &LedgerWrite) -> Result<(), sqlx::Error> {
        let mut conn = self.pool().acquire().await?;
        if let Err(e) = apply::apply(&mut conn, ctx, w).await {
            // A transaction that failed (a full disk) can leave the
            // connection inside one: SQLite rolls it back on its own, sqlx's
            // count of nested transactions drifts, and the connection would
            // hold the write lock from its next use on. It is closed instead.
            conn.close_on_drop();
            return Err(e);
        }
        // The write's own transactions sealed the links they added; links
        // added by single statements (a notice, a stop, a cause) and by the
        // notifier's deliveries are sealed here, at once.
        if let Err(e) = crate::chain::seal_if_pending(&mut conn).await {
            conn.close_on_drop();
            tracing::warn!(error = %e, "cannot seal the hash chain's newest links now; the next write seals them");
        }
        Ok(())
    }
}

/// The writer's loop: writes in order, each retried every second while the
/// database refuses (probing goes on meanwhile, the backlog in memory).
/// Longer than most: receiving, retrying and giving up at shutdown share
/// the backlog and its counters, and are tested together on a paused clock.
async fn write_loop<S: Store, K: Keep>(
    store: &S,
    keep: &mut K,
    run: WriterRun,
    mut rules: FaultRules,
    mut rx: mpsc::UnboundedReceiver<LedgerWrite>,
    status: Arc<WriterStatus>,
    give_up: Duration,
) {
    let mut queue: VecDeque<LedgerWrite> = VecDeque::new();
    let mut minutes = MinuteBatch::default();
    let mut closed = false;
    let mut closed_at: Option<tokio::time::Instant> = None;
    let WriterRun {
        run_id,
        ref clock,
        interval_ms,
    } = run;
    let mut failing = false;
    let mut keep_failures = 0u32;
    loop {
        while let Ok(w) = rx.try_recv() {
            minutes.accept(&mut queue, w);
        }
        if minutes.due() {
            queue.push_back(LedgerWrite::ProbeMinutes(std::mem::take(&mut minutes.rows)));
        }
        status
            .pending
            .store(queue.len() + minutes.rows.len(), Ordering::Relaxed);
        let Some(next) = queue.front() else {
            if closed {
                break;
            }
            match rx.recv().await {
                Some(w) => minutes.accept(&mut queue, w),
                None => closed = true,
            }
            continue;
        };
        if let LedgerWrite::FaultRules(r) = next {
            rules = r.clone();
            queue.pop_front();
            continue;
        }
        let ctx = Ctx {
            run_id,
            clock,
            interval_ms,
            rules: &rules,
        };
        match store.apply(&ctx, next).await {
            Ok(()) => {
                if failing {
                    tracing::warn!(
                        backlog = queue.len() - 1,
                        "ledger accepts writes again; writing the backlog"
                    );
                    failing = false;
                }
                queue.pop_front();
            }
            Err(e) if is_permanent(&e) => {
                tracing::error!(error = %e, write = ?next, "ledger write rejected by a constraint; skipped");
                status.failures.fetch_add(1, Ordering::Relaxed);
                queue.pop_front();
            }
            Err(e) => {
                status.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    error = %e, backlog = queue.len(),
                    "LEDGER WRITE FAILED: state changes are queued in memory and probing goes on; they are written when the database accepts writes again"
                );
                failing = true;
                if closed {
                    let since = *closed_at.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= give_up {
                        let writes: Vec<LedgerWrite> = queue.iter().cloned().collect();
                        match keep.keep(&run, &writes) {
                            Ok(journal) => {
                                tracing::error!(kept = writes.len(), journal, "the database refused writes to the end: kept in the journal, replayed when the daemon next starts");
                                break;
                            }
                            Err(e) => {
                                if keep_failures.is_multiple_of(30) {
                                    tracing::error!(error = %e, backlog = queue.len(), "CANNOT KEEP THE BACKLOG: the database refuses writes and the journal cannot be written either; still trying both every second, not exiting until one accepts them");
                                }
                                keep_failures += 1;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    w = rx.recv() => match w {
                        Some(w) => minutes.accept(&mut queue, w),
                        None => closed = true,
                    },
                }
            }
        }
    }
    status.pending.store(queue.len(), Ordering::Relaxed);
}

/// Per-minute probe rows, which every line hands over at the turn of the
/// minute. A finished minute is written at once (a kill a moment later
/// must not take it along); rows handed over together go in one
/// transaction.
#[derive(Default)]
struct MinuteBatch {
    rows: Vec<MinuteRow>,
}

impl MinuteBatch {
    fn accept(&mut self, queue: &mut VecDeque<LedgerWrite>, w: LedgerWrite) {
        match w {
            LedgerWrite::ProbeMinutes(rows) => self.rows.extend(rows),
            other => enqueue(queue, other),
        }
    }

    fn due(&self) -> bool {
        !self.rows.is_empty()
    }
}

/// Queues a write; consecutive heartbeats collapse into the latest.
fn enqueue(queue: &mut VecDeque<LedgerWrite>, w: LedgerWrite) {
    if let (LedgerWrite::Heartbeat { .. }, Some(LedgerWrite::Heartbeat { .. })) = (&w, queue.back())
    {
        if queue.len() > 1 {
            queue.pop_back();
        }
    }
    queue.push_back(w);
}

fn is_permanent(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation() || d.is_check_violation() || d.is_foreign_key_violation())
        || matches!(e, sqlx::Error::Database(d) if d.message().contains("never"))
}

/// What every write is applied with.
struct Ctx<'a> {
    run_id: i64,
    /// The run's clock: when a row was recorded.
    clock: &'a RunClock,
    interval_ms: i64,
    rules: &'a FaultRules,
}

/// The fault automation runs inside a savepoint of the write's transaction:
/// a constraint it trips is logged and rolled back without losing the
/// outage or degradation itself; any other error fails the whole write,
/// which is then retried.
async fn savepoint(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SAVEPOINT faults")
        .execute(conn)
        .await
        .map(|_| ())
}

async fn settle(
    conn: &mut sqlx::AnyConnection,
    result: Result<(), sqlx::Error>,
    what: &str,
) -> Result<(), sqlx::Error> {
    match result {
        Ok(()) => {}
        Err(e) if is_permanent(&e) => {
            tracing::error!(error = %e, what, "fault bookkeeping rejected by a constraint; the episode is recorded without it");
            sqlx::query("ROLLBACK TO faults")
                .execute(&mut *conn)
                .await?;
        }
        Err(e) => return Err(e),
    }
    sqlx::query("RELEASE faults")
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn row(line: &str) -> MinuteRow {
        MinuteRow {
            line: line.into(),
            tier: "upstream",
            target: "198.18.1.1".into(),
            minute: DateTime::<Utc>::from_timestamp(1_780_000_020, 0).unwrap(),
            sent: 60,
            received: 60,
            rtt_min_us: Some(900),
            rtt_max_us: Some(1500),
            rtt_sum_us: 60_000,
            jitter_sum_us: 3_000,
            jitter_n: 59,
            rtt_hist: "17:60".into(),
        }
    }

    /// A finished minute is due at once: rows handed over together go in
    /// one write, and none waits for other lines.
    #[test]
    fn a_finished_minute_is_due_at_once() {
        let mut queue = VecDeque::new();
        let mut batch = MinuteBatch::default();
        assert!(!batch.due(), "nothing to write");
        batch.accept(&mut queue, LedgerWrite::ProbeMinutes(vec![row("telecom")]));
        batch.accept(&mut queue, LedgerWrite::ProbeMinutes(vec![row("unicom")]));
        assert!(batch.due(), "written at once");
        assert_eq!(batch.rows.len(), 2, "handed over together, one write");
        assert!(
            queue.is_empty(),
            "minute rows wait in the batch, not the queue"
        );
    }

    /// Other writes never wait behind the minute rows.
    #[test]
    fn other_writes_pass_the_minute_rows() {
        let mut queue = VecDeque::new();
        let mut batch = MinuteBatch::default();
        batch.accept(&mut queue, LedgerWrite::ProbeMinutes(vec![row("telecom")]));
        batch.accept(
            &mut queue,
            LedgerWrite::Stopped {
                at: DateTime::<Utc>::from_timestamp(1_780_000_030, 0).unwrap(),
            },
        );
        assert_eq!(queue.len(), 1, "the stop is queued at once");
        assert!(batch.due());
    }
}

/// The writer's retry path on tokio's paused clock: a database that refuses
/// writes (full disk, read-only, locked) for a while, then accepts them.
#[cfg(test)]
mod retry_tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::Instant;

    /// Refuses every write until `accepts_from`; records each attempt.
    struct Refusing {
        accepts_from: Option<Instant>,
        attempts: Mutex<Vec<(Instant, String, bool)>>,
    }

    impl Refusing {
        fn until(accepts_from: Option<Instant>) -> Self {
            Self {
                accepts_from,
                attempts: Mutex::new(Vec::new()),
            }
        }

        fn written(&self) -> Vec<String> {
            let attempts = self.attempts.lock().unwrap();
            attempts
                .iter()
                .filter(|a| a.2)
                .map(|a| a.1.clone())
                .collect()
        }
    }

    impl Store for Refusing {
        async fn apply(&self, _: &Ctx<'_>, w: &LedgerWrite) -> Result<(), sqlx::Error> {
            let now = Instant::now();
            let ok = self.accepts_from.is_some_and(|t| now >= t);
            let name = match w {
                LedgerWrite::OutageOpened { line, .. } => format!("opened {line}"),
                LedgerWrite::OutageClosed { line, .. } => format!("closed {line}"),
                other => format!("{other:?}"),
            };
            self.attempts.lock().unwrap().push((now, name, ok));
            if ok {
                Ok(())
            } else {
                Err(sqlx::Error::Io(std::io::Error::other(
                    "database or disk is full",
                )))
            }
        }
    }

    fn run() -> WriterRun {
        WriterRun {
            run_id: 1,
            clock: RunClock::start(),
            interval_ms: 1000,
        }
    }

    fn rules() -> FaultRules {
        FaultRules {
            classes: Default::default(),
            lines: vec!["telecom".into()],
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn opened(line: &str) -> LedgerWrite {
        LedgerWrite::OutageOpened {
            line: line.into(),
            start: at(0),
            start_after: None,
            cause: "upstream_unreachable",
        }
    }

    fn closed(line: &str) -> LedgerWrite {
        LedgerWrite::OutageClosed {
            line: line.into(),
            end: at(3),
            end_after: at(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refused_writes_are_retried_every_second_and_written_once_in_order() {
        let t0 = Instant::now();
        let store = Arc::new(Refusing::until(Some(t0 + Duration::from_secs(10))));
        let status = Arc::new(WriterStatus::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = {
            let (store, status) = (store.clone(), status.clone());
            tokio::spawn(async move {
                let give_up = Duration::from_secs(30);
                write_loop(
                    &*store,
                    &mut Keeper::failing_until(None),
                    run(),
                    rules(),
                    rx,
                    status,
                    give_up,
                )
                .await
            })
        };
        tx.send(opened("telecom")).unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        tx.send(closed("telecom")).unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            status.pending.load(Ordering::Relaxed),
            2,
            "both writes wait in memory while the database refuses"
        );
        drop(tx);
        writer.await.unwrap();

        assert_eq!(store.written(), ["opened telecom", "closed telecom"]);
        let attempts = store.attempts.lock().unwrap().clone();
        let first_ok = attempts.iter().find(|a| a.2).unwrap().0 - t0;
        assert!(
            first_ok >= Duration::from_secs(10) && first_ok < Duration::from_secs(11),
            "written within a second of the database accepting: {first_ok:?}"
        );
        for pair in attempts.windows(2) {
            assert!(
                pair[1].0 - pair[0].0 <= Duration::from_secs(1),
                "retried at least every second: {attempts:?}"
            );
        }
        // The later write never overtakes the earlier one.
        assert!(attempts
            .iter()
            .take_while(|a| !a.2)
            .all(|a| a.1 == "opened telecom"));
        let refused = attempts.iter().filter(|a| !a.2).count() as u64;
        assert_eq!(status.failures.load(Ordering::Relaxed), refused);
        // Every second while senders remain, every half second once they
        // are gone (the daemon is stopping): never a busy loop.
        assert!((10..=20).contains(&refused), "{refused} refusals in 10 s");
        assert_eq!(status.pending.load(Ordering::Relaxed), 0);
    }

    /// A journal that fails until a time (a disk with no room for it either).
    struct Keeper {
        fails_until: Option<Instant>,
        tries: Vec<Instant>,
        kept: Vec<usize>,
    }

    impl Keeper {
        fn failing_until(t: Option<Instant>) -> Self {
            Keeper {
                fails_until: t,
                tries: Vec::new(),
                kept: Vec::new(),
            }
        }
    }

    impl Keep for Keeper {
        fn keep(&mut self, _: &WriterRun, writes: &[LedgerWrite]) -> std::io::Result<String> {
            let now = Instant::now();
            self.tries.push(now);
            if self.fails_until.is_some_and(|t| now < t) {
                return Err(std::io::Error::other("No space left on device"));
            }
            self.kept.push(writes.len());
            Ok("ledger.db.journal".into())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_shutdown_a_refusing_database_is_retried_until_give_up_then_journaled() {
        let t0 = Instant::now();
        let store = Arc::new(Refusing::until(None));
        let status = Arc::new(WriterStatus::default());
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(opened("telecom")).unwrap();
        tx.send(closed("telecom")).unwrap();
        drop(tx);
        let give_up = Duration::from_secs(5);
        let mut keeper = Keeper::failing_until(None);
        write_loop(
            &*store,
            &mut keeper,
            run(),
            rules(),
            rx,
            status.clone(),
            give_up,
        )
        .await;
        let took = t0.elapsed();
        assert!(
            took >= give_up && took <= give_up + Duration::from_secs(1),
            "gave up after {took:?}"
        );
        assert!(store.written().is_empty());
        assert_eq!(keeper.kept, [2], "both writes kept in the journal, once");
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_journal_cannot_be_written_either_the_writer_keeps_trying_both() {
        let t0 = Instant::now();
        // The journal fails for 20 s; the database accepts from 12 s.
        let store = Arc::new(Refusing::until(Some(t0 + Duration::from_secs(12))));
        let status = Arc::new(WriterStatus::default());
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(opened("telecom")).unwrap();
        tx.send(closed("telecom")).unwrap();
        drop(tx);
        let mut keeper = Keeper::failing_until(Some(t0 + Duration::from_secs(20)));
        write_loop(
            &*store,
            &mut keeper,
            run(),
            rules(),
            rx,
            status.clone(),
            Duration::from_secs(5),
        )
        .await;
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_secs(12) && took < Duration::from_secs(13),
            "the writer did not exit while nothing could keep the writes: {took:?}"
        );
        assert_eq!(store.written(), ["opened telecom", "closed telecom"]);
        assert!(keeper.kept.is_empty());
        assert!(
            keeper.tries.len() >= 6,
            "the journal retried: {:?}",
            keeper.tries.len()
        );
        assert_eq!(status.pending.load(Ordering::Relaxed), 0);
    }
}
