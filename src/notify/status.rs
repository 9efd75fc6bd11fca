//! `linkledger notify status`: what each channel still owes and how its
//! last attempt went, read from the outbox beside a running daemon, for the
//! administrator asking why an alert has not arrived.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Row, SqlitePool};

use super::plan::takes;
use crate::config::Config;
use crate::ledger::outbox;

/// One delivery attempt, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: Option<DateTime<Utc>>,
    pub notice: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelStatus {
    pub channel: String,
    pub kind: &'static str,
    /// False until the daemon has run with this channel configured.
    pub registered: bool,
    /// Notices the channel takes and has not yet been delivered.
    pub pending: usize,
    pub oldest_pending_queued_at: Option<DateTime<Utc>>,
    pub sent: i64,
    pub failed_attempts: i64,
    pub rejected: i64,
    pub summarised: i64,
    pub last_attempt: Option<Attempt>,
}

pub async fn status(pool: &SqlitePool, c: &Config) -> Result<Vec<ChannelStatus>, sqlx::Error> {
    let mut out = Vec::new();
    for ch in &c.channels {
        let first: Option<i64> =
            sqlx::query_scalar("SELECT first_notice FROM notify_channels WHERE name = ?")
                .bind(&ch.name)
                .fetch_optional(pool)
                .await?;
        let owed: Vec<outbox::Notice> = match first {
            Some(first) => outbox::pending(pool, &ch.name, first)
                .await?
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| takes(&ch.route, n))
                .collect(),
            None => Vec::new(),
        };
        let counts = sqlx::query(
            "SELECT coalesce(sum(outcome = 'sent'), 0), coalesce(sum(outcome = 'failed'), 0), \
             coalesce(sum(outcome = 'rejected'), 0), coalesce(sum(outcome = 'summarised'), 0) \
             FROM deliveries WHERE channel = ?",
        )
        .bind(&ch.name)
        .fetch_one(pool)
        .await?;
        let last = sqlx::query(
            "SELECT d.at, n.key, d.outcome, coalesce(d.detail, '') FROM deliveries d \
             JOIN notices n ON n.id = d.notice_id \
             WHERE d.channel = ? AND d.outcome <> 'skipped' ORDER BY d.id DESC LIMIT 1",
        )
        .bind(&ch.name)
        .fetch_optional(pool)
        .await?
        .map(|r| Attempt {
            at: crate::ledger::read::ts(&r, 0),
            notice: r.get(1),
            outcome: r.get(2),
            detail: r.get(3),
        });
        out.push(ChannelStatus {
            channel: ch.name.clone(),
            kind: ch.kind.as_str(),
            registered: first.is_some(),
            pending: owed.len(),
            oldest_pending_queued_at: owed.iter().map(|n| n.queued_at).min(),
            sent: counts.get(0),
            failed_attempts: counts.get(1),
            rejected: counts.get(2),
            summarised: counts.get(3),
            last_attempt: last,
        });
    }
    Ok(out)
}
