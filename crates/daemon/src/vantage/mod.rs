//! Vantage points: small linkledger agents outside the customer's network
//! probe the public IP blocks as the public sees them and push what they
//! saw to the central daemon, which keeps every round in the ledger.
//!
//! - [`agent`]: `linkledger agent` (its config is read by
//!   `linkledger_config::agent`; its rounds wait in
//!   `linkledger_ledger::agent_buffer` until the central has them; the
//!   wire format is `linkledger_core::batch`).
//! - [`ingest`]: the central daemon's endpoints for agents (stored by
//!   `linkledger_ledger::vantage`).
//! - [`judge`]: the central's judgement of each block from every agent's
//!   rounds: its state, and block outages in the ledger.

pub mod agent;
pub mod ingest;
pub mod judge;
