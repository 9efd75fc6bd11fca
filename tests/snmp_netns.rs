//! SNMP end to end (root): Debian's snmpd runs on our firewall/CPE in the
//! namespace lab and linkledger polls its WAN interface (`out0`, facing the
//! carrier) by name. The carrier's port going down is seen as the interface
//! going operationally down, making the line `down` with cause
//! `interface_down`; traffic sent across the link shows as its rate.
#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const COMMUNITY: &str = "lab-c0mmunity";

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn snmpd_installed() -> bool {
    if Command::new("snmpd")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return true;
    }
    common::skip::cannot_run(
        &common::skip::this_test(),
        "snmpd is not installed (apt-get install snmpd)",
    )
}

/// The lab with snmpd on the firewall and the daemon polling `out0` every 6 s:
/// snmpd refreshes interface counters on a ~3 s grid, so a poll interval that
/// is a multiple of 3 s makes every counter delta span whole refresh periods
/// (with 5 s, a delta spans 3 or 6 s of traffic and a rate is off by up to 20 %).
fn lab_with_snmp(prefix: &str) -> (Lab, std::path::PathBuf, Daemon, Killed) {
    lab_with_snmp_edited(prefix, |text| text)
}

/// [`lab_with_snmp`] with the config text edited before the daemon starts.
fn lab_with_snmp_edited(
    prefix: &str,
    edit: impl Fn(String) -> String,
) -> (Lab, std::path::PathBuf, Daemon, Killed) {
    let lab = Lab::up(prefix);
    let conf = lab.dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        format!(
            "agentAddress udp:198.18.0.2:161\nrocommunity {COMMUNITY} 198.18.0.0/24\n\
             createUser labv3 SHA \"lab-auth-pass\" AES \"lab-priv-pass\"\nrouser labv3 priv\n"
        ),
    )
    .unwrap();
    let persist = lab.dir.path().join("snmp-persist");
    let snmpd = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{prefix}-fw"),
            "snmpd",
            "-f",
            "-Ln",
            "-C",
            "-M",
            "/nonexistent",
            "-m",
            "",
            "-c",
        ])
        .arg(&conf)
        .arg(format!("--persistentDir={}", persist.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start snmpd in the firewall namespace");
    let config = lab.config();
    let text = std::fs::read_to_string(&config).unwrap();
    let snmp = format!(
        "\n[line.snmp]\nagent = \"198.18.0.2\"\nversion = \"2c\"\ncommunity = \"{COMMUNITY}\"\nif_name = \"out0\"\n\
         interval = \"6s\"\ntimeout = \"1s\"\nretries = 1\n"
    );
    let at = text
        .find("\n[[line]]\nid = \"telecom6\"")
        .expect("second line");
    // The IPv6 line is polled with SNMPv3 authPriv (SHA + AES): the
    // authentication password from the environment, the privacy one from a file.
    let privacy_file = lab.dir.path().join("priv");
    std::fs::write(&privacy_file, "lab-priv-pass\n").unwrap();
    std::env::set_var("LAB_SNMP_AUTH", "lab-auth-pass");
    let snmp_v3 = format!(
        "\n[line.snmp]\nagent = \"198.18.0.2\"\nversion = \"3\"\nuser = \"labv3\"\nauth = \"sha\"\n\
         auth_password_env = \"LAB_SNMP_AUTH\"\nprivacy_password_file = {:?}\nif_name = \"out0\"\n\
         interval = \"6s\"\ntimeout = \"1s\"\nretries = 1\n",
        privacy_file.display()
    );
    std::fs::write(
        &config,
        edit(format!("{}{snmp}{}{snmp_v3}", &text[..at], &text[at..])),
    )
    .unwrap();
    let daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    (lab, config, daemon, Killed(snmpd))
}

fn wait_metric(daemon: &Daemon, sample: &str, want: f64, within: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(within);
    while daemon.metric(sample) != Some(want) {
        assert!(
            std::time::Instant::now() < deadline,
            "{sample} did not become {want}: {:?}",
            daemon.metric(sample)
        );
        sleep(0.25);
    }
}

#[test]
fn the_carrier_port_going_down_is_an_interface_down_outage() {
    if !can_use_netns("snmp interface down") || !snmpd_installed() {
        return;
    }
    let (lab, config, mut daemon, _snmpd) = lab_with_snmp("llsnmp");
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        1.0,
        15.0,
    );
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom6\"}",
        1.0,
        15.0,
    ); // over v3
    let speed = daemon.metric("linkledger_interface_speed_bytes_per_second{line=\"telecom\"}");
    assert!(speed.is_some(), "speed reported");

    let cut = now_epoch();
    lab.fault("carrier-port", "on");
    // SNMP sees it within a poll (6 s) and snmpd's cache (about 3 s).
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        0.0,
        12.0,
    );
    sleep(1.5);
    let up_during = daemon.metric("linkledger_line_up{line=\"telecom\"}");
    let restored = now_epoch();
    lab.fault("carrier-port", "off");
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        1.0,
        12.0,
    );
    daemon.wait_up(&["telecom"], Duration::from_secs(10));
    sleep(2.5);
    assert!(daemon.signal_and_wait("TERM").success());

    assert_eq!(up_during, Some(0.0));
    let list = outages(&config, "telecom");
    assert_eq!(list.len(), 1, "{list:#?}");
    let o = &list[0];
    // The interface's own status names the cause, whether SNMP saw it before
    // ICMP declared the outage or only after (then appended as evidence).
    assert_eq!(o["cause"], "interface_down", "{o}");
    let declared = o["declared_cause"].as_str().unwrap();
    assert!(
        ["interface_down", "gateway_unreachable"].contains(&declared),
        "{o}"
    );
    let v3 = outages(&config, "telecom6");
    assert_eq!(v3.len(), 1, "{v3:#?}");
    assert_eq!(
        v3[0]["cause"], "interface_down",
        "the v3-polled line too: {v3:#?}"
    );
    let (start, end) = (epoch(&o["start"]), epoch(&o["end"]));
    // ICMP failed from the cut; the outage starts at its first failed round.
    assert!((start - cut).abs() <= 1.1, "start {start} vs cut {cut}");
    assert!(
        end >= restored - 0.5 && end <= restored + 10.0,
        "end {end} vs restored {restored}"
    );
}

