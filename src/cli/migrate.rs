//! `linkledger migrate --from FILE --to postgres://…`: copies an SQLite
//! ledger into an empty PostgreSQL database (the schema applied first),
//! with every row's key and the whole hash chain, then checks the copy:
//! as many rows in every table, and its chain verified to the SQLite
//! ledger's head. Safe to run again: a copy already complete is found and
//! left as it is; a database holding anything else is refused. No daemon
//! may write the SQLite ledger meanwhile (its lock is taken), nor the
//! PostgreSQL one (its hold is taken).

use std::path::Path;
use std::process::ExitCode;

use linkledger_ledger::{lock, migrate};

pub(crate) fn main(from: &Path, to: &str, password_file: Option<&Path>, json: bool) -> ExitCode {
    let password = match password_file.map(std::fs::read_to_string).transpose() {
        Ok(p) => p.map(|p| p.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => {
            eprintln!(
                "error: --password-file {}: {e}",
                password_file.unwrap().display()
            );
            return ExitCode::from(2);
        }
    };
    match url::Url::parse(to) {
        Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") && u.password().is_none() => {}
        Ok(u) if u.password().is_some() => {
            eprintln!("error: --to holds a password; give it in --password-file so it is never shown or kept in the shell's history");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("error: --to {to:?}: not a PostgreSQL URL; e.g. postgres://linkledger@db.example:5432/linkledger");
            return ExitCode::from(2);
        }
    }
    let Some(runtime) = super::runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(from, to, password.as_deref(), json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(from: &Path, to: &str, password: Option<&str>, json: bool) -> anyhow::Result<()> {
    let _lock = lock::DaemonLock::take(from, "linkledger migrate")?;
    let source = linkledger_ledger::open_existing(from).await?;
    let target = linkledger_ledger::open_postgres(to, password).await?;
    let _hold = lock::hold_postgres(&target, "linkledger migrate").await?;
    let copied = migrate::copy(&source, &target).await?;
    source.close().await;
    target.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&copied)?);
        return Ok(());
    }
    let rows: i64 = copied.tables.iter().map(|(_, n)| n).sum();
    if copied.already {
        println!(
            "{to} already holds this ledger ({rows} rows in {} tables): nothing copied",
            copied.tables.len()
        );
    } else {
        for (t, n) in copied.tables.iter().filter(|(_, n)| *n > 0) {
            println!("{t:<24} {n:>10}");
        }
        println!(
            "copied {} into {to}: {rows} rows in {} tables, every table's count checked",
            from.display(),
            copied.tables.len()
        );
    }
    match &copied.head {
        Some(h) => println!(
            "hash chain verified on the copy: head seq {} {} (the SQLite ledger's)",
            h.seq, h.chain
        ),
        None => println!("no hash chain yet (an empty ledger)"),
    }
    Ok(())
}
