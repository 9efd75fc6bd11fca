//! Real ICMP across network namespaces with real faults (root only; see
//! tests/common). Each test builds its own lab and removes it on drop.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const SETTLE: Duration = Duration::from_secs(15);

/// A lab with the daemon running in it and both lines up.
fn settled_lab(prefix: &str) -> (Lab, std::path::PathBuf, Daemon) {
    let lab = Lab::up(prefix);
    let config = lab.config();
    let daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);
    (lab, config, daemon)
}

#[test]
fn upstream_blackholed_for_10s_is_exactly_one_outage_of_10s() {
    if !can_use_netns("blackhole") {
        return;
    }
    let (lab, config, mut daemon) = settled_lab("llbh");
    sleep(2.0);

    let cut = lab.timed_fault("blackhole", "on");
    sleep(10.0);
    let restored = lab.timed_fault("blackhole", "off");
    sleep(4.0);
    // While it ran, the metrics showed the charged downtime.
    let charged_metric = daemon
        .metric("linkledger_downtime_charged_seconds{line=\"telecom\",period=\"contract_year\"}")
        .unwrap();
    assert!(daemon.signal_and_wait("TERM").success());

    for line in ["telecom", "telecom6"] {
        let list = outages(&config, line);
        assert_eq!(list.len(), 1, "{line}: exactly one outage, got {list:#?}");
        let o = &list[0];
        let (start, end) = (epoch(&o["start"]), epoch(&o["end"]));
        let duration = o["duration_s"].as_f64().unwrap();
        assert!(
            (duration - 10.0).abs() <= 1.0 + 0.1,
            "{line}: duration {duration} s, want 10 s ± 1 interval"
        );
        // Measured from both sides of the fault command: the edge is the
        // first round after the fault took effect.
        assert!(
            edge_fits(start, cut, 1.0),
            "{line}: start {start} vs fault injected {cut:?}"
        );
        assert!(
            edge_fits(end, restored, 1.0),
            "{line}: end {end} vs restored {restored:?}"
        );
        // Each edge has its bound, at most one interval before it.
        let start_after = epoch(&o["start_after"]);
        let end_after = epoch(&o["end_after"]);
        assert!(
            start - start_after > 0.0 && start - start_after <= 1.05,
            "{o}"
        );
        assert!(end - end_after > 0.0 && end - end_after <= 1.05, "{o}");
        assert_eq!(o["cause"], "upstream_unreachable", "gateway still answered");
        assert_eq!(
            o["charged_s"].as_f64().unwrap(),
            duration,
            "no unobserved time inside"
        );
    }
    let first = outages(&config, "telecom")[0]["charged_s"]
        .as_f64()
        .unwrap();
    assert!(
        (charged_metric - first).abs() < 0.01,
        "metric {charged_metric} vs ledger {first}"
    );
}

