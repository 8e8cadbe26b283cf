//! Finding a package name's versions in hosts' sorted package lists (the fleet index's
//! `/packages/{name}` and hosts-by-package answers).

/// The package version ids of one name, to find in hosts' sorted package lists: a few are
/// binary-searched; more are looked up in a bit set while a host's list is read once
/// (issue 17: `/packages/bash` at 100,000 hosts spent 46% of its time in binary searches of
/// every host's list, one per version of the name).
pub(super) struct Named {
    /// Sorted.
    pub(super) ids: Vec<u32>,
    /// Bit `id` set for each of `ids`, when there are more than [`Named::SEARCHED`].
    bits: Option<Vec<u64>>,
}

impl Named {
    /// Up to this many versions, each is binary-searched.
    const SEARCHED: usize = 4;

    pub(super) fn new(ids: Vec<u32>) -> Self {
        let bits = (ids.len() > Self::SEARCHED).then(|| {
            let max = ids.last().copied().unwrap_or(0) as usize;
            let mut b = vec![0u64; max / 64 + 1];
            for &i in &ids {
                b[i as usize / 64] |= 1 << (i % 64);
            }
            b
        });
        Named { ids, bits }
    }

    /// Calls `f` with each of the ids in `sorted` (a host's package list), ascending.
    pub(super) fn each_in(&self, sorted: &[u32], mut f: impl FnMut(u32)) {
        match &self.bits {
            None => {
                for &i in &self.ids {
                    if sorted.binary_search(&i).is_ok() {
                        f(i);
                    }
                }
            }
            Some(bits) => {
                let (Some(&lo), Some(&hi)) = (self.ids.first(), self.ids.last()) else {
                    return;
                };
                let start = sorted.partition_point(|&x| x < lo);
                for &x in &sorted[start..] {
                    if x > hi {
                        break;
                    }
                    if bits[x as usize / 64] & (1 << (x % 64)) != 0 {
                        f(x);
                    }
                }
            }
        }
    }

    /// Whether `sorted` holds any of the ids.
    pub(super) fn any_in(&self, sorted: &[u32]) -> bool {
        let mut any = false;
        self.each_in(sorted, |_| any = true);
        any
    }
}

#[cfg(test)]
mod tests {
    use super::Named;

    /// Both ways of finding a name's versions in a host's list agree with a plain search.
    #[test]
    fn named_versions_are_found_alike_by_search_and_by_bit_set() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            u32::try_from(seed % u64::from(n)).unwrap()
        };
        for round in 0..300 {
            let k = 1 + round % 12;
            let mut ids: Vec<u32> = (0..k).map(|_| next(3_000)).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut host: Vec<u32> = (0..next(600)).map(|_| next(3_000)).collect();
            host.extend(ids.iter().filter(|_| next(2) == 0));
            host.sort_unstable();
            host.dedup();
            let want: Vec<u32> = ids.iter().copied().filter(|i| host.contains(i)).collect();
            let named = Named::new(ids.clone());
            assert_eq!(named.bits.is_some(), ids.len() > Named::SEARCHED);
            let mut got = Vec::new();
            named.each_in(&host, |i| got.push(i));
            assert_eq!(got, want, "{ids:?}");
            assert_eq!(named.any_in(&host), !want.is_empty());
        }
    }
}
