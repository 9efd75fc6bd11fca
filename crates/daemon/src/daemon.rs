//! The daemon: open the ledger, begin a run, start one task per line, serve
//! HTTP, and wait for signals. SIGTERM/SIGINT drain and stop; SIGHUP reloads
//! the config and keeps the old one when the new one is invalid.

use linkledger_config::LiveConfig;
use linkledger_ledger::Ledger;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use linkledger_probes::{Binding, Echoer, ReceiveStats};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::http::{router, HttpState};
use crate::line_task::{LineTask, Shared};
use crate::metrics::Metrics;
use crate::probe_runtime::ProbeRuntime;
use crate::round_log::{ObservedRound, RoundLog};
use crate::snmp_task::SnmpPoller;
use linkledger_config::Config;
use linkledger_core::evaluator::Evaluator;
use linkledger_core::time::ledger_ts;
use linkledger_ledger::clock::RunClock;
use linkledger_ledger::lease::LeaseClient;
use linkledger_ledger::write::{run_writer, LedgerTx, LedgerWrite, WriterStatus};
use linkledger_ledger::{self as ledger, run};

const GRACE: Duration = Duration::from_secs(3);
/// Reload requests (SIGHUP) this close together are one reload.
const RELOAD_GATHER: Duration = Duration::from_millis(500);

/// A line's rounds a standby kept, to judge on taking over, and what the
/// previous leader already counted in their minutes.
#[derive(Default)]
struct Replay {
    rounds: Vec<ObservedRound>,
    counted: crate::line_task::Counted,
}

/// The running line tasks and the sockets they share.
struct Lines {
    cancel: CancellationToken,
    tasks: Vec<(String, JoinHandle<Evaluator>)>,
    pollers: Vec<(String, JoinHandle<()>)>,
    echoers: HashMap<Binding, Arc<Echoer>>,
    /// A standby's: where its rounds are kept.
    standby: Option<RoundLog>,
}

impl Lines {
    /// `standby`: the lines of a standby, their rounds kept in the log;
    /// `replay`: rounds a standby kept, judged first by the line tasks of
    /// the leader it has become.
    fn start(
        config: &Config,
        shared: &Shared,
        mut evaluators: HashMap<String, Evaluator>,
        echoers: HashMap<Binding, Arc<Echoer>>,
        probe: &ProbeRuntime,
        standby: Option<RoundLog>,
        mut replay: HashMap<String, Replay>,
    ) -> anyhow::Result<Self> {
        let echoers = probe.enter(|| open_echoers(config, echoers, &shared.receive_stats))?;
        let cancel = CancellationToken::new();
        let n = config.lines.len().max(1) as u32;
        let mut tasks = Vec::new();
        let mut pollers = Vec::new();
        for (i, line) in config.lines.iter().enumerate() {
            let mut evaluator = evaluators
                .remove(&line.id)
                .unwrap_or_else(|| Evaluator::new(config.probe.down_after, config.probe.up_after));
            evaluator.set_thresholds(config.probe.down_after, config.probe.up_after);
            let polled = line.snmp.as_ref().map(|snmp| {
                // SNMP polls are few: they run on the main runtime.
                let (to_line, polled) = tokio::sync::mpsc::unbounded_channel();
                let poller = SnmpPoller {
                    line: line.id.clone(),
                    bandwidth_mbps: line.bandwidth_mbps,
                    snmp: snmp.clone(),
                    to_line,
                };
                let span = tracing::info_span!("snmp", line = %line.id, agent = %snmp.agent);
                let run = poller.run(
                    shared.clock.clone(),
                    shared.ledger.clone(),
                    shared.metrics.clone(),
                    cancel.child_token(),
                );
                pollers.push((
                    line.id.clone(),
                    tokio::spawn(tracing::Instrument::instrument(run, span)),
                ));
                polled
            });
            let mut task = LineTask {
                line: line.clone(),
                probe: config.probe,
                echoer: echoers[&line.binding()].clone(),
                evaluator,
                phase: config.probe.interval * i as u32 / n,
                polled,
                degradation: config.contract.terms.degradation,
                standby: standby.clone(),
                replay: Vec::new(),
                counted: Default::default(),
            };
            if let Some(r) = replay.remove(&line.id) {
                (task.replay, task.counted) = (r.rounds, r.counted);
            }
            let span = tracing::info_span!("line", line = %line.id);
            let handle = probe.spawn(tracing::Instrument::instrument(
                task.run(shared.clone(), cancel.child_token()),
                span,
            ));
            tasks.push((line.id.clone(), handle));
        }
        Ok(Self {
            cancel,
            tasks,
            pollers,
            echoers,
            standby,
        })
    }

    /// Stops every line task and returns their evaluators.
    async fn stop(self) -> (HashMap<String, Evaluator>, HashMap<Binding, Arc<Echoer>>) {
        self.cancel.cancel();
        let mut out = HashMap::new();
        for (id, handle) in self.tasks {
            match tokio::time::timeout(GRACE, handle).await {
                Ok(Ok(ev)) => {
                    out.insert(id, ev);
                }
                Ok(Err(e)) => error!(line = id, error = %e, "line task failed"),
                Err(_) => error!(line = id, "line task did not stop within the grace period"),
            }
        }
        for (id, handle) in self.pollers {
            if tokio::time::timeout(GRACE, handle).await.is_err() {
                error!(
                    line = id,
                    "SNMP poller did not stop within the grace period"
                );
            }
        }
        (out, self.echoers)
    }
}

