//! Names of exported files and the `manifest.csv` written beside them.
//!
//! An image's export name is its file stem; when two images of the project share a stem (two
//! studies that each have a `0001.dcm`, two frames of one instance), each gets
//! `<stem>-<first 8 hex digits of its identity hash>` — the same name on every run. One export
//! never writes the same path twice.
//!
//! Every export writes `manifest.csv` (`file,image,identity,frame,class_ids`): which file holds
//! which image, so an import finds the image by identity and never by a guess. Rows of files that
//! an earlier export of another format left in the folder are kept.

use crate::error::Invalid;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::identity::{Identity, sha256_hex};
use super::model::Project;

/// File name of the manifest.
pub const MANIFEST: &str = "manifest.csv";

/// The unique export name of every image of `project`, in order.
pub fn export_names(project: &Project) -> Vec<String> {
    let stems: Vec<String> = project
        .images
        .iter()
        .map(|e| {
            let s = e.stem();
            if s.is_empty() { "image".into() } else { s }
        })
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in &stems {
        *count.entry(s.as_str()).or_default() += 1;
    }
    let mut names: Vec<String> = project
        .images
        .iter()
        .zip(&stems)
        .map(|(e, s)| {
            if count[s.as_str()] == 1 {
                return s.clone();
            }
            let short = match &e.identity {
                Some(id) => id.short(),
                None => sha256_hex(e.path.to_string_lossy().as_bytes())[..8].to_string(),
            };
            format!("{s}-{short}")
        })
        .collect();
    // The same image twice (same stem and identity): the entry number keeps them apart.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, n) in names.iter_mut().enumerate() {
        let k = seen.entry(n.clone()).or_default();
        *k += 1;
        if *k > 1 {
            *n = format!("{n}-{}", i + 1);
        }
    }
    names
}

/// One row of `manifest.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRow {
    /// The written file, relative to the export folder (`masks/x.png`, `x.seg.dcm`,
    /// `annotations.json`).
    pub file: String,
    /// The image's export name (a COCO `file_name` for COCO rows).
    pub image: String,
    /// The image's identity ([`Identity::token`]).
    pub identity: String,
    /// The frame.
    pub frame: u32,
    /// Class ids in the file, `;`-separated (for a binary PNG: the one class it stands for).
    pub class_ids: String,
}

impl ManifestRow {
    /// The row's identity.
    pub fn identity(&self) -> Result<Identity, Invalid> {
        Identity::from_token(&self.identity, self.frame)
    }

    /// The class ids listed.
    pub fn classes(&self) -> Vec<u8> {
        self.class_ids
            .split(';')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }
}

/// The manifest's columns, in order.
const MANIFEST_COLUMNS: [&str; 5] = ["file", "image", "identity", "frame", "class_ids"];

/// Reads a manifest; a malformed one is an error naming it.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestRow>, Invalid> {
    let text = crate::io::guard::read_text(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let not_ours = |e: &dyn std::fmt::Display| {
        Invalid(format!(
            "{}: not a vitscope manifest ({}): {e}",
            path.display(),
            MANIFEST_COLUMNS.join(",")
        ))
    };
    let (header, rows) = crate::io::table::read(&text).map_err(|e| not_ours(&e))?;
    if header != MANIFEST_COLUMNS {
        return Err(not_ours(&format_args!(
            "the header is {}",
            header.join(",")
        )));
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if r.len() != MANIFEST_COLUMNS.len() {
                return Err(not_ours(&format_args!(
                    "line {}: {} fields",
                    i + 2,
                    r.len()
                )));
            }
            let frame = r[3]
                .parse()
                .map_err(|e| not_ours(&format_args!("line {}: frame '{}': {e}", i + 2, r[3])))?;
            let class_ids = r.pop().unwrap_or_default();
            let mut r = r.into_iter();
            let mut next = || r.next().unwrap_or_default();
            Ok(ManifestRow {
                file: next(),
                image: next(),
                identity: next(),
                frame,
                class_ids,
            })
        })
        .collect()
}

