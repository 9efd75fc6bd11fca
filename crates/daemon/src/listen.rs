//! The HTTP listener's accept loop, which a client cannot starve: every
//! connection must send a whole request head within [`HEADER_TIMEOUT`] of
//! connecting or of its previous response (an idle keep-alive connection
//! waits under the same rule), a request must be answered within
//! [`REQUEST_TIMEOUT`], and the listener holds at most [`Limits::cap`]
//! connections, well below the process's open-file limit so that probes,
//! SNMP polls, the ledger and alert deliveries keep their files. At the
//! cap, the connection that has waited longest without a request is closed
//! for the new one; if every connection is in a request, the new one is
//! refused. Each of these is counted in
//! `linkledger_http_connections_dropped_total{reason}` and logged (at most
//! once every ten seconds, with the count since).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::warn;

use crate::metrics::ListenMetrics;

/// How long a connection may take to send a request head, counted from
/// its accept or from its previous response.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request (its body read and its answer made) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the loop says it is shedding connections, at most.
const SAY_EVERY: Duration = Duration::from_secs(10);

/// Why a connection was closed by the listener rather than by its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// No whole request head within [`HEADER_TIMEOUT`].
    HeaderTimeout,
    /// Closed at the cap, the longest waiting without a request.
    EvictedAtCap,
    /// Refused at the cap: every connection held was in a request.
    RefusedAtCap,
    /// A request not answered within [`REQUEST_TIMEOUT`] (503 sent).
    RequestTimeout,
}

impl Dropped {
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::HeaderTimeout => "header_timeout",
            Dropped::EvictedAtCap => "evicted_at_cap",
            Dropped::RefusedAtCap => "refused_at_cap",
            Dropped::RequestTimeout => "request_timeout",
        }
    }
}

/// The listener's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections held at most.
    pub cap: usize,
}

impl Limits {
    /// Half the process's soft open-file limit (the other half for the
    /// rest of the daemon), between 16 and 4,096.
    pub fn for_this_process() -> Limits {
        let files = open_file_limit().unwrap_or(1024);
        Limits {
            cap: (files / 2).clamp(16, 4096) as usize,
        }
    }
}

/// The soft limit on open files, from `/proc/self/limits`.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// One held connection: since when it has waited for a request head
/// (`None` while in a request), and how to close it.
struct Held {
    waiting_since: Option<Instant>,
    close: CancellationToken,
}

/// The connections held, shared by the accept loop and each connection.
#[derive(Default)]
struct Connections {
    held: HashMap<u64, Held>,
    next: u64,
}

type Shared = Arc<Mutex<Connections>>;

fn lock(c: &Shared) -> std::sync::MutexGuard<'_, Connections> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

impl Connections {
    fn add(&mut self, now: Instant) -> (u64, CancellationToken) {
        let id = self.next;
        self.next += 1;
        let close = CancellationToken::new();
        let held = Held {
            waiting_since: Some(now),
            close: close.clone(),
        };
        self.held.insert(id, held);
        (id, close)
    }

    /// Closes the connection that has waited longest without a request;
    /// false if every connection is in one.
    fn evict_oldest_waiting(&mut self) -> bool {
        let oldest = self
            .held
            .iter()
            .filter_map(|(id, h)| h.waiting_since.map(|t| (t, *id)))
            .min();
        match oldest.and_then(|(_, id)| self.held.remove(&id)) {
            Some(h) => {
                h.close.cancel();
                true
            }
            None => false,
        }
    }

    fn set_waiting(&mut self, id: u64, since: Option<Instant>) {
        if let Some(h) = self.held.get_mut(&id) {
            h.waiting_since = since;
        }
    }

    fn waiting_since(&self, id: u64) -> Option<Option<Instant>> {
        self.held.get(&id).map(|h| h.waiting_since)
    }
}

/// Rate-limited warnings: the first at once, then at most one every
/// [`SAY_EVERY`] with how many happened since.
struct Say {
    last: Option<Instant>,
    since: u64,
}

impl Say {
    fn new() -> Self {
        Say {
            last: None,
            since: 0,
        }
    }

    fn now(&mut self, at: Instant) -> Option<u64> {
        self.since += 1;
        if self.last.is_some_and(|l| at < l + SAY_EVERY) {
            return None;
        }
        self.last = Some(at);
        Some(std::mem::take(&mut self.since))
    }
}

