//! `vitscope faithfulness` and `vitscope sanity`: the tests of `vitscope::faithfulness` on one
//! image, with the JSON documents of the fixture README's "Command-line interface".

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use vitscope::explain::{self, Method};
use vitscope::faithfulness::cascade::{self, Replacement};
use vitscope::faithfulness::similarity::{self, Similarity};
use vitscope::faithfulness::suite::{self, Input, Outcome, Test};
use vitscope::io::{image as vimage, npy};
use vitscope::model::Vit;
use vitscope::model::checkpoint::{apply_state_dict, load_state};
use vitscope::model::preprocess::{Normalization, ResizeArgs};

use crate::{ModelArgs, load_model, model_source};

#[derive(Args)]
pub struct FaithArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image file.
    #[arg(long)]
    image: PathBuf,
    /// Explanation method whose map is tested.
    #[arg(long, value_enum, default_value_t = Method::Chefer)]
    method: Method,
    /// Class the map explains (default: the predicted class). The tests always score the
    /// clean prediction.
    #[arg(long)]
    target: Option<usize>,
    /// Tests to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "perturb-pos,perturb-neg,deletion,insertion"
    )]
    tests: Vec<Test>,
    /// Test this float32 [S, S] map (S = the model's input side) instead of computing one.
    #[arg(long)]
    map: Option<PathBuf>,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Print the results as one JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CascadeKind {
    /// The fixture's reproducible replacement values.
    Deterministic,
    /// Uniform draws from --seed.
    Random,
}

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
    /// Explanation method.
    #[arg(long, value_enum, default_value_t = Method::Chefer)]
    method: Method,
    /// Class of the map (default: the predicted class).
    #[arg(long)]
    target: Option<usize>,
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

/// The method's map at model-input size for `target`, as `explain --out-map` writes it.
fn map_of(
    vit: &Vit,
    input: &Input,
    method: Method,
    target: Option<usize>,
) -> Result<(Vec<f32>, usize)> {
    Ok(input.map(vit, method, target)?)
}

fn read_square_map(path: &Path, size: usize) -> Result<Vec<f32>> {
    let a = npy::read_f32(path)?;
    let (h, w) = match a.shape[..] {
        [h, w] | [1, h, w] => (h, w),
        _ => bail!(
            "{}: a map must be 2-D, found shape {:?}",
            path.display(),
            a.shape
        ),
    };
    if (h, w) != (size, size) {
        bail!(
            "{}: the map is {w}×{h} but the model input is {size}×{size}",
            path.display()
        );
    }
    vitscope::io::guard::check_finite(&a.data, "the map")
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(a.data)
}

fn outcome_json(o: &Outcome) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