/// Opens one echoer per binding, reusing those already open.
fn open_echoers(
    config: &Config,
    mut existing: HashMap<Binding, Arc<Echoer>>,
    stats: &Arc<ReceiveStats>,
) -> anyhow::Result<HashMap<Binding, Arc<Echoer>>> {
    let mut out = HashMap::new();
    for line in &config.lines {
        let binding = line.binding();
        if out.contains_key(&binding) {
            continue;
        }
        let same: Vec<_> = config
            .lines
            .iter()
            .filter(|l| l.binding() == binding)
            .collect();
        let all = || {
            same.iter()
                .flat_map(|l| l.local.iter().chain(&l.gateway).chain(&l.upstream))
        };
        let (v4, v6) = (all().any(|a| a.is_ipv4()), all().any(|a| a.is_ipv6()));
        let echoer = match existing.remove(&binding) {
            Some(e) => e,
            None => Arc::new(
                Echoer::open_with_stats(&binding, v4, v6, stats.clone())
                    .with_context(|| format!("cannot start probing for line {:?}", line.id))?,
            ),
        };
        out.insert(binding, echoer);
    }
    Ok(out)
}

/// The daemon's life: build, spawn, wait for a signal, stop. One of an
/// active/standby pair stands by until it holds the lease, leads until it
/// stops or is deposed, and stands by again.
///
/// `accept_broken_chain`: the operator's reason to start on a ledger whose
/// hash chain is broken (chained with the breaks it accepts).
pub async fn run(config: Config, accept_broken_chain: Option<String>) -> anyhow::Result<()> {
    let clock = RunClock::start();
    // One daemon per ledger, refused before anything else is opened.
    let _lock = linkledger_ledger::lock::DaemonLock::take(
        &config.daemon.database,
        &format!(
            "pid {}, started {}, config {}",
            std::process::id(),
            linkledger_core::time::ledger_ts(clock.now()),
            config.path.display()
        ),
    )?;
    // What can fail for want of permission or a free port fails before a run
    // is recorded: the listener and the ICMP sockets.
    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .with_context(|| format!("cannot listen on {} (daemon.listen)", config.daemon.listen))?;
    let receive_stats: Arc<ReceiveStats> = Arc::default();
    let probe = ProbeRuntime::start().context("cannot start the probing thread")?;
    let mut echoers = probe.enter(|| open_echoers(&config, HashMap::new(), &receive_stats))?;
    let db = ledger::connect(&config.daemon).await?;
    let instance = config.daemon.instance.clone().unwrap_or_else(hostname);
    let paired = config.daemon.active_standby;
    // On PostgreSQL, a daemon on another host has no lock file to find; a
    // pair shares the ledger by its lease instead.
    let _hold = if paired {
        None
    } else {
        linkledger_ledger::lock::hold_postgres(
            &db,
            &format!("pid {} on {}", std::process::id(), hostname()),
        )
        .await?
    };
    // A ledger changed behind our back is found before anything is added.
    let chain = crate::chain_watch::at_start(&db, accept_broken_chain.as_deref(), &clock).await?;
    let interval_ms = config.probe.interval.as_millis() as i64;
    let mut lease = if paired {
        // Nothing is written before the lease is this instance's.
        db.set_fence(linkledger_ledger::lease::STANDBY);
        let length = crate::pair::lease_length(config.probe.interval);
        Some(
            LeaseClient::new(&db, length)
                .context("daemon.active_standby needs a PostgreSQL ledger")?,
        )
    } else {
        None
    };

    let metrics = Arc::new(Metrics::new());
    for line in &config.lines {
        metrics.set_state(&line.id, "unobserved");
    }
    crate::chain_watch::shown(&chain, &clock, &metrics);
    let role = crate::pair::Role::new(instance, paired, metrics.clone());
    let status = Arc::new(WriterStatus::default());
    // What every session's line tasks share; each gets its own way to the
    // ledger (the writer, or nowhere as a standby).
    let (nowhere, _) = mpsc::unbounded_channel();
    let base = Shared {
        clock: clock.clone(),
        ledger: nowhere,
        metrics: metrics.clone(),
        last_round_ms: Arc::new(AtomicI64::new(0)),
        receive_stats,
        schedule: Default::default(),
        gate: Arc::default(),
    };
    let config_cell = LiveConfig::new(config.clone());
    metrics.config_loaded(true, clock.now());

    let (http, http_cancel) = serve(
        listener,
        HttpState {
            metrics: metrics.clone(),
            db: db.clone(),
            config: config_cell.clone(),
            clock: clock.clone(),
            writer: status.clone(),
            last_round_ms: base.last_round_ms.clone(),
            receive_stats: base.receive_stats.clone(),
            role: role.clone(),
        },
    );
    let daemon = Running {
        db: db.clone(),
        clock,
        interval_ms,
        metrics,
        status,
        base,
        probe,
        config_cell,
        role,
    };
    let mut signals = Signals::new()?;
    let mut current = config;
    loop {
        let took = match lease.as_mut() {
            None => None,
            Some(client) => {
                match stand_by(&daemon, &mut current, echoers, client, &mut signals).await? {
                    (StandbyEnd::Stop, e) => {
                        echoers = e;
                        break;
                    }
                    (StandbyEnd::Took(t), e) => {
                        echoers = e;
                        Some(t)
                    }
                }
            }
        };
        let (ended, e) = lead(
            &daemon,
            &mut current,
            echoers,
            took,
            &mut lease,
            &mut signals,
        )
        .await?;
        echoers = e;
        if ended == Led::Stopped {
            break;
        }
    }
    drop(echoers);
    // Joins the probing thread, which blocks: not on a runtime worker.
    let probe = daemon.probe;
    let _ = tokio::task::spawn_blocking(move || drop(probe)).await;
    http_cancel.cancel();
    let _ = tokio::time::timeout(GRACE, http).await;
    db.close().await;
    info!("stopped");
    Ok(())
}

