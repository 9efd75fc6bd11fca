//! Every invalid config fixture paired with its expected error message
//! (`tests/fixtures/invalid/NAME.toml` → `NAME.err`), and the shipped
//! example and demo configs parse.

use std::path::Path;
use std::process::Command;

use linkledger_config::Config;

#[test]
fn every_invalid_fixture_gives_its_expected_error() {
    let dir = Path::new("tests/fixtures/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for toml in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let expected_path = toml.with_extension("err");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no {}", toml.display(), expected_path.display()));
        let err = Config::load(toml)
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", toml.display()));
        assert_eq!(
            err.to_string(),
            expected.trim_end(),
            "fixture {}",
            toml.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures found");
}

#[test]
fn check_config_exits_2_with_the_message_on_stderr() {
    let out = Command::new(env!("CARGO_BIN_EXE_linkledger"))
        .args([
            "check-config",
            "-c",
            "tests/fixtures/invalid/quorum_too_large.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("upstream_quorum: 3 is not possible with 2 upstream target(s)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let err = Config::load(Path::new("tests/fixtures/nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("tests/fixtures/nope.toml: cannot read the config file:"),
        "{err}"
    );
}

#[test]
fn the_example_config_parses_with_the_documented_values() {
    let c = Config::load(Path::new("config/linkledger.example.toml")).unwrap();
    assert_eq!(c.contract.annual_downtime_cap.as_secs(), 4 * 3600);
    assert_eq!((c.probe.down_after, c.probe.up_after), (3, 2));
    assert_eq!(c.probe.timeout.as_millis(), 800);
    // Three lines, each leaving through its own carrier.
    let ids: Vec<&str> = c.lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["telecom", "unicom", "mobile"]);
    assert_eq!(c.lines[1].interface.as_deref(), Some("eth2"));
    assert_eq!(
        c.lines[2].carrier_for(linkledger_config::Language::ZhCn),
        "中国移动"
    );
    assert_eq!(
        c.lines[2].carrier_for(linkledger_config::Language::En),
        "China Mobile"
    );
    let l = &c.lines[0];
    assert_eq!(l.id, "telecom");
    assert_eq!(l.upstream.len(), 2);
    assert_eq!(l.ip_blocks[0].to_string(), "198.19.100.0/29");
    assert_eq!(l.source.unwrap().to_string(), "198.18.0.1");
    use linkledger_config::terms::{EgressBreaches, ResponseFrom};
    use linkledger_core::fault::{FaultClass, Trigger};
    let t = &c.contract.terms;
    assert_eq!(t.classes.class_of(Trigger::LineDown), FaultClass::General);
    assert_eq!(t.response_from, ResponseFrom::Reported);
    assert_eq!(t.egress_breaches, EgressBreaches::Lines);
}

/// The example's commented `[[notify]]` channels, uncommented, parse into
/// what their comments say.
#[test]
fn the_example_alert_channels_parse_when_uncommented() {
    use linkledger_config::notify::{SmtpTls, Target};
    let text = std::fs::read_to_string("config/linkledger.example.toml").unwrap();
    let (head, tail) = text.split_at(text.find("# [[notify]]").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("wecom-robot.url");
    std::fs::write(
        &url_file,
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\n",
    )
    .unwrap();
    let channels: String = tail
        .lines()
        .filter(|l| !l.starts_with("# #"))
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .map(|l| {
            l.replace(
                "/etc/linkledger/wecom-robot.url",
                url_file.to_str().unwrap(),
            ) + "\n"
        })
        .collect();
    std::env::set_var("LINKLEDGER_SMTP_PASSWORD", "example-password");
    std::env::set_var("LINKLEDGER_WEBHOOK_KEY", "example-key");
    let c = Config::parse(Path::new("example"), &(head.to_string() + &channels))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.alerts.deadline_lead.as_secs(), 600);
    assert_eq!(c.alerts.budget_shares, vec![0.5, 0.8, 1.0]);
    let names: Vec<&str> = c.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "noc-mail",
            "duty-wecom",
            "telecom-hotline",
            "itsm",
            "contract-manager",
            "am"
        ]
    );
    assert_eq!(c.channels[2].carrier.as_deref(), Some("China Telecom"));
    assert_eq!(c.channels[0].carrier, None);
    let Target::Email(e) = &c.channels[0].target else {
        panic!("noc-mail is not email")
    };
    assert_eq!((e.port, e.tls), (587, SmtpTls::Starttls));
    assert_eq!(e.to.len(), 2);
    assert_eq!(e.login.as_ref().unwrap().1 .0, "example-password");
    let Target::Http(r) = &c.channels[1].target else {
        panic!("duty-wecom is not a robot")
    };
    assert!(
        r.url.0.ends_with("key=k"),
        "the URL file's newline is trimmed"
    );
    assert!(c.channels[1].route.quiet.is_some());
    assert_eq!(c.channels[2].retry_max.as_secs(), 300);
    // Secrets stay out of Debug output.
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("example-password")
            && !debug.contains("key=k")
            && !debug.contains("example-key")
    );
}

