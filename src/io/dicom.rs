//! DICOM images through dicom-rs (`dicom-object`, `dicom-pixeldata`): modality values (Rescale
//! Slope / Intercept applied), window centre / width from the file or the user, MONOCHROME1
//! inverted for display, one frame of a multi-frame object.
//!
//! Display and model input use the DICOM linear VOI function:
//! `y = clamp((v - (c - 0.5)) / (w - 1) + 0.5, 0, 1)`, then `1 - y` for MONOCHROME1. Without a
//! window in the file the frame's minimum and maximum span it.

use crate::error::Invalid;
use std::path::Path;

use dicom_pixeldata::{ConvertOptions, PixelDecoder, VoiLutOption};

use super::raster::{Image, ImageError};

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
    /// The file's VOI LUT Function (0028,1056).
    pub voi_function: VoiFunction,
    /// Pixel Spacing (else Imager Pixel Spacing): (row, column) in mm.
    pub pixel_spacing: Option<[f64; 2]>,
}

/// The VOI LUT Function that maps modality values through the window (PS3.3 C.11.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiFunction {
    /// `LINEAR` (the default): `(v - (c - 0.5)) / (w - 1) + 0.5`, clamped.
    #[default]
    Linear,
    /// `LINEAR_EXACT`: `(v - c) / w + 0.5`, clamped.
    LinearExact,
    /// `SIGMOID`: `1 / (1 + exp(-4 (v - c) / w))`.
    Sigmoid,
}

impl VoiFunction {
    /// Output in [0, 1] of modality value `v` through window (centre `c`, width `w`).
    pub fn apply(self, v: f64, c: f64, w: f64) -> f64 {
        match self {
            VoiFunction::Linear => ((v - (c - 0.5)) / (w - 1.0).max(1e-9) + 0.5).clamp(0.0, 1.0),
            VoiFunction::LinearExact => ((v - c) / w.max(1e-9) + 0.5).clamp(0.0, 1.0),
            VoiFunction::Sigmoid => 1.0 / (1.0 + (-4.0 * (v - c) / w.max(1e-9)).exp()),
        }
    }
}

/// CT window presets (name, centre, width) in Hounsfield units, as radiology workstations
/// commonly set them.
pub const CT_PRESETS: [(&str, f64, f64); 6] = [
    ("brain", 40.0, 80.0),
    ("lung", -600.0, 1500.0),
    ("mediastinum", 50.0, 350.0),
    ("bone", 400.0, 1800.0),
    ("abdomen", 40.0, 400.0),
    ("liver", 60.0, 160.0),
];

/// Whether a file looks like DICOM (extension or the `DICM` magic at offset 128).
pub fn is_dicom(path: &Path) -> bool {
    let by_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "dcm" | "dicom"));
    by_ext || {
        use std::io::Read;
        let mut head = Vec::with_capacity(132);
        std::fs::File::open(path)
            .and_then(|f| f.take(132).read_to_end(&mut head))
            .is_ok()
            && super::dicom_scan::meta_start(&head).is_some()
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

/// A DICOM file read into memory.
pub type Object = dicom_object::FileDicomObject<dicom_object::InMemDicomObject>;

use super::raster::read_error;

/// Reads the file after checking every element length ([`super::dicom_scan`]); dicom-rs runs
/// inside a panic guard.
fn open_checked(path: &Path) -> Result<(Object, Vec<u8>, super::dicom_scan::Scan), ImageError> {
    let bytes = super::guard::read_bounded(path, u64::MAX).map_err(|e| read_error(path, e))?;
    let scan = super::dicom_scan::scan(&bytes)
        .map_err(|e| read_error(path, format!("malformed DICOM: {e}")))?;
    let obj = super::guard::catch_panic(|| {
        dicom_object::OpenFileOptions::new()
            .read_preamble(if super::dicom_scan::meta_start(&bytes) == Some(4) {
                dicom_object::file::ReadPreamble::Never
            } else {
                dicom_object::file::ReadPreamble::Always
            })
            .from_reader(&bytes[..])
    })
    .map_err(|e| read_error(path, e))?
    .map_err(|e| read_error(path, format!("not a readable DICOM file: {e}")))?;
    Ok((obj, bytes, scan))
}

/// Opens a DICOM file through the guard ([`super::dicom_scan`]'s walk of every element length,
/// the size limits, dicom-rs inside a panic guard), for readers of other objects than images
/// (SEG import, a PACS instance, a source image exported beside its SEG). The error is the
/// cause alone; the caller names the file.
pub fn open_guarded(path: &Path) -> Result<Object, crate::error::Cause> {
    match open_checked(path) {
        Ok((obj, _, _)) => Ok(obj),
        Err(ImageError::Read { source, .. } | ImageError::Write { source, .. }) => Err(source),
    }
}

/// An attribute's text, trimmed; `None` when absent or empty.
fn text(obj: &Object, tag: dicom_object::Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok().flatten()?;
    let s = e
        .to_str()
        .ok()?
        .trim()
        .trim_end_matches('\0')
        .trim()
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// An integer attribute: absent is `None`, unparseable is an error naming it.
fn int(obj: &Object, tag: dicom_object::Tag, name: &str) -> Result<Option<i64>, Invalid> {
    match obj.element_opt(tag).ok().flatten() {
        None => Ok(None),
        Some(e) => match e.to_int::<i64>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => match text(obj, tag) {
                None => Ok(None),
                Some(t) => Err(Invalid::from(format!("{name} '{t}' is not an integer"))),
            },
        },
    }
}

/// The first value of a decimal attribute: absent is `None`; unparseable or non-finite is an
/// error naming it.
fn decimal(obj: &Object, tag: dicom_object::Tag, name: &str) -> Result<Option<f64>, Invalid> {
    let Some(t) = text(obj, tag) else {
        return Ok(None);
    };
    let first = t.split('\\').next().unwrap_or("").trim();
    match first.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(Invalid::from(format!(
            "{name} '{t}' is not a finite number"
        ))),
    }
}

