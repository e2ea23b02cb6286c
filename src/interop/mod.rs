//! A project's annotations out to, and back in from, the formats hospitals and research
//! pipelines use: DICOM SEG ([`seg`]), NIfTI ([`nifti`]), and the workbench's PNG masks, COCO and
//! CSV. `vitscope export` never changes the project file; `vitscope import` saves it only when
//! every input was read and matched (atomically, like every save), so a bad file changes
//! nothing.

pub mod dicomweb;
pub mod nifti;
pub mod seg;

use std::path::{Path, PathBuf};

use crate::app::annotate::LabelMask;
use crate::app::export::{self, ExportItem};
use crate::app::project::LabelClass;
use crate::app::state::Session;

/// Formats of `export` and `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// DICOM Segmentation, one per annotated image (`<stem>.seg.dcm`; a Secondary Capture
    /// `<stem>.sc.dcm` of a non-DICOM image beside it).
    Seg,
    /// NIfTI-1 label masks, `<stem>.nii.gz`.
    Nifti,
    /// PNG masks in the paper's layout, `masks/<stem>.png`.
    Png,
    /// One COCO JSON file, `annotations.json`.
    Coco,
    /// One CSV, `annotations.csv`: a row per box and per class mask.
    Csv,
}

/// An error naming the file or the source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InteropError(pub String);

fn fail(e: impl std::fmt::Display) -> InteropError {
    InteropError(e.to_string())
}

