//! The localisation metrics and their WGSL kernels.

mod parity_metrics;
mod shader_validation;