#[test]
fn five_percent_random_loss_for_60s_is_no_outage() {
    if !can_use_netns("loss") {
        return;
    }
    let (lab, config, mut daemon) = settled_lab("llloss");
    let sent_before = daemon.metric_sum("linkledger_probe_sent_total{");
    let recv_before = daemon.metric_sum("linkledger_probe_received_total{");
    lab.fault("loss", "5");
    // The declared state (what the ledger holds) stays up all along, even
    // when a round loses its quorum.
    let mut declared_down = 0;
    for _ in 0..60 {
        sleep(1.0);
        declared_down += daemon
            .get("/metrics")
            .lines()
            .filter(|l| l.starts_with("linkledger_line_state{") && l.contains("state=\"down\"} 1"))
            .count();
    }
    lab.fault("loss", "off");
    assert_eq!(
        declared_down, 0,
        "the declared state flickered under 5 % loss"
    );
    let sent = daemon.metric_sum("linkledger_probe_sent_total{") - sent_before;
    let recv = daemon.metric_sum("linkledger_probe_received_total{") - recv_before;
    assert!(daemon.signal_and_wait("TERM").success());
    // The loss was real (some replies were dropped): every target of both
    // lines counts, so P(no reply lost among ~420) is about 1e-9 ...
    assert!(
        sent >= 400.0 && recv < sent,
        "sent {sent}, received {recv}: no loss was injected"
    );
    // ... and it did not make an outage on any line.
    assert_eq!(
        ledger_json(&config, "outages", &[]),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn our_side_cut_off_is_a_local_fault_not_charged() {
    if !can_use_netns("local") {
        return;
    }
    let (lab, config, mut daemon) = settled_lab("llloc");
    lab.fault("cut-local", "on");
    sleep(4.0);
    let state = daemon.metric("linkledger_line_state{line=\"telecom\",state=\"local_fault\"}");
    let egress = daemon.metric("linkledger_egress_state{state=\"local_fault\"}");
    let page = daemon.get("/");
    sleep(4.0);
    lab.fault("cut-local", "off");
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);
    sleep(2.5); // up_after good rounds end the local fault
    let charged = daemon
        .metric("linkledger_downtime_charged_seconds{line=\"telecom\",period=\"contract_year\"}");
    assert!(daemon.signal_and_wait("TERM").success());
    assert_eq!(state, Some(1.0), "line state during the cut");
    assert_eq!(egress, Some(1.0), "the egress is not the carrier's: {page}");
    // The status page lists them in their own section, as ours.
    let at = page
        .find("id=\"local-faults\"")
        .expect("a local-fault section");
    let section = &page[at..at + page[at..].find("</table>").unwrap()];
    assert!(
        section.contains("telecom6") && section.contains("进行中") && section.contains("不计费"),
        "{section}"
    );
    assert!(!page.contains("egress-banner"), "no egress outage: {page}");
    // And the CLI lists them, with their durations.
    let listed = ledger_json(&config, "local-faults", &[]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    for f in &listed {
        let d = f["duration_s"].as_f64().unwrap();
        assert!((d - 8.0).abs() <= 1.5, "{f}");
        assert!(f["end"].is_string(), "{f}");
    }
    assert_eq!(charged, Some(0.0), "nothing charged to the carrier");
    assert_eq!(
        ledger_json(&config, "outages", &[]),
        Vec::<serde_json::Value>::new()
    );
    let db = lab.dir.path().join("ledger.db");
    let faults = sql(&db, "SELECT line, (julianday(end_at) - julianday(start_at)) * 86400 FROM local_faults ORDER BY line");
    let rows: Vec<&str> = faults.lines().collect();
    assert_eq!(rows.len(), 2, "one local fault per line: {faults}");
    for row in rows {
        let secs: f64 = row
            .split('|')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("local fault not closed: {row}"));
        assert!(
            (secs - 8.0).abs() <= 1.5,
            "local fault lasted {secs} s, cut was 8 s: {row}"
        );
    }
}

#[test]
fn sigkill_in_an_outage_and_restart_keeps_one_outage_and_records_the_gap() {
    if !can_use_netns("restart") {
        return;
    }
    let (lab, config, mut daemon) = settled_lab("llkill");
    sleep(1.0);

    let cut = now_epoch();
    lab.fault("blackhole", "on");
    sleep(5.0);
    let killed = now_epoch();
    daemon.signal_and_wait("KILL");
    sleep(5.0);
    let restarted = now_epoch();
    let mut daemon = lab.start_daemon(&config);
    sleep(5.0);
    let restored = now_epoch();
    lab.fault("blackhole", "off");
    sleep(4.0);
    assert!(daemon.signal_and_wait("TERM").success());

    let gaps = ledger_json(&config, "gaps", &[]);
    let daemon_gaps: Vec<_> = gaps
        .iter()
        .filter(|g| g["reason"] == "daemon_not_running")
        .collect();
    assert_eq!(daemon_gaps.len(), 1, "{gaps:#?}");
    let gap = daemon_gaps[0];
    let gap_s = gap["duration_s"].as_f64().unwrap();
    assert!(
        (gap_s - (restarted - killed)).abs() <= 2.0,
        "gap {gap_s} s, daemon was away {} s",
        restarted - killed
    );

    for line in ["telecom", "telecom6"] {
        let list = outages(&config, line);
        assert_eq!(
            list.len(),
            1,
            "{line}: still one outage after the restart: {list:#?}"
        );
        let o = &list[0];
        let (start, end) = (epoch(&o["start"]), epoch(&o["end"]));
        assert!(
            (start - cut).abs() <= 1.1,
            "{line}: start {start} vs cut {cut}"
        );
        assert!(
            (end - restored).abs() <= 1.1,
            "{line}: end {end} vs restored {restored}"
        );
        let (duration, charged, unobserved) = (
            o["duration_s"].as_f64().unwrap(),
            o["charged_s"].as_f64().unwrap(),
            o["unobserved_s"].as_f64().unwrap(),
        );
        assert!(
            (unobserved - gap_s).abs() < 0.01,
            "{line}: the whole gap lies inside the outage"
        );
        assert!(
            (charged - (duration - gap_s)).abs() < 0.01,
            "{line}: charged = duration - gap"
        );
        // Within bounds: what was observed down, give or take one interval per edge.
        let observed_down = (killed - cut) + (restored - restarted);
        assert!(
            charged <= observed_down + 2.2 && charged >= observed_down - 2.2,
            "{line}: charged {charged} s, observed down {observed_down} s"
        );
    }
}

#[test]
fn a_line_back_up_while_the_daemon_was_away_closes_with_honest_bounds() {
    if !can_use_netns("restart up") {
        return;
    }
    let (lab, config, mut daemon) = settled_lab("llkup");
    sleep(1.0);
    let cut = now_epoch();
    lab.fault("blackhole", "on");
    sleep(5.0);
    let killed = now_epoch();
    daemon.signal_and_wait("KILL");
    sleep(2.0);
    lab.fault("blackhole", "off"); // back while nobody watches
    sleep(3.0);
    let restarted = now_epoch();
    let mut daemon = lab.start_daemon(&config);
    sleep(4.0);
    assert!(daemon.signal_and_wait("TERM").success());

    let list = outages(&config, "telecom");
    assert_eq!(list.len(), 1, "{list:#?}");
    let o = &list[0];
    let (start, end, end_after) = (epoch(&o["start"]), epoch(&o["end"]), epoch(&o["end_after"]));
    assert!((start - cut).abs() <= 1.1, "start {start} vs cut {cut}");
    // It ended somewhere in [last seen down, first good round after the restart];
    // the lower bound is taken max(up_after, down_after) = 3 intervals before
    // the last heartbeat.
    assert!(
        end_after <= killed - 2.0 && end_after >= killed - 4.2,
        "end_after {end_after}, killed at {killed}"
    );
    assert!(
        end >= restarted && end <= restarted + 2.5,
        "end {end}, restarted at {restarted}"
    );
    // Only what was observed down is charged; the time away is not.
    let charged = o["charged_s"].as_f64().unwrap();
    assert!(
        (charged - (killed - cut)).abs() <= 2.2,
        "charged {charged}, observed down {}",
        killed - cut
    );
    let unobserved = o["unobserved_s"].as_f64().unwrap();
    assert!(
        (unobserved - (restarted - killed)).abs() <= 2.0,
        "unobserved {unobserved}"
    );
}

/// A spoofer in the anchors' namespace answers every echo request itself,
/// either with the request's payload (a perfect forgery, the control) or
/// with a wrong nonce (a stray reply).
const SPOOFER: &str = r#"
import socket, struct, sys
mode = sys.argv[1]
rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
tx = {}
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
while True:
    pkt, (src, _) = rx.recvfrom(2048)
    ihl = (pkt[0] & 15) * 4
    dst = socket.inet_ntoa(pkt[16:20])
    icmp = pkt[ihl:]
    if icmp[0] != 8 or not dst.startswith('198.19.100.'):
        continue
    payload = bytearray(icmp[8:])
    if mode == 'stray':
        payload[0] ^= 0xff
    reply = bytearray(b'\0\0\0\0' + icmp[4:8] + payload)
    struct.pack_into('!H', reply, 2, csum(bytes(reply)))
    if dst not in tx:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.bind((dst, 0))
        tx[dst] = s
    tx[dst].sendto(bytes(reply), (src, 0))
"#;

#[test]
fn a_stray_reply_with_the_wrong_nonce_does_not_make_a_dead_line_look_up() {
    if !can_use_netns("stray") {
        return;
    }
    let lab = Lab::up("llstray");
    let config = lab.config();
    let daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom"], SETTLE);
    // The anchors stop answering; the kernel ignores echo requests there.
    lab.fault("silent-anchors", "on");
    sleep(5.0);
    assert_eq!(
        daemon.metric("linkledger_line_up{line=\"telecom\"}"),
        Some(0.0),
        "silent anchors: line down"
    );

    // Control: a forger that copies the payload is (correctly) indistinguishable.
    let mut forger = lab.spawn_in("up", "python3", &["-c", SPOOFER, "copy"]);
    sleep(4.0);
    let up_with_copies = daemon.metric("linkledger_line_up{line=\"telecom\"}");
    let _ = forger.kill();
    let _ = forger.wait();
    assert_eq!(
        up_with_copies,
        Some(1.0),
        "the spoofer's replies reach the daemon"
    );

    // Replies from the right source, with the right sequence, wrong nonce.
    let stray_before = daemon
        .metric("linkledger_probe_stray_replies_total")
        .unwrap();
    let mut stray = lab.spawn_in("up", "python3", &["-c", SPOOFER, "stray"]);
    sleep(5.0);
    let up = daemon.metric("linkledger_line_up{line=\"telecom\"}");
    let stray_after = daemon
        .metric("linkledger_probe_stray_replies_total")
        .unwrap();
    let _ = stray.kill();
    let _ = stray.wait();
    assert_eq!(
        up,
        Some(0.0),
        "stray replies must not make the line look up"
    );
    assert!(
        stray_after - stray_before >= 4.0,
        "stray replies were seen and discarded: {stray_before} -> {stray_after}"
    );
}

/// A tmpfs mounted for one test, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs at {}", at.display());
        SmallDisk(at)
    }

    /// Writes a file until the disk is full.
    fn fill(&self) {
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", self.0.join("filler").display()))
            .stderr(std::process::Stdio::null())
            .status();
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The lab's config with its ledger on the small disk: the config's path
/// and the ledger's.
fn ledger_on(lab: &Lab, disk: &SmallDisk) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = lab.config();
    let db = disk.0.join("ledger.db");
    let text = std::fs::read_to_string(&config).unwrap();
    let old_db = lab.dir.path().join("ledger.db");
    std::fs::write(
        &config,
        text.replace(old_db.to_str().unwrap(), db.to_str().unwrap()),
    )
    .unwrap();
    (config, db)
}

