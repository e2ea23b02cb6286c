//! Datasets in the paper's layout (`images/` and `masks/` with the same file stems) and their
//! batch evaluation.

pub mod eval;
