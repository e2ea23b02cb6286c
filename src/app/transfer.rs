//! The File menu's imports and exports of a whole session, through the same core as the CLI:
//! exports by `interop::export_images` (unique names, `manifest.csv`), imports matched by
//! identity and merged per class by `project::import::plan`, then applied as one undoable edit
//! per image. Also the metrics CSV. No egui: the File menu calls these with a path, and so can a
//! test.

use std::path::Path;

use super::slots::PerMap;
use super::state::Session;
use super::store::BatchScores;
use super::worker::MapScores;
use crate::interop::{self, ExportImage, Format};
use crate::metrics::Rect;
use crate::project::annotation::{self, Command};
use crate::project::naming;

/// Header of the metrics CSV.
pub const CSV_HEADER: [&str; 8] = [
    "image",
    "map",
    "pointing_game",
    "energy",
    "top_perc",
    "iou_rect",
    "iou_binary",
    "dice",
];

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

/// What an import reads (matched to the project's images by identity: a SEG by its referenced
/// UID, the others by `manifest.csv`, else by a unique stem).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// PNG masks of class ids (a file, or a folder holding them or `masks/`).
    PngMask,
    /// A COCO file.
    Coco,
    /// DICOM SEG objects (segments become classes by label).
    Seg,
    /// NIfTI label masks.
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

/// Every annotated image of the session to export (loading the annotations of images not
/// visited yet): images whose file changed on disk are left out, each with a note.
pub fn export_images(session: &mut Session) -> Result<Vec<ExportImage>, String> {
    let names = naming::export_names(&session.project);
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let e = &session.project.images[i];
        let annotated = e.mask.is_some() || !e.boxes.is_empty() || session.states[i].is_some();
        if let Some(p) = session.checks[i].problem() {
            if annotated {
                let m = format!("{}: {p}; not exported", e.path.display());
                session.note(m);
            }
            continue;
        }
        session.load_annotations(i)?;
        let Some(s) = &session.states[i] else {
            continue;
        };
        if s.ann.mask.count() == 0 && s.ann.boxes.is_empty() {
            continue;
        }
        let e = &session.project.images[i];
        out.push(ExportImage {
            name: name.clone(),
            file: session.resolve(&e.path),
            frame: e.frame,
            identity: e
                .identity
                .clone()
                .ok_or_else(|| format!("{}: the image has no identity", e.path.display()))?,
            ann: s.ann.clone(),
        });
    }
    Ok(out)
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
/// every batch-scored image at the batch's k. Images are named by their export names.
pub fn csv_rows(
    session: &Session,
    live: &PerMap<Option<MapScores>>,
    batch: &BatchScores,
    batch_top: Option<f64>,
) -> Vec<Vec<String>> {
    let names = naming::export_names(&session.project);
    let mut rows = Vec::new();
    let name = session
        .loaded
        .as_ref()
        .and_then(|l| names.get(l.index).cloned())
        .unwrap_or_default();
    for (slot, s) in live.present() {
        for t in &s.truth.top {
            rows.push(vec![
                name.clone(),
                slot.name().to_string(),
                (s.truth.pointing_game as u8).to_string(),
                fmt_score(s.truth.energy),
                t.top_perc.to_string(),
                fmt_score(t.iou_rect),
                fmt_score(t.iou_binary),
                fmt_score(t.dice),
            ]);
        }
    }
    for (i, row) in &batch.rows {
        let image = names.get(*i).cloned().unwrap_or_default();
        for (slot, v) in row.present() {
            rows.push(vec![
                image.clone(),
                slot.name().to_string(),
                (v.hit as u8).to_string(),
                String::new(),
                batch_top.unwrap_or(f64::NAN).to_string(),
                fmt_score(v.iou),
                String::new(),
                String::new(),
            ]);
        }
    }
    rows
}

