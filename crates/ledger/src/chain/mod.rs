//! The hash chain that makes the ledger tamper-evident.
//!
//! Every record that can count in a dispute gets a link in `ledger_chain`
//! (added by a trigger in the same statement, migration 0017), and every
//! completion of a record (an outage closed, a fault resolved, a run
//! stopped) another. `seal` fills each new link's canonical encoding and
//! `chain = SHA-256(previous chain ‖ encoding)`: before the commit of a
//! transaction of several statements, and for a record written by a single
//! statement right after it, by the writer (`seal_if_pending`); a start
//! seals whatever is left. [`verify`] walks the links again against the
//! rows as they are now; a report prints the head ([`head`]) so a copy held
//! elsewhere pins the whole history before it.
//!
//! The encoding is documented in the migration and in the README, and
//! recomputed by `deploy/verify/verify_chain.py` with Python's standard
//! library alone.

mod encoding;
mod verify;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection, Row};

use crate::{query_err, Ledger, LedgerError};
use linkledger_core::time::ledger_ts;

pub use encoding::{encode, Value};
pub use verify::{
    accept_breaks, check_at_start, verify, Break, BreakKind, PinCheck, Scope, Verification,
};

/// The tables of record in the chain, and for those completed later the
/// event that completes them and the column whose setting does.
pub const CHAINED: &[(&str, Option<(&str, &str)>)] = &[
    ("runs", Some(("stop", "stopped_at"))),
    ("line_configs", None),
    ("contract_terms", None),
    ("outages", Some(("close", "end_at"))),
    ("outage_causes", None),
    ("local_faults", Some(("close", "end_at"))),
    ("gaps", None),
    ("degradations", Some(("close", "end_at"))),
    ("faults", Some(("resolve", "resolved_at"))),
    ("fault_links", None),
    ("fault_events", None),
    ("exclusions", None),
    ("maintenance", None),
    ("maintenance_approvals", None),
    ("withdrawals", None),
    ("drills", None),
    ("agreed_outages", None),
    ("audit_log", None),
    ("notices", None),
    ("deliveries", None),
    ("path_traces", None),
    ("clock_steps", None),
    ("journal_replays", None),
    ("chain_marks", None),
];

/// How many of the newest links the daemon checks at start.
pub const TAIL_AT_START: i64 = 5000;

/// Where the chain stands: the newest sealed link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    pub seq: i64,
    /// Hex of the link's chain hash.
    pub chain: String,
    /// When the link was recorded (UTC, the ledger's text form).
    pub recorded_at: String,
}

/// The chain value before the first link.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// `SHA-256(previous ‖ encoding)`.
pub fn link_hash(previous: &[u8; 32], encoding: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(encoding.as_bytes());
    h.finalize().into()
}

/// A stored chain value back to bytes (None: not 64 hex digits).
pub(crate) fn parse_chain(hex_text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

/// Is `name` a table of record the chain covers?
pub(crate) fn is_chained(table: &str) -> bool {
    CHAINED.iter().any(|(t, _)| *t == table)
}

/// A column name as the triggers write them: lower-case letters and `_`.
fn plain_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// One link as stored.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub seq: i64,
    pub table: String,
    pub record_id: i64,
    pub event: String,
    pub fields: String,
    pub recorded_at: String,
    pub encoding: Option<String>,
    pub chain: Option<String>,
}

pub(crate) const LINK_COLUMNS: &str =
    "seq, record_table, record_id, event, fields, recorded_at, encoding, chain";

pub(crate) fn link_of(r: &sqlx::any::AnyRow) -> Link {
    Link {
        seq: r.get(0),
        table: r.get(1),
        record_id: r.get(2),
        event: r.get(3),
        fields: r.get(4),
        recorded_at: r.get(5),
        encoding: r.get(6),
        chain: r.get(7),
    }
}

/// What the record a link names holds now, field by field, or why it
/// cannot be read: not a table of record, a field that is not a plain
/// column name, or no such row (deleted).
pub(crate) async fn record_now(
    conn: &mut AnyConnection,
    link: &Link,
) -> Result<Result<Vec<(String, Value)>, String>, sqlx::Error> {
    if !is_chained(&link.table) {
        return Ok(Err(format!(
            "names {:?}, not a table of record",
            link.table
        )));
    }
    let fields: Vec<&str> = link.fields.split(',').collect();
    if let Some(bad) = fields.iter().find(|f| !plain_identifier(f)) {
        return Ok(Err(format!("names the field {bad:?}, not a column name")));
    }
    // Identifiers checked above; the values are bound.
    let pg = crate::sql::is_postgres(conn);
    let cols: Vec<String> = fields
        .iter()
        .map(|f| format!("{}, \"{f}\"", crate::sql::type_of(pg, f)))
        .collect();
    let sql = format!(
        "SELECT {} FROM \"{}\" WHERE {} = $1",
        cols.join(", "),
        link.table,
        crate::sql::row_key(&link.table)
    );
    let row = match sqlx::query(&sql)
        .bind(link.record_id)
        .fetch_optional(&mut *conn)
        .await
    {
        Ok(r) => r,
        // A column the table does not have (dropped, renamed).
        Err(sqlx::Error::Database(e)) => return Ok(Err(e.message().to_string())),
        Err(e) => return Err(e),
    };
    let Some(row) = row else {
        return Ok(Err("the record is gone".into()));
    };
    let mut out = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let kind: String = row.try_get(2 * i)?;
        let v = match kind.as_str() {
            "integer" => Value::Integer(row.try_get(2 * i + 1)?),
            "real" => Value::Real(row.try_get(2 * i + 1)?),
            "text" => Value::Text(row.try_get(2 * i + 1)?),
            "blob" => Value::Blob(row.try_get(2 * i + 1)?),
            _ => Value::Null,
        };
        out.push((f.to_string(), v));
    }
    Ok(Ok(out))
}

