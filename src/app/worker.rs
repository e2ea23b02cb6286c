//! Background threads: the model (explanation maps of one image, or a whole batch scored) and the
//! metrics engine. The map store sends jobs and polls replies each frame, so the UI never waits on
//! either; a batch serves single-image jobs between its images and can be cancelled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use super::slots::{MapSlot, PerMap};
use crate::project::annotation::{Annotations, LabelBox};

use crate::explain::{self, ExplainOptions, Method};
use crate::faithfulness::suite::{self as faith, Input, Outcome, Test};
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

/// Where a batch item's annotation comes from.
pub enum BatchAnnotation {
    /// The session's own (possibly edited) annotation.
    InMemory(Annotations),
    /// Not loaded in the session: boxes from the project, the mask file read by the worker.
    OnDisk {
        /// Boxes.
        boxes: Vec<LabelBox>,
        /// Mask PNG of class ids.
        mask: Option<PathBuf>,
    },
}

/// One image of a batch.
pub struct BatchItem {
    /// Index in the project.
    pub index: usize,
    /// The map keys of its three slots.
    pub keys: PerMap<MapKey>,
    /// DICOM window.
    pub window: Option<(f64, f64)>,
    /// Its annotation.
    pub annotation: BatchAnnotation,
}

/// Scores every image of a project: maps computed, scored, and handed back for the bounded
/// cache; the worker keeps nothing.
pub struct BatchJob {
    /// Identifies the batch in replies.
    pub id: u64,
    /// The images, in scoring order.
    pub items: Vec<BatchItem>,
    /// Optional config of the checkpoint.
    pub config: Option<PathBuf>,
    /// Device.
    pub device: DeviceChoice,
    /// The threshold scored (top p %).
    pub top_percent: f64,
    /// Set to stop after the image in progress.
    pub cancel: Arc<AtomicBool>,
}

/// The faithfulness tests of the shown maps of one image.
pub struct FaithJob {
    /// Identifies the job in replies.
    pub id: u64,
    /// The maps tested (their keys name method, target, weights).
    pub keys: Vec<MapKey>,
    /// Optional config of the checkpoint.
    pub config: Option<PathBuf>,
    /// The image as the model sees it.
    pub image: Arc<Image>,
    /// Device.
    pub device: DeviceChoice,
    /// Tests to run on each map.
    pub tests: Vec<Test>,
    /// Set to stop at the next batch of forwards.
    pub cancel: Arc<AtomicBool>,
}

/// The curves of one map.
pub type FaithCurves = Vec<(Test, Outcome)>;

/// The sanity checks of one map: the deterministic randomisation cascade and, for a
/// class-specific method, the random-logit test.
pub struct SanityJob {
    /// Identifies the job in replies.
    pub id: u64,
    /// The map checked.
    pub key: MapKey,
    /// Optional config of the checkpoint.
    pub config: Option<PathBuf>,
    /// The image as the model sees it.
    pub image: Arc<Image>,
    /// Device.
    pub device: DeviceChoice,
    /// Set to stop after the step in progress.
    pub cancel: Arc<AtomicBool>,
}

/// One map of a sanity check, at model-input size, with its similarity to the original.
#[derive(Debug, Clone)]
pub struct SanityMap {
    /// `original`, `random-logit (class K)` or the cascade layer (`head`, …, `embed`).
    pub label: String,
    /// Side of the map.
    pub size: usize,
    /// Min-max normalised values.
    pub values: Arc<Vec<f32>>,
    /// Similarity to the original (`None` for the original itself).
    pub sim: Option<crate::faithfulness::similarity::Similarity>,
}

/// The layer × head sweep of one image: the class-token attention of every block and head.
pub struct LayersJob {
    /// Identifies the job in replies.
    pub id: u64,
    /// Checkpoint weights.
    pub weights: PathBuf,
    /// Optional config of the checkpoint.
    pub config: Option<PathBuf>,
    /// The image as the model sees it.
    pub image: Arc<Image>,
    /// Resize or centre crop.
    pub resize: ResizeMode,
    /// Device.
    pub device: DeviceChoice,
}

