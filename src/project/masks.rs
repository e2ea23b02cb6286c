//! Label masks as files: PNGs of class ids (0 = background, k = class k), read with the rules
//! that keep every class where it belongs.
//!
//! - An 8-bit or 16-bit gray PNG holds class ids exactly: value k is class k, 16-bit values
//!   included (a 16-bit label PNG is never scaled down to 8 bits).
//! - A *binary* mask — its only non-zero value is the format's maximum (255, or 65535 for 16-bit),
//!   as in the paper's `masks/` layout — is one class: class 1 unless a manifest names another.
//! - Colour PNGs (RGB, palette) are read as PIL's luma, as the paper's masks are.
//! - An id above the project's class list is never turned into another class: imports refuse it
//!   (or add classes with `--add-classes`); a project mask that holds one keeps it as it is.

use crate::error::Invalid;
use std::path::Path;

use super::annotation::LabelMask;
use super::model::ProjectError;

/// A mask file's values as read, before the class rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLabels {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// One value per pixel, row-major.
    pub values: Vec<u16>,
    /// The largest value the format holds (255 or 65535).
    pub format_max: u16,
}

impl RawLabels {
    /// Whether the mask is binary in the paper's sense: non-zero values are all the format's
    /// maximum (and there is at least one).
    pub fn is_binary(&self) -> bool {
        let mut any = false;
        for &v in &self.values {
            if v != 0 {
                if v != self.format_max {
                    return false;
                }
                any = true;
            }
        }
        any
    }

    /// The largest value.
    pub fn max(&self) -> u16 {
        self.values.iter().copied().max().unwrap_or(0)
    }

    /// Class ids: a binary mask becomes `binary_class`; any other value is an id that must be at
    /// most 255. The largest id is returned with the mask (the caller checks it against the
    /// class list).
    pub fn to_class_ids(&self, binary_class: u8) -> Result<(LabelMask, u8), Invalid> {
        if self.is_binary() {
            let data = self
                .values
                .iter()
                .map(|&v| if v != 0 { binary_class } else { 0 })
                .collect();
            return Ok((
                LabelMask {
                    width: self.width,
                    height: self.height,
                    data,
                },
                binary_class,
            ));
        }
        let top = self.max();
        if top > 255 {
            return Err(Invalid::from(format!(
                "holds label {top}, but class ids run from 1 to 255 (a project has at most 255 classes)"
            )));
        }
        Ok((
            LabelMask {
                width: self.width,
                height: self.height,
                data: self.values.iter().map(|&v| v as u8).collect(),
            },
            top as u8,
        ))
    }
}

/// Reads a mask image's values (see the module docs).
pub fn read_raw(path: &Path) -> Result<RawLabels, crate::error::Cause> {
    use image::DynamicImage as D;
    let img = crate::io::image::decode_raster(path)?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let (values, format_max): (Vec<u16>, u16) = match &img {
        D::ImageLuma8(b) => (b.as_raw().iter().map(|&v| v as u16).collect(), 255),
        D::ImageLumaA8(b) => (
            b.as_raw().chunks_exact(2).map(|p| p[0] as u16).collect(),
            255,
        ),
        D::ImageLuma16(b) => (b.as_raw().clone(), u16::MAX),
        D::ImageLumaA16(b) => (b.as_raw().chunks_exact(2).map(|p| p[0]).collect(), u16::MAX),
        other => (
            other
                .to_rgb8()
                .pixels()
                .map(|p| crate::io::mask::pil_luma(p[0], p[1], p[2]) as u16)
                .collect(),
            255,
        ),
    };
    Ok(RawLabels {
        width,
        height,
        values,
        format_max,
    })
}

/// Reads a project's mask file for an image of `width × height`: class ids kept exactly (a
/// binary 0/255 mask is class 1). Ids above the class list stay as they are; `undefined` tells
/// the largest such id (0 when none), for the caller to report.
pub fn read_label_mask(
    path: &Path,
    width: usize,
    height: usize,
) -> Result<(LabelMask, u8), ProjectError> {
    let read = |cause: crate::error::Cause| ProjectError::Read {
        path: path.to_path_buf(),
        source: cause,
    };
    let raw = read_raw(path).map_err(read)?;
    if (raw.width, raw.height) != (width, height) {
        return Err(ProjectError::MaskSize {
            path: path.to_path_buf(),
            got_w: raw.width,
            got_h: raw.height,
            want_w: width,
            want_h: height,
        });
    }
    raw.to_class_ids(1).map_err(|e| read(e.into()))
}

/// The PNG bytes of a mask of class ids (8-bit gray).
pub fn encode_png(mask: &LabelMask) -> Result<Vec<u8>, crate::error::Cause> {
    let img = image::GrayImage::from_raw(mask.width as u32, mask.height as u32, mask.data.clone())
        .ok_or(Invalid::from("mask buffer does not match its size"))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

/// Writes class ids as an 8-bit gray PNG, atomically (exports; project saves go through
/// `save.rs`).
pub fn write_label_mask(path: &Path, mask: &LabelMask) -> Result<(), ProjectError> {
    let err = |cause: crate::error::Cause| ProjectError::Write {
        path: path.to_path_buf(),
        source: cause,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.into()))?;
    }
    let bytes = encode_png(mask).map_err(err)?;
    crate::io::write_atomic(path, &bytes).map_err(|e| err(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(values: Vec<u16>, format_max: u16) -> RawLabels {
        RawLabels {
            width: values.len(),
            height: 1,
            values,
            format_max,
        }
    }

    #[test]
    fn binary_masks_are_one_class_and_label_masks_keep_their_ids() {
        let (m, top) = raw(vec![0, 255, 255], 255).to_class_ids(3).unwrap();
        assert_eq!((m.data, top), (vec![0, 3, 3], 3));
        // 16-bit labels stay distinct (they used to collapse into one class).
        let (m, top) = raw(vec![0, 1, 2, 7], u16::MAX).to_class_ids(1).unwrap();
        assert_eq!((m.data, top), (vec![0, 1, 2, 7], 7));
        let (m, _) = raw(vec![0, u16::MAX], u16::MAX).to_class_ids(1).unwrap();
        assert_eq!(m.data, vec![0, 1]);
        // Mixed values are ids, 255 included; ids above 255 do not fit.
        assert_eq!(
            raw(vec![1, 255], 255).to_class_ids(1).unwrap().0.data,
            vec![1, 255]
        );
        assert!(raw(vec![1, 300], u16::MAX).to_class_ids(1).is_err());
        // An empty mask is not binary.
        assert!(!raw(vec![0, 0], 255).is_binary());
    }
}
