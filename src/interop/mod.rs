//! A project's annotations out to, and back in from, the formats hospitals and research
//! pipelines use: DICOM SEG ([`seg`]), NIfTI ([`nifti`]), PNG masks, COCO ([`coco`]) and CSV;
//! studies from a PACS ([`dicomweb`], [`pacs`]).
//!
//! Every export writes unique names and a `manifest.csv` ([`crate::project::naming`]); every
//! import is matched to images by identity and planned whole before anything changes
//! ([`crate::project::import`]); `import` and `pacs fetch` hold the project's lock and save all
//! or nothing. An image whose file changed on disk is never exported or imported into.

pub mod coco;
pub mod dicomweb;
pub mod nifti;
pub mod pacs;
pub mod seg;

use crate::error::{Cause, Invalid};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::project::annotation::{Annotations, LabelMask};
use crate::project::identity::{Identity, capture_uids};
use crate::project::import::{self, Incoming, Layer, Target};
use crate::project::naming::{self, ManifestRow};
use crate::project::{LabelClass, OpenProject};

/// Formats of `export` and `import`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Format {
    /// DICOM Segmentation, one per annotated image (`<name>.seg.dcm`; a Secondary Capture
    /// `<name>.sc.dcm` of a non-DICOM image beside it).
    Seg,
    /// NIfTI-1 label masks, `<name>.nii.gz`.
    Nifti,
    /// PNG masks in the paper's layout, `masks/<name>.png` (0/255 for one class, class ids for
    /// several).
    Png,
    /// One COCO JSON file, `annotations.json`.
    Coco,
    /// One CSV, `annotations.csv`: a row per box and per class mask.
    Csv,
}

/// An error naming the file or the source.
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    /// The input breaks a rule; the message names the file or the source.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A reader, writer or server failed; its error names the file or the source.
    #[error(transparent)]
    Failed(#[from] Cause),
    /// Something at `what` (a file, a folder, an argument) failed.
    #[error("{what}: {source}")]
    At {
        /// The file, folder or argument.
        what: String,
        /// What went wrong.
        source: Cause,
    },
}

impl InteropError {
    /// A broken rule, in words.
    pub fn msg(message: String) -> Self {
        InteropError::Invalid(Invalid(message))
    }

    /// A failure at `what`.
    pub fn at(what: impl std::fmt::Display, cause: impl Into<Cause>) -> Self {
        InteropError::At {
            what: what.to_string(),
            source: cause.into(),
        }
    }
}

fn fail(e: impl Into<Cause>) -> InteropError {
    InteropError::Failed(e.into())
}

/// A file's stem with the export suffixes (`.seg.dcm`, `.sc.dcm`, `.nii.gz`, `.nii`) removed.
pub fn stem(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".seg.dcm", ".sc.dcm", ".nii.gz", ".nii"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_string();
        }
    }
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One image to export: its unique name, file, identity and annotations.
#[derive(Debug, Clone)]
pub struct ExportImage {
    /// Its unique export name ([`naming::export_names`]).
    pub name: String,
    /// The image file.
    pub file: PathBuf,
    /// The frame.
    pub frame: u32,
    /// Its identity.
    pub identity: Identity,
    /// Its annotations.
    pub ann: Annotations,
}

