//! The alert outbox in the ledger: notices queued in the transaction of the
//! state change that caused them, and each channel's delivery attempts.
//! A notice's idempotency key makes queueing the same event twice a no-op;
//! a channel is owed every notice from the one it was first configured at.

use crate::Ledger;
use crate::LedgerError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use linkledger_core::fault::FaultClass;
use linkledger_core::time::{ledger_ts, parse_ledger_ts};

pub use linkledger_core::notice::NoticeKind;

/// A notice to queue.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct NewNotice {
    pub key: String,
    pub kind: NoticeKind,
    pub line: Option<String>,
    pub fault: Option<i64>,
    pub class: Option<FaultClass>,
    pub at: DateTime<Utc>,
    pub detail: serde_json::Value,
}

impl NewNotice {
    /// A notice about no fault (a line, the egress or the daemon).
    pub fn about(
        kind: NoticeKind,
        key: String,
        line: Option<String>,
        at: DateTime<Utc>,
        detail: serde_json::Value,
    ) -> Self {
        NewNotice {
            key,
            kind,
            line,
            fault: None,
            class: None,
            at,
            detail,
        }
    }

    /// A notice about a fault, keyed by the fault and `what`.
    pub fn fault(
        kind: NoticeKind,
        fault: i64,
        line: Option<&str>,
        class: FaultClass,
        at: DateTime<Utc>,
        what: &str,
    ) -> Self {
        NewNotice {
            key: format!("fault:{fault}:{what}"),
            kind,
            line: line.map(str::to_string),
            fault: Some(fault),
            class: Some(class),
            at,
            detail: serde_json::json!({}),
        }
    }

    pub fn with(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Queues a notice inside the caller's transaction; false when one with
/// the same key was already queued.
pub(crate) async fn queue(conn: &mut AnyConnection, n: &NewNotice) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO notices (key, kind, line, fault_id, class, at, created_at, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&n.key)
    .bind(n.kind.as_str())
    .bind(&n.line)
    .bind(n.fault)
    .bind(n.class.map(FaultClass::as_str))
    .bind(ledger_ts(n.at))
    .bind(ledger_ts(crate::clock::wall_now()))
    .bind(n.detail.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A queued notice as read back by a sender.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub id: i64,
    pub key: String,
    pub kind: NoticeKind,
    pub line: Option<String>,
    pub fault: Option<i64>,
    pub class: Option<FaultClass>,
    pub at: DateTime<Utc>,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    pub detail: serde_json::Value,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Failed,
    Rejected,
    Skipped,
    Summarised,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::Rejected => "rejected",
            Outcome::Skipped => "skipped",
            Outcome::Summarised => "summarised",
        }
    }
}

/// Whether a notice with this key was ever queued.
pub async fn is_queued(ledger: &Ledger, key: &str) -> Result<bool, LedgerError> {
    let pool = ledger.pool();
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM notices WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(id.is_some())
}

/// Queues a notice that is its own cause (a report written) on a
/// connection of its own: one statement, atomic by itself.
pub async fn queue_alone(ledger: &Ledger, n: &NewNotice) -> Result<bool, LedgerError> {
    let pool = ledger.pool();
    let mut conn = pool.acquire().await?;
    queue(&mut conn, n).await.map_err(LedgerError::from)
}

/// Records the fault report (申告) made by delivering a fault's alert to
/// a channel the carrier reads, unless the fault was reported already;
/// true when this delivery reported it.
pub async fn record_reported(
    ledger: &Ledger,
    fault: i64,
    at: DateTime<Utc>,
    channel: &str,
) -> Result<bool, LedgerError> {
    let pool = ledger.pool();
    let done = sqlx::query(
        "INSERT INTO fault_events (fault_id, at, recorded_at, kind, text)          SELECT $1, $2, $2, 'reported', $3 WHERE NOT EXISTS            (SELECT 1 FROM fault_events WHERE fault_id = $1 AND kind = 'reported')",
    )
    .bind(fault)
    .bind(ledger_ts(at))
    .bind(format!("notify:{channel}"))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Registers a channel at its first configuration (owed notices from the
/// next one on) and returns the first notice it is owed.
pub async fn register_channel(
    ledger: &Ledger,
    name: &str,
    at: DateTime<Utc>,
) -> Result<i64, LedgerError> {
    let pool = ledger.pool();
    sqlx::query(
        "INSERT INTO notify_channels (name, first_notice, added_at) \
         SELECT $1, coalesce(max(id), 0) + 1, $2 FROM notices WHERE true ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(ledger_ts(at))
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT first_notice FROM notify_channels WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .map_err(LedgerError::from)
}

fn notice_of(r: &sqlx::any::AnyRow) -> Option<Notice> {
    let detail: String = r.get("detail");
    Some(Notice {
        id: r.get("id"),
        key: r.get("key"),
        kind: NoticeKind::parse(&r.get::<String, _>("kind"))?,
        line: r.get("line"),
        fault: r.get("fault_id"),
        class: r
            .get::<Option<String>, _>("class")
            .as_deref()
            .and_then(FaultClass::parse),
        at: parse_ledger_ts(&r.get::<String, _>("at"))?,
        queued_at: parse_ledger_ts(&r.get::<String, _>("created_at"))?,
        detail: serde_json::from_str(&detail).unwrap_or_default(),
    })
}

/// The id of the newest notice (0 when there is none).
pub async fn newest(ledger: &Ledger) -> Result<i64, LedgerError> {
    let pool = ledger.pool();
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM notices")
        .fetch_one(pool)
        .await
        .map_err(LedgerError::from)
}

/// The notices a channel still owes, oldest first, with the number of
/// failed attempts each has had.
pub async fn pending(
    ledger: &Ledger,
    channel: &str,
    first: i64,
) -> Result<Vec<(Notice, u32)>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT n.*, (SELECT count(*) FROM deliveries d WHERE d.notice_id = n.id AND d.channel = $1) AS attempts \
         FROM notices n WHERE n.id >= $2 AND NOT EXISTS \
           (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.channel = $1 AND d.outcome <> 'failed') \
         ORDER BY n.id",
    )
    .bind(channel)
    .bind(first)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((notice_of(r)?, r.get::<i64, _>("attempts") as u32)))
        .collect())
}

