//! The `alertmanager` channel: alerts posted to Alertmanager's v2 API
//! (`POST {url}/api/v2/alerts`) for sites that route everything through it.
//!
//! A fault is one alert, `LinkledgerFault`, labelled with its line, carrier,
//! class and fault id: firing from its opening, re-posted every minute while
//! it is open (Alertmanager resolves an alert that is not re-posted), and
//! resolved (an `endsAt` in the past) when the fault is. An escalation is a
//! new class, so the alert under the old class is resolved and the new one
//! fires. Every other notice is a one-off alert named after its kind
//! (`LinkledgerDeadlineBreached`, `LinkledgerBudgetShare`, ...) that ends an
//! hour after it happened.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{Failure, FailureKind, Outgoing};
use linkledger_core::fault::FaultClass;
use linkledger_core::time::ledger_ts;
use linkledger_ledger::outbox::NoticeKind;

/// How long a firing fault alert lasts without a re-post.
pub const FIRING_FOR: TimeDelta = TimeDelta::minutes(10);
/// How often open faults are re-posted.
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A fault as Alertmanager sees it.
#[derive(Debug, Clone)]
pub struct FaultAlert {
    pub fault: i64,
    pub line: Option<String>,
    pub carrier: Option<String>,
    pub class: FaultClass,
    pub summary: String,
    pub starts: DateTime<Utc>,
    /// None: still open.
    pub ends: Option<DateTime<Utc>>,
}

fn severity(class: FaultClass) -> &'static str {
    match class {
        FaultClass::General => "warning",
        FaultClass::Serious | FaultClass::Major => "critical",
    }
}

/// The v2 API's alert object for a fault.
pub fn fault_alert(a: &FaultAlert, now: DateTime<Utc>) -> Value {
    let mut labels = json!({
        "alertname": "LinkledgerFault",
        "fault_id": a.fault.to_string(),
        "line": a.line.as_deref().unwrap_or(linkledger_core::EGRESS),
        "class": a.class.as_str(),
        "severity": severity(a.class),
    });
    if let Some(c) = &a.carrier {
        labels["carrier"] = json!(c);
    }
    json!({
        "labels": labels,
        "annotations": { "summary": a.summary },
        "startsAt": ledger_ts(a.starts),
        "endsAt": ledger_ts(a.ends.unwrap_or(now + FIRING_FOR)),
    })
}

fn camel(kind: NoticeKind) -> String {
    kind.as_str()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The alerts one outgoing notice posts.
pub fn alerts_of(o: &Outgoing, now: DateTime<Utc>) -> Vec<Value> {
    let d = &o.document;
    let at = d["at"]
        .as_str()
        .and_then(linkledger_core::time::parse_ledger_ts)
        .unwrap_or(now);
    let class = d["class"].as_str().and_then(FaultClass::parse);
    let fault = d["fault_id"].as_i64();
    let fault_alert_of = |class: FaultClass, ends: Option<DateTime<Utc>>| FaultAlert {
        fault: fault.unwrap_or(0),
        line: d["line"].as_str().map(str::to_string),
        carrier: d["carrier"].as_str().map(str::to_string),
        class,
        summary: o.message.subject.clone(),
        starts: at,
        ends,
    };
    match (o.kind, fault, class) {
        (NoticeKind::FaultOpened, Some(_), Some(c)) => {
            vec![fault_alert(&fault_alert_of(c, None), now)]
        }
        (NoticeKind::FaultEscalated | NoticeKind::FaultReclassified, Some(_), Some(c)) => {
            let mut out = vec![fault_alert(&fault_alert_of(c, None), now)];
            if let Some(from) = d["detail"]["from"].as_str().and_then(FaultClass::parse) {
                out.push(fault_alert(&fault_alert_of(from, Some(at)), now));
            }
            out
        }
        (NoticeKind::FaultResolved, Some(_), Some(c)) => {
            vec![fault_alert(&fault_alert_of(c, Some(at)), now)]
        }
        // Path evidence is for the people reading the fault's messages:
        // as an alert of its own it would keep the fault's group firing.
        (NoticeKind::PathEvidence, _, _) => Vec::new(),
        _ => {
            let mut labels = json!({
                "alertname": format!("Linkledger{}", camel(o.kind)),
                "line": d["line"].as_str().unwrap_or(match o.kind {
                    NoticeKind::DaemonGap | NoticeKind::MonitorFailover | NoticeKind::Test => "daemon",
                    _ => linkledger_core::EGRESS,
                }),
                "severity": if o.message.urgent { "critical" } else { "warning" },
                "notice": o.key,
            });
            if let Some(f) = fault {
                labels["fault_id"] = json!(f.to_string());
            }
            if let Some(c) = class {
                labels["class"] = json!(c.as_str());
            }
            if let Some(c) = d["carrier"].as_str() {
                labels["carrier"] = json!(c);
            }
            vec![json!({
                "labels": labels,
                "annotations": { "summary": o.message.subject, "description": o.message.lines.join("\n") },
                "startsAt": ledger_ts(at),
                "endsAt": ledger_ts(at + TimeDelta::hours(1)),
            })]
        }
    }
}

/// Posts alerts; Ok is Alertmanager's answer.
pub async fn post(
    client: &reqwest::Client,
    base: &str,
    alerts: &[Value],
) -> Result<String, Failure> {
    let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
    let resp = client
        .post(&url)
        .json(alerts)
        .send()
        .await
        .map_err(super::request_failure)?;
    let status = resp.status();
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let answer = format!("HTTP {} {}", status.as_u16(), text.trim());
    match status.as_u16() {
        200..=299 => Ok(answer),
        401 | 403 | 404 => Err(Failure::new("http_auth", FailureKind::Channel, answer)),
        408 | 429 | 500..=599 => Err(Failure::new("http_5xx", FailureKind::Transient, answer)),
        _ => Err(Failure::new("http_4xx", FailureKind::Message, answer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_become_alert_names() {
        assert_eq!(camel(NoticeKind::DeadlineBreached), "DeadlineBreached");
        assert_eq!(
            camel(NoticeKind::RepairReportOverdue),
            "RepairReportOverdue"
        );
    }

    #[test]
    fn an_open_fault_fires_for_ten_minutes_and_a_resolved_one_ends_when_it_did() {
        let now = linkledger_ledger::clock::wall_now();
        let mut a = FaultAlert {
            fault: 7,
            line: Some("ct".into()),
            carrier: Some("China Telecom".into()),
            class: FaultClass::Serious,
            summary: "s".into(),
            starts: now - TimeDelta::minutes(3),
            ends: None,
        };
        let v = fault_alert(&a, now);
        assert_eq!(v["labels"]["fault_id"], "7");
        assert_eq!(v["labels"]["severity"], "critical");
        assert_eq!(v["endsAt"], ledger_ts(now + FIRING_FOR));
        a.ends = Some(now - TimeDelta::minutes(1));
        assert_eq!(
            fault_alert(&a, now)["endsAt"],
            ledger_ts(now - TimeDelta::minutes(1))
        );
    }
}