/// The carrier's port down and up again, polled at the default 10 s: the
/// outage ends at the first good ICMP round after the port comes back, not
/// at the next poll that sees the interface up (up to 10 s and snmpd's
/// 3 s cache later). Restored right after SNMP saw the port down, so the
/// stale `interface_down` is what the line is judged against meanwhile.
#[test]
fn a_stale_interface_down_never_keeps_the_line_down_after_icmp_answers() {
    if !can_use_netns("snmp stale interface") || !snmpd_installed() {
        return;
    }
    let (lab, config, mut daemon, _snmpd) =
        lab_with_snmp_edited("llsnmq", |t| t.replace("interval = \"6s\"\n", ""));
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        1.0,
        25.0,
    );
    lab.fault("carrier-port", "on");
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        0.0,
        25.0,
    );
    let restored = now_epoch();
    lab.fault("carrier-port", "off");
    let restored_done = now_epoch();
    // When the carrier's edge really answers again, seen from the monitor
    // as the daemon sees it: the kernel may take most of a second after
    // the link is up (IPv4 neighbour resolution through the firewall).
    let answering = first_answer(&lab, "198.18.1.1").max(restored_done);
    eprintln!(
        "the edge answered {:.3} s after the port came back",
        answering - restored_done
    );
    daemon.wait_up(&["telecom"], Duration::from_secs(10));
    sleep(1.0);
    let stale = daemon.metric("linkledger_interface_oper_up{line=\"telecom\"}");
    assert!(daemon.signal_and_wait("TERM").success());
    let list = outages(&config, "telecom");
    assert_eq!(list.len(), 1, "{list:#?}");
    let end = epoch(&list[0]["end"]);
    // The first round after the edge answers ends the outage, however
    // long SNMP still says the interface is down: one interval (1 s) and
    // the round's own timeout margin.
    assert!(
        end >= restored - 0.5 && end <= answering + 1.5,
        "the outage ended at {end}, the port came back at {restored:.3}..{restored_done:.3} \
         and the edge answered from {answering:.3} \
         (SNMP still said oper up = {stale:?} a second after the line was up): {:#?}",
        list[0]
    );
    assert_eq!(list[0]["cause"], "interface_down", "the evidence is kept");
}

/// Echo requests every 20 ms from the monitor namespace to `addr`; prints
/// the Unix time of the first reply (or nothing within 10 s).
const FIRST_ANSWER: &str = r#"
import socket, struct, sys, time
addr = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.02)
def csum(b):
    s_ = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s_ >> 16: s_ = (s_ & 0xffff) + (s_ >> 16)
    return (~s_) & 0xffff
ident, deadline, seq = 0x4c4c, time.time() + 10, 0
while time.time() < deadline:
    seq += 1
    req = bytearray(struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'linkledger-test!')
    struct.pack_into('!H', req, 2, csum(bytes(req)))
    s.sendto(bytes(req), (addr, 0))
    try:
        while True:
            pkt, (src, _) = s.recvfrom(2048)
            ihl = (pkt[0] & 15) * 4
            if src == addr and pkt[ihl] == 0 and struct.unpack('!H', pkt[ihl+4:ihl+6])[0] == ident:
                print('%.3f' % time.time())
                sys.exit(0)
    except socket.timeout:
        pass
"#;

/// The Unix time `addr` first answers an echo request from the monitor.
fn first_answer(lab: &Lab, addr: &str) -> f64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{}-mon", lab.prefix),
            "python3",
            "-c",
        ])
        .arg(FIRST_ANSWER)
        .arg(addr)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{addr} did not answer within 10 s after the port came back"))
}

