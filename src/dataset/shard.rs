//! Sharded `eval` (`../shared/specs/scale-out.md` is the rule): which images a shard scores, the
//! shard folder `OUT/shards/I-of-N/` with its manifest and one record file per finished image,
//! resuming a shard where it stopped. The merge is in [`super::merge`].
//!
//! A shard computes the same per-image records as an unsharded run ([`super::run::Records`]),
//! one image at a time, and keeps them exactly (MessagePack through rmp-serde, already in the
//! build through burn: every float's bits, NaN included, and fast to read back): the merge sorts
//! them into the unsharded order and writes the reports with the unsharded run's own code.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::eval::{self, EvalConfig, Row};
use super::items::{EvalError, Item};
use super::labels::Labelled;
use super::records::layout;
pub use super::records::{
    ImageId, ImageRecords, extend_records, read_records, records_path, sort_records, write_records,
};
use super::run::{self, Extras, Records};
use crate::error::Invalid;
use crate::explain::Method;
use crate::faithfulness::suite::Test;
use crate::model::Vit;
use crate::model::device::DeviceChoice;
use crate::model::preprocess::ResizeMode;
use crate::progress::Progress;

/// The manifest's file name in a shard folder.
pub const MANIFEST: &str = "manifest.json";

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    /// N ≥ 1.
    pub count: usize,
}

impl Shard {
    /// The folder name, `I-of-N`.
    pub fn dir_name(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }

    /// Parses `I-of-N` (a shard folder's name).
    pub fn from_dir_name(name: &str) -> Option<Shard> {
        let (i, n) = name.split_once("-of-")?;
        let (index, count) = (i.parse().ok()?, n.parse().ok()?);
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    /// `--shard I/N | auto | auto/N`, with `env` the process's environment (Slurm's
    /// `SLURM_ARRAY_*`, Kubernetes' `JOB_COMPLETION_INDEX`).
    pub fn parse(spec: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, Invalid> {
        let bad = |why: String| Invalid(format!("--shard {spec}: {why}"));
        let var = |name: &str| -> Result<Option<usize>, Invalid> {
            match env(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                    Invalid(format!(
                        "--shard {spec}: {name}={v} is not a whole number ≥ 0"
                    ))
                }),
            }
        };
        let count_of = |n: &str| -> Result<usize, Invalid> {
            match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(bad(format!("N '{n}' must be a whole number ≥ 1"))),
            }
        };
        let within = |index: usize, count: usize, from: &str| {
            if index < count {
                Ok(Shard { index, count })
            } else {
                Err(bad(format!(
                    "{from} = {index} is not below the shard count {count}"
                )))
            }
        };
        if spec == "auto" {
            let Some(id) = var("SLURM_ARRAY_TASK_ID")? else {
                return Err(bad(
                    "no SLURM_ARRAY_TASK_ID: not a task of a Slurm job array (give I/N, or auto/N \
                     in a Kubernetes Indexed Job)"
                        .into(),
                ));
            };
            let (min, max) = (var("SLURM_ARRAY_TASK_MIN")?, var("SLURM_ARRAY_TASK_MAX")?);
            let (count, step) = (
                var("SLURM_ARRAY_TASK_COUNT")?,
                var("SLURM_ARRAY_TASK_STEP")?,
            );
            if let Some(m) = min.filter(|&m| m != 0) {
                return Err(bad(format!(
                    "SLURM_ARRAY_TASK_MIN = {m}: the array must be 0-(N-1) (to re-run one task, \
                     use --shard auto/N with --array=I)"
                )));
            }
            if let Some(s) = step.filter(|&s| s != 1) {
                return Err(bad(format!(
                    "SLURM_ARRAY_TASK_STEP = {s}: the array must be 0-(N-1) with step 1"
                )));
            }
            let n = match (count, max) {
                (Some(c), Some(m)) if c != m + 1 => {
                    return Err(bad(format!(
                        "SLURM_ARRAY_TASK_COUNT = {c} but SLURM_ARRAY_TASK_MAX = {m}: the array \
                         must be 0-(N-1) with every index (e.g. --array=0-{})",
                        c.max(1) - 1
                    )));
                }
                (Some(c), _) => c,
                (None, Some(m)) => m + 1,
                (None, None) => {
                    return Err(bad(
                        "neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is set".into(),
                    ));
                }
            };
            if n == 0 {
                return Err(bad("SLURM_ARRAY_TASK_COUNT = 0".into()));
            }
            return within(id, n, "SLURM_ARRAY_TASK_ID");
        }
        if let Some(n) = spec.strip_prefix("auto/") {
            let n = count_of(n)?;
            if let Some(id) = var("SLURM_ARRAY_TASK_ID")? {
                return within(id, n, "SLURM_ARRAY_TASK_ID");
            }
            if let Some(id) = var("JOB_COMPLETION_INDEX")? {
                return within(id, n, "JOB_COMPLETION_INDEX");
            }
            return Err(bad(
                "neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX \
                 (Kubernetes Indexed Job) is set"
                    .into(),
            ));
        }
        let Some((i, n)) = spec.split_once('/') else {
            return Err(bad("expected I/N, auto or auto/N".into()));
        };
        let n = count_of(n)?;
        let i = i
            .parse::<usize>()
            .map_err(|_| bad(format!("I '{i}' must be a whole number ≥ 0")))?;
        within(i, n, "I")
    }
}

