//! The generators' tools: argument templates, encoders, and byte-level editors of PNG, DICOM,
//! safetensors and npy files.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use vitscope::project::annotation::LabelBox;
use vitscope::project::{ImageEntry, Project};

use super::OUT;

/// Arguments from a template of words; each `{}` takes the next of `values` (paths, formatted
/// strings), so a path with spaces stays one argument.
pub(super) fn argv(template: &str, values: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    let mut values = values.iter();
    template
        .split_whitespace()
        .map(|w| match w {
            "{}" => values
                .next()
                .expect("a value per {}")
                .as_ref()
                .to_os_string(),
            w => OsString::from(w),
        })
        .collect()
}

pub(super) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub(super) fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub(super) fn rgb(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
    }))
}

/// A 9000 × 2 gray PNG: within the pixel limit, wider than any texture.
pub(super) fn bomb_wide() -> Vec<u8> {
    encode(
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(9000, 2, image::Luma([90]))),
        image::ImageFormat::Png,
    )
}

pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG with its IHDR width and height replaced (CRC fixed, so only the sizes lie).
pub(super) fn png_with_size(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut b = png.to_vec();
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

// ---- DICOM editing (explicit VR little endian) ----

pub(super) const LONG_VRS: [&[u8; 2]; 13] = [
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

/// (header offset, length-field offset, length-field size, value offset, value length).
pub(super) fn find_element(
    b: &[u8],
    g: u16,
    e: u16,
) -> Option<(usize, usize, usize, usize, usize)> {
    let tag = [g as u8, (g >> 8) as u8, e as u8, (e >> 8) as u8];
    // Search the header only: a tag's bytes may also occur inside the pixel data.
    let pixel_data = [0xE0, 0x7F, 0x10, 0x00];
    let mut i = 132;
    while i + 12 <= b.len() {
        if b[i..i + 4] == pixel_data && tag != pixel_data {
            return None;
        }
        if b[i..i + 4] == tag && b[i + 4].is_ascii_uppercase() && b[i + 5].is_ascii_uppercase() {
            let vr = [b[i + 4], b[i + 5]];
            return Some(if LONG_VRS.iter().any(|v| **v == vr) {
                let len = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
                (i, i + 8, 4, i + 12, len)
            } else {
                let len = u16::from_le_bytes([b[i + 6], b[i + 7]]) as usize;
                (i, i + 6, 2, i + 8, len)
            });
        }
        i += 1;
    }
    None
}

pub(super) fn set_value(b: &[u8], g: u16, e: u16, value: &[u8]) -> Option<Vec<u8>> {
    let (_, lf, ls, v, len) = find_element(b, g, e)?;
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    let mut out = b[..lf].to_vec();
    if ls == 2 {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&value);
    out.extend_from_slice(&b[(v + len).min(b.len())..]);
    Some(out)
}

pub(super) fn set_length(b: &[u8], g: u16, e: u16, len: u32) -> Option<Vec<u8>> {
    let (_, lf, ls, _, _) = find_element(b, g, e)?;
    let mut out = b.to_vec();
    if ls == 2 {
        out[lf..lf + 2].copy_from_slice(&(len as u16).to_le_bytes());
    } else {
        out[lf..lf + 4].copy_from_slice(&len.to_le_bytes());
    }
    Some(out)
}

/// Offset of the first RLE frame fragment's data (after the basic offset table).
pub(super) fn rle_fragment(b: &[u8]) -> Option<usize> {
    let (h, _, _, _, len) = find_element(b, 0x7FE0, 0x0010)?;
    let bot = h + 12;
    if len != 0xFFFF_FFFF || b.get(bot..bot + 4)? != [0xFE, 0xFF, 0x00, 0xE0] {
        return None; // native pixel data
    }
    let bot_len = u32::from_le_bytes(b[bot + 4..bot + 8].try_into().ok()?) as usize;
    Some(bot + 8 + bot_len + 8)
}

pub(super) fn poke_u32(b: &[u8], at: usize, v: u32) -> Vec<u8> {
    let mut out = b.to_vec();
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    out
}

// ---- checkpoints ----

pub(super) type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

pub(super) fn read_st(path: &Path) -> Tensors {
    crate::support::safetensors_f32(path)
}

pub(super) fn st_bytes(t: &Tensors) -> Vec<u8> {
    crate::support::safetensors_bytes(t)
}

/// The same tensors with the JSON header padded by spaces until its length's low byte is 0x80
/// (valid safetensors; the first byte is what a pickle starts with).
pub(super) fn st_low_byte_0x80(t: &Tensors) -> Vec<u8> {
    let b = st_bytes(t);
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut target = n;
    while target & 0xFF != 0x80 || !target.is_multiple_of(8) {
        target += 1;
    }
    let mut out = (target as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&b[8..8 + n]);
    out.extend(std::iter::repeat_n(b' ', target - n));
    out.extend_from_slice(&b[8 + n..]);
    out
}

pub(super) fn edit(t: &Tensors, key: &str, f: impl Fn(&mut Vec<usize>, &mut Vec<f32>)) -> Tensors {
    let mut t = t.clone();
    let e = t.iter_mut().find(|e| e.0 == key).unwrap();
    f(&mut e.1, &mut e.2);
    t
}

/// `key` with the extents `(dim, extent)` changed, its values cut or padded to fit.
pub(super) fn resized(t: &Tensors, key: &str, dims: &[(usize, usize)]) -> Tensors {
    edit(t, key, |s, v| {
        for &(d, n) in dims {
            s[d] = n;
        }
        v.resize(s.iter().product(), 0.1);
    })
}

pub(super) fn without(t: &Tensors, prefix: &str) -> Tensors {
    t.iter()
        .filter(|e| !e.0.starts_with(prefix))
        .cloned()
        .collect()
}

// ---- npy ----

pub(super) fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

pub(super) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn project(images: Vec<ImageEntry>) -> Project {
    Project {
        images,
        ..Default::default()
    }
}

pub(super) fn entry(path: &str, boxes: Vec<LabelBox>) -> ImageEntry {
    let mut e = ImageEntry::new(path.into());
    e.boxes = boxes;
    e
}

pub(super) fn bx(x0: u32, y0: u32, x1: u32, y1: u32) -> LabelBox {
    LabelBox {
        x0,
        y0,
        x1,
        y1,
        class: 1,
    }
}

/// `convert FILE --out @OUT/o.png`.
pub(super) fn convert(f: &Path) -> Vec<OsString> {
    argv("convert {} --out {}", &[&f, &format!("{OUT}/o.png")])
}

/// `explain --device cpu --method attention --image FILE`.
pub(super) fn explain(f: &Path) -> Vec<OsString> {
    argv("explain --device cpu --method attention --image {}", &[&f])
}