/// Writes `dir/manifest.csv`: `rows`, and the rows of an existing manifest there whose files
/// this export did not write and that still exist.
pub fn write_manifest(dir: &Path, rows: &[ManifestRow]) -> Result<PathBuf, crate::error::Cause> {
    let path = dir.join(MANIFEST);
    let mut all: Vec<ManifestRow> = Vec::new();
    if path.is_file()
        && let Ok(old) = read_manifest(&path)
    {
        all.extend(
            old.into_iter()
                .filter(|o| !rows.iter().any(|r| r.file == o.file) && dir.join(&o.file).exists()),
        );
    }
    all.extend(rows.iter().cloned());
    all.sort_by(|a, b| (&a.file, &a.image).cmp(&(&b.file, &b.image)));
    let mut t = crate::io::table::Table::new(MANIFEST_COLUMNS);
    for r in &all {
        t.row([
            r.file.as_str(),
            &r.image,
            &r.identity,
            &r.frame.to_string(),
            &r.class_ids,
        ]);
    }
    let bytes = t.into_bytes();
    crate::io::write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The manifest row of an imported file: from `manifest.csv` beside it, else from the one in
/// `root` (the imported folder), where rows name files relative to it. `None`: no manifest lists
/// the file.
pub fn row_for(file: &Path, root: Option<&Path>) -> Result<Option<ManifestRow>, Invalid> {
    let mut places: Vec<(PathBuf, String)> = Vec::new();
    if let (Some(dir), Some(name)) = (file.parent(), file.file_name()) {
        places.push((dir.join(MANIFEST), name.to_string_lossy().into_owned()));
    }
    if let Some(root) = root
        && let Ok(rel) = file.strip_prefix(root)
    {
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        places.push((root.join(MANIFEST), rel));
    }
    for (m, name) in places {
        if m.is_file() {
            let rows = read_manifest(&m)?;
            if let Some(r) = rows.into_iter().find(|r| r.file == name) {
                return Ok(Some(r));
            }
        }
    }
    Ok(None)
}

/// The rows of one file that holds several images (COCO), keyed by image name.
pub fn rows_of(file: &Path) -> Result<Vec<ManifestRow>, Invalid> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Ok(Vec::new());
    };
    let m = dir.join(MANIFEST);
    if !m.is_file() {
        return Ok(Vec::new());
    }
    let name = name.to_string_lossy();
    Ok(read_manifest(&m)?
        .into_iter()
        .filter(|r| r.file == name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::model::ImageEntry;

    fn entry(path: &str, id: Identity) -> ImageEntry {
        let mut e = ImageEntry::new(path.into());
        e.identity = Some(id);
        e
    }

    #[test]
    fn shared_stems_get_their_identity_hash_and_names_are_unique() {
        let mut p = Project::default();
        let a = Identity::Dicom {
            uid: "1.2.3".into(),
            frame: 0,
        };
        p.images.push(entry("s1/0001.dcm", a.clone()));
        p.images.push(entry(
            "s2/0001.dcm",
            Identity::Dicom {
                uid: "1.2.4".into(),
                frame: 0,
            },
        ));
        p.images
            .push(entry("x.png", Identity::Sha256("0f".repeat(32))));
        p.images.push(entry("again/0001.dcm", a));
        let n = export_names(&p);
        // "c47f5b18" is the start of SHA-256("1.2.3") (coreutils' sha256sum).
        assert_eq!(n[0], "0001-c47f5b18");
        assert!(n[1].starts_with("0001-") && n[1] != n[0]);
        assert_eq!(n[2], "x");
        assert_eq!(n[3], "0001-c47f5b18-4");
    }

    #[test]
    fn manifests_round_trip_with_quoting_and_keep_other_rows() {
        let dir = std::env::temp_dir().join(format!("vitscope-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.nii.gz"), b"x").unwrap();
        let row = |file: &str, image: &str| ManifestRow {
            file: file.into(),
            image: image.into(),
            identity: "dicom:1.2.3".into(),
            frame: 0,
            class_ids: "1;2".into(),
        };
        write_manifest(&dir, &[row("a.nii.gz", "a")]).unwrap();
        write_manifest(&dir, &[row("b,c.seg.dcm", "b,c")]).unwrap();
        let back = read_manifest(&dir.join(MANIFEST)).unwrap();
        assert_eq!(back, vec![row("a.nii.gz", "a"), row("b,c.seg.dcm", "b,c")]);
        assert_eq!(back[0].classes(), vec![1, 2]);
        assert_eq!(
            row_for(&dir.join("a.nii.gz"), None).unwrap(),
            Some(row("a.nii.gz", "a"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
