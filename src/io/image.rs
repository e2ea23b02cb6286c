//! Raster images (PNG, JPEG, TIFF; 8- and 16-bit; grayscale or colour; DICOM through
//! [`super::dicom`]) as f32 planes in [0, 1].
//!
//! 8-bit samples become `u8 / 255` and 16-bit samples `u16 / 65535`, both evaluated in f32, which is
//! bit-for-bit what torchvision's `ToTensor()` gives for 8-bit input.

use std::path::{Path, PathBuf};

/// Errors of image reading and writing; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Unreadable or undecodable file.
    #[error("{path}: cannot read image: {message}")]
    Read {
        /// File.
        path: PathBuf,
        /// Decoder message.
        message: String,
    },
    /// Write failure.
    #[error("{path}: cannot write image: {message}")]
    Write {
        /// File.
        path: PathBuf,
        /// Encoder or OS message.
        message: String,
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

/// Raster extensions the readers decode (lower case); DICOM is recognised by
/// [`super::dicom::is_dicom`] (extension or the `DICM` magic).
pub const RASTER_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// What [`is_supported`] accepts, for messages: "png, jpg, tif, bmp, DICOM".
pub const SUPPORTED_NAMES: &str = "png, jpg, tif, bmp, DICOM";

/// Whether `path` is a file the image readers open: a raster extension of
/// [`RASTER_EXTENSIONS`], or DICOM (by extension or by its magic). The one list used by the
/// workbench, `explain`, `eval` and `train`.
pub fn is_supported(path: &Path) -> bool {
    let raster = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RASTER_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    raster || (path.is_file() && super::dicom::is_dicom(path))
}

/// The supported image files directly in `dir`, sorted by path.
pub fn list_supported(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_supported(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Decodes an image file; DICOM files give their first frame with the file's window.
pub fn read_image(path: &Path) -> Result<Image, ImageError> {
    if super::dicom::is_dicom(path) {
        return super::dicom::read_dicom(path, 0).map(|d| d.to_image(None));
    }
    let err = |message: String| ImageError::Read {
        path: path.to_path_buf(),
        message,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|e| err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?;
    let img = reader.decode().map_err(|e| err(e.to_string()))?;
    Ok(from_dynamic(img))
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
    let err = |message: String| ImageError::Write {
        path: path.to_path_buf(),
        message,
    };
    let format = image::ImageFormat::from_path(path).unwrap_or(image::ImageFormat::Png);
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format)
        .map_err(|e| err(e.to_string()))?;
    super::write_atomic(path, bytes.get_ref()).map_err(|e| err(e.to_string()))
}
