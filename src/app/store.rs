//! The map store: owns the model and metrics workers, the generation counters, the maps cache
//! bounded by bytes, the failures (retryable) and the batch that scores a whole project. No egui:
//! the GUI and `vitscope bench --suite app` drive the same store.
//!
//! The cache evicts the least recently used maps that are not pinned (the panes pin the current
//! image's three maps), so it never holds more than its budget plus the pinned maps. A batch
//! keeps only the scores; its maps pass through the cache like any other.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::slots::{MapSlot, PerMap};
use super::state::Session;
use super::worker::{
    BatchAnnotation, BatchItem, BatchJob, ExplainJob, ExplainReply, ExplainWorker, FaithCurves,
    FaithJob, ImageMapScore, LayerMaps, LayersJob, MapKey, MapResult, MapScores, MetricsJob,
    MetricsWorker, ModelJob, SanityJob, SanityMap,
};
use crate::model::preprocess::ResizeMode;

/// Default cache budget.
pub const DEFAULT_CACHE_MB: u64 = 1024;

/// Maps by key, bounded by bytes, least recently used evicted first.
#[derive(Debug)]
pub struct MapCache {
    entries: HashMap<MapKey, (MapResult, u64)>,
    bytes: usize,
    budget: usize,
    clock: u64,
}

/// Bytes a map holds.
pub fn map_bytes(m: &MapResult) -> usize {
    m.values.len() * std::mem::size_of::<f32>() + m.logits.len() * 4 + 64
}

impl MapCache {
    /// An empty cache of `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self {
            entries: HashMap::new(),
            bytes: 0,
            budget,
            clock: 0,
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Maps held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Changes the budget (evicts at the next insert).
    pub fn set_budget(&mut self, budget: usize, pinned: &HashSet<MapKey>) {
        self.budget = budget;
        self.evict(pinned);
    }

    /// The map under `key`, marked as used.
    pub fn get(&mut self, key: &MapKey) -> Option<&MapResult> {
        self.clock += 1;
        let now = self.clock;
        self.entries.get_mut(key).map(|(m, t)| {
            *t = now;
            &*m
        })
    }

    /// The map under `key` without touching its age.
    pub fn peek(&self, key: &MapKey) -> Option<&MapResult> {
        self.entries.get(key).map(|(m, _)| m)
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: &MapKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Inserts a map, then evicts the least recently used unpinned maps over the budget.
    pub fn insert(&mut self, key: MapKey, map: MapResult, pinned: &HashSet<MapKey>) {
        self.clock += 1;
        self.bytes += map_bytes(&map);
        if let Some((old, _)) = self.entries.insert(key, (map, self.clock)) {
            self.bytes -= map_bytes(&old);
        }
        self.evict(pinned);
    }

    fn evict(&mut self, pinned: &HashSet<MapKey>) {
        while self.bytes > self.budget {
            let oldest = self
                .entries
                .iter()
                .filter(|(k, _)| !pinned.contains(*k))
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            if let Some((m, _)) = self.entries.remove(&k) {
                self.bytes -= map_bytes(&m);
            }
        }
    }
}

/// Progress of the model worker: (what, index, total).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What runs.
    pub label: String,
    /// Done so far.
    pub index: usize,
    /// All.
    pub total: usize,
}

/// The scores of a project batch.
#[derive(Debug, Default)]
pub struct BatchScores {
    /// Batch id (0: none started).
    pub id: u64,
    /// Scored images, by image index.
    pub rows: Vec<(usize, PerMap<Option<ImageMapScore>>)>,
    /// Images that could not be scored, with the reason.
    pub failed: Vec<(usize, String)>,
    /// Images in the batch.
    pub total: usize,
    /// Still running.
    pub running: bool,
    /// Ended by a cancel.
    pub cancelled: bool,
    cancel: Arc<AtomicBool>,
}

impl BatchScores {
    /// Whether images are still being scored.
    pub fn busy(&self) -> bool {
        self.running
    }

    /// Images still to score.
    pub fn left(&self) -> usize {
        self.total
            .saturating_sub(self.rows.len() + self.failed.len())
    }
}

