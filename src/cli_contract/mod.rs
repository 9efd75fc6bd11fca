//! The contract commands: faults and their timelines, exclusions,
//! maintenance windows, drills, the budget and the audit log. They act on
//! the ledger directly (beside a running daemon, or where the API is off)
//! through the same checks as the API; a refused action exits with 2.

mod args;
pub use args::*;

use anyhow::Context;
use chrono::{DateTime, Utc};

use linkledger_config::Config;
use linkledger_core::contract::ContractYear;
use linkledger_ledger::operator::{
    self, Action, ActionError, Actor, FaultStep, Step, Withdrawable,
};
use linkledger_ledger::records::{self, FaultFilter};
use linkledger_ledger::{self as ledger, budget};

/// An action refused by its checks (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(String);

fn actor() -> Actor {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    Actor {
        via: format!("cli:{user}"),
    }
}

async fn act(c: &Config, action: Action) -> anyhow::Result<()> {
    let db = ledger::connect_existing(&c.daemon).await?;
    let outcome = operator::apply(
        &db,
        c,
        &actor(),
        action,
        linkledger_ledger::clock::wall_now(),
    )
    .await
    .map_err(|e| match e {
        ActionError::Ledger(e) => anyhow::Error::new(e),
        other => Refused(other.to_string()).into(),
    })?;
    say!("{}", serde_json::to_string_pretty(&outcome)?);
    Ok(())
}

fn step(s: StepArgs, kind: Step, reference: Option<String>) -> Action {
    let body = FaultStep {
        by: s.by.by,
        at: s.at,
        note: s.note,
        reference,
        via: None,
    };
    Action::Fault {
        id: s.id,
        step: kind,
        body,
    }
}

pub async fn fault(c: &Config, cmd: FaultCmd) -> anyhow::Result<()> {
    let action = match cmd {
        FaultCmd::List {
            line,
            class,
            open,
            resolved,
            json,
            ..
        } => return list_faults(c, line, class, open, resolved, json).await,
        FaultCmd::Show { id, json, .. } => return show_fault(c, id, json).await,
        FaultCmd::Ack(s) => step(s, Step::Acknowledged, None),
        FaultCmd::OnSite(s) => step(s, Step::OnSite, None),
        FaultCmd::RepairReport { step: s, reference } => step(s, Step::RepairReport, reference),
        FaultCmd::Ticket { step: s, ticket } => step(s, Step::CarrierTicket, Some(ticket)),
        FaultCmd::Note(s) => step(s, Step::Note, None),
        FaultCmd::Report { step: s, via } => {
            let mut a = step(s, Step::Reported, None);
            if let Action::Fault { body, .. } = &mut a {
                body.via = Some(via);
            }
            a
        }
        FaultCmd::Reclassify {
            id,
            by,
            class,
            reason,
            correction,
            ..
        } => Action::Reclassify {
            id,
            body: operator::Reclassify {
                by: by.by,
                class,
                reason,
                correction,
            },
        },
    };
    act(c, action).await
}

/// `fault list`: the faults as a table, or JSON.
async fn list_faults(
    c: &Config,
    line: Option<String>,
    class: Option<linkledger_core::fault::FaultClass>,
    open: bool,
    resolved: bool,
    json: bool,
) -> anyhow::Result<()> {
    let filter = FaultFilter {
        line,
        class,
        open: (open || resolved).then_some(open),
        since: None,
    };
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let list = records::faults(
        &db,
        &filter,
        &c.contract.terms,
        linkledger_ledger::clock::wall_now(),
    )
    .await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    say!(
        "{:>5}  {:<10} {:<12}  {:<20} {:<20} deadlines",
        "id",
        "line",
        "class",
        "detected",
        "resolved"
    );
    for f in list {
        let tz = c.daemon.timezone;
        let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
        let deadlines: Vec<String> = f
            .deadlines
            .iter()
            .map(|d| format!("{} {}", d.kind.as_str(), d.state.as_str()))
            .collect();
        say!(
            "{:>5}  {:<10} {:<7} {}  {:<20} {:<20} {}",
            f.id,
            f.line.as_deref().unwrap_or(linkledger_core::EGRESS),
            f.class.as_str(),
            f.class.zh(),
            fmt(f.detected_at),
            f.resolved_at.map(fmt).unwrap_or_else(|| "(open)".into()),
            deadlines.join(", ")
        );
    }
    Ok(())
}

