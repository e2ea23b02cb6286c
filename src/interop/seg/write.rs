//! Writing: the SEG of an image's class masks, and the Secondary Capture of a non-DICOM source.

use std::path::Path;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR, dicom_value};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::common::*;
use super::source::*;

/// A code sequence item (Code Value, Coding Scheme Designator, Code Meaning).
pub(crate) fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, value),
        DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        DataElement::new(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

pub(super) fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

pub(super) fn ds(v: f64) -> String {
    // DS holds at most 16 characters.
    let s = format!("{v}");
    if s.len() <= 16 {
        s
    } else {
        format!("{v:.10e}")
    }
}

pub(super) fn ds_multi(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::Strs(values.iter().map(|&v| ds(v)).collect())
}

pub(super) fn now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil(days);
    let t = secs % 86_400;
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", t / 3600, t / 60 % 60, t % 60),
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub(super) fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// sRGB (0..255) to DICOM's scaled CIELab (PS3.3 C.10.7.1.1: L 0..100, a and b -128..127, each
/// mapped to 0..65535; D65 white).
pub fn rgb_to_dicom_lab(rgb: [u8; 3]) -> [u16; 3] {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(rgb[0]), lin(rgb[1]), lin(rgb[2]));
    let x = 0.4124 * r + 0.3576 * g + 0.1805 * b;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = 0.0193 * r + 0.1192 * g + 0.9505 * b;
    let f = |t: f64| {
        if t > (6.0f64 / 29.0).powi(3) {
            t.cbrt()
        } else {
            t / (3.0 * (6.0f64 / 29.0).powi(2)) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.950_47), f(y), f(z / 1.088_83));
    let l = 116.0 * fy - 16.0;
    let a = 500.0 * (fx - fy);
    let bb = 200.0 * (fy - fz);
    let scale =
        |v: f64, lo: f64, hi: f64| ((v.clamp(lo, hi) - lo) / (hi - lo) * 65535.0).round() as u16;
    [
        scale(l, 0.0, 100.0),
        scale(a, -128.0, 127.0),
        scale(bb, -128.0, 127.0),
    ]
}

/// One segment of a SEG: number (1..), label, display colour, and its mask (row-major).
#[derive(Debug, Clone)]
pub struct Segment {
    /// Segment Number.
    pub number: u16,
    /// Segment Label.
    pub label: String,
    /// Display colour (sRGB).
    pub colour: [u8; 3],
    /// Inside pixels.
    pub mask: Vec<bool>,
}

/// Frames packed one bit per pixel, least significant bit first, frame k starting at bit
/// k · rows · columns; padded to an even length.
pub fn pack_bits(frames: &[&[bool]]) -> Vec<u8> {
    let total: usize = frames.iter().map(|f| f.len()).sum();
    let mut out = vec![0u8; total.div_ceil(8).next_multiple_of(2)];
    for (i, &v) in frames.iter().flat_map(|f| f.iter()).enumerate() {
        if v {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

/// Writes `obj` as a Part 10 file (explicit VR little endian) atomically.
pub(super) fn write_part10(
    obj: InMemDicomObject,
    sop_class: &str,
    sop_instance: &str,
    path: &Path,
) -> Result<(), DicomError> {
    write_part10_as(obj, EXPLICIT_VR_LE, sop_class, sop_instance, path)
}

/// Writes `obj` as a Part 10 file in transfer syntax `ts` (a copy keeps its source's, with its
/// pixel data as it was encoded) atomically.
pub fn write_part10_as(
    obj: InMemDicomObject,
    ts: &str,
    sop_class: &str,
    sop_instance: &str,
    path: &Path,
) -> Result<(), DicomError> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .implementation_class_uid(IMPLEMENTATION_UID)
        .implementation_version_name("VITSCOPE");
    let file = obj
        .with_meta(meta)
        .map_err(|e| err(path, format!("cannot build the file meta group: {e}")))?;
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)
        .map_err(|e| err(path, format!("cannot encode: {e}")))?;
    crate::io::write_atomic(path, &bytes).map_err(|e| err(path, e.to_string()))
}

/// The Image Pixel attributes of unsigned, uncompressed pixels (`bits` allocated = stored, the
/// high bit last).
pub(super) fn image_pixel(
    obj: &mut InMemDicomObject,
    (rows, cols): (usize, usize),
    samples: u16,
    photometric: &str,
    bits: u16,
) {
    let us = |obj: &mut InMemDicomObject, tag, v: u16| {
        obj.put(DataElement::new(tag, VR::US, dicom_value!(U16, [v])));
    };
    us(obj, tags::SAMPLES_PER_PIXEL, samples);
    obj.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        photometric,
    ));
    us(obj, tags::ROWS, rows as u16);
    us(obj, tags::COLUMNS, cols as u16);
    us(obj, tags::BITS_ALLOCATED, bits);
    us(obj, tags::BITS_STORED, bits);
    us(obj, tags::HIGH_BIT, bits - 1);
    us(obj, tags::PIXEL_REPRESENTATION, 0);
    obj.put(DataElement::new(
        tags::LOSSY_IMAGE_COMPRESSION,
        VR::CS,
        "00",
    ));
}

