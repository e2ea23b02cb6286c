//! `vitscope bench --suite shard`: what sharding costs. (1) The wall time of `eval` over a
//! phantom dataset as one process, against N shard processes run one after another plus the
//! merge (fresh output folders, so no map is cached; alternating, median of the rounds). (2) The
//! merge alone on synthetic shards holding 100,000 scored maps (200,000 rows of
//! `per_image.csv`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use vitscope::dataset::eval::Row;
use vitscope::dataset::merge;
use vitscope::dataset::phantom::{self, PhantomKind};
use vitscope::dataset::run::Records;
use vitscope::dataset::shard::{
    self, CheckpointId, DatasetId, ImageId, ImageRecords, Manifest, RunOptions, Shard,
};
use vitscope::explain::Method;
use vitscope::metrics::{MetricSet, TopKScores};
use vitscope::model::device::DeviceChoice;

use super::common::Bar;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn vitscope(args: &[String]) -> Result<f64> {
    let t = Instant::now();
    let o = Command::new(std::env::current_exe()?)
        .args(args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()?;
    if !o.status.success() {
        bail!(
            "vitscope {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Runs the suite.
pub fn shard_suite(
    iters: u32,
    images: usize,
    shards: usize,
    checkpoint: Option<&[PathBuf]>,
) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("vitscope-bench-shard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let result = (|| {
        overhead(iters, &tmp, images, shards, checkpoint)?;
        merge_time(iters, &tmp)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn overhead(
    iters: u32,
    tmp: &Path,
    images: usize,
    n: usize,
    checkpoint: Option<&[PathBuf]>,
) -> Result<()> {
    let ds = tmp.join("dataset");
    phantom::write_dataset(&ds, PhantomKind::Polyp, images, 7, 224, 1.0, &Bar::new())?;
    let common = |out: &Path| -> Vec<String> {
        [
            "eval",
            "--device",
            "cpu",
            "--backend",
            "cpu",
            "--methods",
            "attention,gradcam,chefer",
            "--dataset",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            ds.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ])
        .chain(checkpoint.into_iter().flat_map(|c| {
            let mut a = vec![format!("--checkpoint=model={}", c[0].display())];
            if let Some(cfg) = c.get(1) {
                a.extend(["--config".to_string(), cfg.display().to_string()]);
            }
            a
        }))
        .collect()
    };
    let (mut whole, mut split, mut merges) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..iters {
        let out = tmp.join(format!("whole-{r}"));
        whole.push(vitscope(&common(&out))?);
        let out = tmp.join(format!("split-{r}"));
        let mut t = 0.0;
        for i in 0..n {
            let mut a = common(&out);
            a.extend(["--shard".into(), format!("{i}/{n}")]);
            t += vitscope(&a)?;
        }
        let m = vitscope(&[
            "eval".into(),
            "merge".into(),
            "--out".into(),
            out.display().to_string(),
        ])?;
        split.push(t);
        merges.push(m);
    }
    let (w, s, m) = (median(whole), median(split), median(merges));
    let over = (s + m - w) / w;
    println!(
        "shard suite: eval of {images} phantom images (attention, gradcam, chefer; {}; CPU), median of {} rounds, alternating",
        checkpoint.map_or("the bundled model".to_string(), |c| c[0]
            .display()
            .to_string()),
        iters
    );
    println!("unsharded                       {w:8.2} s");
    println!("{n} shards, one after another    {s:8.2} s");
    println!("merge                           {m:8.2} s");
    println!(
        "overhead: {:+.1} % in all, {:+.2} % per shard (goal < 2 % per shard); {:.3} s per shard process",
        100.0 * over,
        100.0 * over / n as f64,
        (s + m - w) / n as f64
    );
    Ok(())
}

/// Synthetic scores of one (checkpoint, method, image).
fn metric(seed: u64) -> MetricSet {
    let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    let mut unit = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    MetricSet {
        max: 1.0,
        pointing_game: unit() < 0.5,
        energy: unit(),
        mask_pixels: 1000,
        top: vitscope::metrics::PAPER_TOPS
            .iter()
            .map(|&p| TopKScores {
                top_perc: p,
                k: 100,
                threshold: unit() as f32,
                selected: 100,
                rect: None,
                inter_binary: 10,
                inter_rect: 10,
                iou_rect: unit(),
                iou_binary: unit(),
                dice: unit(),
            })
            .collect(),
    }
}

fn merge_time(iters: u32, tmp: &Path) -> Result<()> {
    const IMAGES: usize = 25_000;
    const SHARDS: usize = 8;
    let out = tmp.join("merge");
    let checkpoints = ["a", "b"];
    let methods = [Method::Attention, Method::Gradcam];
    let stems: Vec<String> = (0..IMAGES).map(|k| format!("img_{k:06}")).collect();
    let refs: Vec<&str> = stems.iter().map(String::as_str).collect();
    let assigned = shard::assignment(&refs, SHARDS);
    for i in 0..SHARDS {
        let s = Shard {
            index: i,
            count: SHARDS,
        };
        let dir: PathBuf = out.join("shards").join(s.dir_name());
        let mut images = Vec::new();
        for (k, stem) in stems.iter().enumerate().filter(|(k, _)| assigned[*k] == i) {
            let image = ImageId {
                stem: stem.clone(),
                index: k,
            };
            let mut rows = Vec::new();
            for c in checkpoints {
                for &m in &methods {
                    let seed = (k * 4 + rows.len()) as u64;
                    rows.push(Row {
                        checkpoint: c.into(),
                        method: m,
                        stem: stem.clone(),
                        mask: metric(seed),
                        boxed: metric(seed + 1_000_000),
                    });
                }
            }
            shard::write_records(
                &shard::records_path(&dir, k),
                &ImageRecords {
                    image: image.clone(),
                    records: Records {
                        rows,
                        ..Default::default()
                    },
                },
            )?;
            images.push(image);
        }
        Manifest {
            vitscope_version: format!("vitscope {}", env!("CARGO_PKG_VERSION")),
            shard: s,
            dataset: DatasetId {
                sha256: "0".repeat(64),
                images: IMAGES,
            },
            options: RunOptions {
                methods: methods.to_vec(),
                top: vitscope::metrics::PAPER_TOPS.to_vec(),
                target: Some(1),
                resize: Default::default(),
                faithfulness: Vec::new(),
                sanity: false,
                layers: None,
                device: DeviceChoice::Cpu,
                backend: DeviceChoice::Cpu,
                heads: None,
            },
            checkpoints: checkpoints
                .iter()
                .map(|c| CheckpointId {
                    name: c.to_string(),
                    sha256: "0".repeat(64),
                    config_sha256: None,
                })
                .collect(),
            images,
            complete: true,
        }
        .write(&dir.join(shard::MANIFEST))?;
    }
    let (mut times, mut reads) = (Vec::new(), Vec::new());
    let mut rows = 0;
    for _ in 0..iters {
        let t = Instant::now();
        merge::read_shards(&out)?;
        reads.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let m = merge::merge(&out)?;
        times.push(t.elapsed().as_secs_f64());
        rows = m.outcome.rows;
    }
    println!(
        "merge of {SHARDS} shards: {rows} scored maps ({} rows of per_image.csv, {IMAGES} images): {:.2} s (median of {}; goal < 2 s)",
        2 * rows,
        median(times),
        iters
    );
    println!(
        "  of which reading and checking the shards: {:.2} s",
        median(reads)
    );
    Ok(())
}