/// Faithfulness curves of the maps, and the job computing them.
#[derive(Debug, Default)]
pub struct FaithState {
    /// Id of the latest job.
    pub id: u64,
    /// Whether it runs.
    pub running: bool,
    /// Model evaluations done and in all.
    pub progress: (usize, usize),
    /// Curves per map (small: a few hundred numbers each), kept for the session.
    pub curves: HashMap<MapKey, Arc<FaithCurves>>,
    /// Why the latest job stopped early.
    pub error: Option<String>,
    cancel: Arc<AtomicBool>,
}

/// The sanity check of one map and the job computing it.
#[derive(Debug, Default)]
pub struct SanityState {
    /// Id of the latest job.
    pub id: u64,
    /// The map checked.
    pub key: Option<MapKey>,
    /// Whether it runs.
    pub running: bool,
    /// Steps done and in all.
    pub progress: (usize, usize),
    /// The maps so far (the original first).
    pub maps: Vec<SanityMap>,
    /// Why the latest job stopped early.
    pub error: Option<String>,
    cancel: Arc<AtomicBool>,
}

/// The layer × head sweep of one image and checkpoint.
#[derive(Debug, Default)]
pub struct LayersState {
    /// Id of the latest job.
    pub id: u64,
    /// What the latest job sweeps: (image, frame, weights, resize).
    pub key: Option<(std::path::PathBuf, u32, std::path::PathBuf, ResizeMode)>,
    /// Whether it runs.
    pub running: bool,
    /// The result.
    pub maps: Option<Arc<LayerMaps>>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Latest live scores of the current image.
#[derive(Debug, Default)]
pub struct LiveScores {
    /// Per slot.
    pub scores: PerMap<Option<MapScores>>,
    /// Generation of the scores shown.
    pub generation: u64,
    /// Wall time of the job, ms.
    pub millis: f64,
}

/// The store.
pub struct MapStore {
    explain: ExplainWorker,
    metrics: MetricsWorker,
    /// Cached maps.
    pub cache: MapCache,
    pending: HashSet<MapKey>,
    failures: HashMap<MapKey, String>,
    pinned: HashSet<MapKey>,
    /// What the model worker is doing.
    pub progress: Option<Progress>,
    /// Live scores of the current image.
    pub live: LiveScores,
    /// Generation of the latest metrics job sent.
    pub metrics_generation: u64,
    /// The project batch.
    pub batch: BatchScores,
    /// Faithfulness curves.
    pub faith: FaithState,
    /// The sanity check.
    pub sanity: SanityState,
    /// The layer × head sweep.
    pub layers: LayersState,
    /// Errors for the user since the last poll.
    pub errors: Vec<String>,
}

impl MapStore {
    /// Starts the workers. `wake` is called after each reply (the UI repaints);
    /// `shared_gpu`: the display GPU registered with burn, if the model may run there.
    pub fn new(
        wake: impl Fn() + Send + Sync + 'static,
        shared_gpu: Option<burn::tensor::Device>,
        cache_mb: u64,
    ) -> Self {
        let wake = Arc::new(wake);
        let (w1, w2) = (wake.clone(), wake);
        Self {
            explain: ExplainWorker::spawn(move || (*w1)(), shared_gpu),
            metrics: MetricsWorker::spawn(move || (*w2)()),
            cache: MapCache::new(mb_to_bytes(cache_mb)),
            pending: HashSet::new(),
            failures: HashMap::new(),
            pinned: HashSet::new(),
            progress: None,
            live: LiveScores::default(),
            metrics_generation: 0,
            batch: BatchScores::default(),
            faith: FaithState::default(),
            sanity: SanityState::default(),
            layers: LayersState::default(),
            errors: Vec::new(),
        }
    }

    /// Sets the cache budget in MiB.
    pub fn set_budget_mb(&mut self, mb: u64) {
        self.cache.set_budget(mb_to_bytes(mb), &self.pinned);
    }

    /// Pins the maps on screen (never evicted); the previous pins are released.
    pub fn pin(&mut self, keys: impl IntoIterator<Item = MapKey>) {
        self.pinned = keys.into_iter().collect();
    }