/// `fault show`: one fault's timeline and deadlines, or JSON.
async fn show_fault(c: &Config, id: i64, json: bool) -> anyhow::Result<()> {
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let f = records::fault(
        &db,
        id,
        &c.contract.terms,
        linkledger_ledger::clock::wall_now(),
    )
    .await?
    .ok_or_else(|| Refused(format!("no fault {id}")))?;
    if json {
        say!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    say!(
        "fault {} on {}: {} ({}), {}",
        f.id,
        f.line.as_deref().unwrap_or("the whole egress"),
        f.class,
        f.class.zh(),
        if f.open { "open" } else { "resolved" }
    );
    for e in &f.timeline {
        let row = format!(
            "  {}  {:<18} {}{}{}",
            e.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.class
                .as_deref()
                .or(e.deadline.as_deref())
                .map(|c| format!("{c} "))
                .unwrap_or_default(),
            e.text.as_deref().unwrap_or(""),
            e.actor
                .as_deref()
                .map(|a| format!(" (by {a})"))
                .unwrap_or_default(),
        );
        say!("{}", row.trim_end());
    }
    for d in &f.deadlines {
        say!(
            "  deadline {:<14} due {:<20} {}",
            d.kind.as_str(),
            d.due
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            d.state.as_str()
        );
    }
    Ok(())
}

pub async fn exclude(c: &Config, cmd: ExcludeCmd) -> anyhow::Result<()> {
    match cmd {
        ExcludeCmd::Add {
            by,
            line,
            from,
            to,
            reason,
            evidence,
            approved_by,
            approved_at,
            ..
        } => {
            act(
                c,
                Action::Exclude(operator::NewExclusion {
                    by: by.by,
                    line,
                    start: from,
                    end: to,
                    reason,
                    evidence,
                    approved_by,
                    approved_at,
                }),
            )
            .await
        }
        ExcludeCmd::Withdraw(w) => act(c, w.into_action(Withdrawable::Exclusion)).await,
        ExcludeCmd::List(ListArgs { json, .. }) => {
            let db = ledger::connect_for_reading(&c.daemon).await?;
            let list = records::exclusions(&db)
                .await
                .context("reading exclusions")?;
            if json {
                say!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in list {
                    say!(
                        "{:>4}  {:<10} {} .. {}  {}  approved by {}{}",
                        e.id,
                        e.line.as_deref().unwrap_or(linkledger_core::EGRESS),
                        e.start.to_rfc3339(),
                        e.end.to_rfc3339(),
                        e.reason,
                        e.approved_by,
                        e.withdrawn
                            .map(|w| format!("  WITHDRAWN by {}: {}", w.by, w.reason))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

pub async fn maintenance(c: &Config, cmd: MaintenanceCmd) -> anyhow::Result<()> {
    match cmd {
        MaintenanceCmd::Add {
            by,
            line,
            from,
            to,
            notice_at,
            consented,
            consented_by,
            consented_at,
            reference,
            ..
        } => {
            act(
                c,
                Action::Maintenance(operator::NewMaintenance {
                    by: by.by,
                    line,
                    start: from,
                    end: to,
                    notice_at,
                    consented,
                    consented_by,
                    consented_at,
                    reference,
                }),
            )
            .await
        }
        MaintenanceCmd::Withdraw(w) => act(c, w.into_action(Withdrawable::Maintenance)).await,
        MaintenanceCmd::Approve(w) => {
            act(
                c,
                Action::ApproveMaintenance {
                    id: w.id,
                    body: operator::ApproveLate {
                        by: w.by.by,
                        reason: w.reason,
                    },
                },
            )
            .await
        }
        MaintenanceCmd::List(ListArgs { json, .. }) => {
            let db = ledger::connect_for_reading(&c.daemon).await?;
            let all = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
            let list =
                budget::maintenance(&db, None, all, c.contract.terms.maintenance_notice).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for m in list {
                    let counts = if m.approved() && !c.contract.terms.approved_maintenance_counts {
                        "excluded"
                    } else {
                        "counts as downtime"
                    };
                    say!(
                        "{:>4}  {:<10} {} .. {}  notice {}  {}{}  ({counts})",
                        m.id,
                        m.line,
                        m.start.to_rfc3339(),
                        m.end.to_rfc3339(),
                        m.notice_at.to_rfc3339(),
                        m.status,
                        if m.withdrawn { " WITHDRAWN" } else { "" }
                    );
                }
            }
            Ok(())
        }
    }
}

pub async fn outage(c: &Config, cmd: OutageCmd) -> anyhow::Result<()> {
    match cmd {
        OutageCmd::Agree {
            by,
            line,
            from,
            to,
            evidence,
            approved_by,
            ..
        } => {
            act(
                c,
                Action::AgreeOutage(operator::AgreedOutage {
                    by: by.by,
                    line,
                    start: from,
                    end: to,
                    evidence,
                    approved_by,
                }),
            )
            .await
        }
        OutageCmd::List(ListArgs { json, .. }) => {
            let db = ledger::connect_for_reading(&c.daemon).await?;
            let list = linkledger_ledger::records::agreed_outages(&db, None).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for a in list {
                    say!(
                        "{:>4}  {:<10} {} .. {}  approved by {}  evidence: {}",
                        a.id,
                        a.line,
                        a.start.to_rfc3339(),
                        a.end.to_rfc3339(),
                        a.approved_by,
                        a.evidence
                    );
                }
            }
            Ok(())
        }
    }
}

pub async fn drill(c: &Config, cmd: DrillCmd) -> anyhow::Result<()> {
    match cmd {
        DrillCmd::Add {
            by,
            held_on,
            scenario,
            participants,
            result,
            ..
        } => {
            act(
                c,
                Action::Drill(operator::NewDrill {
                    by: by.by,
                    held_on,
                    scenario,
                    participants,
                    result,
                }),
            )
            .await
        }
        DrillCmd::List(ListArgs { json, .. }) => {
            let db = ledger::connect_for_reading(&c.daemon).await?;
            let list = records::drills(&db).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for d in list {
                    say!(
                        "{:>4}  {}  {}  ({})  {}",
                        d.id,
                        d.held_on,
                        d.scenario,
                        d.participants,
                        d.result
                    );
                }
            }
            Ok(())
        }
    }
}

pub async fn budget(c: &Config, year: Option<i64>, json: bool) -> anyhow::Result<()> {
    let (start, tz, now) = (
        c.contract.start,
        c.daemon.timezone,
        linkledger_ledger::clock::wall_now(),
    );
    let year = match year {
        Some(n) => ContractYear::numbered(n, start, tz)
            .map_err(|e| crate::usage::UsageError(format!("--contract-year: {e}")))?,
        None => ContractYear::containing(start, tz, now),
    };
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let b = budget::budget_of_year(&db, c, year, now).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&b)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    say!(
        "{}: contract year {} ({} to {}), cap {}",
        b.contract,
        b.contract_year,
        b.year_start.with_timezone(&tz).date_naive(),
        b.year_end.with_timezone(&tz).date_naive(),
        humantime::format_duration(c.contract.annual_downtime_cap)
    );
    say!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>6}  projected breach",
        "line",
        "charged",
        "excl. fm",
        "excl. mnt",
        "unobserved",
        "disputed",
        "left",
        "used"
    );
    for v in b.lines.iter().chain(std::iter::once(&b.egress)) {
        say!(
            "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>5.1}%  {}",
            v.line,
            span(v.charged_s),
            span(v.excluded_force_majeure_s),
            span(v.excluded_maintenance_s),
            span(v.unobserved_s),
            span(v.disputed_s),
            span(v.remaining_s),
            v.used_share * 100.0,
            match (v.projected_breach, v.breached) {
                (Some(t), true) => format!(
                    "BREACHED at {}",
                    t.with_timezone(&tz).format("%Y-%m-%d %H:%M")
                ),
                (Some(t), false) => format!(
                    "{} at {:.0} s/day",
                    t.with_timezone(&tz).date_naive(),
                    v.burn_rate_s_per_day
                ),
                (None, _) => "-".into(),
            }
        );
    }
    Ok(())
}

/// Seconds as a person reads them: "28s", "4m 05s", "3h 04m", "150d 13h".
fn span(secs: f64) -> String {
    let sign = if secs < 0.0 { "-" } else { "" };
    let s = secs.abs().round() as u64;
    let text = match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    };
    format!("{sign}{text}")
}

pub async fn audit(c: &Config, json: bool) -> anyhow::Result<()> {
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let list = records::audit_log(&db).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let tz = c.daemon.timezone;
    for a in list {
        say!(
            "{:>5}  {}  {:<14} {:<16} by {} via {}{}",
            a.id,
            a.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S"),
            a.action,
            a.subject,
            a.actor,
            a.via,
            a.reason.map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    Ok(())
}