pub(super) fn equipment(obj: &mut InMemDicomObject) {
    obj.put(DataElement::new(tags::MANUFACTURER, VR::LO, "vitscope"));
    obj.put(DataElement::new(
        tags::MANUFACTURER_MODEL_NAME,
        VR::LO,
        "vitscope",
    ));
    obj.put(DataElement::new(tags::DEVICE_SERIAL_NUMBER, VR::LO, "1"));
    obj.put(DataElement::new(
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        env!("CARGO_PKG_VERSION"),
    ));
}

/// The Patient and Study of a new study for a non-DICOM source (empty type-2 attributes).
pub(super) fn blank_patient_study(obj: &mut InMemDicomObject, study: &str, date: &str, time: &str) {
    for (t, vr) in [
        (tags::PATIENT_NAME, VR::PN),
        (tags::PATIENT_ID, VR::LO),
        (tags::PATIENT_BIRTH_DATE, VR::DA),
        (tags::PATIENT_SEX, VR::CS),
        (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
        (tags::STUDY_ID, VR::SH),
        (tags::ACCESSION_NUMBER, VR::SH),
    ] {
        obj.put(DataElement::new(t, vr, PrimitiveValue::Empty));
    }
    obj.put(DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, study));
    obj.put(DataElement::new(tags::STUDY_DATE, VR::DA, date));
    obj.put(DataElement::new(tags::STUDY_TIME, VR::TM, time));
}

