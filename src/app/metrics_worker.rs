//! The metrics thread: every shown map scored against the current annotation after each edit,
//! and the scoring of one image's maps for a batch.

use super::jobs::ImageMapScore;
use super::slots::{MapSlot, PerMap};
use crate::metrics::{self, Mask, MetricSet};
use crate::model::device::DeviceChoice;
use crate::project::annotation::Annotations;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

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
                    let scores = guarded(|| score(&job)).unwrap_or_else(|e| {
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

/// Runs `f`, a panic inside it coming back as its message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    crate::io::guard::catch_panic(f).map_err(|e| e.to_string())
}
