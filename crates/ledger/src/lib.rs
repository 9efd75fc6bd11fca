//! The ledger: an SQLite file, or a PostgreSQL database, that can stand
//! as evidence.
//!
//! SQLite is opened in WAL mode with `synchronous=FULL`; each backend has
//! its schema in `migrations/<backend>/`, applied at start-up, and the
//! same queries (sqlx's `Any` driver, numbered parameters) run on both. Writes go through one writer
//! task ([`write`]) that retries until the database accepts them; reads
//! ([`read`]) work beside a running daemon.

pub mod actions;
pub mod agent_buffer;
pub mod budget;
pub mod chain;
pub mod clock;
pub mod day_rollups;
pub mod evidence;
pub mod faults;
pub mod lease;
pub mod lock;
pub mod migrate;
pub mod observed;
pub mod operator;
pub mod outbox;
pub mod paths;
pub mod read;
pub mod records;
pub mod run;
pub mod sql;
pub mod terms;
pub mod vantage;
pub mod write;

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use sqlx::Executor;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot open the ledger {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot apply the ledger schema to {path}: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("no ledger at {path}: the daemon creates it on its first start (linkledger run)")]
    Missing { path: String },
    #[error("ledger {operation} failed: {source}")]
    Query {
        operation: &'static str,
        source: sqlx::Error,
    },
    #[error("ledger query failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the ledger {path} is damaged: {first} ({count} problem(s) in all; `linkledger check-ledger` lists them). The daemon does not start on a damaged ledger: keep this file as it is (it is evidence), put the latest backup in its place (see the README, Backups), and start again; writes kept in {path}.journal are replayed into it")]
    Damaged {
        path: String,
        first: String,
        count: usize,
    },
    #[error("the ledger's hash chain is broken: {first} ({count} break(s) among the newest links and the tables of record; `linkledger verify -c CONFIG` lists them all). Records were changed, removed or added behind linkledger's back. The daemon does not start on it: keep this file as it is (it is evidence) and restore the latest backup whose chain verifies, or start once with --accept-broken-chain \"reason\" to go on with it (the reason and the breaks are chained, and `verify` keeps reporting them)")]
    ChainBroken { first: String, count: usize },
    #[error("another linkledger daemon writes this PostgreSQL ledger ({holder}); stop it first, or give this daemon a ledger of its own (daemon.database)")]
    Held { holder: String },
    #[error("cannot migrate the ledger: {0}")]
    Migration(String),
    #[error("the ledger's journal {path}: {source}")]
    Journal {
        path: String,
        source: std::io::Error,
    },
}

/// A handle on one ledger, shared by every task and cheap to clone. Outside
/// this crate it is the only way to the ledger: which database is behind it
/// and how it is reached is this crate's business.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: AnyPool,
    backend: Backend,
    /// The lease token this process writes under (PostgreSQL active/standby
    /// pair only; see [`lease`]). Shared by every clone.
    fence: Arc<AtomicI64>,
}

/// Which database holds the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(pool: &AnyPool) -> Self {
        match pool.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

impl Ledger {
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    fn over(pool: AnyPool) -> Self {
        Self::fenced_by(pool, Arc::new(AtomicI64::new(lease::UNFENCED)))
    }

    fn fenced_by(pool: AnyPool, fence: Arc<AtomicI64>) -> Self {
        let backend = Backend::of(&pool);
        Self {
            pool,
            backend,
            fence,
        }
    }

    /// Which database holds this ledger.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A handle over a pool a test made itself (one connection whose
    /// `query_only` switch it flips, say).
    #[cfg(feature = "test-support")]
    pub fn over_pool(pool: AnyPool) -> Self {
        Self::over(pool)
    }

