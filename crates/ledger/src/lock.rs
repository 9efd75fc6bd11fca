//! One daemon per ledger. Two daemons on one file would both record: an
//! outage opened by one and closed by the other, probe counts doubled. The
//! daemon holds an exclusive lock on a file beside the ledger for as long
//! as it runs (the kernel drops it when the process ends, also on
//! SIGKILL), with who holds it written inside. The CLI's commands take no
//! such lock: their writes go through SQLite's own locking beside the
//! daemon's.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The daemon's hold on its ledger; released when dropped.
#[derive(Debug)]
pub struct DaemonLock {
    file: File,
    path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another linkledger daemon is running on the ledger {ledger} ({holder}); stop it first, or give this daemon a ledger of its own (daemon.database)")]
    Held { ledger: String, holder: String },
    #[error("cannot lock the ledger {ledger} through {lock}: {source}")]
    Io {
        ledger: String,
        lock: String,
        #[source]
        source: std::io::Error,
    },
}

/// The lock file of a ledger: `<ledger>.lock` beside it.
pub fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DaemonLock {
    /// Takes the ledger's lock, writing `who` (pid, start time, config)
    /// into it, or says who holds it.
    pub fn take(ledger: &Path, who: &str) -> Result<DaemonLock, LockError> {
        let path = lock_path(ledger);
        let io = |source| LockError::Io {
            ledger: ledger.display().to_string(),
            lock: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    ledger: ledger.display().to_string(),
                    holder: if holder.is_empty() {
                        "it has not said who it is yet".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(who.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(DaemonLock { file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_named_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.db");
        let first = DaemonLock::take(&ledger, "pid 11, started 2026-12-01T08:00:00Z").unwrap();
        assert_eq!(first.path(), dir.path().join("ledger.db.lock"));
        let err = DaemonLock::take(&ledger, "pid 12").unwrap_err().to_string();
        assert!(err.contains("another linkledger daemon"), "{err}");
        assert!(
            err.contains("pid 11, started 2026-12-01T08:00:00Z"),
            "{err}"
        );
        drop(first);
        let again = DaemonLock::take(&ledger, "pid 12");
        assert!(again.is_ok(), "{again:?}");
    }
}
