//! The BMP status image: whatever JSON text it accepts, a page's canvas decoder gets back exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_bridge::api::legacy::bmp;

/// The page side of protocol/legacy-nhi.md §2.3: pixel bytes from the data offset, NULs dropped.
fn decode(bmp: &[u8]) -> String {
    let off = u32::from_le_bytes([bmp[10], bmp[11], bmp[12], bmp[13]]) as usize;
    let width = i32::from_le_bytes([bmp[18], bmp[19], bmp[20], bmp[21]]) as usize;
    bmp[off..off + 3 * width]
        .iter()
        .filter(|&&b| b != 0)
        .map(|&b| b as char)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(image) = bmp::encode(&text) {
        let size = u32::from_le_bytes([image[2], image[3], image[4], image[5]]) as usize;
        assert_eq!(size, image.len());
        assert_eq!((image.len() - 54) % 4, 0);
        assert_eq!(decode(&image), text);
    }
});