/// The sweep's grids: `grids[block][head]`, the mean over heads last in each block.
#[derive(Debug, Clone)]
pub struct LayerMaps {
    /// Patch grids.
    pub grids: Vec<Vec<explain::PatchMap>>,
    /// Patch side in pixels.
    pub patch: usize,
    /// Where the model input sits in the image.
    pub geometry: preprocess::Geometry,
}

/// A job of the model thread.
pub enum ModelJob {
    /// The layer × head sweep of one image.
    Layers(LayersJob),
    /// Maps of one image.
    Maps(ExplainJob),
    /// Score a batch of images.
    Batch(BatchJob),
    /// Faithfulness tests of one image's maps.
    Faith(FaithJob),
    /// Sanity checks of one map.
    Sanity(SanityJob),
}

/// One map's scores on one image: pointing game, IoU rect at the threshold, and the IoU with the
/// box minus the IoU with the mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageMapScore {
    /// Pointing game hit.
    pub hit: bool,
    /// IoU of the top-p region's rectangle with the ground truth.
    pub iou: f64,
    /// IoU with the boxes minus IoU with the mask (when both exist).
    pub box_delta: Option<f64>,
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
    /// A batch image is scored (`None` per slot: not scored, e.g. nothing annotated); its maps
    /// come along for the cache.
    BatchRow {
        /// Batch.
        id: u64,
        /// Image index.
        index: usize,
        /// Scores per slot.
        scores: PerMap<Option<ImageMapScore>>,
        /// The maps, for the cache.
        maps: Vec<(MapKey, MapResult)>,
    },
    /// A batch image could not be scored.
    BatchFailed {
        /// Batch.
        id: u64,
        /// Image index.
        index: usize,
        /// Why.
        error: String,
    },
    /// Model evaluations of a faithfulness job done so far.
    FaithProgress {
        /// Job.
        id: u64,
        /// Done.
        done: usize,
        /// All.
        total: usize,
    },
    /// One map's faithfulness curves.
    FaithDone {
        /// Job.
        id: u64,
        /// The map.
        key: MapKey,
        /// Its curves.
        curves: Arc<FaithCurves>,
    },
    /// One map of a sanity check (the original first).
    SanityStep {
        /// Job.
        id: u64,
        /// The map and its similarity.
        map: SanityMap,
        /// Steps done and in all.
        done: usize,
        /// All.
        total: usize,
    },
    /// A sanity job ended (`error`: why early).
    SanityEnded {
        /// Job.
        id: u64,
        /// Why it stopped early, if it did.
        error: Option<String>,
    },
    /// A faithfulness job failed or was cancelled (`error` says which).
    FaithEnded {
        /// Job.
        id: u64,
        /// Why it stopped early, if it did.
        error: Option<String>,
    },
    /// The layer × head sweep of a [`LayersJob`] (or why it failed).
    Layers {
        /// Job.
        id: u64,
        /// The grids.
        maps: Result<Arc<LayerMaps>, String>,
    },
    /// The batch ended (all done, or cancelled).
    BatchEnded {
        /// Batch.
        id: u64,
        /// Whether it was cancelled.
        cancelled: bool,
    },
}

/// The model thread.
pub struct ExplainWorker {
    jobs: Sender<ModelJob>,
    /// Replies; poll with `try_recv`.
    pub replies: Receiver<ExplainReply>,
}

impl ExplainWorker {
    /// Starts the thread; `wake` is called after each reply (the UI asks for a repaint).
    /// `shared_gpu` is the GUI's own GPU registered with burn: `auto` and `gpu` run there.
    pub fn spawn(wake: impl Fn() + Send + 'static, shared_gpu: Option<Device>) -> Self {
        let (jobs, job_rx) = channel::<ModelJob>();
        let (reply_tx, replies) = channel();
        std::thread::Builder::new()
            .name("vitscope-model".into())
            .spawn(move || {
                let mut w = ModelThread {
                    out: reply_tx,
                    wake: Box::new(wake),
                    shared_gpu,
                    models: HashMap::new(),
                };
                w.run(job_rx)
            })
            .expect("spawning the model thread");
        Self { jobs, replies }
    }

