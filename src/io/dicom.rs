//! DICOM images through dicom-rs (`dicom-object`, `dicom-pixeldata`): modality values (Rescale
//! Slope / Intercept applied), window centre / width from the file or the user, MONOCHROME1
//! inverted for display, one frame of a multi-frame object.
//!
//! Display and model input use the DICOM linear VOI function:
//! `y = clamp((v - (c - 0.5)) / (w - 1) + 0.5, 0, 1)`, then `1 - y` for MONOCHROME1. Without a
//! window in the file the frame's minimum and maximum span it.

use std::path::Path;

use dicom_pixeldata::{ConvertOptions, PixelDecoder, VoiLutOption};

use super::image::{Image, ImageError};

/// A decoded DICOM frame.
#[derive(Debug, Clone)]
pub struct DicomImage {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Samples per pixel (1 or 3).
    pub samples: usize,
    /// Modality values, interleaved for colour, row-major.
    pub modality: Vec<f32>,
    /// Photometric interpretation is MONOCHROME1 (high values dark).
    pub monochrome1: bool,
    /// First window (centre, width) of the file, if any.
    pub window: Option<(f64, f64)>,
    /// Frames in the object.
    pub frames: u32,
    /// Transfer syntax UID.
    pub transfer_syntax: String,
}

/// Whether a file looks like DICOM (extension or the `DICM` magic at offset 128).
pub fn is_dicom(path: &Path) -> bool {
    let by_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "dcm" | "dicom"));
    by_ext || {
        use std::io::Read;
        let mut head = [0u8; 132];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && &head[128..132] == b"DICM"
    }
}

fn syntax_name(uid: &str) -> &'static str {
    match uid.trim_end_matches('\0') {
        "1.2.840.10008.1.2" => "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1" => "Explicit VR Little Endian",
        "1.2.840.10008.1.2.2" => "Explicit VR Big Endian",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline",
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => "JPEG Lossless",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        _ => "unknown transfer syntax",
    }
}

/// Reads frame `frame` (0-based) of a DICOM file.
pub fn read_dicom(path: &Path, frame: u32) -> Result<DicomImage, ImageError> {
    let err = |message: String| ImageError::Read {
        path: path.to_path_buf(),
        message,
    };
    let obj = dicom_object::open_file(path)
        .map_err(|e| err(format!("not a readable DICOM file: {e}")))?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let decoded = obj.decode_pixel_data().map_err(|e| {
        err(format!(
            "cannot decode pixel data with transfer syntax {} ({ts}): {e}",
            syntax_name(&ts)
        ))
    })?;
    let frames = decoded.number_of_frames();
    if frame >= frames {
        return Err(err(format!(
            "frame {frame} requested but the file has {frames} frame(s)"
        )));
    }
    let opts = ConvertOptions::new().with_voi_lut(VoiLutOption::Identity);
    let modality: Vec<f32> = decoded
        .to_vec_frame_with_options::<f32>(frame, &opts)
        .map_err(|e| err(format!("cannot convert frame {frame}: {e}")))?;
    let (rows, cols) = (decoded.rows() as usize, decoded.columns() as usize);
    let samples = decoded.samples_per_pixel() as usize;
    if modality.len() != rows * cols * samples {
        return Err(err(format!(
            "decoded {} values for {rows}x{cols}x{samples}",
            modality.len()
        )));
    }
    let window = decoded
        .window()
        .ok()
        .flatten()
        .and_then(|w| w.first().map(|w| (w.center, w.width)));
    let monochrome1 = decoded.photometric_interpretation().to_string() == "MONOCHROME1";
    Ok(DicomImage {
        rows,
        cols,
        samples,
        modality,
        monochrome1,
        window,
        frames,
        transfer_syntax: ts,
    })
}

impl DicomImage {
    /// The window used for display: the given one, else the file's, else min..max.
    pub fn effective_window(&self, window: Option<(f64, f64)>) -> (f64, f64) {
        window.or(self.window).unwrap_or_else(|| {
            let (lo, hi) = self
                .modality
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let (lo, hi) = (lo as f64, hi as f64);
            ((lo + hi + 1.0) / 2.0, (hi - lo + 1.0).max(2.0))
        })
    }

    /// Windowed planes in [0, 1] (colour images are scaled by their bit range instead).
    pub fn to_image(&self, window: Option<(f64, f64)>) -> Image {
        let n = self.rows * self.cols;
        let planes = if self.samples == 1 {
            let (c, w) = self.effective_window(window);
            let plane = self
                .modality
                .iter()
                .map(|&v| {
                    let y = ((v as f64 - (c - 0.5)) / (w - 1.0).max(1e-9) + 0.5).clamp(0.0, 1.0);
                    (if self.monochrome1 { 1.0 - y } else { y }) as f32
                })
                .collect();
            vec![plane]
        } else {
            let max = self.modality.iter().fold(0f32, |a, &v| a.max(v));
            let scale = if max > 255.0 { 65535.0 } else { 255.0 };
            (0..3)
                .map(|k| {
                    (0..n)
                        .map(|i| self.modality[i * self.samples + k] / scale)
                        .collect()
                })
                .collect()
        };
        Image {
            width: self.cols,
            height: self.rows,
            planes,
        }
    }
}
