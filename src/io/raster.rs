//! The decoded image, [`Image`] (f32 planes in [0, 1]), and the raster formats (PNG, JPEG, TIFF,
//! BMP; 8- and 16-bit; grayscale or colour).
//!
//! 8-bit samples become `u8 / 255` and 16-bit samples `u16 / 65535`, both evaluated in f32, which is
//! bit-for-bit what torchvision's `ToTensor()` gives for 8-bit input.

use std::path::{Path, PathBuf};

/// Raster extensions the readers decode (lower case); DICOM is recognised by
/// [`super::dicom::is_dicom`] (extension or the `DICM` magic).
pub const RASTER_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// What [`is_supported`] accepts, for messages: "png, jpg, tif, bmp, DICOM".
pub const SUPPORTED_NAMES: &str = "png, jpg, tif, bmp, DICOM";

/// Errors of image reading and writing; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Unreadable or undecodable file.
    #[error("{path}: cannot read image: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Decoder message.
        source: crate::error::Cause,
    },
    /// Write failure.
    #[error("{path}: cannot write image: {source}")]
    Write {
        /// File.
        path: PathBuf,
        /// Encoder or OS message.
        source: crate::error::Cause,
    },
}

/// An image as `channels` planes of `width * height` f32 values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// 1 (gray) or 3 (RGB) planes, each `width * height`.
    pub planes: Vec<Vec<f32>>,
}

impl Image {
    /// RGB view: a gray image repeated three times.
    pub fn to_rgb(&self) -> Image {
        if self.planes.len() == 3 {
            return self.clone();
        }
        Image {
            width: self.width,
            height: self.height,
            planes: vec![self.planes[0].clone(); 3],
        }
    }

    /// 8-bit RGB for display and PNG export.
    pub fn to_rgb8(&self) -> image::RgbImage {
        let rgb = self.to_rgb();
        let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        image::RgbImage::from_fn(self.width as u32, self.height as u32, |x, y| {
            let i = y as usize * self.width + x as usize;
            image::Rgb([
                q(rgb.planes[0][i]),
                q(rgb.planes[1][i]),
                q(rgb.planes[2][i]),
            ])
        })
    }
}

pub(crate) fn read_error(path: &Path, cause: impl Into<crate::error::Cause>) -> ImageError {
    ImageError::Read {
        path: path.to_path_buf(),
        source: cause.into(),
    }
}

fn raster_reader<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<image::ImageReader<std::io::Cursor<&'a [u8]>>, ImageError> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| read_error(path, e))
}

/// The header's dimensions, checked against the pixel limit.
fn raster_header(path: &Path, bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    checked_dimensions(path, raster_reader(path, bytes)?)
}

/// A reader's declared dimensions (its format recognised), checked against the pixel limit.
pub(crate) fn checked_dimensions<R: std::io::BufRead + std::io::Seek>(
    path: &Path,
    reader: image::ImageReader<R>,
) -> Result<(u32, u32), ImageError> {
    if reader.format().is_none() {
        return Err(read_error(
            path,
            format!("not an image in a format this program reads ({SUPPORTED_NAMES})"),
        ));
    }
    let (w, h) = super::guard::catch_panic(|| reader.into_dimensions())
        .map_err(|e| read_error(path, e))?
        .map_err(|e| read_error(path, e))?;
    super::guard::check_dimensions(w as u64, h as u64).map_err(|e| read_error(path, e))?;
    Ok((w, h))
}

