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
use super::plan::{plan, Step};
use super::{deliver, FailureKind, Outgoing};
use crate::metrics::NotifyMetrics;
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
                clock,
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

    /// Records a notice's delivery, counts it, and when the channel reaches
    /// the carrier of the notice's line, records the fault as reported (申告).
    async fn delivered(
        &self,
        channel: &Channel,
        n: &Notice,
        carrier: Option<&str>,
        attempt: u32,
        answer: &str,
    ) -> Result<(), LedgerError> {
        outbox::record(
            &self.ledger,
            n.id,
            &self.name,
            attempt,
            Outcome::Sent,
            answer,
            self.clock.now(),
        )
        .await?;
        self.metrics
            .sent
            .with_label_values(&[&self.name, n.kind.as_str()])
            .inc();
        let reaches = |c: &str| carrier.is_none_or(|of| of == c);
        if let (Some(fault), Some(to)) =
            (n.fault, channel.carrier.as_deref().filter(|c| reaches(c)))
        {
            if outbox::record_reported(&self.ledger, fault, self.clock.now(), &self.name).await? {
                info!(fault, carrier = to, channel = %self.name, "fault reported to the carrier (申告) by its alert");
            }
        }
        Ok(())
    }

    /// A notice's message and the note its delivery record starts with;
    /// None when a flapping line's summary already holds it (recorded as
    /// summarised).
    async fn compose(
        &self,
        config: &Config,
        cx: &Context<'_>,
        n: &Notice,
        attempts: u32,
    ) -> Result<Option<(message::Message, String)>, LedgerError> {
        Ok(Some(match self.flap(config, n).await? {
            Flap::Fold => {
                outbox::record(
                    &self.ledger,
                    n.id,
                    &self.name,
                    attempts + 1,
                    Outcome::Summarised,
                    "line flapping: folded into its summary",
                    self.clock.now(),
                )
                .await?;
                return Ok(None);
            }
            Flap::Summary(count) => (
                message::flapping(n, count, config.alerts.flap_window.as_secs_f64(), cx),
                FLAPPING.to_string() + ": ",
            ),
            Flap::Normal => {
                let fault = match n.fault {
                    Some(id) => {
                        records::fault(&self.ledger, id, &config.contract.terms, self.clock.now())
                            .await
                            .ok()
                            .flatten()
                    }
                    None => None,
                };
                // What the probes saw: the cause of the outage that opened it.
                let mut n = n.clone();
                if let (NoticeKind::FaultOpened, Some(&outage)) =
                    (n.kind, fault.as_ref().and_then(|f| f.outages.first()))
                {
                    if let Ok(Some(cause)) =
                        linkledger_ledger::read::outage_cause(&self.ledger, outage).await
                    {
                        n.detail["cause"] = serde_json::json!(cause);
                    }
                }
                (message::render(&n, fault.as_ref(), cx), String::new())
            }
        }))
    }

    /// Delivers what a person's channel owes as one message (one notice
    /// alone as itself); Some(wait) when it failed and the queue stops.
    /// Every notice gets its own delivery record.
    async fn send_group(
        &self,
        config: &Config,
        channel: &Channel,
        group: &[(Notice, u32)],
    ) -> Result<Option<Duration>, LedgerError> {
        if let [(n, attempts)] = group {
            return self.send(config, channel, n, *attempts).await;
        }
        let carriers = carriers_of(config);
        let shown = shown_carriers(config, channel.language);
        let cx = context(config, channel, &shown, self.clock.now());
        let mut parts: Vec<(&Notice, u32, message::Message, String)> = Vec::new();
        for (n, attempts) in group {
            if let Some((m, note)) = self.compose(config, &cx, n, *attempts).await? {
                parts.push((n, *attempts, m, note));
            }
        }
        if parts.is_empty() {
            return Ok(None);
        }
        let parts = most_severe_first(parts);
        let messages: Vec<message::Message> = parts.iter().map(|(_, _, m, _)| m.clone()).collect();
        let combined = message::combine(&messages, FULL_IN_ONE, max_bytes(channel.kind), &cx);
        let lead_notice = parts[0].0;
        let carrier_of = |n: &Notice| {
            n.line
                .as_ref()
                .and_then(|l| carriers.iter().find(|(id, _)| id == l))
                .map(|(_, c)| c.as_str())
        };
        let carrier = carrier_of(lead_notice)
            .filter(|c| parts.iter().all(|(n, ..)| carrier_of(n) == Some(*c)));
        let mut out = Outgoing::new(lead_notice, combined, channel, carrier);
        // Coloured by the most severe class in it.
        out.class = parts.iter().filter_map(|(n, ..)| n.class).max();
        let ids: Vec<String> = parts.iter().map(|(n, ..)| format!("#{}", n.id)).collect();
        let together = format!("in one message with notices {}: ", ids.join(", "));
        match deliver(&self.client, channel, &out).await {
            Ok(answer) => {
                for (n, attempts, _, note) in &parts {
                    let answer = format!("{note}{together}{answer}");
                    self.delivered(channel, n, carrier_of(n), attempts + 1, &answer)
                        .await?;
                }
                info!(notices = %ids.join(","), "alerts delivered in one message");
                Ok(None)
            }
            Err(f) => {
                self.metrics
                    .failed
                    .with_label_values(&[&self.name, f.reason])
                    .inc();
                let attempt = parts.iter().map(|(_, a, ..)| a + 1).max().unwrap_or(1);
                if f.kind == FailureKind::Message {
                    // Refused for itself (too long for a robot, say): each
                    // goes alone, with its own retries and rejection.
                    warn!(notices = %ids.join(","), failure = %f, "the message of several alerts was refused; sending them one by one");
                    for (n, attempts, ..) in &parts {
                        if let Some(wait) = self.send(config, channel, n, *attempts).await? {
                            return Ok(Some(wait));
                        }
                    }
                    return Ok(None);
                }
                let wait = backoff(attempt, channel.retry_max);
                warn!(notices = %ids.join(","), attempt, failure = %f, retry_in = ?wait, "alert delivery failed; will retry");
                for (n, attempts, ..) in &parts {
                    outbox::record(
                        &self.ledger,
                        n.id,
                        &self.name,
                        attempts + 1,
                        Outcome::Failed,
                        &f.to_string(),
                        self.clock.now(),
                    )
                    .await?;
                }
                Ok(Some(wait))
            }
        }
    }

    /// Delivers one notice; Some(wait) when it failed and the queue stops.
    async fn send(
        &self,
        config: &Config,
        channel: &Channel,
        n: &Notice,
        attempts: u32,
    ) -> Result<Option<Duration>, LedgerError> {
        let carriers = carriers_of(config);
        let shown = shown_carriers(config, channel.language);
        let cx = context(config, channel, &shown, self.clock.now());
        let Some((msg, note)) = self.compose(config, &cx, n, attempts).await? else {
            return Ok(None);
        };
        let carrier = n
            .line
            .as_ref()
            .and_then(|l| carriers.iter().find(|(id, _)| id == l))
            .map(|(_, c)| c.as_str());
        let out = Outgoing::new(n, msg, channel, carrier);
        let attempt = attempts + 1;
        match deliver(&self.client, channel, &out).await {
            Ok(answer) => {
                self.delivered(channel, n, carrier, attempt, &(note + &answer))
                    .await?;
                info!(notice = n.id, key = %n.key, attempt, "alert delivered");
                Ok(None)
            }
            Err(f) => {
                self.metrics
                    .failed
                    .with_label_values(&[&self.name, f.reason])
                    .inc();
                if f.kind == FailureKind::Message && attempt >= REJECT_AFTER {
                    error!(notice = n.id, key = %n.key, attempt, failure = %f, "alert rejected by the channel for good; moving on");
                    outbox::record(
                        &self.ledger,
                        n.id,
                        &self.name,
                        attempt,
                        Outcome::Rejected,
                        &f.to_string(),
                        self.clock.now(),
                    )
                    .await?;
                    return Ok(None);
                }
                let wait = backoff(attempt, channel.retry_max);
                warn!(notice = n.id, key = %n.key, attempt, failure = %f, retry_in = ?wait, "alert delivery failed; will retry");
                outbox::record(
                    &self.ledger,
                    n.id,
                    &self.name,
                    attempt,
                    Outcome::Failed,
                    &f.to_string(),
                    self.clock.now(),
                )
                .await?;
                Ok(Some(wait))
            }
        }
    }
}

