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

/// A PostgreSQL ledger's hold for one daemon: a session advisory lock on a
/// connection of its own, kept for as long as the daemon runs (the server
/// drops it when the connection ends, also when the process is killed).
/// Daemons on other hosts share no lock file, so this is what refuses a
/// second one. When the server restarts, the hold is taken again as soon as
/// it is back (unless another daemon took it meanwhile: said in the log).
/// Not a lease: a standby pair with a lease is not built yet.
pub struct PostgresHold {
    keeper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PostgresHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresHold")
    }
}

impl Drop for PostgresHold {
    fn drop(&mut self) {
        // The connection goes with the task: the server lets go at once.
        self.keeper.abort();
    }
}

/// The session lock's key (the writes' transaction lock is another).
const DAEMON_KEY: i64 = 0x6c6e_6b6c_6467_7201;

/// A connection holding the daemon's lock, or who holds it instead.
async fn try_hold(
    options: &sqlx::any::AnyConnectOptions,
    who: &str,
) -> Result<Result<sqlx::AnyConnection, String>, sqlx::Error> {
    use sqlx::{ConnectOptions, Row};
    let mut conn = options.connect().await?;
    sqlx::query("SELECT set_config('application_name', $1, false)")
        .bind(
            format!("linkledger daemon: {who}")
                .chars()
                .take(63)
                .collect::<String>(),
        )
        .execute(&mut conn)
        .await?;
    let got = sqlx::query("SELECT pg_try_advisory_lock($1)")
        .bind(DAEMON_KEY)
        .fetch_one(&mut conn)
        .await?;
    if crate::sql::flag(&got, 0) {
        return Ok(Ok(conn));
    }
    let holder: Option<String> = sqlx::query(
        "SELECT coalesce(a.application_name, '') || ' from ' || coalesce(host(a.client_addr), 'a local socket') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND (l.classid::bigint << 32 | l.objid::bigint) = $1 LIMIT 1",
    )
    .bind(DAEMON_KEY)
    .fetch_optional(&mut conn)
    .await
    .ok()
    .flatten()
    .map(|r| r.get(0));
    Ok(Err(holder.unwrap_or_else(|| "holder unknown".into())))
}

/// Takes the daemon's hold on a PostgreSQL ledger, or says who has it;
/// None for an SQLite ledger (its lock file does this).
pub async fn hold_postgres(
    ledger: &crate::Ledger,
    who: &str,
) -> Result<Option<PostgresHold>, crate::LedgerError> {
    if ledger.backend() != crate::Backend::Postgres {
        return Ok(None);
    }
    let options = ledger.pool().connect_options().as_ref().clone();
    let conn = try_hold(&options, who)
        .await
        .map_err(crate::query_err("take the daemon's hold on the ledger"))?
        .map_err(|holder| crate::LedgerError::Held { holder })?;
    let who = who.to_string();
    let keeper = tokio::spawn(async move {
        let mut conn = Some(conn);
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        let mut told = false;
        loop {
            every.tick().await;
            if let Some(c) = conn.as_mut() {
                if sqlx::query("SELECT 1").execute(&mut *c).await.is_ok() {
                    continue;
                }
                tracing::warn!("lost the connection holding this daemon's hold on the PostgreSQL ledger; taking it again once the server answers");
                conn = None;
            }
            match try_hold(&options, &who).await {
                Ok(Ok(c)) => {
                    tracing::info!("the daemon's hold on the PostgreSQL ledger is taken again");
                    conn = Some(c);
                    told = false;
                }
                Ok(Err(holder)) if !told => {
                    tracing::error!(%holder, "another linkledger daemon took this PostgreSQL ledger while the server was away: two daemons now write it; stop one");
                    told = true;
                }
                _ => {}
            }
        }
    });
    Ok(Some(PostgresHold { keeper }))
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