/// Writes an 8-bit RGB image (`rgb`, row-major, `width` × `height`) as a Secondary Capture
/// object with the given (study, series, instance) UIDs; returns what a SEG needs to reference
/// it.
pub fn write_secondary_capture(
    rgb: &[u8],
    width: usize,
    height: usize,
    name: &str,
    uids: &[String; 3],
    path: &Path,
) -> Result<SourceImage, DicomError> {
    if width > u16::MAX as usize || height > u16::MAX as usize || rgb.len() != width * height * 3 {
        return Err(err(
            path,
            format!("a {width}×{height} image cannot be a DICOM image"),
        ));
    }
    let (date, time) = now();
    let [study, series, sop] = uids.clone();
    let mut obj = InMemDicomObject::new_empty();
    blank_patient_study(&mut obj, &study, &date, &time);
    obj.put(DataElement::new(tags::SOP_CLASS_UID, VR::UI, SC_SOP_CLASS));
    obj.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        sop.as_str(),
    ));
    obj.put(DataElement::new(tags::MODALITY, VR::CS, "OT"));
    obj.put(DataElement::new(
        tags::LATERALITY,
        VR::CS,
        PrimitiveValue::Empty,
    ));
    obj.put(DataElement::new(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        series.as_str(),
    ));
    obj.put(DataElement::new(tags::SERIES_NUMBER, VR::IS, "1"));
    obj.put(DataElement::new(tags::INSTANCE_NUMBER, VR::IS, "1"));
    obj.put(DataElement::new(tags::CONVERSION_TYPE, VR::CS, "WSD"));
    obj.put(DataElement::new(tags::CONTENT_DATE, VR::DA, date.as_str()));
    obj.put(DataElement::new(tags::CONTENT_TIME, VR::TM, time.as_str()));
    obj.put(DataElement::new(tags::SERIES_DESCRIPTION, VR::LO, name));
    obj.put(DataElement::new(
        tags::PATIENT_ORIENTATION,
        VR::CS,
        PrimitiveValue::Empty,
    ));
    image_pixel(&mut obj, (height, width), 3, "RGB", 8);
    obj.put(DataElement::new(
        tags::PLANAR_CONFIGURATION,
        VR::US,
        dicom_value!(U16, [0]),
    ));
    obj.put(DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"));
    let mut px = rgb.to_vec();
    if px.len() % 2 == 1 {
        px.push(0);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(px),
    ));
    write_part10(obj, SC_SOP_CLASS, &sop, path)?;
    Ok(SourceImage {
        sop_class: SC_SOP_CLASS.into(),
        sop_instance: sop,
        series,
        study,
        frame_of_reference: None,
        copied: vec![
            (tags::STUDY_DATE, VR::DA, date),
            (tags::STUDY_TIME, VR::TM, time),
        ],
        rows: height,
        cols: width,
        ..Default::default()
    })
}

/// A reference to the source image: its SOP Class and Instance, and the frame of a multi-frame
/// source.
pub(super) fn source_reference(source: &SourceImage) -> InMemDicomObject {
    let mut i = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            source.sop_class.as_str(),
        ),
        DataElement::new(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            source.sop_instance.as_str(),
        ),
    ]);
    if let Some(k) = source.referenced_frame {
        i.put(DataElement::new(
            tags::REFERENCED_FRAME_NUMBER,
            VR::IS,
            k.to_string(),
        ));
    }
    i
}

/// Writes a binary SEG of `segments` (each `source.rows × source.cols`) on `source` to `path`.
/// Returns the SEG's SOP Instance UID.
pub fn write_seg(
    source: &SourceImage,
    segments: &[Segment],
    path: &Path,
) -> Result<String, DicomError> {
    check_segments(source, segments, path)?;
    let sop = new_uid();
    let dim_uid = new_uid();
    let mut obj = InMemDicomObject::new_empty();
    put_patient_study(&mut obj, source);
    put_series_and_image(&mut obj, source, &sop, segments.len());
    obj.put(seq(
        tags::SEGMENT_SEQUENCE,
        segments.iter().map(segment_item).collect(),
    ));
    put_dimensions(&mut obj, &dim_uid);
    obj.put(seq(
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared_groups(source)],
    ));
    obj.put(seq(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        segments.iter().map(|s| frame_groups(source, s)).collect(),
    ));
    put_references(&mut obj, source);
    let frames: Vec<&[bool]> = segments.iter().map(|s| s.mask.as_slice()).collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pack_bits(&frames)),
    ));
    write_part10(obj, SEG_SOP_CLASS, &sop, path)?;
    Ok(sop)
}

/// At least one segment, each of the source's size.
fn check_segments(
    source: &SourceImage,
    segments: &[Segment],
    path: &Path,
) -> Result<(), DicomError> {
    let n = source.rows * source.cols;
    if segments.is_empty() {
        return Err(err(path, "no segment to write"));
    }
    if let Some(s) = segments.iter().find(|s| s.mask.len() != n) {
        return Err(err(
            path,
            format!(
                "segment '{}' has {} pixels, the image {}×{}",
                s.label,
                s.mask.len(),
                source.cols,
                source.rows
            ),
        ));
    }
    Ok(())
}

