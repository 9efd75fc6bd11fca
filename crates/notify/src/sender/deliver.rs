//! Delivering what a channel owes: one notice alone, or a group as one
//! message, and the delivery records each attempt leaves.

use super::*;

impl ChannelTask {
    /// Records a notice's delivery, counts it, and when the channel reaches
    /// the carrier of the notice's line, records the fault as reported (申告).
    pub(super) async fn delivered(
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
    pub(super) async fn compose(
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
    pub(super) async fn send_group(
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
    pub(super) async fn send(
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

/// A group owed to people, cut into messages: a report goes alone (its
/// mail carries the report itself), the rest together in order.
pub(super) fn batches(group: Vec<(Notice, u32)>) -> Vec<Vec<(Notice, u32)>> {
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