impl ExportImage {
    fn is_dicom(&self) -> bool {
        matches!(self.identity, Identity::Dicom { .. })
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// The files, in order; the manifest last.
    pub files: Vec<PathBuf>,
    /// Images left out, and why.
    pub skipped: Vec<String>,
}

/// The image's pixels as 8-bit RGB (`width`, `height`, bytes).
fn rgb8(img: &ExportImage) -> Result<(usize, usize, Vec<u8>), InteropError> {
    let i = crate::io::image::read_image_frame(&img.file, img.frame).map_err(fail)?;
    Ok((i.width, i.height, i.to_rgb8().into_raw()))
}

/// The image's labels: its mask, or, without one, its boxes with their classes.
fn labels(ann: &Annotations) -> LabelMask {
    let mut m = ann.mask.clone();
    if m.count() == 0 {
        let (w, h) = (m.width, m.height);
        for b in &ann.boxes {
            for y in (b.y0 as usize).min(h)..(b.y1 as usize).min(h) {
                for x in (b.x0 as usize).min(w)..(b.x1 as usize).min(w) {
                    m.data[y * w + x] = b.class.max(1);
                }
            }
        }
    }
    m
}

/// Per class present, its pixels.
fn class_masks(labels: &LabelMask) -> Vec<(u8, Vec<bool>)> {
    coco::present_classes(labels)
        .into_iter()
        .map(|c| (c, labels.data.iter().map(|&v| v == c).collect()))
        .collect()
}

fn class_name(classes: &[LabelClass], c: u8) -> (String, [u8; 3]) {
    classes
        .get(c as usize - 1)
        .map(|k| (k.name.clone(), k.color))
        .unwrap_or_else(|| (format!("class {c}"), [255, 64, 160]))
}

fn ids(classes: &[u8]) -> String {
    classes
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

/// The images of an opened project to export: every annotated one whose file still has its
/// identity; the others are listed in `skipped`.
pub fn export_images_of(
    open: &OpenProject,
) -> Result<(Vec<ExportImage>, Vec<String>), InteropError> {
    let names = naming::export_names(&open.project);
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    for (i, e) in open.project.images.iter().enumerate() {
        let annotated = e.mask.is_some() || !e.boxes.is_empty();
        if let Some(p) = open.checks[i].problem() {
            if annotated {
                skipped.push(format!("{}: {p}; not exported", e.path.display()));
            }
            continue;
        }
        let ann = open.annotations(i).map_err(InteropError::from)?;
        if ann.mask.count() == 0 && ann.boxes.is_empty() {
            continue;
        }
        images.push(ExportImage {
            name: names[i].clone(),
            file: open.file(i),
            frame: e.frame,
            identity: e.identity.clone().ok_or_else(|| {
                InteropError::msg(format!("{}: the image has no identity", e.path.display()))
            })?,
            ann,
        });
    }
    Ok((images, skipped))
}

/// The warning of a reader (export, eval) about images of a version 1 project that have no
/// recorded identity: checked against the files as they are now.
pub fn unrecorded(project: &Path, n: usize) -> String {
    format!(
        "{}: {n} image(s) have no recorded identity yet (a project file older than version 2): they are taken as the files are now; open the project in the workbench (or import into it) once to record them",
        project.display()
    )
}

/// Writes every annotated image of `project` to `out` in `format` (the project is not changed).
pub fn export_project(
    project: &Path,
    format: Format,
    out: &Path,
) -> Result<Exported, InteropError> {
    let open = OpenProject::read(project).map_err(fail)?;
    let (images, mut skipped) = export_images_of(&open)?;
    if open.upgraded > 0 {
        skipped.push(unrecorded(project, open.upgraded));
    }
    let mut done = export_images(&images, &open.project.classes, format, out)?;
    done.skipped = skipped;
    Ok(done)
}

/// Writes `images` to `out` in `format`, with `manifest.csv`; no path is written twice.
pub fn export_images(
    images: &[ExportImage],
    classes: &[LabelClass],
    format: Format,
    out: &Path,
) -> Result<Exported, InteropError> {
    // The names are unique by construction; check it before anything is written.
    let mut seen = HashSet::new();
    if let Some(dup) = images.iter().find(|i| !seen.insert(i.name.as_str())) {
        return Err(InteropError::msg(format!(
            "two images would be exported as '{}': nothing written",
            dup.name
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| InteropError::at(out.display(), e))?;
    let mut written: Vec<PathBuf> = Vec::new();
    let mut rows: Vec<ManifestRow> = Vec::new();
    let row = |file: String, image: &str, img: &ExportImage, classes: &[u8]| ManifestRow {
        file,
        image: image.to_string(),
        identity: img.identity.token(),
        frame: img.frame,
        class_ids: ids(classes),
    };
    match format {
        Format::Png => {
            let dir = out.join("masks");
            std::fs::create_dir_all(&dir).map_err(|e| InteropError::at(dir.display(), e))?;
            for img in images {
                let l = labels(&img.ann);
                let present = coco::present_classes(&l);
                // One class: the paper's 0/255 layout (the manifest says which class); several:
                // the class ids themselves.
                let png = if present.len() == 1 {
                    LabelMask {
                        data: l
                            .data
                            .iter()
                            .map(|&v| if v != 0 { 255 } else { 0 })
                            .collect(),
                        ..l.clone()
                    }
                } else {
                    l.clone()
                };
                let file = format!("masks/{}.png", img.name);
                let p = out.join(&file);
                crate::project::masks::write_label_mask(&p, &png).map_err(fail)?;
                rows.push(row(file, &img.name, img, &present));
                written.push(p);
            }
        }
        Format::Coco => {
            let file_names: Vec<String> = images
                .iter()
                .map(|img| match img.file.extension() {
                    Some(e) => format!("{}.{}", img.name, e.to_string_lossy()),
                    None => img.name.clone(),
                })
                .collect();
            let items: Vec<coco::ExportItem> = images
                .iter()
                .zip(&file_names)
                .map(|(img, n)| coco::ExportItem {
                    file_name: n.clone(),
                    boxes: &img.ann.boxes,
                    mask: &img.ann.mask,
                })
                .collect();
            let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
            let p = out.join("annotations.json");
            coco::export_coco(&p, &items, &names).map_err(fail)?;
            for (img, n) in images.iter().zip(&file_names) {
                rows.push(row(
                    "annotations.json".into(),
                    n,
                    img,
                    &coco::present_classes(&labels(&img.ann)),
                ));
            }
            written.push(p);
        }
        Format::Csv => {
            let p = out.join("annotations.csv");
            let mut w = crate::io::table::Table::new([
                "image", "kind", "class", "x0", "y0", "x1", "y1", "pixels", "area_mm2",
            ]);
            for img in images {
                let spacing = pixel_spacing(img);
                for b in &img.ann.boxes {
                    let (name, _) = class_name(classes, b.class.max(1));
                    let (bw, bh) = (b.x1.saturating_sub(b.x0), b.y1.saturating_sub(b.y0));
                    let mm = spacing.map_or(String::new(), |[dr, dc]| {
                        format!("{:.3}", bw as f64 * dc * bh as f64 * dr)
                    });
                    let px = (bw as u64 * bh as u64).to_string();
                    let r = [
                        img.name.clone(),
                        "box".into(),
                        name,
                        b.x0.to_string(),
                        b.y0.to_string(),
                        b.x1.to_string(),
                        b.y1.to_string(),
                        px,
                        mm,
                    ];
                    w.row(r);
                }
                for (c, m) in class_masks(&img.ann.mask) {
                    let (name, _) = class_name(classes, c);
                    let width = img.ann.mask.width;
                    let (mut x0, mut y0, mut x1, mut y1, mut k) =
                        (usize::MAX, usize::MAX, 0, 0, 0u64);
                    for (p, _) in m.iter().enumerate().filter(|(_, v)| **v) {
                        let (x, y) = (p % width, p / width);
                        x0 = x0.min(x);
                        y0 = y0.min(y);
                        x1 = x1.max(x + 1);
                        y1 = y1.max(y + 1);
                        k += 1;
                    }
                    let mm = spacing.map_or(String::new(), |[dr, dc]| {
                        format!("{:.3}", k as f64 * dr * dc)
                    });
                    let r = [
                        img.name.clone(),
                        "mask".into(),
                        name,
                        x0.to_string(),
                        y0.to_string(),
                        x1.to_string(),
                        y1.to_string(),
                        k.to_string(),
                        mm,
                    ];
                    w.row(r);
                }
                rows.push(row(
                    "annotations.csv".into(),
                    &img.name,
                    img,
                    &coco::present_classes(&labels(&img.ann)),
                ));
            }
            w.write(&p).map_err(|e| InteropError::at(p.display(), e))?;
            written.push(p);
        }
        Format::Nifti => {
            for img in images {
                let l = labels(&img.ann);
                let file = format!("{}.nii.gz", img.name);
                let p = out.join(&file);
                nifti::write_mask(
                    &p,
                    &l.data,
                    l.width,
                    l.height,
                    &nifti_geometry(img),
                    "vitscope labels",
                )
                .map_err(fail)?;
                rows.push(row(file, &img.name, img, &coco::present_classes(&l)));
                written.push(p);
            }
        }
        Format::Seg => {
            for img in images {
                let source = if img.is_dicom() {
                    seg::source_frame(&img.file, img.frame).map_err(fail)?
                } else {
                    let (w, h, rgb) = rgb8(img)?;
                    let file = format!("{}.sc.dcm", img.name);
                    let p = out.join(&file);
                    let uids = capture_uids(&img.identity);
                    let name = img
                        .file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let src =
                        seg::write_secondary_capture(&rgb, w, h, &name, &uids, &p).map_err(fail)?;
                    rows.push(row(file, &img.name, img, &[]));
                    written.push(p);
                    src
                };
                if (source.cols, source.rows) != (img.ann.mask.width, img.ann.mask.height) {
                    return Err(InteropError::msg(format!(
                        "{}: the mask is {}×{} but the DICOM image {}×{}",
                        img.file.display(),
                        img.ann.mask.width,
                        img.ann.mask.height,
                        source.cols,
                        source.rows
                    )));
                }
                let l = labels(&img.ann);
                let present = coco::present_classes(&l);
                let segments: Vec<seg::Segment> = class_masks(&l)
                    .into_iter()
                    .enumerate()
                    .map(|(k, (c, mask))| {
                        let (label, colour) = class_name(classes, c);
                        seg::Segment {
                            number: k as u16 + 1,
                            label,
                            colour,
                            mask,
                        }
                    })
                    .collect();
                let file = format!("{}.seg.dcm", img.name);
                let p = out.join(&file);
                seg::write_seg(&source, &segments, &p).map_err(fail)?;
                rows.push(row(file, &img.name, img, &present));
                written.push(p);
            }
        }
    }
    written.push(naming::write_manifest(out, &rows).map_err(InteropError::from)?);
    Ok(Exported {
        files: written,
        skipped: Vec::new(),
    })
}

fn dicom_source(img: &ExportImage) -> Option<seg::SourceImage> {
    img.is_dicom()
        .then(|| seg::source_frame(&img.file, img.frame).ok())
        .flatten()
}

/// Pixel spacing (row, column) in mm of a DICOM image.
fn pixel_spacing(img: &ExportImage) -> Option<[f64; 2]> {
    dicom_source(img).and_then(|s| s.pixel_spacing)
}

fn nifti_geometry(img: &ExportImage) -> nifti::Geometry {
    let src = dicom_source(img);
    nifti::Geometry {
        spacing: src
            .as_ref()
            .and_then(|s| s.pixel_spacing)
            .unwrap_or([1.0, 1.0]),
        orientation: src.as_ref().and_then(|s| s.orientation),
        position: src.as_ref().and_then(|s| s.position),
    }
}

/// The format of an import source by its name (a folder: by the files in it).
pub fn guess_format(from: &Path) -> Option<Format> {
    if from.is_dir() {
        let files: Vec<PathBuf> = std::fs::read_dir(from)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        for f in [Format::Seg, Format::Nifti, Format::Coco, Format::Png] {
            if files.iter().any(|p| guess_format(p) == Some(f)) {
                return Some(f);
            }
        }
        return from.join("masks").is_dir().then_some(Format::Png);
    }
    let name = from.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        Some(Format::Nifti)
    } else if name.ends_with(".json") {
        Some(Format::Coco)
    } else if name.ends_with(".png") {
        Some(Format::Png)
    } else if name.ends_with(".csv") {
        Some(Format::Csv)
    } else if from.is_file() && crate::io::dicom::is_dicom(from) {
        Some(Format::Seg)
    } else {
        None
    }
}

/// Files to import: `from` itself, or the files of the folder `from` in `format`.
fn sources(from: &Path, format: Format) -> Result<Vec<PathBuf>, InteropError> {
    if !from.is_dir() {
        return Ok(vec![from.to_path_buf()]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(from)
        .map_err(|e| InteropError::at(from.display(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| match format {
            Format::Seg => {
                p.to_string_lossy().ends_with(".seg.dcm")
                    || (crate::io::dicom::is_dicom(p) && !p.to_string_lossy().ends_with(".sc.dcm"))
            }
            f => guess_format(p) == Some(f),
        })
        .collect();
    if format == Format::Png && from.join("masks").is_dir() {
        v.extend(sources(&from.join("masks"), Format::Png)?);
    }
    v.sort();
    if v.is_empty() {
        return Err(InteropError::msg(format!(
            "{}: no {format:?} files in this folder",
            from.display()
        )));
    }
    Ok(v)
}

/// One layer per class id present in `labels`.
fn layers_of(labels: &[u8]) -> Vec<Layer> {
    let mut seen = [false; 256];
    for &v in labels {
        seen[v as usize] = true;
    }
    (1..=255u8)
        .filter(|&c| seen[c as usize])
        .map(|c| Layer::Id(c, labels.iter().map(|&v| v == c).collect()))
        .collect()
}

/// Reads every file of an import (all of them, before anything is matched or changed).
pub fn read_incoming(from: &Path, format: Format) -> Result<Vec<Incoming>, InteropError> {
    let files = sources(from, format)?;
    let root = from.is_dir().then_some(from);
    let mut out = Vec::new();
    for f in files {
        let what = f.display().to_string();
        match format {
            Format::Seg => {
                let r = seg::read_seg(&f).map_err(fail)?;
                for s in r.sources {
                    out.push(Incoming {
                        file: f.clone(),
                        what: what.clone(),
                        target: Target::Uid {
                            uid: s.sop_instance,
                            frame: s.frame.map_or(0, |k| k - 1),
                        },
                        width: r.cols,
                        height: r.rows,
                        layers: s
                            .segments
                            .into_iter()
                            .map(|(label, lab, pixels)| Layer::Named {
                                label,
                                colour: lab.map(lab_to_rgb).unwrap_or([255, 64, 160]),
                                pixels,
                            })
                            .collect(),
                        boxes: Vec::new(),
                    });
                }
            }
            Format::Nifti => {
                let m = nifti::read_mask(&f).map_err(fail)?;
                out.push(Incoming {
                    target: Target::Named {
                        stem: stem(&f),
                        row: naming::row_for(&f, root).map_err(InteropError::from)?,
                    },
                    width: m.width,
                    height: m.height,
                    layers: layers_of(&m.labels),
                    boxes: Vec::new(),
                    file: f,
                    what,
                });
            }
            Format::Png => {
                let raw =
                    crate::project::masks::read_raw(&f).map_err(|e| InteropError::at(&what, e))?;
                let row = naming::row_for(&f, root).map_err(InteropError::from)?;
                let binary_class = match row.as_ref().map(ManifestRow::classes).as_deref() {
                    Some([one]) => *one,
                    _ => 1,
                };
                let (labels, _) = raw
                    .to_class_ids(binary_class)
                    .map_err(|e| InteropError::at(&what, e))?;
                out.push(Incoming {
                    target: Target::Named {
                        stem: stem(&f),
                        row,
                    },
                    width: labels.width,
                    height: labels.height,
                    layers: layers_of(&labels.data),
                    boxes: Vec::new(),
                    file: f,
                    what,
                });
            }
            Format::Coco => {
                let images = coco::parse_coco(&f).map_err(fail)?;
                let rows = naming::rows_of(&f).map_err(InteropError::from)?;
                for img in images {
                    let row = rows.iter().find(|r| r.image == img.file_name).cloned();
                    out.push(Incoming {
                        file: f.clone(),
                        what: format!("{what}: image {}", img.file_name),
                        target: Target::Named {
                            stem: stem(Path::new(&img.file_name)),
                            row,
                        },
                        width: img.width,
                        height: img.height,
                        layers: img
                            .layers
                            .into_iter()
                            .map(|(c, px)| Layer::Id(c, px))
                            .collect(),
                        boxes: img.boxes,
                    });
                }
            }
            Format::Csv => {
                return Err(InteropError::msg(format!(
                    "{what}: CSV is an export format only; import SEG, NIfTI, PNG or COCO"
                )));
            }
        }
    }
    Ok(out)
}

/// Import options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Matching and merging.
    pub merge: import::Options,
    /// Print the plan, change nothing.
    pub dry_run: bool,
}

/// What an import did (or would do, for a dry run).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Matches, overlaps, classes added.
    pub lines: Vec<String>,
    /// Warnings (a stale lock taken over, problems after the save).
    pub warnings: Vec<String>,
    /// Notes (identities recorded).
    pub notes: Vec<String>,
    /// Images changed.
    pub images: usize,
}

/// Reads `from` (a file, or a folder of files) in `format` (else guessed from the name), matches
/// it to the project's images by identity and saves the project, all or nothing.
pub fn import_into_project(
    project: &Path,
    from: &Path,
    format: Option<Format>,
    opts: ImportOptions,
) -> Result<ImportReport, InteropError> {
    let format = format.or_else(|| guess_format(from)).ok_or_else(|| {
        InteropError::msg(format!(
            "{}: give --format (seg, nifti, png or coco)",
            from.display()
        ))
    })?;
    // Everything is read and checked first, without the lock: a bad input is refused before
    // any writer could be kept waiting, and a dry run stops there.
    let incoming = read_incoming(from, format)?;
    let name = project.display().to_string();
    let first = OpenProject::read(project).map_err(fail)?;
    let plan_on = |open: &OpenProject, incoming: Vec<Incoming>| {
        let names = naming::export_names(&open.project);
        import::plan(
            &open.project,
            &open.checks,
            &names,
            &name,
            incoming,
            &mut |i| open.annotations(i).map_err(|e| Invalid(e.to_string())),
            opts.merge,
        )
        .map_err(InteropError::from)
    };
    let plan = plan_on(&first, incoming.clone())?;
    if opts.dry_run {
        return Ok(ImportReport {
            images: plan.changes.len(),
            lines: plan.lines,
            warnings: Vec::new(),
            notes: Vec::new(),
        });
    }
    drop(first);
    // Then as the one writer: the plan again on the project as it is now, and one save.
    let mut open = OpenProject::write(project, "vitscope import").map_err(fail)?;
    let plan = plan_on(&open, incoming)?;
    let mut report = ImportReport {
        lines: plan.lines.clone(),
        warnings: std::mem::take(&mut open.warnings),
        notes: std::mem::take(&mut open.notes),
        images: plan.changes.len(),
    };
    open.project.classes = plan.classes.clone();
    for (&i, ann) in &plan.changes {
        open.project.images[i].boxes = ann.boxes.clone();
    }
    let masks: Vec<(usize, &LabelMask)> = plan.changes.iter().map(|(&i, a)| (i, &a.mask)).collect();
    let saved = open.save(masks).map_err(fail)?;
    report.warnings.extend(saved.warnings);
    Ok(report)
}

/// DICOM's scaled CIELab back to sRGB (approximate inverse of [`seg::rgb_to_dicom_lab`]).
pub fn lab_to_rgb(lab: [u16; 3]) -> [u8; 3] {
    let l = lab[0] as f64 / 65535.0 * 100.0;
    let a = lab[1] as f64 / 65535.0 * 255.0 - 128.0;
    let b = lab[2] as f64 / 65535.0 * 255.0 - 128.0;
    let fy = (l + 16.0) / 116.0;
    let (fx, fz) = (fy + a / 500.0, fy - b / 200.0);
    let inv = |t: f64| {
        if t > 6.0 / 29.0 {
            t * t * t
        } else {
            3.0 * (6.0f64 / 29.0).powi(2) * (t - 4.0 / 29.0)
        }
    };
    let (x, y, z) = (inv(fx) * 0.950_47, inv(fy), inv(fz) * 1.088_83);
    let r = 3.2406 * x - 1.5372 * y - 0.4986 * z;
    let g = -0.9689 * x + 1.8758 * y + 0.0415 * z;
    let bl = 0.0557 * x - 0.2040 * y + 1.0570 * z;
    let gamma = |c: f64| {
        let c = c.clamp(0.0, 1.0);
        let v = if c <= 0.003_130_8 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (v * 255.0).round() as u8
    };
    [gamma(r), gamma(g), gamma(bl)]
}