/// Patient and General Study: the source's.
fn put_patient_study(obj: &mut InMemDicomObject, source: &SourceImage) {
    for (t, vr) in COPIED {
        let v = source.copied.iter().find(|c| c.0 == t).map(|c| c.2.clone());
        match v {
            Some(v) => obj.put(DataElement::new(t, vr, v)),
            None if t == tags::SPECIFIC_CHARACTER_SET || t == tags::STUDY_DESCRIPTION => None,
            None => obj.put(DataElement::new(t, vr, PrimitiveValue::Empty)),
        };
    }
    obj.put(DataElement::new(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        source.study.as_str(),
    ));
}

/// SOP Common, General and Segmentation Series, equipment, Frame of Reference, General Image,
/// Segmentation Image and Image Pixel.
fn put_series_and_image(
    obj: &mut InMemDicomObject,
    source: &SourceImage,
    sop: &str,
    frames: usize,
) {
    let (date, time) = now();
    let series = new_uid();
    obj.put(DataElement::new(tags::SOP_CLASS_UID, VR::UI, SEG_SOP_CLASS));
    obj.put(DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, sop));
    obj.put(DataElement::new(tags::MODALITY, VR::CS, "SEG"));
    obj.put(DataElement::new(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        series.as_str(),
    ));
    obj.put(DataElement::new(tags::SERIES_NUMBER, VR::IS, "9001"));
    obj.put(DataElement::new(
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "vitscope segmentation",
    ));
    equipment(obj);
    // Frame of Reference; without one the image plane is only described by Patient Orientation.
    if source.frame_of_reference.is_none() {
        obj.put(DataElement::new(
            tags::PATIENT_ORIENTATION,
            VR::CS,
            PrimitiveValue::Empty,
        ));
    }
    if let Some(f) = &source.frame_of_reference {
        obj.put(DataElement::new(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            f.as_str(),
        ));
        obj.put(DataElement::new(
            tags::POSITION_REFERENCE_INDICATOR,
            VR::LO,
            PrimitiveValue::Empty,
        ));
    }
    // General Image, Segmentation Image, Image Pixel.
    obj.put(DataElement::new(tags::INSTANCE_NUMBER, VR::IS, "1"));
    obj.put(DataElement::new(tags::CONTENT_DATE, VR::DA, date.as_str()));
    obj.put(DataElement::new(tags::CONTENT_TIME, VR::TM, time.as_str()));
    obj.put(DataElement::new(
        tags::IMAGE_TYPE,
        VR::CS,
        dicom_value!(Strs, ["DERIVED", "PRIMARY"]),
    ));
    obj.put(DataElement::new(tags::CONTENT_LABEL, VR::CS, "VITSCOPE"));
    obj.put(DataElement::new(
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        "annotation masks",
    ));
    obj.put(DataElement::new(
        tags::CONTENT_CREATOR_NAME,
        VR::PN,
        PrimitiveValue::Empty,
    ));
    obj.put(DataElement::new(tags::SEGMENTATION_TYPE, VR::CS, "BINARY"));
    image_pixel(obj, (source.rows, source.cols), 1, "MONOCHROME2", 1);
    obj.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        frames.to_string(),
    ));
}

/// One item of the Segment Sequence.
fn segment_item(s: &Segment) -> InMemDicomObject {
    let lab = rgb_to_dicom_lab(s.colour);
    let mut it = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SEGMENT_NUMBER, VR::US, dicom_value!(U16, [s.number])),
        DataElement::new(tags::SEGMENT_LABEL, VR::LO, s.label.as_str()),
        DataElement::new(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "MANUAL"),
        DataElement::new(
            tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
            VR::US,
            dicom_value!(U16, [lab[0], lab[1], lab[2]]),
        ),
    ]);
    it.put(seq(
        tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
        vec![code("91723000", "SCT", "Anatomical Structure")],
    ));
    it.put(seq(
        tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
        vec![code("85756007", "SCT", "Tissue")],
    ));
    it
}

