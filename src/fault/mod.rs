//! Faults (故障) under the contract: classes, the rules that give them, and
//! the deadlines each fault is held to.

pub mod class;
pub mod deadline;

pub use class::{ClassRules, FaultClass, Trigger};