    /// A cached map.
    pub fn get(&self, key: &MapKey) -> Option<&MapResult> {
        self.cache.peek(key)
    }

    /// Marks a map used (LRU order).
    pub fn touch(&mut self, key: &MapKey) {
        let _ = self.cache.get(key);
    }

    /// Whether the map is being computed.
    pub fn is_pending(&self, key: &MapKey) -> bool {
        self.pending.contains(key)
    }

    /// Why the map failed, if it did.
    pub fn failure(&self, key: &MapKey) -> Option<&str> {
        self.failures.get(key).map(String::as_str)
    }

    /// Whether the map is there, failed or pending (nothing to request).
    pub fn known(&self, key: &MapKey) -> bool {
        self.cache.contains(key) || self.pending.contains(key) || self.failures.contains_key(key)
    }

    /// Forgets the failures of `keys`, so the next request computes them again.
    pub fn retry(&mut self, keys: &[MapKey]) {
        for k in keys {
            self.failures.remove(k);
        }
    }

    /// Records a failure of `keys` found before any job ran (e.g. an unreadable image).
    pub fn fail(&mut self, keys: Vec<MapKey>, error: String) {
        for k in keys {
            self.failures.insert(k, error.clone());
        }
    }

    /// Whether any map is being computed.
    pub fn busy(&self) -> bool {
        !self.pending.is_empty() || self.batch.running
    }

    /// Sends the keys of a job not yet known to the model worker.
    pub fn request(&mut self, mut job: ExplainJob) {
        job.keys.retain(|k| !self.known(k));
        if job.keys.is_empty() {
            return;
        }
        self.pending.extend(job.keys.iter().cloned());
        self.explain.send(ModelJob::Maps(job));
    }

    /// Starts the layer × head sweep of `job`'s image and checkpoint, unless it is the one shown
    /// or running.
    pub fn start_layers(&mut self, mut job: LayersJob, frame: u32, image: &std::path::Path) {
        let key = (image.to_path_buf(), frame, job.weights.clone(), job.resize);
        if self.layers.key.as_ref() == Some(&key) && self.layers.error.is_none() {
            return;
        }
        self.layers.id += 1;
        job.id = self.layers.id;
        self.layers = LayersState {
            id: job.id,
            key: Some(key),
            running: true,
            maps: None,
            error: None,
        };
        self.explain.send(ModelJob::Layers(job));
    }

    /// Sends a metrics job with the next generation; returns it.
    pub fn score(&mut self, mut job: MetricsJob) -> u64 {
        self.metrics_generation += 1;
        job.generation = self.metrics_generation;
        self.metrics.send(job);
        self.metrics_generation
    }

    /// Whether the live scores are those of the latest job sent.
    pub fn scores_current(&self) -> bool {
        self.metrics_generation > 0 && self.live.generation == self.metrics_generation
    }

