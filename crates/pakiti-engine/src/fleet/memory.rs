//! Where the fleet index's memory goes ([`Fleet::heap_bytes`]): `/metrics` and
//! `pakiti bench load` report it by part (issue 17).

use super::*;

impl Fleet {
    /// Estimated heap bytes by part (`host_packages`, `findings`, `cve_hosts`,
    /// `package_versions`, `advisories`, `strings`, `other`), for `/metrics` and the load
    /// benchmark: where the index's memory goes (issue 17).
    #[must_use]
    pub fn heap_bytes(&self) -> Vec<(&'static str, usize)> {
        use std::mem::size_of;
        // A hash table entry: the pair, one control byte, at ~7/8 load.
        fn table<K, V>(len: usize) -> usize {
            len * (size_of::<K>() + size_of::<V>() + 1) * 8 / 7
        }
        let host_packages = self
            .hosts
            .iter()
            .map(|h| h.packages.len() * 4)
            .sum::<usize>();
        let findings = self
            .groups
            .iter()
            .map(|f| size_of::<Box<[FFinding]>>() + std::mem::size_of_val(&**f))
            .sum::<usize>()
            + self
                .host_groups
                .iter()
                .map(|g| size_of::<Box<[u32]>>() + 4 * g.len())
                .sum::<usize>();
        let cve_hosts = self
            .cves
            .iter()
            .map(|c| {
                size_of::<FCve>()
                    + c.hosts.heap_bytes()
                    + c.fixable_hosts.heap_bytes()
                    + 4 * c.advisories.capacity()
            })
            .sum::<usize>()
            + table::<u32, u32>(self.cve_index.len());
        let package_versions = table::<u32, FPackage>(self.packages.len())
            + self
                .packages
                .values()
                .map(|p| p.version.len())
                .sum::<usize>();
        let advisories = self
            .advisories
            .iter()
            .map(|a| {
                size_of::<FAdvisory>()
                    + a.title.len()
                    + 4 * a.cves.capacity()
                    + a.references
                        .iter()
                        .map(|r| r.len() + size_of::<Box<str>>())
                        .sum::<usize>()
            })
            .sum::<usize>()
            + table::<(u32, u32), FAffected>(self.affected.len())
            + self
                .affected
                .values()
                .map(|a| a.fixed.as_ref().map_or(0, |f| f.len()))
                .sum::<usize>();
        let strings = self
            .strings
            .list
            .iter()
            .map(|s| 2 * s.len() + size_of::<Box<str>>())
            .sum::<usize>()
            + table::<Box<str>, u32>(self.strings.index.len());
        let other = self.hosts.len() * size_of::<FHost>()
            + table::<HostId, u32>(self.host_index.len())
            + self
                .applied_exceptions
                .values()
                .map(|v| 8 * v.capacity() + 32)
                .sum::<usize>();
        vec![
            ("host_packages", host_packages),
            ("findings", findings),
            ("cve_hosts", cve_hosts),
            ("package_versions", package_versions),
            ("advisories", advisories),
            ("strings", strings),
            ("other", other),
        ]
    }
}
