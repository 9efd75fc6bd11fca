//! Notable events of the daemon's tasks, each one function that logs it
//! and passes it on (to the ledger, to the metrics), so that an event is
//! said the same way wherever it happens.

use linkledger_core::quality::QualityChange;
use linkledger_core::time::ledger_ts;
use linkledger_ledger::write::{LedgerTx, LedgerWrite};
use tracing::{info, warn};

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
