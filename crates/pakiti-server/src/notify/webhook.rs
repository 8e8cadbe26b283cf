//! Webhooks: the message as JSON, POSTed with a signature.
//!
//! Headers: `X-Pakiti-Timestamp` (Unix seconds), `X-Pakiti-Signature: sha256=<hex>` and
//! `X-Pakiti-Delivery` (the outbox id: the same on every retry of one message). The signature
//! is HMAC-SHA256, keyed with the rule's secret, over the timestamp, a `.`, and the exact body
//! bytes. To verify: recompute it over `"{X-Pakiti-Timestamp}.{raw body}"`, compare in constant
//! time, and refuse timestamps more than a few minutes old (a replayed delivery). [`verify`]
//! does exactly that. Any 2xx answer is delivery; anything else is retried.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header's value for `body` sent at `timestamp`: `sha256=<hex>`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a received webhook: `signature_header` must be [`signature`] of `body` at
/// `timestamp_header`, and the timestamp within `max_age_secs` of `now`.
#[must_use]
pub fn verify(
    secret: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    max_age_secs: i64,
) -> bool {
    let Ok(ts) = timestamp_header.trim().parse::<i64>() else {
        return false;
    };
    if (now - ts).abs() > max_age_secs {
        return false;
    }
    let Some(hex_sig) = signature_header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// POSTs `payload` to `url`, signed with `secret`.
///
/// # Errors
/// The request fails or the answer is not 2xx.
pub async fn post(
    url: &str,
    secret: &str,
    payload: &str,
    id: i64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("pakiti/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .header("X-Pakiti-Timestamp", ts.to_string())
        .header(
            "X-Pakiti-Signature",
            signature(secret, ts, payload.as_bytes()),
        )
        .header("X-Pakiti-Delivery", id.to_string())
        .body(payload.to_owned())
        .send()
        .await
        .map_err(|e| anyhow::Error::from(e).context(format!("POST {url}")))?;
    let status = r.status();
    if status.is_success() {
        return Ok(());
    }
    let body = r.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    anyhow::bail!("POST {url}: HTTP {status}: {}", body.trim())
}
