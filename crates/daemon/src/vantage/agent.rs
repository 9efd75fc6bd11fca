//! `linkledger agent`: probes the public IP blocks from outside, every
//! `interval`, and pushes each round to the central daemon. Rounds go
//! into the buffer first and leave it only when the central has
//! acknowledged them, so a central that is away, or a restart of either
//! side, loses nothing and stores nothing twice.
//!
//! A round probes the agent's own anchors too: when none answers, the
//! agent's own side is down and the central counts the round as
//! unobserved, never as a vote for "down".

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use linkledger_probes::{Binding, EchoOutcome, Echoer};
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::ingest::{TargetSpec, Targets};
use linkledger_config::agent::AgentConfig;
use linkledger_core::batch::{Ack, Batch, Round, TargetResult, SCHEMA};
use linkledger_ledger::agent_buffer::Buffer;
use linkledger_ledger::clock::RunClock;

/// Rounds sent in one batch at most.
const BATCH_ROUNDS: usize = 60;
const TARGETS_EVERY: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub async fn run(cfg: AgentConfig) -> anyhow::Result<()> {
    let buffer = Arc::new(
        Buffer::open(&cfg.buffer)
            .await
            .with_context(|| format!("cannot open the agent buffer {}", cfg.buffer.display()))?,
    );
    let client = client(&cfg)?;
    let clock = RunClock::start();
    let remembered: Vec<TargetSpec> = buffer
        .recall("targets")
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    let targets = Arc::new(RwLock::new(remembered));
    // Before the first round: the targets and where the central's rounds
    // end, unless the central is away and targets are remembered.
    loop {
        match fetch_targets(&client, &cfg).await {
            Ok(t) => {
                apply_targets(&buffer, &targets, t).await?;
                break;
            }
            Err(e) if !targets.read().await.is_empty() => {
                warn!(error = %e, "the central is unreachable; probing the targets it gave last time");
                break;
            }
            Err(e) => {
                warn!(error = %e, "cannot get the block targets from the central yet; retrying");
                tokio::time::sleep(cfg.interval).await;
            }
        }
    }
    let echoer = Echoer::open(&Binding::default(), true, true)
        .or_else(|_| Echoer::open(&Binding::default(), true, false))
        .context("cannot open the agent's ICMP sockets")?;
    let echoer = Arc::new(echoer);
    let centrals: Vec<&str> = cfg.centrals.iter().map(url::Url::as_str).collect();
    info!(agent = %cfg.id, central = %centrals.join(", "), targets = targets.read().await.len(), "linkledger agent running");

    let cancel = CancellationToken::new();
    let tasks = [
        tokio::spawn(probe_loop(
            cfg.clone(),
            clock.clone(),
            echoer,
            targets.clone(),
            buffer.clone(),
            cancel.clone(),
        )),
        tokio::spawn(send_loop(
            cfg.clone(),
            client.clone(),
            buffer.clone(),
            cancel.clone(),
        )),
        tokio::spawn(upkeep_loop(
            cfg.clone(),
            client,
            clock,
            buffer,
            targets,
            cancel.clone(),
        )),
    ];
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: stopping the agent"),
        _ = int.recv() => info!("SIGINT: stopping the agent"),
    }
    cancel.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Ok(())
}

fn client(cfg: &AgentConfig) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("linkledger-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(f) = &cfg.ca_file {
        let pem =
            std::fs::read(f).with_context(|| format!("cannot read ca_file {}", f.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("ca_file {} is not a PEM certificate", f.display()))?;
        b = b.add_root_certificate(cert);
    }
    b.build().context("cannot build the HTTPS client")
}

/// The central that took the last request (of an active/standby pair's
/// two, the leader): tried first next time.
static LAST_TAKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sends a request to the central with the agent's token and parses its
/// answer; a refusal says the central's status and reason. With two
/// centrals (a pair), one not reached or answering 503 (the standby) is
/// passed over for the other.
async fn call<T: serde::de::DeserializeOwned>(
    cfg: &AgentConfig,
    path: &str,
    req: impl Fn(url::Url) -> reqwest::RequestBuilder,
) -> anyhow::Result<T> {
    use std::sync::atomic::Ordering;
    let n = cfg.centrals.len();
    let first = LAST_TAKEN.load(Ordering::Relaxed) % n;
    let mut refusals = Vec::new();
    for k in 0..n {
        let i = (first + k) % n;
        let base = &cfg.centrals[i];
        let r = match req(base.join(path).expect("a static path joins"))
            .bearer_auth(&cfg.token)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                refusals.push(format!("{base}: {}", e.without_url()));
                continue;
            }
        };
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            let said = format!("the central {base} answered {status}: {body}");
            if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                refusals.push(said);
                continue;
            }
            anyhow::bail!(said);
        }
        LAST_TAKEN.store(i, Ordering::Relaxed);
        return r
            .json()
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.without_url()));
    }
    anyhow::bail!("{}", refusals.join("; "))
}

