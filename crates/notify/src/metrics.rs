//! What the notifier counts: alerts sent and failed per channel, and what
//! waits in the outbox. Registered in the daemon's registry.

use prometheus::{Gauge, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Registers `m` in `r` and hands it back (the daemon's metrics use it too).
pub fn reg<M: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: M) -> M {
    r.register(Box::new(m.clone()))
        .expect("metric names are unique");
    m
}

/// Alert delivery: what went out, what failed, what waits in the outbox.
pub struct NotifyMetrics {
    pub sent: IntCounterVec,
    pub failed: IntCounterVec,
    pub pending: IntGaugeVec,
    pub oldest_pending_age: Gauge,
    /// Each channel's oldest pending notice's age; the gauge is the largest.
    ages: std::sync::Mutex<std::collections::HashMap<String, f64>>,
}

impl NotifyMetrics {
    pub fn new(r: &Registry) -> Self {
        Self {
            sent: reg(r, IntCounterVec::new(Opts::new("linkledger_notifications_sent_total", "Alerts accepted by the channel's far end, by event."), &["channel", "event"]).unwrap()),
            failed: reg(r, IntCounterVec::new(Opts::new("linkledger_notifications_failed_total", "Alert delivery attempts that failed, by reason (connect, timeout, http_5xx, http_4xx, http_auth, robot_error, smtp_auth, smtp_transient, smtp_permanent, tls, config)."), &["channel", "reason"]).unwrap()),
            pending: reg(r, IntGaugeVec::new(Opts::new("linkledger_outbox_pending", "Alerts in the outbox not yet delivered to the channel."), &["channel"]).unwrap()),
            oldest_pending_age: reg(r, Gauge::new("linkledger_outbox_oldest_pending_age_seconds", "Age of the oldest alert waiting in the outbox for any channel (0 when none waits).").unwrap()),
            ages: Default::default(),
        }
    }

    /// Records a channel's outbox: how many wait and the oldest's age.
    pub fn set_pending(&self, channel: &str, count: usize, oldest_age_s: f64) {
        self.pending.with_label_values(&[channel]).set(count as i64);
        let mut ages = self.ages.lock().unwrap_or_else(|e| e.into_inner());
        ages.insert(channel.to_string(), oldest_age_s);
        self.oldest_pending_age
            .set(ages.values().copied().fold(0.0, f64::max));
    }

    /// Forgets a channel that is no longer configured.
    pub fn forget(&self, channel: &str) {
        let _ = self.pending.remove_label_values(&[channel]);
        self.set_pending_age_removed(channel);
    }

    fn set_pending_age_removed(&self, channel: &str) {
        let mut ages = self.ages.lock().unwrap_or_else(|e| e.into_inner());
        ages.remove(channel);
        self.oldest_pending_age
            .set(ages.values().copied().fold(0.0, f64::max));
    }
}