fn stem(p: &Path) -> String {
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

fn open(project: &Path) -> Result<Session, InteropError> {
    let mut s = Session::open_project(project).map_err(fail)?;
    for i in 0..s.project.images.len() {
        s.load_annotations(i).map_err(InteropError)?;
    }
    Ok(s)
}

/// 128-bit FNV-1a of `parts`.
fn fnv128(parts: &[&[u8]]) -> u128 {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for p in parts {
        for &b in *p {
            h ^= b as u128;
            h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
        }
    }
    h
}

/// The Secondary Capture identity of a non-DICOM image: UIDs derived from its pixels, so that
/// exporting again gives the same object and a SEG of it finds the image on import.
pub fn capture_uids(rgb: &[u8], width: usize, height: usize) -> [String; 3] {
    let dims = format!("{width}x{height}");
    ["study", "series", "instance"].map(|what| {
        format!(
            "2.25.{}",
            fnv128(&[b"vitscope-capture-", what.as_bytes(), dims.as_bytes(), rgb])
        )
    })
}

/// The image's pixels as 8-bit RGB (`width`, `height`, bytes).
fn rgb8(session: &Session, i: usize) -> Result<(usize, usize, Vec<u8>), InteropError> {
    let e = &session.project.images[i];
    let path = session.resolve(&e.path);
    let img = crate::io::image::read_image_frame(&path, e.frame).map_err(fail)?;
    Ok((img.width, img.height, img.to_rgb8().into_raw()))
}

fn is_dicom_entry(session: &Session, i: usize) -> bool {
    crate::io::dicom::is_dicom(&session.resolve(&session.project.images[i].path))
}

/// Per class that occurs, its pixels: the mask's, else the boxes rasterised.
fn class_masks(mask: &LabelMask, boxes: &[crate::app::annotate::LabelBox]) -> Vec<(u8, Vec<bool>)> {
    let (w, h) = (mask.width, mask.height);
    let mut labels = mask.data.clone();
    if mask.count() == 0 {
        for b in boxes {
            for y in (b.y0 as usize).min(h)..(b.y1 as usize).min(h) {
                for x in (b.x0 as usize).min(w)..(b.x1 as usize).min(w) {
                    labels[y * w + x] = b.class.max(1);
                }
            }
        }
    }
    let mut present: Vec<u8> = labels.iter().copied().filter(|&v| v > 0).collect();
    present.sort_unstable();
    present.dedup();
    present
        .into_iter()
        .map(|c| (c, labels.iter().map(|&v| v == c).collect()))
        .collect()
}

fn class_name(classes: &[LabelClass], c: u8) -> (String, [u8; 3]) {
    classes
        .get(c as usize - 1)
        .map(|k| (k.name.clone(), k.color))
        .unwrap_or_else(|| (format!("class {c}"), [255, 64, 160]))
}

/// Writes every annotated image of `project` to `out` in `format`; returns the files written.
pub fn export_project(
    project: &Path,
    format: Format,
    out: &Path,
) -> Result<Vec<PathBuf>, InteropError> {
    let mut session = open(project)?;
    export_session(&mut session, format, out)
}

/// Writes every annotated image of a session (loading the annotations of images not visited
/// yet) to `out` in `format`; returns the files written.
pub fn export_session(
    session: &mut Session,
    format: Format,
    out: &Path,
) -> Result<Vec<PathBuf>, InteropError> {
    for i in 0..session.project.images.len() {
        session.load_annotations(i).map_err(InteropError)?;
    }
    let session = &*session;
    std::fs::create_dir_all(out).map_err(|e| InteropError(format!("{}: {e}", out.display())))?;
    let anns: Vec<(usize, String, crate::app::annotate::Annotations)> = session
        .states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let s = s.as_ref()?;
            let name = session.project.images[i]
                .path
                .file_name()?
                .to_string_lossy()
                .into_owned();
            Some((i, name, s.ann.clone()))
        })
        .collect();
    let annotated: Vec<&(usize, String, crate::app::annotate::Annotations)> = anns
        .iter()
        .filter(|(_, _, a)| a.mask.count() > 0 || !a.boxes.is_empty())
        .collect();
    let classes = &session.project.classes;
    let mut written = Vec::new();
    match format {
        Format::Png | Format::Coco => {
            let items: Vec<ExportItem> = annotated
                .iter()
                .map(|(_, n, a)| ExportItem {
                    file_name: n.clone(),
                    boxes: &a.boxes,
                    mask: &a.mask,
                })
                .collect();
            if format == Format::Png {
                export::export_png_masks(out, &items).map_err(fail)?;
                written.extend(annotated.iter().map(|(_, n, _)| {
                    out.join("masks")
                        .join(format!("{}.png", stem(Path::new(n))))
                }));
            } else {
                let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
                let p = out.join("annotations.json");
                export::export_coco(&p, &items, &names).map_err(fail)?;
                written.push(p);
            }
        }
        Format::Csv => {
            let mut rows = Vec::new();
            for (i, n, a) in &annotated {
                let spacing = pixel_spacing(session, *i);
                for b in &a.boxes {
                    let (name, _) = class_name(classes, b.class.max(1));
                    let (w, h) = (b.x1.saturating_sub(b.x0), b.y1.saturating_sub(b.y0));
                    let mm = spacing.map_or(String::new(), |[dr, dc]| {
                        format!("{:.3}", w as f64 * dc * h as f64 * dr)
                    });
                    rows.push(format!(
                        "{n},box,{name},{},{},{},{},{},{mm}",
                        b.x0,
                        b.y0,
                        b.x1,
                        b.y1,
                        w as u64 * h as u64
                    ));
                }
                for (c, m) in class_masks(&a.mask, &[]) {
                    let (name, _) = class_name(classes, c);
                    let (w, _) = (a.mask.width, a.mask.height);
                    let (mut x0, mut y0, mut x1, mut y1, mut k) =
                        (usize::MAX, usize::MAX, 0, 0, 0u64);
                    for (p, _) in m.iter().enumerate().filter(|(_, v)| **v) {
                        let (x, y) = (p % w, p / w);
                        x0 = x0.min(x);
                        y0 = y0.min(y);
                        x1 = x1.max(x + 1);
                        y1 = y1.max(y + 1);
                        k += 1;
                    }
                    let mm = spacing.map_or(String::new(), |[dr, dc]| {
                        format!("{:.3}", k as f64 * dr * dc)
                    });
                    rows.push(format!("{n},mask,{name},{x0},{y0},{x1},{y1},{k},{mm}"));
                }
            }
            let p = out.join("annotations.csv");
            export::write_csv(&p, "image,kind,class,x0,y0,x1,y1,pixels,area_mm2", &rows)
                .map_err(fail)?;
            written.push(p);
        }
        Format::Nifti => {
            for (i, n, a) in &annotated {
                let mut labels = a.mask.data.clone();
                if a.mask.count() == 0 {
                    for (c, m) in class_masks(&a.mask, &a.boxes) {
                        for (l, v) in labels.iter_mut().zip(m) {
                            if v {
                                *l = c;
                            }
                        }
                    }
                }
                let g = nifti_geometry(session, *i);
                let p = out.join(format!("{}.nii.gz", stem(Path::new(n))));
                nifti::write_mask(
                    &p,
                    &labels,
                    a.mask.width,
                    a.mask.height,
                    &g,
                    "vitscope labels",
                )
                .map_err(fail)?;
                written.push(p);
            }
        }
        Format::Seg => {
            for (i, n, a) in &annotated {
                let s = stem(Path::new(n));
                let source = if is_dicom_entry(session, *i) {
                    seg::source_from_dicom(&session.resolve(&session.project.images[*i].path))
                        .map_err(fail)?
                } else {
                    let (w, h, rgb) = rgb8(session, *i)?;
                    let p = out.join(format!("{s}.sc.dcm"));
                    let uids = capture_uids(&rgb, w, h);
                    let src =
                        seg::write_secondary_capture(&rgb, w, h, n, &uids, &p).map_err(fail)?;
                    written.push(p);
                    src
                };
                if (source.cols, source.rows) != (a.mask.width, a.mask.height) {
                    return Err(InteropError(format!(
                        "{n}: the mask is {}×{} but the DICOM image {}×{}",
                        a.mask.width, a.mask.height, source.cols, source.rows
                    )));
                }
                let segments: Vec<seg::Segment> = class_masks(&a.mask, &a.boxes)
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
                let p = out.join(format!("{s}.seg.dcm"));
                seg::write_seg(&source, &segments, &p).map_err(fail)?;
                written.push(p);
            }
        }
    }
    Ok(written)
}