/// The fault-opened notices of a line since `since` (for flapping).
pub async fn opened_since(
    ledger: &Ledger,
    line: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Notice>, LedgerError> {
    let pool = ledger.pool();
    let rows = sqlx::query(
        "SELECT * FROM notices WHERE line = $1 AND kind = 'fault_opened' AND at >= $2 ORDER BY at",
    )
    .bind(line)
    .bind(ledger_ts(since))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().filter_map(notice_of).collect())
}

/// How a notice's delivery to a channel ended (outcome, detail), if it
/// has: to fold a flapping fault's resolution into its summary.
pub async fn outcome_of(
    ledger: &Ledger,
    channel: &str,
    key: &str,
) -> Result<Option<(String, String)>, LedgerError> {
    let pool = ledger.pool();
    let row = sqlx::query(
        "SELECT d.outcome, coalesce(d.detail, '') FROM deliveries d JOIN notices n ON n.id = d.notice_id \
         WHERE n.key = $1 AND d.channel = $2 AND d.outcome <> 'failed'",
    )
    .bind(key)
    .bind(channel)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Marks a delivery that went out as a flapping summary.
pub const FLAPPING: &str = "flapping summary";

/// When the channel last got a flapping summary for the line (the time of
/// the fault it was sent for).
pub async fn last_flapping_summary(
    ledger: &Ledger,
    channel: &str,
    line: &str,
) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let pool = ledger.pool();
    let at: Option<String> = sqlx::query_scalar(
        "SELECT max(n.at) FROM deliveries d JOIN notices n ON n.id = d.notice_id \
         WHERE n.line = $1 AND d.channel = $2 AND d.outcome = 'sent' AND d.detail LIKE $3 || '%'",
    )
    .bind(line)
    .bind(channel)
    .bind(FLAPPING)
    .fetch_one(pool)
    .await?;
    Ok(at.as_deref().and_then(parse_ledger_ts))
}

/// Appends one delivery attempt.
pub async fn record(
    ledger: &Ledger,
    notice: i64,
    channel: &str,
    attempt: u32,
    outcome: Outcome,
    detail: &str,
    at: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let pool = ledger.pool();
    sqlx::query(
        "INSERT INTO deliveries (notice_id, channel, attempt, at, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(notice)
    .bind(channel)
    .bind(i64::from(attempt))
    .bind(ledger_ts(at))
    .bind(outcome.as_str())
    .bind(detail)
    .execute(pool)
    .await
    .map(|_| ()).map_err(LedgerError::from)
}

/// One delivery attempt, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: Option<DateTime<Utc>>,
    pub notice: String,
    pub outcome: String,
    pub detail: String,
}

/// A channel's deliveries by outcome.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryCounts {
    pub sent: i64,
    pub failed: i64,
    pub rejected: i64,
    pub summarised: i64,
}

/// The first notice a channel is owed (None: the daemon never ran with it).
pub async fn first_notice_of(ledger: &Ledger, channel: &str) -> Result<Option<i64>, LedgerError> {
    let pool = ledger.pool();
    sqlx::query_scalar("SELECT first_notice FROM notify_channels WHERE name = $1")
        .bind(channel)
        .fetch_optional(pool)
        .await
        .map_err(LedgerError::from)
}

pub async fn delivery_counts(
    ledger: &Ledger,
    channel: &str,
) -> Result<DeliveryCounts, LedgerError> {
    let pool = ledger.pool();
    let r = sqlx::query(
        "SELECT count(CASE WHEN outcome = 'sent' THEN 1 END), count(CASE WHEN outcome = 'failed' THEN 1 END), \
         count(CASE WHEN outcome = 'rejected' THEN 1 END), count(CASE WHEN outcome = 'summarised' THEN 1 END) \
         FROM deliveries WHERE channel = $1",
    )
    .bind(channel)
    .fetch_one(pool)
    .await?;
    Ok(DeliveryCounts {
        sent: r.get(0),
        failed: r.get(1),
        rejected: r.get(2),
        summarised: r.get(3),
    })
}

/// A channel's last delivery attempt (skips aside).
pub async fn last_attempt(ledger: &Ledger, channel: &str) -> Result<Option<Attempt>, LedgerError> {
    let pool = ledger.pool();
    Ok(sqlx::query(
        "SELECT d.at, n.key, d.outcome, coalesce(d.detail, '') FROM deliveries d \
         JOIN notices n ON n.id = d.notice_id \
         WHERE d.channel = $1 AND d.outcome <> 'skipped' ORDER BY d.id DESC LIMIT 1",
    )
    .bind(channel)
    .fetch_optional(pool)
    .await?
    .map(|r| Attempt {
        at: crate::sql::ts(&r, 0),
        notice: r.get(1),
        outcome: r.get(2),
        detail: r.get(3),
    }))
}