#[test]
fn the_demo_config_parses_and_probes_only_loopback() {
    let c = Config::load(Path::new("config/demo.toml")).unwrap();
    assert!(c.lines.len() >= 2);
    for l in &c.lines {
        for ip in l.local.iter().chain(&l.gateway).chain(&l.upstream) {
            assert!(ip.is_loopback(), "demo target {ip} is not loopback");
        }
    }
    assert!(
        c.daemon.database.is_relative(),
        "demo ledger lives in the working directory"
    );
}

#[test]
fn the_config_from_the_measurement_core_issue_loads_unchanged() {
    // tests/fixtures/valid/issue-example.toml is the issue's text, byte for byte.
    let c = Config::load(Path::new("tests/fixtures/valid/issue-example.toml")).unwrap();
    assert_eq!(c.contract.name, "Qingyang e-government egress lease");
    assert_eq!(c.contract.start.to_string(), "2024-07-01");
    assert_eq!(c.daemon.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(c.lines.len(), 1);
    assert_eq!(c.lines[0].gateway[0].to_string(), "198.18.1.1");
    assert_eq!(c.lines[0].interface, None);
}

#[test]
fn snmp_secrets_from_file_and_environment_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let community_file = dir.path().join("community");
    std::fs::write(&community_file, "file-s3cret-community\n").unwrap();
    let base = std::fs::read_to_string("config/linkledger.example.toml").unwrap();
    let text = format!(
        "{base}\n[line.snmp]\nagent = \"198.18.0.2\"\nversion = \"2c\"\ncommunity_file = {:?}\nif_name = \"eth1\"\n\n\
         [[line]]\nid = \"edu\"\ncarrier = \"CERNET\"\nrole = \"member\"\nbandwidth_mbps = 500\nupstream = [\"198.19.103.1\"]\n\
         [line.snmp]\nagent = \"198.18.0.3:1161\"\nversion = \"3\"\nuser = \"noc\"\nauth = \"sha256\"\n\
         auth_password_env = \"LL_TEST_AUTH\"\nprivacy_password_env = \"LL_TEST_PRIV\"\nif_alias = \"CT-WAN\"\ninterval = \"30s\"\n",
        community_file.display()
    );
    let path = dir.path().join("linkledger.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_linkledger"))
        .args(["check-config", "-c"])
        .arg(&path)
        .env("LL_TEST_AUTH", "env-auth-s3cret")
        .env("LL_TEST_PRIV", "env-priv-s3cret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("snmp: 198.18.0.2:161 v2c, interface with ifName \"eth1\", every 10s"),
        "{stdout}"
    );
    assert!(stdout.contains("snmp: 198.18.0.3:1161 v3 user \"noc\" authPriv, interface with ifAlias \"CT-WAN\", every 30s"), "{stdout}");

    // Said in words: never a Rust `None` or `Some(..)`.
    assert!(
        !stdout.contains("None") && !stdout.contains("Some("),
        "{stdout}"
    );
    // The values were read (the config carries them) ...
    std::env::set_var("LL_TEST_AUTH", "env-auth-s3cret");
    std::env::set_var("LL_TEST_PRIV", "env-priv-s3cret");
    let c = Config::load(&path).unwrap();
    use linkledger_probes::snmp::Credentials;
    // The first [line.snmp] belongs to the example's last line.
    assert_eq!(
        c.lines[2].snmp.as_ref().unwrap().credentials,
        Credentials::V2c {
            community: "file-s3cret-community".into()
        }
    );
    // ... and they appear nowhere a person or the ledger would see them.
    let history = serde_json::to_string(&c.lines).unwrap();
    let debug = format!("{:?}", c.lines);
    for secret in [
        "file-s3cret-community",
        "env-auth-s3cret",
        "env-priv-s3cret",
    ] {
        assert!(!stdout.contains(secret), "check-config shows {secret}");
        assert!(!history.contains(secret), "line history holds {secret}");
        assert!(!debug.contains(secret), "Debug shows {secret}");
    }
}

