//! A project's annotations out to, and back in from, the formats hospitals and research
//! pipelines use: DICOM SEG ([`seg`]), NIfTI ([`nifti`]), PNG masks, COCO ([`coco`]) and CSV;
//! studies from a PACS ([`dicomweb`], [`pacs`]).
//!
//! Every export writes unique names and a `manifest.csv` ([`crate::project::naming`]); every
//! import is matched to images by identity and planned whole before anything changes
//! ([`crate::project::import`]); `import` and `pacs fetch` hold the project's lock and save all
//! or nothing. An image whose file changed on disk is never exported or imported into.

pub mod coco;
pub mod deid;
pub mod dicomweb;
pub mod incoming;
pub mod multipart;
pub mod nifti;
pub mod pacs;
pub mod seg;

use crate::error::{Cause, Invalid};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::project::annotation::{Annotations, LabelMask};
use crate::project::identity::{Identity, capture_uids};
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

/// How an export is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// De-identify ([`deid`]): images named `case-0001`…, DICOM objects by the Basic Profile, the
    /// source images copied beside their SEGs, no original path, name, UID or identity anywhere
    /// in the export folder.
    pub deidentify: bool,
    /// Where the link between pseudonyms and originals goes (a CSV outside the export folder);
    /// only with `deidentify`.
    pub linkage: Option<PathBuf>,
}

/// Writes every annotated image of `project` to `out` in `format` (the project is not changed).
pub fn export_project(
    project: &Path,
    format: Format,
    out: &Path,
    opts: &ExportOptions,
) -> Result<Exported, InteropError> {
    let open = OpenProject::read(project).map_err(fail)?;
    let (images, mut skipped) = export_images_of(&open)?;
    if open.upgraded > 0 {
        skipped.push(unrecorded(project, open.upgraded));
    }
    let mut done = export_images(&images, &open.project.classes, format, out, opts)?;
    done.skipped = skipped;
    Ok(done)
}

/// Refuses a linkage file inside the export folder (or without `deidentify`).
fn check_linkage(out: &Path, opts: &ExportOptions) -> Result<(), InteropError> {
    let Some(link) = &opts.linkage else {
        return Ok(());
    };
    if !opts.deidentify {
        return Err(InteropError::msg(
            "--linkage goes with --deidentify: a plain export names its images itself".into(),
        ));
    }
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        // The deepest existing ancestor, resolved (links included), and the rest as written.
        let mut base = p.clone();
        let mut rest = Vec::new();
        while !base.exists() {
            match (base.file_name().map(|n| n.to_os_string()), base.parent()) {
                (Some(n), Some(parent)) => {
                    rest.push(n);
                    base = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let mut r = base.canonicalize().unwrap_or(base);
        r.extend(rest.iter().rev());
        r
    };
    if abs(link).starts_with(abs(out)) {
        return Err(InteropError::msg(format!(
            "{}: the linkage file would be inside the export folder {}: write it where the export does not go",
            link.display(),
            out.display()
        )));
    }
    Ok(())
}

/// Writes the link between pseudonyms and originals: `pseudonym,image,identity,frame` per
/// image, then `original_uid,new_uid` per replaced UID (with the pseudonym of the export).
fn write_linkage(
    path: &Path,
    images: &[ExportImage],
    pseudonyms: &[String],
    deid: &deid::Deidentifier,
) -> Result<(), InteropError> {
    let mut t = crate::io::table::Table::new([
        "pseudonym",
        "image",
        "identity",
        "frame",
        "original_uid",
        "new_uid",
    ]);
    for (img, p) in images.iter().zip(pseudonyms) {
        t.row([
            p.clone(),
            img.file.display().to_string(),
            img.identity.token(),
            img.frame.to_string(),
            String::new(),
            String::new(),
        ]);
    }
    for (from, to) in deid.uid_map() {
        t.row([
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            from.clone(),
            to.clone(),
        ]);
    }
    t.write(path)
        .map_err(|e| InteropError::at(path.display(), e))
}

/// Writes `images` to `out` in `format`, with `manifest.csv`; no path is written twice.
pub fn export_images(
    images: &[ExportImage],
    classes: &[LabelClass],
    format: Format,
    out: &Path,
    opts: &ExportOptions,
) -> Result<Exported, InteropError> {
    check_linkage(out, opts)?;
    if !opts.deidentify {
        return write_export(images, classes, format, out, None);
    }
    let pseudonyms: Vec<String> = (0..images.len())
        .map(|k| deid::pseudonym(k, images.len()))
        .collect();
    let renamed: Vec<ExportImage> = images
        .iter()
        .zip(&pseudonyms)
        .map(|(img, p)| ExportImage {
            name: p.clone(),
            ..img.clone()
        })
        .collect();
    let mut d = deid::Deidentifier::new();
    let done = write_export(&renamed, classes, format, out, Some(&mut d))?;
    if let Some(link) = &opts.linkage {
        write_linkage(link, images, &pseudonyms, &d)?;
    }
    Ok(done)
}

/// [`export_images`]' writer; with `deid`, `images` carry their pseudonyms as names.
fn write_export(
    images: &[ExportImage],
    classes: &[LabelClass],
    format: Format,
    out: &Path,
    mut deid: Option<&mut deid::Deidentifier>,
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
    // A de-identified export lists a DICOM image by its replaced UID, any other by nothing.
    let tokens: std::collections::HashMap<String, String> = images
        .iter()
        .map(|img| {
            let t = match (deid.as_deref_mut(), &img.identity) {
                (None, id) => id.token(),
                (Some(d), Identity::Dicom { uid, .. }) => format!("dicom:{}", d.uid(uid)),
                (Some(_), Identity::Sha256(_)) => String::new(),
            };
            (img.name.clone(), t)
        })
        .collect();
    let row = |file: String, image: &str, img: &ExportImage, classes: &[u8]| ManifestRow {
        file,
        image: image.to_string(),
        identity: tokens.get(&img.name).cloned().unwrap_or_default(),
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
                let source = match (img.is_dicom(), deid.as_deref_mut()) {
                    (true, None) => seg::source_frame(&img.file, img.frame).map_err(fail)?,
                    (true, Some(d)) => {
                        // The recipient gets the image too, de-identified, and the SEG refers
                        // to that copy.
                        let file = format!("{}.dcm", img.name);
                        let p = out.join(&file);
                        d.file(&img.file, &p, &img.name).map_err(fail)?;
                        rows.push(row(file, &img.name, img, &[]));
                        written.push(p.clone());
                        seg::source_frame(&p, img.frame).map_err(fail)?
                    }
                    (false, d) => {
                        let (w, h, rgb) = rgb8(img)?;
                        let file = format!("{}.sc.dcm", img.name);
                        let p = out.join(&file);
                        let uids = capture_uids(&img.identity);
                        let name = match d {
                            Some(_) => String::new(),
                            None => img
                                .file
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                        };
                        let mut src = seg::write_secondary_capture(&rgb, w, h, &name, &uids, &p)
                            .map_err(fail)?;
                        if let Some(d) = d {
                            d.file(&p, &p, &img.name).map_err(fail)?;
                            src = seg::source_frame(&p, 0).map_err(fail)?;
                        }
                        rows.push(row(file, &img.name, img, &[]));
                        written.push(p);
                        src
                    }
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
                if let Some(d) = deid.as_deref_mut() {
                    d.file(&p, &p, &img.name).map_err(fail)?;
                }
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