/// Pixel spacing (row, column) in mm of a DICOM image entry.
fn pixel_spacing(session: &Session, i: usize) -> Option<[f64; 2]> {
    is_dicom_entry(session, i)
        .then(|| seg::source_from_dicom(&session.resolve(&session.project.images[i].path)).ok())
        .flatten()
        .and_then(|s| s.pixel_spacing)
}

fn nifti_geometry(session: &Session, i: usize) -> nifti::Geometry {
    let src = is_dicom_entry(session, i)
        .then(|| seg::source_from_dicom(&session.resolve(&session.project.images[i].path)).ok())
        .flatten();
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
    } else if from.is_file() && crate::io::dicom::is_dicom(from) {
        Some(Format::Seg)
    } else {
        None
    }
}

/// The class index (1-based) of `name`, adding a class when the project has none by that name.
fn class_for(
    classes: &mut Vec<LabelClass>,
    name: &str,
    colour: [u8; 3],
) -> Result<u8, InteropError> {
    if let Some(k) = classes.iter().position(|c| c.name == name) {
        return Ok(k as u8 + 1);
    }
    if classes.len() >= 255 {
        return Err(InteropError(format!(
            "class '{name}': the project has 255 classes already"
        )));
    }
    classes.push(LabelClass {
        name: name.to_string(),
        color: colour,
    });
    Ok(classes.len() as u8)
}

/// A SEG's segments as one label mask: each segment's pixels get the class of its label (a new
/// class for a new label, coloured as the SEG recommends); later segments win where they overlap.
pub fn mask_from_seg(
    r: &seg::SegRead,
    classes: &mut Vec<LabelClass>,
) -> Result<LabelMask, InteropError> {
    let mut mask = LabelMask::new(r.cols, r.rows);
    for (label, lab, m) in &r.segments {
        let colour = lab.map(lab_to_rgb).unwrap_or([255, 64, 160]);
        let c = class_for(classes, label, colour)?;
        for (o, &v) in mask.data.iter_mut().zip(m) {
            if v {
                *o = c;
            }
        }
    }
    Ok(mask)
}