/// PhotometricInterpretation must be one this reader decodes as it says, with its number of
/// samples: MONOCHROME1/2 with one, RGB or a YBR form with three. PALETTE COLOR (its lookup
/// table is not applied), an unknown word, or a missing one is refused rather than decoded as
/// something else.
fn check_photometric(obj: &Object, samples: i64) -> Result<(), Invalid> {
    use dicom_dictionary_std::tags;
    const GREY: [&str; 2] = ["MONOCHROME1", "MONOCHROME2"];
    const COLOUR: [&str; 6] = [
        "RGB",
        "YBR_FULL",
        "YBR_FULL_422",
        "YBR_PARTIAL_420",
        "YBR_ICT",
        "YBR_RCT",
    ];
    let Some(p) = text(obj, tags::PHOTOMETRIC_INTERPRETATION) else {
        return Err(Invalid::from(
            "PhotometricInterpretation is missing: the pixels cannot be interpreted",
        ));
    };
    let need = if GREY.contains(&p.as_str()) {
        1
    } else if COLOUR.contains(&p.as_str()) {
        3
    } else if p == "PALETTE COLOR" {
        return Err(Invalid::from(
            "PhotometricInterpretation PALETTE COLOR is not supported (its colour palette would not be applied); convert the image to RGB",
        ));
    } else {
        return Err(Invalid::from(format!(
            "PhotometricInterpretation '{p}' is not one of MONOCHROME1, MONOCHROME2, RGB or YBR_*"
        )));
    };
    if samples != need {
        return Err(Invalid::from(format!(
            "PhotometricInterpretation {p} takes {need} sample(s) per pixel, but SamplesPerPixel is {samples}"
        )));
    }
    Ok(())
}

/// The image attributes, checked before any pixel is decoded.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    rows: u64,
    cols: u64,
    samples: u64,
    bits_allocated: u64,
    frames: u64,
}

