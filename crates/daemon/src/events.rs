//! Notable events of the daemon's tasks, each one function that logs it
//! and passes it on (to the ledger, to the metrics), so that an event is
//! said the same way wherever it happens.

use crate::metrics::Metrics;
use linkledger_core::evaluator::Event;
use linkledger_core::quality::QualityChange;
use linkledger_core::time::ledger_ts;
use linkledger_ledger::write::{LedgerTx, LedgerWrite};
use tracing::{info, warn};

/// A line's edge as its evaluator judged it (an outage or local fault
/// opening or closing, the interface confirming the cause, a spell
/// unobserved): logged, counted, sent to the ledger.
pub fn line_edge(ledger: &LedgerTx, metrics: &Metrics, line: &str, event: Event) {
    let line = line.to_string();
    let write = match event {
        Event::OutageOpened {
            start,
            start_after,
            cause,
        } => {
            warn!(line, start = %ledger_ts(start), cause = cause.as_str(), "outage declared");
            metrics.outages.with_label_values(&[&line]).inc();
            LedgerWrite::OutageOpened {
                line,
                start,
                start_after,
                cause: cause.as_str(),
            }
        }
        Event::OutageCause { at, cause } => {
            warn!(line, at = %ledger_ts(at), cause = cause.as_str(), "the interface itself confirms the outage");
            LedgerWrite::OutageCause {
                line,
                at,
                cause: cause.as_str(),
            }
        }
        Event::OutageClosed { end, end_after } => {
            info!(line, end = %ledger_ts(end), "outage over");
            LedgerWrite::OutageClosed {
                line,
                end,
                end_after,
            }
        }
        Event::LocalFaultOpened { start, start_after } => {
            warn!(line, start = %ledger_ts(start), "local fault: our own side does not answer; not charged to the carrier");
            LedgerWrite::LocalFaultOpened {
                line,
                start,
                start_after,
            }
        }
        Event::LocalFaultClosed { end, end_after } => {
            info!(line, end = %ledger_ts(end), "local fault over");
            LedgerWrite::LocalFaultClosed {
                line,
                end,
                end_after,
            }
        }
        Event::Unobserved { start, end } => {
            warn!(line, start = %ledger_ts(start), end = %ledger_ts(end), "line was unobserved: probes could not be sent");
            LedgerWrite::Gap {
                line: Some(line),
                start,
                end,
                reason: "probe_failed",
            }
        }
    };
    let _ = ledger.send(write);
}

/// A degradation beginning or ending, logged and sent to the ledger.
pub fn degradation(ledger: &LedgerTx, line: &str, change: QualityChange) {
    let write = match change {
        QualityChange::Started {
            kind,
            start,
            detail,
        } => {
            warn!(line, kind, start = %ledger_ts(start), detail, "degradation");
            LedgerWrite::DegradationStarted {
                line: line.to_string(),
                kind,
                start,
                detail,
            }
        }
        QualityChange::Ended { kind, end, detail } => {
            info!(line, kind, end = %ledger_ts(end), detail, "degradation over");
            LedgerWrite::DegradationEnded {
                line: line.to_string(),
                kind,
                end,
            }
        }
    };
    let _ = ledger.send(write);
}