/// The shard of each image (by position in `stems`): the images sorted by stem, byte-wise, and
/// the one at sorted position p goes to shard p mod `count`.
pub fn assignment(stems: &[&str], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stems.len()).collect();
    order.sort_by(|&a, &b| stems[a].as_bytes().cmp(stems[b].as_bytes()));
    let mut shard = vec![0; stems.len()];
    for (p, &k) in order.iter().enumerate() {
        shard[k] = p % count.max(1);
    }
    shard
}

/// The images of shard `s` of `items`: (index in the unsharded order, item), in assignment
/// order (by stem).
pub fn shard_items(items: &[Item], s: Shard) -> Vec<(usize, &Item)> {
    let stems: Vec<&str> = items.iter().map(|i| i.stem.as_str()).collect();
    let shard = assignment(&stems, s.count);
    let mut mine: Vec<(usize, &Item)> = items
        .iter()
        .enumerate()
        .filter(|(k, _)| shard[*k] == s.index)
        .collect();
    mine.sort_by(|a, b| a.1.stem.as_bytes().cmp(b.1.stem.as_bytes()));
    mine
}

/// Every option that can change an output value, as given (never a path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Methods, in command-line order.
    pub methods: Vec<Method>,
    /// Top percentages.
    pub top: Vec<f64>,
    /// Target class (`None`: the predicted one).
    pub target: Option<usize>,
    /// Preprocessing.
    pub resize: ResizeMode,
    /// Faithfulness tests run (empty: `--faithfulness` not given).
    pub faithfulness: Vec<Test>,
    /// `--sanity`.
    pub sanity: bool,
    /// `--layers`.
    pub layers: Option<Blocks>,
    /// `--device`.
    pub device: DeviceChoice,
    /// `--backend`.
    pub backend: DeviceChoice,
    /// `--heads`.
    pub heads: Option<usize>,
}

/// The blocks of `--layers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blocks {
    /// Every block.
    All,
    /// These.
    Only(Vec<usize>),
}

impl Blocks {
    /// From the runner's form: `None` every block.
    pub fn of(blocks: Option<Vec<usize>>) -> Blocks {
        blocks.map_or(Blocks::All, Blocks::Only)
    }
}

/// A checkpoint as the manifest names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointId {
    /// Its name (`demo` for the bundled model).
    pub name: String,
    /// SHA-256 of the weights file.
    pub sha256: String,
    /// SHA-256 of `--config` (or the bundled model's config), where there is one.
    pub config_sha256: Option<String>,
}

/// The dataset as the manifest names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetId {
    /// SHA-256 over the relative paths and contents of every file the run reads.
    pub sha256: String,
    /// Its image count.
    pub images: usize,
}

/// `manifest.json` of a shard folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// As `vitscope --version` prints it.
    pub vitscope_version: String,
    /// Which shard.
    pub shard: Shard,
    /// The dataset.
    pub dataset: DatasetId,
    /// The options.
    pub options: RunOptions,
    /// The checkpoints, in command-line order.
    pub checkpoints: Vec<CheckpointId>,
    /// The shard's images, in assignment order.
    pub images: Vec<ImageId>,
    /// Every image is written.
    pub complete: bool,
}