/// What the daemon's sessions (leading, standing by) share.
struct Running {
    db: Ledger,
    clock: RunClock,
    interval_ms: i64,
    metrics: Arc<Metrics>,
    status: Arc<WriterStatus>,
    base: Shared,
    probe: ProbeRuntime,
    config_cell: LiveConfig,
    role: Arc<crate::pair::Role>,
}

/// The signals the daemon heeds.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signalled {
    Stop,
    Reload,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signalled {
        tokio::select! {
            _ = self.term.recv() => { info!("SIGTERM: shutting down"); Signalled::Stop }
            _ = self.int.recv() => { info!("SIGINT: shutting down"); Signalled::Stop }
            _ = self.hup.recv() => {
                // Requests within half a second are one reload.
                tokio::time::sleep(RELOAD_GATHER).await;
                let mut more = 0;
                while let Ok(Some(())) = tokio::time::timeout(Duration::ZERO, self.hup.recv()).await {
                    more += 1;
                }
                if more > 0 {
                    info!(requests = more + 1, "reload requests taken together");
                }
                Signalled::Reload
            }
        }
    }
}

/// A standby taking over: its token and the rounds it kept.
struct Takeover {
    token: i64,
    /// Who held the lease before (None: nobody ever had).
    from: Option<String>,
    rounds: HashMap<String, Vec<ObservedRound>>,
    /// From when its rounds are complete.
    since: Option<chrono::DateTime<chrono::Utc>>,
}

enum StandbyEnd {
    Stop,
    Took(Takeover),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Led {
    Stopped,
    Deposed,
}

/// Stands by: probes every line and keeps its rounds (writing nothing)
/// until the lease is this instance's, or a signal stops the daemon.
async fn stand_by(
    d: &Running,
    current: &mut Config,
    echoers: HashMap<Binding, Arc<Echoer>>,
    lease: &mut LeaseClient,
    signals: &mut Signals,
) -> anyhow::Result<(StandbyEnd, HashMap<Binding, Arc<Echoer>>)> {
    d.db.set_fence(linkledger_ledger::lease::STANDBY);
    d.role.set(false, d.role.leader());
    reseed_outages(&d.db, current, &d.metrics).await;
    // What the standby's tasks judge goes nowhere: the leader records it.
    let (sink, mut judged) = mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while judged.recv().await.is_some() {} });
    let shared = Shared {
        ledger: sink,
        ..d.base.clone()
    };
    let log = RoundLog::default();
    log.begin(d.clock.now());
    let mut lines = Lines::start(
        current,
        &shared,
        HashMap::new(),
        echoers,
        &d.probe,
        Some(log.clone()),
        HashMap::new(),
    )?;
    info!(instance = %d.role.instance, leader = d.role.leader().as_deref().unwrap_or("none yet"), lines = current.lines.len(), "standing by: probing every line and keeping the rounds; the leader writes the ledger");
    let holder = crate::pair::holder(&d.role.instance);
    let reach_back = reach_back(current);
    let end = {
        let took = crate::pair::take_when_free(lease, &holder, &d.db, &log, reach_back, &d.role);
        tokio::pin!(took);
        loop {
            tokio::select! {
                s = signals.next() => match s {
                    Signalled::Stop => break None,
                    Signalled::Reload => {
                        lines = reload(current, lines, &shared, &d.probe, &d.config_cell).await?;
                    }
                },
                taken = &mut took => break Some(taken),
            }
        }
    };
    if let Some((token, _)) = &end {
        let token = *token;
        // The lease is this instance's: it leads from now on (its lines
        // are stopped and started again as the leader's).
        d.db.set_fence(token);
        d.role.set(true, Some(d.role.instance.clone()));
    }
    let (_, echoers) = lines.stop().await;
    drop(shared);
    drain.abort();
    let Some((token, from)) = end else {
        return Ok((StandbyEnd::Stop, echoers));
    };
    let (rounds, since) = log.take();
    Ok((
        StandbyEnd::Took(Takeover {
            token,
            from,
            rounds,
            since,
        }),
        echoers,
    ))
}

/// How far before the leader's last heartbeat a standby's rounds may still
/// be judged: a change the leader had begun to see but not yet confirmed
/// reaches back that far.
fn reach_back(config: &Config) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(
        config.probe.interval * config.probe.up_after.max(config.probe.down_after),
    )
    .unwrap_or(chrono::TimeDelta::zero())
}

/// The outages counter from the ledger (it counts the leader's outages
/// too; set again whenever this instance's part changes).
async fn reseed_outages(db: &Ledger, config: &Config, metrics: &Metrics) {
    metrics.outages.reset();
    for line in &config.lines {
        match linkledger_ledger::read::outage_count(db, &line.id).await {
            Ok(n) => metrics
                .outages
                .with_label_values(&[&line.id])
                .inc_by(n as u64),
            Err(e) => {
                warn!(line = %line.id, error = %e, "cannot count the line's outages in the ledger")
            }
        }
    }
}

