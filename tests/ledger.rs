//! The ledger on a real SQLite file: writes that the database refuses are
//! kept and written later; rows are never deleted or rewritten; charged
//! downtime leaves out unobserved time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use linkledger_config::Config;
use linkledger_config::Terms;
use linkledger_core::budget::{secs, total};
use linkledger_ledger::write::{run_writer, LedgerWrite, WriterStatus};
use linkledger_ledger::Ledger;
use linkledger_ledger::{self as ledger, budget, read, run};
use sqlx::any::AnyPoolOptions;
use tokio::sync::mpsc;

mod common;
use common::postgres::{Backend, TestLedger};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn demo_lines() -> Vec<linkledger_config::Line> {
    Config::load(std::path::Path::new("config/demo.toml"))
        .unwrap()
        .lines
}

async fn fresh(dir: &tempfile::TempDir) -> (Ledger, i64) {
    let l = TestLedger::new(Backend::Sqlite, dir.path()).unwrap();
    fresh_on(&l).await
}

/// A ledger on `l` with a run begun at 2026-01-01T00:00:00Z.
async fn fresh_on(l: &TestLedger) -> (Ledger, i64) {
    let pool = match l.backend {
        Backend::Sqlite => ledger::open(std::path::Path::new(&l.database))
            .await
            .unwrap(),
        Backend::Postgres => ledger::open_postgres(&l.database, None).await.unwrap(),
    };
    let start = run::begin(
        &pool,
        t("2026-01-01T00:00:00Z"),
        "test.toml",
        1000,
        &demo_lines(),
    )
    .await
    .unwrap();
    (pool, start.run_id)
}

