//! Background threads: the model (explanation maps) and the metrics engine. The UI sends jobs and
//! polls replies each frame, so it never waits on either.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use crate::explain::{self, ExplainOptions, Method};
use crate::io::image::Image;
use crate::metrics::{self, Mask, MetricSet};
use crate::model::device::{self, DeviceChoice};
use crate::model::preprocess::{self, Normalization, ResizeMode};
use crate::model::{LoadOptions, Vit, load_vit};
use burn::tensor::Device;

/// What a map was computed from; maps are cached under it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapKey {
    /// Image file.
    pub image: PathBuf,
    /// Frame (multi-frame DICOM).
    pub frame: u32,
    /// Checkpoint weights file.
    pub weights: PathBuf,
    /// Method.
    pub method: Method,
    /// Target class (`None` = predicted).
    pub target: Option<usize>,
    /// Attention block.
    pub layer: Option<usize>,
    /// Attention head.
    pub head: Option<usize>,
    /// Resize or centre crop.
    pub resize: ResizeMode,
}

/// A map in the image's own geometry.
#[derive(Debug, Clone)]
pub struct MapResult {
    /// Columns (the image's width).
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Min-max normalised values.
    pub values: Arc<Vec<f32>>,
    /// Class explained.
    pub target: usize,
    /// Logits.
    pub logits: Vec<f32>,
}

/// One model job: several methods on one image.
pub struct ExplainJob {
    /// Keys, one per method (they share image, weights and options).
    pub keys: Vec<MapKey>,
    /// Optional config of the checkpoint.
    pub config: Option<PathBuf>,
    /// The image as the model sees it (windowed for DICOM).
    pub image: Arc<Image>,
    /// Device.
    pub device: DeviceChoice,
}

/// Replies of the model thread.
pub enum ExplainReply {
    /// Starting a method (`index` of `total`).
    Progress {
        /// What.
        label: String,
        /// Done so far.
        index: usize,
        /// All.
        total: usize,
    },
    /// A map is ready.
    Done(MapKey, MapResult),
    /// A job failed.
    Failed(MapKey, String),
}

/// The model thread.
pub struct ExplainWorker {
    jobs: Sender<ExplainJob>,
    /// Replies; poll with `try_recv`.
    pub replies: Receiver<ExplainReply>,
}

impl ExplainWorker {
    /// Starts the thread; `wake` is called after each reply (the UI asks for a repaint).
    /// `shared_gpu` is the GUI's own GPU registered with burn: `auto` and `gpu` run there.
    pub fn spawn(wake: impl Fn() + Send + 'static, shared_gpu: Option<Device>) -> Self {
        let (jobs, job_rx) = channel::<ExplainJob>();
        let (reply_tx, replies) = channel();
        std::thread::Builder::new()
            .name("vitscope-model".into())
            .spawn(move || explain_loop(job_rx, reply_tx, wake, shared_gpu))
            .expect("spawning the model thread");
        Self { jobs, replies }
    }

    /// Queues a job.
    pub fn send(&self, job: ExplainJob) {
        let _ = self.jobs.send(job);
    }
}

fn explain_loop(
    jobs: Receiver<ExplainJob>,
    out: Sender<ExplainReply>,
    wake: impl Fn(),
    shared_gpu: Option<Device>,
) {
    let resolve = |choice: DeviceChoice| match (choice, &shared_gpu) {
        (DeviceChoice::Cpu, _) => Device::flex(),
        (_, Some(gpu)) => gpu.clone(),
        (c, None) => device::resolve(c),
    };
    let mut models: HashMap<(PathBuf, DeviceChoice), Arc<Vit>> = HashMap::new();
    while let Ok(job) = jobs.recv() {
        let total = job.keys.len();
        let Some(first) = job.keys.first().cloned() else {
            continue;
        };
        let slot = (first.weights.clone(), job.device);
        let vit = match models.get(&slot) {
            Some(v) => v.clone(),
            None => {
                let _ = out.send(ExplainReply::Progress {
                    label: format!(
                        "loading {}",
                        first
                            .weights
                            .file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    ),
                    index: 0,
                    total,
                });
                wake();
                let opts = LoadOptions {
                    heads: None,
                    config_file: job.config.clone(),
                    classes: None,
                };
                match load_vit(&first.weights, &opts, &resolve(job.device)) {
                    Ok((v, _)) => {
                        let v = Arc::new(v);
                        models.insert(slot, v.clone());
                        v
                    }
                    Err(e) => {
                        for k in job.keys {
                            let _ = out.send(ExplainReply::Failed(k, e.to_string()));
                        }
                        wake();
                        continue;
                    }
                }
            }
        };
        let prepared = preprocess::prepare(
            &job.image,
            vit.config.img_size,
            first.resize,
            &Normalization::default(),
        );
        let dev = vit.weights.head.weight.val().device();
        for (index, key) in job.keys.into_iter().enumerate() {
            let _ = out.send(ExplainReply::Progress {
                label: key.method.name().to_string(),
                index,
                total,
            });
            wake();
            let opts = ExplainOptions {
                target: key.target,
                layer: key.layer,
                head: key.head,
            };
            let reply = match explain::explain(&vit, prepared.tensor(&dev), key.method, &opts) {
                Ok(e) => {
                    let values = preprocess::map_to_original(&e.map.values, &prepared.geometry);
                    ExplainReply::Done(
                        key,
                        MapResult {
                            width: job.image.width,
                            height: job.image.height,
                            values: Arc::new(values),
                            target: e.target,
                            logits: e.logits,
                        },
                    )
                }
                Err(e) => ExplainReply::Failed(key, e.to_string()),
            };
            let _ = out.send(reply);
            wake();
        }
    }
}