/// Multi-frame Dimension: one dimension, the segment.
fn put_dimensions(obj: &mut InMemDicomObject, dim_uid: &str) {
    obj.put(seq(
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([DataElement::new(
            tags::DIMENSION_ORGANIZATION_UID,
            VR::UI,
            dim_uid,
        )])],
    ));
    obj.put(seq(
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([
            DataElement::new(tags::DIMENSION_ORGANIZATION_UID, VR::UI, dim_uid),
            DataElement::new(
                tags::DIMENSION_INDEX_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![tags::REFERENCED_SEGMENT_NUMBER].into()),
            ),
            DataElement::new(
                tags::FUNCTIONAL_GROUP_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![tags::SEGMENT_IDENTIFICATION_SEQUENCE].into()),
            ),
            DataElement::new(
                tags::DIMENSION_DESCRIPTION_LABEL,
                VR::LO,
                "ReferencedSegmentNumber",
            ),
        ])],
    ));
}

/// Shared functional groups: pixel measures and orientation (with a frame of reference).
fn shared_groups(source: &SourceImage) -> InMemDicomObject {
    let mut shared = InMemDicomObject::new_empty();
    let geometric = source.frame_of_reference.is_some();
    if geometric || source.pixel_spacing.is_some() {
        let sp = source.pixel_spacing.unwrap_or([1.0, 1.0]);
        shared.put(seq(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                DataElement::new(tags::PIXEL_SPACING, VR::DS, ds_multi(&sp)),
                DataElement::new(
                    tags::SLICE_THICKNESS,
                    VR::DS,
                    ds(source.slice_thickness.unwrap_or(1.0)),
                ),
            ])],
        ));
    }
    if geometric {
        let o = source.orientation.unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        shared.put(seq(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([DataElement::new(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                ds_multi(&o),
            )])],
        ));
    }
    shared
}

/// One frame's groups: content (dimension index), segment, source image, position.
fn frame_groups(source: &SourceImage, s: &Segment) -> InMemDicomObject {
    let geometric = source.frame_of_reference.is_some();
    let mut f = InMemDicomObject::new_empty();
    f.put(seq(
        tags::FRAME_CONTENT_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([DataElement::new(
            tags::DIMENSION_INDEX_VALUES,
            VR::UL,
            dicom_value!(U32, [s.number as u32]),
        )])],
    ));
    f.put(seq(
        tags::SEGMENT_IDENTIFICATION_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([DataElement::new(
            tags::REFERENCED_SEGMENT_NUMBER,
            VR::US,
            dicom_value!(U16, [s.number]),
        )])],
    ));
    // The SEG is on the source's own pixel grid.
    let mut src = source_reference(source);
    src.put(DataElement::new(
        tags::SPATIAL_LOCATIONS_PRESERVED,
        VR::CS,
        "YES",
    ));
    src.put(seq(
        tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
        vec![code(
            "121322",
            "DCM",
            "Source image for image processing operation",
        )],
    ));
    let mut deriv = InMemDicomObject::new_empty();
    deriv.put(seq(tags::SOURCE_IMAGE_SEQUENCE, vec![src]));
    deriv.put(seq(
        tags::DERIVATION_CODE_SEQUENCE,
        vec![code("113076", "DCM", "Segmentation")],
    ));
    f.put(seq(tags::DERIVATION_IMAGE_SEQUENCE, vec![deriv]));
    if geometric {
        let p = source.position.unwrap_or([0.0; 3]);
        f.put(seq(
            tags::PLANE_POSITION_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([DataElement::new(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                ds_multi(&p),
            )])],
        ));
    }
    f
}

/// Common Instance Reference.
fn put_references(obj: &mut InMemDicomObject, source: &SourceImage) {
    obj.put(seq(
        tags::REFERENCED_SERIES_SEQUENCE,
        vec![{
            let mut s = InMemDicomObject::from_element_iter([DataElement::new(
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                source.series.as_str(),
            )]);
            s.put(seq(
                tags::REFERENCED_INSTANCE_SEQUENCE,
                vec![source_reference(source)],
            ));
            s
        }],
    ));
}