impl Manifest {
    /// The first field (other than `complete`) in which two manifests differ.
    pub fn differs(&self, other: &Manifest) -> Option<&'static str> {
        if self.vitscope_version != other.vitscope_version {
            Some("vitscope version")
        } else if self.shard != other.shard {
            Some("shard")
        } else if self.dataset != other.dataset {
            Some("dataset")
        } else if self.options != other.options {
            Some("options")
        } else if self.checkpoints != other.checkpoints {
            Some("checkpoints")
        } else if self.images != other.images {
            Some("images")
        } else {
            None
        }
    }

    /// Reads a manifest.
    pub fn read(path: &Path) -> Result<Manifest, EvalError> {
        let text = crate::io::guard::read_text(path).map_err(|e| layout(path, e.into()))?;
        serde_json::from_str(&text)
            .map_err(|e| layout(path, format!("not a shard manifest: {e}").into()))
    }

    /// Writes it atomically.
    pub fn write(&self, path: &Path) -> Result<(), EvalError> {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        text.push('\n');
        crate::io::write_atomic(path, text.as_bytes()).map_err(|e| layout(path, e.into()))
    }
}

/// The dataset's SHA-256: over its files in byte-wise order of their names relative to `root`,
/// for each the name, a 0 byte, the length (u64 little-endian) and the SHA-256 of the contents
/// (the files are hashed on every core).
pub fn files_sha256(root: &Path, files: &[PathBuf]) -> Result<String, EvalError> {
    use rayon::prelude::*;
    let mut named: Vec<(Vec<u8>, &PathBuf)> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(root).unwrap_or(f);
            (rel.to_string_lossy().replace('\\', "/").into_bytes(), f)
        })
        .collect();
    named.sort();
    named.dedup_by(|a, b| a.0 == b.0);
    let each: Vec<Result<(u64, [u8; 32]), EvalError>> = named
        .par_iter()
        .map(|(_, f)| {
            let bytes = std::fs::read(f).map_err(|e| layout(f, e.into()))?;
            Ok((bytes.len() as u64, Sha256::digest(&bytes).into()))
        })
        .collect();
    let mut h = Sha256::new();
    for ((name, _), one) in named.iter().zip(each) {
        let (len, digest) = one?;
        h.update(name);
        h.update([0u8]);
        h.update(len.to_le_bytes());
        h.update(digest);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// `per_image.csv` of these rows, or its lines without the header.
fn per_image_bytes(rows: &[Row], tops: &[f64], header: bool) -> Vec<u8> {
    let bytes = eval::per_image_table(rows, tops).into_bytes();
    if header {
        return bytes;
    }
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => bytes[i + 1..].to_vec(),
        None => Vec::new(),
    }
}

/// Images scored together in a shard when each is quick (their records are still written one
/// image at a time).
const BATCH: usize = 8;

/// The elements of `v` for which `f` holds, taken out in order.
fn take<T>(v: &mut Vec<T>, f: impl Fn(&T) -> bool) -> Vec<T> {
    let (yes, no): (Vec<T>, Vec<T>) = std::mem::take(v).into_iter().partition(|x| f(x));
    *v = no;
    yes
}

/// What a shard run did.
pub struct ShardOutcome {
    /// Its folder.
    pub dir: PathBuf,
    /// Images of the shard.
    pub images: usize,
    /// Of those, found written by an earlier run and skipped.
    pub resumed: usize,
}