    /// Queues a job.
    pub fn send(&self, job: ModelJob) {
        let _ = self.jobs.send(job);
    }
}

struct ModelThread {
    out: Sender<ExplainReply>,
    wake: Box<dyn Fn() + Send>,
    shared_gpu: Option<Device>,
    models: HashMap<(PathBuf, DeviceChoice), Arc<Vit>>,
}

impl ModelThread {
    fn send(&self, r: ExplainReply) {
        let _ = self.out.send(r);
        (self.wake)();
    }

    fn run(&mut self, jobs: Receiver<ModelJob>) {
        let mut next = None;
        loop {
            let job = match next.take() {
                Some(j) => j,
                None => match jobs.recv() {
                    Ok(j) => j,
                    Err(_) => return,
                },
            };
            match job {
                ModelJob::Maps(j) => self.maps(j),
                ModelJob::Layers(j) => self.layers(j),
                ModelJob::Batch(b) => next = self.batch(b, &jobs),
                ModelJob::Faith(f) => self.faith(f),
                ModelJob::Sanity(j) => self.sanity(j),
            }
        }
    }

    fn model(
        &mut self,
        weights: &Path,
        config: Option<PathBuf>,
        device: DeviceChoice,
    ) -> Result<Arc<Vit>, String> {
        let slot = (weights.to_path_buf(), device);
        if let Some(v) = self.models.get(&slot) {
            return Ok(v.clone());
        }
        let name = weights
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        self.send(ExplainReply::Progress {
            label: format!("loading {}", name.unwrap_or_default()),
            index: 0,
            total: 1,
        });
        let dev = match (device, &self.shared_gpu) {
            (DeviceChoice::Cpu, _) => Device::flex(),
            (_, Some(gpu)) => gpu.clone(),
            (c, None) => device::resolve(c),
        };
        let opts = LoadOptions {
            heads: None,
            config_file: config,
            classes: None,
        };
        // A panic inside burn must not end this thread (the UI would wait for ever): it comes
        // back as this job's error.
        let (v, _) = crate::io::guard::catch_panic(|| load_vit(weights, &opts, &dev))
            .map_err(|e| format!("{}: {e}", weights.display()))?
            .map_err(|e| e.to_string())?;
        let v = Arc::new(v);
        self.models.insert(slot, v.clone());
        Ok(v)
    }