    /// Starts scoring a batch (a running one is replaced).
    pub fn start_batch(&mut self, mut job: BatchJob) {
        self.batch.cancel.store(true, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        job.id = self.batch.id + 1;
        job.cancel = cancel.clone();
        self.batch = BatchScores {
            id: job.id,
            total: job.items.len(),
            running: true,
            cancel,
            ..Default::default()
        };
        self.explain.send(ModelJob::Batch(job));
    }

    /// Starts the faithfulness tests of `job.keys` not yet tested (a running job is cancelled).
    pub fn start_faith(&mut self, mut job: FaithJob) {
        job.keys.retain(|k| !self.faith.curves.contains_key(k));
        if job.keys.is_empty() {
            return;
        }
        self.faith.cancel.store(true, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        job.id = self.faith.id + 1;
        job.cancel = cancel.clone();
        self.faith.id = job.id;
        self.faith.running = true;
        self.faith.progress = (0, 0);
        self.faith.error = None;
        self.faith.cancel = cancel;
        self.explain.send(ModelJob::Faith(job));
    }

    /// Starts the sanity check of `job.key` (a running one is cancelled; a map already checked
    /// in full is kept).
    pub fn start_sanity(&mut self, mut job: SanityJob) {
        let same = self.sanity.key.as_ref() == Some(&job.key);
        if same && (self.sanity.running || self.sanity.error.is_none()) {
            return;
        }
        self.sanity.cancel.store(true, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        job.id = self.sanity.id + 1;
        job.cancel = cancel.clone();
        self.sanity = SanityState {
            id: job.id,
            key: Some(job.key.clone()),
            running: true,
            cancel,
            ..Default::default()
        };
        self.explain.send(ModelJob::Sanity(job));
    }

    /// Stops the running sanity check after its step in progress.
    pub fn cancel_sanity(&mut self) {
        self.sanity.cancel.store(true, Ordering::Relaxed);
    }

    /// Stops the running faithfulness job at its next batch of forwards.
    pub fn cancel_faith(&mut self) {
        self.faith.cancel.store(true, Ordering::Relaxed);
    }

    /// Asks the running batch to stop after the image in progress.
    pub fn cancel_batch(&mut self) {
        self.batch.cancel.store(true, Ordering::Relaxed);
    }

    /// Drops the live scores (another image is shown).
    pub fn clear_live(&mut self) {
        self.live.scores = PerMap::none();
    }

    /// Collects the workers' replies.
    pub fn poll(&mut self) {
        while let Ok(r) = self.explain.replies.try_recv() {
            match r {
                ExplainReply::Progress {
                    label,
                    index,
                    total,
                } => {
                    self.progress = Some(Progress {
                        label,
                        index,
                        total,
                    })
                }
                ExplainReply::Done(k, m) => {
                    self.pending.remove(&k);
                    self.cache.insert(k, m, &self.pinned);
                }
                ExplainReply::Failed(k, e) => {
                    self.pending.remove(&k);
                    self.errors.push(format!("{}: {e}", k.method.name()));
                    self.failures.insert(k, e);
                }
                ExplainReply::BatchRow {
                    id,
                    index,
                    scores,
                    maps,
                } if id == self.batch.id => {
                    for (k, m) in maps {
                        self.cache.insert(k, m, &self.pinned);
                    }
                    let at = self.batch.rows.partition_point(|r| r.0 < index);
                    self.batch.rows.insert(at, (index, scores));
                }
                ExplainReply::BatchFailed { id, index, error } if id == self.batch.id => {
                    self.errors
                        .push(format!("scoring image {}: {error}", index + 1));
                    self.batch.failed.push((index, error));
                }
                ExplainReply::BatchEnded { id, cancelled } if id == self.batch.id => {
                    self.batch.running = false;
                    self.batch.cancelled = cancelled;
                }
                ExplainReply::FaithProgress { id, done, total } if id == self.faith.id => {
                    self.faith.progress = (done, total);
                }
                ExplainReply::FaithDone { key, curves, .. } => {
                    self.faith.curves.insert(key, curves);
                }
                ExplainReply::FaithEnded { id, error } if id == self.faith.id => {
                    self.faith.running = false;
                    if let Some(e) = &error
                        && e != "cancelled"
                        && !e.ends_with(": cancelled")
                    {
                        self.errors.push(format!("faithfulness: {e}"));
                    }
                    self.faith.error = error;
                }
                ExplainReply::SanityStep {
                    id,
                    map,
                    done,
                    total,
                } if id == self.sanity.id => {
                    self.sanity.maps.push(map);
                    self.sanity.progress = (done, total);
                }
                ExplainReply::Layers { id, maps } if id == self.layers.id => {
                    self.layers.running = false;
                    match maps {
                        Ok(m) => self.layers.maps = Some(m),
                        Err(e) => {
                            self.errors.push(format!("layer sweep: {e}"));
                            self.layers.error = Some(e);
                        }
                    }
                }
                ExplainReply::SanityEnded { id, error } if id == self.sanity.id => {
                    self.sanity.running = false;
                    if let Some(e) = &error
                        && e != "cancelled"
                    {
                        self.errors.push(format!("sanity check: {e}"));
                    }
                    self.sanity.error = error;
                }
                ExplainReply::BatchRow { .. }
                | ExplainReply::BatchFailed { .. }
                | ExplainReply::BatchEnded { .. }
                | ExplainReply::FaithProgress { .. }
                | ExplainReply::FaithEnded { .. }
                | ExplainReply::SanityStep { .. }
                | ExplainReply::Layers { .. }
                | ExplainReply::SanityEnded { .. } => {}
            }
        }
        if !self.busy() {
            self.progress = None;
        }
        while let Ok(r) = self.metrics.replies.try_recv() {
            if r.generation != self.metrics_generation {
                continue;
            }
            self.live.millis = r.millis;
            self.live.generation = r.generation;
            self.live.scores = PerMap::none();
            for (slot, s) in r.scores {
                match s {
                    Ok(s) => self.live.scores[slot] = Some(s),
                    Err(e) => self.errors.push(format!("metrics: {e}")),
                }
            }
        }
    }

    /// The live scores of one slot.
    pub fn live_score(&self, slot: MapSlot) -> Option<&MapScores> {
        self.live.scores[slot].as_ref()
    }
}

/// The batch job that scores every image of `session` at the top `top_percent` %: edited
/// annotations go from memory, the others are read by the worker (so nothing is held per image).
pub fn batch_job(session: &Session, top_percent: f64) -> BatchJob {
    let items = (0..session.project.images.len())
        // An image whose file changed on disk is never scored against its annotations.
        .filter(|&i| session.checks.get(i).is_some_and(|c| c.is_ok()))
        .filter_map(|i| {
            let e = &session.project.images[i];
            let annotation = match session.states.get(i).and_then(Option::as_ref) {
                Some(st) => BatchAnnotation::InMemory(st.ann.clone()),
                None => BatchAnnotation::OnDisk {
                    boxes: e.boxes.clone(),
                    mask: e.mask.as_ref().map(|m| session.resolve(m)),
                },
            };
            Some(BatchItem {
                index: i,
                keys: session.map_keys(i)?,
                window: e.window,
                annotation,
            })
        })
        .collect();
    BatchJob {
        id: 0,
        items,
        config: session.checkpoint().and_then(|c| c.1),
        device: session.model.device,
        top_percent,
        cancel: Default::default(),
    }
}

fn mb_to_bytes(mb: u64) -> usize {
    usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Method;
    use crate::model::preprocess::ResizeMode;

    fn key(i: usize) -> MapKey {
        MapKey {
            image: format!("img{i}.png").into(),
            frame: 0,
            weights: "w.safetensors".into(),
            method: Method::Chefer,
            target: None,
            layer: None,
            head: None,
            resize: ResizeMode::Resize,
        }
    }

    fn map(n: usize) -> MapResult {
        MapResult {
            width: n,
            height: 1,
            values: Arc::new(vec![0.5; n]),
            target: 0,
            logits: vec![0.0, 1.0],
        }
    }

    #[test]
    fn the_cache_stays_within_its_budget_and_keeps_pinned_and_recent_maps() {
        let one = map_bytes(&map(1000));
        let mut c = MapCache::new(3 * one);
        let pinned: HashSet<MapKey> = [key(0)].into();
        for i in 0..3 {
            c.insert(key(i), map(1000), &pinned);
        }
        assert_eq!(c.len(), 3);
        // Use 1, then insert 3: the least recently used unpinned map (2) goes.
        assert!(c.get(&key(1)).is_some());
        c.insert(key(3), map(1000), &pinned);
        assert!(c.bytes() <= c.budget());
        assert!(c.contains(&key(0)), "pinned");
        assert!(c.contains(&key(1)), "recently used");
        assert!(!c.contains(&key(2)), "evicted");
        assert!(c.contains(&key(3)));
        // Many more: never over budget, the pinned one stays.
        for i in 4..100 {
            c.insert(key(i), map(1000), &pinned);
            assert!(c.bytes() <= c.budget());
        }
        assert!(c.contains(&key(0)));
        // Pinned maps over the budget stay; nothing else does.
        let all: HashSet<MapKey> = (200..205).map(key).collect();
        for k in &all {
            c.insert(k.clone(), map(1000), &all);
        }
        assert_eq!(c.len(), 5);
        c.set_budget(0, &HashSet::new());
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }
}
