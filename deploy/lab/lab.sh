#!/usr/bin/env bash
# linkledger network lab: four network namespaces in a chain, for trying
# linkledger out and for its tests. Root only. Addresses are from the
# benchmarking range 198.18.0.0/15 and ULA fd00::/8; nothing leaves the lab.
#
#   <p>-mon  ── 198.18.0.1 | fd00:0::1     the monitor (linkledger runs here)
#      │
#   <p>-fw   ── 198.18.0.2 | fd00:0::2     our firewall / CPE      (tier local)
#      │        198.18.1.2 | fd00:1::2
#   <p>-pe   ── 198.18.1.1 | fd00:1::1     the carrier's edge      (tier gateway)
#      │        198.19.0.1 | fd00:2::1
#   <p>-up   ── 198.19.0.2 | fd00:2::2     beyond the carrier, anchors on lo:
#      │        198.19.100.1, 198.19.100.6, fd00:100::1   (tier upstream)
#      ├── <p>-i1  198.19.10.2 (up: 198.19.10.1)   "internet" sites where vantage
#      └── <p>-i2  198.19.11.2 (up: 198.19.11.1)   agents run (agent 1, agent 2)
#
#   <p>-db   ── 198.18.70.1, 198.18.71.1   a PostgreSQL server's host, linked to the
#               (mon: 198.18.70.2, .71.2)   monitor: an active/standby pair's daemons
#                                           reach it at one address each
#
# The customer's public IP block 198.18.50.0/29 is on the firewall's public
# side (198.18.50.1 and .2 on its lo), routed to it by the carrier's edge:
# what the public, and the agents, reach from outside.
#
# Usage:
#   lab.sh up PREFIX                    build the lab (PREFIX: short, e.g. "ll1")
#   lab.sh down PREFIX                  remove it (safe to repeat)
#   lab.sh fault PREFIX blackhole on|off    carrier drops all traffic to the anchors
#   lab.sh fault PREFIX cut-local on|off    our firewall's inside link goes down
#   lab.sh fault PREFIX loss N|off          N % random loss of ICMP into the monitor
#   lab.sh fault PREFIX silent-anchors on|off  anchors stay reachable but ignore echo
#   lab.sh fault PREFIX carrier-port on|off    the carrier's port facing our firewall goes
#                                       down: the firewall's out0 is oper down, admin up
#   lab.sh fault PREFIX block-unrouted on|off  the carrier stops routing the public block
#                                       (inbound to it dropped; inside probes stay green)
#   lab.sh fault PREFIX agent-uplink N on|off  agent site N's uplink goes down
#   lab.sh fault PREFIX central-unreachable on|off  the agents cannot reach the monitor
#   lab.sh fault PREFIX db-partition N on|off  the monitor cannot reach the database host's
#                                       address N (1: 198.18.70.1, 2: 198.18.71.1)
#   lab.sh exec PREFIX NS CMD...        run CMD in namespace NS (mon, fw, pe, up, i1, i2)
#   lab.sh config PREFIX DB LISTEN [snmp] [vantage]   print a linkledger config for this lab
#                                       (snmp: telecom polls the firewall's out0 by SNMP;
#                                       vantage: agents 1 and 2 probe the public block)
#   lab.sh agent-config PREFIX N CENTRAL BUFFER [INTERVAL]   print agent N's config
#   lab.sh snmpd PREFIX DIR             start snmpd on the firewall (198.18.0.2:161,
#                                       community "lab-community"), state in DIR
set -euo pipefail

