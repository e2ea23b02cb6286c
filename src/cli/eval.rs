//! `vitscope eval`: maps of one or more checkpoints scored over a dataset.

use std::path::PathBuf;

use std::io::IsTerminal as _;
use std::time::Instant;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};

use vitscope::dataset::eval::EvalConfig;
use vitscope::dataset::items::Item;
use vitscope::dataset::shard::{self, CheckpointId, DatasetId, Manifest, RunOptions, Shard};
use vitscope::dataset::{items, layers, merge, run};
use vitscope::explain::{Method, Target};
use vitscope::faithfulness::sanity::Checkpoint;
use vitscope::faithfulness::suite::Test;
use vitscope::model::device::DeviceChoice;

use super::common::{
    Bar, LoadArgs, ModelArgs, ResizeArgs, TopArgs, choice, load_model, model_source,
};

/// `vitscope eval`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    action: Option<EvalAction>,
    /// Dataset folder with images/ and masks/ (same file stems; mask pixel > 0 = inside), or a
    /// workbench project file (.ron): its annotated images, masks or else boxes.
    #[arg(long, required = true)]
    dataset: Option<PathBuf>,
    /// NAME=FILE; repeat to compare initialisations. Default: the bundled model as "demo".
    #[arg(long = "checkpoint", value_parser = parse_named)]
    checkpoints: Vec<(String, PathBuf)>,
    #[command(flatten)]
    load: LoadArgs,
    /// Methods to evaluate.
    #[arg(
        long,
        value_parser = choice::<Method>(),
        value_delimiter = ',',
        default_value = "attention,gradcam,chefer"
    )]
    methods: Vec<Method>,
    #[command(flatten)]
    top: TopArgs,
    /// Class to explain: a class index, or "pred" for the predicted class.
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    target: Target,
    /// Output folder (reports and the map cache that makes reruns resume).
    #[arg(long, default_value = "eval-out")]
    out: PathBuf,
    /// Metric backend.
    #[arg(long, value_parser = choice::<DeviceChoice>(), default_value = "auto")]
    backend: DeviceChoice,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Also run the faithfulness tests (perturbation, deletion, insertion) of every map:
    /// faithfulness.csv, mean AUCs with bootstrap intervals in the summaries, plots/*.svg.
    #[arg(long)]
    faithfulness: bool,
    /// Faithfulness tests to run.
    #[arg(
        long,
        value_parser = choice::<Test>(),
        value_delimiter = ',',
        default_value = "perturb-pos,perturb-neg,deletion,insertion"
    )]
    faithfulness_tests: Vec<Test>,
    /// Also run the sanity checks (random-logit test, deterministic cascade): sanity.csv and
    /// mean SSIMs with bootstrap intervals in the summaries.
    #[arg(long)]
    sanity: bool,
    /// Layer × head sweep: score the class-token attention of these blocks (all, or indices
    /// like 0,5,11), every head and their mean: layers.csv, layers_summary.csv, a per-block
    /// table and plots/layers_*.svg (score against depth per checkpoint).
    #[arg(long, value_parser = layers::parse_layers)]
    layers: Option<layers::LayerSelection>,
    /// Score one shard into OUT/shards/I-of-N/ (merge them with `eval merge --out OUT`):
    /// I/N, auto (I and N from the Slurm job array: --array=0-(N-1)) or auto/N (I from
    /// SLURM_ARRAY_TASK_ID, else a Kubernetes Indexed Job's JOB_COMPLETION_INDEX). A shard
    /// resumes where it stopped.
    #[arg(long, value_name = "I/N|auto|auto/N")]
    shard: Option<String>,
}