pub fn run_faithfulness(a: FaithArgs) -> Result<()> {
    let vit = load_model(&a.model)?;
    let img = vimage::read_image(&a.image)?;
    let input = Input::new(
        &img,
        vit.config.img_size,
        a.resize.mode(),
        Normalization::default(),
    );
    let logits = input.logits(&vit)?;
    let clean = explain::argmax(&logits);
    let (map, target) = match &a.map {
        Some(p) => (read_square_map(p, input.size)?, a.target),
        None => {
            let (m, t) = map_of(&vit, &input, a.method, a.target)
                .with_context(|| format!("{}: {} failed", a.image.display(), a.method))?;
            (m, Some(t))
        }
    };
    let mut tests = a.tests.clone();
    tests.dedup();
    let results = suite::run(&vit, &input, &map, &logits, &tests, |_, _| true)
        .with_context(|| format!("{}: faithfulness", a.image.display()))?;
    if a.json {
        let mut t = serde_json::Map::new();
        for (test, o) in &results {
            t.insert(test.name().to_string(), outcome_json(o));
        }
        let doc = json!({
            "method": a.method.name(),
            "target": target,
            "clean_class": clean,
            "logits": logits,
            "tests": t,
        });
        println!("{doc}");
        return Ok(());
    }
    println!(
        "{}: clean class {clean}, {} map{}",
        a.image.display(),
        a.method,
        target
            .map(|t| format!(" for class {t}"))
            .unwrap_or_default()
    );
    for (test, o) in &results {
        let (better, auc) = (
            if test.lower_is_better() {
                "lower"
            } else {
                "higher"
            },
            o.auc(),
        );
        match o {
            Outcome::Perturbation(c) => println!(
                "{test:<12} prob AUC {auc:.4}  hit AUC {:.2}  ({better} is more faithful)",
                c.auc
            ),
            Outcome::Game(_) => println!("{test:<12} AUC {auc:.4}  ({better} is more faithful)"),
        }
    }
    Ok(())
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

pub fn run_sanity(a: SanityArgs) -> Result<()> {
    if let Some(files) = &a.compare {
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
        return Ok(());
    }
    let Some(image) = &a.image else {
        bail!("give --compare A.npy B.npy, or --image with --random-logit K or --cascade");
    };
    let img = vimage::read_image(image)?;
    if let Some(other) = a.random_logit {
        let vit = load_model(&a.model)?;
        if other >= vit.config.num_classes {
            bail!(
                "--random-logit {other}: the model has {} classes (0 to {})",
                vit.config.num_classes,
                vit.config.num_classes - 1
            );
        }
        let input = Input::new(
            &img,
            vit.config.img_size,
            a.resize.mode(),
            Normalization::default(),
        );
        let (map, target) = map_of(&vit, &input, a.method, a.target)?;
        let (map_o, _) = map_of(&vit, &input, a.method, Some(other))?;
        write_map(
            &a.out_dir,
            &format!("random_logit_{}.npy", a.method),
            &map_o,
            input.size,
        )?;
        let s = similarity::compare(&map, &map_o, input.size, input.size)
            .map_err(anyhow::Error::msg)?;
        if a.json {
            let mut doc = similarity_json(&s);
            doc["method"] = json!(a.method.name());
            doc["target"] = json!(target);
            doc["other"] = json!(other);
            println!("{doc}");
        } else {
            print_similarity(
                &s,
                false,
                &format!("{} map, class {target} vs class {other}", a.method),
            );
        }
        return Ok(());
    }
    let Some(kind) = a.cascade else {
        bail!("give --random-logit K or --cascade deterministic|random with --image");
    };
    let how = match kind {
        CascadeKind::Deterministic => Replacement::Deterministic,
        CascadeKind::Random => Replacement::Random(a.seed),
    };
    let (weights, opts, device) = model_source(&a.model);
    let (sd, config, layout) = load_state(&weights, &opts)?;
    let build = |sd| -> Result<Vit> {
        let mut vit = apply_state_dict(sd, config.clone(), layout, &weights, &device)?.0;
        crate::encoder_cmd::apply_direction(&mut vit, a.model.direction.as_deref())?;
        Ok(vit)
    };
    let vit = build(sd.clone())?;
    let input = Input::new(
        &img,
        vit.config.img_size,
        a.resize.mode(),
        Normalization::default(),
    );
    let (original, target) = map_of(&vit, &input, a.method, a.target)?;
    let mut damaged = sd;
    let mut steps = Vec::new();
    for (i, step) in cascade::steps_for(&config).iter().enumerate() {
        cascade::replace(&mut damaged, step, config.depth, how)
            .map_err(|e| anyhow::anyhow!("{}: {e}", weights.display()))?;
        let v = build(damaged.clone())?;
        let (map, _) = map_of(&v, &input, a.method, Some(target)).with_context(|| {
            format!(
                "{}: {} after randomising {}",
                image.display(),
                a.method,
                step.layer
            )
        })?;
        write_map(
            &a.out_dir,
            &format!("step_{i:02}_{}.npy", a.method),
            &map,
            input.size,
        )?;
        let s = similarity::compare(&original, &map, input.size, input.size)
            .map_err(anyhow::Error::msg)?;
        if !a.json {
            println!(
                "step {i:02} {:<10} spearman {:>8} ssim {:>8}",
                step.layer,
                fmt_opt(s.spearman),
                fmt_opt(s.ssim)
            );
        }
        let mut rec = similarity_json(&s);
        rec["step"] = json!(i);
        rec["layer"] = json!(step.layer);
        steps.push(rec);
    }
    if a.json {
        println!(
            "{}",
            json!({"method": a.method.name(), "target": target, "steps": steps})
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
