//! Annotation masks from image files, read as the paper's `mask_to_npy` does: PIL
//! `convert('L')` (ITU-R 601-2 luma with PIL's fixed-point rounding), then value > 0 is inside.
//! 16-bit and gray images: any non-zero sample is inside.

use std::path::Path;

use super::image::ImageError;
use crate::metrics::Mask;

/// PIL's `L = R * 299/1000 + G * 587/1000 + B * 114/1000` in its fixed-point form.
pub fn pil_luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Reads a mask image.
pub fn read_mask(path: &Path) -> Result<Mask, ImageError> {
    let mut m = read_mask_values(path)?;
    for v in &mut m.data {
        *v = (*v > 0) as u8;
    }
    Ok(m)
}

/// Reads a mask image's gray values (PIL luma for colour; a non-zero 16-bit sample reads as at
/// least 1), for files that store class ids.
pub fn read_mask_values(path: &Path) -> Result<Mask, ImageError> {
    let img = super::image::decode_raster(path)?;
    use image::DynamicImage as D;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let wide = |v: u16| if v == 0 { 0 } else { (v >> 8).max(1) as u8 };
    let data: Vec<u8> = match &img {
        D::ImageLuma8(b) => b.as_raw().clone(),
        D::ImageLumaA8(b) => b.as_raw().chunks_exact(2).map(|p| p[0]).collect(),
        D::ImageLuma16(b) => b.as_raw().iter().map(|&v| wide(v)).collect(),
        D::ImageLumaA16(b) => b.as_raw().chunks_exact(2).map(|p| wide(p[0])).collect(),
        other => other
            .to_rgb8()
            .pixels()
            .map(|p| pil_luma(p[0], p[1], p[2]))
            .collect(),
    };
    // A mask drawn only in the alpha channel (a transparent layer exported as it is) reads as
    // empty by its grey values: say so rather than score against nothing.
    if data.iter().all(|&v| v == 0) && img.color().has_alpha() {
        let alpha = img.to_rgba8();
        let marked = alpha.pixels().filter(|p| p[3] != 0).count();
        if marked > 0 && marked < w * h {
            return Err(super::raster::read_error(
                path,
                format!(
                    "every grey value is 0, but the alpha channel marks {marked} pixel(s): masks are read from their grey values; save the annotation in the colour channels (e.g. white on black)"
                ),
            ));
        }
    }
    Ok(Mask {
        width: w,
        height: h,
        data,
    })
}

/// Writes a mask as an 8-bit PNG (0 / 255), atomically.
pub fn write_mask(path: &Path, mask: &Mask) -> Result<(), ImageError> {
    let img = image::GrayImage::from_raw(
        mask.width as u32,
        mask.height as u32,
        mask.data
            .iter()
            .map(|&v| if v != 0 { 255 } else { 0 })
            .collect(),
    )
    .ok_or_else(|| ImageError::Write {
        path: path.to_path_buf(),
        source: "mask buffer does not match its size".into(),
    })?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| ImageError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
    super::write_atomic(path, bytes.get_ref()).map_err(|e| ImageError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    })
}