/// Sends UDP datagrams of `payload` bytes at `pps` for `secs` from the
/// monitor to the carrier's edge (across the firewall's out0), paced on an
/// absolute schedule. Prints the bytes on the wire and the seconds taken.
const SENDER: &str = r#"
import socket, sys, time
pps, secs, payload = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data = b'x' * payload
n, start = 0, time.monotonic()
while True:
    now = time.monotonic() - start
    if now >= secs:
        break
    due = int(now * pps) + 1
    while n < due:
        s.sendto(data, ('198.18.1.1', 9))
        n += 1
    time.sleep(0.001)
print(n * (payload + 8 + 20 + 14), time.monotonic() - start)
"#;

#[test]
fn traffic_across_the_link_shows_as_its_rate_within_5_percent() {
    if !can_use_netns("snmp traffic") || !snmpd_installed() {
        return;
    }
    let (lab, _config, daemon, _snmpd) = lab_with_snmp("lltraf");
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        1.0,
        15.0,
    );
    let (pps, secs, payload) = (1500, 22.0, 1000);
    let sender = Command::new("ip")
        .args(["netns", "exec", "lltraf-mon", "python3", "-c", SENDER])
        .args([pps.to_string(), secs.to_string(), payload.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // At least two polls fully inside the burst: read the rate 17 s in.
    sleep(17.0);
    let out_bps = daemon
        .metric("linkledger_interface_bytes_per_second{direction=\"out\",line=\"telecom\"}")
        .unwrap()
        * 8.0;
    let util = daemon
        .metric("linkledger_interface_utilization_ratio{direction=\"out\",line=\"telecom\"}")
        .unwrap();
    let output = sender.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().unwrap());
    let (bytes, took) = (fields.next().unwrap(), fields.next().unwrap());
    let sent_bps = bytes * 8.0 / took;
    assert!(
        (out_bps - sent_bps).abs() <= 0.05 * sent_bps,
        "interface out {out_bps:.0} bit/s, sent {sent_bps:.0} bit/s"
    );
    // Against the contracted 1000 Mbit/s.
    assert!((util - out_bps / 1e9).abs() < 1e-9, "utilization {util}");
    drop(lab);
}

#[test]
fn sustained_traffic_over_90_percent_of_the_contract_is_a_utilisation_fault() {
    if !can_use_netns("snmp utilisation") || !snmpd_installed() {
        return;
    }
    // telecom is contracted at 10 Mbit/s here; about 12.5 Mbit/s cross its
    // interface for 75 s. A one-minute window keeps the test short.
    let (lab, config, mut daemon, _snmpd) = lab_with_snmp_edited("llutil", |text| {
        text.replacen("bandwidth_mbps = 1000", "bandwidth_mbps = 10", 1)
            .replace(
                "annual_downtime_cap = \"4h\"",
                "annual_downtime_cap = \"4h\"\ndegradation = { utilisation_window = \"1m\" }",
            )
    });
    wait_metric(
        &daemon,
        "linkledger_interface_oper_up{line=\"telecom\"}",
        1.0,
        15.0,
    );
    let sender = Command::new("ip")
        .args(["netns", "exec", "llutil-mon", "python3", "-c", SENDER])
        .args(["1500", "75", "1000"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _sender = Killed(sender);
    let db = lab.dir.path().join("ledger.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    // Open within the burst, closed some seconds after it.
    let mut seen_open = false;
    loop {
        let rows = sql(&db, "SELECT end_at IS NULL FROM degradations WHERE line = 'telecom' AND kind = 'utilisation'");
        seen_open |= rows == "1";
        if rows == "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no utilisation degradation opened and closed: {rows:?}"
        );
        sleep(2.0);
    }
    assert!(daemon.signal_and_wait("TERM").success());
    assert!(seen_open, "the degradation was seen open during the burst");
    let row = sql(&db, "SELECT detail, (julianday(end_at) - julianday(start_at)) * 86400 FROM degradations WHERE kind = 'utilisation'");
    let (detail, secs) = row.split_once('|').unwrap();
    assert!(
        detail.starts_with("utilisation 1") && detail.contains("over 1 min (threshold 90.0 %)"),
        "{detail}"
    );
    let secs: f64 = secs.parse().unwrap();
    assert!(
        (50.0..=110.0).contains(&secs),
        "the degradation lasted {secs} s of a 75 s burst"
    );
    // One general fault on telecom, resolved; telecom6 (1000 Mbit/s) saw
    // the same interface at about 1 % and has none.
    let faults = sql(
        &db,
        "SELECT coalesce(line, 'egress'), trigger, class, resolved_at IS NOT NULL FROM faults",
    );
    assert_eq!(faults, "telecom|degradation|general|1");
    assert!(ledger_json(&config, "outages", &[]).is_empty());
}
