use super::{backoff, paced, Pass};
use linkledger_ledger::LedgerError;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A channel whose receiver is down for the first `failing` attempts,
/// with one notice owed; the outbox unreadable on the passes listed in
/// `unreadable`. Records when each pass ran (ms since the start).
struct Receiver {
    t0: Instant,
    failing: u32,
    unreadable: Vec<usize>,
    attempts: u32,
    passes: Vec<u64>,
    retry_max: Duration,
    stop_after: usize,
}

impl Pass for Receiver {
    async fn pass(&mut self) -> Option<Result<Option<Duration>, LedgerError>> {
        if self.passes.len() == self.stop_after {
            return None; // the channel removed from the config
        }
        self.passes
            .push((Instant::now() - self.t0).as_millis() as u64);
        if self.unreadable.contains(&(self.passes.len() - 1)) {
            return Some(Err(LedgerError::Missing {
                path: "ledger.db".into(),
            }));
        }
        if self.attempts < self.failing {
            self.attempts += 1;
            return Some(Ok(Some(backoff(self.attempts, self.retry_max))));
        }
        Some(Ok(None))
    }
}

async fn paced_passes(failing: u32, unreadable: Vec<usize>, stop_after: usize) -> Vec<u64> {
    let mut r = Receiver {
        t0: Instant::now(),
        failing,
        unreadable,
        attempts: 0,
        passes: Vec::new(),
        retry_max: Duration::from_secs(10),
        stop_after,
    };
    paced(&CancellationToken::new(), &mut r).await;
    r.passes
}

/// A receiver down for six attempts: retried after 1, 2, 4, 8 s, then
/// every 10 s (the channel's retry_max); once it answers, passes every
/// half second. On tokio's paused clock: a minute in milliseconds.
#[tokio::test(start_paused = true)]
async fn failed_deliveries_back_off_doubling_up_to_the_cap() {
    let passes = paced_passes(6, vec![], 10).await;
    assert_eq!(
        passes,
        [500, 1500, 3500, 7500, 15500, 25500, 35500, 36000, 36500, 37000]
    );
}

/// An outbox that cannot be read is tried again 5 s later.
#[tokio::test(start_paused = true)]
async fn an_unreadable_outbox_is_read_again_after_five_seconds() {
    let passes = paced_passes(0, vec![1], 4).await;
    assert_eq!(passes, [500, 1000, 6000, 6500]);
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let max = Duration::from_secs(30);
    let waits: Vec<u64> = (1..=7).map(|f| backoff(f, max).as_secs()).collect();
    assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30]);
    assert_eq!(backoff(1000, max), max);
}
