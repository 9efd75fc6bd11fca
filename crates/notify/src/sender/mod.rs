//! The delivery loop: one task per configured channel reads what the
//! channel still owes from the outbox, every second, and delivers it in
//! order. A failure stops the channel's queue (a fault's messages never
//! overtake each other) and is retried with exponential backoff up to the
//! channel's `retry_max`; every attempt is appended to `deliveries`, so a
//! restart resumes exactly where the last run stopped.
//!
//! A line that flaps (`alerts.flap_count` faults within `flap_window`)
//! gets one summary per window instead of a message per fault; its
//! escalations, deadlines and major faults still go out one by one.

use linkledger_ledger::clock::RunClock;
use linkledger_ledger::Ledger;
use linkledger_ledger::LedgerError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use linkledger_config::LiveConfig;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn, Instrument};

use super::message::{self, Context};

mod deliver;
use super::plan::{plan, Step};
use super::{deliver, FailureKind, Outgoing};
use crate::metrics::NotifyMetrics;
use deliver::batches;
use linkledger_config::{Channel, ChannelKind, Config};
use linkledger_core::fault::FaultClass;
use linkledger_ledger::outbox::{self, Notice, NoticeKind, Outcome, FLAPPING};
use linkledger_ledger::records;

/// A message refused for itself this many times is recorded as rejected.
const REJECT_AFTER: u32 = 5;

/// A person's channel (mail, IM robot) waits this long after the oldest
/// notice it owes was queued, then sends everything it owes by then as one
/// message: an incident's notices (its line faults, the egress's,
/// escalations, reminders falling due together) arrive as one, the most
/// severe first. The first message still goes out within seconds.
pub const GATHER: Duration = Duration::from_secs(1);

/// At most this many notices are written out in full in one message; the
/// rest are listed by their subjects (a summary instead of a flood).
const FULL_IN_ONE: usize = 12;

/// How long one message to the channel may be: WeCom's markdown takes
/// 4096 bytes, DingTalk's 20000, a Feishu card about 30 KB; mail has no
/// such limit. With room left for the subject and the mentions.
fn max_bytes(kind: ChannelKind) -> usize {
    match kind {
        ChannelKind::Wecom => 3500,
        ChannelKind::Dingtalk => 16_000,
        ChannelKind::Feishu => 24_000,
        _ => usize::MAX / 2,
    }
}

/// Whether a channel is read by a person (one message per incident) rather
/// than by a machine (one document or alert per notice).
fn for_people(kind: ChannelKind) -> bool {
    !matches!(kind, ChannelKind::Webhook | ChannelKind::Alertmanager)
}

/// Registers the configured channels (before the run's first notices are
/// queued, so a new channel is owed them).
pub async fn register(
    ledger: &Ledger,
    channels: &[Channel],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), LedgerError> {
    for c in channels {
        outbox::register_channel(ledger, &c.name, at).await?;
    }
    Ok(())
}

/// Runs the channel tasks until cancelled, starting and stopping them as
/// reloads add and remove channels.
pub async fn run(
    ledger: Ledger,
    config: LiveConfig,
    clock: RunClock,
    metrics: Arc<NotifyMetrics>,
    cancel: CancellationToken,
) {
    let client = super::http_client();
    let mut tasks: HashMap<String, (CancellationToken, JoinHandle<()>)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let names: Vec<String> = config
            .get()
            .channels
            .iter()
            .map(|c| c.name.clone())
            .collect();
        tasks.retain(|name, (stop, handle)| {
            let keep = names.contains(name) && !handle.is_finished();
            if !keep {
                stop.cancel();
                metrics.forget(name);
            }
            keep
        });
        for name in names {
            if tasks.contains_key(&name) {
                continue;
            }
            let stop = cancel.child_token();
            let task = ChannelTask {
                name: name.clone(),
                ledger: ledger.clone(),
                config: config.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
                client: client.clone(),
            };
            let span = tracing::info_span!("notify", channel = %name);
            let handle = tokio::spawn(task.run(stop.clone()).instrument(span));
            tasks.insert(name, (stop, handle));
        }
    }
    for (_, (_, handle)) in tasks {
        let _ = handle.await;
    }
}