    /// The pool beneath, for a test that writes rows by hand.
    #[cfg(feature = "test-support")]
    pub fn raw_pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQLite's check of the file: `quick` (every page readable and its
    /// b-tree sound, in a moment) or the full `integrity_check` (indexes
    /// against their tables too). Empty when the file is sound; otherwise
    /// what SQLite found, one problem a line.
    pub async fn check(&self, quick: bool) -> Result<Vec<String>, LedgerError> {
        if self.backend == Backend::Postgres {
            // PostgreSQL checks its own pages (and WAL) as it reads them;
            // a query that reaches the tables is the check here.
            return match sqlx::query_scalar::<_, i64>("SELECT count(*) FROM runs")
                .fetch_one(&self.pool)
                .await
            {
                Ok(_) => Ok(Vec::new()),
                Err(sqlx::Error::Database(e)) => Ok(vec![e.message().to_string()]),
                Err(e) => Err(query_err("check the ledger")(e)),
            };
        }
        let pragma = if quick {
            "PRAGMA quick_check"
        } else {
            "PRAGMA integrity_check"
        };
        let found: Vec<String> = match sqlx::query_scalar(pragma).fetch_all(&self.pool).await {
            Ok(rows) => rows,
            // A page so damaged that the check itself cannot run is a finding.
            Err(sqlx::Error::Database(e)) => vec![e.message().to_string()],
            Err(e) => return Err(query_err("check the ledger file")(e)),
        };
        Ok(found.into_iter().filter(|r| r != "ok").collect())
    }

    /// The bytes the ledger's rows take in its file, once the write-ahead
    /// log is checkpointed into it (free pages left out): its growth.
    pub async fn bytes_in_use(&self) -> Result<u64, LedgerError> {
        if self.backend == Backend::Postgres {
            let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&self.pool)
                .await
                .map_err(query_err("read the database's size"))?;
            return Ok(n.max(0) as u64);
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(query_err("checkpoint the write-ahead log"))?;
        let mut pages = [0i64; 3];
        for (v, pragma) in pages
            .iter_mut()
            .zip(["page_count", "freelist_count", "page_size"])
        {
            *v = sqlx::query_scalar(&format!("PRAGMA {pragma}"))
                .fetch_one(&self.pool)
                .await
                .map_err(query_err("read the ledger's page counts"))?;
        }
        let [count, free, size] = pages;
        Ok(((count - free) * size).max(0) as u64)
    }

    /// Waits for every connection to finish and closes them (the WAL is
    /// checkpointed by the last one).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn query_err(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LedgerError {
    move |source| LedgerError::Query { operation, source }
}

/// How every connection to an SQLite ledger is opened: `mode` is `rwc`
/// (create if missing), `rw` or `ro`. The file is in WAL mode, every
/// commit reaches the disk before it returns (`synchronous=FULL`), a
/// writer waits up to 5 s for another's lock, and references are checked.
pub fn sqlite_options(path: &Path, mode: &str) -> Result<AnyConnectOptions, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut url = String::from("sqlite://");
    for b in path.display().to_string().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url.push_str("?mode=");
    url.push_str(mode);
    AnyConnectOptions::from_str(&url)
}

/// A pool of SQLite connections set up as [`sqlite_options`] says.
pub async fn sqlite_pool(
    path: &Path,
    mode: &'static str,
    max: u32,
) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if mode != "ro" {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                }
                conn.execute(
                    "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(sqlite_options(path, mode)?)
        .await
}

/// Opens (creating if needed) the ledger for the daemon and applies the schema.
pub async fn open(path: &Path) -> Result<Ledger, LedgerError> {
    let p = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LedgerError::Open {
            path: p.clone(),
            source: sqlx::Error::Io(e),
        })?;
    }
    let pool = sqlite_pool(path, "rwc", 4)
        .await
        .map_err(|source| LedgerError::Open {
            path: p.clone(),
            source,
        })?;
    // A damaged page is found now, not by a query an hour later.
    let ledger = Ledger::over(pool);
    let found = ledger.check(true).await?;
    if let Some(first) = found.first() {
        return Err(LedgerError::Damaged {
            path: p,
            first: first.clone(),
            count: found.len(),
        });
    }
    let pool = ledger.pool;
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .map_err(|source| LedgerError::Migrate { path: p, source })?;
    let ledger = Ledger::over(pool);
    // Links an upgrade added, or a write cut off before its seal.
    chain::seal_pending(&ledger).await?;
    Ok(ledger)
}

/// Opens an existing ledger for an operator's writes (the CLI): never
/// creates one, applies the schema if it is behind.
pub async fn open_existing(path: &Path) -> Result<Ledger, LedgerError> {
    if !path.exists() {
        return Err(LedgerError::Missing {
            path: path.display().to_string(),
        });
    }
    open(path).await
}

