//! The config in force, shared by every task of the daemon as an
//! immutable snapshot: a reader takes the whole of one version, never half
//! of a reload, without waiting on a lock, and SIGHUP swaps in the next.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::Config;

#[derive(Clone)]
pub struct LiveConfig(Arc<ArcSwap<Config>>);

impl LiveConfig {
    pub fn new(c: Config) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(c)))
    }

    /// The config in force now; it stays as it is however long it is held.
    pub fn get(&self) -> Arc<Config> {
        self.0.load_full()
    }

    /// Puts a reloaded config in force for every later [`LiveConfig::get`].
    pub fn set(&self, c: Config) {
        self.0.store(Arc::new(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_held_across_a_reload_stays_whole() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/linkledger.example.toml"
        ))
        .unwrap();
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/linkledger.example.toml"
        ));
        let c = Config::parse(path, &text).unwrap();
        let live = LiveConfig::new(c.clone());
        let held = live.get();
        let mut next = c.clone();
        next.lines.truncate(1);
        live.set(next);
        assert_eq!(
            held.lines.len(),
            c.lines.len(),
            "the old snapshot is unchanged"
        );
        assert_eq!(live.get().lines.len(), 1, "later readers see the reload");
    }
}