/// The encoding of a link over the record as it is now (a record that
/// cannot be read is encoded as absent, so sealing never stops the writer;
/// `verify` reports it).
pub(crate) async fn encode_now(
    conn: &mut AnyConnection,
    link: &Link,
) -> Result<String, sqlx::Error> {
    let values = match record_now(conn, link).await? {
        Ok(v) => Some(v),
        Err(why) => {
            tracing::error!(seq = link.seq, table = %link.table, id = link.record_id, why, "a chain link's record cannot be read; sealed as absent");
            None
        }
    };
    Ok(encode(
        link.seq,
        &link.table,
        link.record_id,
        &link.event,
        &link.recorded_at,
        values.as_deref(),
    ))
}

/// Seals every link not sealed yet, in order, on `conn` (inside the
/// caller's transaction, after its records are written). Returns how many.
pub(crate) async fn seal(conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
    if crate::sql::is_postgres(conn) {
        // Links are sealed in the order their transactions committed.
        crate::sql::lock_writes(conn).await?;
    }
    let pending: Vec<Link> = sqlx::query(&format!(
        "SELECT {LINK_COLUMNS} FROM ledger_chain WHERE chain IS NULL ORDER BY seq"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(link_of)
    .collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let last: Option<String> = sqlx::query_scalar(
        "SELECT chain FROM ledger_chain WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    // A stored value that is not a hash (tampered with) is chained on as
    // zeros; verify names that link.
    let mut previous = last.as_deref().and_then(parse_chain).unwrap_or(GENESIS);
    for link in &pending {
        let encoding = encode_now(conn, link).await?;
        let chain = link_hash(&previous, &encoding);
        sqlx::query("UPDATE ledger_chain SET encoding = $1, chain = $2 WHERE seq = $3")
            .bind(&encoding)
            .bind(hex::encode(chain))
            .bind(link.seq)
            .execute(&mut *conn)
            .await?;
        previous = chain;
    }
    Ok(pending.len() as u64)
}

/// Seals what is pending in a transaction of its own (at start: the links
/// an upgrade added; a write made outside the writer).
pub async fn seal_pending(ledger: &Ledger) -> Result<u64, LedgerError> {
    let mut conn = ledger
        .pool()
        .acquire()
        .await
        .map_err(query_err("seal the chain"))?;
    let mut tx = crate::sql::begin_write(&mut conn)
        .await
        .map_err(query_err("seal the chain"))?;
    let n = seal(&mut tx).await.map_err(query_err("seal the chain"))?;
    tx.commit().await.map_err(query_err("seal the chain"))?;
    Ok(n)
}

/// The newest sealed link recorded at or before `at` (None: now), or None
/// when nothing was chained by then.
pub async fn head(ledger: &Ledger, at: Option<DateTime<Utc>>) -> Result<Option<Head>, LedgerError> {
    let mut conn = ledger
        .pool()
        .acquire()
        .await
        .map_err(query_err("read the chain head"))?;
    head_on(&mut conn, at)
        .await
        .map_err(query_err("read the chain head"))
}

pub(crate) async fn head_on(
    conn: &mut AnyConnection,
    at: Option<DateTime<Utc>>,
) -> Result<Option<Head>, sqlx::Error> {
    let row = match at {
        None => sqlx::query(
            "SELECT seq, chain, recorded_at FROM ledger_chain WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?,
        Some(t) => sqlx::query(
            "SELECT seq, chain, recorded_at FROM ledger_chain WHERE chain IS NOT NULL AND recorded_at <= $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(ledger_ts(t))
        .fetch_optional(&mut *conn)
        .await?,
    };
    Ok(row.map(|r| Head {
        seq: r.get(0),
        chain: r.get(1),
        recorded_at: r.get(2),
    }))
}

/// Seals what is pending, if anything is, in a transaction of its own on
/// `conn` (one indexed read when nothing is).
pub(crate) async fn seal_if_pending(conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM ledger_chain WHERE chain IS NULL LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    if pending.is_none() {
        return Ok(0);
    }
    let mut tx = conn.begin().await?;
    let n = seal(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// Seals the links `tx` added, then commits it: the one way a transaction
/// that writes records of the chain ends.
pub(crate) async fn commit_sealed(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
) -> Result<(), sqlx::Error> {
    seal(&mut tx).await?;
    tx.commit().await
}
