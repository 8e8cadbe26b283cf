//! Decompression by content sniffing: bzip2, gzip, xz and zstd, or the bytes as they are.
//!
//! Vendors change compression without notice (Ubuntu moved its OVAL to bzip2 and Pakiti 3
//! silently found nothing), so the format is taken from the magic bytes, never the file name.

use std::io::{self, BufRead, BufReader, Read};

/// A compression format recognised by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// bzip2 (`BZh`).
    Bzip2,
    /// gzip (`1f 8b`).
    Gzip,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

/// Recognises the compression of a buffer from its first bytes.
#[must_use]
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `input` in the decompressor its first bytes call for.
///
/// # Errors
/// Reading the first bytes failed, or the zstd decoder could not start.
pub fn reader<'a, R: BufRead + Send + 'a>(
    mut input: R,
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let head = input.fill_buf()?;
    let kind = sniff(head);
    Ok(match kind {
        Compression::None => Box::new(input),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            1 << 16,
            bzip2::bufread::MultiBzDecoder::new(input),
        )),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(input),
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            1 << 16,
            xz2::bufread::XzDecoder::new_multi_decoder(input),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 16,
            zstd::stream::read::Decoder::with_buffer(input)?,
        )),
    })
}

/// Decompresses a whole buffer (whatever its compression) into memory.
///
/// # Errors
/// The data is corrupt for the compression its magic bytes announce.
pub fn to_vec(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 4);
    reader(data)?.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trips_every_format() {
        let text = b"<oval_definitions/>".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&text).unwrap();
        let bz = bz.finish().unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&text).unwrap();
        let xz = xz.finish().unwrap();
        let zs = zstd::encode_all(&text[..], 3).unwrap();
        for (data, kind) in [
            (&text[..], Compression::None),
            (&gz[..], Compression::Gzip),
            (&bz[..], Compression::Bzip2),
            (&xz[..], Compression::Xz),
            (&zs[..], Compression::Zstd),
        ] {
            assert_eq!(sniff(data), kind);
            assert_eq!(to_vec(data).unwrap(), text);
        }
    }
}