/// Leads: records a run, writes what the lines judge (first, when taking
/// over, the rounds the standby kept), runs the watchers, until a signal
/// stops the daemon or (one of a pair) another instance takes the lease.
async fn lead(
    d: &Running,
    current: &mut Config,
    echoers: HashMap<Binding, Arc<Echoer>>,
    took: Option<Takeover>,
    lease: &mut Option<LeaseClient>,
    signals: &mut Signals,
) -> anyhow::Result<(Led, HashMap<Binding, Arc<Echoer>>)> {
    let (db, clock, interval_ms) = (&d.db, &d.clock, d.interval_ms);
    let observed_since = took.as_ref().and_then(|t| t.since);
    let start = match record_start(db, current, clock.clone(), interval_ms, observed_since).await {
        Ok(s) => s,
        // A database away just then: the lease lapses unrenewed and is
        // taken again (by either) once the server answers.
        Err(e) if took.is_some() => {
            error!(error = %format!("{e:#}"), "cannot take over now; standing by again");
            return Ok((Led::Deposed, echoers));
        }
        Err(e) => return Err(e),
    };
    let (evaluators, replay) = match took.as_ref() {
        None => (
            resumed_evaluators(current, &start, clock.now()),
            HashMap::new(),
        ),
        Some(t) => takeover_evaluators(current, &start, &t.rounds, clock.now()),
    };
    let replay = match counted_minutes(db, replay, current.probe.interval).await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %format!("{e:#}"), "cannot take over now; standing by again");
            return Ok((Led::Deposed, echoers));
        }
    };
    if let Some(t) = &took {
        let rounds: usize = replay.values().map(|r| r.rounds.len()).sum();
        match start.previous_heartbeat {
            Some(hb) => {
                warn!(instance = %d.role.instance, token = t.token, run = start.run_id, since = %ledger_ts(hb), rounds, "TOOK OVER as leader: writing the rounds observed since the previous leader's last heartbeat")
            }
            None => {
                info!(instance = %d.role.instance, token = t.token, run = start.run_id, "leading a new ledger")
            }
        }
    }
    // Room for what the database may refuse to the end of this run.
    let journal = match linkledger_ledger::write::Journal::reserve(&current.daemon.database) {
        Ok(j) => Some(j),
        Err(e) => {
            error!(error = %e, "cannot reserve the journal beside the ledger: writes the database refuses at shutdown would have nowhere to go");
            None
        }
    };
    reseed_outages(db, current, &d.metrics).await;
    d.role.set(true, Some(d.role.instance.clone()));

    let (ledger_tx, ledger_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(run_writer(
        db.clone(),
        linkledger_ledger::write::WriterRun {
            run_id: start.run_id,
            clock: clock.clone(),
            interval_ms,
        },
        current.fault_rules(),
        ledger_rx,
        d.status.clone(),
        GRACE,
        journal,
    ));
    let shared = Shared {
        ledger: ledger_tx.clone(),
        ..d.base.clone()
    };
    if let Some(t) = &took {
        failover_notice(t, &start, &d.role.instance, clock.now(), &ledger_tx);
    }
    let mut lines = Lines::start(
        current, &shared, evaluators, echoers, &d.probe, None, replay,
    )?;
    info!(lines = current.lines.len(), listen = %current.daemon.listen, database = %current.daemon.ledger_name(), run = start.run_id, "linkledger running");

    let watchers_cancel = CancellationToken::new();
    let watchers = Watchers::spawn(
        db,
        &d.config_cell,
        &shared,
        current.probe.interval,
        &watchers_cancel,
    );
    // One of a pair keeps its lease while it leads.
    let (deposed_tx, mut deposed) = tokio::sync::oneshot::channel();
    let keeper_cancel = CancellationToken::new();
    let keeper = match (lease.take(), took.as_ref()) {
        (Some(client), Some(t)) => Some(tokio::spawn(crate::pair::keep(
            client,
            t.token,
            d.role.clone(),
            deposed_tx,
            keeper_cancel.clone(),
        ))),
        (client, _) => {
            *lease = client;
            None
        }
    };

    let ended = loop {
        tokio::select! {
            s = signals.next() => match s {
                Signalled::Stop => break Led::Stopped,
                Signalled::Reload => {
                    lines = reload(current, lines, &shared, &d.probe, &d.config_cell).await?;
                }
            },
            Ok(by) = &mut deposed, if keeper.is_some() => {
                d.role.set(false, by.as_deref().map(crate::pair::instance_of));
                break Led::Deposed;
            }
        }
    };
    let (evaluators, echoers) = lines.stop().await;
    watchers_cancel.cancel();
    if ended == Led::Deposed {
        // What this instance still had queued is another's to write now
        // (the fence refuses it anyway): let go of it, write nothing more.
        watchers.stopped().await;
        writer.abort();
        let _ = writer.await;
        d.status
            .pending
            .store(0, std::sync::atomic::Ordering::Relaxed);
        if let Some(k) = keeper {
            // (A keeper that failed leaves a fresh client: one of a pair
            // never goes on without a lease.)
            *lease = Some(match k.await {
                Ok(client) => client,
                Err(_) => LeaseClient::new(db, crate::pair::lease_length(current.probe.interval))
                    .expect("a pair's ledger is on PostgreSQL"),
            });
        }
        return Ok((Led::Deposed, echoers));
    }
    let stopped_at = clock.now();
    end_unobserved(evaluators, &ledger_tx, stopped_at);
    watchers.stopped().await;
    let _ = ledger_tx.send(LedgerWrite::Stopped { at: stopped_at });
    drop(ledger_tx);
    drop(shared);
    // The writer ends once its backlog is written or kept in the journal;
    // while neither can be done it goes on trying (the unit's stop timeout
    // is the limit), and the daemon waits for it.
    let mut writer = writer;
    while tokio::time::timeout(GRACE * 2, &mut writer).await.is_err() {
        warn!("waiting for the ledger writer: the backlog is neither written nor kept yet");
    }
    // Everything written: the standby may take over at once.
    if let (Some(k), Some(t)) = (keeper, took.as_ref()) {
        keeper_cancel.cancel();
        if let Ok(mut client) = k.await {
            match client.release(t.token).await {
                Ok(()) => info!("let the lease go: the standby takes over now"),
                Err(e) => {
                    warn!(error = %e, "cannot let the lease go: the standby takes over once it lapses")
                }
            }
        }
    }
    Ok((Led::Stopped, echoers))
}

