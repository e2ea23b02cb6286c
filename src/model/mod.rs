//! The ViT model: architecture ([`vit`]), checkpoint loading ([`checkpoint`]), preprocessing
//! ([`preprocess`]) and compute-device selection ([`device`]).

pub mod backward;
pub(crate) mod buffers;
pub mod checkpoint;
pub mod device;
pub mod grads;
pub mod infer;
pub mod lanes;
pub mod pos_embed;
pub mod preprocess;
pub mod rows;
pub mod traced;
pub mod vit;

pub use backward::{GradRequest, LogitGradients};
pub use buffers::dense_product;
pub use checkpoint::{LoadOptions, LoadReport, load_vit};
pub use vit::{
    AbsoluteLinears, Arch, BlockLinears, Family, Pool, Probes, Resample, Trace, TransposedLinears,
    Vit, VitConfig, VitSize,
};
