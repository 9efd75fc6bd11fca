//! linkledger's daemon: the line and SNMP tasks that probe each line and
//! feed its evaluator, the block judge fed by the vantage agents, the
//! ledger writer's task, deadline watching, the notifier and the report
//! schedule, and the HTTP side (metrics, the operator API, the status page,
//! the agents' endpoints). [`daemon::run`] builds them, spawns them and
//! shuts them down.

pub mod api;
pub mod chain_watch;
pub mod clock_step;
pub mod daemon;
pub mod deadline_watch;
pub mod events;
pub mod http;
pub mod line_task;
pub mod listen;
pub mod metrics;
pub mod pair;
pub mod path;
pub mod probe_runtime;
pub mod probe_series;
pub mod round_log;
pub mod runbook;
pub mod snmp_task;
pub mod status_page;
pub mod vantage;
pub mod web;