/// Tells the administrators that this instance took over from another
/// (not when it takes back its own lease after a restart: the gap, if any,
/// is its own notice).
fn failover_notice(
    t: &Takeover,
    start: &run::RunStart,
    instance: &str,
    now: chrono::DateTime<chrono::Utc>,
    ledger_tx: &LedgerTx,
) {
    let Some(from) = t.from.as_deref().map(crate::pair::instance_of) else {
        return;
    };
    if from == instance {
        return;
    }
    let _ = ledger_tx.send(LedgerWrite::Notice(
        linkledger_ledger::outbox::NewNotice::about(
            linkledger_core::notice::NoticeKind::MonitorFailover,
            format!("run:{}:failover", start.run_id),
            None,
            now,
            serde_json::json!({
                "from": from,
                "to": instance,
                "since": start.previous_heartbeat.map(ledger_ts),
            }),
        ),
    ));
}

/// Each line's rounds to replay with how far into each minute they reach
/// the previous leader's echoes are already in the ledger: as many rounds
/// (an interval apart) from the minute's start as it counted, since a
/// leader's minute rows hold its first rounds of the minute.
async fn counted_minutes(
    db: &Ledger,
    replay: HashMap<String, Vec<ObservedRound>>,
    interval: Duration,
) -> anyhow::Result<HashMap<String, Replay>> {
    let step = chrono::TimeDelta::from_std(interval).unwrap_or(chrono::TimeDelta::seconds(1));
    let mut out = HashMap::new();
    for (line, rounds) in replay {
        let mut counted = crate::line_task::Counted::new();
        if let Some(first) = rounds.first() {
            let sent = linkledger_ledger::read::minute_counts(db, &line, first.at)
                .await
                .context("cannot read the minutes the previous leader counted")?;
            for ((tier, target, minute), n) in sent {
                if let Some(m) = linkledger_core::time::parse_ledger_ts(&minute) {
                    let until = m + step * i32::try_from(n).unwrap_or(i32::MAX) - step / 2;
                    counted.insert((tier, target, minute), until);
                }
            }
        }
        out.insert(line, Replay { rounds, counted });
    }
    Ok(out)
}

/// Evaluators and rounds to judge for a standby taking over. With its
/// rounds complete since before the previous leader's last heartbeat, each
/// line continues from the ledger's state at that heartbeat (its open
/// outage or local fault, or up), and judges its rounds from a little
/// before it (the changes the leader had begun to see) but never before
/// the line's latest recorded edge: no gap, no episode twice. Otherwise, as
/// after a restart, from where the gap recorded ends.
fn takeover_evaluators(
    config: &Config,
    start: &run::RunStart,
    rounds: &HashMap<String, Vec<ObservedRound>>,
    now: chrono::DateTime<chrono::Utc>,
) -> (
    HashMap<String, Evaluator>,
    HashMap<String, Vec<ObservedRound>>,
) {
    let gap_end = start.started_at.unwrap_or(now);
    let (Some(hb), true) = (
        start.previous_heartbeat,
        start.previous_heartbeat.is_some_and(|hb| gap_end <= hb),
    ) else {
        let replay = rounds
            .iter()
            .map(|(line, r)| {
                let kept = r.iter().filter(|r| r.at >= gap_end).cloned().collect();
                (line.clone(), kept)
            })
            .collect();
        return (resumed_evaluators(config, start, now), replay);
    };
    let mut evaluators = HashMap::new();
    let mut replay = HashMap::new();
    for line in &config.lines {
        let mut from = hb.min(now) - reach_back(config);
        if let Some(edge) = start.last_edges.get(&line.id) {
            from = from.max(*edge);
        }
        let open = start.open_outages.iter().find(|(l, _)| *l == line.id);
        if let Some((_, since)) = open {
            from = from.max(*since);
        }
        let mut ev = Evaluator::new(config.probe.down_after, config.probe.up_after);
        if open.is_some() {
            info!(line = %line.id, "continuing the outage the previous leader recorded");
            ev.resume_outage(from);
        } else if start.open_local_faults.contains(&line.id) {
            ev.resume_local_fault(from);
        } else if start.known_lines.contains(&line.id) {
            ev.resume_up(from);
        }
        evaluators.insert(line.id.clone(), ev);
        let kept: Vec<ObservedRound> = rounds
            .get(&line.id)
            .map(|r| r.iter().filter(|r| r.at > from).cloned().collect())
            .unwrap_or_default();
        replay.insert(line.id.clone(), kept);
    }
    (evaluators, replay)
}

