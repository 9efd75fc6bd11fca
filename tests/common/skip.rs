//! What a test does when it cannot run on this machine (no root, a tool
//! not installed): it fails, saying what is missing and how to get it,
//! unless skipping was asked for with `LINKLEDGER_ALLOW_SKIP=1` (never in
//! CI, where `.ci/run` installs everything). An allowed skip is said on
//! stderr and listed in `target/tmp/skipped-tests.txt`, so a green run
//! that skipped says so.

/// Always false (the test does not run), once the skip is allowed;
/// panics otherwise.
pub fn cannot_run(test: &str, missing: &str) -> bool {
    let allowed = std::env::var_os("LINKLEDGER_ALLOW_SKIP").is_some_and(|v| v == "1");
    if std::env::var_os("CI").is_some() || !allowed {
        panic!(
            "{test} cannot run here: {missing}. Install it (.ci/run lists everything) or set LINKLEDGER_ALLOW_SKIP=1 to skip such tests"
        );
    }
    eprintln!("skipping {test}: {missing}");
    let list = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list)
    {
        let _ = writeln!(f, "{test}: {missing}");
    }
    false
}

/// The running test's name (its thread's name under the test harness).
pub fn this_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}