/// Each lab line has exactly one outage, from the cut to the restore
/// (within an interval and a little).
fn one_outage_each(config: &std::path::Path, cut: f64, restored: f64) {
    for line in ["telecom", "telecom6"] {
        let list = outages(config, line);
        assert_eq!(list.len(), 1, "{line}: {list:#?}");
        let (start, end) = (epoch(&list[0]["start"]), epoch(&list[0]["end"]));
        assert!(
            (start - cut).abs() <= 1.1 && (end - restored).abs() <= 1.1,
            "{line}: {start}..{end} vs {cut}..{restored}"
        );
    }
}

#[test]
fn a_full_disk_delays_ledger_writes_but_loses_nothing() {
    if !can_use_netns("disk full") {
        return;
    }
    let lab = Lab::up("llfull");
    let disk = SmallDisk::mount(lab.dir.path().join("disk"), "8m");
    let (config, _) = ledger_on(&lab, &disk);
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);

    disk.fill();
    let cut = now_epoch();
    lab.fault("blackhole", "on");
    sleep(6.0);
    let restored = now_epoch();
    lab.fault("blackhole", "off");
    sleep(3.0);
    let pending = daemon.metric("linkledger_ledger_pending_writes").unwrap();
    let failures = daemon
        .metric("linkledger_ledger_write_failures_total")
        .unwrap();
    let line_up = daemon.metric("linkledger_line_up{line=\"telecom\"}");
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(
        log.contains("LEDGER WRITE FAILED"),
        "the refusal is logged loudly:\n{log}"
    );
    assert!(
        pending >= 2.0 && failures >= 1.0,
        "writes queued: pending {pending}, failures {failures}"
    );
    assert_eq!(
        line_up,
        Some(1.0),
        "probing went on while the disk was full"
    );

    disk.free();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while daemon.metric("linkledger_ledger_pending_writes") != Some(0.0) {
        assert!(
            std::time::Instant::now() < deadline,
            "backlog not written after the disk was freed"
        );
        sleep(0.2);
    }
    assert!(daemon.signal_and_wait("TERM").success());
    assert!(std::fs::read_to_string(&daemon.log)
        .unwrap()
        .contains("ledger accepts writes again"));
    one_outage_each(&config, cut, restored);
}

