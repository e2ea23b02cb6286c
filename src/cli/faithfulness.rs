//! `vitscope faithfulness`: the perturbation and deletion/insertion tests of one map of one
//! image, with the JSON document of the fixture README's "Command-line interface".

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use vitscope::explain::{self};
use vitscope::faithfulness::suite::{self, Input, Outcome, Test};
use vitscope::io::{image as vimage, npy};
use vitscope::model::preprocess::Normalization;

use super::common::{MapArgs, ModelArgs, ResizeArgs, choice, load_model};

/// `vitscope faithfulness`.
#[derive(Args)]
pub struct FaithArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image file.
    #[arg(long)]
    image: PathBuf,
    /// The map tested (the tests always score the clean prediction).
    #[command(flatten)]
    map_of: MapArgs,
    /// Tests to run.
    #[arg(
        long,
        value_parser = choice::<Test>(),
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

/// Runs the tests.
pub fn run(a: FaithArgs) -> Result<()> {
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
        Some(p) => (read_square_map(p, input.size)?, a.map_of.target.class()),
        None => {
            let (m, t) = input
                .map(&vit, a.map_of.method, a.map_of.target.class())
                .with_context(|| format!("{}: {} failed", a.image.display(), a.map_of.method))?;
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
            "method": a.map_of.method.name(),
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
        a.map_of.method,
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