struct ChannelTask {
    name: String,
    ledger: Ledger,
    config: LiveConfig,
    /// The run's clock: what a delivery is stamped with and deadlines
    /// and quiet hours are judged by.
    clock: RunClock,
    metrics: Arc<NotifyMetrics>,
    client: reqwest::Client,
}

/// (line id, carrier) of the configured lines.
fn carriers_of(config: &Config) -> Vec<(String, String)> {
    config
        .lines
        .iter()
        .map(|l| (l.id.clone(), l.carrier.clone()))
        .collect()
}

/// (line id, carrier as the channel's readers say it).
fn shown_carriers(config: &Config, language: linkledger_config::Language) -> Vec<(String, String)> {
    config
        .lines
        .iter()
        .map(|l| (l.id.clone(), l.carrier_for(language).to_string()))
        .collect()
}

fn context<'a>(
    config: &'a Config,
    channel: &Channel,
    carriers: &'a [(String, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> Context<'a> {
    Context {
        language: channel.language,
        tz: config.daemon.timezone,
        contract: &config.contract.name,
        config_path: config.path.display().to_string(),
        public_url: config.daemon.public_url.clone(),
        special: message::special_at(config, now),
        carriers,
    }
}

/// The wait before attempt `failures + 1`: 1 s, 2 s, 4 s … up to `max`.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(20);
    Duration::from_secs(secs).min(max)
}

/// A channel's passes over the outbox, as its loop paces them.
trait Pass {
    /// One pass: Ok(None) when it sent all it owed, Ok(Some(wait)) after a
    /// failed delivery, Err when the outbox could not be read; None when
    /// the channel is no longer configured.
    fn pass(
        &mut self,
    ) -> impl std::future::Future<Output = Option<Result<Option<Duration>, LedgerError>>> + Send;
}

/// The channel task's passes: from notice `low` on (every notice below it
/// is done for this channel), re-posting to Alertmanager when due.
struct Passes<'a> {
    task: &'a ChannelTask,
    low: i64,
    refresh_due: tokio::time::Instant,
}

impl Pass for Passes<'_> {
    async fn pass(&mut self) -> Option<Result<Option<Duration>, LedgerError>> {
        let task = self.task;
        let config = task.config.get();
        let channel = config.channels.iter().find(|c| c.name == task.name)?;
        if channel.kind == ChannelKind::Alertmanager
            && tokio::time::Instant::now() >= self.refresh_due
        {
            self.refresh_due = tokio::time::Instant::now() + super::alertmanager::REFRESH_EVERY;
            if let Err(e) = task.refresh_open_faults(&config, channel).await {
                warn!(error = %e, "cannot re-post the open faults to Alertmanager; trying again in a minute");
            }
        }
        Some(task.round(&config, channel, &mut self.low).await)
    }
}

/// Runs a channel's passes until cancelled or the channel is gone: the
/// next pass at once after one that sent all it owed, after the backoff it
/// names after a failed delivery, 5 s after the outbox could not be read;
/// never sooner than half a second after the previous one (a channel is
/// never a busy loop).
async fn paced<P: Pass>(cancel: &CancellationToken, passes: &mut P) {
    let mut next_try = tokio::time::Instant::now();
    loop {
        let wake = next_try.max(tokio::time::Instant::now() + Duration::from_millis(500));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {}
        }
        let Some(result) = passes.pass().await else {
            return;
        };
        next_try = tokio::time::Instant::now()
            + match result {
                Ok(None) => Duration::ZERO,
                Ok(Some(wait)) => wait,
                Err(e) => {
                    error!(error = %e, "cannot read the outbox; retrying");
                    Duration::from_secs(5)
                }
            };
    }
}

enum Flap {
    Normal,
    /// Send the flapping summary (faults in the window) instead.
    Summary(usize),
    /// Folded into a summary already sent.
    Fold,
}

