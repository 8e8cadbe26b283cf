//! Addresses and CIDR blocks of the settings (trusted proxies), IPv4 and IPv6: parsed when the
//! settings load, and matched against a peer's address.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

/// An address or CIDR block from the settings (`192.0.2.10`, `10.0.0.0/8`, `2001:db8::/32`),
/// parsed when the settings load: a malformed one is a settings error, never a block that
/// silently matches nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr(IpNet);

/// A malformed address or CIDR block.
#[derive(Debug, thiserror::Error)]
#[error("{spec:?} is not an address or CIDR block (192.0.2.10, 10.0.0.0/8, 2001:db8::/32)")]
pub struct CidrError {
    spec: String,
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let s = spec.trim();
        let net = match s.parse::<IpNet>() {
            Ok(net) => net,
            // A single address is the block of just that address.
            Err(_) => s
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| CidrError {
                    spec: spec.to_owned(),
                })?,
        };
        Ok(Cidr(net))
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;

    fn try_from(spec: String) -> Result<Self, Self::Error> {
        spec.parse()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A single address shows as it was written, without `/32` or `/128`.
        if self.0.prefix_len() == self.0.max_prefix_len() {
            self.0.addr().fmt(f)
        } else {
            self.0.fmt(f)
        }
    }
}

/// Settings are compared with the text an operator wrote (`assert_eq!(addresses, ["10.0.0.0/8"])`).
impl PartialEq<&str> for Cidr {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<Cidr>().is_ok_and(|o| o == *self)
    }
}

/// Whether `ip` is `spec` (an address) or inside it (a CIDR block). An IPv4-mapped IPv6
/// address (`::ffff:127.0.0.1`, as a dual-stack listener sees IPv4 peers) is matched as the
/// IPv4 address it carries.
#[must_use]
pub fn cidr_contains(spec: &Cidr, ip: IpAddr) -> bool {
    match (spec.0, ip) {
        (IpNet::V4(n), IpAddr::V6(i)) => i.to_ipv4_mapped().is_some_and(|i| n.contains(&i)),
        (net, ip) => net.contains(&ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cidr_contains = |spec: &str, ip| cidr_contains(&spec.parse().unwrap(), ip);
        assert!(cidr_contains("10.0.0.0/8", ip("10.1.2.3")));
        assert!(!cidr_contains("10.0.0.0/8", ip("11.1.2.3")));
        assert!(cidr_contains("192.0.2.10", ip("192.0.2.10")));
        assert!(!cidr_contains("192.0.2.10", ip("192.0.2.11")));
        assert!(cidr_contains("192.0.2.0/25", ip("192.0.2.127")));
        assert!(!cidr_contains("192.0.2.0/25", ip("192.0.2.128")));
        assert!(cidr_contains("2001:db8::/32", ip("2001:db8::1")));
        assert!(cidr_contains("127.0.0.0/8", ip("::ffff:127.0.0.1")));
        assert!(cidr_contains(" 10.1.2.3/8 ", ip("10.200.0.1")));
        assert!(!cidr_contains("2001:db8::/32", ip("10.0.0.1")));
        assert!(!cidr_contains("::ffff:0:0/96", ip("10.0.0.1")));
    }

    /// A malformed spec used to match nothing, silently; now it cannot be loaded.
    #[test]
    fn malformed_specs_are_refused() {
        for bad in [
            "garbage",
            "10.0.0.0/40",
            "10.0.0.0/",
            "10.0.0.0/x",
            "2001:db8::/129",
            "",
        ] {
            let e = bad.parse::<Cidr>().unwrap_err().to_string();
            assert!(e.contains("not an address or CIDR block"), "{bad}: {e}");
        }
        assert_eq!(
            "192.0.2.10".parse::<Cidr>().unwrap().to_string(),
            "192.0.2.10"
        );
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!("10.0.0.0/8".parse::<Cidr>().unwrap() == "10.0.0.0/8");
    }
}