async fn fetch_targets(client: &reqwest::Client, cfg: &AgentConfig) -> anyhow::Result<Targets> {
    call(cfg, "/api/v1/agent/targets", |u| client.get(u)).await
}

async fn apply_targets(
    buffer: &Buffer,
    targets: &RwLock<Vec<TargetSpec>>,
    t: Targets,
) -> anyhow::Result<()> {
    buffer.resume_after(t.last_seq).await?;
    buffer
        .remember("targets", &serde_json::to_string(&t.targets)?)
        .await?;
    let mut cur = targets.write().await;
    if *cur != t.targets {
        info!(targets = t.targets.len(), "block targets from the central");
        *cur = t.targets;
    }
    Ok(())
}

async fn probe_loop(
    cfg: AgentConfig,
    clock: RunClock,
    echoer: Arc<Echoer>,
    targets: Arc<RwLock<Vec<TargetSpec>>>,
    buffer: Arc<Buffer>,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(cfg.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut paths = PathWatch::default();
    let mut said_back = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        follow_clock(&clock, &mut said_back);
        let at = clock.now();
        let list = targets.read().await.clone();
        let mut round = probe_round(&cfg, &echoer, &list, at).await;
        paths.watch(&list, &round, clock.clone());
        round.traces = paths.take();
        if let Err(e) = buffer.push(round).await {
            error!(error = %e, "cannot write the round to the agent buffer; it is lost");
        }
    }
}

/// An agent's rounds are points in time, not spans: a forward step of the
/// wall clock (NTP setting a clock that was slow at boot) is followed at
/// once, between rounds, so that the rounds are at the time the central
/// and the other agents keep. A backward step is not: a round older than
/// the agent's last is refused by the central (said once).
fn follow_clock(clock: &RunClock, said_back: &mut bool) {
    let offset = clock.wall_offset();
    let tolerance = crate::clock_step::TOLERANCE;
    if offset > tolerance {
        clock.step(offset);
        warn!(
            step_s = offset.num_milliseconds() as f64 / 1000.0,
            "the wall clock stepped forward: the rounds' times follow it from here"
        );
        *said_back = false;
    } else if offset < -tolerance && !*said_back {
        warn!(
            step_s = offset.num_milliseconds() as f64 / 1000.0,
            "the wall clock stepped back; not followed (the central refuses a round older than the last): the rounds' times stay ahead of it"
        );
        *said_back = true;
    }
}

/// Rounds in a row a line's block must fail (own side healthy) before the
/// agent traces the path to it.
const TRACE_AFTER: u32 = 2;
/// At most one trace per line this often.
const TRACE_EVERY: Duration = Duration::from_secs(600);

/// Path evidence from the agent's side: when every target of a line fails
/// for [`TRACE_AFTER`] rounds while the agent's own side is healthy, a
/// traceroute to the first of them, sent with a later round.
#[derive(Default)]
struct PathWatch {
    failing: std::collections::HashMap<String, u32>,
    traced: std::collections::HashMap<String, tokio::time::Instant>,
    done: Arc<std::sync::Mutex<Vec<crate::path::PathRecord>>>,
}

impl PathWatch {
    fn watch(&mut self, list: &[TargetSpec], round: &Round, clock: RunClock) {
        let mut lines: Vec<&str> = list.iter().map(|t| t.line.as_str()).collect();
        lines.dedup();
        for line in lines {
            let of_line: Vec<&TargetSpec> = list.iter().filter(|t| t.line == line).collect();
            let lost = round.own_healthy()
                && of_line.iter().all(|t| {
                    let name = t.target.to_string();
                    round
                        .results
                        .iter()
                        .any(|r| r.target == name && !r.answered)
                });
            let n = self.failing.entry(line.to_string()).or_default();
            *n = if lost { *n + 1 } else { 0 };
            let recent = self
                .traced
                .get(line)
                .is_some_and(|t| t.elapsed() < TRACE_EVERY);
            if *n != TRACE_AFTER || recent {
                continue;
            }
            self.traced
                .insert(line.to_string(), tokio::time::Instant::now());
            let target = of_line[0].target;
            let done = self.done.clone();
            let clock = clock.clone();
            tokio::spawn(async move {
                let taken_at = clock.now();
                match linkledger_probes::icmp::trace::trace(
                    &Binding::default(),
                    target.addr,
                    crate::path::MAX_HOPS,
                    crate::path::WAIT,
                )
                .await
                {
                    Ok(t) => {
                        let p = crate::path::record_of(target.to_string(), taken_at, &t);
                        info!(target = %target, last_hop = ?p.last_hop(), "the block is lost from here: path traced");
                        done.lock().expect("not poisoned").push(p);
                    }
                    Err(e) => {
                        warn!(target = %target, error = %e, "cannot trace the path to the block")
                    }
                }
            });
        }
    }

    fn take(&self) -> Vec<crate::path::PathRecord> {
        std::mem::take(&mut *self.done.lock().expect("not poisoned"))
    }
}

