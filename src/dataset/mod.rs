//! Whole datasets: folders in the paper's layout (`images/` and `masks/` with the same file
//! stems) and classification labels, synthetic phantoms, evaluation of maps over a dataset (with
//! faithfulness, sanity and the layer sweep), training and linear probes.

pub mod eval;
pub mod faith_eval;
pub mod items;
pub mod labels;
pub mod layers;
pub mod merge;
pub mod phantom;
pub mod probe;
pub mod records;
pub mod report;
pub mod run;
pub mod shard;
pub mod train;
