//! `vitscope eval`: maps of one or more checkpoints scored over a dataset.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use vitscope::dataset::eval::EvalConfig;
use vitscope::dataset::{items, layers, run};
use vitscope::explain::{Method, Target};
use vitscope::faithfulness::sanity::Checkpoint;
use vitscope::faithfulness::suite::Test;
use vitscope::model::device::DeviceChoice;

use super::common::{
    Bar, LoadArgs, ModelArgs, ResizeArgs, TopArgs, choice, load_model, model_source,
};

/// `vitscope eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Dataset folder with images/ and masks/ (same file stems; mask pixel > 0 = inside), or a
    /// workbench project file (.ron): its annotated images, masks or else boxes.
    #[arg(long)]
    dataset: PathBuf,
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

/// Evaluates and prints the summary.
pub fn run(args: EvalArgs) -> Result<()> {
    let items = if args.dataset.extension().is_some_and(|e| e == "ron") {
        let (items, warnings) = items::project_items(&args.dataset, &args.out)?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        items
    } else {
        items::list_items(&args.dataset)?
    };
    let checkpoints = if args.checkpoints.is_empty() {
        vec![("demo".to_string(), None)]
    } else {
        args.checkpoints
            .iter()
            .map(|(n, f)| (n.clone(), Some(f.clone())))
            .collect()
    };
    let mut models = Vec::new();
    let mut sanity = Vec::new();
    for (name, file) in checkpoints {
        let margs = ModelArgs {
            weights: file,
            load: args.load.clone(),
            direction: None,
        };
        if args.sanity {
            let (path, opts, _) = model_source(&margs);
            sanity.push(Checkpoint::read(&path, &opts)?);
        }
        models.push((name, load_model(&margs)?));
    }
    let cfg = EvalConfig {
        methods: args.methods.clone(),
        tops: args.top.top.clone(),
        target: args.target.class(),
        out: args.out.clone(),
        backend: args.backend,
        resize: args.resize.mode(),
    };
    let extras = run::Extras {
        faithfulness: if args.faithfulness {
            args.faithfulness_tests.clone()
        } else {
            Vec::new()
        },
        sanity,
        layers: args.layers.map(|l| l.0),
        labels_from: Some(args.dataset.clone()),
    };
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
