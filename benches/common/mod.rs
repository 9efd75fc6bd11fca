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