/// Serves `app` on `listener` until `stop` is cancelled; connections still
/// in a request then finish it (the caller bounds how long it waits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: ListenMetrics,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let held: Shared = Arc::default();
    metrics.cap.set(limits.cap as i64);
    let mut at_cap = Say::new();
    let mut accept_failed = Say::new();
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            Err(e) => {
                if let Some(n) = accept_failed.now(Instant::now()) {
                    warn!(error = %e, failures = n, "the HTTP listener cannot accept connections");
                }
                // Out of files (or a connection reset before it was
                // taken): let connections end before trying again.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let now = Instant::now();
        let (id, close) = {
            let mut c = lock(&held);
            if c.held.len() >= limits.cap {
                let dropped = if c.evict_oldest_waiting() {
                    Dropped::EvictedAtCap
                } else {
                    Dropped::RefusedAtCap
                };
                metrics.dropped(dropped);
                if let Some(n) = at_cap.now(now) {
                    warn!(
                        cap = limits.cap,
                        since_last_said = n,
                        action = dropped.as_str(),
                        "the HTTP listener is at its connection cap: the connection waiting longest without a request is closed for a new one (refused if all are in a request)"
                    );
                }
                if dropped == Dropped::RefusedAtCap {
                    continue;
                }
            }
            c.add(now)
        };
        metrics.open.set(lock(&held).held.len() as i64);
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            app.clone(),
            held.clone(),
            id,
            close,
            metrics.clone(),
        ));
    }
    // Stopping: connections waiting for a request are closed now.
    let waiting: Vec<_> = lock(&held)
        .held
        .values()
        .filter(|h| h.waiting_since.is_some())
        .map(|h| h.close.clone())
        .collect();
    waiting.iter().for_each(CancellationToken::cancel);
    Ok(())
}

/// Serves one connection until its client ends it, it waits too long for
/// a request head, or the accept loop closes it.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    held: Shared,
    id: u64,
    close: CancellationToken,
    metrics: ListenMetrics,
) {
    let service = {
        let held = held.clone();
        let metrics = metrics.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let held = held.clone();
            let metrics = metrics.clone();
            let answer = app.clone().oneshot(req.map(Body::new));
            async move {
                lock(&held).set_waiting(id, None);
                let answered = tokio::time::timeout(REQUEST_TIMEOUT, answer).await;
                lock(&held).set_waiting(id, Some(Instant::now()));
                Ok::<_, std::convert::Infallible>(match answered {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => {
                        metrics.dropped(Dropped::RequestTimeout);
                        too_slow()
                    }
                })
            }
        })
    };
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    loop {
        let deadline = match lock(&held).waiting_since(id) {
            None => break, // evicted
            Some(Some(since)) => since + HEADER_TIMEOUT,
            Some(None) => Instant::now() + HEADER_TIMEOUT,
        };
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = close.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => {
                let timed_out = lock(&held)
                    .waiting_since(id)
                    .flatten()
                    .is_some_and(|since| Instant::now() >= since + HEADER_TIMEOUT);
                if timed_out {
                    metrics.dropped(Dropped::HeaderTimeout);
                    break;
                }
            }
        }
    }
    let mut c = lock(&held);
    c.held.remove(&id);
    metrics.open.set(c.held.len() as i64);
}

fn too_slow() -> Response<Body> {
    let mut r = Response::new(Body::from(
        "the request was not answered within 60 s; try again\n",
    ));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_goes_and_one_in_a_request_stays() {
        let mut c = Connections::default();
        let t0 = Instant::now();
        let (busy, busy_close) = c.add(t0);
        c.set_waiting(busy, None);
        let (old, old_close) = c.add(t0 + Duration::from_secs(1));
        let (young, young_close) = c.add(t0 + Duration::from_secs(2));
        assert!(c.evict_oldest_waiting());
        assert!(old_close.is_cancelled());
        assert!(!busy_close.is_cancelled() && !young_close.is_cancelled());
        assert!(c.waiting_since(old).is_none());
        assert!(c.evict_oldest_waiting());
        assert!(young_close.is_cancelled());
        assert!(c.waiting_since(young).is_none());
        assert!(!c.evict_oldest_waiting(), "the one in a request is kept");
        assert!(!busy_close.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn shedding_is_said_at_once_then_at_most_every_ten_seconds() {
        let mut say = Say::new();
        let t0 = Instant::now();
        assert_eq!(say.now(t0), Some(1));
        assert_eq!(say.now(t0 + Duration::from_secs(1)), None);
        assert_eq!(say.now(t0 + Duration::from_secs(9)), None);
        assert_eq!(say.now(t0 + Duration::from_secs(10)), Some(3));
        assert_eq!(say.now(t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn the_cap_is_half_the_open_file_limit_within_bounds() {
        let files = open_file_limit().expect("/proc/self/limits has the open-file limit");
        let cap = Limits::for_this_process().cap as u64;
        assert!(cap <= files / 2 || cap == 16, "cap {cap} for {files} files");
        assert!((16..=4096).contains(&cap));
    }
}
