//! The contract engine on a real SQLite file and on a real PostgreSQL
//! database (each test runs on both), with synthetic timestamps:
//! faults opened, escalated and resolved by the ledger writer; deadlines
//! met and breached; operator actions accepted or refused (and only the
//! accepted ones in the audit log); exclusions and maintenance in the
//! budget.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_core::fault::deadline::DeadlineState::{self, *};
use linkledger_core::fault::FaultClass;
use linkledger_ledger::operator::{self, Action, ActionError, Actor, FaultStep, Step};
use linkledger_ledger::records::{self, FaultFilter, FaultView};
use linkledger_ledger::write::{run_writer, LedgerWrite, WriterStatus};
use linkledger_ledger::Ledger;
use linkledger_ledger::{self as ledger, budget, run};

mod common;
use common::postgres::{Backend, TestLedger};

fn t(s: &str) -> DateTime<Utc> {
    format!("2026-01-01T{s}:00Z").parse().unwrap()
}

fn config(dir: &Path, l: &TestLedger, extra_contract: &str) -> Config {
    let text = config_text(l, extra_contract);
    std::fs::write(dir.join("linkledger.toml"), &text).unwrap();
    Config::parse(&dir.join("linkledger.toml"), &text).unwrap()
}

/// The demo config; unless `extra_contract` sets the classes, one line
/// down is read as serious here (the carrier's reading), so that a
/// degradation escalates when its line goes down and again when the
/// whole egress does.
fn config_text(l: &TestLedger, extra_contract: &str) -> String {
    let classes = if extra_contract.contains("classes") {
        ""
    } else {
        "classes = { line_down = \"serious\" }\n"
    };
    let extra_contract = format!("{classes}{extra_contract}");
    std::fs::read_to_string("config/demo.toml")
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {:?}", l.database),
        )
        .replace(
            "annual_downtime_cap = \"4h\"",
            &format!("annual_downtime_cap = \"4h\"\n{extra_contract}"),
        )
}

/// A ledger with a run begun at 00:00 and its writer running.
async fn writing(
    c: &Config,
) -> (
    Ledger,
    tokio::sync::mpsc::UnboundedSender<LedgerWrite>,
    tokio::task::JoinHandle<()>,
) {
    let pool = ledger::connect(&c.daemon).await.unwrap();
    let start = run::begin(&pool, t("00:00"), "test.toml", 1000, &c.lines)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(run_writer(
        pool.clone(),
        linkledger_ledger::write::WriterRun {
            run_id: start.run_id,
            clock: linkledger_ledger::clock::RunClock::start(),
            interval_ms: 1000,
        },
        c.fault_rules(),
        rx,
        Arc::new(WriterStatus::default()),
        Duration::from_secs(5),
        None,
    ));
    (pool, tx, writer)
}

/// A ledger whose run began at 00:00 and wrote `writes`, then stopped at 23:00.
async fn ledger_with(c: &Config, writes: Vec<LedgerWrite>) -> Ledger {
    let (pool, tx, writer) = writing(c).await;
    for w in writes {
        tx.send(w).unwrap();
    }
    tx.send(LedgerWrite::Stopped { at: t("23:00") }).unwrap();
    drop(tx);
    writer.await.unwrap();
    pool
}

fn opened(line: &str, at: &str) -> LedgerWrite {
    LedgerWrite::OutageOpened {
        line: line.into(),
        start: t(at),
        start_after: Some(t(at) - TimeDelta::seconds(1)),
        cause: "upstream_unreachable",
    }
}

fn closed(line: &str, at: &str) -> LedgerWrite {
    LedgerWrite::OutageClosed {
        line: line.into(),
        end: t(at),
        end_after: t(at) - TimeDelta::seconds(1),
    }
}

async fn all_faults(pool: &Ledger, c: &Config, now: &str) -> Vec<FaultView> {
    records::faults(pool, &FaultFilter::default(), &c.contract.terms, t(now))
        .await
        .unwrap()
}

