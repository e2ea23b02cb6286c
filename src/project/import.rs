//! Import by identity: which image an imported file belongs to, and how its classes join the
//! image's mask. The file formats are read elsewhere (`interop`); this is the one place that
//! decides, for the CLI and the workbench alike.
//!
//! Matching: a SEG by the SOP Instance UID (and frame) it references — a non-DICOM image by the
//! Secondary Capture UID derived from its identity; NIfTI, PNG and COCO by the `manifest.csv`
//! found beside the file or in the imported folder; otherwise by file stem (or export name), and
//! only when exactly one image has it. No match, an ambiguous match, or an image whose file
//! changed on disk: an error naming the file and the candidates.
//!
//! Merging: an import adds. Each class's pixels are written into the image's mask; other
//! classes' pixels stay, and pixels that were another class are counted and reported (the
//! imported class wins). `replace` clears each matched image's mask first. Class ids above the
//! project's list are refused unless `add_classes` creates `class K` entries; a SEG segment with
//! a new label becomes a class of that name.
//!
//! Everything is planned in memory; nothing is written unless the whole plan succeeded.

use crate::error::Invalid;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::annotation::{Annotations, LabelBox};
use super::identity::{Identity, ImageCheck, capture_uids};
use super::model::{LabelClass, Project};
use super::naming::ManifestRow;

/// Which image an imported item names.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A SEG's referenced SOP Instance UID and frame (0-based).
    Uid {
        /// SOP Instance UID.
        uid: String,
        /// Frame.
        frame: u32,
    },
    /// A file (or a COCO image) with its manifest row if one lists it, and its stem.
    Named {
        /// The file's stem (or the COCO file name's).
        stem: String,
        /// The manifest's row for it.
        row: Option<ManifestRow>,
    },
}

/// One class's pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// A class by id (PNG, NIfTI, COCO).
    Id(u8, Vec<bool>),
    /// A class by name (a SEG segment), with the colour a new class gets.
    Named {
        /// Segment label.
        label: String,
        /// Recommended display colour.
        colour: [u8; 3],
        /// Its pixels.
        pixels: Vec<bool>,
    },
}

/// What one imported item brings to one image.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The file it came from.
    pub file: PathBuf,
    /// How messages name it (the file, or `file.json: image x.png`).
    pub what: String,
    /// Which image it names.
    pub target: Target,
    /// Its grid.
    pub width: usize,
    /// Its grid.
    pub height: usize,
    /// Class pixels, applied in order.
    pub layers: Vec<Layer>,
    /// Boxes (COCO), classes by id.
    pub boxes: Vec<LabelBox>,
    /// Where the file puts its grid in patient space (NIfTI: the voxel-to-RAS affine): the
    /// layers are laid onto the matched image's grid ([`match_image`]) before planning.
    pub space: Option<[[f64; 4]; 3]>,
}

/// Import options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Replace each matched image's mask instead of adding to it.
    pub replace: bool,
    /// Create `class K` entries for ids above the class list.
    pub add_classes: bool,
}

/// A planned import: what the project becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The class list afterwards.
    pub classes: Vec<LabelClass>,
    /// The new annotations of every changed image, by index.
    pub changes: BTreeMap<usize, Annotations>,
    /// What was matched and how, overlaps, classes added (for stdout).
    pub lines: Vec<String>,
}

/// Colour of a class created by an import.
fn new_colour(k: usize) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 8] = [
        [255, 64, 160],
        [64, 200, 255],
        [255, 200, 40],
        [120, 220, 90],
        [190, 110, 255],
        [255, 120, 60],
        [40, 220, 200],
        [230, 230, 230],
    ];
    PALETTE[k % PALETTE.len()]
}

/// The entries a target names, with how they were found.
fn candidates(
    project: &Project,
    names: &[String],
    target: &Target,
) -> Result<(Vec<usize>, &'static str), Invalid> {
    let by_identity = |want: &Identity| -> Vec<usize> {
        project
            .images
            .iter()
            .enumerate()
            .filter(|(_, e)| e.identity.as_ref() == Some(want))
            .map(|(i, _)| i)
            .collect()
    };
    match target {
        Target::Uid { uid, frame } => {
            let want = Identity::Dicom {
                uid: uid.clone(),
                frame: *frame,
            };
            let mut found = by_identity(&want);
            if *frame == 0 {
                found.extend(project.images.iter().enumerate().filter_map(
                    |(i, e)| match &e.identity {
                        Some(id @ Identity::Sha256(_)) if capture_uids(id)[2] == *uid => Some(i),
                        _ => None,
                    },
                ));
            }
            Ok((found, "UID"))
        }
        Target::Named { row: Some(r), .. } => Ok((by_identity(&r.identity()?), "manifest")),
        Target::Named { stem, row: None } => Ok((
            project
                .images
                .iter()
                .enumerate()
                .filter(|(i, e)| e.stem() == *stem || names[*i] == *stem)
                .map(|(i, _)| i)
                .collect(),
            "stem",
        )),
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Uid { uid, frame: 0 } => format!("image {uid}"),
        Target::Uid { uid, frame } => format!("frame {frame} of image {uid}"),
        Target::Named { row: Some(r), .. } => {
            format!("the manifest's image {} ({})", r.image, r.identity)
        }
        Target::Named { stem, row: None } => format!("an image with the stem '{stem}'"),
    }
}

