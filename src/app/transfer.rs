//! Import and export of a whole session: which [`ExportKind`] / [`ImportKind`] writes or reads
//! what, and the metrics CSV rows. No egui: the File menu calls these with a path, and so can a
//! test. The file formats themselves live in [`super::export`].

use std::path::Path;

use super::annotate::{self, Annotations, Command};
use super::export::{self, ExportItem, ImportedAnnotations};
use super::project;
use super::slots::PerMap;
use super::state::Session;
use super::store::BatchScores;
use super::worker::MapScores;
use crate::metrics::Rect;

/// Header of the metrics CSV.
pub const CSV_HEADER: &str = "image,map,pointing_game,energy,top_perc,iou_rect,iou_binary,dice";

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// `DIR/masks/<stem>.png` per image, the paper's layout.
    PngMasks,
    /// One COCO JSON file (boxes and RLE masks).
    Coco,
    /// The metrics CSV (live scores of the current image, then the batch rows).
    MetricsCsv,
    /// DICOM SEG objects, one per annotated image (and Secondary Captures of PNG/JPEG images).
    Seg,
    /// NIfTI label masks, one per annotated image.
    Nifti,
}

impl ExportKind {
    /// All, in menu order.
    pub const ALL: [ExportKind; 5] = [
        ExportKind::PngMasks,
        ExportKind::Coco,
        ExportKind::MetricsCsv,
        ExportKind::Seg,
        ExportKind::Nifti,
    ];

    /// Menu label.
    pub fn label(self) -> &'static str {
        match self {
            ExportKind::PngMasks => "Export PNG masks (paper layout)",
            ExportKind::Coco => "Export COCO JSON",
            ExportKind::MetricsCsv => "Export metrics CSV",
            ExportKind::Seg => "Export DICOM SEG",
            ExportKind::Nifti => "Export NIfTI masks",
        }
    }

    /// Whether the target is a folder.
    pub fn is_folder(self) -> bool {
        matches!(
            self,
            ExportKind::PngMasks | ExportKind::Seg | ExportKind::Nifti
        )
    }
}

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// A PNG mask of the current image (a file, or a folder holding `<stem>.png` or
    /// `masks/<stem>.png`).
    PngMask,
    /// The current image's annotations from a COCO file.
    Coco,
    /// A DICOM SEG of the current image (segments become classes by label).
    Seg,
    /// A NIfTI label mask of the current image.
    Nifti,
}

impl ImportKind {
    /// All, in menu order.
    pub const ALL: [ImportKind; 4] = [
        ImportKind::PngMask,
        ImportKind::Coco,
        ImportKind::Seg,
        ImportKind::Nifti,
    ];

    /// Menu label.
    pub fn label(self) -> &'static str {
        match self {
            ImportKind::PngMask => "Import PNG mask",
            ImportKind::Coco => "Import COCO",
            ImportKind::Seg => "Import DICOM SEG",
            ImportKind::Nifti => "Import NIfTI mask",
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every image's annotations (loading those not visited yet); unreadable ones are noted.
fn annotations(session: &mut Session) -> Vec<(String, Annotations)> {
    let mut out = Vec::new();
    for i in 0..session.project.images.len() {
        if let Err(e) = session.load_annotations(i) {
            session.note(e);
            continue;
        }
        if let Some(s) = &session.states[i] {
            out.push((file_name(&session.project.images[i].path), s.ann.clone()));
        }
    }
    out
}

/// A score for display and CSV: three decimals, "–" for an undefined (NaN) value.
pub fn fmt_score(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.3}")
    }
}

/// The metrics CSV rows: the current image's live scores at every k, then one row per map of
/// every batch-scored image at the batch's k.
pub fn csv_rows(
    session: &Session,
    live: &PerMap<Option<MapScores>>,
    batch: &BatchScores,
    batch_top: Option<f64>,
) -> Vec<String> {
    let mut rows = Vec::new();
    let name = session
        .loaded
        .as_ref()
        .map(|l| l.path.display().to_string())
        .unwrap_or_default();
    for (slot, s) in live.present() {
        for t in &s.truth.top {
            rows.push(format!(
                "{name},{},{},{},{},{},{},{}",
                slot.name(),
                s.truth.pointing_game as u8,
                fmt_score(s.truth.energy),
                t.top_perc,
                fmt_score(t.iou_rect),
                fmt_score(t.iou_binary),
                fmt_score(t.dice)
            ));
        }
    }
    for (i, row) in &batch.rows {
        let path = session.project.images[*i].path.display().to_string();
        for (slot, v) in row.present() {
            rows.push(format!(
                "{path},{},{},,{},{},,",
                slot.name(),
                v.hit as u8,
                batch_top.unwrap_or(f64::NAN),
                fmt_score(v.iou)
            ));
        }
    }
    rows
}

