//! Vantage points: small linkledger agents outside the customer's network
//! probe the public IP blocks as the public sees them and push what they
//! saw to the central daemon, which keeps every round in the ledger.
//!
//! - [`batch`]: the wire format, shared by both sides, and its checks.
//! - [`ingest`]: the central daemon's endpoints for agents.
//! - [`agent`], [`buffer`]: `linkledger agent` (its config is read by
//!   `linkledger_config::agent`) and the SQLite file that keeps rounds
//!   until the central has them.
//! - [`judge`]: the central's judgement of each block from every agent's
//!   rounds: its state, and block outages in the ledger.
//! - [`status`]: what each agent last sent (`linkledger vantage status`,
//!   /metrics).

pub mod agent;
pub mod batch;
pub mod buffer;
pub mod compact;
pub mod ingest;
pub mod judge;
pub mod status;
