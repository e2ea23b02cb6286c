//! What the workbench's workers are asked and answer: the keys maps are cached under, the jobs
//! of the model thread (maps, a batch, faithfulness, sanity, the layer sweep) and its replies.

use super::slots::PerMap;
use crate::explain::{self, Method};
use crate::faithfulness::suite::{Outcome, Test};
use crate::io::image::Image;
use crate::model::device::DeviceChoice;
use crate::model::preprocess::{self, ResizeMode};
use crate::project::annotation::{Annotations, LabelBox};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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
