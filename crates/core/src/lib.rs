//! linkledger's pure domain. Nothing here reads a clock, a socket or a
//! database: the daemon feeds it observations and the time, the ledger
//! keeps what it decides. See `DESIGN.md` for the words used (line, tier,
//! round, state, outage, unobserved).

pub mod batch;
pub mod budget;
pub mod contract;
pub mod evaluator;
pub mod fault;
pub mod intern;
pub mod notice;
pub mod path;
pub mod period;
pub mod quality;
pub mod rollup;
pub mod terms;
pub mod text;
pub mod tier;
pub mod time;
pub mod traffic;
pub mod vocab;

/// The id the whole egress (every line at once) goes by wherever a line id
/// stands: metric labels, budget rows, alert routes, fault scopes. The
/// config refuses it as a line's id.
pub const EGRESS: &str = "egress";
