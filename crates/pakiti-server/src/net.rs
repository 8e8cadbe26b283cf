//! Address matching for trusted proxies: single addresses and CIDR blocks, IPv4 and IPv6.

use std::net::IpAddr;

/// Whether `ip` is `spec` (an address) or inside it (a CIDR block). A malformed spec matches
/// nothing.
#[must_use]
pub fn cidr_contains(spec: &str, ip: IpAddr) -> bool {
    let spec = spec.trim();
    let (addr, bits) = match spec.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(b) => (a, Some(b)),
            Err(_) => return false,
        },
        None => (spec, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => prefix_eq(&n.octets(), &i.octets(), bits.unwrap_or(32)),
        (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(&n.octets(), &i.octets(), bits.unwrap_or(128)),
        (IpAddr::V4(n), IpAddr::V6(i)) => i
            .to_ipv4_mapped()
            .is_some_and(|i| prefix_eq(&n.octets(), &i.octets(), bits.unwrap_or(32))),
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let bits = bits as usize;
    if bits > a.len() * 8 {
        return false;
    }
    let full = bits / 8;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
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
    fn blocks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(cidr_contains("10.0.0.0/8", ip("10.1.2.3")));
        assert!(!cidr_contains("10.0.0.0/8", ip("11.1.2.3")));
        assert!(cidr_contains("192.0.2.10", ip("192.0.2.10")));
        assert!(!cidr_contains("192.0.2.10", ip("192.0.2.11")));
        assert!(cidr_contains("192.0.2.0/25", ip("192.0.2.127")));
        assert!(!cidr_contains("192.0.2.0/25", ip("192.0.2.128")));
        assert!(cidr_contains("2001:db8::/32", ip("2001:db8::1")));
        assert!(cidr_contains("127.0.0.0/8", ip("::ffff:127.0.0.1")));
        assert!(!cidr_contains("garbage", ip("10.0.0.1")));
        assert!(!cidr_contains("10.0.0.0/40", ip("10.0.0.1")));
    }

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
