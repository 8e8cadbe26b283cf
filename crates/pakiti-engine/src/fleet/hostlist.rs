//! A CVE's hosts (host indexes, ascending, distinct), delta + varint encoded.
//!
//! Issue 17: as `Vec<u32>`, the hosts of every CVE and those where it is fixable were 308 MiB
//! of a 548 MiB fleet index at 100,000 hosts (~400 CVEs a host, two lists each). Host indexes
//! of one CVE are close together (hosts on the same package versions are everywhere in the
//! index), so most deltas take one byte: about a quarter of the size. The lists are read
//! front to back only (counting under a scope mask, listing a CVE's hosts), never searched.

/// Host indexes, ascending, distinct.
#[derive(Debug, Default)]
pub(super) struct HostList {
    len: u32,
    bytes: Box<[u8]>,
}

/// Builds a [`HostList`] from indexes pushed in ascending order.
#[derive(Debug, Default)]
pub(super) struct HostListBuilder {
    len: u32,
    last: Option<u32>,
    bytes: Vec<u8>,
}

impl HostListBuilder {
    /// Appends `hi` unless it is the last one pushed; returns whether it did. Indexes must
    /// come in ascending order.
    pub(super) fn push(&mut self, hi: u32) -> bool {
        if self.last == Some(hi) {
            return false;
        }
        debug_assert!(self.last.is_none_or(|l| l < hi), "host indexes ascending");
        let mut delta = hi.wrapping_sub(self.last.map_or(0, |l| l.wrapping_add(1)));
        self.last = Some(hi);
        self.len += 1;
        loop {
            let b = (delta & 0x7f) as u8;
            delta >>= 7;
            if delta == 0 {
                self.bytes.push(b);
                break;
            }
            self.bytes.push(b | 0x80);
        }
        true
    }

    /// The list.
    pub(super) fn finish(self) -> HostList {
        HostList {
            len: self.len,
            bytes: self.bytes.into_boxed_slice(),
        }
    }
}

impl HostList {
    /// Hosts in the list.
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    /// Bytes on the heap.
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The host indexes, ascending.
    pub(super) fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            next: 0,
        }
    }
}

/// Iterator over a [`HostList`].
pub(super) struct Iter<'a> {
    bytes: &'a [u8],
    /// The smallest index the next one may be (last + 1).
    next: u32,
}

impl Iterator for Iter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let mut delta = 0u32;
        let mut shift = 0;
        loop {
            let (&b, rest) = self.bytes.split_first()?;
            self.bytes = rest;
            delta |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hi = self.next.wrapping_add(delta);
        self.next = hi.wrapping_add(1);
        Some(hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ascending_indexes_of_every_width() {
        let want: Vec<u32> = vec![0, 1, 2, 130, 131, 20_000, 20_001, 3_000_000, u32::MAX - 1];
        let mut b = HostListBuilder::default();
        for &h in &want {
            assert!(b.push(h));
            assert!(!b.push(h)); // a repeat of the last is dropped
        }
        let l = b.finish();
        assert_eq!(l.len(), want.len());
        assert_eq!(l.iter().collect::<Vec<_>>(), want);
        // Consecutive indexes take one byte each.
        let mut b = HostListBuilder::default();
        (0..1000).for_each(|h| assert!(b.push(h)));
        let l = b.finish();
        assert_eq!(l.heap_bytes(), 1000);
        assert!(l.iter().eq(0..1000));
        assert_eq!(HostList::default().iter().next(), None);
    }
}
