//! Datasets in the paper's layout (`images/` and `masks/` with the same file stems): synthetic
//! phantom generation and batch evaluation.

pub mod eval;
pub mod faith_eval;
pub mod labels;
pub mod layers;
pub mod phantom;