/// `vitscope eval merge`.
#[derive(Subcommand)]
enum EvalAction {
    /// Merge the shards of OUT/shards/ into OUT: every report of the unsharded run, byte for
    /// byte (needs neither the dataset nor the checkpoints).
    Merge {
        /// The output folder the shards were run with.
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_named(s: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' must be NAME=FILE"))?;
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(format!("'{name}' is not a usable checkpoint name"));
    }
    Ok((name.to_string(), PathBuf::from(file)))
}

/// Evaluates and prints the summary (or merges shards).
pub fn run(args: EvalArgs) -> Result<()> {
    if let Some(EvalAction::Merge { out }) = &args.action {
        let t = Instant::now();
        let m = merge::merge(out)?;
        println!("{}", m.outcome.markdown);
        eprintln!(
            "merged {} shards of {} images into {} ({} scored maps) in {:.2} s",
            m.shards,
            m.images,
            out.display(),
            m.outcome.rows,
            t.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let dataset = args
        .dataset
        .clone()
        .ok_or_else(|| anyhow!("--dataset is required"))?;
    // The shard is known before anything is loaded: a bad --shard fails at once.
    let shard = args
        .shard
        .as_deref()
        .map(|spec| Shard::parse(spec, &|k| std::env::var(k).ok()))
        .transpose()?;
    let items = if dataset.extension().is_some_and(|e| e == "ron") {
        let (items, warnings) = items::project_items(&dataset, &args.out)?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        items
    } else {
        items::list_items(&dataset)?
    };
    let checkpoints = if args.checkpoints.is_empty() {
        vec![("demo".to_string(), None)]
    } else {
        args.checkpoints
            .iter()
            .map(|(n, f)| (n.clone(), Some(f.clone())))
            .collect()
    };
    let sources: Vec<(String, ModelArgs)> = checkpoints
        .into_iter()
        .map(|(name, file)| {
            let margs = ModelArgs {
                weights: file,
                load: args.load.clone(),
                direction: None,
            };
            (name, margs)
        })
        .collect();
    // A shard's manifest names the checkpoints by their SHA-256: hashed on another thread while
    // the models load.
    let (ids, loaded) = std::thread::scope(|scope| {
        let hashing = shard.is_some().then(|| {
            scope.spawn(|| -> Result<Vec<CheckpointId>> {
                let hash = |p: &std::path::Path| {
                    vitscope::project::identity::sha256_file(p)
                        .map_err(|e| anyhow!("{}: {e}", p.display()))
                };
                sources
                    .iter()
                    .map(|(name, margs)| {
                        let (path, opts, _) = model_source(margs);
                        Ok(CheckpointId {
                            name: name.clone(),
                            sha256: hash(&path)?,
                            config_sha256: opts.config_file.as_deref().map(hash).transpose()?,
                        })
                    })
                    .collect()
            })
        });
        let loaded = (|| -> Result<_> {
            let mut models = Vec::new();
            let mut sanity = Vec::new();
            for (name, margs) in &sources {
                if args.sanity {
                    let (path, opts, _) = model_source(margs);
                    sanity.push(Checkpoint::read(&path, &opts)?);
                }
                models.push((name.clone(), load_model(margs)?));
            }
            Ok((models, sanity))
        })();
        let ids = match hashing {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(anyhow!("hashing the checkpoints failed"))),
            None => Ok(Vec::new()),
        };
        (ids, loaded)
    });
    let (models, sanity) = loaded?;
    let ids = ids?;
    let cfg = EvalConfig {
        methods: args.methods.clone(),
        tops: args.top.top.clone(),
        target: args.target.class(),
        out: args.out.clone(),
        backend: args.backend,
        resize: args.resize.mode(),
    };
    let faithfulness = if args.faithfulness {
        args.faithfulness_tests.clone()
    } else {
        Vec::new()
    };
    let extras = run::Extras {
        faithfulness: faithfulness.clone(),
        sanity,
        layers: args.layers.clone().map(|l| l.0),
        labels_from: Some(dataset.clone()),
    };
    if let Some(s) = shard {
        let manifest = Manifest {
            vitscope_version: format!("vitscope {}", env!("CARGO_PKG_VERSION")),
            shard: s,
            dataset: DatasetId {
                sha256: shard::files_sha256(
                    &dataset_root(&dataset),
                    &dataset_files(&dataset, &items, &args.out),
                )?,
                images: items.len(),
            },
            options: RunOptions {
                methods: args.methods.clone(),
                top: args.top.top.clone(),
                target: args.target.class(),
                resize: args.resize.mode(),
                faithfulness,
                sanity: args.sanity,
                layers: args.layers.map(|l| shard::Blocks::of(l.0)),
                device: args.load.device,
                backend: args.backend,
                heads: args.load.heads,
            },
            checkpoints: ids,
            images: Vec::new(),
            complete: false,
        };
        return run_shard(&models, &items, &cfg, &extras, manifest);
    }
    let done = run::run(&models, &items, &cfg, &extras, &Bar::new())?;
    println!("{}", done.markdown);
    eprintln!(
        "wrote {}/per_image.csv, summary.csv, summary.md ({} scored maps of {} images)",
        args.out.display(),
        done.rows,
        items.len()
    );
    Ok(())
}

/// Runs one shard, with a progress line per image on a log (stderr not a terminal).
fn run_shard(
    models: &[(String, vitscope::model::Vit)],
    items: &[Item],
    cfg: &EvalConfig,
    extras: &run::Extras,
    manifest: Manifest,
) -> Result<()> {
    let s = manifest.shard;
    let tag = format!("shard {}/{}", s.index, s.count);
    let t = Instant::now();
    let log = !std::io::stderr().is_terminal();
    let bar = Bar::new();
    if log {
        bar.0
            .set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut line = |done: usize, total: usize, stem: &str| {
        if log {
            eprintln!(
                "{tag}: {done}/{total} images ({:.0} %), {stem} done, {:.1} s",
                100.0 * done as f64 / total.max(1) as f64,
                t.elapsed().as_secs_f64()
            );
        }
    };
    let out = shard::run_shard(models, items, cfg, extras, manifest, &bar, &mut line)?;
    eprintln!(
        "{tag}: finished, {} images ({} resumed) in {:.1} s: {}",
        out.images,
        out.resumed,
        t.elapsed().as_secs_f64(),
        out.dir.display()
    );
    Ok(())
}

/// The folder the dataset's relative paths are taken from.
fn dataset_root(dataset: &std::path::Path) -> PathBuf {
    if dataset.is_dir() {
        dataset.to_path_buf()
    } else {
        dataset
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Every file the run reads from the dataset: the images, their masks (not those written from
/// boxes into the output folder) and `labels.csv`, or the project file.
fn dataset_files(dataset: &std::path::Path, items: &[Item], out: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    for it in items {
        files.push(it.image.clone());
        if !it.mask.starts_with(out) {
            files.push(it.mask.clone());
        }
    }
    if dataset.is_dir() {
        let labels = dataset.join("labels.csv");
        if labels.is_file() {
            files.push(labels);
        }
    } else {
        files.push(dataset.to_path_buf());
    }
    files
}