/// Writes an export to `path`; returns what was written, for the status line.
pub fn export(
    session: &mut Session,
    kind: ExportKind,
    path: &Path,
    csv: impl FnOnce(&Session) -> Vec<String>,
) -> Result<String, String> {
    let r = match kind {
        ExportKind::Seg | ExportKind::Nifti => {
            let format = if kind == ExportKind::Seg {
                crate::interop::Format::Seg
            } else {
                crate::interop::Format::Nifti
            };
            return crate::interop::export_session(session, format, path)
                .map(|f| format!("exported {} file(s) to {}", f.len(), path.display()))
                .map_err(|e| e.to_string());
        }
        ExportKind::MetricsCsv => {
            let rows = csv(session);
            export::write_csv(path, CSV_HEADER, &rows).map(|_| format!("{} rows", rows.len()))
        }
        ExportKind::PngMasks | ExportKind::Coco => {
            let anns = annotations(session);
            let items: Vec<ExportItem> = anns
                .iter()
                .map(|(n, a)| ExportItem {
                    file_name: n.clone(),
                    boxes: &a.boxes,
                    mask: &a.mask,
                })
                .collect();
            if kind == ExportKind::PngMasks {
                export::export_png_masks(path, &items).map(|n| format!("{n} masks"))
            } else {
                let classes: Vec<String> = session
                    .project
                    .classes
                    .iter()
                    .map(|c| c.name.clone())
                    .collect();
                export::export_coco(path, &items, &classes).map(|_| "COCO".to_string())
            }
        }
    };
    r.map(|what| format!("exported {what} to {}", path.display()))
        .map_err(|e| e.to_string())
}

/// Reads an import for the current image and applies it as one undoable edit.
pub fn import(session: &mut Session, kind: ImportKind, path: &Path) -> Result<String, String> {
    let Some(l) = session.loaded.clone() else {
        return Err("no image is open to import into".into());
    };
    let (w, h) = (l.width(), l.height());
    let imported = match kind {
        ImportKind::PngMask => {
            let stem = l
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let candidates = [
                path.join("masks").join(format!("{stem}.png")),
                path.join(format!("{stem}.png")),
                path.to_path_buf(),
            ];
            let Some(p) = candidates.iter().find(|p| p.is_file()) else {
                return Err(format!(
                    "{}: no mask named {stem}.png there",
                    path.display()
                ));
            };
            project::read_label_mask(p, w, h, session.project.classes.len())
                .map(|m| ImportedAnnotations {
                    boxes: Vec::new(),
                    mask: Some(m),
                })
                .map_err(|e| e.to_string())?
        }
        ImportKind::Coco => {
            export::import_coco(path, &file_name(&l.path), w, h).map_err(|e| e.to_string())?
        }
        ImportKind::Seg | ImportKind::Nifti => {
            let mut classes = session.project.classes.clone();
            let mask = if kind == ImportKind::Seg {
                let r = crate::interop::seg::read_seg(path).map_err(|e| e.to_string())?;
                if let Ok(src) = crate::interop::seg::source_from_dicom(&l.path)
                    && src.sop_instance != r.source_sop_instance
                {
                    return Err(format!(
                        "{}: the SEG segments image {}, not {} ({})",
                        path.display(),
                        r.source_sop_instance,
                        l.path.display(),
                        src.sop_instance
                    ));
                }
                crate::interop::mask_from_seg(&r, &mut classes).map_err(|e| e.to_string())?
            } else {
                let m = crate::interop::nifti::read_mask(path).map_err(|e| e.to_string())?;
                crate::interop::mask_from_nifti(m, &mut classes).map_err(|e| e.to_string())?
            };
            if (mask.width, mask.height) != (w, h) {
                return Err(format!(
                    "{}: a {}×{} mask, but the image is {w}×{h}",
                    path.display(),
                    mask.width,
                    mask.height
                ));
            }
            session.project.classes = classes;
            ImportedAnnotations {
                boxes: Vec::new(),
                mask: Some(mask),
            }
        }
    };
    let Some(ann) = session.ann().cloned() else {
        return Err("the image's annotations are not loaded".into());
    };
    let mut cmds: Vec<Command> = imported.boxes.iter().map(|b| Command::AddBox(*b)).collect();
    if let Some(m) = imported.mask {
        cmds.push(Command::Paint(annotate::MaskPatch {
            rect: Rect {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            },
            before: ann.mask.data.clone(),
            after: m.data,
        }));
    }
    let n = cmds.len();
    session.apply(Command::Batch(cmds));
    Ok(format!("imported {n} annotations from {}", path.display()))
}
