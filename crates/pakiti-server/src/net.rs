//! Address matching for trusted proxies: single addresses and CIDR blocks, IPv4 and IPv6.
//!
//! The blocks themselves ([`Cidr`], [`cidr_contains`]) are parsed with the settings, in
//! `pakiti_config::net`; what needs HTTP headers or DNS is here.

use std::net::IpAddr;

pub use pakiti_config::net::{Cidr, CidrError, cidr_contains};

/// The last `X-Forwarded-For` entry: the address a trusted proxy saw (the entries before it
/// are the client's to forge). `None` without the header or when that entry is no address.
#[must_use]
pub fn last_forwarded_for(headers: &axum::http::HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|a| a.trim().parse().ok())
}

/// Whether `ip`'s reverse DNS name is one of `names` (case-insensitive, trailing dot ignored)
/// and that name resolves back to `ip` (forward-confirmed reverse DNS, so a PTR record alone
/// cannot make a host trusted). Blocking: call from a blocking task.
#[must_use]
pub fn reverse_dns_matches(ip: IpAddr, names: &[String]) -> bool {
    let Ok(name) = dns_lookup::lookup_addr(&ip) else {
        return false;
    };
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let name = norm(&name);
    if !names.iter().any(|n| norm(n) == name) {
        return false;
    }
    dns_lookup::lookup_host(&name).is_ok_and(|addrs| addrs.into_iter().any(|a| a == ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_confirmed_reverse_dns() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(reverse_dns_matches(lo, &["LOCALHOST.".into()]));
        assert!(!reverse_dns_matches(lo, &["proxy.example.org".into()]));
        assert!(!reverse_dns_matches(
            "192.0.2.77".parse().unwrap(),
            &["localhost".into()]
        ));
    }
}
