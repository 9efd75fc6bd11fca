//! Path evidence: when an outage is declared, a traceroute from here to
//! each of the line's upstream anchors (through the line's binding), kept
//! with the outage; vantage agents send theirs to the block with their
//! rounds. A carrier disputing whose side failed is answered by the hop
//! where the path stops.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use linkledger_probes::icmp::trace::{trace, Trace};
use linkledger_probes::Binding;

use linkledger_ledger::clock::RunClock;
use linkledger_ledger::write::{LedgerTx, LedgerWrite};

/// TTLs tried.
pub const MAX_HOPS: u8 = 16;
/// How long answers are collected after the requests went out.
pub const WAIT: Duration = Duration::from_secs(2);

pub use linkledger_core::path::{HopRecord, PathRecord};

/// A traceroute as kept in the ledger.
pub fn record_of(target: String, taken_at: DateTime<Utc>, t: &Trace) -> PathRecord {
    PathRecord {
        target,
        taken_at,
        hops: t
            .hops
            .iter()
            .map(|h| HopRecord {
                ttl: h.ttl,
                addr: h.addr,
                rtt_ms: h.rtt.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3),
                kind: h.kind.as_str().to_string(),
            })
            .collect(),
    }
}

/// Traces the path to each upstream anchor of a line whose outage was
/// just declared, and records each with the outage (in the background:
/// a trace takes about two seconds).
pub fn trace_line_outage(
    ledger: LedgerTx,
    clock: RunClock,
    line: String,
    binding: Binding,
    anchors: Vec<IpAddr>,
    outage_start: DateTime<Utc>,
) {
    tokio::spawn(async move {
        let traces = anchors.into_iter().map(|a| {
            let binding = binding.clone();
            let clock = clock.clone();
            async move {
                let taken_at = clock.now();
                (a, taken_at, trace(&binding, a, MAX_HOPS, WAIT).await)
            }
        });
        let mut paths = Vec::new();
        for (anchor, taken_at, r) in futures_join(traces).await {
            match r {
                Ok(t) => {
                    let p = record_of(anchor.to_string(), taken_at, &t);
                    tracing::info!(
                        line,
                        anchor = %anchor,
                        reached = p.reached(),
                        last_hop = ?p.last_hop(),
                        "path evidence recorded"
                    );
                    paths.push(p);
                }
                Err(e) => {
                    tracing::warn!(line, anchor = %anchor, error = %e, "cannot trace the path for the outage's evidence")
                }
            }
        }
        if !paths.is_empty() {
            let _ = ledger.send(LedgerWrite::PathTraces {
                line,
                block: None,
                outage_start: Some(outage_start),
                origin: "monitor".into(),
                paths,
            });
        }
    });
}

/// Runs futures at once, their outputs in order.
async fn futures_join<F>(fs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}
