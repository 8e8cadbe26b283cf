//! The compact encoding of a host's installed set: sorted package-version ids, delta + varint.
//!
//! One row per host (`host_packages.ids`) instead of one row per installed package keeps the
//! store small: ~800 ids of a host take about 1–2 bytes each once delta-encoded, against
//! ~40 bytes per row plus index entries for a row-per-package table (Pakiti 3's
//! `InstalledPkg`, the main reason it needed 120 MiB per 1,000 hosts).
//!
//! Format: a LEB128 varint count, then each id as the LEB128 varint of its difference to the
//! previous id (the first against 0). Ids are strictly increasing and positive.

use crate::error::StoreError;

/// Encodes `ids` (any order, duplicates allowed) as a sorted, deduplicated blob.
///
/// Ids must be positive; database ids always are.
#[must_use]
pub fn encode_ids(ids: &[i64]) -> Vec<u8> {
    let mut sorted: Vec<u64> = ids
        .iter()
        .map(|&id| u64::try_from(id).unwrap_or(0))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::with_capacity(sorted.len() * 2 + 3);
    put_varint(&mut out, sorted.len() as u64);
    let mut prev = 0u64;
    for id in sorted {
        put_varint(&mut out, id - prev);
        prev = id;
    }
    out
}

/// Decodes a blob written by [`encode_ids`] into sorted, distinct ids.
///
/// # Errors
///
/// [`StoreError::Corrupt`] when the blob is truncated, has trailing bytes, or an id overflows.
pub fn decode_ids(blob: &[u8]) -> Result<Vec<i64>, StoreError> {
    let mut pos = 0;
    let count = get_varint(blob, &mut pos)?;
    // Each id takes at least one byte, so a count beyond the blob length is corrupt; checking
    // first keeps a damaged count from allocating gigabytes.
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c <= blob.len())
        .ok_or_else(|| StoreError::corrupt("package blob", "count exceeds blob length"))?;
    let mut ids = Vec::with_capacity(count);
    let mut prev = 0u64;
    for _ in 0..count {
        let delta = get_varint(blob, &mut pos)?;
        prev = prev
            .checked_add(delta)
            .ok_or_else(|| StoreError::corrupt("package blob", "id overflows"))?;
        let id =
            i64::try_from(prev).map_err(|_| StoreError::corrupt("package blob", "id overflows"))?;
        ids.push(id);
    }
    if pos != blob.len() {
        return Err(StoreError::corrupt("package blob", "trailing bytes"));
    }
    Ok(ids)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(blob: &[u8], pos: &mut usize) -> Result<u64, StoreError> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let &b = blob
            .get(*pos)
            .ok_or_else(|| StoreError::corrupt("package blob", "truncated"))?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(StoreError::corrupt("package blob", "varint overflows"));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
        shift += 7;
        if shift > 63 {
            return Err(StoreError::corrupt("package blob", "varint too long"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_bytes() {
        assert_eq!(encode_ids(&[]), vec![0]);
        assert_eq!(encode_ids(&[5, 3, 3, 300]), vec![3, 3, 2, 0xa7, 0x02]);
        assert_eq!(decode_ids(&[3, 3, 2, 0xa7, 0x02]).unwrap(), vec![3, 5, 300]);
    }

    #[test]
    fn rejects_damage() {
        assert!(decode_ids(&[]).is_err());
        assert!(decode_ids(&[2, 1]).is_err());
        assert!(decode_ids(&[1, 1, 0]).is_err());
        assert!(decode_ids(&[200, 1]).is_err());
        assert!(
            decode_ids(&[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
            ])
            .is_err()
        );
        assert!(decode_ids(&[2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1]).is_err());
    }

    #[test]
    fn dense_ids_take_about_one_byte() {
        let ids: Vec<i64> = (1..=800).map(|i| 1_000_000 + i * 37).collect();
        let blob = encode_ids(&ids);
        assert_eq!(blob.len(), 2 + 3 + 799);
    }

    proptest! {
        #[test]
        fn round_trip(ids in proptest::collection::vec(1i64..=i64::MAX, 0..2000)) {
            let mut expected = ids.clone();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(decode_ids(&encode_ids(&ids)).unwrap(), expected);
        }
    }
}