#[test]
fn the_example_penalty_rule_parses_when_uncommented() {
    let text = std::fs::read_to_string("config/linkledger.example.toml").unwrap();
    let start = text.find("# [[contract.penalty]]").unwrap();
    let block_end = start + text[start..].find("\n\n").unwrap();
    let rule: String = text[start..block_end]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l).to_string() + "\n")
        .collect();
    let c = Config::parse(
        Path::new("example"),
        &format!("{}{rule}{}", &text[..start], &text[block_end..]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = &c.contract.penalties[0];
    assert_eq!(
        (p.name.as_str(), p.amount, p.cap_share),
        ("修复超时", Some(2000.0), Some(0.05))
    );
    assert_eq!(c.contract.members[0].annual_fee, 1_200_000.0);
    assert_eq!(c.report.formats.len(), 2);
}

/// The example agent config parses (its token from a file), and an agent
/// config without own anchors is refused with the reason.
#[test]
fn the_example_agent_config_parses_and_a_bad_one_says_why() {
    use linkledger_config::agent::AgentConfig;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("agent.token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef0123\n").unwrap();
    let text = std::fs::read_to_string("config/agent.example.toml")
        .unwrap()
        .replace("/etc/linkledger/agent.token", token.to_str().unwrap());
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, &text).unwrap();
    let a = AgentConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (a.id.as_str(), a.interval.as_secs(), a.anchors.len()),
        ("cloud-sh", 5, 2)
    );
    assert_eq!(a.buffer_max_age.as_secs(), 7 * 86_400);
    assert!(
        !format!("{a:?}").contains("0123456789abcdef"),
        "the token stays out of Debug output"
    );
    std::fs::write(
        &path,
        text.replace("anchors = [\"198.18.200.1\", \"198.18.200.2\"]", ""),
    )
    .unwrap();
    let e = AgentConfig::load(&path).unwrap_err().to_string();
    assert!(e.contains("agent.anchors: give at least one anchor"), "{e}");
    std::fs::write(
        &path,
        text.replace("interval = \"5s\"", "intervall = \"5s\""),
    )
    .unwrap();
    let e = AgentConfig::load(&path).unwrap_err().to_string();
    assert!(e.contains(":1: unknown field `intervall`"), "{e}");
}

#[test]
fn a_relative_database_is_the_config_folders_not_the_working_directorys() {
    let demo = std::fs::read_to_string("config/demo.toml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("linkledger.toml");
    std::fs::write(&path, &demo).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.daemon.database, dir.path().join("linkledger-demo.db"));
    assert_eq!(c.report.dir, dir.path().join("reports"));
}

/// A command that sends nothing needs none of the secrets: with a robot's
/// URL in an unset environment variable, `outages` and `budget` run, while
/// `check-config` names the variable.
#[test]
fn commands_that_send_nothing_do_not_need_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("config/demo.toml")
        .unwrap()
        .replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {:?}", dir.path().join("ledger.db")),
        )
        + "\n[[notify]]\nname = \"noc-robot\"\nkind = \"wecom\"\nurl_env = \"LL_TEST_UNSET_ROBOT_URL\"\n\n[api]\n[[api.token]]\nname = \"noc\"\nrole = \"viewer\"\ntoken_file = \"/nonexistent/token\"\n";
    let config = dir.path().join("linkledger.toml");
    std::fs::write(&config, text).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_linkledger"))
        .args(["check-config", "-c"])
        .arg(&config)
        .env_remove("LL_TEST_UNSET_ROBOT_URL")
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let refused = String::from_utf8_lossy(&check.stderr);
    assert!(
        refused.contains("/nonexistent/token") || refused.contains("LL_TEST_UNSET_ROBOT_URL"),
        "check-config does not name the secret it cannot read: {refused}"
    );
    // The ledger, as a daemon would have created it.
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_linkledger"))
            .args(args)
            .arg("-c")
            .arg(&config)
            .env_remove("LL_TEST_UNSET_ROBOT_URL")
            .output()
            .unwrap()
    };
    for args in [&["outages", "--json"][..], &["budget", "--json"][..]] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("LL_TEST_UNSET_ROBOT_URL") && !stderr.contains("/nonexistent/token"),
            "{args:?} asked for a secret it does not use: {stderr}"
        );
    }
}