/// A NIfTI label mask as a project mask, adding classes `label K` for ids beyond the project's.
pub fn mask_from_nifti(
    m: nifti::NiftiMask,
    classes: &mut Vec<LabelClass>,
) -> Result<LabelMask, InteropError> {
    let top = m.labels.iter().copied().max().unwrap_or(0);
    while (classes.len() as u8) < top {
        let name = format!("label {}", classes.len() + 1);
        class_for(classes, &name, [255, 64, 160])?;
    }
    Ok(LabelMask {
        width: m.width,
        height: m.height,
        data: m.labels,
    })
}

/// Files to import: `from` itself, or the files of the folder `from` in `format`.
fn sources(from: &Path, format: Format) -> Result<Vec<PathBuf>, InteropError> {
    if !from.is_dir() {
        return Ok(vec![from.to_path_buf()]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(from)
        .map_err(|e| InteropError(format!("{}: {e}", from.display())))?
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
        return Err(InteropError(format!(
            "{}: no {format:?} files in this folder",
            from.display()
        )));
    }
    Ok(v)
}

/// Reads `from` (a file, or a folder of files) in `format` (else guessed from the name) into the
/// project's images and saves the project. Returns a summary.
pub fn import_into_project(
    project: &Path,
    from: &Path,
    format: Option<Format>,
) -> Result<String, InteropError> {
    let format = format.or_else(|| guess_format(from)).ok_or_else(|| {
        InteropError(format!(
            "{}: give --format (seg, nifti, png or coco)",
            from.display()
        ))
    })?;
    let mut session = open(project)?;
    let files = sources(from, format)?;
    let mut changed: Vec<(usize, LabelMask, Vec<crate::app::annotate::LabelBox>)> = Vec::new();
    let size_of = |session: &Session, i: usize| {
        session.states[i]
            .as_ref()
            .map(|s| (s.ann.mask.width, s.ann.mask.height))
            .unwrap_or((0, 0))
    };
    let by_stem = |session: &Session, s: &str| {
        session
            .project
            .images
            .iter()
            .position(|e| stem(&e.path) == s)
    };
    let mut classes = session.project.classes.clone();
    for f in &files {
        match format {
            Format::Seg => {
                let r = seg::read_seg(f).map_err(fail)?;
                let i = find_by_sop(&session, &r.source_sop_instance)?.ok_or_else(|| {
                    InteropError(format!(
                        "{}: the SEG segments image {}, which is not in {}",
                        f.display(),
                        r.source_sop_instance,
                        project.display()
                    ))
                })?;
                let (w, h) = size_of(&session, i);
                if (r.cols, r.rows) != (w, h) {
                    return Err(InteropError(format!(
                        "{}: frames of {}×{} but its image {} is {w}×{h}",
                        f.display(),
                        r.cols,
                        r.rows,
                        session.project.images[i].path.display()
                    )));
                }
                changed.push((i, mask_from_seg(&r, &mut classes)?, Vec::new()));
            }
            Format::Nifti => {
                let m = nifti::read_mask(f).map_err(fail)?;
                let s = stem(f);
                let i = by_stem(&session, &s).ok_or_else(|| {
                    InteropError(format!(
                        "{}: no image named {s} in {}",
                        f.display(),
                        project.display()
                    ))
                })?;
                let (w, h) = size_of(&session, i);
                if (m.width, m.height) != (w, h) {
                    return Err(InteropError(format!(
                        "{}: a {}×{} mask but its image is {w}×{h}",
                        f.display(),
                        m.width,
                        m.height
                    )));
                }
                changed.push((i, mask_from_nifti(m, &mut classes)?, Vec::new()));
            }
            Format::Png => {
                let s = stem(f);
                let Some(i) = by_stem(&session, &s) else {
                    continue; // masks of images not in the project are skipped in a folder
                };
                let (w, h) = size_of(&session, i);
                let m = crate::app::project::read_label_mask(f, w, h, classes.len().max(1))
                    .map_err(fail)?;
                changed.push((i, m, Vec::new()));
            }
            Format::Coco => {
                for i in 0..session.project.images.len() {
                    let (w, h) = size_of(&session, i);
                    let name = session.project.images[i]
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let Ok(a) = export::import_coco(f, &name, w, h) else {
                        continue;
                    };
                    if let Some(m) = a.mask {
                        changed.push((i, m, a.boxes));
                    } else if !a.boxes.is_empty() {
                        let m = session.states[i].as_ref().map(|s| s.ann.mask.clone());
                        changed.push((i, m.unwrap_or_else(|| LabelMask::new(w, h)), a.boxes));
                    }
                }
            }
            Format::Csv => {
                return Err(InteropError("CSV is an export format only".into()));
            }
        }
    }
    if changed.is_empty() {
        return Err(InteropError(format!(
            "{}: nothing matched an image of the project",
            from.display()
        )));
    }
    session.project.classes = classes;
    let n = changed.len();
    for (i, mask, boxes) in changed {
        if let Some(s) = session.states[i].as_mut() {
            s.ann.mask = mask;
            s.ann.boxes.extend(boxes);
            s.mask_dirty = true;
        }
    }
    session.dirty = true;
    session.save().map_err(fail)?;
    Ok(format!(
        "imported {n} mask(s) from {} into {}",
        from.display(),
        project.display()
    ))
}

/// The image of the project whose SOP Instance UID is `uid`: a DICOM image's own, or the
/// Secondary Capture identity of a non-DICOM image.
fn find_by_sop(session: &Session, uid: &str) -> Result<Option<usize>, InteropError> {
    for i in 0..session.project.images.len() {
        let found = if is_dicom_entry(session, i) {
            seg::source_from_dicom(&session.resolve(&session.project.images[i].path))
                .map(|s| s.sop_instance == uid)
                .unwrap_or(false)
        } else {
            let (w, h, rgb) = rgb8(session, i)?;
            capture_uids(&rgb, w, h)[2] == uid
        };
        if found {
            return Ok(Some(i));
        }
    }
    Ok(None)
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

/// Fetches a study (WADO-RS) into the project's cache folder (`NAME_pacs/<study>/` beside
/// `NAME.ron`) and adds its image instances (not SEG or other non-image objects) to the
/// project. The project file is written once, after everything arrived; a failure leaves it as
/// it was. Returns the images added.
pub fn fetch_into_project(
    client: &dicomweb::Client,
    study: &str,
    project: &Path,
) -> Result<usize, InteropError> {
    let mut p = crate::app::project::Project::load(project).map_err(fail)?;
    if !study.chars().all(|c| c.is_ascii_digit() || c == '.')
        || study.is_empty()
        || study.len() > 64
    {
        return Err(InteropError(format!("--study '{study}' is not a UID")));
    }
    let base = project
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = project
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let dir = base.join(format!("{name}_pacs")).join(study);
    let files = client.fetch_study(study, &dir).map_err(fail)?;
    let mut added = 0;
    for f in files {
        let is_image = seg::source_from_dicom(&f)
            .map(|s| s.sop_class != seg::SEG_SOP_CLASS)
            .unwrap_or(false)
            && crate::io::image::read_image(&f).is_ok();
        if !is_image {
            continue;
        }
        let rel = f
            .strip_prefix(base)
            .map(Path::to_path_buf)
            .unwrap_or(f.clone());
        if p.images.iter().any(|e| e.path == rel) {
            continue;
        }
        p.images.push(crate::app::project::ImageEntry {
            path: rel,
            status: Default::default(),
            boxes: Vec::new(),
            mask: None,
            window: None,
            frame: 0,
        });
        added += 1;
    }
    if added == 0 {
        return Err(InteropError(format!(
            "{}: study {study} has no image this workbench can open",
            client.url()
        )));
    }
    p.save_file(project).map_err(fail)?;
    Ok(added)
}