/// A notice of a group with its attempts, message and delivery note.
type Part<'a> = (&'a Notice, u32, message::Message, String);

/// The most severe incident first: a fault with a major notice, the whole
/// egress's before a line's; each fault's own notices in the order they
/// were queued; notices of no fault last. Each notice once.
fn most_severe_first(parts: Vec<Part<'_>>) -> Vec<Part<'_>> {
    let rank: Vec<(bool, bool, usize)> = parts
        .iter()
        .enumerate()
        .map(|(i, (n, ..))| match n.fault {
            Some(f) => {
                let of = |p: &&Part| p.0.fault == Some(f);
                (
                    !parts.iter().filter(of).any(|p| p.2.urgent),
                    n.line.is_some(),
                    parts.iter().position(|p| of(&p)).unwrap_or(i),
                )
            }
            None => (true, true, usize::MAX - parts.len() + i),
        })
        .collect();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|i| (rank[*i], *i));
    let mut parts: Vec<_> = order.into_iter().map(|i| parts[i].clone()).collect();
    parts.dedup_by_key(|p| p.0.id);
    parts
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

/// A group owed to people, cut into messages: a report goes alone (its
/// mail carries the report itself), the rest together in order.
fn batches(group: Vec<(Notice, u32)>) -> Vec<Vec<(Notice, u32)>> {
    let mut batches: Vec<Vec<(Notice, u32)>> = vec![Vec::new()];
    for item in group {
        if item.0.kind == NoticeKind::ReportReady {
            batches.push(vec![item]);
            batches.push(Vec::new());
        } else {
            batches.last_mut().expect("one batch").push(item);
        }
    }
    batches.retain(|b| !b.is_empty());
    batches
}

#[cfg(test)]
mod tests {
    use super::{backoff, paced, Pass};
    use linkledger_ledger::LedgerError;
    use std::time::Duration;
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    /// A channel whose receiver is down for the first `failing` attempts,
    /// with one notice owed; the outbox unreadable on the passes listed in
    /// `unreadable`. Records when each pass ran (ms since the start).
    struct Receiver {
        t0: Instant,
        failing: u32,
        unreadable: Vec<usize>,
        attempts: u32,
        passes: Vec<u64>,
        retry_max: Duration,
        stop_after: usize,
    }

    impl Pass for Receiver {
        async fn pass(&mut self) -> Option<Result<Option<Duration>, LedgerError>> {
            if self.passes.len() == self.stop_after {
                return None; // the channel removed from the config
            }
            self.passes
                .push((Instant::now() - self.t0).as_millis() as u64);
            if self.unreadable.contains(&(self.passes.len() - 1)) {
                return Some(Err(LedgerError::Missing {
                    path: "ledger.db".into(),
                }));
            }
            if self.attempts < self.failing {
                self.attempts += 1;
                return Some(Ok(Some(backoff(self.attempts, self.retry_max))));
            }
            Some(Ok(None))
        }
    }

    async fn paced_passes(failing: u32, unreadable: Vec<usize>, stop_after: usize) -> Vec<u64> {
        let mut r = Receiver {
            t0: Instant::now(),
            failing,
            unreadable,
            attempts: 0,
            passes: Vec::new(),
            retry_max: Duration::from_secs(10),
            stop_after,
        };
        paced(&CancellationToken::new(), &mut r).await;
        r.passes
    }

    /// A receiver down for six attempts: retried after 1, 2, 4, 8 s, then
    /// every 10 s (the channel's retry_max); once it answers, passes every
    /// half second. On tokio's paused clock: a minute in milliseconds.
    #[tokio::test(start_paused = true)]
    async fn failed_deliveries_back_off_doubling_up_to_the_cap() {
        let passes = paced_passes(6, vec![], 10).await;
        assert_eq!(
            passes,
            [500, 1500, 3500, 7500, 15500, 25500, 35500, 36000, 36500, 37000]
        );
    }

    /// An outbox that cannot be read is tried again 5 s later.
    #[tokio::test(start_paused = true)]
    async fn an_unreadable_outbox_is_read_again_after_five_seconds() {
        let passes = paced_passes(0, vec![1], 4).await;
        assert_eq!(passes, [500, 1000, 6000, 6500]);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let max = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=7).map(|f| backoff(f, max).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(1000, max), max);
    }
}
