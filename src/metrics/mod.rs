//! Localisation metrics of an explanation map against an annotation, exactly as the paper's
//! `func_eval` computes them, plus named variants.
//!
//! - **pointing game**: 1 if any pixel equal to the map's maximum lies in the mask (every tied
//!   maximum counts).
//! - **top-k% binarisation**: `k = int(N * (p / 100))` (f64, truncation); threshold = the
//!   (k+1)-th largest value; every pixel `>= threshold` is selected, so ties can select more than
//!   k+1 pixels and a threshold of 0 can select the whole map. `k >= N` selects everything.
//! - **iou_rect** (the paper's metric): IoU of the mask with the bounding rectangle of all
//!   selected pixels. **iou_binary**: IoU with the selected pixels. **dice**: Dice of the
//!   selected pixels. IoU is `|A ∩ B| / |A ∪ B|` (NaN when both are empty).
//! - **energy** (energy pointing game / relevance mass): share of the map's sum inside the mask.
//!   When the map sums to 0 (an all-zero map) every pixel carries the same share, as in any
//!   constant map, so the energy is the mask's share of the pixels, `|mask| / N`.
//!
//! A map with a NaN or an infinite value is an error, never a score.
//!
//! The CPU reference here selects thresholds in O(N) with a radix select over the
//! order-preserving bit patterns of the f32 values (no sort; on large maps usually folded into
//! the first pass, see [`select`]); [`gpu`] runs the two-pass radix select in WGSL compute
//! shaders and must return identical counts.

pub mod cpu;
pub mod gpu;
pub mod gpu_data;
pub mod localisation;
pub mod order;
pub mod records;
pub mod scores;
pub mod select;
pub mod shapes;

pub use cpu::{compute_cpu, scores_at};
pub use records::{Record, localisation_records, records};
pub use scores::{
    MetricSet, MetricsError, PAPER_TOPS, RawCounts, TopKScores, finish, top_k_count, validate,
};
pub use shapes::{Mask, Rect};
