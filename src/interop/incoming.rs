//! Imports: the files of a SEG, NIfTI, PNG or COCO import read and checked, laid onto their
//! images' grids where the file gives a patient-space affine, matched by identity
//! (`project::import`) and saved all or nothing.

use std::path::{Path, PathBuf};

use super::{Format, InteropError, coco, fail, nifti, seg, stem};
use crate::error::Invalid;
use crate::project::OpenProject;
use crate::project::annotation::LabelMask;
use crate::project::identity::Identity;
use crate::project::import::{self, Incoming, Layer, Target};
use crate::project::naming::{self, ManifestRow};

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

/// Lays each item that says where its grid lies in patient space (NIfTI's affine) onto the grid
/// of the image it matches, by the flips and transposes the two affines give (see
/// [`nifti::Placement::find`]); an oblique affine, or one off the image's DICOM grid, is an error
/// naming the file. `file_of(i)` is image `i`'s file.
pub fn place_in_images(
    project: &crate::project::Project,
    names: &[String],
    project_name: &str,
    file_of: &dyn Fn(usize) -> PathBuf,
    incoming: &mut [Incoming],
) -> Result<(), InteropError> {
    for item in incoming.iter_mut() {
        let Some(space) = item.space.take() else {
            continue;
        };
        let (i, _) = import::match_image(project, names, project_name, item)?;
        let entry = &project.images[i];
        let (geometry, image_dims) = if matches!(entry.identity, Some(Identity::Dicom { .. })) {
            let file = file_of(i);
            let s = seg::source_frame(&file, entry.frame).map_err(|e| {
                InteropError::msg(format!(
                    "{}: the geometry of its image cannot be read: {e}",
                    item.what
                ))
            })?;
            let g = nifti::Geometry {
                spacing: s.pixel_spacing.unwrap_or([1.0, 1.0]),
                orientation: s.orientation,
                position: s.position,
            };
            (g, Some((s.cols, s.rows)))
        } else {
            let g = nifti::Geometry {
                spacing: [1.0, 1.0],
                orientation: None,
                position: None,
            };
            (g, None)
        };
        let dims = (item.width, item.height);
        let p = nifti::Placement::find(&space, dims, &geometry, image_dims).map_err(|e| {
            InteropError::msg(format!(
                "{}: {e} (image {}); nothing imported",
                item.what,
                entry.path.display()
            ))
        })?;
        for layer in item.layers.iter_mut() {
            match layer {
                Layer::Id(_, px) | Layer::Named { pixels: px, .. } => *px = p.apply(px, dims),
            }
        }
        (item.width, item.height) = p.placed_dims(dims);
    }
    Ok(())
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
                        space: None,
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
                    space: m.space,
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
                    space: None,
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
                        space: None,
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
    let plan_on = |open: &OpenProject, mut incoming: Vec<Incoming>| {
        let names = naming::export_names(&open.project);
        place_in_images(
            &open.project,
            &names,
            &name,
            &|i| open.file(i),
            &mut incoming,
        )?;
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
