//! `vitscope sanity`: the similarity of two maps, or the sanity checks of one map of one image
//! (the random-logit test, the cascading randomisation), with the JSON documents of the fixture
//! README's "Command-line interface".

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use vitscope::explain::ExplainOptions;
use vitscope::faithfulness::cascade::Replacement;
use vitscope::faithfulness::sanity::{self, Cascade, Checkpoint, Checks, OtherClass, SanityMap};
use vitscope::faithfulness::similarity::{self, Similarity};
use vitscope::faithfulness::suite::Input;
use vitscope::io::{image as vimage, npy};
use vitscope::model::preprocess::Normalization;
use vitscope::progress::Silent;

use super::common::{MapArgs, ModelArgs, ResizeArgs, load_model, model_source, read_direction};

/// How `--cascade` replaces the tensors.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CascadeKind {
    /// The fixture's reproducible replacement values.
    Deterministic,
    /// Uniform draws from --seed.
    Random,
}

/// `vitscope sanity`.
#[derive(Args)]
pub struct SanityArgs {
    /// Compare two maps (float32 .npy of the same shape).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["image", "random_logit", "cascade"])]
    compare: Option<Vec<PathBuf>>,
    #[command(flatten)]
    model: ModelArgs,
    /// Image file (with --random-logit or --cascade).
    #[arg(long)]
    image: Option<PathBuf>,
    #[command(flatten)]
    map: MapArgs,
    /// Random-logit test: compare with the map for this class.
    #[arg(long, conflicts_with = "cascade")]
    random_logit: Option<usize>,
    /// Cascading randomisation from the head down to the embeddings.
    #[arg(long, value_enum)]
    cascade: Option<CascadeKind>,
    /// Seed of `--cascade random`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the maps of the randomised models (step_NN_M.npy) or of the other class
    /// (random_logit_M.npy) here.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Print the results as one JSON document.
    #[arg(long)]
    json: bool,
}

fn similarity_json(s: &Similarity) -> Value {
    json!({"spearman": s.spearman, "spearman_abs": s.spearman_abs, "ssim": s.ssim})
}

fn write_map(dir: &Option<PathBuf>, name: &str, map: &[f32], size: usize) -> Result<()> {
    if let Some(d) = dir {
        std::fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
        npy::write_f32(&d.join(name), &[size, size], map)?;
    }
    Ok(())
}

/// `--compare A B`: the similarity of two maps from files.
fn compare_files(a: &SanityArgs, files: &[PathBuf]) -> Result<()> {
    let (pa, pb) = (&files[0], &files[1]);
    let (ma, mb) = (npy::read_f32(pa)?, npy::read_f32(pb)?);
    if ma.shape != mb.shape {
        bail!(
            "{} has shape {:?} but {} has {:?}",
            pa.display(),
            ma.shape,
            pb.display(),
            mb.shape
        );
    }
    let (h, w) = match ma.shape[..] {
        [h, w] | [1, h, w] => (h, w),
        _ => bail!(
            "{}: a map must be 2-D, found shape {:?}",
            pa.display(),
            ma.shape
        ),
    };
    let s = similarity::compare(&ma.data, &mb.data, w, h)
        .map_err(|e| anyhow::anyhow!("{} vs {}: {e}", pa.display(), pb.display()))?;
    print_similarity(&s, a.json, &format!("{} vs {}", pa.display(), pb.display()));
    Ok(())
}

/// Runs the check the options name.
pub fn run(a: SanityArgs) -> Result<()> {
    if let Some(files) = &a.compare {
        return compare_files(&a, files);
    }
    let Some(image) = &a.image else {
        bail!("give --compare A.npy B.npy, or --image with --random-logit K or --cascade");
    };
    if a.random_logit.is_none() && a.cascade.is_none() {
        bail!("give --random-logit K or --cascade deterministic|random with --image");
    }
    let img = vimage::read_image(image)?;
    let vit = load_model(&a.model)?;
    if let Some(other) = a.random_logit
        && other >= vit.config.num_classes
    {
        bail!(
            "--random-logit {other}: the model has {} classes (0 to {})",
            vit.config.num_classes,
            vit.config.num_classes - 1
        );
    }
    let mut cascade = match a.cascade {
        None => None,
        Some(kind) => {
            let (weights, opts, device) = model_source(&a.model);
            let mut checkpoint = Checkpoint::read(&weights, &opts)?;
            checkpoint.direction = a
                .model
                .direction
                .as_deref()
                .map(read_direction)
                .transpose()?;
            let how = match kind {
                CascadeKind::Deterministic => Replacement::Deterministic,
                CascadeKind::Random => Replacement::Random(a.seed),
            };
            Some(Cascade::new(checkpoint, how, device, false))
        }
    };
    let input = Input::new(
        &img,
        vit.config.img_size,
        a.resize.mode(),
        Normalization::default(),
    );
    let checks = Checks {
        method: a.map.method,
        options: ExplainOptions {
            target: a.map.target.class(),
            ..Default::default()
        },
        random_logit: a.random_logit.map(OtherClass::Class),
    };
    let mut maps: Vec<SanityMap> = Vec::new();
    let target = sanity::run(&vit, &input, &checks, cascade.as_mut(), &Silent, |m| {
        maps.push(m)
    })
    .map_err(|e| anyhow::anyhow!("{}: {} {e}", image.display(), a.map.method))?;
    let size = input.size;
    let mut steps = Vec::new();
    for m in &maps {
        let Some(s) = &m.sim else { continue };
        match &m.test {
            sanity::Test::RandomLogit(other) => {
                write_map(
                    &a.out_dir,
                    &format!("random_logit_{}.npy", a.map.method),
                    &m.values,
                    size,
                )?;
                if a.json {
                    let mut doc = similarity_json(s);
                    doc["method"] = json!(a.map.method.name());
                    doc["target"] = json!(target);
                    doc["other"] = json!(other);
                    println!("{doc}");
                } else {
                    print_similarity(
                        s,
                        false,
                        &format!("{} map, class {target} vs class {other}", a.map.method),
                    );
                }
            }
            sanity::Test::Cascade(layer) => {
                let i = steps.len();
                write_map(
                    &a.out_dir,
                    &format!("step_{i:02}_{}.npy", a.map.method),
                    &m.values,
                    size,
                )?;
                if !a.json {
                    println!(
                        "step {i:02} {layer:<10} spearman {:>8} ssim {:>8}",
                        fmt_opt(s.spearman),
                        fmt_opt(s.ssim)
                    );
                }
                let mut rec = similarity_json(s);
                rec["step"] = json!(i);
                rec["layer"] = json!(layer);
                steps.push(rec);
            }
            sanity::Test::Original => {}
        }
    }
    if a.json && cascade.is_some() {
        println!(
            "{}",
            json!({"method": a.map.method.name(), "target": target, "steps": steps})
        );
    }
    Ok(())
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "undefined".into())
}

fn print_similarity(s: &Similarity, json: bool, what: &str) {
    if json {
        println!("{}", similarity_json(s));
    } else {
        println!(
            "{what}: spearman {}, spearman |.| {}, ssim {}",
            fmt_opt(s.spearman),
            fmt_opt(s.spearman_abs),
            fmt_opt(s.ssim)
        );
    }
}