#[test]
fn the_whole_egress_down_is_shown_as_such_on_the_page_and_in_the_metrics() {
    if !can_use_netns("egress") {
        return;
    }
    let (lab, _config, mut daemon) = settled_lab("llegr");
    assert_eq!(
        daemon.metric("linkledger_egress_state{state=\"up\"}"),
        Some(1.0)
    );
    // Both lines (IPv4 and IPv6 through the one carrier) lose their anchors.
    lab.fault("blackhole", "on");
    wait_every(
        "the egress declared down",
        Duration::from_secs(10),
        Duration::from_millis(250),
        || daemon.metric("linkledger_egress_state{state=\"down\"}") == Some(1.0),
    );
    let one_hot: f64 = ["up", "down", "local_fault", "unobserved"]
        .iter()
        .filter_map(|s| daemon.metric(&format!("linkledger_egress_state{{state=\"{s}\"}}")))
        .sum();
    // The page in a real browser: the banner and the egress row's state.
    let dom = if have_tool("chromium", "chromium") {
        let out = run(Command::new("ip").args([
            "netns",
            "exec",
            &daemon.ns,
            "timeout",
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            "http://127.0.0.1:9798/",
        ]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        daemon.get("/")
    };
    lab.fault("blackhole", "off");
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);
    let after = daemon.metric("linkledger_egress_state{state=\"up\"}");
    let page_after = daemon.get("/");
    assert!(daemon.signal_and_wait("TERM").success());

    assert_eq!(one_hot, 1.0, "one state at a time");
    assert!(
        dom.contains("id=\"egress-banner\"") && dom.contains("出口整体中断：全部 2 条线路同时中断"),
        "{dom}"
    );
    let at = dom
        .find("<tr data-line=\"egress\">")
        .expect("the egress row");
    let row = &dom[at..at + dom[at..].find("</tr>").unwrap()];
    assert!(
        row.contains("class=\"state down\"") && row.contains("中断"),
        "{row}"
    );
    assert_eq!(after, Some(1.0));
    assert!(
        !page_after.contains("egress-banner"),
        "the banner goes with the outage"
    );
}

/// The disk full through an 8-s outage and still full when the daemon is
/// told to stop: the writes it could not make are kept in the journal
/// beside the ledger, and the next start replays them before anything
/// else. The outage is in the ledger with its edges, once.
#[test]
fn sigterm_with_the_disk_full_keeps_the_backlog_in_the_journal() {
    if !can_use_netns("journal") {
        return;
    }
    let lab = Lab::up("lljrnl");
    let disk = SmallDisk::mount(lab.dir.path().join("disk"), "8m");
    let (config, db) = ledger_on(&lab, &disk);
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);

    disk.fill();
    let cut = now_epoch();
    lab.fault("blackhole", "on");
    sleep(8.0);
    let restored = now_epoch();
    lab.fault("blackhole", "off");
    sleep(3.0);
    assert!(daemon.metric("linkledger_ledger_pending_writes").unwrap() >= 2.0);
    assert!(daemon.signal_and_wait("TERM").success());
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(
        log.contains("kept in the journal") && !log.contains("could not be made"),
        "the backlog is said to be kept:\n{log}"
    );
    let journal = disk.0.join("ledger.db.journal");
    assert!(journal.exists(), "no journal at {}", journal.display());

    disk.free();
    let mut again = lab.start_daemon(&config);
    again.wait_up(&["telecom", "telecom6"], SETTLE);
    assert!(again.signal_and_wait("TERM").success());
    let log = std::fs::read_to_string(&again.log).unwrap();
    assert!(
        log.contains("replayed the writes the previous run kept in its journal"),
        "{log}"
    );
    // Replayed and removed; what stands there now is this run's
    // reservation, zeros, holding no writes.
    let left = std::fs::read(&journal).unwrap_or_default();
    assert!(
        left.iter().all(|b| *b == 0),
        "the journal still holds writes after the replay"
    );
    assert_eq!(sql(&db, "SELECT count(*) FROM journal_replays"), "1");
    one_outage_each(&config, cut, restored);
}