fn states(f: &FaultView) -> [DeadlineState; 4] {
    f.deadlines.map(|d| d.state)
}

async fn a_degradation_becomes_an_outage_then_the_whole_egress_goes_down(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let c = config(dir.path(), &l, "");
    let pool = ledger_with(
        &c,
        vec![
            LedgerWrite::DegradationStarted {
                line: "telecom".into(),
                kind: "loss",
                start: t("01:00"),
                detail: "loss 7.0 % over 5 min".into(),
            },
            opened("telecom", "01:10"),
            opened("unicom", "01:20"),
            closed("unicom", "01:40"),
            LedgerWrite::DegradationEnded {
                line: "telecom".into(),
                kind: "loss",
                end: t("01:45"),
            },
            closed("telecom", "02:00"),
        ],
    )
    .await;
    let faults = all_faults(&pool, &c, "12:00").await;
    assert_eq!(faults.len(), 3, "{faults:#?}");
    let telecom = &faults[0];
    assert_eq!(telecom.line.as_deref(), Some("telecom"));
    assert_eq!(telecom.opened_class, FaultClass::General);
    assert_eq!(telecom.class, FaultClass::Major);
    let escalations: Vec<_> = telecom
        .timeline
        .iter()
        .filter(|e| e.kind == "escalated")
        .map(|e| (e.at, e.class.clone().unwrap()))
        .collect();
    assert_eq!(
        escalations,
        [(t("01:10"), "serious".into()), (t("01:20"), "major".into())],
        "general → serious (outage) → major (whole egress), each at its time"
    );
    assert_eq!(
        telecom.resolved_at,
        Some(t("02:00")),
        "the later of its outage and degradation"
    );
    assert_eq!((telecom.outages.len(), telecom.degradations.len()), (1, 1));

    let (unicom, egress) = (&faults[1], &faults[2]);
    assert_eq!(unicom.opened_class, FaultClass::Serious);
    assert_eq!(unicom.class, FaultClass::Major);
    assert_eq!(unicom.resolved_at, Some(t("01:40")));
    assert_eq!(egress.line, None);
    assert_eq!(egress.class, FaultClass::Major);
    assert_eq!(
        egress.detected_at,
        t("01:20"),
        "when the last line went down"
    );
    assert_eq!(
        egress.resolved_at,
        Some(t("01:40")),
        "when the first line came back"
    );
    assert_eq!(egress.outages.len(), 2);

    // Nobody acknowledged, went on site or sent a report by 12:00:
    // telecom's fault was opened general (30 min from 01:00); its
    // escalations at 01:10 and 01:20 could not extend that running
    // deadline, so resolving it at 02:00 breached it. The egress's lasted
    // 20 minutes: over before a response or anyone on site was due.
    assert_eq!(states(telecom), [Breached, Breached, Breached, Breached]);
    assert_eq!(telecom.deadlines[2].due, Some(t("01:30")));
    assert_eq!(states(egress), [NotRequired, NotRequired, Met, Breached]);
    let repair_due = egress.deadlines[3].due.unwrap();
    assert_eq!(repair_due, t("09:40"), "8 h after resolution");
    let f = all_faults(&pool, &c, "09:39").await;
    assert_eq!(states(&f[2])[3], Pending);

    // The alerts the writer queued with each change, in order.
    let notices: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT key, at, class FROM notices ORDER BY id")
            .fetch_all(&l.raw().await)
            .await
            .unwrap();
    let keys: Vec<&str> = notices.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(
        keys,
        [
            "fault:1:opened",
            "fault:1:escalated:serious:2026-01-01T01:10:00.000Z",
            "fault:2:opened",
            "fault:3:opened",
            "fault:1:escalated:major:2026-01-01T01:20:00.000Z",
            "fault:2:escalated:major:2026-01-01T01:20:00.000Z",
            "fault:2:resolved",
            "fault:3:resolved",
            "fault:1:resolved",
        ]
    );
    assert_eq!(notices[3].1, "2026-01-01T01:20:00.000Z");
    assert_eq!(notices[3].2.as_deref(), Some("major"));
    assert_eq!(notices[8].2.as_deref(), Some("major"), "resolved as major");
    // Breaches queue their alerts once, however often they are checked;
    // a deadline within the lead queues its approach once.
    let f = all_faults(&pool, &c, "12:00").await;
    for _ in 0..2 {
        ledger::faults::record_breaches(&pool, &f, t("12:00"))
            .await
            .unwrap();
    }
    let early = all_faults(&pool, &c, "09:35").await;
    for _ in 0..2 {
        ledger::faults::record_approaching(&pool, &early, t("09:35"), TimeDelta::minutes(10))
            .await
            .unwrap();
    }
    let more: Vec<(String, String)> =
        sqlx::query_as("SELECT key, kind FROM notices WHERE id > 9 ORDER BY id")
            .fetch_all(&l.raw().await)
            .await
            .unwrap();
    let more: Vec<(&str, &str)> = more.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        more,
        [
            ("fault:1:breached:response", "deadline_breached"),
            ("fault:1:breached:on_site", "deadline_breached"),
            ("fault:1:breached:resolution", "deadline_breached"),
            ("fault:1:breached:repair_report", "repair_report_overdue"),
            ("fault:2:breached:repair_report", "repair_report_overdue"),
            ("fault:3:breached:repair_report", "repair_report_overdue"),
            (
                "fault:2:approaching:repair_report:2026-01-01T09:40:00.000Z",
                "deadline_approaching",
            ),
            (
                "fault:3:approaching:repair_report:2026-01-01T09:40:00.000Z",
                "deadline_approaching",
            ),
        ]
    );
}

