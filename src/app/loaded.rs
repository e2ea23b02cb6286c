//! The image on screen, decoded: the displayed (windowed) image, the gray values the fill tool
//! and the readout use (modality values for DICOM), and the DICOM source for window/level.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::io::dicom::{self, DicomImage};
use crate::io::image::{self as vimage, Image};

/// The current image, decoded.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// Index in the project.
    pub index: usize,
    /// Resolved file.
    pub path: PathBuf,
    /// Displayed (and model) image, windowed for DICOM.
    pub image: Arc<Image>,
    /// Gray plane for the fill tool and the value readout (modality values for DICOM).
    pub values: Arc<Vec<f32>>,
    /// DICOM source, for window/level.
    pub dicom: Option<Arc<DicomImage>>,
    /// Smallest and largest of `values`.
    pub value_range: (f32, f32),
}

impl LoadedImage {
    /// Width.
    pub fn width(&self) -> usize {
        self.image.width
    }

    /// Height.
    pub fn height(&self) -> usize {
        self.image.height
    }
}

/// Longest image side the workbench shows: the texture limit every wgpu device guarantees.
pub const MAX_DISPLAY_SIDE: usize = 8192;

/// Decodes an image or DICOM file for the workbench.
pub fn load_image(
    path: &Path,
    index: usize,
    window: Option<(f64, f64)>,
    frame: u32,
) -> Result<LoadedImage, String> {
    let (image, dicom) = if dicom::is_dicom(path) {
        let d = dicom::read_dicom(path, frame).map_err(|e| e.to_string())?;
        (d.to_image(window), Some(d))
    } else {
        (vimage::read_image(path).map_err(|e| e.to_string())?, None)
    };
    if image.width > MAX_DISPLAY_SIDE || image.height > MAX_DISPLAY_SIDE {
        return Err(format!(
            "{}: the image is {}×{}; the workbench displays images up to {MAX_DISPLAY_SIDE} px a side (the command line reads larger ones)",
            path.display(),
            image.width,
            image.height
        ));
    }
    let values = match &dicom {
        Some(d) if d.samples == 1 => d.modality.clone(),
        _ if image.planes.len() == 1 => image.planes[0].clone(),
        _ => (0..image.width * image.height)
            .map(|i| (image.planes[0][i] + image.planes[1][i] + image.planes[2][i]) / 3.0)
            .collect(),
    };
    let value_range = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    Ok(LoadedImage {
        index,
        path: path.to_path_buf(),
        image: Arc::new(image),
        value_range,
        values: Arc::new(values),
        dicom: dicom.map(Arc::new),
    })
}
