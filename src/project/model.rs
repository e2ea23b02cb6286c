//! The project file (RON): images with their identities, annotations and review status,
//! checkpoints and view settings. Masks are PNG files of class ids beside it (`masks.rs`); saves
//! are all-or-nothing (`save.rs`).
//!
//! Version 2 added each image's [`Identity`]; a version 1 file reads as before and gets its
//! identities on first open (`open.rs`).

use crate::error::Invalid;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::annotation::LabelBox;
use super::identity::Identity;
use crate::io::colormap::Colormap;

/// Current project file version.
pub const VERSION: u32 = 2;

/// Errors of project files; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Unreadable file.
    #[error("{path}: cannot read project: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// OS message.
        source: crate::error::Cause,
    },
    /// Not a valid project file.
    #[error("{path}: not a valid project file: {source}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Parser message with position.
        source: crate::error::Cause,
    },
    /// Write failure.
    #[error("{path}: cannot save: {source}")]
    Write {
        /// File.
        path: PathBuf,
        /// OS or encoder message.
        source: crate::error::Cause,
    },
    /// Another process holds the project's lock.
    #[error("{path}: the project is locked (in use) by {holder}")]
    Locked {
        /// Project file.
        path: PathBuf,
        /// Who holds it.
        holder: String,
    },
    /// The project's lock file cannot be made (a read-only folder, no permission).
    #[error("{path}: cannot lock the project for writing: {source}")]
    CannotLock {
        /// Project file.
        path: PathBuf,
        /// Why.
        source: crate::error::Cause,
    },
    /// The project file changed on disk since it was read: nothing was overwritten.
    #[error(
        "{path}: the project file changed on disk since it was read (another program saved it); nothing was overwritten"
    )]
    ChangedOnDisk {
        /// Project file.
        path: PathBuf,
    },
    /// A mask file that does not fit its image.
    #[error("{path}: mask is {got_w}×{got_h} but the image is {want_w}×{want_h}")]
    MaskSize {
        /// Mask file.
        path: PathBuf,
        /// Mask width.
        got_w: usize,
        /// Mask height.
        got_h: usize,
        /// Image width.
        want_w: usize,
        /// Image height.
        want_h: usize,
    },
}

/// Review status of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Status {
    /// Not looked at.
    #[default]
    Todo,
    /// Being annotated.
    InProgress,
    /// Finished.
    Done,
    /// Needs a second look.
    Flagged,
}

impl Status {
    /// All, in display order.
    pub const ALL: [Status; 4] = [
        Status::Todo,
        Status::InProgress,
        Status::Done,
        Status::Flagged,
    ];

    /// Display name.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Todo => "to do",
            Status::InProgress => "in progress",
            Status::Done => "done",
            Status::Flagged => "flagged",
        }
    }
}

/// A label class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelClass {
    /// Name.
    pub name: String,
    /// sRGB colour.
    pub color: [u8; 3],
}

/// A model checkpoint known to the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    /// Display name (e.g. the initialisation: "dino").
    pub name: String,
    /// Weights file (relative to the project file, or absolute).
    pub weights: PathBuf,
    /// Optional JSON config (heads).
    #[serde(default)]
    pub config: Option<PathBuf>,
}

/// One image of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// Image file (relative to the project file, or absolute).
    pub path: PathBuf,
    /// Review status.
    #[serde(default)]
    pub status: Status,
    /// Boxes.
    #[serde(default)]
    pub boxes: Vec<LabelBox>,
    /// Mask PNG of class ids (relative to the project file), if any.
    #[serde(default)]
    pub mask: Option<PathBuf>,
    /// DICOM window centre and width chosen by the user.
    #[serde(default)]
    pub window: Option<(f64, f64)>,
    /// Frame of a multi-frame DICOM (each frame of an instance is an entry of its own).
    #[serde(default)]
    pub frame: u32,
    /// What the image is ([`Identity`]); `None` only in files older than version 2, until the
    /// first open gives it.
    #[serde(default)]
    pub identity: Option<Identity>,
}