/// A fault an operator reclassified down and the writer escalates again
/// alerts again: each escalation is its own notice.
async fn an_escalation_after_a_reclassification_down_alerts_again(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let c = config(dir.path(), &l, "");
    let (pool, tx, writer) = writing(&c).await;
    tx.send(LedgerWrite::DegradationStarted {
        line: "telecom".into(),
        kind: "loss",
        start: t("01:00"),
        detail: "loss 7.0 % over 5 min".into(),
    })
    .unwrap();
    tx.send(opened("telecom", "01:10")).unwrap();
    tx.send(closed("telecom", "01:15")).unwrap();
    for _ in 0..100 {
        let have: i64 = sqlx::query_scalar("SELECT count(*) FROM notices")
            .fetch_one(&l.raw().await)
            .await
            .unwrap();
        if have >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The operator lowers it while it is still degraded ...
    let actor = Actor {
        via: "cli:test".into(),
    };
    operator::apply(
        &pool,
        &c,
        &actor,
        Action::Reclassify {
            id: 1,
            body: operator::Reclassify {
                by: "Li Na".into(),
                class: FaultClass::General,
                reason: "one anchor only".into(),
                correction: None,
            },
        },
        t("01:20"),
    )
    .await
    .unwrap();
    // ... and a new outage escalates it to serious again.
    tx.send(opened("telecom", "01:30")).unwrap();
    tx.send(LedgerWrite::Stopped { at: t("02:00") }).unwrap();
    drop(tx);
    writer.await.unwrap();
    let kinds: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, class FROM notices WHERE fault_id = 1 ORDER BY id")
            .fetch_all(&l.raw().await)
            .await
            .unwrap();
    let kinds: Vec<(&str, &str)> = kinds
        .iter()
        .map(|(k, c)| (k.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("fault_opened", "general"),
            ("fault_escalated", "serious"),
            ("fault_reclassified", "general"),
            ("fault_escalated", "serious"),
        ]
    );
}

async fn deadlines_met_and_breached_by_what_people_record(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let c = config(dir.path(), &l, "");
    let pool = ledger_with(
        &c,
        vec![
            opened("telecom", "01:00"),
            closed("telecom", "02:30"),
            opened("unicom", "05:00"),
        ],
    )
    .await;
    let actor = Actor {
        via: "cli:test".into(),
    };
    let step = |id, step, at: &str, reference: Option<&str>| Action::Fault {
        id,
        step,
        body: FaultStep {
            by: "Zhang Wei".into(),
            at: Some(t(at)),
            note: None,
            reference: reference.map(Into::into),
            via: None,
        },
    };
    let now = t("12:00");
    let apply = |a| operator::apply(&pool, &c, &actor, a, now);
    // Fault 1 (telecom, serious): acknowledged in time, on site late,
    // resolved after 90 min (within 120), report within 8 h.
    apply(step(1, Step::Acknowledged, "01:20", None))
        .await
        .unwrap();
    apply(step(1, Step::OnSite, "01:45", None)).await.unwrap();
    apply(step(1, Step::CarrierTicket, "01:05", Some("CT-2026-0001")))
        .await
        .unwrap();
    let done = apply(step(1, Step::RepairReport, "09:00", Some("RR-17")))
        .await
        .unwrap();
    let operator::Outcome::Fault(f) = done else {
        panic!("a fault view")
    };
    assert_eq!(states(&f), [Met, Breached, Met, Met]);
    assert_eq!(f.carrier_ticket.as_deref(), Some("CT-2026-0001"));

    // Refused, each with a message, and nothing written for any of them.
    let refusals = [
        (
            step(1, Step::Acknowledged, "01:25", None),
            "already acknowledged",
        ),
        (
            step(1, Step::RepairReport, "10:00", None),
            "already given its repair report",
        ),
        (step(2, Step::RepairReport, "06:00", None), "still open"),
        (
            step(2, Step::Acknowledged, "04:00", None),
            "before the fault was detected",
        ),
        (step(99, Step::Note, "04:00", None), "no fault 99"),
    ];
    for (action, expected) in refusals {
        let e = apply(action).await.unwrap_err();
        assert!(e.to_string().contains(expected), "{e} (want {expected:?})");
    }
    let e = apply(step(1, Step::OnSite, "01:50", None))
        .await
        .unwrap_err();
    assert!(matches!(e, ActionError::Conflict(_)), "{e}");
    // On site after resolution is not possible; acknowledging a resolved
    // fault with a time before resolution is (recorded late).
    let e = apply(step(2, Step::OnSite, "13:00", None))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("in the future"), "{e}");

    // Reclassification by a manager: down to general, with a reason.
    apply(Action::Reclassify {
        id: 1,
        body: operator::Reclassify {
            by: "Li Na".into(),
            class: FaultClass::General,
            reason: "carrier evidence: only one anchor affected".into(),
            correction: None,
        },
    })
    .await
    .unwrap();
    let f = records::fault(&pool, 1, &c.contract.terms, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.class, FaultClass::General);
    assert_eq!(
        states(&f)[2],
        Met,
        "reclassified after it was resolved: judged by the class it had while its deadline ran (serious, 120 min)"
    );

    // Fault 2 is still open at 12:00, 7 h after detection: all breached
    // but the repair report, which waits for resolution.
    let f2 = records::fault(&pool, 2, &c.contract.terms, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(states(&f2), [Breached, Breached, Breached, Pending]);

    let audit = records::audit_log(&pool).await.unwrap();
    let actions: Vec<_> = audit
        .iter()
        .map(|a| (a.action.as_str(), a.subject.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("acknowledged", "fault/1"),
            ("on_site", "fault/1"),
            ("carrier_ticket", "fault/1"),
            ("repair_report", "fault/1"),
            ("reclassify", "fault/1"),
        ],
        "exactly the accepted actions"
    );
    assert!(audit.iter().all(|a| a.via == "cli:test"));
    assert_eq!(
        audit[4].reason.as_deref(),
        Some("carrier evidence: only one anchor affected")
    );
}

async fn maintenance(pool: &Ledger, c: &Config, from: &str, to: &str, notice: DateTime<Utc>) {
    let actor = Actor {
        via: "cli:test".into(),
    };
    operator::apply(
        pool,
        c,
        &actor,
        Action::Maintenance(operator::NewMaintenance {
            by: "Li Na".into(),
            line: "telecom".into(),
            start: t(from),
            end: t(to),
            notice_at: notice,
            consented: true,
            consented_by: None,
            consented_at: None,
            reference: "CT-MAINT-9".into(),
        }),
        // Recorded when the notice came, before the window began.
        notice,
    )
    .await
    .unwrap();
}

async fn late_notice_maintenance_counts_as_an_outage(b: Backend) {
    for counts in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let Some(l) = TestLedger::new(b, dir.path()) else {
            return;
        };
        let c = config(
            dir.path(),
            &l,
            &format!("approved_maintenance_counts = {counts}"),
        );
        let pool = ledger_with(
            &c,
            vec![opened("telecom", "10:00"), closed("telecom", "12:00")],
        )
        .await;
        // 10:00–11:00 announced two days ahead; 11:00–12:00 one hour ahead.
        maintenance(&pool, &c, "10:00", "11:00", t("10:00") - TimeDelta::days(2)).await;
        maintenance(&pool, &c, "11:00", "12:00", t("10:00")).await;
        let list = budget::maintenance(
            &pool,
            Some("telecom"),
            (t("00:00"), t("23:00")),
            c.contract.terms.maintenance_notice,
        )
        .await
        .unwrap();
        assert_eq!(
            list.iter().map(|m| m.status).collect::<Vec<_>>(),
            ["approved", "late_notice"]
        );
        let b = budget::budget(&pool, &c, t("23:30")).await.unwrap();
        let telecom = &b.lines[0];
        assert_eq!(telecom.down_s, 7200.0);
        if counts {
            assert_eq!(
                (telecom.charged_s, telecom.excluded_maintenance_s),
                (7200.0, 0.0),
                "the contract counts approved maintenance"
            );
        } else {
            assert_eq!(
                (telecom.charged_s, telecom.excluded_maintenance_s),
                (3600.0, 3600.0),
                "only the late one is charged"
            );
        }
        assert_eq!(telecom.remaining_s, 4.0 * 3600.0 - telecom.charged_s);
    }
}