/// Decodes a raster file (PNG, JPEG, TIFF, BMP) under the pixel limit and the memory budget. A
/// JPEG must end with its end-of-image marker: a truncated one is an error, not grey fill.
pub fn decode_raster(path: &Path) -> Result<image::DynamicImage, ImageError> {
    let bytes = super::guard::read_bounded(path, u64::MAX).map_err(|e| read_error(path, e))?;
    let (w, h) = raster_header(path, &bytes)?;
    let mut reader = raster_reader(path, &bytes)?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
        return Err(read_error(
            path,
            "truncated JPEG: no end-of-image marker after the scan data",
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(super::guard::max_alloc());
    reader.limits(limits);
    super::guard::catch_panic(|| reader.decode())
        .map_err(|e| read_error(path, e))?
        .map_err(|e| read_error(path, e))
}

/// Whether a JPEG stream has an end-of-image marker (FF D9) after its first start-of-scan (FF
/// DA). Inside entropy-coded data every FF byte is stuffed (FF 00) or a restart marker, so the
/// first FF D9 there is the real end.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let find = |from: usize, marker: u8| {
        bytes
            .get(from..)?
            .windows(2)
            .position(|w| w[0] == 0xFF && w[1] == marker)
            .map(|p| p + from)
    };
    find(0, 0xDA).and_then(|sos| find(sos + 2, 0xD9)).is_some()
}

/// Converts a decoded image, keeping 16-bit precision where the source has it.
pub fn from_dynamic(img: image::DynamicImage) -> Image {
    use image::DynamicImage as D;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let planes_u8 = |data: &[u8], c: usize, take: usize| -> Vec<Vec<f32>> {
        (0..take)
            .map(|k| {
                data.iter()
                    .skip(k)
                    .step_by(c)
                    .map(|&v| v as f32 / 255.0)
                    .collect()
            })
            .collect()
    };
    let planes_u16 = |data: &[u16], c: usize, take: usize| -> Vec<Vec<f32>> {
        (0..take)
            .map(|k| {
                data.iter()
                    .skip(k)
                    .step_by(c)
                    .map(|&v| v as f32 / 65535.0)
                    .collect()
            })
            .collect()
    };
    let planes = match &img {
        D::ImageLuma8(b) => planes_u8(b.as_raw(), 1, 1),
        D::ImageLumaA8(b) => planes_u8(b.as_raw(), 2, 1),
        D::ImageRgb8(b) => planes_u8(b.as_raw(), 3, 3),
        D::ImageRgba8(b) => planes_u8(b.as_raw(), 4, 3),
        D::ImageLuma16(b) => planes_u16(b.as_raw(), 1, 1),
        D::ImageLumaA16(b) => planes_u16(b.as_raw(), 2, 1),
        D::ImageRgb16(b) => planes_u16(b.as_raw(), 3, 3),
        D::ImageRgba16(b) => planes_u16(b.as_raw(), 4, 3),
        other => {
            let b = other.to_rgb32f();
            let raw = b.as_raw();
            (0..3)
                .map(|k| raw.iter().skip(k).step_by(3).copied().collect())
                .collect()
        }
    };
    Image {
        width: w,
        height: h,
        planes,
    }
}

/// Writes an RGB image to PNG (or any format by extension) atomically.
pub fn write_rgb8(path: &Path, img: &image::RgbImage) -> Result<(), ImageError> {
    let err = |cause: crate::error::Cause| ImageError::Write {
        path: path.to_path_buf(),
        source: cause,
    };
    let format = image::ImageFormat::from_path(path).unwrap_or(image::ImageFormat::Png);
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format)
        .map_err(|e| err(e.into()))?;
    super::write_atomic(path, bytes.get_ref()).map_err(|e| err(e.into()))
}

/// The stored values of a decoded raster as floats, row-major, and their shape: `[h, w]` for
/// grey, `[h, w, 3]` for colour; 8- or 16-bit values as they are (alpha dropped).
pub fn stored_values(img: &image::DynamicImage) -> (Vec<usize>, Vec<f32>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let color = img.color();
    let sixteen = color.bytes_per_pixel() / color.channel_count() == 2;
    let gray = !color.has_color();
    let values: Vec<f32> = match (gray, sixteen) {
        (true, true) => img.to_luma16().as_raw().iter().map(|&v| v as f32).collect(),
        (true, false) => img.to_luma8().as_raw().iter().map(|&v| v as f32).collect(),
        (false, true) => img.to_rgb16().as_raw().iter().map(|&v| v as f32).collect(),
        (false, false) => img.to_rgb8().as_raw().iter().map(|&v| v as f32).collect(),
    };
    let shape = if gray { vec![h, w] } else { vec![h, w, 3] };
    (shape, values)
}