/// Writes the metrics CSV (RFC 4180 quoting, formula cells guarded: [`crate::io::table`]).
fn write_metrics_csv(path: &Path, rows: &[Vec<String>]) -> Result<(), String> {
    let mut w = crate::io::table::Table::new(CSV_HEADER);
    for r in rows {
        w.row(r);
    }
    w.write(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes an export to `path`; returns what was written, for the status line.
pub fn export(
    session: &mut Session,
    kind: ExportKind,
    path: &Path,
    csv: impl FnOnce(&Session) -> Vec<Vec<String>>,
) -> Result<String, String> {
    let format = match kind {
        ExportKind::MetricsCsv => {
            let rows = csv(session);
            write_metrics_csv(path, &rows)?;
            return Ok(format!(
                "exported {} rows to {}",
                rows.len(),
                path.display()
            ));
        }
        ExportKind::Seg => Format::Seg,
        ExportKind::Nifti => Format::Nifti,
        ExportKind::PngMasks => Format::Png,
        ExportKind::Coco => Format::Coco,
    };
    let images = export_images(session)?;
    let opts = interop::ExportOptions {
        deidentify: session.deidentify_exports,
        linkage: None,
    };
    let done = interop::export_images(&images, &session.project.classes, format, path, &opts)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "exported {} image(s), {} file(s) with manifest.csv, to {}",
        images.len(),
        done.files.len(),
        path.display()
    ))
}

/// Imports a file or folder into the images it matches by identity (any image of the project,
/// not only the one shown), each as one undoable edit; returns the lines the CLI prints.
pub fn import(
    session: &mut Session,
    kind: ImportKind,
    path: &Path,
    opts: crate::project::import::Options,
) -> Result<String, String> {
    if !session.editable() {
        return Err(
            "the project is read-only (in use by another program): nothing imported".into(),
        );
    }
    let format = match kind {
        ImportKind::PngMask => Format::Png,
        ImportKind::Coco => Format::Coco,
        ImportKind::Seg => Format::Seg,
        ImportKind::Nifti => Format::Nifti,
    };
    let mut incoming = interop::incoming::read_incoming(path, format).map_err(|e| e.to_string())?;
    let names = naming::export_names(&session.project);
    // Everything the plan may touch, loaded first (the plan reads, it never loads).
    for i in 0..session.project.images.len() {
        if session.checks[i].is_ok() {
            session.load_annotations(i)?;
        }
    }
    let name = session
        .project_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "this session".into());
    interop::incoming::place_in_images(
        &session.project,
        &names,
        &name,
        &|i| session.resolve(&session.project.images[i].path),
        &mut incoming,
    )
    .map_err(|e| e.to_string())?;
    let states = &session.states;
    let plan = crate::project::import::plan(
        &session.project,
        &session.checks,
        &names,
        &name,
        incoming,
        &mut |i| {
            states[i]
                .as_ref()
                .map(|s| s.ann.clone())
                .ok_or_else(|| crate::error::Invalid(format!("image {} is not loaded", i + 1)))
        },
        opts,
    )
    .map_err(|e| e.to_string())?;
    session.project.classes = plan.classes.clone();
    let here = session.current;
    for (&i, after) in &plan.changes {
        let Some(before) = session.states[i].as_ref().map(|s| s.ann.clone()) else {
            continue;
        };
        let (w, h) = (before.mask.width, before.mask.height);
        let mut cmds: Vec<Command> = Vec::new();
        for (k, b) in before.boxes.iter().enumerate().rev() {
            if !after.boxes.contains(b) {
                cmds.push(Command::RemoveBox(k, *b));
            }
        }
        for b in &after.boxes {
            if !before.boxes.contains(b) {
                cmds.push(Command::AddBox(*b));
            }
        }
        if before.mask != after.mask {
            cmds.push(Command::Paint(annotation::MaskPatch {
                rect: Rect {
                    x0: 0,
                    y0: 0,
                    x1: w,
                    y1: h,
                },
                before: before.mask.data.clone(),
                after: after.mask.data.clone(),
            }));
        }
        // Each image's history takes its own edit (undo per image).
        session.current = i;
        session.apply(Command::Batch(cmds));
    }
    session.current = here;
    session.dirty = true;
    let mut lines = plan.lines;
    lines.push(format!(
        "imported into {} image(s) from {}",
        plan.changes.len(),
        path.display()
    ));
    Ok(lines.join("\n"))
}