/// A blackout that began while the daemon was dead: the restarted run finds
/// the lines down in its first rounds. Each outage begins where the daemon
/// gap ends (no hole between them, nothing charged for the time away) and
/// its start has its bound: the previous run's last heartbeat, taken back
/// as far as an unconfirmed failure could reach.
#[test]
fn a_blackout_that_began_while_the_daemon_was_dead_meets_the_gap() {
    if !can_use_netns("restart into down") {
        return;
    }
    let (lab, config, mut daemon) = settled_lab("lldead");
    sleep(1.0);
    let killed = now_epoch();
    daemon.signal_and_wait("KILL");
    sleep(1.0);
    let cut = now_epoch();
    lab.fault("blackhole", "on");
    sleep(3.0);
    let restarted = now_epoch();
    let mut daemon = lab.start_daemon(&config);
    sleep(6.0);
    let restored = now_epoch();
    lab.fault("blackhole", "off");
    sleep(4.0);
    assert!(daemon.signal_and_wait("TERM").success());

    let gaps = ledger_json(&config, "gaps", &[]);
    let gap = gaps
        .iter()
        .find(|g| g["reason"] == "daemon_not_running")
        .unwrap_or_else(|| panic!("no daemon gap: {gaps:#?}"));
    let (gap_start, gap_end) = (epoch(&gap["start"]), epoch(&gap["end"]));
    assert!(gap_start <= killed + 0.01 && (gap_end - restarted).abs() <= 2.0);
    for line in ["telecom", "telecom6"] {
        let list = outages(&config, line);
        assert_eq!(list.len(), 1, "{line}: {list:#?}");
        let o = &list[0];
        let start = epoch(&o["start"]);
        assert!(
            (start - gap_end).abs() < 0.002,
            "{line}: the outage starts at {start}, the gap ends at {gap_end}: a hole"
        );
        assert!(
            !o["start_after"].is_null(),
            "{line}: the start has no bound: {o:#?}"
        );
        let start_after = epoch(&o["start_after"]);
        assert!(
            start_after <= cut && start_after >= gap_start - 4.0,
            "{line}: bound {start_after} vs last heartbeat {gap_start}, cut {cut}"
        );
        assert!(
            (epoch(&o["end"]) - restored).abs() <= 1.1,
            "{line}: end {} vs restored {restored}",
            epoch(&o["end"])
        );
        assert!(
            o["unobserved_s"].as_f64().unwrap() < 0.01,
            "{line}: the time away is the gap's, not inside the outage"
        );
    }
}

