//! Any image file the readers open, raster or DICOM: which files those are, and reading one
//! (a frame of it) as an [`Image`] or only its dimensions. Raster decoding is in
//! [`super::raster`], DICOM in [`super::dicom`].

use std::path::{Path, PathBuf};

pub use super::raster::{
    Image, ImageError, RASTER_EXTENSIONS, SUPPORTED_NAMES, decode_raster, from_dynamic,
    jpeg_is_complete, stored_values, write_rgb8,
};
use super::raster::{checked_dimensions, read_error};

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
    read_image_frame(path, 0)
}

/// Decodes frame `frame` of an image file (only a multi-frame DICOM has frames above 0).
pub fn read_image_frame(path: &Path, frame: u32) -> Result<Image, ImageError> {
    if super::dicom::is_dicom(path) {
        return super::dicom::read_dicom(path, frame).map(|d| d.to_image(None));
    }
    if frame != 0 {
        return Err(read_error(
            path,
            format!("frame {frame} requested but the image has 1 frame"),
        ));
    }
    Ok(from_dynamic(decode_raster(path)?))
}

/// Width and height of an image file from its header, checked against the pixel limit (DICOM:
/// Rows and Columns, without decoding the pixel data).
pub fn dimensions(path: &Path) -> Result<(usize, usize), ImageError> {
    if super::dicom::is_dicom(path) {
        return super::dicom::dimensions(path);
    }
    // The header only: a buffered reader on the (regular) file, not the whole file.
    let (file, _) = super::guard::open_regular(path).map_err(|e| read_error(path, e))?;
    let reader = image::ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| read_error(path, e.to_string()))?;
    let (w, h) = checked_dimensions(path, reader)?;
    Ok((w as usize, h as usize))
}

/// Frames of an image file: NumberOfFrames of a DICOM (pixel data not decoded), else 1.
pub fn frame_count(path: &Path) -> Result<u32, ImageError> {
    if super::dicom::is_dicom(path) {
        return super::dicom::frame_count(path);
    }
    dimensions(path).map(|_| 1)
}
