//! Reading a SEG back: its frames, segments and the source images they reference.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::common::*;

/// A SEG read back: its grid, and per source image (instance and frame) each segment's label,
/// colour and mask.
#[derive(Debug, Clone)]
pub struct SegRead {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The source images it segments, in the order their first frame appears.
    pub sources: Vec<SegSource>,
}

/// What a SEG holds for one source image.
#[derive(Debug, Clone)]
pub struct SegSource {
    /// Referenced SOP Instance UID.
    pub sop_instance: String,
    /// Referenced Frame Number (1-based) of a multi-frame source; `None` for a single frame.
    pub frame: Option<u32>,
    /// (label, colour if given, mask) per segment, in segment-number order.
    pub segments: Vec<(String, Option<[u16; 3]>, Vec<bool>)>,
}

impl SegRead {
    /// The only source, for a SEG of one 2-D image; an error naming `path` otherwise.
    pub fn single(&self, path: &Path) -> Result<&SegSource, DicomError> {
        match self.sources.as_slice() {
            [one] => Ok(one),
            many => Err(err(
                path,
                format!(
                    "the SEG covers {} source images or frames: only a SEG of one 2-D image is read here",
                    many.len()
                ),
            )),
        }
    }
}

/// A segment while reading: (number, label, CIELab colour, mask).
pub(super) type SegmentRead = (u32, String, Option<[u16; 3]>, Vec<bool>);

/// Most segments a SEG may list: class ids are 1–255.
const MAX_SEGMENTS: usize = 255;

