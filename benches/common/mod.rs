//! What the benches share: their knobs from the environment and the
//! config of a site with N lines on loopback, its ledger in a folder.

/// A whole-number knob from the environment, else `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A config with `lines` lines (`l0`, `l1`, …), its ledger in `dir`.
pub fn config_text(dir: &std::path::Path, lines: usize) -> String {
    let mut s = format!(
        "[daemon]\ndatabase = {:?}\nlisten = \"127.0.0.1:9798\"\ntimezone = \"Asia/Shanghai\"\n\n\
         [contract]\nname = \"基准测试合同\"\nstart = \"2025-01-01\"\napproved_maintenance_counts = false\n\n",
        dir.join("ledger.db")
    );
    for i in 0..lines {
        s += &format!(
            "[[line]]\nid = \"l{i}\"\ncarrier = \"Carrier {i}\"\nrole = \"{}\"\nbandwidth_mbps = 1000\nlocal = [\"127.0.0.1\"]\ngateway = [\"127.0.1.{}\"]\nupstream = [\"127.0.2.{}\", \"127.0.3.{}\"]\n\n",
            if i == 0 { "lead" } else { "member" },
            i + 1,
            i + 1,
            i + 1
        );
    }
    s
}

/// A PostgreSQL database for a bench: in the server `LINKLEDGER_BENCH_POSTGRES`
/// (else `LINKLEDGER_TEST_POSTGRES`) names, else in a throwaway cluster
/// (tests/support/pg_cluster.sh, as root); None when there is none. The
/// database (or the cluster) is removed on drop.
pub struct BenchPg {
    pub url: String,
    admin: String,
    name: String,
    cluster: Option<tempfile::TempDir>,
}

pub fn postgres(name: &str) -> Option<BenchPg> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pg_cluster.sh");
    let given = std::env::var("LINKLEDGER_BENCH_POSTGRES")
        .or_else(|_| std::env::var("LINKLEDGER_TEST_POSTGRES"))
        .ok()
        .filter(|u| !u.is_empty());
    let (admin, cluster) = match given {
        Some(u) => (u, None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("llbench")
                .tempdir_in("/tmp")
                .ok()?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let out = std::process::Command::new(script)
                .arg("start")
                .arg(dir.path())
                .arg(port.to_string())
                .output()
                .ok()?;
            if !out.status.success() {
                eprintln!(
                    "no PostgreSQL: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                return None;
            }
            (
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
                Some(dir),
            )
        }
    };
    let name = format!("llbench_{name}_{}", std::process::id());
    let ok = std::process::Command::new("psql")
        .args(["-qAt", "-d", &admin, "-c"])
        .arg(format!("DROP DATABASE IF EXISTS {name}; "))
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new("psql")
            .args(["-qAt", "-d", &admin, "-c"])
            .arg(format!(
                "CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
            ))
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let mut url = url::Url::parse(&admin).ok()?;
    url.set_path(&format!("/{name}"));
    Some(BenchPg {
        url: url.to_string(),
        admin,
        name,
        cluster,
    })
}

impl Drop for BenchPg {
    fn drop(&mut self) {
        match &self.cluster {
            Some(dir) => {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pg_cluster.sh");
                let _ = std::process::Command::new(script)
                    .arg("stop")
                    .arg(dir.path())
                    .output();
            }
            None => {
                let _ = std::process::Command::new("psql")
                    .args(["-qAt", "-d", &self.admin, "-c"])
                    .arg(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .output();
            }
        }
    }
}
