//! Faults (故障) under the contract: classes, the rules that give them, and
//! the deadlines each fault is held to.

pub mod class;
pub mod deadline;

pub use class::{ClassRules, FaultClass, Trigger};

/// What the writer needs to open and classify faults.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRules {
    pub classes: ClassRules,
    /// The configured lines: the egress is down when all of them are.
    pub lines: Vec<String>,
}
