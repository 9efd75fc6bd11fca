//! linkledger: an SLA monitoring daemon for leased internet egress lines.
//!
//! See `DESIGN.md` for the words used here (line, tier, round, state,
//! outage, unobserved) and the rules that keep the ledger true.

pub mod api;
pub mod cli;
pub mod cli_contract;
pub mod cli_report;
pub mod daemon;
pub mod deadline_watch;
pub mod http;
pub mod line_task;
pub mod metrics;
pub mod path;
pub mod probe_runtime;
pub mod probe_series;
pub mod runbook;
pub mod snmp_task;
pub mod status_page;
pub mod vantage;

// The pure domain lives in its own crate; these names keep the paths the
// rest of this crate uses.
pub use linkledger_config as config;
pub use linkledger_core::{
    budget, contract, evaluator, fault, notice, quality, rollup, terms, text, time, traffic, vocab,
};
pub use linkledger_ledger as ledger;
pub use linkledger_ledger::clock;
pub use linkledger_notify as notify;
pub use linkledger_report as report;
