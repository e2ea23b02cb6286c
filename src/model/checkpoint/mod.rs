//! Checkpoint loading: timm state dicts (`.safetensors`, PyTorch `.pth`), the DINO release
//! format (backbone only), the MAE release format (`{"model": ...}`, `fc_norm.*` used as `norm.*`)
//! and fine-tuned timm state dicts with any head.
//!
//! Loading runs in three steps: read every tensor of the file into a [`StateDict`]; normalise
//! its key layout to timm's and infer the architecture from tensor shapes ([`infer_config`]);
//! then move its tensors into a freshly built [`Vit`]'s parameters (Linear weights transposed to
//! burn's `[in, out]`, LayerNorm `weight`/`bias` as `gamma`/`beta`); what was applied, missing
//! and unused becomes the [`LoadReport`]. (Going through burn-store's safetensors store and its
//! PyTorch adapter cost two more copies of every tensor and about 1 s for a ViT-B.)

mod apply;
mod arch;
mod config_file;
pub mod hf;
mod layout;
mod read;
mod types;

pub use apply::{apply_state_dict, load_state, load_vit};
pub use arch::{expected_shapes, infer_config};
pub use layout::normalise_layout;
pub use read::read_state_dict;
pub use types::{CheckpointError, CheckpointLayout, LoadOptions, LoadReport, RawTensor, StateDict};
