//! `linkledger notify status`: what each channel still owes and how its
//! last attempt went, read from the outbox beside a running daemon, for the
//! administrator asking why an alert has not arrived.

use chrono::{DateTime, Utc};
use linkledger_ledger::Ledger;
use linkledger_ledger::LedgerError;
use serde::Serialize;

use super::plan::takes;
use linkledger_config::Config;
use linkledger_ledger::outbox::{self, Attempt};

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

pub async fn status(ledger: &Ledger, c: &Config) -> Result<Vec<ChannelStatus>, LedgerError> {
    let mut out = Vec::new();
    for ch in &c.channels {
        let first = outbox::first_notice_of(ledger, &ch.name).await?;
        let owed: Vec<outbox::Notice> = match first {
            Some(first) => outbox::pending(ledger, &ch.name, first)
                .await?
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| takes(&ch.route, n))
                .collect(),
            None => Vec::new(),
        };
        let counts = outbox::delivery_counts(ledger, &ch.name).await?;
        let last = outbox::last_attempt(ledger, &ch.name).await?;
        out.push(ChannelStatus {
            channel: ch.name.clone(),
            kind: ch.kind.as_str(),
            registered: first.is_some(),
            pending: owed.len(),
            oldest_pending_queued_at: owed.iter().map(|n| n.queued_at).min(),
            sent: counts.sent,
            failed_attempts: counts.failed,
            rejected: counts.rejected,
            summarised: counts.summarised,
            last_attempt: last,
        });
    }
    Ok(out)
}