impl ImageEntry {
    /// A new entry of `path` (its identity still to be read).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            status: Status::Todo,
            boxes: Vec::new(),
            mask: None,
            window: None,
            frame: 0,
            identity: None,
        }
    }

    /// The file name's stem (`.dcm`, `.png` … removed).
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Panes shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Layout {
    /// One canvas with the chosen overlay.
    Single,
    /// Image and the chosen overlay.
    Two,
    /// Image, attention, GradCAM, Chefer.
    #[default]
    Four,
}

/// How the shown region of a map is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Threshold {
    /// The top p % of pixels (the paper's rule, ties included).
    TopPercent(f64),
    /// Every pixel at or above a value of the min-max normalised map.
    Absolute(f32),
}

/// View settings saved with the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewSettings {
    /// Panes.
    pub layout: Layout,
    /// Map shown in the single view (index into the three maps).
    pub overlay: usize,
    /// Colormap of the maps.
    pub colormap: Colormap,
    /// Opacity per map (attention, GradCAM, Chefer).
    pub opacity: [f32; 3],
    /// Threshold of the highlighted region.
    pub threshold: Threshold,
    /// Draw the outline of the selected region.
    pub outline: bool,
    /// Colour selected pixels by hit (inside the annotation) or miss.
    pub hit_miss: bool,
    /// Show the annotation mask.
    pub show_mask: bool,
    /// Opacity of the annotation mask.
    pub mask_opacity: f32,
    /// Budget of the maps cache in MiB (`None`: the default, 1024; `--map-cache-mb` overrides).
    #[serde(default)]
    pub map_cache_mb: Option<u64>,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            layout: Layout::Four,
            overlay: 2,
            colormap: Colormap::Turbo,
            opacity: [0.55; 3],
            threshold: Threshold::TopPercent(20.0),
            outline: true,
            hit_miss: false,
            show_mask: true,
            mask_opacity: 0.35,
            map_cache_mb: None,
        }
    }
}

/// The saved project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// File version.
    pub version: u32,
    /// Label classes (mask value i+1 is class i).
    pub classes: Vec<LabelClass>,
    /// Checkpoints to compare.
    pub checkpoints: Vec<CheckpointEntry>,
    /// Images.
    pub images: Vec<ImageEntry>,
    /// View settings.
    #[serde(default)]
    pub view: ViewSettings,
}

impl Default for Project {
    fn default() -> Self {
        Self {
            version: VERSION,
            classes: vec![
                LabelClass {
                    name: "lesion".into(),
                    color: [255, 64, 160],
                },
                LabelClass {
                    name: "other".into(),
                    color: [64, 200, 255],
                },
            ],
            checkpoints: Vec::new(),
            images: Vec::new(),
            view: ViewSettings::default(),
        }
    }
}