/// The HTTP server (metrics, API, status page) until its token is
/// cancelled.
fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
) -> (
    tokio::task::JoinHandle<std::io::Result<()>>,
    CancellationToken,
) {
    let cancel = CancellationToken::new();
    let metrics = state.metrics.listen.clone();
    let app = router(state);
    let limits = crate::listen::Limits::for_this_process();
    let http = tokio::spawn(crate::listen::serve(
        listener,
        app,
        limits,
        metrics,
        cancel.clone(),
    ));
    (http, cancel)
}

/// A line unobserved right up to the stop: its gap ends here.
fn end_unobserved(
    evaluators: HashMap<String, Evaluator>,
    ledger_tx: &mpsc::UnboundedSender<LedgerWrite>,
    stopped_at: chrono::DateTime<chrono::Utc>,
) {
    for (line, ev) in evaluators {
        if let Some(start) = ev.unobserved_since() {
            let _ = ledger_tx.send(LedgerWrite::Gap {
                line: Some(line),
                start,
                end: stopped_at,
                reason: "probe_failed",
            });
        }
    }
}

/// The tasks that watch over the run beside the lines: the heartbeat,
/// deadline watching, the report schedule, the IP block judge and the
/// notifier. Stopped together, the notifier last.
struct Watchers {
    heartbeat: JoinHandle<()>,
    deadlines: JoinHandle<()>,
    reports: JoinHandle<()>,
    judge: JoinHandle<()>,
    notifier: JoinHandle<()>,
    chain: JoinHandle<()>,
}

impl Watchers {
    fn spawn(
        db: &Ledger,
        config: &LiveConfig,
        shared: &Shared,
        heartbeat_every: Duration,
        cancel: &CancellationToken,
    ) -> Self {
        let (clock, ledger_tx, metrics) = (&shared.clock, &shared.ledger, &shared.metrics);
        Self {
            heartbeat: tokio::spawn(heartbeat(
                Beat {
                    clock: clock.clone(),
                    ledger: ledger_tx.clone(),
                    db: db.clone(),
                    config: config.clone(),
                    gate: shared.gate.clone(),
                    metrics: metrics.clone(),
                    last_round_ms: shared.last_round_ms.clone(),
                },
                heartbeat_every,
                cancel.clone(),
            )),
            deadlines: tokio::spawn(crate::deadline_watch::run(
                db.clone(),
                config.clone(),
                clock.clone(),
                Duration::from_secs(5),
                cancel.clone(),
            )),
            reports: tokio::spawn(linkledger_report::schedule::run(
                db.clone(),
                config.clone(),
                clock.clone(),
                Duration::from_secs(60),
                cancel.clone(),
            )),
            judge: tokio::spawn(crate::vantage::judge::run(
                db.clone(),
                config.clone(),
                clock.clone(),
                ledger_tx.clone(),
                metrics.clone(),
                Duration::from_secs(1),
                cancel.clone(),
            )),
            notifier: tokio::spawn(linkledger_notify::sender::run(
                db.clone(),
                config.clone(),
                clock.clone(),
                metrics.notify.clone(),
                cancel.clone(),
            )),
            chain: tokio::spawn(crate::chain_watch::run(
                db.clone(),
                clock.clone(),
                metrics.clone(),
                cancel.clone(),
            )),
        }
    }

    /// Waits for each to stop (once cancelled). An alert in flight gets the
    /// grace period to finish; one cut off is retried by the next run (its
    /// delivery is not yet recorded).
    async fn stopped(self) {
        let _ = self.heartbeat.await;
        let _ = self.deadlines.await;
        let _ = self.reports.await;
        let _ = self.judge.await;
        let _ = self.chain.await;
        let _ = tokio::time::timeout(GRACE, self.notifier).await;
    }
}