/// libfaketime's environment: the process's wall clock is the real one
/// plus the offset in `file` (re-read at every reading), its monotonic
/// clock untouched.
fn faketime_env(file: &std::path::Path) -> Vec<(String, String)> {
    let lib = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        .iter()
        .map(|d| format!("{d}/faketime/libfaketime.so.1"))
        .find(|p| std::path::Path::new(p).exists())
        .expect("libfaketime (Debian package faketime)");
    [
        ("LD_PRELOAD", lib),
        ("FAKETIME_TIMESTAMP_FILE", file.display().to_string()),
        ("FAKETIME_NO_CACHE", "1".to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A clock an hour slow at start (NTP not yet caught up) and stepped right
/// while the daemon runs: the ledger follows the step at once (nothing
/// open), records it with both readings, and what follows is at the real
/// time. A second step while the lines are down waits until they are up
/// again, so the outage is as long as it really was. A restart after it
/// records a gap as long as the stop, not as the step.
#[test]
fn a_clock_stepped_while_running_is_followed_once_nothing_is_open() {
    if !can_use_netns("clock step") || !have_tool("faketime", "faketime") {
        return;
    }
    let lab = Lab::up("llclk");
    let config = lab.config();
    let offset = lab.dir.path().join("faketime");
    std::fs::write(&offset, "-3600\n").unwrap();
    let env = faketime_env(&offset);
    let mut daemon = lab.start_daemon_with(&config, &env);
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);
    let round = |d: &Daemon| d.metric("linkledger_last_round_timestamp_seconds").unwrap();
    let behind = now_epoch() - round(&daemon);
    assert!(
        (behind - 3600.0).abs() < 3.0,
        "the run starts an hour behind: {behind}"
    );
    let steps = || ledger_json(&config, "clock-steps", &[]);
    assert!(steps().is_empty());

    std::fs::write(&offset, "+0\n").unwrap();
    let stepped = now_epoch();
    wait_for("the step followed", Duration::from_secs(10), || {
        steps().len() == 1
    });
    let s = &steps()[0];
    assert_eq!(s["followed"], true, "{s:#?}");
    assert!(
        (s["step_s"].as_f64().unwrap() - 3600.0).abs() < 2.0,
        "{s:#?}"
    );
    assert!((epoch(&s["wall_time"]) - stepped).abs() < 3.0, "{s:#?}");
    assert!(
        (epoch(&s["run_time"]) + 3600.0 - stepped).abs() < 3.0,
        "{s:#?}"
    );
    sleep(2.0);
    assert!((now_epoch() - round(&daemon)).abs() < 2.0);
    let left = daemon.metric("linkledger_clock_offset_seconds").unwrap();
    assert!(left.abs() < 1.0, "offset left after following: {left}");

    // An outage now is at the real time; a step while it is open waits.
    let cut = lab.timed_fault("blackhole", "on");
    sleep(5.0);
    std::fs::write(&offset, "+600\n").unwrap();
    sleep(4.0);
    assert_eq!(steps().len(), 1, "followed while the lines were down");
    let waiting = daemon.metric("linkledger_clock_offset_seconds").unwrap();
    assert!((waiting - 600.0).abs() < 2.0, "offset shown: {waiting}");
    let restored = lab.timed_fault("blackhole", "off");
    wait_for("the second step followed", Duration::from_secs(20), || {
        steps().len() == 2
    });
    assert_eq!(steps()[1]["followed"], true);
    for line in ["telecom", "telecom6"] {
        let list = outages(&config, line);
        assert_eq!(list.len(), 1, "{line}: {list:#?}");
        let o = &list[0];
        let (start, end) = (epoch(&o["start"]), epoch(&o["end"]));
        assert!(
            edge_fits(start, cut, 1.0),
            "{line}: start {start} for the cut {cut:?}"
        );
        assert!(
            edge_fits(end, restored, 1.0),
            "{line}: end {end} for the restore {restored:?}: the step went into the outage"
        );
    }

    // A restart on the stepped clock: the gap is the stop, not the step.
    assert!(daemon.signal_and_wait("TERM").success());
    sleep(2.0);
    let mut daemon = lab.start_daemon_with(&config, &env);
    daemon.wait_up(&["telecom", "telecom6"], SETTLE);
    assert!(daemon.signal_and_wait("TERM").success());
    let gaps = ledger_json(&config, "gaps", &[]);
    let gap = gaps
        .iter()
        .find(|g| g["reason"] == "daemon_not_running")
        .unwrap_or_else(|| panic!("no daemon gap: {gaps:#?}"));
    let d = gap["duration_s"].as_f64().unwrap();
    assert!(d > 1.5 && d < 8.0, "a 2-s stop gave a {d} s gap");
}