/// One round: the own anchors, ICMP block targets and TCP connects at once.
async fn probe_round(
    cfg: &AgentConfig,
    echoer: &Echoer,
    list: &[TargetSpec],
    at: chrono::DateTime<chrono::Utc>,
) -> Round {
    let icmp: Vec<IpAddr> = list
        .iter()
        .filter(|t| t.target.tcp_port.is_none())
        .map(|t| t.target.addr)
        .collect();
    let mut tcp = tokio::task::JoinSet::new();
    for t in list
        .iter()
        .filter_map(|t| t.target.tcp_port.map(|p| (t.target, p)))
    {
        let timeout = cfg.timeout;
        tcp.spawn(async move {
            let start = tokio::time::Instant::now();
            let ok = matches!(
                tokio::time::timeout(timeout, tokio::net::TcpStream::connect((t.0.addr, t.1)))
                    .await,
                Ok(Ok(_))
            );
            (t.0, ok.then(|| start.elapsed()))
        });
    }
    let (anchors, icmp_out) = tokio::join!(
        echoer.round(&cfg.anchors, cfg.timeout),
        echoer.round(&icmp, cfg.timeout)
    );
    let mut results: Vec<TargetResult> = icmp
        .iter()
        .zip(icmp_out)
        .map(|(addr, o)| {
            let rtt = match o {
                EchoOutcome::Reply { rtt } => Some(rtt),
                _ => None,
            };
            TargetResult {
                target: addr.to_string(),
                answered: rtt.is_some(),
                rtt_ms: rtt.map(|d| d.as_secs_f64() * 1000.0),
            }
        })
        .collect();
    while let Some(Ok((t, rtt))) = tcp.join_next().await {
        results.push(TargetResult {
            target: t.to_string(),
            answered: rtt.is_some(),
            rtt_ms: rtt.map(|d| d.as_secs_f64() * 1000.0),
        });
    }
    results.sort_by(|a, b| a.target.cmp(&b.target));
    Round {
        seq: 0,
        at,
        anchors: cfg.anchors.len() as u32,
        anchors_answered: anchors
            .iter()
            .filter(|o| matches!(o, EchoOutcome::Reply { .. }))
            .count() as u32,
        results,
        traces: Vec::new(),
    }
}

async fn send_loop(
    cfg: AgentConfig,
    client: reqwest::Client,
    buffer: Arc<Buffer>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let wait = match send_once(&cfg, &client, &buffer).await {
            Ok(true) => {
                backoff = Duration::from_secs(1);
                continue;
            }
            Ok(false) => Duration::from_millis(500),
            Err(e) => {
                warn!(error = %e, retry_in = ?backoff, "cannot push rounds to the central; they stay in the buffer");
                let w = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                w
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends the oldest pending rounds; true when some were acknowledged.
async fn send_once(
    cfg: &AgentConfig,
    client: &reqwest::Client,
    buffer: &Buffer,
) -> anyhow::Result<bool> {
    let rounds = buffer.pending(BATCH_ROUNDS).await?;
    if rounds.is_empty() {
        return Ok(false);
    }
    let backlog = buffer.backlog().await?.saturating_sub(rounds.len() as u64);
    let batch = Batch {
        schema: SCHEMA.into(),
        agent: cfg.id.clone(),
        backlog,
        rounds,
    };
    let ack: Ack = call(cfg, "/api/v1/agent/batches", |u| {
        client.post(u).json(&batch)
    })
    .await?;
    buffer.ack(ack.acked).await?;
    Ok(ack.stored + ack.duplicates > 0)
}

async fn upkeep_loop(
    cfg: AgentConfig,
    client: reqwest::Client,
    clock: RunClock,
    buffer: Arc<Buffer>,
    targets: Arc<RwLock<Vec<TargetSpec>>>,
    cancel: CancellationToken,
) {
    let mut refresh = tokio::time::interval(TARGETS_EVERY);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = refresh.tick() => {
                match fetch_targets(&client, &cfg).await {
                    Ok(t) => {
                        if let Err(e) = apply_targets(&buffer, &targets, t).await {
                            error!(error = %e, "cannot keep the block targets");
                        }
                    }
                    Err(e) => warn!(error = %e, "cannot refresh the block targets; probing the last ones"),
                }
            }
            _ = prune.tick() => {
                let age = chrono::TimeDelta::from_std(cfg.buffer_max_age).unwrap_or(chrono::TimeDelta::MAX);
                match buffer.prune(clock.now() - age).await {
                    Ok(0) => {}
                    Ok(n) => {
                        let total = buffer.dropped_total().await.unwrap_or(n);
                        error!(dropped = n, dropped_total = total, max_age = ?cfg.buffer_max_age, "the central has been unreachable longer than buffer_max_age: the oldest rounds were dropped");
                    }
                    Err(e) => error!(error = %e, "cannot prune the agent buffer"),
                }
            }
        }
    }
}
