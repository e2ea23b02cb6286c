//! What a SEG takes from its source image, read from a DICOM file (one frame of it).

use std::path::Path;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::common::*;

/// What a SEG takes from its source image.
#[derive(Debug, Clone, Default)]
pub struct SourceImage {
    /// SOP Class UID.
    pub sop_class: String,
    /// SOP Instance UID.
    pub sop_instance: String,
    /// Series Instance UID.
    pub series: String,
    /// Study Instance UID.
    pub study: String,
    /// Frame of Reference UID, if the source has one.
    pub frame_of_reference: Option<String>,
    /// Patient and study attributes copied as they are (tag, VR, value).
    pub copied: Vec<(Tag, VR, String)>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Pixel Spacing (row, column) in mm.
    pub pixel_spacing: Option<[f64; 2]>,
    /// Image Orientation (Patient).
    pub orientation: Option<[f64; 6]>,
    /// Image Position (Patient).
    pub position: Option<[f64; 3]>,
    /// Slice Thickness.
    pub slice_thickness: Option<f64>,
    /// The source frame the SEG is of (1-based Referenced Frame Number), for a multi-frame
    /// source; `None` for a single-frame one.
    pub referenced_frame: Option<u32>,
}

/// Patient and study attributes a derived object carries over (type 2: present, maybe empty).
pub(super) const COPIED: [(Tag, VR); 11] = [
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::STUDY_DATE, VR::DA),
    (tags::STUDY_TIME, VR::TM),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::STUDY_ID, VR::SH),
    (tags::ACCESSION_NUMBER, VR::SH),
    (tags::STUDY_DESCRIPTION, VR::LO),
    (tags::SPECIFIC_CHARACTER_SET, VR::CS),
];

/// Reads what a SEG needs from a DICOM image (header only), for its first frame.
pub fn source_from_dicom(path: &Path) -> Result<SourceImage, DicomError> {
    source_frame(path, 0)
}

/// What a SEG needs from frame `frame` (0-based) of a DICOM image (header only): a frame of a
/// multi-frame image is referenced by number, with its own plane position where the image gives
/// one per frame (Per-frame Functional Groups).
pub fn source_frame(path: &Path, frame: u32) -> Result<SourceImage, DicomError> {
    let obj = crate::io::dicom::open_guarded(path).map_err(|e| err(path, e))?;
    let need = |tag: Tag, name: &str| {
        text(&obj, tag).ok_or_else(|| err(path, format!("no {name}: it cannot be referenced")))
    };
    let rows = obj
        .element_opt(tags::ROWS)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<u32>().ok())
        .ok_or_else(|| err(path, "no Rows"))? as usize;
    let cols = obj
        .element_opt(tags::COLUMNS)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<u32>().ok())
        .ok_or_else(|| err(path, "no Columns"))? as usize;
    let frames = text(&obj, tags::NUMBER_OF_FRAMES)
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    if frame >= frames {
        return Err(err(
            path,
            format!("frame {frame} requested but the image has {frames} frame(s)"),
        ));
    }
    // Enhanced multi-frame images keep geometry in functional groups: the frame's own, else the
    // shared one, else the top level.
    let per_frame = items(&obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).get(frame as usize);
    let shared = items(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).first();
    let group = |seq: Tag, tag: Tag| -> Option<&InMemDicomObject> {
        per_frame
            .and_then(|f| items(f, seq).first())
            .filter(|i| i.element_opt(tag).ok().flatten().is_some())
            .or_else(|| {
                shared
                    .and_then(|s| items(s, seq).first())
                    .filter(|i| i.element_opt(tag).ok().flatten().is_some())
            })
    };
    let position = group(tags::PLANE_POSITION_SEQUENCE, tags::IMAGE_POSITION_PATIENT)
        .and_then(|g| floats::<3>(g, tags::IMAGE_POSITION_PATIENT))
        .or_else(|| floats::<3>(&obj, tags::IMAGE_POSITION_PATIENT));
    let orientation = group(
        tags::PLANE_ORIENTATION_SEQUENCE,
        tags::IMAGE_ORIENTATION_PATIENT,
    )
    .and_then(|g| floats::<6>(g, tags::IMAGE_ORIENTATION_PATIENT))
    .or_else(|| floats::<6>(&obj, tags::IMAGE_ORIENTATION_PATIENT));
    let spacing = group(tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING)
        .and_then(|g| floats::<2>(g, tags::PIXEL_SPACING));
    Ok(SourceImage {
        sop_class: need(tags::SOP_CLASS_UID, "SOPClassUID")?,
        sop_instance: need(tags::SOP_INSTANCE_UID, "SOPInstanceUID")?,
        series: need(tags::SERIES_INSTANCE_UID, "SeriesInstanceUID")?,
        study: need(tags::STUDY_INSTANCE_UID, "StudyInstanceUID")?,
        frame_of_reference: text(&obj, tags::FRAME_OF_REFERENCE_UID),
        copied: COPIED
            .iter()
            .filter_map(|&(t, vr)| text(&obj, t).map(|v| (t, vr, v)))
            .collect(),
        rows,
        cols,
        pixel_spacing: spacing
            .or_else(|| floats::<2>(&obj, tags::PIXEL_SPACING))
            .or_else(|| floats::<2>(&obj, tags::IMAGER_PIXEL_SPACING)),
        orientation,
        position,
        slice_thickness: floats::<1>(&obj, tags::SLICE_THICKNESS).map(|v| v[0]),
        referenced_frame: (frames > 1).then_some(frame + 1),
    })
}
