//! `notify test` and `notify status`.

use anyhow::Context;
use linkledger_config::Config;

use crate::usage::UsageError;

pub(super) async fn notify_status(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = linkledger_ledger::connect_for_reading(&c.daemon).await?;
    let list = linkledger_notify::status::status(&db, c)
        .await
        .context("cannot read the alert outbox")?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
    };
    say!(
        "{:<14} {:<12} {:>7}  {:<19}  {:>6} {:>7} {:>8}  last attempt",
        "channel",
        "kind",
        "pending",
        "oldest pending",
        "sent",
        "failed",
        "rejected"
    );
    for s in list {
        let last = match (&s.last_attempt, s.registered) {
            (_, false) => "not registered yet: the daemon registers it when it starts".to_string(),
            (None, true) => "none".to_string(),
            (Some(a), true) => format!(
                "{} {} {}: {}",
                a.at.map(local).unwrap_or_default(),
                a.notice,
                a.outcome,
                a.detail
            ),
        };
        say!(
            "{:<14} {:<12} {:>7}  {:<19}  {:>6} {:>7} {:>8}  {last}",
            s.channel,
            s.kind,
            s.pending,
            s.oldest_pending_queued_at
                .map(local)
                .unwrap_or_else(|| "-".into()),
            s.sent,
            s.failed_attempts,
            s.rejected,
        );
    }
    Ok(())
}

pub(super) async fn notify_test(c: &Config, only: Option<&str>) -> anyhow::Result<()> {
    let channels: Vec<&linkledger_config::Channel> = c
        .channels
        .iter()
        .filter(|ch| only.is_none_or(|o| o == ch.name))
        .collect();
    if channels.is_empty() {
        let names: Vec<&str> = c.channels.iter().map(|ch| ch.name.as_str()).collect();
        return Err(UsageError(match only {
            Some(o) => format!(
                "no channel named {o:?} in [[notify]] (configured: {})",
                names.join(", ")
            ),
            None => "no [[notify]] channel is configured".into(),
        })
        .into());
    }
    let mut failed = 0;
    for (ch, result) in linkledger_notify::test_channels(c, &channels).await {
        match result {
            Ok(answer) => say!("{} ({}): accepted: {answer}", ch.name, ch.kind.as_str()),
            Err(f) => {
                failed += 1;
                say!("{} ({}): FAILED: {f}", ch.name, ch.kind.as_str());
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} channel(s) failed", channels.len());
    }
    Ok(())
}
