//! The HTTP channels: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书)
//! group robots in their documented formats and signature schemes, and
//! the generic webhook (a versioned JSON document, optionally signed with
//! HMAC-SHA256). A robot's URL carries its key, so neither the URL nor a
//! client error that would quote it ever reaches a log.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Failure, FailureKind, Outgoing};
use linkledger_config::notify::Robot;
use linkledger_config::ChannelKind;

type HmacSha256 = Hmac<Sha256>;

/// The webhook document's schema name; bumped on an incompatible change.
pub const WEBHOOK_SCHEMA: &str = "linkledger.notice/v1";

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// DingTalk: sign = base64(HMAC-SHA256(secret, "{ms}\n{secret}")), sent
/// URL-encoded as `timestamp` and `sign` query parameters.
pub fn dingtalk_sign(secret: &str, ms: i64) -> String {
    b64(&hmac(
        secret.as_bytes(),
        format!("{ms}\n{secret}").as_bytes(),
    ))
}

/// Feishu: sign = base64(HMAC-SHA256 keyed with "{secs}\n{secret}" over
/// nothing), sent in the body beside `timestamp`.
pub fn feishu_sign(secret: &str, secs: i64) -> String {
    b64(&hmac(format!("{secs}\n{secret}").as_bytes(), b""))
}

/// Webhook: `X-Linkledger-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), body)))
}

fn markdown(o: &Outgoing, bold: bool) -> String {
    let mut s = if bold {
        format!("**{}**\n\n", o.message.subject)
    } else {
        String::new()
    };
    for l in &o.message.lines {
        s += &format!("- {l}\n");
    }
    s
}

/// The request body (and, for DingTalk, the signed URL) for a robot.
pub fn request(kind: ChannelKind, r: &Robot, o: &Outgoing) -> (String, Value) {
    let now = linkledger_ledger::clock::wall_now();
    let secret = r.secret.as_ref().map(|s| s.0.as_str());
    match kind {
        ChannelKind::Wecom => {
            // WeCom colours a subject by its font's colour name.
            let mut content = markdown(o, true).replacen(
                &format!("**{}**", o.message.subject),
                &format!(
                    "<font color=\"{}\">**{}**</font>",
                    o.colour().2,
                    o.message.subject
                ),
                1,
            );
            for u in &r.mention_users {
                content += &format!("<@{u}>");
            }
            let body = json!({ "msgtype": "markdown", "markdown": { "content": content } });
            (r.url.0.clone(), body)
        }
        ChannelKind::Dingtalk => {
            let mut text = markdown(o, true);
            for m in &r.mention_mobiles {
                text += &format!(" @{m}");
            }
            for u in &r.mention_users {
                text += &format!(" @{u}");
            }
            let body = json!({
                "msgtype": "markdown",
                "markdown": { "title": o.message.subject, "text": text },
                "at": { "atMobiles": r.mention_mobiles, "atUserIds": r.mention_users, "isAtAll": false },
            });
            let url = match secret {
                Some(s) => {
                    let ms = now.timestamp_millis();
                    let sign: String =
                        url::form_urlencoded::byte_serialize(dingtalk_sign(s, ms).as_bytes())
                            .collect();
                    let sep = if r.url.0.contains('?') { '&' } else { '?' };
                    format!("{}{sep}timestamp={ms}&sign={sign}", r.url.0)
                }
                None => r.url.0.clone(),
            };
            (url, body)
        }
        ChannelKind::Feishu => {
            let mut content = markdown(o, false);
            for u in &r.mention_users {
                content += &format!("<at id={u}></at>");
            }
            let template = o.colour().1;
            let mut body = json!({
                "msg_type": "interactive",
                "card": {
                    "header": { "title": { "tag": "plain_text", "content": o.message.subject }, "template": template },
                    "elements": [ { "tag": "markdown", "content": content } ],
                },
            });
            if let Some(s) = secret {
                let secs = now.timestamp();
                body["timestamp"] = json!(secs.to_string());
                body["sign"] = json!(feishu_sign(s, secs));
            }
            (r.url.0.clone(), body)
        }
        ChannelKind::Webhook | ChannelKind::Email | ChannelKind::Alertmanager => {
            (r.url.0.clone(), o.document.clone())
        }
    }
}

/// Sends one message to an HTTP channel; Ok is the far end's answer.
pub async fn send(
    client: &reqwest::Client,
    kind: ChannelKind,
    r: &Robot,
    o: &Outgoing,
) -> Result<String, Failure> {
    let (url, body) = request(kind, r, o);
    let bytes = serde_json::to_vec(&body).expect("JSON values serialise");
    let mut req = client
        .post(&url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Idempotency-Key", &o.key);
    if kind == ChannelKind::Webhook {
        req = req.header("X-Linkledger-Event", o.kind.as_str());
        if let Some(s) = &r.secret {
            req = req.header("X-Linkledger-Signature", webhook_signature(&s.0, &bytes));
        }
    }
    let resp = req
        .body(bytes)
        .send()
        .await
        .map_err(super::request_failure)?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let answer: String = format!(
        "HTTP {} {}",
        status.as_u16(),
        text.chars().take(300).collect::<String>()
    );
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        return Err(Failure::new("http_5xx", FailureKind::Transient, answer));
    }
    if matches!(status.as_u16(), 401 | 403 | 404) {
        return Err(Failure::new("http_auth", FailureKind::Channel, answer));
    }
    if !status.is_success() {
        return Err(Failure::new("http_4xx", FailureKind::Message, answer));
    }
    // The robots answer 200 with an error code in the body.
    if kind != ChannelKind::Webhook {
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = v
            .get("errcode")
            .or_else(|| v.get("code"))
            .or_else(|| v.get("StatusCode"))
            .and_then(Value::as_i64);
        match code {
            Some(0) => {}
            Some(_) => return Err(Failure::new("robot_error", FailureKind::Channel, answer)),
            None => {
                return Err(Failure::new(
                    "robot_error",
                    FailureKind::Channel,
                    format!("{answer} (no error code in the answer)"),
                ))
            }
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors computed with Python's hmac module from each robot's
    /// documented recipe.
    #[test]
    fn dingtalk_feishu_and_webhook_signatures_match_independent_vectors() {
        assert_eq!(
            dingtalk_sign("SECabc", 1_700_000_000_000),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
        );
        assert_eq!(
            feishu_sign("sec", 1_700_000_000),
            "ttGYnPblC3CcNExnS7y5igm57JhpqZJtHpJ+TURiUeg="
        );
        assert_eq!(
            webhook_signature("k", b"{}"),
            "sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff"
        );
    }
}