#[tokio::test]
async fn writes_refused_by_a_read_only_database_are_written_once_it_accepts_them() {
    let dir = tempfile::tempdir().unwrap();
    let (pool, run_id) = fresh(&dir).await;
    pool.close().await;
    // One connection, so the test and the writer share its read-only
    // switch; one the writer closes after a failed write is opened again
    // read-only while the switch is on.
    let refusing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let opts = ledger::sqlite_options(&dir.path().join("ledger.db"), "rw").unwrap();
    let switch = refusing.clone();
    let pool = Ledger::over_pool(
        AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _| {
                let on = switch.load(std::sync::atomic::Ordering::SeqCst);
                Box::pin(async move {
                    if on {
                        sqlx::query("PRAGMA query_only = ON").execute(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .unwrap(),
    );

    let status = Arc::new(WriterStatus::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(run_writer(
        pool.clone(),
        linkledger_ledger::write::WriterRun {
            run_id,
            clock: linkledger_ledger::clock::RunClock::start(),
            interval_ms: 1000,
        },
        linkledger_ledger::faults::FaultRules {
            classes: Default::default(),
            lines: vec!["telecom".into()],
        },
        rx,
        status.clone(),
        Duration::from_secs(10),
        None,
    ));
    tx.send(LedgerWrite::OutageOpened {
        line: "telecom".into(),
        start: t("2026-01-01T01:00:00Z"),
        start_after: Some(t("2026-01-01T00:59:59Z")),
        cause: "upstream_unreachable",
    })
    .unwrap();
    tx.send(LedgerWrite::OutageClosed {
        line: "telecom".into(),
        end: t("2026-01-01T01:00:10Z"),
        end_after: t("2026-01-01T01:00:09Z"),
    })
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        status.failures.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "the refusal was noticed"
    );
    assert_eq!(
        status.pending.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "both writes still queued"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outages")
        .fetch_one(pool.raw_pool())
        .await
        .unwrap();
    assert_eq!(n, 0);

    refusing.store(false, std::sync::atomic::Ordering::SeqCst);
    sqlx::query("PRAGMA query_only = OFF")
        .execute(pool.raw_pool())
        .await
        .unwrap();
    drop(tx);
    tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .unwrap()
        .unwrap();
    let list = read::outages(
        &pool,
        None,
        None,
        t("2026-01-02T00:00:00Z"),
        &Terms::default(),
    )
    .await
    .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].duration_s, 10.0);
    assert_eq!(list[0].end, Some(t("2026-01-01T01:00:10Z")));
}

async fn ledger_rows_are_never_deleted_or_rewritten(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let (pool, run_id) = fresh_on(&l).await;
    sqlx::query("INSERT INTO outages (line, start_at, cause, interval_ms, run_opened) VALUES ('telecom', '2026-01-01T01:00:00.000Z', 'upstream_unreachable', 1000, $1)")
        .bind(run_id).execute(pool.raw_pool()).await.unwrap();
    // Closing an open outage is allowed, once.
    sqlx::query("UPDATE outages SET end_at = '2026-01-01T01:00:10.000Z', end_after = '2026-01-01T01:00:09.000Z'").execute(pool.raw_pool()).await.unwrap();
    let rewrite = sqlx::query("UPDATE outages SET end_at = '2026-01-01T01:00:05.000Z'")
        .execute(pool.raw_pool())
        .await
        .unwrap_err();
    assert!(rewrite.to_string().contains("never rewritten"), "{rewrite}");
    let delete = sqlx::query("DELETE FROM outages")
        .execute(pool.raw_pool())
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("never deleted"), "{delete}");
    sqlx::query("INSERT INTO gaps (line, start_at, end_at, reason, run_id) VALUES (NULL, '2026-01-01T02:00:00.000Z', '2026-01-01T02:00:05.000Z', 'daemon_not_running', $1)")
        .bind(run_id).execute(pool.raw_pool()).await.unwrap();
    let delete_gap = sqlx::query("DELETE FROM gaps")
        .execute(pool.raw_pool())
        .await
        .unwrap_err();
    assert!(
        delete_gap.to_string().contains("never deleted"),
        "{delete_gap}"
    );
    // Only one outage may be open per line.
    for _ in 0..2 {
        let _ = sqlx::query("INSERT INTO outages (line, start_at, cause, interval_ms, run_opened) VALUES ('unicom', '2026-01-02T00:00:00.000Z', 'upstream_unreachable', 1000, $1)")
            .bind(run_id).execute(pool.raw_pool()).await;
    }
    let open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outages WHERE line = 'unicom' AND end_at IS NULL")
            .fetch_one(pool.raw_pool())
            .await
            .unwrap();
    assert_eq!(open, 1);
}

async fn charged_downtime_leaves_out_unobserved_time_and_a_restart_records_the_gap(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = TestLedger::new(b, dir.path()) else {
        return;
    };
    let (pool, _) = fresh_on(&l).await;
    // First run seen alive until 01:00:05, during an outage opened at 01:00:00.
    sqlx::query("UPDATE runs SET heartbeat_at = '2026-01-01T01:00:05.000Z'")
        .execute(pool.raw_pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO outages (line, start_at, start_after, cause, interval_ms, run_opened) VALUES ('telecom', '2026-01-01T01:00:00.000Z', '2026-01-01T00:59:59.000Z', 'upstream_unreachable', 1000, 1)")
        .execute(pool.raw_pool()).await.unwrap();
    // The daemon comes back at 01:00:15: the gap is recorded, the outage resumed.
    let second = run::begin(
        &pool,
        t("2026-01-01T01:00:15Z"),
        "test.toml",
        1000,
        &demo_lines(),
    )
    .await
    .unwrap();
    assert_eq!(second.previous_heartbeat, Some(t("2026-01-01T01:00:05Z")));
    assert_eq!(
        second.open_outages,
        vec![("telecom".to_string(), t("2026-01-01T01:00:00Z"))]
    );
    let gaps = read::gaps(&pool).await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(
        (gaps[0].duration_s, gaps[0].reason.as_str()),
        (10.0, "daemon_not_running")
    );
    // While the second run is away (killed at 01:00:17 with the outage open),
    // the open outage is not charged beyond what was seen.
    sqlx::query("UPDATE runs SET heartbeat_at = '2026-01-01T01:00:17.000Z' WHERE id = $1")
        .bind(second.run_id)
        .execute(pool.raw_pool())
        .await
        .unwrap();
    let open = &read::outages(
        &pool,
        Some("telecom"),
        None,
        t("2026-01-01T02:00:00Z"),
        &Terms::default(),
    )
    .await
    .unwrap()[0];
    assert_eq!(open.end, None);
    assert_eq!(
        (open.duration_s, open.charged_s),
        (3600.0, 7.0),
        "01:00:00-01:00:05 and 01:00:15-01:00:17"
    );
    // The run did in fact see it end at 01:00:20 and stopped cleanly later.
    sqlx::query("UPDATE runs SET heartbeat_at = '2026-01-01T01:00:30.000Z', stopped_at = '2026-01-01T01:00:30.000Z' WHERE id = $1")
        .bind(second.run_id).execute(pool.raw_pool()).await.unwrap();
    sqlx::query("UPDATE outages SET end_at = '2026-01-01T01:00:20.000Z', end_after = '2026-01-01T01:00:19.000Z'").execute(pool.raw_pool()).await.unwrap();

    let o = &read::outages(
        &pool,
        Some("telecom"),
        None,
        t("2026-01-02T00:00:00Z"),
        &Terms::default(),
    )
    .await
    .unwrap()[0];
    assert_eq!(
        (o.duration_s, o.unobserved_s, o.charged_s),
        (20.0, 10.0, 10.0)
    );
    // --since keeps outages still going at or after the date.
    let terms = Terms::default();
    let since =
        |at: &str| read::outages(&pool, None, Some(t(at)), t("2026-01-02T00:00:00Z"), &terms);
    assert_eq!(since("2026-01-01T01:00:20Z").await.unwrap().len(), 1);
    assert_eq!(since("2026-01-01T01:00:21Z").await.unwrap().len(), 0);
    // Over a period that cuts the outage in half, only the part inside counts.
    let figures = |from: &str, to: &str| {
        let pool = pool.clone();
        let period = (t(from), t(to));
        async move {
            let d = budget::line_downtime(&pool, "telecom", period, &Terms::default())
                .await
                .unwrap();
            (secs(total(&d.charged)), secs(total(&d.unobserved)))
        }
    };
    let (charged, unobserved) = figures("2026-01-01T01:00:10Z", "2026-01-01T02:00:00Z").await;
    assert_eq!(charged, 5.0, "01:00:15-01:00:20 observed down");
    assert_eq!(
        unobserved,
        5.0 + 3570.0,
        "01:00:10-01:00:15 of the gap, and after the clean stop at 01:00:30"
    );
    // Before the line was first configured, time is unobserved, not up.
    let (_, before) = figures("2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z").await;
    assert_eq!(before, TimeDelta::days(1).num_seconds() as f64);
}

/// Every table of record refuses a delete and a rewrite: a row with every
/// column filled (a closed outage, a resolved fault) cannot be changed at
/// all, and no row can be deleted. The tables that change by design are
/// named here with what may change; a new table without its triggers fails
/// this test.
#[tokio::test]
async fn every_table_of_record_refuses_deletes_and_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let (pool, _) = fresh(&dir).await;
    let mut conn = pool.raw_pool().acquire().await.unwrap();
    // The rows are made to reach the triggers, not to be valid records.
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut *conn)
        .await
        .unwrap();
    // Tables whose rows change by design, with a change that is refused.
    let guarded_updates: &[(&str, &str)] = &[
        ("runs", "started_at = '2020-01-01T00:00:00.000Z'"),
        ("probe_minutes", "sent = sent - 1"),
        ("block_judged", "line = 'other'"),
    ];
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(tables.len() >= 30, "{tables:?}");
    let mut unguarded = Vec::new();
    for table in &tables {
        let columns: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT name, type FROM pragma_table_info('{table}')"
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let values: Vec<String> = columns
            .iter()
            .map(|(_, ty)| match ty.to_ascii_uppercase().as_str() {
                t if t.contains("INT") => "7".to_string(),
                t if t.contains("REAL") => "7.5".to_string(),
                _ => "'2026-01-01T00:00:07.000Z'".to_string(),
            })
            .collect();
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        // The chain's sequence number is its row id: one the triggers have
        // not taken yet.
        let mut values = values;
        if table == "ledger_chain" {
            values[0] = "NULL".into();
        }
        sqlx::query(&format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            values.join(", ")
        ))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("a row for {table}: {e}"));
        let count = format!("SELECT count(*) FROM {table}");
        let before: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let deleted = sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await;
        let update = match guarded_updates.iter().find(|(t, _)| t == table) {
            Some((_, set)) => set.to_string(),
            None => format!("{0} = {0}", names[names.len() - 1]),
        };
        let updated = sqlx::query(&format!("UPDATE {table} SET {update}"))
            .execute(&mut *conn)
            .await;
        let after: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if deleted.is_ok() || updated.is_ok() || after != before {
            unguarded.push(format!(
                "{table}: delete {}, update `{update}` {}",
                if deleted.is_ok() {
                    "allowed"
                } else {
                    "refused"
                },
                if updated.is_ok() {
                    "allowed"
                } else {
                    "refused"
                },
            ));
        }
    }
    assert!(
        unguarded.is_empty(),
        "tables of record not guarded:\n{}",
        unguarded.join("\n")
    );
}

crate::on_both_backends!(
    ledger_rows_are_never_deleted_or_rewritten,
    charged_downtime_leaves_out_unobserved_time_and_a_restart_records_the_gap,
);