/// One metrics job: every shown map against the current annotation.
pub struct MetricsJob {
    /// Increases with every edit; stale replies are dropped by the UI.
    pub generation: u64,
    /// Maps (slot index, values) of one size.
    pub maps: Vec<(usize, Arc<Vec<f32>>)>,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Ground truth (mask, or boxes when no mask is drawn).
    pub mask: Arc<Mask>,
    /// The boxes as a mask, for the box-versus-mask comparison (`None` without both).
    pub box_mask: Option<Arc<Mask>>,
    /// Percentages.
    pub tops: Vec<f64>,
    /// An absolute threshold to score as well.
    pub absolute: Option<f32>,
    /// Backend.
    pub backend: DeviceChoice,
}

/// Scores of one map.
#[derive(Debug, Clone)]
pub struct MapScores {
    /// Against the ground truth.
    pub truth: MetricSet,
    /// Against the boxes' mask, when both a mask and boxes exist.
    pub boxes: Option<MetricSet>,
    /// At the absolute threshold.
    pub absolute: Option<metrics::TopKScores>,
}

/// Reply of the metrics thread.
pub struct MetricsReply {
    /// Generation of the job.
    pub generation: u64,
    /// Per slot.
    pub scores: Vec<(usize, Result<MapScores, String>)>,
    /// Wall time of the job in ms.
    pub millis: f64,
}

/// The metrics thread. Jobs queued while one runs collapse to the newest.
pub struct MetricsWorker {
    jobs: Sender<MetricsJob>,
    /// Replies.
    pub replies: Receiver<MetricsReply>,
}

impl MetricsWorker {
    /// Starts the thread.
    pub fn spawn(wake: impl Fn() + Send + 'static) -> Self {
        let (jobs, rx) = channel::<MetricsJob>();
        let (tx, replies) = channel();
        std::thread::Builder::new()
            .name("vitscope-metrics".into())
            .spawn(move || {
                // Probe the adapter for `auto` now (~0.1 s, once per process), while the model
                // computes the first maps, rather than inside the first job the user waits for.
                let _ = crate::metrics::gpu::auto_uses_gpu();
                while let Ok(mut job) = rx.recv() {
                    while let Ok(newer) = rx.try_recv() {
                        job = newer;
                    }
                    let t = std::time::Instant::now();
                    let scores = score(&job);
                    let _ = tx.send(MetricsReply {
                        generation: job.generation,
                        scores,
                        millis: t.elapsed().as_secs_f64() * 1e3,
                    });
                    wake();
                }
            })
            .expect("spawning the metrics thread");
        Self { jobs, replies }
    }

    /// Queues a job.
    pub fn send(&self, job: MetricsJob) {
        let _ = self.jobs.send(job);
    }
}

/// Scores every map of a job (also used directly by tests and the batch report).
pub fn score(job: &MetricsJob) -> Vec<(usize, Result<MapScores, String>)> {
    job.maps
        .iter()
        .map(|(slot, map)| {
            let run = |mask: &Mask| {
                metrics::gpu::compute(map, job.width, job.height, mask, &job.tops, job.backend)
                    .map_err(|e| e.to_string())
            };
            let r = run(&job.mask).and_then(|truth| {
                let boxes = match &job.box_mask {
                    Some(b) => Some(run(b)?),
                    None => None,
                };
                let absolute = job
                    .absolute
                    .map(|t| metrics::scores_at(map, job.width, job.height, &job.mask, t));
                Ok(MapScores {
                    truth,
                    boxes,
                    absolute,
                })
            });
            (*slot, r)
        })
        .collect()
}
