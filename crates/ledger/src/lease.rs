//! The lease of an active/standby pair on a PostgreSQL ledger (migration
//! postgres/0002): which instance leads, under which fencing token.
//!
//! The leader renews the lease several times an interval on a connection of
//! its own; a standby watches it and takes it over, with the next token,
//! once it has seen it unrenewed for the lease's length while it reached
//! the server (so a server restart, which both sides see, hands nothing
//! over), or at once when the leader let it go. Every connection of a
//! pair's daemon carries its token (`linkledger.fence`), and the ledger
//! refuses a write whose token no longer leads: a deposed leader cannot
//! write, whatever it had queued.

use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Row};

use crate::{query_err, Ledger, LedgerError};

/// Connections not fenced: single daemons, the CLI, `migrate`.
pub const UNFENCED: i64 = i64::MIN;
/// A standby's connections: every write refused.
pub const STANDBY: i64 = -1;

/// Says on a connection which token its writes carry.
pub(crate) async fn set_fence(conn: &mut AnyConnection, token: i64) -> Result<(), sqlx::Error> {
    if token == UNFENCED {
        return Ok(());
    }
    let value = if token == STANDBY {
        "standby".to_string()
    } else {
        token.to_string()
    };
    sqlx::query("SELECT set_config('linkledger.fence', $1, false)")
        .bind(value)
        .execute(conn)
        .await
        .map(|_| ())
}

impl Ledger {
    /// The token this process's writes carry from now on ([`STANDBY`]
    /// while it does not lead).
    pub fn set_fence(&self, token: i64) {
        self.fence
            .store(token, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether a write was refused by the fence (this instance no longer
/// leads).
pub fn is_fenced(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.message().starts_with("fenced:"))
}

/// The lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub token: i64,
    pub holder: String,
    /// Renewals so far under this token.
    pub beat: i64,
    /// Let go by a leader that stopped cleanly.
    pub released: bool,
    /// Past its expiry by the server's clock.
    pub expired: bool,
    /// When it was last renewed (UTC, as the ledger writes times).
    pub renewed_at: String,
}

/// The lease's connection (one of its own, outside the pool, so that a
/// busy writer never delays a renewal).
pub struct LeaseClient {
    options: AnyConnectOptions,
    conn: Option<AnyConnection>,
    /// How long a lease runs unrenewed.
    pub length: Duration,
}

impl std::fmt::Debug for LeaseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseClient")
            .field("length", &self.length)
            .finish()
    }
}

/// The server did not answer within this: the lease is treated as not
/// reached (renewal failed, or nothing seen).
const ANSWER: Duration = Duration::from_secs(2);

impl LeaseClient {
    /// None for an SQLite ledger: a pair needs PostgreSQL.
    pub fn new(ledger: &Ledger, length: Duration) -> Option<Self> {
        (ledger.backend() == crate::Backend::Postgres).then(|| Self {
            options: ledger.pool().connect_options().as_ref().clone(),
            conn: None,
            length,
        })
    }

    /// Runs `query` on the lease's connection (opened when there is none)
    /// within [`ANSWER`]; the connection is dropped when it failed or the
    /// server did not answer in time.
    async fn run<T>(
        &mut self,
        operation: &'static str,
        query: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, LedgerError> {
        if self.conn.is_none() {
            let c = tokio::time::timeout(ANSWER, self.options.connect())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)
                .and_then(|c| c)
                .map_err(query_err(operation))?;
            self.conn = Some(c);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let answer = match tokio::time::timeout(ANSWER, query(conn)).await {
            Ok(answer) => answer,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        };
        if answer
            .as_ref()
            .is_err_and(|e| !matches!(e, sqlx::Error::Database(_)))
        {
            self.conn = None;
        }
        answer.map_err(query_err(operation))
    }

    /// The lease, if any instance ever took it.
    pub async fn read(&mut self) -> Result<Option<LeaseRow>, LedgerError> {
        let row = self
            .run("read the pair's lease", async |c| {
                sqlx::query(
                    "SELECT token, holder, beat, released, expires_at < now(), \
                     to_char(renewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
                     FROM leadership WHERE id = 1",
                )
                .fetch_optional(c)
                .await
            })
            .await?;
        Ok(row.map(|r| LeaseRow {
            token: r.get(0),
            holder: r.get(1),
            beat: r.get(2),
            released: crate::sql::flag(&r, 3),
            expired: crate::sql::flag(&r, 4),
            renewed_at: r.get(5),
        }))
    }

    /// Takes the lease for `holder` when it is as `seen` (the row a
    /// standby watched lapse, or None when there was none): the next token,
    /// or None when another instance was quicker or renewed it meanwhile.
    pub async fn take(
        &mut self,
        holder: &str,
        seen: Option<&LeaseRow>,
    ) -> Result<Option<i64>, LedgerError> {
        let ms = self.length.as_millis() as i64;
        let seen = seen.map(|s| (s.token, s.beat));
        self.run("take the pair's lease", async |c| match seen {
            None => {
                sqlx::query_scalar(
                    "INSERT INTO leadership (id, token, holder, taken_at, renewed_at, expires_at) \
                     VALUES (1, 1, $1, now(), now(), now() + $2 * interval '1 millisecond') \
                     ON CONFLICT (id) DO NOTHING RETURNING token",
                )
                .bind(holder)
                .bind(ms)
                .fetch_optional(c)
                .await
            }
            Some((token, beat)) => {
                sqlx::query_scalar(
                    "UPDATE leadership SET token = token + 1, holder = $1, beat = 0, released = false, \
                     taken_at = now(), renewed_at = now(), expires_at = now() + $2 * interval '1 millisecond' \
                     WHERE id = 1 AND token = $3 AND beat = $4 RETURNING token",
                )
                .bind(holder)
                .bind(ms)
                .bind(token)
                .bind(beat)
                .fetch_optional(c)
                .await
            }
        })
        .await
    }

    /// Renews the lease under `token`: false when another instance holds
    /// it now (this one is deposed); an error when the server was not
    /// reached.
    pub async fn renew(&mut self, token: i64) -> Result<bool, LedgerError> {
        let ms = self.length.as_millis() as i64;
        let row = self
            .run("renew the pair's lease", async |c| {
                sqlx::query(
                    "UPDATE leadership SET beat = beat + 1, released = false, renewed_at = now(), \
                     expires_at = now() + $1 * interval '1 millisecond' WHERE id = 1 AND token = $2 RETURNING token",
                )
                .bind(ms)
                .bind(token)
                .fetch_optional(c)
                .await
            })
            .await?;
        Ok(row.is_some())
    }

    /// Lets the lease go (a clean stop): the standby takes it at once.
    pub async fn release(&mut self, token: i64) -> Result<(), LedgerError> {
        self.run("let the pair's lease go", async |c| {
            sqlx::query(
                "UPDATE leadership SET released = true, expires_at = now() WHERE id = 1 AND token = $1",
            )
            .bind(token)
            .execute(c)
            .await
            .map(|_| ())
        })
        .await
    }
}
