//! The model thread: explanation maps of one image, a whole batch scored, the faithfulness and
//! sanity checks and the layer sweep of the workbench (the jobs and replies are in `jobs.rs`,
//! the metrics thread in `metrics_worker.rs`). The map store sends jobs and polls replies each
//! frame, so the UI never waits; a batch serves single-image jobs between its images and can be
//! cancelled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use super::slots::{MapSlot, PerMap};
use crate::project::annotation::Annotations;

use crate::explain::{self, ExplainOptions};
use crate::faithfulness::suite::{self as faith, Input};
use crate::io::image::Image;
use crate::model::device::{self, DeviceChoice};
use crate::model::preprocess::{self, Normalization};
use crate::model::{LoadOptions, Vit, load_vit};
use burn::tensor::Device;

pub use super::jobs::{
    BatchAnnotation, BatchItem, BatchJob, ExplainJob, ExplainReply, FaithCurves, FaithJob,
    ImageMapScore, LayerMaps, LayersJob, MapKey, MapResult, ModelJob, SanityJob, SanityMap,
};
pub use super::metrics_worker::{
    MapScores, MetricsJob, MetricsReply, MetricsWorker, score, score_image,
};

/// A job's cancel flag as the core's jobs read it.
struct CancelFlag<'a>(&'a AtomicBool);

impl crate::progress::Progress for CancelFlag<'_> {
    fn set_len(&self, _len: u64) {}
    fn inc(&self, _n: u64) {}
    fn set_message(&self, _message: &str) {}
    fn println(&self, _line: &str) {}
    fn cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
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
        let (v, _) = guarded(|| load_vit(weights, &opts, &dev))
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
        let setup = explain::run::Setup {
            resize: first.resize,
            ..Default::default()
        };
        let prepared = match explain::run::prepare(vit, image, &setup) {
            Ok(p) => p,
            Err(e) => {
                for key in keys {
                    done(self, key, Err(e.to_string()));
                }
                return;
            }
        };
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
            let r = guarded(|| explain::run::explain_prepared(vit, &prepared, key.method, &opts))
                .map_err(|e| format!("{}: {e}", key.method))
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map(|done| MapResult {
                    width: image.width,
                    height: image.height,
                    values: Arc::new(done.original),
                    target: done.explanation.target,
                    logits: done.explanation.logits,
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
                let dev = vit.device();
                guarded(|| explain::attention::layer_head_maps(&vit, prepared.tensor(&dev)))
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
        let error = guarded(|| self.sanity_inner(&job)).and_then(|r| r).err();
        self.send(ExplainReply::SanityEnded { id, error });
    }

    fn sanity_inner(&mut self, job: &SanityJob) -> Result<(), String> {
        use crate::faithfulness::cascade::Replacement;
        use crate::faithfulness::sanity::{self, Cascade, Checkpoint, Checks, OtherClass};
        let key = &job.key;
        let vit = self.model(&key.weights, job.config.clone(), job.device)?;
        let input = Input::new(
            &job.image,
            vit.config.img_size,
            key.resize,
            Normalization::default(),
        );
        let checks = Checks {
            method: key.method,
            options: ExplainOptions {
                target: key.target,
                layer: key.layer,
                head: key.head,
            },
            random_logit: Some(OtherClass::MostLikely),
        };
        let opts = LoadOptions {
            heads: None,
            config_file: job.config.clone(),
            classes: None,
        };
        let checkpoint = Checkpoint::read(&key.weights, &opts).map_err(|e| e.to_string())?;
        let mut cascade = Cascade::new(checkpoint, Replacement::Deterministic, vit.device(), false);
        let total = sanity::map_count(&checks, vit.config.num_classes, Some(&cascade));
        let size = input.size;
        let mut done = 0;
        let stop = CancelFlag(&job.cancel);
        sanity::run(&vit, &input, &checks, Some(&mut cascade), &stop, |m| {
            done += 1;
            self.send(ExplainReply::SanityStep {
                id: job.id,
                map: SanityMap {
                    label: m.test.to_string(),
                    size,
                    values: Arc::new(m.values),
                    sim: m.sim,
                },
                done,
                total,
            });
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
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
            let map = guarded(|| explain::explain(&vit, x, key.method, &opts))
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map_err(|e| format!("{}: {e}", key.method))?;
            let mut last = 0;
            let curves = guarded(|| {
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

/// Runs `f`, a panic inside it coming back as its message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    crate::io::guard::catch_panic(f).map_err(|e| e.to_string())
}
