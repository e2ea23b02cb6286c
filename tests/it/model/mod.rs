//! The model: checkpoints, the forward passes and their gradients, preprocessing, foundation encoders.

mod backward;
mod checkpoints;
mod foundation;
mod parity_foundation;
mod parity_gap;
mod parity_model;
mod parity_nocls;
mod plain_path;
mod preprocess;
mod weight_gradients;
mod wgpu_model;