/// The one image an item names, and how it was found (UID, manifest, stem); no match or more
/// than one is an error naming the item.
pub fn match_image(
    project: &Project,
    names: &[String],
    project_name: &str,
    item: &Incoming,
) -> Result<(usize, &'static str), Invalid> {
    let (found, how) = candidates(project, names, &item.target)
        .map_err(|e| format!("{}: its manifest row: {e}", item.what))?;
    match found.as_slice() {
        [i] => Ok((*i, how)),
        [] => Err(Invalid::from(format!(
            "{}: {} is not in {project_name}: no image matches, nothing imported",
            item.what,
            describe(&item.target)
        ))),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|&i| project.images[i].path.display().to_string())
                .collect();
            Err(Invalid::from(format!(
                "{}: matches {} images of {project_name} by {how} ({}): ambiguous, nothing imported; export with vitscope to get a manifest.csv, or rename the file",
                item.what,
                many.len(),
                list.join(", ")
            )))
        }
    }
}

/// Plans an import (see the module docs). `current(i)` gives image `i`'s annotations now;
/// `names` are the images' export names ([`super::naming::export_names`]); `project_name`
/// names the project in errors.
pub fn plan(
    project: &Project,
    checks: &[ImageCheck],
    names: &[String],
    project_name: &str,
    incoming: Vec<Incoming>,
    current: &mut dyn FnMut(usize) -> Result<Annotations, Invalid>,
    opts: Options,
) -> Result<Plan, Invalid> {
    let mut classes = project.classes.clone();
    let mut changes: BTreeMap<usize, Annotations> = BTreeMap::new();
    let mut lines = Vec::new();
    for item in incoming {
        let f = item.file.display().to_string();
        let (i, how) = match_image(project, names, project_name, &item)?;
        if let Some(p) = checks.get(i).and_then(ImageCheck::problem) {
            return Err(Invalid::from(format!(
                "{}: its image {} cannot take annotations now: {p}",
                item.what,
                project.images[i].path.display()
            )));
        }
        let ann = match changes.entry(i) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let mut ann = current(i)?;
                if opts.replace {
                    ann.mask.data.iter_mut().for_each(|v| *v = 0);
                    if !item.boxes.is_empty() {
                        ann.boxes.clear();
                    }
                }
                v.insert(ann)
            }
        };
        if (item.width, item.height) != (ann.mask.width, ann.mask.height) {
            return Err(Invalid::from(format!(
                "{}: a {}×{} mask, but its image {} is {}×{}",
                item.what,
                item.width,
                item.height,
                project.images[i].path.display(),
                ann.mask.width,
                ann.mask.height
            )));
        }
        lines.push(format!("{} <- {f} (by {how})", names[i]));
        let class_of_id = |k: u8,
                           classes: &mut Vec<LabelClass>,
                           lines: &mut Vec<String>|
         -> Result<u8, Invalid> {
            if (k as usize) > classes.len() {
                if !opts.add_classes {
                    return Err(Invalid::from(format!(
                        "{}: class id {k} is above the {} class(es) of {project_name}; give --add-classes to create them",
                        item.what,
                        classes.len()
                    )));
                }
                while classes.len() < k as usize {
                    let n = classes.len() + 1;
                    classes.push(LabelClass {
                        name: format!("class {n}"),
                        color: new_colour(n - 1),
                    });
                    lines.push(format!("added class 'class {n}' (id {n})"));
                }
            }
            Ok(k)
        };
        for layer in &item.layers {
            let (k, pixels) = match layer {
                Layer::Id(0, _) => continue,
                Layer::Id(k, px) => (class_of_id(*k, &mut classes, &mut lines)?, px),
                Layer::Named {
                    label,
                    colour,
                    pixels,
                } => {
                    let k = match classes.iter().position(|c| c.name == *label) {
                        Some(k) => k as u8 + 1,
                        None => {
                            if classes.len() >= 255 {
                                return Err(Invalid::from(format!(
                                    "{}: segment '{label}' would be a 256th class",
                                    item.what
                                )));
                            }
                            classes.push(LabelClass {
                                name: label.clone(),
                                color: *colour,
                            });
                            lines.push(format!("added class '{label}' (id {})", classes.len()));
                            classes.len() as u8
                        }
                    };
                    (k, pixels)
                }
            };
            if pixels.len() != ann.mask.data.len() {
                return Err(Invalid::from(format!(
                    "{}: a layer of {} pixels for a {}×{} image",
                    item.what,
                    pixels.len(),
                    ann.mask.width,
                    ann.mask.height
                )));
            }
            let mut overlap = 0usize;
            for (m, &p) in ann.mask.data.iter_mut().zip(pixels) {
                if p {
                    if *m != 0 && *m != k {
                        overlap += 1;
                    }
                    *m = k;
                }
            }
            if overlap > 0 {
                lines.push(format!(
                    "  {}: {overlap} pixel(s) were another class; class '{}' (id {k}) wins",
                    names[i],
                    classes[k as usize - 1].name
                ));
            }
        }
        for b in &item.boxes {
            let k = class_of_id(b.class, &mut classes, &mut lines)?;
            let b = LabelBox { class: k, ..*b };
            if b.x1 as usize > ann.mask.width || b.y1 as usize > ann.mask.height {
                return Err(Invalid::from(format!(
                    "{}: box {},{},{},{} lies outside the {}×{} image",
                    item.what, b.x0, b.y0, b.x1, b.y1, ann.mask.width, ann.mask.height
                )));
            }
            if !ann.boxes.contains(&b) {
                ann.boxes.push(b);
            }
        }
    }
    Ok(Plan {
        classes,
        changes,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::model::ImageEntry;

    fn project() -> Project {
        let mut p = Project::default();
        for (path, uid) in [("a/0001.dcm", "1.2.1"), ("b/0001.dcm", "1.2.2")] {
            let mut e = ImageEntry::new(path.into());
            e.identity = Some(Identity::Dicom {
                uid: uid.into(),
                frame: 0,
            });
            p.images.push(e);
        }
        p
    }

    fn item(target: Target, layers: Vec<Layer>) -> Incoming {
        Incoming {
            file: "in.x".into(),
            what: "in.x".into(),
            target,
            width: 2,
            height: 2,
            layers,
            boxes: Vec::new(),
            space: None,
        }
    }

    fn run(p: &Project, items: Vec<Incoming>, opts: Options) -> Result<Plan, Invalid> {
        let names = crate::project::naming::export_names(p);
        let checks = vec![ImageCheck::Ok; p.images.len()];
        plan(
            p,
            &checks,
            &names,
            "p.ron",
            items,
            &mut |_| Ok(Annotations::new(2, 2)),
            opts,
        )
    }

    #[test]
    fn two_segs_of_one_image_both_survive_and_overlaps_are_counted() {
        let p = project();
        let uid = |u: &str| Target::Uid {
            uid: u.into(),
            frame: 0,
        };
        let seg = |label: &str, px: [bool; 4]| Layer::Named {
            label: label.into(),
            colour: [1, 2, 3],
            pixels: px.to_vec(),
        };
        let plan = run(
            &p,
            vec![
                item(uid("1.2.2"), vec![seg("liver", [true, true, false, false])]),
                item(
                    uid("1.2.2"),
                    vec![seg("lesion", [false, true, true, false])],
                ),
            ],
            Options::default(),
        )
        .unwrap();
        // "lesion" is class 1 of the default project; "liver" is new (3).
        assert_eq!(plan.changes[&1].mask.data, vec![3, 1, 1, 0]);
        assert_eq!(plan.classes.len(), 3);
        assert!(
            plan.lines
                .iter()
                .any(|l| l.contains("1 pixel(s) were another class"))
        );
        assert!(plan.lines[0].ends_with("(by UID)"), "{:?}", plan.lines);
    }

    #[test]
    fn ambiguous_stems_and_high_ids_are_refused() {
        let p = project();
        let named = Target::Named {
            stem: "0001".into(),
            row: None,
        };
        let e = run(&p, vec![item(named, vec![])], Options::default()).unwrap_err();
        assert!(e.contains("ambiguous") && e.contains("a/0001.dcm") && e.contains("b/0001.dcm"));
        // The export name tells them apart.
        let names = crate::project::naming::export_names(&p);
        let by_name = Target::Named {
            stem: names[1].clone(),
            row: None,
        };
        let high = vec![Layer::Id(4, vec![true, false, false, false])];
        let e = run(
            &p,
            vec![item(by_name.clone(), high.clone())],
            Options::default(),
        )
        .unwrap_err();
        assert!(
            e.contains("class id 4") && e.contains("--add-classes"),
            "{e}"
        );
        let plan = run(
            &p,
            vec![item(by_name, high)],
            Options {
                add_classes: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(plan.classes.len(), 4);
        assert_eq!(plan.changes[&1].mask.data, vec![4, 0, 0, 0]);
    }
}