/// Opens an existing ledger for reading (the CLI's `outages`, `gaps`).
pub async fn open_for_reading(path: &Path) -> Result<Ledger, LedgerError> {
    let p = path.display().to_string();
    if !path.exists() {
        return Err(LedgerError::Missing { path: p });
    }
    sqlite_pool(path, "ro", 1)
        .await
        .map(Ledger::over)
        .map_err(|source| LedgerError::Open { path: p, source })
}

/// Opens the ledger the config names, for the daemon: an SQLite file
/// (created if missing) or a PostgreSQL database, its schema applied.
pub async fn connect(d: &linkledger_config::Daemon) -> Result<Ledger, LedgerError> {
    match &d.postgres {
        Some(p) => open_postgres(&p.url, p.password.as_ref().map(|s| s.0.as_str())).await,
        None => open(&d.database).await,
    }
}

/// Opens an existing ledger the config names for an operator's writes.
pub async fn connect_existing(d: &linkledger_config::Daemon) -> Result<Ledger, LedgerError> {
    match &d.postgres {
        Some(p) => open_postgres(&p.url, p.password.as_ref().map(|s| s.0.as_str())).await,
        None => open_existing(&d.database).await,
    }
}

/// Opens the ledger the config names for reading.
pub async fn connect_for_reading(d: &linkledger_config::Daemon) -> Result<Ledger, LedgerError> {
    match &d.postgres {
        Some(p) => postgres_pool(
            &p.url,
            p.password.as_ref().map(|s| s.0.as_str()),
            true,
            2,
            Arc::new(AtomicI64::new(lease::UNFENCED)),
        )
        .await
        .map(Ledger::over),
        None => open_for_reading(&d.database).await,
    }
}

/// A pool on a PostgreSQL ledger. The password is put into the URL only
/// here, never into a message: errors name the URL as configured.
async fn postgres_pool(
    url: &str,
    password: Option<&str>,
    read_only: bool,
    max: u32,
    fence: Arc<AtomicI64>,
) -> Result<AnyPool, LedgerError> {
    sqlx::any::install_default_drivers();
    let open_err = |source| LedgerError::Open {
        path: url.to_string(),
        source,
    };
    let mut full =
        url::Url::parse(url).map_err(|e| open_err(sqlx::Error::Configuration(Box::new(e))))?;
    if let Some(pw) = password {
        full.set_password(Some(pw)).map_err(|()| {
            open_err(sqlx::Error::Configuration(
                "the URL takes no password".into(),
            ))
        })?;
    }
    let options = AnyConnectOptions::from_str(full.as_str()).map_err(open_err)?;
    let fence_on_connect = fence.clone();
    AnyPoolOptions::new()
        .max_connections(max)
        // A server away (restarting, cut off) fails a write within seconds,
        // so the writer queues and retries, and nothing waits on it long.
        .acquire_timeout(std::time::Duration::from_secs(3))
        .after_connect(move |conn, _| {
            let token = fence_on_connect.load(Ordering::Relaxed);
            Box::pin(async move {
                // Timestamps are compared as text: byte order, as SQLite's.
                conn.execute("SET TIME ZONE 'UTC'").await?;
                if read_only {
                    conn.execute("SET default_transaction_read_only = on")
                        .await?;
                }
                lease::set_fence(conn, token).await
            })
        })
        // A pair's daemon writes under its current lease token (or none,
        // as the standby): every connection says which before it is used.
        .before_acquire(move |conn, _| {
            let token = fence.load(Ordering::Relaxed);
            Box::pin(async move {
                lease::set_fence(conn, token).await?;
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(open_err)
}

/// Opens a PostgreSQL ledger for the daemon and applies its schema.
pub async fn open_postgres(url: &str, password: Option<&str>) -> Result<Ledger, LedgerError> {
    let fence = Arc::new(AtomicI64::new(lease::UNFENCED));
    let pool = postgres_pool(url, password, false, 4, fence.clone()).await?;
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .map_err(|source| LedgerError::Migrate {
            path: url.to_string(),
            source,
        })?;
    // Rows copied in with their keys must not collide with the next ones.
    sqlx::query("SELECT count(*) FROM (SELECT ledger_resync_identities()) AS r")
        .execute(&pool)
        .await
        .map_err(query_err("move the ledger's key sequences past its rows"))?;
    let ledger = Ledger::fenced_by(pool, fence);
    chain::seal_pending(&ledger).await?;
    Ok(ledger)
}