impl ChannelTask {
    async fn run(self, cancel: CancellationToken) {
        let first = loop {
            match outbox::register_channel(&self.ledger, &self.name, self.clock.now()).await {
                Ok(f) => break f,
                Err(e) => error!(error = %e, "cannot register the channel in the outbox; retrying"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        };
        let mut passes = Passes {
            task: &self,
            low: first,
            refresh_due: tokio::time::Instant::now(),
        };
        paced(&cancel, &mut passes).await
    }

    /// One pass over what the channel owes from notice `low` on; Some(wait)
    /// after a failure. Moves `low` past the notices now done (ids are
    /// given in commit order: the ledger has one writer at a time).
    async fn round(
        &self,
        config: &Config,
        channel: &Channel,
        low: &mut i64,
    ) -> Result<Option<Duration>, LedgerError> {
        let newest = outbox::newest(&self.ledger).await?;
        let pending = outbox::pending(&self.ledger, &self.name, *low).await?;
        let now = self.clock.now();
        let notices: Vec<Notice> = pending.iter().map(|(n, _)| n.clone()).collect();
        let local = now.with_timezone(&config.daemon.timezone).time();
        let steps = plan(&route_at(config, channel, now), &notices, local);
        let owed: Vec<&Notice> = notices
            .iter()
            .filter(|n| !steps.contains(&Step::Skip(n.id)))
            .collect();
        let oldest = owed
            .iter()
            .map(|n| (now - n.queued_at).num_milliseconds() as f64 / 1000.0)
            .fold(0.0, f64::max);
        self.metrics.set_pending(&self.name, owed.len(), oldest);
        let mut done = std::collections::HashSet::new();
        let still_owed = |done: &std::collections::HashSet<i64>| {
            owed.iter()
                .map(|n| n.id)
                .find(|id| !done.contains(id))
                .unwrap_or(newest + 1)
        };
        if for_people(channel.kind) {
            // Routing first, then what is owed goes out together.
            let mut group: Vec<(Notice, u32)> = Vec::new();
            for step in &steps {
                match step {
                    Step::Skip(id) => {
                        done.insert(*id);
                        self.skip(*id).await?;
                    }
                    Step::Send(id) => {
                        if let Some((n, a)) = pending.iter().find(|(n, _)| n.id == *id) {
                            group.push((n.clone(), *a));
                        }
                    }
                }
            }
            let gather = TimeDelta::from_std(GATHER).unwrap_or_default();
            if let Some(oldest) = group.iter().map(|(n, _)| n.queued_at).min() {
                let waited = now - oldest;
                if waited < gather {
                    *low = still_owed(&done);
                    return Ok(Some((gather - waited).to_std().unwrap_or(GATHER)));
                }
                for batch in &batches(group) {
                    if let Some(wait) = self.send_group(config, channel, batch).await? {
                        *low = still_owed(&done);
                        return Ok(Some(wait));
                    }
                    done.extend(batch.iter().map(|(n, _)| n.id));
                }
            }
            *low = still_owed(&done);
            return Ok(None);
        }
        for step in steps {
            match step {
                Step::Skip(id) => {
                    done.insert(id);
                    self.skip(id).await?;
                }
                Step::Send(id) => {
                    let Some((n, attempts)) = pending.iter().find(|(n, _)| n.id == id) else {
                        continue;
                    };
                    if let Some(wait) = self.send(config, channel, n, *attempts).await? {
                        *low = still_owed(&done);
                        return Ok(Some(wait));
                    }
                    done.insert(id);
                }
            }
        }
        *low = still_owed(&done);
        Ok(None)
    }

    /// Records a notice as not routed to this channel.
    async fn skip(&self, id: i64) -> Result<(), LedgerError> {
        outbox::record(
            &self.ledger,
            id,
            &self.name,
            1,
            Outcome::Skipped,
            "not routed to this channel",
            self.clock.now(),
        )
        .await
    }

    /// Re-posts every open fault to Alertmanager as firing (it resolves an
    /// alert that is not re-posted). The outbox's own notices open and
    /// resolve them; this only keeps them alive.
    async fn refresh_open_faults(&self, config: &Config, channel: &Channel) -> Result<(), String> {
        let linkledger_config::notify::Target::Http(r) = &channel.target else {
            return Ok(());
        };
        let filter = records::FaultFilter {
            open: Some(true),
            ..Default::default()
        };
        let now = self.clock.now();
        let open = records::faults(&self.ledger, &filter, &config.contract.terms, now)
            .await
            .map_err(|e| e.to_string())?;
        if open.is_empty() {
            return Ok(());
        }
        let carriers = carriers_of(config);
        let shown = shown_carriers(config, channel.language);
        let cx = context(config, channel, &shown, self.clock.now());
        let alerts: Vec<serde_json::Value> = open
            .iter()
            .map(|f| {
                let n = Notice {
                    id: 0,
                    key: format!("fault:{}:opened", f.id),
                    kind: NoticeKind::FaultOpened,
                    line: f.line.clone(),
                    fault: Some(f.id),
                    class: Some(f.class),
                    at: f.detected_at,
                    queued_at: f.detected_at,
                    detail: serde_json::json!({ "trigger": f.trigger }),
                };
                let carrier = f
                    .line
                    .as_ref()
                    .and_then(|l| carriers.iter().find(|(id, _)| id == l))
                    .map(|(_, c)| c.clone());
                super::alertmanager::fault_alert(
                    &super::alertmanager::FaultAlert {
                        fault: f.id,
                        line: f.line.clone(),
                        carrier,
                        class: f.class,
                        summary: message::render(&n, None, &cx).subject,
                        starts: f.detected_at,
                        ends: None,
                    },
                    now,
                )
            })
            .collect();
        super::alertmanager::post(&self.client, &r.url.0, &alerts)
            .await
            .map(|_| ())
            .map_err(|f| f.to_string())
    }

    async fn flap(&self, config: &Config, n: &Notice) -> Result<Flap, LedgerError> {
        let (Some(line), Some(fault)) = (n.line.as_deref(), n.fault) else {
            return Ok(Flap::Normal);
        };
        if n.class == Some(FaultClass::Major) {
            return Ok(Flap::Normal);
        }
        let a = &config.alerts;
        let window = TimeDelta::from_std(a.flap_window).unwrap_or(TimeDelta::MAX);
        match n.kind {
            NoticeKind::FaultOpened => {
                let count = outbox::opened_since(&self.ledger, line, n.at - window)
                    .await?
                    .iter()
                    .filter(|o| o.at <= n.at)
                    .count();
                if count < a.flap_count as usize {
                    return Ok(Flap::Normal);
                }
                let last = outbox::last_flapping_summary(&self.ledger, &self.name, line).await?;
                Ok(match last {
                    Some(t) if n.at - t < window => Flap::Fold,
                    _ => Flap::Summary(count),
                })
            }
            NoticeKind::FaultResolved => {
                let opened =
                    outbox::outcome_of(&self.ledger, &self.name, &format!("fault:{fault}:opened"))
                        .await?;
                Ok(match opened {
                    Some((o, d))
                        if o == Outcome::Summarised.as_str() || d.starts_with(FLAPPING) =>
                    {
                        Flap::Fold
                    }
                    _ => Flap::Normal,
                })
            }
            _ => Ok(Flap::Normal),
        }
    }
}

/// The channel's route at `now`: in a special period quiet hours hold
/// nothing back.
fn route_at(
    config: &Config,
    channel: &Channel,
    now: chrono::DateTime<chrono::Utc>,
) -> linkledger_config::notify::Route {
    let special = !linkledger_config::special::at(&config.special_periods, now).is_empty();
    if special {
        linkledger_config::notify::Route {
            quiet: None,
            ..channel.route.clone()
        }
    } else {
        channel.route.clone()
    }
}

#[cfg(test)]
mod tests;
