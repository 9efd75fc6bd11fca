//! An active/standby pair on one PostgreSQL ledger (`daemon.active_standby`):
//! which instance leads, the leader keeping its lease, and the standby
//! watching it lapse. See `linkledger_ledger::lease` for the lease and the
//! fence that keeps a deposed leader from writing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use linkledger_ledger::lease::{LeaseClient, LeaseRow};
use linkledger_ledger::Ledger;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::metrics::Metrics;
use crate::round_log::RoundLog;

/// This instance's part in its pair, as /metrics and the status page show
/// it.
pub struct Role {
    /// This instance's name (daemon.instance, else the host's).
    pub instance: String,
    /// Whether it is one of a pair (else it always leads).
    pub paired: bool,
    leading: AtomicBool,
    leader: Mutex<Option<String>>,
    metrics: Arc<Metrics>,
}

impl Role {
    pub fn new(instance: String, paired: bool, metrics: Arc<Metrics>) -> Arc<Self> {
        let role = Arc::new(Self {
            instance,
            paired,
            leading: AtomicBool::new(false),
            leader: Mutex::new(None),
            metrics,
        });
        role.show();
        role
    }

    /// Whether this instance leads now.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// The instance leading, as last read (None: nobody holds the lease).
    pub fn leader(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// This instance leads (true) or stands by; `leader` as read.
    pub fn set(&self, leading: bool, leader: Option<String>) {
        self.leading.store(leading, Ordering::Relaxed);
        *self.leader.lock().unwrap_or_else(|e| e.into_inner()) = leader;
        self.show();
    }

    fn show(&self) {
        let m = &self.metrics;
        m.leader
            .with_label_values(&[&self.instance])
            .set(i64::from(self.leading()));
        m.leader_info.reset();
        if let Some(l) = self.leader() {
            m.leader_info.with_label_values(&[&l]).set(1);
        }
    }
}

/// The holder's name written in the lease: the instance and its process.
pub fn holder(instance: &str) -> String {
    format!("{instance} (pid {})", std::process::id())
}

/// The instance in a holder's name.
pub fn instance_of(holder: &str) -> String {
    holder
        .rsplit_once(" (pid ")
        .map_or(holder, |(i, _)| i)
        .to_string()
}

/// How long a lease runs unrenewed: one and a half probe intervals (at
/// least a second), so that a standby takes over within three.
pub fn lease_length(interval: Duration) -> Duration {
    (interval * 3 / 2).max(Duration::from_secs(1))
}

/// Renews the lease a third of its length; ends when cancelled (a clean
/// stop: the client is handed back to let the lease go) or when another
/// instance holds the lease (said through `deposed`). While the server is
/// not reached it goes on trying: the fence keeps what this instance
/// queued meanwhile out if another took over.
pub async fn keep(
    mut client: LeaseClient,
    token: i64,
    role: Arc<Role>,
    deposed: tokio::sync::oneshot::Sender<Option<String>>,
    cancel: CancellationToken,
) -> LeaseClient {
    let every = client.length / 3;
    let mut renewed = Instant::now();
    let mut lapsed = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return client,
            _ = tokio::time::sleep(every) => {}
        }
        match client.renew(token).await {
            Ok(true) => {
                renewed = Instant::now();
                if lapsed {
                    info!(token, "the lease is renewed again: still leading");
                    lapsed = false;
                    role.set(true, Some(role.instance.clone()));
                }
            }
            Ok(false) => {
                let now = client.read().await.ok().flatten();
                let by = now.map(|r| r.holder);
                warn!(token, leader = by.as_deref().unwrap_or("none"), "DEPOSED: another instance took the lease over; its writes are the ledger's now, this instance stands by");
                let _ = deposed.send(by);
                return client;
            }
            Err(e) => {
                if renewed.elapsed() >= client.length && !lapsed {
                    error!(error = %e, token, "cannot renew the lease: the server is not reached. The standby may take over; what this instance queues meanwhile is written only if it still leads when the server answers");
                    lapsed = true;
                    role.set(false, None);
                }
            }
        }
    }
}

/// Watches the lease as the standby and takes it once the leader has let
/// it go, or once it has gone unrenewed for the lease's length while this
/// instance reached the server. Returns the new token. Meanwhile keeps
/// `role` on who leads and lets `log` go of the rounds the leader has
/// judged (its heartbeats). The previous holder comes with the token.
pub async fn take_when_free(
    client: &mut LeaseClient,
    holder: &str,
    db: &Ledger,
    log: &RoundLog,
    reach_back: chrono::TimeDelta,
    role: &Role,
) -> (i64, Option<String>) {
    let every = client.length / 4;
    // The lease as last read, and since when it has been so.
    let mut seen: Option<(LeaseRow, Instant)> = None;
    let mut told_unreached = false;
    loop {
        let row = match client.read().await {
            Ok(row) => {
                told_unreached = false;
                row
            }
            Err(e) => {
                if !told_unreached {
                    warn!(error = %e, "standby: cannot read the lease; the server is not reached, so nothing is taken over");
                    told_unreached = true;
                }
                seen = None;
                tokio::time::sleep(every).await;
                continue;
            }
        };
        let free = match &row {
            None => true,
            Some(r) if r.released => true,
            Some(r) => match &seen {
                Some((prev, since)) if (prev.token, prev.beat) == (r.token, r.beat) => {
                    since.elapsed() >= client.length
                }
                _ => {
                    seen = Some((r.clone(), Instant::now()));
                    false
                }
            },
        };
        role.set(
            false,
            row.as_ref()
                .filter(|r| !r.released)
                .map(|r| instance_of(&r.holder)),
        );
        if free {
            match client.take(holder, row.as_ref()).await {
                Ok(Some(token)) => {
                    info!(
                        token,
                        from = row.as_ref().map_or("nobody", |r| r.holder.as_str()),
                        "took the lease: this instance leads"
                    );
                    return (token, row.map(|r| r.holder));
                }
                Ok(None) => {
                    info!("another instance took the lease first: standing by");
                    seen = None;
                }
                Err(e) => warn!(error = %e, "cannot take the lease now; trying again"),
            }
        } else if let Ok(Some(hb)) = linkledger_ledger::run::last_heartbeat(db).await {
            log.forget_before(hb - reach_back);
        }
        tokio::time::sleep(every).await;
    }
}