die() { echo "lab.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: lab.sh up|down|fault|exec|config PREFIX ..."
cmd=$1 p=$2
shift 2
[[ $p =~ ^[a-z0-9]{1,10}$ ]] || die "PREFIX must be 1-10 lowercase letters or digits, got '$p'"
n() { ip netns exec "$p-$1" "${@:2}"; }

NAMESPACES="mon fw pe up i1 i2 db"
# Lab agent tokens (a lab's, not secrets).
agent_token() { echo "lab-agent-$1-token-0123456789abcdef0123456789"; }

up() {
    for ns in $NAMESPACES; do ip netns add "$p-$ns"; done
    ip link add eth0 netns "$p-mon" type veth peer name in0 netns "$p-fw"
    ip link add out0 netns "$p-fw" type veth peer name in0 netns "$p-pe"
    ip link add out0 netns "$p-pe" type veth peer name in0 netns "$p-up"
    ip link add i1 netns "$p-up" type veth peer name eth0 netns "$p-i1"
    ip link add i2 netns "$p-up" type veth peer name eth0 netns "$p-i2"
    for ns in $NAMESPACES; do
        n $ns ip link set lo up
        n $ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
        # Keep IPv6 addresses over a link flap, as IPv4 does.
        n $ns sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
    done
    n mon ip addr add 198.18.0.1/24 dev eth0; n mon ip addr add fd00:0::1/64 dev eth0 nodad
    n fw ip addr add 198.18.0.2/24 dev in0;   n fw ip addr add fd00:0::2/64 dev in0 nodad
    n fw ip addr add 198.18.1.2/24 dev out0;  n fw ip addr add fd00:1::2/64 dev out0 nodad
    n pe ip addr add 198.18.1.1/24 dev in0;   n pe ip addr add fd00:1::1/64 dev in0 nodad
    n pe ip addr add 198.19.0.1/24 dev out0;  n pe ip addr add fd00:2::1/64 dev out0 nodad
    n up ip addr add 198.19.0.2/24 dev in0;   n up ip addr add fd00:2::2/64 dev in0 nodad
    n up ip addr add 198.19.100.1/32 dev lo; n up ip addr add 198.19.100.6/32 dev lo
    n up ip addr add fd00:100::1/128 dev lo
    n mon ip link set eth0 up; n fw ip link set in0 up; n fw ip link set out0 up
    n pe ip link set in0 up; n pe ip link set out0 up; n up ip link set in0 up
    for ns in fw pe; do n $ns sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1; done
    n mon ip route add default via 198.18.0.2;  n mon ip -6 route add default via fd00:0::2
    n fw ip route add default via 198.18.1.1;   n fw ip -6 route add default via fd00:1::1
    n pe ip route add 198.18.0.0/24 via 198.18.1.2; n pe ip -6 route add fd00:0::/64 via fd00:1::2
    n pe ip route add 198.19.100.0/24 via 198.19.0.2; n pe ip -6 route add fd00:100::/64 via fd00:2::2
    n up ip route add default via 198.19.0.1;   n up ip -6 route add default via fd00:2::1
    # The public block on the firewall, routed to it by the carrier's edge.
    n fw ip addr add 198.18.50.1/32 dev lo; n fw ip addr add 198.18.50.2/32 dev lo
    n pe ip route add 198.18.50.0/29 via 198.18.1.2
    # The internet sites of the vantage agents, beyond the carrier.
    for i in 1 2; do
        n up ip addr add "198.19.1$i.1/30" dev "i$i"; n up ip link set "i$i" up
        n "i$i" ip addr add "198.19.1$i.2/30" dev eth0; n "i$i" ip link set eth0 up
        n "i$i" ip route add default via "198.19.1$i.1"
    done
    n up sysctl -qw net.ipv4.ip_forward=1
    n pe ip route add 198.19.8.0/21 via 198.19.0.2
    # The database's host, beside the monitor.
    ip link add db0 netns "$p-mon" type veth peer name eth0 netns "$p-db"
    n db ip addr add 198.18.70.1/24 dev eth0; n db ip addr add 198.18.71.1/24 dev eth0
    n mon ip addr add 198.18.70.2/24 dev db0; n mon ip addr add 198.18.71.2/24 dev db0
    n db ip link set eth0 up; n mon ip link set db0 up
}

down() {
    for ns in $NAMESPACES; do
        # Processes left in a namespace (a daemon, a spoofer) go with it.
        for pid in $(ip netns pids "$p-$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$p-$ns" 2>/dev/null || true
    done
}

fault() {
    local what=${1:-} arg=${2:-}
    case "$what/$arg" in
        blackhole/on)  n pe nft -f - <<'NFT'
table inet llab_blackhole {
    chain forward { type filter hook forward priority 0; policy accept;
        ip daddr 198.19.100.0/24 drop
        ip6 daddr fd00:100::/64 drop
    }
}
NFT
        ;;
        blackhole/off) n pe nft delete table inet llab_blackhole ;;
        cut-local/on)  n fw ip link set in0 down ;;
        cut-local/off) n fw ip link set in0 up ;;
        loss/off)      n mon nft delete table inet llab_loss ;;
        loss/*)        [[ $arg =~ ^[0-9]{1,2}$ ]] || die "loss takes a percentage 0-99 or off"
                       n mon nft -f - <<NFT
table inet llab_loss {
    chain input { type filter hook input priority 0; policy accept;
        meta l4proto { icmp, ipv6-icmp } numgen random mod 100 < $arg drop
    }
}
NFT
        ;;
        carrier-port/on)  n pe ip link set in0 down ;;
        carrier-port/off) n pe ip link set in0 up
                          n pe ip route replace 198.18.0.0/24 via 198.18.1.2
                          n pe ip -6 route replace fd00:0::/64 via fd00:1::2 ;;
        block-unrouted/on)  n pe nft -f - <<'NFT'
table inet llab_block {
    chain forward { type filter hook forward priority 0; policy accept;
        ip daddr 198.18.50.0/29 drop
    }
}
NFT
        ;;
        block-unrouted/off) n pe nft delete table inet llab_block ;;
        agent-uplink/*) local on=${3:-}
                        [[ $arg =~ ^[12]$ ]] || die "agent-uplink takes the site 1 or 2, then on|off"
                        case "$on" in
                            on) n up ip link set "i$arg" down ;;
                            off) n up ip link set "i$arg" up ;;
                            *) die "agent-uplink $arg takes on|off" ;;
                        esac ;;
        central-unreachable/on)  n up nft -f - <<'NFT'
table inet llab_central {
    chain forward { type filter hook forward priority 0; policy accept;
        ip saddr 198.19.8.0/21 ip daddr 198.18.0.0/24 drop
    }
}
NFT
        ;;
        central-unreachable/off) n up nft delete table inet llab_central ;;
        db-partition/*) local on=${3:-}
                        [[ $arg =~ ^[12]$ ]] || die "db-partition takes the database address 1 or 2, then on|off"
                        case "$on" in
                            on) n mon nft -f - <<NFT
table inet llab_db$arg {
    chain output { type filter hook output priority 0; policy accept;
        ip daddr 198.18.7$((arg - 1)).1 drop
    }
    chain input { type filter hook input priority 0; policy accept;
        ip saddr 198.18.7$((arg - 1)).1 drop
    }
}
NFT
                            ;;
                            off) n mon nft delete table inet "llab_db$arg" ;;
                            *) die "db-partition $arg takes on|off" ;;
                        esac ;;
        silent-anchors/on)  n up sysctl -qw net.ipv4.icmp_echo_ignore_all=1 ;;
        silent-anchors/off) n up sysctl -qw net.ipv4.icmp_echo_ignore_all=0 ;;
        *) die "unknown fault '$what $arg'" ;;
    esac
}

config() {
    local db=${1:?DB path} listen=${2:?listen address}
    cat <<TOML
# linkledger config for lab "$p" (generated by deploy/lab/lab.sh)
[daemon]
database = "$db"
listen = "$listen"
timezone = "Asia/Shanghai"

[contract]
name = "Lab egress lease"
start = "2024-07-01"
annual_downtime_cap = "4h"

[probe]
interval = "1s"
timeout = "800ms"
down_after = 3
up_after = 2

[[line]]
id = "telecom"
carrier = "China Telecom"
role = "lead"
bandwidth_mbps = 1000
ip_blocks = ["198.18.50.0/29"]
source = "198.18.0.1"
local = ["198.18.0.2"]
gateway = ["198.18.1.1"]
upstream = ["198.19.100.1", "198.19.100.6"]
upstream_quorum = 1
TOML
    local snmp="" vantage=""
    for opt in "${@:3}"; do
        case "$opt" in
            snmp) snmp=1 ;;
            vantage) vantage=1 ;;
            *) die "config options are snmp and vantage, not '$opt'" ;;
        esac
    done
    if [ -n "$vantage" ]; then
        cat <<'TOML'
block_targets = ["198.18.50.1", "198.18.50.2"]
TOML
    fi
    if [ -n "$snmp" ]; then
        cat <<'TOML'

[line.snmp]
agent = "198.18.0.2"
version = "2c"
community = "lab-community"
if_name = "out0"
interval = "5s"
timeout = "1s"
retries = 1
TOML
    fi
    cat <<'TOML'

[[line]]
id = "telecom6"
carrier = "China Telecom (IPv6)"
role = "lead"
bandwidth_mbps = 1000
ip_blocks = ["fd00:100::/64"]
interface = "eth0"
local = ["fd00:0::2"]
gateway = ["fd00:1::1"]
upstream = ["fd00:100::1"]
upstream_quorum = 1
TOML
    if [ -n "$vantage" ]; then
        for i in 1 2; do
            printf '\n[[vantage]]\nid = "agent%s"\ntoken = "%s"\n' "$i" "$(agent_token "$i")"
        done
    fi
}

agent_config() {
    local i=${1:?agent 1 or 2} central=${2:?central URL} buffer=${3:?buffer path} every=${4:-1s}
    [[ $i =~ ^[12]$ ]] || die "agent-config takes the site 1 or 2"
    cat <<TOML
# linkledger agent $i for lab "$p" (generated by deploy/lab/lab.sh); run in $p-i$i
[agent]
id = "agent$i"
central = "$central"
token = "$(agent_token "$i")"
interval = "$every"
timeout = "500ms"
buffer = "$buffer"
anchors = ["198.19.1$i.1"]
TOML
}

snmpd_up() {
    local dir=${1:?state directory}
    mkdir -p "$dir"
    cat > "$dir/snmpd.conf" <<CONF
agentAddress udp:198.18.0.2:161
rocommunity lab-community 198.18.0.0/24
CONF
    # Debian's snmpd without MIB files: numeric OIDs only (-M, -m).
    n fw snmpd -Lf "$dir/snmpd.log" -C -M /nonexistent -m "" -c "$dir/snmpd.conf" \
        --persistentDir="$dir/persist" -p "$dir/snmpd.pid"
}

case "$cmd" in
    up) down; up ;;
    down) down ;;
    fault) fault "$@" ;;
    exec) ns=${1:?namespace}; shift; n "$ns" "$@" ;;
    config) config "$@" ;;
    agent-config) agent_config "$@" ;;
    snmpd) snmpd_up "$@" ;;
    *) die "unknown command '$cmd'" ;;
esac
