//! Datasets: eval, phantoms, training.

mod eval;
mod phantom;
mod shard;
mod slurm;
mod train;
