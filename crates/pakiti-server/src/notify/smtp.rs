//! E-mail through the configured SMTP server (`[notify.smtp]`), with lettre (rustls): STARTTLS,
//! implicit TLS or plain, optional AUTH. lettre's blocking transport runs on tokio's blocking
//! pool (its async transport needs `async-trait`, whose `syn` features would rebuild every
//! proc-macro crate of the workspace for one SMTP conversation per message). The message is a plain-text UTF-8 mail made here
//! (headers stripped of line breaks, so nothing a rule name holds can add a header).

use std::time::Duration;

use anyhow::Context;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use super::Message;
use crate::settings::{SmtpSecurity, SmtpSettings};

/// Whether `s` is an e-mail address SMTP accepts.
#[must_use]
pub fn valid_address(s: &str) -> bool {
    s.parse::<Address>().is_ok()
}

/// A header value on one line, ASCII only.
fn header_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The raw message (RFC 5322, CRLF line ends).
#[must_use]
pub fn render(from: &str, to: &str, msg: &Message, id: i64, now: OffsetDateTime) -> String {
    let date = now.format(&Rfc2822).unwrap_or_default();
    let mut out = String::new();
    for (name, value) in [
        ("From", from.to_owned()),
        ("To", to.to_owned()),
        ("Subject", msg.subject()),
        ("Date", date),
        (
            "Message-ID",
            format!(
                "<pakiti.{id}.{}@{}>",
                now.unix_timestamp(),
                from.rsplit('@').next().unwrap_or("pakiti")
            ),
        ),
        ("MIME-Version", "1.0".to_owned()),
        ("Content-Type", "text/plain; charset=utf-8".to_owned()),
        ("Content-Transfer-Encoding", "8bit".to_owned()),
        ("Auto-Submitted", "auto-generated".to_owned()),
    ] {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&header_value(&value));
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    for line in msg.text().lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// Sends `msg` to `to`.
///
/// # Errors
/// No SMTP host is configured, an address is invalid, or the server refuses or fails.
pub async fn send(
    cfg: &SmtpSettings,
    to: &str,
    msg: &Message,
    id: i64,
    timeout: Duration,
) -> anyhow::Result<()> {
    if cfg.host.trim().is_empty() {
        anyhow::bail!("no [notify.smtp] host configured");
    }
    let from: Address = cfg
        .from
        .parse()
        .with_context(|| format!("[notify.smtp] from {:?}", cfg.from))?;
    let rcpt: Address = to.parse().with_context(|| format!("recipient {to:?}"))?;
    let builder = match cfg.security {
        SmtpSecurity::Tls => SmtpTransport::relay(&cfg.host)?,
        SmtpSecurity::Starttls => SmtpTransport::starttls_relay(&cfg.host)?,
        SmtpSecurity::None => SmtpTransport::builder_dangerous(&cfg.host),
    };
    let mut builder = builder.port(cfg.port).timeout(Some(timeout));
    if !cfg.username.is_empty() {
        builder = builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
    }
    let transport = builder.build();
    let envelope = Envelope::new(Some(from), vec![rcpt])?;
    let raw = render(&cfg.from, to, msg, id, OffsetDateTime::now_utc());
    let (host, port) = (cfg.host.clone(), cfg.port);
    tokio::time::timeout(
        timeout + Duration::from_secs(5),
        tokio::task::spawn_blocking(move || transport.send_raw(&envelope, raw.as_bytes())),
    )
    .await
    .map_err(|_| anyhow::anyhow!("SMTP {host}:{port} timed out"))??
    .with_context(|| format!("SMTP {host}:{port}"))?;
    Ok(())
}