async fn exclusions_remove_time_once_and_a_withdrawal_restores_it(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let c = config(dir.path(), &l, "");
    let pool = ledger_with(
        &c,
        vec![
            opened("telecom", "10:00"),
            opened("unicom", "10:30"),
            closed("unicom", "11:00"),
            closed("telecom", "12:00"),
        ],
    )
    .await;
    let actor = Actor {
        via: "api:manager".into(),
    };
    let exclude = |line: Option<&str>| {
        Action::Exclude(operator::NewExclusion {
            by: "Li Na".into(),
            line: line.map(Into::into),
            start: t("09:00"),
            end: t("10:45"),
            reason: "typhoon: fibre cut on the carrier's trunk".into(),
            evidence: "carrier notice 2026-001, photos".into(),
            approved_by: "District IT office".into(),
            approved_at: None,
        })
    };
    let now = t("23:30");
    let charged = |b: &budget::Budget| {
        (
            b.lines[0].charged_s,
            b.lines[1].charged_s,
            b.egress.charged_s,
        )
    };
    let before = budget::budget(&pool, &c, now).await.unwrap();
    assert_eq!(charged(&before), (7200.0, 1800.0, 1800.0));
    operator::apply(&pool, &c, &actor, exclude(Some("telecom")), now)
        .await
        .unwrap();
    operator::apply(&pool, &c, &actor, exclude(Some("telecom")), now)
        .await
        .unwrap();
    let once = budget::budget(&pool, &c, now).await.unwrap();
    assert_eq!(
        charged(&once),
        (7200.0 - 2700.0, 1800.0, 900.0),
        "the same exclusion twice counts once"
    );
    assert_eq!(once.lines[0].excluded_force_majeure_s, 2700.0);
    assert_eq!(
        once.lines[0].down_s, 7200.0,
        "the outage itself is unchanged"
    );

    for id in [1, 2] {
        operator::apply(
            &pool,
            &c,
            &actor,
            Action::Withdraw {
                record: operator::Withdrawable::Exclusion,
                id,
                body: operator::Withdraw {
                    by: "Li Na".into(),
                    reason: "entered twice by mistake".into(),
                },
            },
            now,
        )
        .await
        .unwrap();
    }
    let e = operator::apply(
        &pool,
        &c,
        &actor,
        Action::Withdraw {
            record: operator::Withdrawable::Exclusion,
            id: 1,
            body: operator::Withdraw {
                by: "x".into(),
                reason: "again".into(),
            },
        },
        now,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ActionError::Conflict(_)), "{e}");
    assert_eq!(
        charged(&budget::budget(&pool, &c, now).await.unwrap()),
        (7200.0, 1800.0, 1800.0)
    );
    let list = records::exclusions(&pool).await.unwrap();
    assert_eq!(list.len(), 2, "withdrawn exclusions stay in the ledger");
    assert!(list.iter().all(|e| e.withdrawn.is_some()));

    // An egress-wide exclusion applies to every line.
    operator::apply(&pool, &c, &actor, exclude(None), now)
        .await
        .unwrap();
    assert_eq!(
        charged(&budget::budget(&pool, &c, now).await.unwrap()),
        (4500.0, 1800.0 - 900.0, 900.0)
    );

    // A range that ends before it starts is refused, nothing written.
    let mut bad = operator::NewExclusion {
        by: "Li Na".into(),
        line: Some("telecom".into()),
        start: t("11:00"),
        end: t("10:00"),
        reason: "x".into(),
        evidence: "y".into(),
        approved_by: "z".into(),
        approved_at: None,
    };
    let e = operator::apply(&pool, &c, &actor, Action::Exclude(bad.clone()), now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ends"), "{e}");
    bad.end = t("12:00");
    bad.line = Some("mobile".into());
    let e = operator::apply(&pool, &c, &actor, Action::Exclude(bad), now)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("line \"mobile\" is not configured"),
        "{e}"
    );
    assert_eq!(records::exclusions(&pool).await.unwrap().len(), 3);
    assert_eq!(records::audit_log(&pool).await.unwrap().len(), 5);
}

