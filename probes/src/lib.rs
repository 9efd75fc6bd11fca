//! Network probes for linkledger.
//!
//! This crate knows how to ask the network a question and return a typed
//! observation. It knows nothing of lines, contracts or storage: the caller
//! (the daemon's scheduler) owns deadlines, state and metrics.
//!
//! Today it has one probe kind, ICMP echo ([`icmp`]), built for many targets
//! on one shared socket per address family and binding.

pub mod icmp;

pub use icmp::{Binding, EchoOutcome, Echoer, IcmpError, ReceiveStats};
