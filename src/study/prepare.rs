//! What a reader sees, made before the question is drawn: per case the image and, per condition,
//! the image with its map overlaid — every map min-max normalised, in the same colormap, at the
//! same opacity, with no threshold, so nothing but the map itself tells the conditions apart.
//! `none` is the image alone; `random` a random map on the model's patch grid, upsampled and
//! normalised as the real ones; `check` the case's ground truth drawn as a map. A thread
//! prepares the cases in the reader's order, ahead of the reader.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, channel};

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::design::{Case, Study};
use crate::error::Invalid;
use crate::explain::{self, ExplainOptions, Method};
use crate::io::colormap::{Colormap, overlay};
use crate::model::preprocess;
use crate::model::{LoadOptions, Vit, load_vit};
use crate::project::{CheckpointEntry, OpenProject};

/// Opacity of every map.
pub const OPACITY: f32 = 0.45;

/// One case ready to show: RGB pixels of the image and of each condition's view.
#[derive(Debug, Clone)]
pub struct Views {
    /// Case id.
    pub case: String,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// The image alone (RGB).
    pub image: Vec<u8>,
    /// Condition → the image with its map (RGB); `none` is the image alone.
    pub views: BTreeMap<String, Vec<u8>>,
}

fn normalised(mut m: Vec<f32>) -> Vec<f32> {
    let (lo, hi) = m
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let range = hi - lo;
    for v in &mut m {
        *v = if range > 0.0 { (*v - lo) / range } else { 0.0 };
    }
    m
}

/// A seed of its own per case (FNV-1a of the id, with the study's seed).
fn case_seed(seed: u64, case: &str) -> u64 {
    case.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Prepares one case.
pub fn prepare_case(
    study: &Study,
    open: &OpenProject,
    vit: &Vit,
    case: &Case,
) -> Result<Views, Invalid> {
    let i = open
        .project
        .images
        .iter()
        .position(|e| {
            e.identity.as_ref().map(|id| id.token()) == Some(case.identity.clone())
                && e.frame == case.frame
        })
        .ok_or_else(|| {
            Invalid::from(format!(
                "case {}: no image of the project has its identity {}",
                case.id, case.identity
            ))
        })?;
    if let Some(p) = open.checks[i].problem() {
        return Err(Invalid::from(format!("case {}: {p}", case.id)));
    }
    let img = crate::io::image::read_image_frame(&open.file(i), case.frame)
        .map_err(|e| Invalid::from(e.to_string()))?;
    let base = img.to_rgb8();
    let (w, h) = (img.width, img.height);
    let setup = explain::run::Setup::default();
    let prepared =
        explain::run::prepare(vit, &img, &setup).map_err(|e| Invalid::from(e.to_string()))?;
    let mut views = BTreeMap::new();
    let mut conditions = study.conditions.clone();
    if study.attention_checks.contains(&case.id) {
        conditions.push("check".into());
    }
    for c in &conditions {
        let map: Option<Vec<f32>> = match c.as_str() {
            "none" => None,
            "random" => {
                let patch = vit.config.patch_size;
                let (ih, iw) = prepared.geometry.input_hw();
                let mut rng = StdRng::seed_from_u64(case_seed(study.seed, &case.id));
                let grid = explain::PatchMap {
                    height: ih / patch,
                    width: iw / patch,
                    values: (0..(ih / patch) * (iw / patch))
                        .map(|_| rng.random::<f32>())
                        .collect(),
                };
                let up = explain::upsample::bilinear_minmax(&grid, patch);
                Some(preprocess::map_to_original(&up.values, &prepared.geometry))
            }
            "check" => {
                let ann = open
                    .annotations(i)
                    .map_err(|e| Invalid::from(format!("case {}: {e}", case.id)))?;
                Some(
                    ann.mask
                        .data
                        .iter()
                        .map(|&v| (v != 0) as u8 as f32)
                        .collect(),
                )
            }
            name => {
                let method = Method::ALL
                    .into_iter()
                    .find(|m| m.name() == name)
                    .ok_or_else(|| Invalid::from(format!("condition '{name}' is not a method")))?;
                let r = explain::run::explain_prepared(
                    vit,
                    &prepared,
                    method,
                    &ExplainOptions::default(),
                )
                .map_err(|e| Invalid::from(format!("case {}: {e}", case.id)))?;
                Some(r.original)
            }
        };
        let view = match map {
            None => base.clone(),
            Some(m) if m.len() == w * h => overlay(&base, &normalised(m), Colormap::Turbo, OPACITY),
            Some(_) => {
                return Err(Invalid::from(format!(
                    "case {}: a map of another size than the image",
                    case.id
                )));
            }
        };
        views.insert(c.clone(), view.into_raw());
    }
    Ok(Views {
        case: case.id.clone(),
        width: w,
        height: h,
        image: base.into_raw(),
        views,
    })
}

/// Prepares the cases `order` in a thread of its own (the model and project loaded there);
/// each result arrives on the returned channel; `wake` is called after each.
pub fn spawn(
    study: Study,
    study_file: &Path,
    checkpoint: CheckpointEntry,
    order: Vec<String>,
    wake: impl Fn() + Send + 'static,
) -> Receiver<Result<Views, String>> {
    let (tx, rx) = channel();
    let project = study.project_path(study_file);
    std::thread::spawn(move || {
        let open = match OpenProject::read(&project) {
            Ok(o) => o,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                wake();
                return;
            }
        };
        let base = open.base.clone();
        let weights = crate::project::paths::resolve(&base, &checkpoint.weights);
        let opts = LoadOptions {
            heads: None,
            config_file: checkpoint
                .config
                .as_ref()
                .map(|c| crate::project::paths::resolve(&base, c)),
            classes: None,
        };
        let dev = burn::tensor::Device::flex();
        let vit = match load_vit(&weights, &opts, &dev) {
            Ok((v, _)) => v,
            Err(e) => {
                let _ = tx.send(Err(format!("{}: {e}", weights.display())));
                wake();
                return;
            }
        };
        for id in order {
            let Some(case) = study.cases.iter().find(|c| c.id == id) else {
                continue;
            };
            let r = prepare_case(&study, &open, &vit, case).map_err(|e| e.to_string());
            if tx.send(r).is_err() {
                return;
            }
            wake();
        }
    });
    rx
}