/// Reads a SEG: checks it is one, decodes its frames, and finds the image it references.
pub fn read_seg(path: &Path) -> Result<SegRead, DicomError> {
    let obj = crate::io::dicom::open_guarded(path).map_err(|e| err(path, e))?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let class = text(&obj, tags::SOP_CLASS_UID).unwrap_or_default();
    if class != SEG_SOP_CLASS {
        return Err(err(
            path,
            format!("not a DICOM Segmentation (SOP Class {class})"),
        ));
    }
    if !matches!(
        ts.as_str(),
        "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1" | "1.2.840.10008.1.2.2"
    ) {
        return Err(err(
            path,
            format!("transfer syntax {ts}: only uncompressed SEG pixel data is read"),
        ));
    }
    let rows = uint(&obj, tags::ROWS).ok_or_else(|| err(path, "no Rows"))? as usize;
    let cols = uint(&obj, tags::COLUMNS).ok_or_else(|| err(path, "no Columns"))? as usize;
    let frames = text(&obj, tags::NUMBER_OF_FRAMES)
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(1);
    let bits = uint(&obj, tags::BITS_ALLOCATED).unwrap_or(1) as usize;
    let n = rows
        .checked_mul(cols)
        .filter(|&n| n > 0 && n <= crate::io::guard::max_pixels() as usize)
        .ok_or_else(|| err(path, format!("{cols}×{rows} frames are empty or too large")))?;
    if frames == 0 || frames > 65_536 {
        return Err(err(path, format!("{frames} frames")));
    }
    let data = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or_else(|| err(path, "no pixel data"))?
        .to_bytes()
        .map_err(|e| err(path, format!("pixel data: {e}")))?;
    let need = match bits {
        1 => (frames * n).div_ceil(8),
        8 => frames * n,
        b => return Err(err(path, format!("BitsAllocated {b}: a SEG has 1 or 8"))),
    };
    if data.len() < need {
        return Err(err(
            path,
            format!(
                "pixel data holds {} bytes but {frames} frame(s) of {cols}×{rows} at {bits} bit(s) take {need}",
                data.len()
            ),
        ));
    }
    let frame_mask = |k: usize| -> Vec<bool> {
        match bits {
            1 => (0..n)
                .map(|i| {
                    let b = k * n + i;
                    data[b / 8] >> (b % 8) & 1 == 1
                })
                .collect(),
            _ => {
                let max = uint(&obj, tags::MAXIMUM_FRACTIONAL_VALUE)
                    .unwrap_or(255)
                    .max(1);
                data[k * n..(k + 1) * n]
                    .iter()
                    .map(|&v| 2 * v as u32 > max)
                    .collect()
            }
        }
    };
    // Segments by number: at most as many as a label mask has classes, each a frame of bits.
    let listed = items(&obj, tags::SEGMENT_SEQUENCE);
    if listed.len() > MAX_SEGMENTS {
        return Err(err(
            path,
            format!(
                "{} segments: a label mask holds at most {MAX_SEGMENTS} classes",
                listed.len()
            ),
        ));
    }
    crate::io::guard::check_alloc(
        (listed.len() as u64).saturating_mul(n as u64),
        "the segments",
    )
    .map_err(|e| err(path, e))?;
    let mut segs: Vec<SegmentRead> = listed
        .iter()
        .map(|s| {
            let lab = s
                .element_opt(tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE)
                .ok()
                .flatten()
                .and_then(|e| e.to_multi_int::<u16>().ok())
                .and_then(|v| <[u16; 3]>::try_from(v.as_slice()).ok());
            (
                uint(s, tags::SEGMENT_NUMBER).unwrap_or(0),
                text(s, tags::SEGMENT_LABEL).unwrap_or_else(|| "segment".into()),
                lab,
                vec![false; n],
            )
        })
        .collect();
    if segs.is_empty() {
        return Err(err(path, "no Segment Sequence"));
    }
    let per_frame = items(&obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    if per_frame.len() < frames {
        return Err(err(
            path,
            format!(
                "{} per-frame functional group items for {frames} frame(s)",
                per_frame.len()
            ),
        ));
    }
    // Extra items (some writers leave them) describe no frame and are not read.
    let per_frame = &per_frame[..frames];
    // The Common Instance Reference names the source of frames that name none themselves.
    let fallback = items(&obj, tags::REFERENCED_SERIES_SEQUENCE)
        .iter()
        .flat_map(|s| items(s, tags::REFERENCED_INSTANCE_SEQUENCE))
        .find_map(|i| {
            text(i, tags::REFERENCED_SOP_INSTANCE_UID)
                .map(|u| (u, frame_number(path, i).transpose()))
        });
    segs.sort_by_key(|s| s.0);
    let mut sources: Vec<SegSource> = Vec::new();
    for (k, f) in per_frame.iter().enumerate() {
        let seg_no = items(f, tags::SEGMENT_IDENTIFICATION_SEQUENCE)
            .first()
            .and_then(|s| uint(s, tags::REFERENCED_SEGMENT_NUMBER))
            .ok_or_else(|| {
                err(
                    path,
                    format!("frame {}: no Referenced Segment Number", k + 1),
                )
            })?;
        let refd = items(f, tags::DERIVATION_IMAGE_SEQUENCE)
            .iter()
            .flat_map(|d| items(d, tags::SOURCE_IMAGE_SEQUENCE))
            .find_map(|s| {
                text(s, tags::REFERENCED_SOP_INSTANCE_UID)
                    .map(|u| (u, frame_number(path, s).transpose()))
            });
        let (uid, frame) = match refd {
            Some((u, fr)) => (u, fr.transpose()?),
            None => match &fallback {
                Some((u, Some(Err(e)))) => {
                    return Err(err(path, format!("{u}: {}", e.source)));
                }
                Some((u, Some(Ok(k)))) => (u.clone(), Some(*k)),
                Some((u, None)) => (u.clone(), None),
                None => return Err(err(path, "the SEG does not reference a source image")),
            },
        };
        let s = segs.iter().position(|s| s.0 == seg_no).ok_or_else(|| {
            err(
                path,
                format!(
                    "frame {} names segment {seg_no}, which the Segment Sequence lacks",
                    k + 1
                ),
            )
        })?;
        let at = match sources
            .iter()
            .position(|x| x.sop_instance == uid && x.frame == frame)
        {
            Some(at) => at,
            None => {
                sources.push(SegSource {
                    sop_instance: uid,
                    frame,
                    segments: segs
                        .iter()
                        .map(|s| (s.1.clone(), s.2, vec![false; n]))
                        .collect(),
                });
                sources.len() - 1
            }
        };
        for (o, v) in sources[at].segments[s].2.iter_mut().zip(frame_mask(k)) {
            *o |= v;
        }
    }
    if sources.is_empty() {
        return Err(err(path, "the SEG has no frame"));
    }
    Ok(SegRead {
        rows,
        cols,
        sources,
    })
}

/// The Referenced Frame Number of a reference item: `None` when absent, an error when it is not a
/// single number from 1.
pub(super) fn frame_number(
    path: &Path,
    item: &InMemDicomObject,
) -> Result<Option<u32>, DicomError> {
    match text(item, tags::REFERENCED_FRAME_NUMBER) {
        None => Ok(None),
        Some(t) => match t.trim().parse::<u32>() {
            Ok(k) if k >= 1 => Ok(Some(k)),
            _ => Err(err(
                path,
                format!("Referenced Frame Number '{t}' is not one frame number from 1"),
            )),
        },
    }
}
