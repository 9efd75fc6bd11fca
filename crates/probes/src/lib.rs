//! Network probes for linkledger.
//!
//! This crate knows how to ask the network a question and return a typed
//! observation. It knows nothing of lines, contracts or storage: the caller
//! (the daemon's scheduler) owns deadlines, state and metrics.
//!
//! Probe kinds: ICMP echo ([`icmp`]), built for many targets on one shared
//! socket per address family and binding, and SNMP ([`snmp`]) for the
//! interface that terminates a line.

pub mod icmp;
pub mod snmp;

pub use icmp::{Binding, Echo, EchoOutcome, Echoer, IcmpError, ReceiveStats};
