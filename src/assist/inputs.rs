//! The inputs of an effect as the README reads them: the image value v of each pixel (stored
//! samples of gray PNGs, PIL's integer luma of RGB, DICOM modality values), the spacing, and
//! class-id masks (8-bit gray PNG samples).

use std::path::Path;

use super::types::Grid;
use crate::error::Invalid;

/// The image: its grid, the value of each pixel and the spacing the file gives (DICOM).
pub struct ImageValues {
    /// Grid.
    pub grid: Grid,
    /// v per pixel, row-major.
    pub values: Vec<f64>,
    /// (row mm, column mm) from PixelSpacing.
    pub spacing: Option<(f64, f64)>,
}

/// PIL's `convert('L')`: (19595 R + 38470 G + 7471 B + 32768) >> 16.
fn luma(r: u8, g: u8, b: u8) -> f64 {
    ((19595 * r as u32 + 38470 * g as u32 + 7471 * b as u32 + 32768) >> 16) as f64
}

/// Reads `--image`.
pub fn read_image(path: &Path) -> Result<ImageValues, Invalid> {
    let fail = |e: &dyn std::fmt::Display| Invalid::from(e.to_string());
    if crate::io::dicom::is_dicom(path) {
        let (d, values) = crate::io::dicom::read_dicom_f64(path, 0).map_err(|e| fail(&e))?;
        if d.samples != 1 {
            return Err(Invalid::from(format!(
                "{}: a colour DICOM image has no single value per pixel",
                path.display()
            )));
        }
        return Ok(ImageValues {
            grid: Grid {
                w: d.cols,
                h: d.rows,
            },
            values,
            spacing: d.pixel_spacing.map(|[r, c]| (r, c)),
        });
    }
    let img = crate::io::image::decode_raster(path).map_err(|e| fail(&e))?;
    use image::DynamicImage as D;
    let grid = Grid {
        w: img.width() as usize,
        h: img.height() as usize,
    };
    let values: Vec<f64> = match &img {
        D::ImageLuma8(b) => b.as_raw().iter().map(|&v| v as f64).collect(),
        D::ImageLumaA8(b) => b.as_raw().chunks_exact(2).map(|p| p[0] as f64).collect(),
        D::ImageLuma16(b) => b.as_raw().iter().map(|&v| v as f64).collect(),
        D::ImageLumaA16(b) => b.as_raw().chunks_exact(2).map(|p| p[0] as f64).collect(),
        D::ImageRgb8(b) => b
            .as_raw()
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        D::ImageRgba8(b) => b
            .as_raw()
            .chunks_exact(4)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        _ => {
            return Err(Invalid::from(format!(
                "{}: an image of 8- or 16-bit gray or 8-bit RGB(A) samples is needed",
                path.display()
            )));
        }
    };
    Ok(ImageValues {
        grid,
        values,
        spacing: None,
    })
}

/// Reads a class-id mask (`--mask`, `--seeds`): an 8-bit gray PNG of the image's size.
pub fn read_ids(path: &Path, grid: Grid) -> Result<Vec<u8>, Invalid> {
    let img = crate::io::image::decode_raster(path).map_err(|e| Invalid::from(e.to_string()))?;
    let image::DynamicImage::ImageLuma8(b) = img else {
        return Err(Invalid::from(format!(
            "{}: a class-id mask is an 8-bit gray PNG",
            path.display()
        )));
    };
    if (b.width() as usize, b.height() as usize) != (grid.w, grid.h) {
        return Err(Invalid::from(format!(
            "{}: {}×{} but the image is {}×{}",
            path.display(),
            b.width(),
            b.height(),
            grid.w,
            grid.h
        )));
    }
    Ok(b.into_raw())
}

/// Writes class ids as an 8-bit gray PNG, atomically.
pub fn write_ids(path: &Path, ids: &[u8], grid: Grid) -> Result<(), Invalid> {
    let img = image::GrayImage::from_raw(grid.w as u32, grid.h as u32, ids.to_vec())
        .ok_or_else(|| Invalid::from("the mask does not match its size"))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| Invalid::from(format!("{}: {e}", path.display())))?;
    crate::io::write_atomic(path, bytes.get_ref())
        .map_err(|e| Invalid::from(format!("{}: {e}", path.display())))
}
