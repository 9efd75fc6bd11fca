//! Email through SMTP (lettre over rustls): STARTTLS, implicit TLS or a
//! plain local relay, with authentication and several recipients. Each
//! message has a stable Message-ID made from its notice's key, and a
//! fault's later messages carry `In-Reply-To` / `References` to the first,
//! so one fault's mail groups into one thread.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Failure, FailureKind, Outgoing};
use linkledger_config::notify::{Email, SmtpTls};

/// `<linkledger.fault-12.opened.CHANNEL@DOMAIN>` from a notice key.
pub fn message_id(key: &str, channel: &str, from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty())
        .unwrap_or("linkledger.invalid");
    let local: String = format!("linkledger.{key}.{channel}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<{local}@{domain}>")
}

fn html(o: &Outgoing) -> String {
    let esc = super::message::html_escape;
    let colour = o.colour().0;
    let mut h = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\
         <h2 style=\"color:{colour}\">{}</h2><ul>",
        esc(&o.message.subject)
    );
    for l in &o.message.lines {
        h += &format!("<li>{}</li>", esc(l));
    }
    h += "</ul><p style=\"color:#666;font-size:small\">linkledger</p></body></html>";
    h
}

fn text(o: &Outgoing) -> String {
    let mut t = format!("{}\n\n", o.message.subject);
    for l in &o.message.lines {
        t += &format!("  {l}\n");
    }
    t + "\n-- \nlinkledger\n"
}

fn transport(e: &Email) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
    let tls_params = || {
        let mut b = TlsParameters::builder(e.host.clone());
        if let Some(f) = &e.ca_file {
            let pem = std::fs::read(f).map_err(|err| {
                Failure::new(
                    "tls",
                    FailureKind::Channel,
                    format!("cannot read ca_file {}: {err}", f.display()),
                )
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|err| {
                Failure::new(
                    "tls",
                    FailureKind::Channel,
                    format!("ca_file {} is not a PEM certificate: {err}", f.display()),
                )
            })?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls()
            .map_err(|err| Failure::new("tls", FailureKind::Channel, err.to_string()))
    };
    let tls = match e.tls {
        SmtpTls::Starttls => Tls::Required(tls_params()?),
        SmtpTls::Tls => Tls::Wrapper(tls_params()?),
        SmtpTls::None => Tls::None,
    };
    let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(e.host.clone())
        .port(e.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let Some((user, pass)) = &e.login {
        t = t.credentials(Credentials::new(user.clone(), pass.0.clone()));
    }
    Ok(t.build())
}

/// Builds the message (public for tests of its headers).
pub fn build(e: &Email, channel: &str, o: &Outgoing) -> Result<lettre::Message, Failure> {
    let bad = |what: &str, err: String| {
        Failure::new("config", FailureKind::Channel, format!("{what}: {err}"))
    };
    let from: Mailbox = e
        .from
        .parse()
        .map_err(|err: lettre::address::AddressError| bad("from", err.to_string()))?;
    let mut m = lettre::Message::builder()
        .from(from)
        .subject(o.message.subject.clone())
        .message_id(Some(message_id(&o.key, channel, &e.from)));
    for t in &e.to {
        m = m.to(t
            .parse()
            .map_err(|err: lettre::address::AddressError| bad("to", err.to_string()))?);
    }
    if let Some(first) = &o.thread {
        let id = message_id(first, channel, &e.from);
        m = m.in_reply_to(id.clone()).references(id);
    }
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(text(o)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html(o)),
        );
    match attachment(o) {
        Some(pdf) => m.multipart(MultiPart::mixed().multipart(body).singlepart(pdf)),
        None => m.multipart(body),
    }
    .map_err(|err| bad("message", err.to_string()))
}

/// A scheduled report's PDF, attached to its `report_ready` email. A PDF
/// that cannot be read is left off with a warning; the message still
/// names its path.
fn attachment(o: &Outgoing) -> Option<SinglePart> {
    if o.kind != linkledger_ledger::outbox::NoticeKind::ReportReady {
        return None;
    }
    let path = o.document.pointer("/detail/files/pdf")?.as_str()?;
    match std::fs::read(path) {
        Ok(bytes) => {
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "report.pdf".into());
            Some(lettre::message::Attachment::new(name).body(
                bytes,
                ContentType::parse("application/pdf").expect("a valid type"),
            ))
        }
        Err(e) => {
            tracing::warn!(path, error = %e, "the report's PDF cannot be read; the email goes without it");
            None
        }
    }
}

/// Sends one message; Ok is the server's answer.
pub async fn send(e: &Email, channel: &str, o: &Outgoing) -> Result<String, Failure> {
    let message = build(e, channel, o)?;
    let t = transport(e)?;
    match t.send(message).await {
        Ok(resp) => Ok(format!(
            "SMTP {} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Err(err) => {
            let code = err.status().map(|c| c.to_string());
            let detail = err.to_string();
            let no_mechanism = detail.contains("authentication mechanism");
            let auth =
                no_mechanism || matches!(code.as_deref(), Some("535" | "534" | "530" | "538"));
            let (reason, kind) = if auth {
                ("smtp_auth", FailureKind::Channel)
            } else if err.is_tls() || detail.contains("certificate") || detail.contains("TLS") {
                ("tls", FailureKind::Channel)
            } else if err.is_timeout() {
                ("timeout", FailureKind::Transient)
            } else if err.is_permanent() {
                ("smtp_permanent", FailureKind::Message)
            } else if err.is_transient() {
                ("smtp_transient", FailureKind::Transient)
            } else {
                ("connect", FailureKind::Transient)
            };
            let detail = if no_mechanism {
                format!("the SMTP server offers no login mechanism linkledger can use (PLAIN or LOGIN; some servers offer them only over TLS): {detail}")
            } else if auth {
                format!(
                    "the SMTP server refused the login of {:?}: {detail}",
                    e.login.as_ref().map(|l| l.0.as_str()).unwrap_or("")
                )
            } else {
                detail
            };
            Err(Failure::new(reason, kind, detail))
        }
    }
}