    /// Computes every key's map; each result is handed to `done`.
    fn compute(
        &self,
        vit: &Vit,
        image: &Image,
        keys: Vec<MapKey>,
        mut done: impl FnMut(&Self, MapKey, Result<MapResult, String>),
    ) {
        let Some(first) = keys.first() else { return };
        let prepared = preprocess::prepare(
            image,
            vit.config.img_size,
            first.resize,
            &Normalization::default(),
        );
        let dev = vit.weights.head.weight.val().device();
        let total = keys.len();
        for (index, key) in keys.into_iter().enumerate() {
            self.send(ExplainReply::Progress {
                label: key.method.name().to_string(),
                index,
                total,
            });
            let opts = ExplainOptions {
                target: key.target,
                layer: key.layer,
                head: key.head,
            };
            let r = crate::io::guard::catch_panic(|| {
                explain::explain(vit, prepared.tensor(&dev), key.method, &opts)
            })
            .map_err(|e| format!("{}: {e}", key.method))
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|e| MapResult {
                width: image.width,
                height: image.height,
                values: Arc::new(preprocess::map_to_original(
                    &e.map.values,
                    &prepared.geometry,
                )),
                target: e.target,
                logits: e.logits,
            });
            done(self, key, r);
        }
    }

    fn maps(&mut self, job: ExplainJob) {
        let Some(first) = job.keys.first().cloned() else {
            return;
        };
        let vit = match self.model(&first.weights, job.config.clone(), job.device) {
            Ok(v) => v,
            Err(e) => {
                for k in job.keys {
                    self.send(ExplainReply::Failed(k, e.clone()));
                }
                return;
            }
        };
        self.compute(&vit, &job.image, job.keys, |t, key, r| {
            t.send(match r {
                Ok(m) => ExplainReply::Done(key, m),
                Err(e) => ExplainReply::Failed(key, e),
            })
        });
    }

    fn layers(&mut self, job: LayersJob) {
        let maps = self
            .model(&job.weights, job.config.clone(), job.device)
            .and_then(|vit| {
                let prepared = preprocess::prepare(
                    &job.image,
                    vit.config.img_size,
                    job.resize,
                    &Normalization::default(),
                );
                let dev = vit.weights.head.weight.val().device();
                crate::io::guard::catch_panic(|| {
                    explain::attention::layer_head_maps(&vit, prepared.tensor(&dev))
                })
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map(|(_, grids)| {
                    Arc::new(LayerMaps {
                        grids,
                        patch: vit.config.patch_size,
                        geometry: prepared.geometry,
                    })
                })
            });
        self.send(ExplainReply::Layers { id: job.id, maps });
    }

    /// Runs the sanity checks of one map: original, random-logit (class-specific methods), then
    /// the cascade from the head down.
    fn sanity(&mut self, job: SanityJob) {
        let id = job.id;
        let error = crate::io::guard::catch_panic(|| self.sanity_inner(&job))
            .and_then(|r| r)
            .err();
        self.send(ExplainReply::SanityEnded { id, error });
    }

    fn sanity_inner(&mut self, job: &SanityJob) -> Result<(), String> {
        use crate::faithfulness::{cascade, similarity};
        let key = &job.key;
        let vit = self.model(&key.weights, job.config.clone(), job.device)?;
        let input = Input::new(
            &job.image,
            vit.config.img_size,
            key.resize,
            Normalization::default(),
        );
        let opts = |target| ExplainOptions {
            target,
            layer: key.layer,
            head: key.head,
        };
        let map_of =
            |v: &Vit, target: Option<usize>| -> Result<(Vec<f32>, usize, Vec<f32>), String> {
                let e = explain::explain(v, input.tensor(v), key.method, &opts(target))
                    .map_err(|e| e.to_string())?;
                Ok((e.map.values, e.target, e.logits))
            };
        let (original, target, logits) = map_of(&vit, key.target)?;
        let steps = cascade::steps_for(&vit.config);
        let with_logit = key.method.class_specific() && logits.len() > 1;
        let total = 1 + with_logit as usize + steps.len();
        let size = input.size;
        let original = Arc::new(original);
        let mut done = 0;
        let mut emit = |t: &Self, label: String, values: Arc<Vec<f32>>, sim| {
            done += 1;
            t.send(ExplainReply::SanityStep {
                id: job.id,
                map: SanityMap {
                    label,
                    size,
                    values,
                    sim,
                },
                done,
                total,
            });
        };
        emit(self, "original".into(), original.clone(), None);
        let compare = |m: &[f32]| similarity::compare(&original, m, size, size);
        if with_logit {
            let other = (0..logits.len())
                .filter(|&c| c != target)
                .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                .unwrap_or(0);
            let (m, _, _) = map_of(&vit, Some(other))?;
            let sim = compare(&m)?;
            emit(self, format!("class {other}"), Arc::new(m), Some(sim));
        }
        let opts_load = LoadOptions {
            heads: None,
            config_file: job.config.clone(),
            classes: None,
        };
        let (mut state, config, layout) =
            crate::model::checkpoint::load_state(&key.weights, &opts_load)
                .map_err(|e| e.to_string())?;
        let dev = vit.weights.head.weight.val().device();
        for step in &steps {
            if job.cancel.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            cascade::replace(
                &mut state,
                step,
                config.depth,
                cascade::Replacement::Deterministic,
            )?;
            let (v, _) = crate::model::checkpoint::apply_state_dict(
                state.clone(),
                config.clone(),
                layout,
                &key.weights,
                &dev,
            )
            .map_err(|e| e.to_string())?;
            let (m, _, _) = map_of(&v, Some(target))?;
            let sim = compare(&m)?;
            emit(self, step.layer.clone(), Arc::new(m), Some(sim));
        }
        Ok(())
    }

    /// Runs the faithfulness tests of each key's map (recomputed at model-input size).
    fn faith(&mut self, job: FaithJob) {
        let id = job.id;
        let error = self.faith_inner(job).err();
        self.send(ExplainReply::FaithEnded { id, error });
    }

    fn faith_inner(&mut self, job: FaithJob) -> Result<(), String> {
        let Some(first) = job.keys.first().cloned() else {
            return Ok(());
        };
        let vit = self.model(&first.weights, job.config.clone(), job.device)?;
        let input = Input::new(
            &job.image,
            vit.config.img_size,
            first.resize,
            Normalization::default(),
        );
        let clean = input.logits(&vit).map_err(|e| e.to_string())?;
        let pixels = input.size * input.size;
        let per_map: usize = job.tests.iter().map(|t| t.forwards(pixels)).sum();
        let total = per_map * job.keys.len();
        for (i, key) in job.keys.iter().enumerate() {
            let x = input.tensor(&vit);
            let opts = ExplainOptions {
                target: key.target,
                layer: key.layer,
                head: key.head,
            };
            let map =
                crate::io::guard::catch_panic(|| explain::explain(&vit, x, key.method, &opts))
                    .and_then(|r| r.map_err(|e| e.to_string()))
                    .map_err(|e| format!("{}: {e}", key.method))?;
            let mut last = 0;
            let curves = crate::io::guard::catch_panic(|| {
                faith::run(
                    &vit,
                    &input,
                    &map.map.values,
                    &clean,
                    &job.tests,
                    |done, _| {
                        if done >= last + 16 || done == per_map {
                            last = done;
                            self.send(ExplainReply::FaithProgress {
                                id: job.id,
                                done: i * per_map + done,
                                total,
                            });
                        }
                        !job.cancel.load(Ordering::Relaxed)
                    },
                )
            })
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", key.method))?;
            self.send(ExplainReply::FaithDone {
                id: job.id,
                key: key.clone(),
                curves: Arc::new(curves),
            });
        }
        Ok(())
    }

    /// Runs a batch; map jobs that arrive meanwhile are served between images (the user's
    /// current image never waits for the whole batch). A newer batch replaces this one and is
    /// returned to run next.
    fn batch(&mut self, job: BatchJob, jobs: &Receiver<ModelJob>) -> Option<ModelJob> {
        let mut cancelled = false;
        for item in job.items {
            while let Ok(j) = jobs.try_recv() {
                match j {
                    ModelJob::Maps(m) => self.maps(m),
                    ModelJob::Layers(j) => self.layers(j),
                    ModelJob::Faith(f) => self.faith(f),
                    ModelJob::Sanity(j) => self.sanity(j),
                    newer @ ModelJob::Batch(_) => {
                        self.send(ExplainReply::BatchEnded {
                            id: job.id,
                            cancelled: true,
                        });
                        return Some(newer);
                    }
                }
            }
            if job.cancel.load(Ordering::Relaxed) {
                cancelled = true;
                break;
            }
            let index = item.index;
            match self.batch_item(item, job.config.clone(), job.device, job.top_percent) {
                Ok((scores, maps)) => self.send(ExplainReply::BatchRow {
                    id: job.id,
                    index,
                    scores,
                    maps,
                }),
                Err(error) => self.send(ExplainReply::BatchFailed {
                    id: job.id,
                    index,
                    error,
                }),
            }
        }
        self.send(ExplainReply::BatchEnded {
            id: job.id,
            cancelled,
        });
        None
    }

    #[allow(clippy::type_complexity)]
    fn batch_item(
        &mut self,
        item: BatchItem,
        config: Option<PathBuf>,
        device: DeviceChoice,
        top_percent: f64,
    ) -> Result<(PerMap<Option<ImageMapScore>>, Vec<(MapKey, MapResult)>), String> {
        let k0 = &item.keys[MapSlot::Attention];
        let loaded = super::state::load_image(&k0.image, item.index, item.window, k0.frame)?;
        let (w, h) = (loaded.width(), loaded.height());
        let ann = match item.annotation {
            BatchAnnotation::InMemory(a) => a,
            BatchAnnotation::OnDisk { boxes, mask } => {
                let mut a = Annotations::new(w, h);
                a.boxes = boxes;
                if let Some(m) = mask {
                    a.mask = crate::project::masks::read_label_mask(&m, w, h)
                        .map_err(|e| e.to_string())?
                        .0;
                }
                a
            }
        };
        if (ann.mask.width, ann.mask.height) != (w, h) {
            return Err(format!(
                "{}: the annotation is {}×{} but the image is {w}×{h}",
                k0.image.display(),
                ann.mask.width,
                ann.mask.height
            ));
        }
        let vit = self.model(&k0.weights, config, device)?;
        let keys: Vec<MapKey> = item.keys.values().cloned().collect();
        let mut maps = Vec::new();
        let mut error = None;
        self.compute(&vit, &loaded.image, keys, |_, key, r| match r {
            Ok(m) => maps.push((key, m)),
            Err(e) => error = Some(format!("{}: {e}", key.method.name())),
        });
        if let Some(e) = error {
            return Err(e);
        }
        let per_slot = PerMap::from_fn(|s| {
            maps.iter()
                .find(|(k, _)| *k == item.keys[s])
                .map(|(_, m)| m.values.clone())
        });
        Ok((score_image(&per_slot, &ann, top_percent), maps))
    }
}