fn geometry(obj: &Object) -> Result<Geometry, Invalid> {
    use dicom_dictionary_std::tags;
    let need = |tag, name: &str| -> Result<i64, Invalid> {
        int(obj, tag, name)?.ok_or_else(|| Invalid::from(format!("{name} is missing")))
    };
    let rows = need(tags::ROWS, "Rows")?;
    let cols = need(tags::COLUMNS, "Columns")?;
    let samples = int(obj, tags::SAMPLES_PER_PIXEL, "SamplesPerPixel")?.unwrap_or(1);
    let bits_allocated = need(tags::BITS_ALLOCATED, "BitsAllocated")?;
    let bits_stored = int(obj, tags::BITS_STORED, "BitsStored")?.unwrap_or(bits_allocated);
    let high_bit = int(obj, tags::HIGH_BIT, "HighBit")?.unwrap_or(bits_stored - 1);
    let representation = int(obj, tags::PIXEL_REPRESENTATION, "PixelRepresentation")?.unwrap_or(0);
    let frames = int(obj, tags::NUMBER_OF_FRAMES, "NumberOfFrames")?.unwrap_or(1);
    if rows < 1 || cols < 1 || rows > u16::MAX as i64 || cols > u16::MAX as i64 {
        return Err(Invalid::from(format!(
            "Rows {rows} / Columns {cols} must be 1 to 65535"
        )));
    }
    if samples != 1 && samples != 3 {
        return Err(Invalid::from(format!(
            "SamplesPerPixel {samples} is not 1 or 3"
        )));
    }
    check_photometric(obj, samples)?;
    if ![1, 8, 16, 32].contains(&bits_allocated) {
        return Err(Invalid::from(format!(
            "BitsAllocated {bits_allocated} is not 1, 8, 16 or 32"
        )));
    }
    if bits_stored < 1 || bits_stored > bits_allocated {
        return Err(Invalid::from(format!(
            "BitsStored {bits_stored} must be 1 to BitsAllocated ({bits_allocated})"
        )));
    }
    if high_bit < bits_stored - 1 || high_bit >= bits_allocated {
        return Err(Invalid::from(format!(
            "HighBit {high_bit} must be BitsStored - 1 ({}) to BitsAllocated - 1 ({})",
            bits_stored - 1,
            bits_allocated - 1
        )));
    }
    if representation != 0 && representation != 1 {
        return Err(Invalid::from(format!(
            "PixelRepresentation {representation} is not 0 or 1"
        )));
    }
    if frames < 1 {
        return Err(Invalid::from(format!("NumberOfFrames {frames} is below 1")));
    }
    let g = Geometry {
        rows: rows as u64,
        cols: cols as u64,
        samples: samples as u64,
        bits_allocated: bits_allocated as u64,
        frames: frames as u64,
    };
    super::guard::check_dimensions(g.cols, g.rows)?;
    let pixels = super::guard::checked_product(
        &[g.rows, g.cols, g.samples, g.frames],
        "Rows x Columns x SamplesPerPixel x NumberOfFrames",
    )?;
    // dicom-rs decodes every frame at once, then one frame to f32.
    let bytes = pixels.div_ceil(8).saturating_mul(g.bits_allocated);
    super::guard::check_alloc(bytes, "decoding all frames")?;
    Ok(g)
}

/// Width and height of a DICOM image from its attributes (pixel data not decoded).
pub fn dimensions(path: &Path) -> Result<(usize, usize), ImageError> {
    let (obj, _, _) = open_checked(path)?;
    let g = geometry(&obj).map_err(|e| read_error(path, e))?;
    Ok((g.cols as usize, g.rows as usize))
}

/// The identifying UIDs of a DICOM instance and its frame count, read through the same length
/// checks as the pixels (pixel data not decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceUids {
    /// Study Instance UID (empty when absent).
    pub study: String,
    /// Series Instance UID (empty when absent).
    pub series: String,
    /// SOP Instance UID (never empty).
    pub sop_instance: String,
    /// SOP Class UID (empty when absent).
    pub sop_class: String,
    /// NumberOfFrames (1 when absent).
    pub frames: u32,
}

/// Reads a DICOM file's UIDs; a file without a SOP Instance UID is an error naming it.
pub fn instance_uids(path: &Path) -> Result<InstanceUids, ImageError> {
    use dicom_dictionary_std::tags;
    let (obj, _, _) = open_checked(path)?;
    let get = |t| text(&obj, t).unwrap_or_default();
    let sop_instance = get(tags::SOP_INSTANCE_UID);
    if sop_instance.is_empty() {
        return Err(read_error(path, "no SOP Instance UID"));
    }
    let frames = int(&obj, tags::NUMBER_OF_FRAMES, "NumberOfFrames")
        .map_err(|e| read_error(path, e))?
        .unwrap_or(1)
        .clamp(1, u32::MAX as i64) as u32;
    Ok(InstanceUids {
        study: get(tags::STUDY_INSTANCE_UID),
        series: get(tags::SERIES_INSTANCE_UID),
        sop_instance,
        sop_class: get(tags::SOP_CLASS_UID),
        frames,
    })
}

