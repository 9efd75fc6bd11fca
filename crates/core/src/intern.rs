//! Interned strings: the ledger's writes name causes, tiers and kinds as
//! `&'static str`. Read back (from the writer's journal) each distinct
//! value is allocated once for the life of the process.

use std::collections::HashSet;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer};

/// `&'static str` by another name, for fields read back with
/// [`static_str`] (serde would otherwise borrow them from its input).
pub type Static = &'static str;

static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// `s` as a `&'static str`, the same one for equal strings.
pub fn intern(s: &str) -> &'static str {
    let mut set = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(known) = set.get(s) {
        return known;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

/// Deserializes a string field declared `&'static str`.
pub fn static_str<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    Ok(intern(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_are_one_allocation() {
        let a = intern(&String::from("gateway_unreachable"));
        let b = intern("gateway_unreachable");
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "gateway_unreachable");
    }
}
