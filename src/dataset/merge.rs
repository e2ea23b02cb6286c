//! `vitscope eval merge`: the shard folders `OUT/shards/I-of-N/` checked as a set, their
//! per-image records sorted into the unsharded order and the reports written by the unsharded
//! run's own code ([`super::run::write_all`]), so every file is byte for byte what one unsharded
//! run writes. An incomplete, duplicated or inconsistent set is refused before anything is
//! written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::eval::EvalConfig;
use super::items::EvalError;
use super::run::{self, Outcome, Records, Reports};
use super::shard::{self, MANIFEST, Manifest, Shard};

/// What a merge read and wrote.
pub struct Merged {
    /// The shard count.
    pub shards: usize,
    /// The dataset's images.
    pub images: usize,
    /// The reports.
    pub outcome: Outcome,
}

fn refuse(dir: &Path, why: String) -> EvalError {
    EvalError::Layout {
        path: dir.to_path_buf(),
        source: why.into(),
    }
}

/// Reads and checks every shard of `out`, then writes the merged reports into `out`.
pub fn merge(out: &Path) -> Result<Merged, EvalError> {
    let (manifests, records) = read_shards(out)?;
    let first = &manifests[0].1;
    let o = &first.options;
    let cfg = EvalConfig {
        methods: o.methods.clone(),
        tops: o.top.clone(),
        target: o.target,
        out: out.to_path_buf(),
        backend: o.backend,
        resize: o.resize,
    };
    let outcome = run::write_all(
        &records,
        &cfg,
        Reports {
            layers: o.layers.is_some(),
        },
    )?;
    Ok(Merged {
        shards: first.shard.count,
        images: first.dataset.images,
        outcome,
    })
}

