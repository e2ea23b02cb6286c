//! Datasets: eval, phantoms, training.

mod eval;
mod phantom;
mod train;