/// NumberOfFrames of a DICOM image (pixel data not decoded).
pub fn frame_count(path: &Path) -> Result<u32, ImageError> {
    let (obj, _, _) = open_checked(path)?;
    let g = geometry(&obj).map_err(|e| read_error(path, e))?;
    Ok(g.frames.min(u32::MAX as u64) as u32)
}

/// Reads frame `frame` (0-based) of a DICOM file.
pub fn read_dicom(path: &Path, frame: u32) -> Result<DicomImage, ImageError> {
    read_frame(path, frame, false).map(|(d, _)| d)
}

/// Reads frame `frame` with its modality values also in float64 (stored · slope + intercept
/// without a round trip through f32: what the mask effects compare with their bounds).
pub fn read_dicom_f64(path: &Path, frame: u32) -> Result<(DicomImage, Vec<f64>), ImageError> {
    let (d, exact) = read_frame(path, frame, true)?;
    let exact = exact.unwrap_or_else(|| d.modality.iter().map(|&v| v as f64).collect());
    Ok((d, exact))
}

fn read_frame(
    path: &Path,
    frame: u32,
    exact: bool,
) -> Result<(DicomImage, Option<Vec<f64>>), ImageError> {
    use dicom_dictionary_std::tags;
    let err = |message: String| read_error(path, message);
    let (obj, bytes, scan) = open_checked(path)?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let g = geometry(&obj).map_err(|e| read_error(path, e))?;
    if frame as u64 >= g.frames {
        return Err(err(format!(
            "frame {frame} requested but the file has {} frame(s)",
            g.frames
        )));
    }
    for (tag, name) in [
        (tags::RESCALE_SLOPE, "RescaleSlope"),
        (tags::RESCALE_INTERCEPT, "RescaleIntercept"),
    ] {
        if obj.element_opt(tag).ok().flatten().is_some() && text(&obj, tag).is_none() {
            return Err(err(format!(
                "{name} is present but empty: the modality values are unknown"
            )));
        }
    }
    let slope =
        decimal(&obj, tags::RESCALE_SLOPE, "RescaleSlope").map_err(|e| read_error(path, e))?;
    let intercept = decimal(&obj, tags::RESCALE_INTERCEPT, "RescaleIntercept")
        .map_err(|e| read_error(path, e))?;
    if slope == Some(0.0) {
        return Err(err(
            "RescaleSlope is 0: every pixel would have the same value".into(),
        ));
    }
    let center =
        decimal(&obj, tags::WINDOW_CENTER, "WindowCenter").map_err(|e| read_error(path, e))?;
    let width =
        decimal(&obj, tags::WINDOW_WIDTH, "WindowWidth").map_err(|e| read_error(path, e))?;
    if let Some(w) = width
        && w < 1.0
    {
        return Err(err(format!("WindowWidth {w} is below 1")));
    }
    let window = center.zip(width);
    let photometric = text(&obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
    let monochrome1 = photometric == "MONOCHROME1";
    let encapsulated = !matches!(
        ts.as_str(),
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    );
    if ts == "1.2.840.10008.1.2.5" {
        let segments = (g.samples * g.bits_allocated.div_ceil(8)) as u32;
        super::dicom_scan::check_rle(&bytes, &scan, g.frames, segments)
            .map_err(|e| err(format!("malformed RLE pixel data: {e}")))?;
    }
    if !encapsulated {
        let have = obj
            .element_opt(tags::PIXEL_DATA)
            .ok()
            .flatten()
            .map(|e| e.header().len.get().unwrap_or(0) as u64)
            .ok_or_else(|| err("no pixel data (7FE0,0010)".into()))?;
        // YBR_FULL_422 stores two samples per pixel (PS3.3 C.7.6.3.1.2).
        let stored = if photometric.starts_with("YBR_FULL_422") {
            2
        } else {
            g.samples
        };
        let need = (g.rows * g.cols * stored * g.frames * g.bits_allocated).div_ceil(8);
        // The value is the frames' bytes, padded to an even length (PS3.5 §8.1.1). Fewer, or a
        // whole frame more, means Rows, Columns, BitsAllocated or NumberOfFrames do not describe
        // it; a shorter excess is trailing padding some writers leave, read with a warning.
        let frame_bytes = need / g.frames;
        let describe = || {
            format!(
                "pixel data holds {have} bytes but {}x{}x{} samples of {} bits in {} frame(s) take {need}",
                g.rows, g.cols, g.samples, g.bits_allocated, g.frames
            )
        };
        if have < need || have - need >= frame_bytes.max(2) {
            return Err(err(describe()));
        }
        if have > need + 1 {
            eprintln!(
                "warning: {}: {}; the {} bytes after them are ignored",
                path.display(),
                describe(),
                have - need
            );
        }
    }
    let mut exact_values = None;
    let modality = if g.bits_allocated == 1 {
        if encapsulated {
            return Err(err(format!(
                "1-bit pixel data in transfer syntax {} ({ts}) is not supported",
                syntax_name(&ts)
            )));
        }
        let raw = obj
            .element(tags::PIXEL_DATA)
            .map_err(|e| err(e.to_string()))?
            .to_bytes()
            .map_err(|e| err(format!("cannot read 1-bit pixel data: {e}")))?;
        unpack_bits(
            &raw,
            g,
            frame,
            slope.unwrap_or(1.0),
            intercept.unwrap_or(0.0),
        )
    } else {
        let decoded = super::guard::catch_panic(|| obj.decode_pixel_data())
            .map_err(|e| read_error(path, e))?
            .map_err(|e| {
                err(format!(
                    "cannot decode pixel data with transfer syntax {} ({ts}): {e}",
                    syntax_name(&ts)
                ))
            })?;
        if (decoded.number_of_frames() as u64) < g.frames {
            return Err(err(format!(
                "the pixel data holds {} frame(s), NumberOfFrames says {}",
                decoded.number_of_frames(),
                g.frames
            )));
        }
        let opts = ConvertOptions::new().with_voi_lut(VoiLutOption::Identity);
        if exact {
            exact_values = Some(
                super::guard::catch_panic(|| {
                    decoded.to_vec_frame_with_options::<f64>(frame, &opts)
                })
                .map_err(|e| read_error(path, e))?
                .map_err(|e| err(format!("cannot convert frame {frame}: {e}")))?,
            );
        }
        super::guard::catch_panic(|| decoded.to_vec_frame_with_options::<f32>(frame, &opts))
            .map_err(|e| read_error(path, e))?
            .map_err(|e| err(format!("cannot convert frame {frame}: {e}")))?
    };
    let (rows, cols, samples) = (g.rows as usize, g.cols as usize, g.samples as usize);
    if modality.len() != rows * cols * samples {
        return Err(err(format!(
            "decoded {} values for {rows}x{cols}x{samples}",
            modality.len()
        )));
    }
    super::guard::check_finite(&modality, "the decoded frame").map_err(|e| read_error(path, e))?;
    let voi_function = match text(&obj, tags::VOILUT_FUNCTION).as_deref().map(str::trim) {
        Some("LINEAR_EXACT") => VoiFunction::LinearExact,
        Some("SIGMOID") => VoiFunction::Sigmoid,
        _ => VoiFunction::Linear,
    };
    let spacing = |tag| {
        obj.element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_multi_float64().ok())
            .filter(|v| v.len() >= 2 && v[..2].iter().all(|x| x.is_finite() && *x > 0.0))
            .map(|v| [v[0], v[1]])
    };
    let pixel_spacing =
        spacing(tags::PIXEL_SPACING).or_else(|| spacing(tags::IMAGER_PIXEL_SPACING));
    let image = DicomImage {
        rows,
        cols,
        samples,
        modality,
        monochrome1,
        window,
        frames: g.frames as u32,
        transfer_syntax: ts,
        voi_function,
        pixel_spacing,
    };
    Ok((image, exact_values))
}

/// Unpacks frame `frame` of native 1-bit pixel data (PS3.5 §8.1.1: bits fill each byte from
/// its least significant bit, frames follow each other without padding) to modality values.
fn unpack_bits(raw: &[u8], g: Geometry, frame: u32, slope: f64, intercept: f64) -> Vec<f32> {
    let n = (g.rows * g.cols * g.samples) as usize;
    let start = frame as usize * n;
    (start..start + n)
        .map(|bit| {
            let v = raw.get(bit / 8).map_or(0, |b| (b >> (bit % 8)) & 1);
            (v as f64 * slope + intercept) as f32
        })
        .collect()
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
                    let y = self.voi_function.apply(v as f64, c, w);
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