/// The shard folders of `out` with their manifests, checked as a set (spec: "Merge"), and their
/// records in the unsharded order.
pub fn read_shards(out: &Path) -> Result<(Vec<(PathBuf, Manifest)>, Records), EvalError> {
    let root = out.join("shards");
    let entries = std::fs::read_dir(&root).map_err(|e| {
        refuse(
            &root,
            format!("no shard folders to merge ({e}); run eval with --shard first"),
        )
    })?;
    let mut found: Vec<(Shard, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(s) = Shard::from_dir_name(&name)
            && e.path().is_dir()
        {
            found.push((s, e.path()));
        }
    }
    found.sort_by_key(|(s, _)| (s.count, s.index));
    let Some(&(first, _)) = found.first() else {
        return Err(refuse(&root, "holds no shard folder (I-of-N)".into()));
    };
    if let Some((other, dir)) = found.iter().find(|(s, _)| s.count != first.count) {
        return Err(refuse(
            dir,
            format!(
                "a shard of {} beside shards of {}: one run's shards only",
                other.count, first.count
            ),
        ));
    }
    let n = first.count;
    for i in 0..n {
        if !found.iter().any(|(s, _)| s.index == i) {
            return Err(refuse(
                &root.join(Shard { index: i, count: n }.dir_name()),
                format!("shard {i} of {n} is missing (re-run it with --shard {i}/{n})"),
            ));
        }
    }
    let mut manifests = Vec::new();
    for (s, dir) in &found {
        let path = dir.join(MANIFEST);
        let m = Manifest::read(&path)?;
        if m.shard != *s {
            return Err(refuse(
                &path,
                format!(
                    "names shard {}/{} but its folder is {}",
                    m.shard.index,
                    m.shard.count,
                    s.dir_name()
                ),
            ));
        }
        if !m.complete {
            return Err(refuse(
                &path,
                "is not complete: the shard has not finished (re-run it; it resumes)".into(),
            ));
        }
        manifests.push((dir.clone(), m));
    }
    let base = &manifests[0].1;
    for (dir, m) in &manifests[1..] {
        let mut a = m.clone();
        a.shard = base.shard;
        a.images = base.images.clone();
        a.complete = base.complete;
        if let Some(what) = a.differs(base) {
            return Err(refuse(
                &dir.join(MANIFEST),
                format!(
                    "its {what} differ from those of {}: shards of different runs",
                    manifests[0].0.join(MANIFEST).display()
                ),
            ));
        }
    }
    // Every image once, in the shard its stem assigns.
    let m_images = base.dataset.images;
    let mut seen: HashMap<usize, (&str, &Path)> = HashMap::new();
    let mut stems: Vec<(&str, usize)> = Vec::new();
    for (dir, m) in &manifests {
        for im in &m.images {
            if im.index >= m_images {
                return Err(refuse(
                    &dir.join(MANIFEST),
                    format!(
                        "lists image {} (index {}) but the dataset has {m_images} images",
                        im.stem, im.index
                    ),
                ));
            }
            if let Some((_, other)) = seen.insert(im.index, (&im.stem, dir)) {
                return Err(refuse(
                    &dir.join(MANIFEST),
                    format!(
                        "lists image {} (index {}), which {} lists too",
                        im.stem,
                        im.index,
                        other.display()
                    ),
                ));
            }
            stems.push((&im.stem, m.shard.index));
        }
    }
    if seen.len() != m_images {
        let missing = (0..m_images).find(|k| !seen.contains_key(k)).unwrap_or(0);
        return Err(refuse(
            &root,
            format!(
                "the shards list {} of the dataset's {m_images} images (index {missing} is in \
                 none)",
                seen.len()
            ),
        ));
    }
    let names: Vec<&str> = stems.iter().map(|(s, _)| *s).collect();
    let assigned = shard::assignment(&names, n);
    for ((stem, listed), want) in stems.iter().zip(&assigned) {
        if listed != want {
            return Err(refuse(
                &root,
                format!(
                    "image {stem} is in shard {listed} but its stem assigns it to shard {want}"
                ),
            ));
        }
    }
    // The records, each image's checked against its listing.
    let listed: Vec<(&PathBuf, &shard::ImageId)> = manifests
        .iter()
        .flat_map(|(dir, m)| m.images.iter().map(move |im| (dir, im)))
        .collect();
    // Read on every core; checked and gathered in order.
    let files: Vec<Result<shard::ImageRecords, EvalError>> = {
        use rayon::prelude::*;
        listed
            .par_iter()
            .map(|(dir, im)| shard::read_records(&shard::records_path(dir, im.index)))
            .collect()
    };
    let mut all = Records::default();
    for (&(dir, im), file) in listed.iter().zip(files) {
        let path = shard::records_path(dir, im.index);
        let file = file?;
        if file.image != *im {
            return Err(refuse(
                &path,
                format!(
                    "holds the records of image {} (index {}), which this shard does not list \
                         there (it lists {} under index {})",
                    file.image.stem, file.image.index, im.stem, im.index
                ),
            ));
        }
        let r = file.records;
        let stray = r
            .rows
            .iter()
            .map(|x| &x.stem)
            .chain(r.faith.iter().map(|x| &x.stem))
            .chain(r.sanity.iter().map(|x| &x.stem))
            .chain(r.layers.iter().map(|x| &x.stem))
            .find(|s| **s != im.stem);
        if let Some(s) = stray {
            return Err(refuse(
                &path,
                format!(
                    "holds a record of image {s}, which this shard does not list (it lists {} \
                         under index {})",
                    im.stem, im.index
                ),
            ));
        }
        shard::extend_records(&mut all, r);
    }
    let index: HashMap<&str, usize> = manifests
        .iter()
        .flat_map(|(_, m)| m.images.iter().map(|i| (i.stem.as_str(), i.index)))
        .collect();
    let checkpoints: Vec<String> = base.checkpoints.iter().map(|c| c.name.clone()).collect();
    shard::sort_records(&mut all, &checkpoints, &base.options.methods, &|s: &str| {
        index.get(s).copied().unwrap_or(usize::MAX)
    });
    Ok((manifests, all))
}
