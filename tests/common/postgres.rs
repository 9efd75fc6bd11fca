//! A real PostgreSQL database for one test, dropped with it.
//!
//! The server is the one `LINKLEDGER_TEST_POSTGRES` names (an admin URL:
//! a role that may create databases; `.ci/run` starts a throwaway cluster
//! and sets it), else a throwaway cluster of this test's own, started with
//! `tests/support/pg_cluster.sh` and removed on drop. In CI the variable
//! must be set: a test never quietly runs on SQLite alone.

use std::path::PathBuf;
use std::process::Command;

/// One test's database.
pub struct PgDb {
    /// The database's URL (no password: the test cluster trusts loopback).
    pub url: String,
    admin: String,
    name: String,
    cluster: Option<tempfile::TempDir>,
}

fn script() -> PathBuf {
    super::repo().join("tests/support/pg_cluster.sh")
}

/// A fresh, empty database; None when this test cannot have one (and
/// skipping was asked for, see [`super::skip`]).
pub fn database() -> Option<PgDb> {
    in_cluster(false)
}

/// A database in a throwaway cluster of this test's own, whatever
/// `LINKLEDGER_TEST_POSTGRES` says: for a test that stops the server.
pub fn database_of_its_own() -> Option<PgDb> {
    in_cluster(true)
}

fn in_cluster(own: bool) -> Option<PgDb> {
    let given = std::env::var("LINKLEDGER_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty() && !own);
    let (admin, cluster) = match given {
        Some(url) => (url, None),
        None => {
            if !own && std::env::var_os("CI").is_some() {
                panic!(
                    "LINKLEDGER_TEST_POSTGRES is not set: CI runs every ledger test on PostgreSQL too (.ci/run starts a cluster)"
                );
            }
            let dir = tempfile::Builder::new()
                .prefix("llpg")
                .tempdir_in("/tmp")
                .unwrap();
            let port = super::free_port();
            let out = Command::new(script())
                .arg("start")
                .arg(dir.path())
                .arg(port.to_string())
                .output()
                .unwrap();
            if !out.status.success() {
                super::skip::cannot_run(
                    &super::skip::this_test(),
                    &format!(
                        "no PostgreSQL server: set LINKLEDGER_TEST_POSTGRES or install postgresql ({})",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                );
                return None;
            }
            let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (url, Some(dir))
        }
    };
    let name = format!("ll_{}_{}", std::process::id(), rand_suffix());
    admin_sql(
        &admin,
        &format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        ),
    );
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    Some(PgDb {
        url: url.to_string(),
        admin,
        name,
        cluster,
    })
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:08x}{}",
        rand::random::<u32>(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs one statement as the admin role (psql: no runtime needed, so it
/// also works from a drop).
fn admin_sql(admin: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-d", admin, "-c", sql])
        .output()
        .expect("psql (apt-get install postgresql-client)");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgDb {
    /// Stops this test's own server (its data kept) or starts it again.
    pub fn server(&self, up: bool) {
        let dir = self.cluster.as_ref().expect("a cluster of the test's own");
        let out = Command::new(script())
            .arg(if up { "up" } else { "down" })
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `psql -c SQL` on this database: its output, rows a line, columns
    /// split by `|`.
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-d", &self.url, "-c", sql])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.cluster {
            let _ = Command::new(script()).arg("stop").arg(dir.path()).output();
        } else {
            let _ = Command::new("psql")
                .args(["-qAt", "-d", &self.admin, "-c"])
                .arg(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .output();
        }
    }
}

/// Which database a test's ledger is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A test's ledger: the value of `daemon.database` (a file in `dir`, or a
/// fresh PostgreSQL database's URL), with the database kept until drop.
pub struct TestLedger {
    pub database: String,
    pub backend: Backend,
    pub pg: Option<PgDb>,
}

impl TestLedger {
    /// None when PostgreSQL cannot be had here and skipping was asked for.
    pub fn new(backend: Backend, dir: &std::path::Path) -> Option<TestLedger> {
        match backend {
            Backend::Sqlite => Some(TestLedger {
                database: dir.join("ledger.db").display().to_string(),
                backend,
                pg: None,
            }),
            Backend::Postgres => database().map(|pg| TestLedger {
                database: pg.url.clone(),
                backend,
                pg: Some(pg),
            }),
        }
    }

    /// The ledger opened bare, past the ledger crate, as a test reading
    /// rows by hand (or another process) sees it. Queries use `$1`.
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let options = match self.backend {
            Backend::Sqlite => {
                linkledger_ledger::sqlite_options(std::path::Path::new(&self.database), "rw")
                    .unwrap()
            }
            Backend::Postgres => self.database.parse().unwrap(),
        };
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap()
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL: tests
/// `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::postgres::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::postgres::Backend::Postgres).await
            }
        }
    )*};
}

/// [`on_both_backends`] for a test that is not async (it drives processes):
/// tests `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends_sync {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::postgres::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::common::postgres::Backend::Postgres)
            }
        }
    )*};
}