/// Scores one image's maps against its annotation at the top `p` %: nothing annotated scores
/// nothing (a zero would skew the distribution).
pub fn score_image(
    maps: &PerMap<Option<Arc<Vec<f32>>>>,
    ann: &Annotations,
    p: f64,
) -> PerMap<Option<ImageMapScore>> {
    let truth = ann.ground_truth();
    if truth.count() == 0 {
        return PerMap::none();
    }
    let (w, h) = (truth.width, truth.height);
    let boxm = ann.comparison_boxes(&truth);
    maps.as_ref().map(|m| {
        let m = m.as_ref().filter(|m| m.len() == w * h)?;
        let score = |mask: &Mask| metrics::compute_cpu(m, w, h, mask, &[p]).ok();
        let s = score(&truth)?;
        let iou = s.top[0].iou_rect;
        let box_delta = boxm
            .as_ref()
            .and_then(score)
            .map(|b| b.top[0].iou_rect - iou);
        Some(ImageMapScore {
            hit: s.pointing_game,
            iou,
            box_delta,
        })
    })
}

/// One metrics job: every shown map against the current annotation.
pub struct MetricsJob {
    /// Increases with every edit; stale replies are dropped by the UI.
    pub generation: u64,
    /// Maps (slot, values) of one size.
    pub maps: Vec<(MapSlot, Arc<Vec<f32>>)>,
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
    pub scores: Vec<(MapSlot, Result<MapScores, String>)>,
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
                    let scores =
                        crate::io::guard::catch_panic(|| score(&job)).unwrap_or_else(|e| {
                            job.maps
                                .iter()
                                .map(|(slot, _)| (*slot, Err(format!("scoring failed: {e}"))))
                                .collect()
                        });
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
pub fn score(job: &MetricsJob) -> Vec<(MapSlot, Result<MapScores, String>)> {
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