/// Records the run's start in the ledger: the alert channels it owes, the
/// run itself (closing the gap since the previous one), the contract terms
/// in force. Returns what the previous run left open.
async fn record_start(
    db: &Ledger,
    config: &Config,
    clock: RunClock,
    interval_ms: i64,
    observed_since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<run::RunStart> {
    // No time in the ledger repeats: a clock gone back since the last
    // heartbeat starts this run after it.
    let behind = crate::clock_step::start_after(&clock, run::last_heartbeat(db).await?);
    // What the previous run could not write before it stopped comes first.
    let replayed = linkledger_ledger::write::journal::replay(
        db,
        &config.daemon.database,
        &config.fault_rules(),
        clock.clone(),
    )
    .await?;
    if replayed.writes > 0 || replayed.damaged > 0 {
        warn!(
            writes = replayed.writes,
            damaged = replayed.damaged,
            "replayed the writes the previous run kept in its journal"
        );
    }
    if let Some(aside) = &replayed.superseded {
        error!(journal = %aside, "the journal's run was followed by another instance's, which recorded that time from its own rounds: not replayed (kept aside)");
    }
    if let Some(aside) = &replayed.kept_aside {
        error!(journal = %aside, damaged = replayed.damaged, "the journal had damaged records: the readable ones were replayed, the file is kept aside");
    }
    // A channel configured for the first time is owed this run's notices.
    linkledger_notify::sender::register(db, &config.channels, clock.now())
        .await
        .context("cannot register the alert channels in the ledger")?;
    let now = clock.now();
    let start = run::begin_observed(
        db,
        now,
        observed_since.unwrap_or(now),
        &config.path.display().to_string(),
        interval_ms,
        &config.lines,
    )
    .await?;
    if let Some((run_time, wall_time)) = behind {
        run::clock_step(db, start.run_id, run_time, wall_time, false).await?;
    }
    ledger::terms::record_in_force(db, &config.contract.terms, clock.now(), Some(start.run_id))
        .await
        .context("cannot record the contract terms")?;
    if let Some(hb) = start.previous_heartbeat {
        let gap_end = start.started_at.unwrap_or(now);
        if hb < gap_end {
            let gap = (gap_end - hb).num_milliseconds() as f64 / 1000.0;
            warn!(since = %ledger_ts(hb), seconds = gap, "the daemon was not running: gap recorded as unobserved");
        }
    }
    Ok(start)
}

/// Evaluators for the lines whose outage or local fault the previous run
/// left open, resumed where it last saw them.
fn resumed_evaluators(
    config: &Config,
    start: &run::RunStart,
    now: chrono::DateTime<chrono::Utc>,
) -> HashMap<String, Evaluator> {
    let mut evaluators = HashMap::new();
    // The last failed round of an open outage lies at most `up_after` (or
    // `down_after`, for a local fault turning into an outage)
    // intervals before the previous run's last heartbeat (a recovery it had
    // begun to see but not yet confirmed), so the resumed lower bound of the
    // end is taken that far back; never later than now, should the wall
    // clock have gone back between runs.
    let unconfirmed = chrono::TimeDelta::from_std(
        config.probe.interval * config.probe.up_after.max(config.probe.down_after),
    )
    .unwrap_or(chrono::TimeDelta::zero());
    let seen_until = start
        .previous_heartbeat
        .map_or(now, |hb| hb.min(now) - unconfirmed);
    for (line, since) in &start.open_outages {
        info!(line, since = %ledger_ts(*since), "resuming the outage left open by the previous run");
        let mut ev = Evaluator::new(config.probe.down_after, config.probe.up_after);
        ev.resume_outage(seen_until);
        evaluators.insert(line.clone(), ev);
    }
    for line in &start.open_local_faults {
        let mut ev = Evaluator::new(config.probe.down_after, config.probe.up_after);
        ev.resume_local_fault(seen_until);
        evaluators.insert(line.clone(), ev);
    }
    // Every other line the previous run watched was up when it was last
    // seen (it may have begun to fail, unconfirmed, just as the run ended:
    // the bound is taken as far back as for an end). What this run's first
    // rounds find begins where the gap ends.
    if let (Some(_), Some(gap_end)) = (start.previous_heartbeat, start.started_at) {
        for line in &config.lines {
            if evaluators.contains_key(&line.id) || !start.known_lines.contains(&line.id) {
                continue;
            }
            let mut ev = Evaluator::new(config.probe.down_after, config.probe.up_after);
            ev.resume_after_gap(seen_until.min(gap_end), gap_end);
            evaluators.insert(line.id.clone(), ev);
        }
    }
    evaluators
}

/// SIGHUP: loads the config file again. A file that does not load leaves
/// the running config in force; one that loads restarts the line tasks on
/// it (evaluators and sockets carried over), records the lines and terms
/// in the ledger and is put in force for every task. Either way the
/// outcome shows in `linkledger_config_last_reload_successful`.
async fn reload(
    current: &mut Config,
    mut lines: Lines,
    shared: &Shared,
    probe: &ProbeRuntime,
    config_cell: &LiveConfig,
) -> anyhow::Result<Lines> {
    let (clock, ledger_tx, metrics) = (&shared.clock, &shared.ledger, &shared.metrics);
    match Config::load(&current.path) {
        Err(e) => {
            error!(error = %e, "config reload rejected; the running config stays in force");
            metrics.config_loaded(false, clock.now());
        }
        Ok(new) => {
            if new.daemon.ledger_name() != current.daemon.ledger_name()
                || new.daemon.listen != current.daemon.listen
                || new.daemon.active_standby != current.daemon.active_standby
                || new.daemon.instance != current.daemon.instance
            {
                warn!("daemon.database, daemon.listen, daemon.active_standby and daemon.instance changes take effect only after a restart");
            }
            let lines_standby = lines.standby.clone();
            let (mut evs, echoers) = lines.stop().await;
            close_removed_lines(&new, &mut evs, shared);
            let _ = ledger_tx.send(LedgerWrite::LineConfigs(new.lines.clone()));
            let _ = ledger_tx.send(LedgerWrite::Terms {
                terms: Box::new(new.contract.terms.clone()),
                at: clock.now(),
            });
            let _ = ledger_tx.send(LedgerWrite::FaultRules(new.fault_rules()));
            let standby = lines_standby;
            match Lines::start(
                &new,
                shared,
                evs,
                echoers,
                probe,
                standby.clone(),
                HashMap::new(),
            ) {
                Ok(l) => {
                    lines = l;
                    config_cell.set(new.clone());
                    *current = new;
                    let lines = current.lines.clone();
                    metrics.probes.retain(|id, tier, addr| {
                        lines
                            .iter()
                            .any(|l| l.id == id && l.targets(tier).contains(&addr))
                    });
                    info!(lines = current.lines.len(), "config reloaded");
                    metrics.config_loaded(true, clock.now());
                }
                Err(e) => {
                    error!(error = %format!("{e:#}"), "config reload failed; restarting with the previous config");
                    metrics.config_loaded(false, clock.now());
                    lines = Lines::start(
                        current,
                        shared,
                        HashMap::new(),
                        HashMap::new(),
                        probe,
                        standby,
                        HashMap::new(),
                    )?;
                }
            }
        }
    }
    Ok(lines)
}

/// Lines removed by a reload end their open outage or local fault now.
fn close_removed_lines(new: &Config, evaluators: &mut HashMap<String, Evaluator>, shared: &Shared) {
    let now = shared.clock.now();
    evaluators.retain(|id, ev| {
        if new.lines.iter().any(|l| &l.id == id) {
            return true;
        }
        let line = id.clone();
        // Its degradations end now too.
        let utilisation = ev.utilisation.as_ref().is_some_and(|u| u.active());
        let quality = ev.quality.as_ref().map(|q| q.active()).unwrap_or_default();
        for kind in quality
            .into_iter()
            .chain(utilisation.then_some("utilisation"))
        {
            let _ = shared.ledger.send(LedgerWrite::DegradationEnded {
                line: line.clone(),
                kind,
                end: now,
            });
        }
        if ev.in_outage() {
            let _ = shared.ledger.send(LedgerWrite::OutageClosed {
                line,
                end: now,
                end_after: now,
            });
        } else if ev.in_local_fault() {
            let _ = shared.ledger.send(LedgerWrite::LocalFaultClosed {
                line,
                end: now,
                end_after: now,
            });
        }
        shared.gate.forget(id);
        false
    });
}

/// What the heartbeat task works with.
struct Beat {
    clock: RunClock,
    ledger: LedgerTx,
    db: Ledger,
    config: LiveConfig,
    gate: Arc<crate::clock_step::ClockGate>,
    metrics: Arc<Metrics>,
    last_round_ms: Arc<AtomicI64>,
}

/// Records that the daemon is alive every interval, and follows (or
/// records) the wall clock stepping away from the run's timeline.
async fn heartbeat(beat: Beat, every: Duration, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    let mut watch = crate::clock_step::StepWatch::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let _ = beat.ledger.send(LedgerWrite::Heartbeat {
            at: beat.clock.now(),
        });
        let config = beat.config.get();
        let (offset, followed) = crate::clock_step::check(
            &mut watch,
            &beat.clock,
            &beat.gate,
            &beat.db,
            &config,
            &beat.ledger,
        )
        .await;
        beat.metrics
            .clock_offset
            .set(offset.num_milliseconds() as f64 / 1000.0);
        // The latest round's time moves with the timeline, so that the
        // health check does not count the step as time since it.
        if let Some(step) = followed {
            beat.last_round_ms.fetch_add(
                step.num_milliseconds(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }
}

/// This machine's name, as the kernel has it (for the PostgreSQL hold's
/// holder, shown to a second daemon refused).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use std::path::Path;

    fn rounds(t: chrono::DateTime<chrono::Utc>) -> HashMap<String, Vec<ObservedRound>> {
        ["telecom", "unicom"]
            .into_iter()
            .map(|line| {
                let r = (-10..=5)
                    .map(|s| ObservedRound {
                        at: t + TimeDelta::seconds(s),
                        outcomes: Vec::new(),
                        interface: None,
                    })
                    .collect();
                (line.to_string(), r)
            })
            .collect()
    }

    /// The demo config: lines telecom and unicom, 1 s interval,
    /// down_after 3, up_after 2.
    fn demo() -> Config {
        Config::load_without_secrets(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/demo.toml"
        )))
        .unwrap()
    }

    fn secs(r: &[ObservedRound], t: chrono::DateTime<chrono::Utc>) -> Vec<i64> {
        r.iter().map(|r| (r.at - t).num_seconds()).collect()
    }

    #[test]
    fn a_standby_observing_since_before_the_heartbeat_judges_from_just_before_it_never_before_an_edge(
    ) {
        let config = demo();
        let t = linkledger_ledger::clock::wall_now();
        let start = run::RunStart {
            run_id: 2,
            previous_heartbeat: Some(t),
            open_outages: vec![("telecom".into(), t - TimeDelta::seconds(20))],
            started_at: Some(t - TimeDelta::seconds(30)),
            known_lines: vec!["telecom".into(), "unicom".into()],
            last_edges: [("unicom".to_string(), t + TimeDelta::milliseconds(500))].into(),
            ..Default::default()
        };
        let (evs, replay) =
            takeover_evaluators(&config, &start, &rounds(t), t + TimeDelta::seconds(6));
        assert!(evs["telecom"].in_outage(), "the open outage continues");
        assert!(!evs["unicom"].in_outage());
        // down_after 3 × 1 s before the heartbeat: a change the leader
        // had begun to see.
        assert_eq!(secs(&replay["telecom"], t), (-2..=5).collect::<Vec<_>>());
        // Not before the edge the leader recorded after its heartbeat.
        assert_eq!(secs(&replay["unicom"], t), (1..=5).collect::<Vec<_>>());
    }

    #[test]
    fn a_standby_that_began_after_the_heartbeat_judges_from_the_gap_s_end() {
        let config = demo();
        let t = linkledger_ledger::clock::wall_now();
        let start = run::RunStart {
            run_id: 2,
            previous_heartbeat: Some(t),
            started_at: Some(t + TimeDelta::seconds(2)),
            known_lines: vec!["telecom".into(), "unicom".into()],
            ..Default::default()
        };
        let (evs, replay) =
            takeover_evaluators(&config, &start, &rounds(t), t + TimeDelta::seconds(6));
        assert_eq!(evs.len(), 2);
        for line in ["telecom", "unicom"] {
            assert_eq!(
                secs(&replay[line], t),
                (2..=5).collect::<Vec<_>>(),
                "{line}"
            );
        }
    }
}
