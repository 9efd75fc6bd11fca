//! One vocabulary for everything a person reads: status page, alerts and
//! reports say each concept with the same words, in Chinese without any
//! identifier of the ledger's (`upstream_unreachable`, `on_site`, ...).
//! The ledger's codes stay in JSON and the CLI's machine output.

use serde::Deserialize;

/// The language of messages (and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

fn say(l: Language, zh: &'static str, en: &'static str) -> &'static str {
    if l == Language::ZhCn {
        zh
    } else {
        en
    }
}

/// The whole egress (every line at once).
pub fn egress(l: Language) -> &'static str {
    say(l, "出口整体", "whole egress")
}

/// The repair report the carrier owes after a fault (故障维修报告).
pub fn repair_report(l: Language) -> &'static str {
    say(l, "维修报告", "repair report")
}

/// A line's (or the egress's, or a block's) state.
pub fn state(l: Language, s: &str) -> &'static str {
    match s {
        "up" => say(l, "正常", "up"),
        "down" => say(l, "中断", "down"),
        "local_fault" => say(l, "本端故障", "local fault"),
        _ => say(l, "未监测", "unobserved"),
    }
}

/// An outage's cause.
pub fn cause(l: Language, code: &str) -> &'static str {
    match code {
        "upstream_unreachable" => say(l, "上游锚点不可达", "upstream anchors unreachable"),
        "gateway_unreachable" => say(l, "运营商网关不可达", "carrier gateway unreachable"),
        "interface_down" => say(l, "接口断开（SNMP）", "interface down (SNMP)"),
        "admin_down" => say(l, "接口被管理关闭（SNMP）", "interface shut down (SNMP)"),
        "ip_block_unreachable" => say(l, "IP 地址段不可达", "IP block unreachable"),
        _ => say(l, "其他原因", "other cause"),
    }
}

/// Which tiers answered, as an outage's cause says it.
pub fn tiers_answered(l: Language, cause: &str) -> &'static str {
    match cause {
        "upstream_unreachable" => say(
            l,
            "本端与运营商网关应答，上游锚点无应答",
            "our side and the carrier's gateway answered; the upstream anchors did not",
        ),
        "gateway_unreachable" => say(
            l,
            "本端应答，运营商网关与上游锚点均无应答",
            "our side answered; neither the carrier's gateway nor the upstream anchors did",
        ),
        "interface_down" => say(
            l,
            "线路接口断开（SNMP 报告）",
            "the line's interface is down (SNMP)",
        ),
        "admin_down" => say(
            l,
            "线路接口被管理关闭（SNMP 报告）",
            "the line's interface is shut down (SNMP)",
        ),
        "ip_block_unreachable" => say(
            l,
            "线路从内部可达，外部探测点无法到达公网地址段",
            "the line answers from inside; the vantage agents cannot reach the public block",
        ),
        _ => say(l, "探测无应答", "the probes got no answer"),
    }
}

/// A probe tier.
pub fn tier(l: Language, t: &str) -> &'static str {
    match t {
        "local" => say(l, "本端", "our side"),
        "gateway" => say(l, "运营商网关", "carrier gateway"),
        "upstream" => say(l, "上游锚点", "upstream anchors"),
        _ => say(l, "其他层级", "other tier"),
    }
}

/// A kind of degradation.
pub fn degradation(l: Language, kind: &str) -> &'static str {
    match kind {
        "loss" => say(l, "丢包", "packet loss"),
        "rtt" => say(l, "时延", "latency"),
        "utilisation" => say(l, "带宽利用率", "utilisation"),
        _ => say(l, "质量", "quality"),
    }
}

/// What opened a fault.
pub fn trigger(l: Language, t: &str) -> &'static str {
    match t {
        "line_down" => say(l, "线路中断", "line down"),
        "egress_down" => say(l, "出口整体中断", "whole egress down"),
        "degradation" => say(l, "质量劣化", "degradation"),
        "ip_block_unreachable" => say(l, "IP 地址段不可达", "IP block unreachable"),
        _ => say(l, "故障", "fault"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_words_carry_no_identifier() {
        let codes = [
            "up",
            "down",
            "local_fault",
            "unobserved",
            "upstream_unreachable",
            "gateway_unreachable",
            "interface_down",
            "admin_down",
            "ip_block_unreachable",
            "local",
            "gateway",
            "upstream",
            "loss",
            "rtt",
            "utilisation",
            "line_down",
            "egress_down",
            "degradation",
            "something_new",
        ];
        let zh = Language::ZhCn;
        for c in codes {
            for w in [
                state(zh, c),
                cause(zh, c),
                tier(zh, c),
                degradation(zh, c),
                trigger(zh, c),
            ] {
                assert!(
                    !w.contains('_') && !w.chars().any(|ch| ch.is_ascii_lowercase()),
                    "{c}: {w}"
                );
            }
        }
    }
}
