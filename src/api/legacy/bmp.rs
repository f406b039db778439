//! JSON carried in the pixels of a 24-bit BMP (protocol/legacy-nhi.md §2.3): the pages load
//! `GetStatus.bmp` / `GetCardStatus.bmp` as images and read the bytes back through a canvas.

/// Encodes ASCII JSON (no NUL, at most 3072 bytes) as a 1-pixel-high 24-bit BMP whose pixel bytes,
/// in file order, are the JSON bytes.
pub fn encode(json: &str) -> Option<Vec<u8>> {
    let bytes = json.as_bytes();
    if bytes.is_empty() || bytes.len() > 3 * 1024 || !json.is_ascii() || bytes.contains(&0) {
        return None;
    }
    let width = bytes.len().div_ceil(3);
    let stride = (3 * width + 3) & !3;
    let mut out = Vec::with_capacity(54 + stride);
    let u32le = |v: usize| (v as u32).to_le_bytes();
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&u32le(54 + stride));
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&u32le(54));
    out.extend_from_slice(&u32le(40));
    out.extend_from_slice(&u32le(width));
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // BI_RGB
    out.extend_from_slice(&u32le(stride));
    out.extend_from_slice(&2835i32.to_le_bytes());
    out.extend_from_slice(&2835i32.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(bytes);
    out.resize(54 + stride, 0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test double's decoder of §2.3, written from the notes.
    fn decode(bmp: &[u8]) -> String {
        let off = u32::from_le_bytes(bmp[10..14].try_into().unwrap()) as usize;
        let width = i32::from_le_bytes(bmp[18..22].try_into().unwrap()) as usize;
        assert_eq!(u16::from_le_bytes(bmp[28..30].try_into().unwrap()), 24);
        bmp[off..off + 3 * width]
            .iter()
            .filter(|&&b| b != 0)
            .map(|&b| b as char)
            .collect()
    }

    #[test]
    fn round_trips_through_the_page_decoder() {
        for json in [
            r#"{"result":"0000"}"#,
            r#"{"result":"8013"}"#,
            "{}",
            r#"{"a":"\u738b"}"#,
        ] {
            let bmp = encode(json).unwrap();
            assert_eq!(
                bmp.len(),
                u32::from_le_bytes(bmp[2..6].try_into().unwrap()) as usize
            );
            assert_eq!((bmp.len() - 54) % 4, 0);
            assert_eq!(decode(&bmp), json);
        }
        assert!(encode("").is_none());
        assert!(encode("王").is_none());
        assert!(encode(&"x".repeat(3073)).is_none());
    }
}