/// Runs shard `manifest.shard` of `items` into `cfg.out/shards/I-of-N/`: every image not yet
/// written is scored (with its faithfulness, sanity, layer and accuracy records) and its records
/// written as it finishes; `on_image(done, total, stem)` after each. The manifest's `images` are
/// filled here and `complete` set at the end.
pub fn run_shard(
    models: &[(String, Vit)],
    items: &[Item],
    cfg: &EvalConfig,
    extras: &Extras,
    mut manifest: Manifest,
    progress: &dyn Progress,
    on_image: &mut dyn FnMut(usize, usize, &str),
) -> Result<ShardOutcome, EvalError> {
    let s = manifest.shard;
    let dir = cfg.out.join("shards").join(s.dir_name());
    let mine = shard_items(items, s);
    manifest.images = mine
        .iter()
        .map(|(k, it)| ImageId {
            stem: it.stem.clone(),
            index: *k,
        })
        .collect();
    manifest.complete = false;
    let mpath = dir.join(MANIFEST);
    if mpath.exists() {
        let old = Manifest::read(&mpath)?;
        if let Some(what) = old.differs(&manifest) {
            return Err(EvalError::Invalid(Invalid(format!(
                "{}: holds this shard of another run (its {what} differ); give another --out or \
                 remove the folder",
                dir.display()
            ))));
        }
    }
    std::fs::create_dir_all(dir.join("records")).map_err(|e| layout(&dir, e.into()))?;
    manifest.write(&mpath)?;
    let labelled = run::labelled(extras)?;
    // The labelled images by stem, once (a shard may hold tens of thousands).
    let by_stem: Option<HashMap<String, Vec<Labelled>>> = labelled.map(|l| {
        let mut m: HashMap<String, Vec<Labelled>> = HashMap::new();
        for x in l {
            if let Some(s) = x.image.file_stem() {
                m.entry(s.to_string_lossy().into_owned())
                    .or_default()
                    .push(x);
            }
        }
        m
    });
    let labelled_of = |it: &Item| -> Option<Vec<Labelled>> {
        by_stem
            .as_ref()
            .map(|m| m.get(&it.stem).cloned().unwrap_or_default())
    };
    // The records already written (a resumed shard), and `per_image.csv` rebuilt from them, so a
    // line cut short by a kill is not kept.
    let mut done: Vec<(usize, Records)> = Vec::new();
    for (k, it) in &mine {
        let p = records_path(&dir, *k);
        if p.exists()
            && let Ok(r) = read_records(&p)
            && r.image.index == *k
            && r.image.stem == it.stem
        {
            done.push((*k, r.records));
        }
    }
    let resumed = done.len();
    let csv = dir.join("per_image.csv");
    let rows_so_far: Vec<Row> = done.iter().flat_map(|(_, r)| r.rows.clone()).collect();
    crate::io::write_atomic(&csv, &per_image_bytes(&rows_so_far, &cfg.tops, true))
        .map_err(|e| layout(&csv, e.into()))?;
    let total = mine.len();
    let mut finished = done.len();
    // Scored a few images at a time (checkpoint → method → image within them, as an unsharded
    // run goes, which keeps each method's buffers warm), each image's records written as soon as
    // its batch is done.
    let written: HashSet<usize> = done.iter().map(|(k, _)| *k).collect();
    let todo: Vec<(usize, &Item)> = mine
        .iter()
        .filter(|(k, _)| !written.contains(k))
        .copied()
        .collect();
    let mut appender = std::fs::OpenOptions::new()
        .append(true)
        .open(&csv)
        .map_err(|e| layout(&csv, e.into()))?;
    // With the faithfulness tests, the sanity checks or the layer sweep an image is seconds of
    // work: one at a time, so a killed shard loses at most one.
    let heavy =
        !extras.faithfulness.is_empty() || !extras.sanity.is_empty() || extras.layers.is_some();
    for batch in todo.chunks(if heavy { 1 } else { BATCH }) {
        let items: Vec<Item> = batch.iter().map(|(_, it)| (*it).clone()).collect();
        let mut r = run::compute(models, &items, cfg, extras, None, progress)?;
        // The batch's labelled images, classified in one pass; each image's counts kept apart.
        let labels: Vec<Option<Vec<Labelled>>> =
            batch.iter().map(|(_, it)| labelled_of(it)).collect();
        let flat: Vec<Labelled> = labels.iter().flatten().flatten().cloned().collect();
        let mut each = eval::accuracy_each(models, &flat, cfg.resize, progress)?.into_iter();
        for ((k, item), l) in batch.iter().zip(&labels) {
            let of = |stem: &str| stem == item.stem;
            let accuracy = l.as_ref().map(|l| {
                let mut sum: Option<Records> = None;
                for one in each.by_ref().take(l.len()) {
                    extend_records(
                        sum.get_or_insert_with(|| Records {
                            accuracy: Some(Vec::new()),
                            ..Default::default()
                        }),
                        Records {
                            accuracy: Some(one),
                            ..Default::default()
                        },
                    );
                }
                sum.and_then(|s| s.accuracy).unwrap_or_else(|| {
                    models
                        .iter()
                        .map(|(name, _)| eval::Accuracy {
                            checkpoint: name.clone(),
                            correct: 0,
                            total: 0,
                            per_class: vec![(0, 0)],
                        })
                        .collect()
                })
            });
            let file = ImageRecords {
                image: ImageId {
                    stem: item.stem.clone(),
                    index: *k,
                },
                records: Records {
                    rows: take(&mut r.rows, |x| of(&x.stem)),
                    faith: take(&mut r.faith, |x| of(&x.stem)),
                    sanity: take(&mut r.sanity, |x| of(&x.stem)),
                    layers: take(&mut r.layers, |x| of(&x.stem)),
                    accuracy,
                },
            };
            write_records(&records_path(&dir, *k), &file)?;
            let r = file.records;
            appender
                .write_all(&per_image_bytes(&r.rows, &cfg.tops, false))
                .map_err(|e| layout(&csv, e.into()))?;
            done.push((*k, r));
            finished += 1;
            on_image(finished, total, &item.stem);
        }
    }
    drop(appender);
    // The finished file: the rows in the unsharded order.
    let names: Vec<String> = manifest
        .checkpoints
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let mut all = Records::default();
    for (_, r) in done {
        extend_records(&mut all, r);
    }
    let index: HashMap<&str, usize> = manifest
        .images
        .iter()
        .map(|i| (i.stem.as_str(), i.index))
        .collect();
    let index_of = |stem: &str| index.get(stem).copied().unwrap_or(usize::MAX);
    sort_records(&mut all, &names, &cfg.methods, &index_of);
    crate::io::write_atomic(&csv, &per_image_bytes(&all.rows, &cfg.tops, true))
        .map_err(|e| layout(&csv, e.into()))?;
    manifest.complete = true;
    manifest.write(&mpath)?;
    Ok(ShardOutcome {
        dir,
        images: total,
        resumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |k: &str| vars.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    fn shard(spec: &str, vars: &[(&str, &str)]) -> Result<Shard, String> {
        Shard::parse(spec, &env(vars)).map_err(|e| e.0)
    }

    #[test]
    fn explicit_shards_parse_and_absurd_ones_are_refused() {
        assert_eq!(shard("2/3", &[]), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(shard("0/1", &[]), Ok(Shard { index: 0, count: 1 }));
        for bad in ["3/3", "0/0", "-1/3", "a/3", "1/x", "13", "", "1/3/5"] {
            let e = shard(bad, &[]).unwrap_err();
            assert!(e.starts_with(&format!("--shard {bad}:")), "{e}");
        }
    }

    #[test]
    fn slurm_arrays_give_the_shard_and_odd_arrays_are_refused() {
        // sbatch --array=0-2: task 1.
        let full = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert_eq!(shard("auto", &full), Ok(Shard { index: 1, count: 3 }));
        // Without COUNT (older Slurm): MAX + 1.
        assert_eq!(shard("auto", &full[..3]), Ok(Shard { index: 1, count: 3 }));
        // --array=0,2,5: COUNT 3, MAX 5.
        let gaps = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert!(
            shard("auto", &gaps)
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_COUNT = 3")
        );
        // --array=1 (one task re-submitted): MIN 1, COUNT 1.
        let one = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
        ];
        assert!(
            shard("auto", &one)
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_MIN = 1")
        );
        // ... which auto/3 runs as shard 1 of 3.
        assert_eq!(shard("auto/3", &one), Ok(Shard { index: 1, count: 3 }));
        // --array=0-4:2: step 2.
        let step = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert!(shard("auto", &step).unwrap_err().contains("STEP = 2"));
        // Not in an array at all.
        assert!(
            shard("auto", &[])
                .unwrap_err()
                .contains("no SLURM_ARRAY_TASK_ID")
        );
        assert!(
            shard("auto", &[("SLURM_ARRAY_TASK_ID", "x")])
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_ID=x")
        );
    }

    #[test]
    fn kubernetes_indexed_jobs_give_the_index_with_auto_n() {
        let k8s = [("JOB_COMPLETION_INDEX", "4")];
        assert_eq!(shard("auto/5", &k8s), Ok(Shard { index: 4, count: 5 }));
        assert!(
            shard("auto/4", &k8s)
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX = 4")
        );
        assert!(
            shard("auto", &k8s)
                .unwrap_err()
                .contains("no SLURM_ARRAY_TASK_ID")
        );
        assert!(
            shard("auto/3", &[])
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX")
        );
        assert!(shard("auto/0", &k8s).unwrap_err().contains("≥ 1"));
        // Slurm's variable wins where both are set.
        let both = [("SLURM_ARRAY_TASK_ID", "0"), ("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(shard("auto/3", &both), Ok(Shard { index: 0, count: 3 }));
    }

    #[test]
    fn assignment_deals_the_stems_sorted_byte_wise() {
        // Sorted: "B" < "a" < "a1" < "b" (bytes, upper case first).
        let stems = ["b", "a1", "B", "a"];
        assert_eq!(assignment(&stems, 2), vec![1, 0, 0, 1]);
        assert_eq!(assignment(&stems, 3), vec![0, 2, 0, 1]);
        assert_eq!(assignment(&stems, 1), vec![0; 4]);
        // More shards than images: the last shards are empty.
        let s = assignment(&stems, 7);
        assert_eq!(s, vec![3, 2, 0, 1]);
        assert_eq!(
            Shard::from_dir_name("2-of-7"),
            Some(Shard { index: 2, count: 7 })
        );
        assert_eq!(Shard::from_dir_name("7-of-7"), None);
        assert_eq!(Shard::from_dir_name("x"), None);
    }
}