impl Project {
    /// Reads a project file. A bad file is an error naming it; nothing is written.
    pub fn load(path: &Path) -> Result<Self, ProjectError> {
        let text = crate::io::guard::read_text(path).map_err(|e| ProjectError::Read {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses project text (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProjectError> {
        let p: Project = ron::from_str(text).map_err(|e| ProjectError::Parse {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        if p.version > VERSION {
            return Err(ProjectError::Parse {
                path: path.to_path_buf(),
                source: format!(
                    "version {} is newer than this program reads ({VERSION})",
                    p.version
                )
                .into(),
            });
        }
        p.validate().map_err(|message| ProjectError::Parse {
            path: path.to_path_buf(),
            source: message.into(),
        })?;
        Ok(p)
    }

    /// Checks what the RON grammar cannot: boxes with x1 > x0 and y1 > y0 and a class of the
    /// project, finite windows of width >= 1, view values in their ranges.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.classes.is_empty() || self.classes.len() > 255 {
            return Err(Invalid::from(format!(
                "{} label classes: a project has 1 to 255",
                self.classes.len()
            )));
        }
        for (i, e) in self.images.iter().enumerate() {
            let at = || format!("image {} ({})", i + 1, e.path.display());
            if e.path.as_os_str().is_empty() {
                return Err(Invalid::from(format!("image {}: empty path", i + 1)));
            }
            for b in &e.boxes {
                if b.x1 <= b.x0 || b.y1 <= b.y0 {
                    return Err(Invalid::from(format!(
                        "{}: box {},{},{},{} is empty or inverted (needs x1 > x0 and y1 > y0)",
                        at(),
                        b.x0,
                        b.y0,
                        b.x1,
                        b.y1
                    )));
                }
                if b.class == 0 || b.class as usize > self.classes.len() {
                    return Err(Invalid::from(format!(
                        "{}: box class {} is not one of the {} classes",
                        at(),
                        b.class,
                        self.classes.len()
                    )));
                }
            }
            match &e.identity {
                Some(Identity::Sha256(h))
                    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    return Err(Invalid::from(format!(
                        "{}: identity Sha256(\"{h}\") is not 64 hex digits",
                        at()
                    )));
                }
                Some(Identity::Dicom { uid, frame }) if uid.is_empty() || *frame != e.frame => {
                    return Err(Invalid::from(format!(
                        "{}: identity Dicom(uid: \"{uid}\", frame: {frame}) does not name frame {} of an instance",
                        at(),
                        e.frame
                    )));
                }
                _ => {}
            }
            if let Some((c, w)) = e.window
                && !(c.is_finite() && w.is_finite() && w >= 1.0)
            {
                return Err(Invalid::from(format!(
                    "{}: window {c},{w} needs a finite centre and a width of at least 1",
                    at()
                )));
            }
        }
        let v = &self.view;
        if v.overlay > 2 {
            return Err(Invalid::from(format!(
                "view.overlay {} is not 0, 1 or 2",
                v.overlay
            )));
        }
        let unit = |x: f32| x.is_finite() && (0.0..=1.0).contains(&x);
        if !v.opacity.iter().all(|&o| unit(o)) || !unit(v.mask_opacity) {
            return Err(Invalid::from("view opacities must lie in [0, 1]"));
        }
        match v.threshold {
            Threshold::TopPercent(p) if !(p > 0.0 && p <= 100.0) => {
                return Err(Invalid::from(format!(
                    "view.threshold TopPercent({p}) is not in (0, 100]"
                )));
            }
            Threshold::Absolute(t) if !unit(t) => {
                return Err(Invalid::from(format!(
                    "view.threshold Absolute({t}) is not in [0, 1]"
                )));
            }
            _ => {}
        }
        if let Some(mb) = v.map_cache_mb
            && !(16..=1_048_576).contains(&mb)
        {
            return Err(Invalid::from(format!(
                "view.map_cache_mb {mb} is not 16 to 1048576"
            )));
        }
        Ok(())
    }

    /// The RON text.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .expect("a project always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ron_round_trip() {
        let mut p = Project::default();
        p.images.push(ImageEntry {
            path: "a.png".into(),
            status: Status::Flagged,
            boxes: vec![LabelBox {
                x0: 1,
                y0: 2,
                x1: 3,
                y1: 4,
                class: 1,
            }],
            mask: Some("m/a.png".into()),
            window: Some((40.0, 400.0)),
            frame: 2,
            identity: Some(Identity::Dicom {
                uid: "1.2.3".into(),
                frame: 2,
            }),
        });
        p.view.threshold = Threshold::Absolute(0.5);
        let back = Project::parse(&p.to_ron(), Path::new("x.ron")).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn a_corrupt_file_names_itself() {
        let e = Project::parse("(version: 1, images: [", Path::new("broken.ron")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("broken.ron") && msg.contains("not a valid project"),
            "{msg}"
        );
    }
}