async fn operator_actions_succeed_while_the_daemon_writes(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let c = config(dir.path(), &l, "");
    let pool = ledger_with(&c, vec![opened("telecom", "01:00")]).await;
    // The daemon's side: another connection committing as fast as it can.
    let busy = l.raw().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = tokio::spawn(async move {
        let mut n = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let mut tx = busy.begin().await.unwrap();
            sqlx::query("UPDATE runs SET heartbeat_at = heartbeat_at WHERE id = 1")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            n += 1;
        }
        n
    });
    // The CLI's side: its own pool, as another process would have.
    let cli = ledger::connect_existing(&c.daemon).await.unwrap();
    let actor = Actor {
        via: "cli:test".into(),
    };
    for i in 0..100 {
        let note = Action::Fault {
            id: 1,
            step: Step::Note,
            body: FaultStep {
                by: "Zhang Wei".into(),
                at: Some(t("02:00")),
                note: Some(format!("call {i}")),
                reference: None,
                via: None,
            },
        };
        operator::apply(&cli, &c, &actor, note, t("03:00"))
            .await
            .unwrap_or_else(|e| panic!("note {i} refused while the daemon writes: {e}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.await.unwrap() > 0);
    assert_eq!(records::audit_log(&pool).await.unwrap().len(), 100);
}

/// Runs the CLI; returns the exit code, stdout and stderr.
fn cli(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linkledger"))
        .args(args)
        .arg("-c")
        .arg(dir.join("linkledger.toml"))
        .env("USER", "li.na")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_cli_records_and_refuses_like_the_api(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let c = config(dir.path(), &l, "");
    let pool = ledger_with(
        &c,
        vec![opened("telecom", "10:00"), closed("telecom", "11:00")],
    )
    .await;
    pool.close().await;
    let d = dir.path();
    let (code, out, err) = cli(
        d,
        &[
            "fault",
            "ack",
            "1",
            "--by",
            "Zhang Wei",
            "--at",
            "2026-01-01T10:10:00Z",
            "--note",
            "by phone",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let fault: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(fault["deadlines"][0]["state"], "met");
    // Refused: exit 2 and the reason; nothing written.
    let (code, _, err) = cli(
        d,
        &[
            "fault",
            "repair-report",
            "1",
            "--by",
            "Zhang Wei",
            "--at",
            "2026-01-01T10:30:00Z",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("refused: a repair report at 2026-01-01T10:30:00.000Z would precede the fault's resolution"), "{err}");
    let (code, _, err) = cli(
        d,
        &[
            "fault",
            "reclassify",
            "1",
            "--by",
            "x",
            "--class",
            "huge",
            "--reason",
            "r",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"huge\" is not a fault class"), "{err}");
    let (code, out, err) = cli(
        d,
        &[
            "exclude",
            "add",
            "--by",
            "Li Na",
            "--line",
            "telecom",
            "--from",
            "2026-01-01T10:00:00Z",
            "--to",
            "2026-01-01T10:20:00Z",
            "--reason",
            "typhoon",
            "--evidence",
            "notice 7",
            "--approved-by",
            "IT office",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"id\": 1"), "{out}");
    let (_, out, _) = cli(d, &["budget", "--json", "--year", "2"]);
    let b: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(b["lines"][0]["charged_s"], 2400.0);
    assert_eq!(b["lines"][0]["excluded_force_majeure_s"], 1200.0);
    let (code, _, err) = cli(
        d,
        &[
            "exclude",
            "withdraw",
            "1",
            "--by",
            "Li Na",
            "--reason",
            "wrong line",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = cli(d, &["exclude", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["withdrawn"]["reason"], "wrong line");
    let (_, out, _) = cli(d, &["budget", "--json", "--year", "2"]);
    let b: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(b["lines"][0]["charged_s"], 3600.0);
    let (code, out, _) = cli(
        d,
        &[
            "drill",
            "add",
            "--by",
            "Zhang Wei",
            "--held-on",
            "2026-01-01",
            "--scenario",
            "line cut",
            "--participant",
            "Zhang Wei",
            "--participant",
            "Wang Fang",
            "--result",
            "failover in 40 s",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = cli(d, &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["via"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            ("acknowledged", "cli:li.na"),
            ("exclude", "cli:li.na"),
            ("withdraw", "cli:li.na"),
            ("drill", "cli:li.na")
        ]
    );
    let (code, out, _) = cli(d, &["fault", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("serious 严重") && out.contains("response met"),
        "{out}"
    );
}

crate::on_both_backends!(
    a_degradation_becomes_an_outage_then_the_whole_egress_goes_down,
    an_escalation_after_a_reclassification_down_alerts_again,
    deadlines_met_and_breached_by_what_people_record,
    exclusions_remove_time_once_and_a_withdrawal_restores_it,
    operator_actions_succeed_while_the_daemon_writes,
    the_cli_records_and_refuses_like_the_api,
    late_notice_maintenance_counts_as_an_outage,
);
